//! A server killed with SIGKILL in the middle of a load of submissions (some of them repeated)
//! loses no acknowledged response and duplicates none; the database stays intact and its counts
//! equal a recount from the raw rows.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;

use crate::helpers::{AGENCIES, PROCEDURES, SHORT_FORM, TestDb, TestResult};

pub const SECRET: &str = "crash-test-secret-crash-test-secret-00";

/// The `sipas` binary on `db`, run in `dir`.
pub fn sipas(db: &TestDb, dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sipas"));
    c.env("SIPAS_DATABASE_URL", &db.url)
        .env("SIPAS_SECURITY_SECRET_KEY", SECRET)
        .env("SIPAS_SERVER_PUBLIC_URL", "https://khaosat.test")
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    c
}

async fn start(db: &TestDb, dir: &Path, port: u16) -> Result<Child, Box<dyn std::error::Error>> {
    start_with(db, dir, port, &[]).await
}

/// Starts `sipas serve` with extra environment variables and waits until it answers.
pub async fn start_with(
    db: &TestDb,
    dir: &Path,
    port: u16,
    env: &[(&str, &str)],
) -> Result<Child, Box<dyn std::error::Error>> {
    start_logging(db, dir, port, env, Stdio::null()).await
}

/// Like [`start_with`], the server's log (stderr) going to `log`.
pub async fn start_logging(
    db: &TestDb,
    dir: &Path,
    port: u16,
    env: &[(&str, &str)],
    log: impl Into<Stdio>,
) -> Result<Child, Box<dyn std::error::Error>> {
    let child = sipas(db, dir)
        .args(["serve"])
        .envs(env.iter().copied())
        .env("SIPAS_SERVER_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the server did not start".into())
}

/// Imports the small catalog and `dossiers` (CSV lines without the header) with the command
/// line, in `dir`; returns the survey tokens issued, in order.
pub fn import_links(
    db: &TestDb,
    dir: &Path,
    dossiers: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    std::fs::write(dir.join("agencies.csv"), AGENCIES)?;
    std::fs::write(dir.join("procedures.csv"), PROCEDURES)?;
    std::fs::write(
        dir.join("dossiers.csv"),
        format!(
            "dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at\n{dossiers}"
        ),
    )?;
    for (what, file) in [
        ("agencies", "agencies.csv"),
        ("procedures", "procedures.csv"),
    ] {
        assert!(
            sipas(db, dir)
                .args(["import", what, file])
                .status()?
                .success()
        );
    }
    let out = sipas(db, dir)
        .args(["import", "dossiers", "dossiers.csv"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3)?.rsplit('/').next().map(str::to_owned))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_and_duplicates_nothing() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    let mut dossiers = String::new();
    for i in 0..1000 {
        let late = if i % 5 == 0 {
            "2026-01-02"
        } else {
            "2026-01-20"
        };
        dossiers.push_str(&format!(
            "K-{i},T-SO,P-LLTP,counter,2026-01-01,{late},2026-01-10\n"
        ));
    }
    let tokens = import_links(&db, dir.path(), &dossiers)?;
    assert_eq!(tokens.len(), 1000);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = start(&db, dir.path(), port).await?;
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let body =
        serde_urlencoded::to_string([&SHORT_FORM[..], &[("E4", "1"), ("E5", "1")]].concat())?;
    let mut workers = Vec::new();
    for w in 0..8 {
        let (tokens, acknowledged, body) = (tokens.clone(), acknowledged.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())?;
            // Each worker takes every 8th link and sends every third one twice.
            for (i, token) in tokens.iter().enumerate().skip(w).step_by(8) {
                for _ in 0..(1 + usize::from(i % 3 == 0)) {
                    let sent = client
                        .post(format!("http://127.0.0.1:{port}/s/{token}"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().as_u16() == 303 || r.status().as_u16() == 200 => {
                            acknowledged
                                .lock()
                                .map_err(|e| e.to_string())?
                                .insert(token.clone());
                        }
                        Ok(r) => return Err(format!("unexpected status {}", r.status())),
                        Err(_) => return Ok::<(), String>(()), // the server is gone
                    }
                }
            }
            Ok(())
        }));
    }
    // Kill the server in the middle of the load.
    for _ in 0..2000 {
        if acknowledged.lock().map_err(|e| e.to_string())?.len() >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill()?;
    server.wait()?;
    for w in workers {
        w.await?.map_err(|e| e.to_string())?;
    }
    let acknowledged = acknowledged.lock().map_err(|e| e.to_string())?.clone();
    assert!(
        acknowledged.len() >= 200 && acknowledged.len() < 1000,
        "killed mid-load: {}",
        acknowledged.len()
    );

    // Restart: every acknowledged link shows the thank-you page; stored exactly once.
    let mut server = start(&db, dir.path(), port).await?;
    let client = reqwest::Client::new();
    for token in &acknowledged {
        let page = client
            .get(format!("http://127.0.0.1:{port}/s/{token}"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            page.contains("Cảm ơn"),
            "acknowledged response lost for {token}"
        );
    }
    let pool = sipas::db::connect(&sipas::config::DatabaseSettings {
        url: db.url.clone(),
        ..Default::default()
    })?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    use sipas::db::schema::{invitations, responses};
    let stored: i64 = responses::table.count().get_result(&mut *conn)?;
    let used: i64 = invitations::table
        .filter(invitations::used.eq(true))
        .count()
        .get_result(&mut *conn)?;
    assert_eq!(
        stored, used,
        "one response per used invitation, no more, no less"
    );
    assert!(stored as usize >= acknowledged.len());
    if !db.is_postgres() {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let check: Check = diesel::sql_query("PRAGMA integrity_check").get_result(&mut *conn)?;
        assert_eq!(check.integrity_check, "ok");
    }
    let kept = crate::report::dump_counts(&mut conn)?;
    sipas::aggregates::recount(&mut conn)?;
    assert_eq!(
        kept,
        crate::report::dump_counts(&mut conn)?,
        "counts equal a recount"
    );
    server.kill()?;
    server.wait()?;
    Ok(())
}
