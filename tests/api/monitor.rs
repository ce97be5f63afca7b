//! The monitoring loop: two sweeps started at once (two processes, as two servers would) record
//! each flag change, open each case and queue each alarm alert once; a later sweep changes
//! nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use diesel::RunQueryDsl;
use sipas::config::DatabaseSettings;
use sipas::db::DbConn;

use crate::helpers::{TestDb, TestResult};

fn sipas(db: &TestDb, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sipas"));
    command
        .env("SIPAS_DATABASE_URL", &db.url)
        .env(
            "SIPAS_SECURITY_SECRET_KEY",
            "monitor-test-secret-monitor-test-secret",
        )
        .env("SIPAS_MAIL_TRANSPORT", "file")
        .env("SIPAS_MAIL_FILE_DIR", dir.join("mail"))
        .env("SIPAS_MAIL_REFORM_OFFICE", "office@test.vn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn count(db: &TestDb, from: &str) -> Result<i64, Box<dyn std::error::Error>> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn: DbConn = sipas::db::open_connection(&DatabaseSettings {
        url: db.url.clone(),
        ..DatabaseSettings::default()
    })?;
    let c: Count =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {from}")).get_result(&mut conn)?;
    Ok(c.n)
}

#[test]
fn two_sweeps_at_once_open_each_case_and_send_each_alert_once() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    crate::report::write_files(dir.path(), true, 7)?;
    for what in ["agencies", "responses"] {
        let out = sipas(&db, dir.path())
            .args(["import", what, &format!("{what}.csv")])
            .output()?;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the sweep's window flags, from the same statistics.
    let to = sipas::clock::today();
    let from = to - chrono::Duration::days(364);
    let out = sipas(&db, dir.path())
        .args([
            "report",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--format",
            "json",
        ])
        .output()?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let (mut alarms, mut alerts) = (0, 0);
    for agency in report["agencies"].as_array().into_iter().flatten() {
        for problem in ["harassment", "repeat_visits"] {
            match agency[problem]["flag"].as_str() {
                Some("alarm") => alarms += 1,
                Some("alert") => alerts += 1,
                _ => {}
            }
        }
    }
    assert!(alarms >= 2, "the planted agencies are alarms: {alarms}");
    let first = sipas(&db, dir.path()).args(["monitor", "run"]).spawn()?;
    let second = sipas(&db, dir.path()).args(["monitor", "run"]).spawn()?;
    for run in [first.wait_with_output()?, second.wait_with_output()?] {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert_eq!(count(&db, "cases")?, alarms + alerts, "one case per flag");
    assert_eq!(
        count(&db, "outbox WHERE kind = 'alert'")?,
        alarms,
        "one alert per alarm"
    );
    assert_eq!(
        count(&db, "flag_history")?,
        alarms + alerts,
        "one change per flag"
    );
    assert_eq!(
        count(&db, "cases WHERE false_probability IS NOT NULL")?,
        alarms + alerts,
        "each case keeps the chance its flag is false"
    );
    let again = sipas(&db, dir.path()).args(["monitor", "run"]).output()?;
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("0 flag change(s) recorded; 0 case(s) opened, 0 alarm alert(s) queued"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(count(&db, "cases")?, alarms + alerts);
    Ok(())
}
