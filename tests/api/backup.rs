//! Backups restore to the same data: SQLite through `sipas backup` (VACUUM INTO) while the
//! server runs, PostgreSQL through pg_dump and pg_restore.

use std::process::Command;

use crate::helpers::{SHORT_FORM, TestResult, spawn_app};

fn sipas(
    db: &str,
    dir: &std::path::Path,
    args: &[&str],
) -> Result<std::process::Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("SIPAS_DATABASE_URL", db)
        .env(
            "SIPAS_SECURITY_SECRET_KEY",
            "backup-test-secret-backup-test-secret",
        )
        .current_dir(dir)
        .output()
}

fn report(db: &str, dir: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    let out = sipas(
        db,
        dir,
        &[
            "report",
            "--from",
            "2020-01-01",
            "--to",
            "2030-12-31",
            "--format",
            "json",
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test]
async fn a_backup_restores_the_same_data() -> TestResult {
    let app = spawn_app().await?;
    for i in 0..4 {
        let token = app.invite(&format!("BK-{i}"), i == 0).await?;
        let mut answers = SHORT_FORM.to_vec();
        answers.extend([("E4", "1"), ("E5", "1")]);
        app.post_form(&format!("/s/{token}"), &answers).await?;
    }
    let dir = tempfile::tempdir()?;
    let before = report(&app.db.url, dir.path())?;
    assert!(before.contains("\"responses\": 4"));
    if app.db.is_postgres() {
        let dump = dir.path().join("sipas.dump");
        let ok = Command::new("pg_dump")
            .args(["--format=custom", "--file"])
            .arg(&dump)
            .arg(&app.db.url)
            .status()?;
        assert!(ok.success(), "pg_dump");
        let restored = crate::helpers::TestDb::new()?;
        let ok = Command::new("pg_restore")
            .args(["--no-owner", "--dbname", &restored.url])
            .arg(&dump)
            .status()?;
        assert!(ok.success(), "pg_restore");
        assert_eq!(before, report(&restored.url, dir.path())?);
    } else {
        let copy = dir.path().join("copy.db");
        let out = sipas(
            &app.db.url,
            dir.path(),
            &["backup", copy.to_str().ok_or("path")?],
        )?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(before, report(copy.to_str().ok_or("path")?, dir.path())?);
        let again = sipas(
            &app.db.url,
            dir.path(),
            &["backup", copy.to_str().ok_or("path")?],
        )?;
        assert!(!again.status.success(), "never overwrites");
    }
    Ok(())
}
