//! Two server processes on one database, as a province behind a load balancer runs them: a
//! concurrent load of submissions (each link sent to one server and, for a third of them, again
//! to the other), walk-ins from one client spread over both, money-asked answers that alert, and
//! digests queued by two processes at once; one server is killed with SIGKILL mid-load. Every
//! acknowledged response is stored once, the walk-in limit holds across both servers, the counts
//! equal a recount, and each alert and digest reaches the SMTP server once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use sipas::mail::digest::Period;

use crate::crash::{import_links, sipas, start_with};
use crate::helpers::{SHORT_FORM, TestDb, TestResult};
use crate::mail::Sink;

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The Message-ID header of a received message.
fn message_id(data: &str) -> Option<String> {
    data.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .map(|l| l["message-id:".len()..].trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_database_through_a_load_and_a_kill() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    let mut dossiers = String::new();
    for i in 0..800 {
        dossiers.push_str(&format!(
            "TWO-{i},T-SO,P-LLTP,counter,2026-01-01,2026-01-20,2026-01-10\n"
        ));
    }
    let tokens = import_links(&db, dir.path(), &dossiers)?;
    assert_eq!(tokens.len(), 800);
    // Last month's paper forms: the monthly digests have something to say.
    let window = Period::Monthly.window(sipas::clock::today());
    let mut csv = String::from("agency_code,submitted_at,procedure_code,HL0,TC0,E6,E7\n");
    for i in 0..12 {
        csv.push_str(&format!(
            "T-SO,{},P-LLTP,5,4,1,1\n",
            window.from + chrono::Duration::days(i % 7)
        ));
    }
    std::fs::write(dir.path().join("paper.csv"), csv)?;
    let imported = sipas(&db, dir.path())
        .args(["import", "responses", "paper.csv"])
        .output()?;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let sink = Sink::start(0, Arc::new(Mutex::new(Vec::new())))?;
    let smtp_port = sink.port.to_string();
    let env = [
        ("SIPAS_MAIL_TRANSPORT", "smtp"),
        ("SIPAS_MAIL_SMTP_HOST", "127.0.0.1"),
        ("SIPAS_MAIL_SMTP_PORT", smtp_port.as_str()),
        ("SIPAS_MAIL_SMTP_TLS", "none"),
        ("SIPAS_MAIL_FROM", "SIPAS <khaosat@test.vn>"),
        ("SIPAS_MAIL_REFORM_OFFICE", "office@test.vn"),
        ("SIPAS_WALKIN_MAX_PER_WINDOW", "3"),
    ];
    let ports = [free_port()?, free_port()?];
    let server_a = start_with(&db, dir.path(), ports[0], &env).await?;
    let mut server_b = start_with(&db, dir.path(), ports[1], &env).await?;
    let hour_before = chrono::Utc::now().format("%Y-%m-%dT%H").to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // Money asked, through both servers: one alert for the hour, delivered once by either.
    let mut money: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "E7")
        .collect();
    money.push(("E7", "3"));
    let money = serde_urlencoded::to_string(&money)?;
    for (i, token) in tokens[..4].iter().enumerate() {
        let status = client
            .post(format!("http://127.0.0.1:{}/s/{token}", ports[i % 2]))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(money.clone())
            .send()
            .await?
            .status()
            .as_u16();
        assert_eq!(status, 303);
    }
    for _ in 0..200 {
        if !sink.messages().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!sink.messages().is_empty(), "the alert was delivered");

    // The load: each worker takes every 8th link, sends it to one server and every third one
    // again to the other; a link whose server is gone is sent to the one that is left.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let body = serde_urlencoded::to_string(SHORT_FORM)?;
    let mut workers = Vec::new();
    for w in 0..8 {
        let (tokens, acknowledged, body, client, gone) = (
            tokens[4..].to_vec(),
            acknowledged.clone(),
            body.clone(),
            client.clone(),
            gone.clone(),
        );
        workers.push(tokio::spawn(async move {
            for (i, token) in tokens.iter().enumerate().skip(w).step_by(8) {
                let sends = 1 + usize::from(i % 3 == 0);
                for send in 0..sends {
                    let mut port = ports[(i + send) % 2];
                    if gone.load(std::sync::atomic::Ordering::SeqCst) {
                        port = ports[0];
                    }
                    let sent = client
                        .post(format!("http://127.0.0.1:{port}/s/{token}"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body.clone())
                        .send()
                        .await;
                    let status = match sent {
                        Ok(r) => r.status().as_u16(),
                        // Server B is gone: the citizen sends again, to server A.
                        Err(_) => client
                            .post(format!("http://127.0.0.1:{}/s/{token}", ports[0]))
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .body(body.clone())
                            .send()
                            .await
                            .map_err(|e| e.to_string())?
                            .status()
                            .as_u16(),
                    };
                    match status {
                        // Stored now (303), or already stored (the thank-you page).
                        303 | 200 => {
                            acknowledged
                                .lock()
                                .map_err(|e| e.to_string())?
                                .insert(token.clone());
                        }
                        // The database was busy (SQLite's single writer across processes).
                        503 => {}
                        other => return Err(format!("unexpected status {other}")),
                    }
                }
            }
            Ok::<(), String>(())
        }));
    }
    // Walk-ins from one client address, alternating between the servers: the limit is global.
    let mut walk_in: Vec<(&str, &str)> = SHORT_FORM.to_vec();
    walk_in.extend([("procedure", "P-KS"), ("E3", "2"), ("E4", "1"), ("E5", "1")]);
    let walk_in = serde_urlencoded::to_string(&walk_in)?;
    let mut walk_in_statuses = HashMap::new();
    for i in 0..12 {
        let port = ports[i % 2];
        if let Ok(r) = client
            .post(format!("http://127.0.0.1:{port}/k/T-XA"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(walk_in.clone())
            .send()
            .await
        {
            *walk_in_statuses.entry(r.status().as_u16()).or_insert(0) += 1;
        }
    }
    // Kill server B in the middle of the load.
    for _ in 0..4000 {
        if acknowledged.lock().map_err(|e| e.to_string())?.len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server_b.kill()?;
    server_b.wait()?;
    gone.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await?.map_err(|e| e.to_string())?;
    }
    let acknowledged = acknowledged.lock().map_err(|e| e.to_string())?.clone();
    assert!(
        acknowledged.len() >= 700,
        "most links acknowledged: {}",
        acknowledged.len()
    );
    assert_eq!(
        walk_in_statuses.get(&303).copied(),
        Some(3),
        "three walk-ins accepted across both servers: {walk_in_statuses:?}"
    );
    assert_eq!(walk_in_statuses.get(&429).copied(), Some(9));

    // Two processes queue the monthly digests at once, beside the running server.
    let run = || {
        sipas(&db, dir.path())
            .args(["digest", "send", "--period", "monthly"])
            .envs(env.iter().copied())
            .spawn()
    };
    let (mut one, mut two) = (run()?, run()?);
    assert!(one.wait()?.success() && two.wait()?.success());

    let pool = sipas::db::connect(&sipas::config::DatabaseSettings {
        url: db.url.clone(),
        ..Default::default()
    })?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    use sipas::db::schema::{invitations, outbox, responses};
    // Every acknowledged link shows as answered; one response per used invitation.
    for token in &acknowledged {
        let page = client
            .get(format!("http://127.0.0.1:{}/s/{token}", ports[0]))
            .send()
            .await?
            .text()
            .await?;
        assert!(page.contains("Cảm ơn"), "acknowledged response lost");
    }
    let by_link: i64 = responses::table
        .filter(responses::channel.ne_all(["walk_in", "paper"]))
        .count()
        .get_result(&mut *conn)?;
    let used: i64 = invitations::table
        .filter(invitations::used.eq(true))
        .count()
        .get_result(&mut *conn)?;
    assert_eq!(by_link, used, "one response per used invitation");
    assert!(by_link as usize >= acknowledged.len() + 4);
    let walk_ins: i64 = responses::table
        .filter(responses::channel.eq("walk_in"))
        .count()
        .get_result(&mut *conn)?;
    assert_eq!(walk_ins, 3, "the walk-in limit held across both servers");
    let kept = crate::report::dump_counts(&mut conn)?;
    sipas::aggregates::recount(&mut conn)?;
    assert_eq!(
        kept,
        crate::report::dump_counts(&mut conn)?,
        "counts equal a recount"
    );

    // Each queued message reaches the SMTP server once, whoever delivered it.
    let queued: Vec<(String, String, String)> = outbox::table
        .select((outbox::kind, outbox::recipient, outbox::message_id))
        .load(&mut *conn)?;
    let hour_after = chrono::Utc::now().format("%Y-%m-%dT%H").to_string();
    let alerts = queued.iter().filter(|(k, _, _)| k == "alert").count();
    let hours = if hour_before == hour_after { 1 } else { 2 };
    assert!(
        (1..=hours).contains(&alerts),
        "{alerts} alerts for one agency within {hours} hour(s)"
    );
    assert!(
        queued.iter().any(|(k, _, _)| k.starts_with("digest")),
        "digests queued"
    );
    let mut received = Vec::new();
    for _ in 0..200 {
        received = sink.messages();
        if received.len() >= queued.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids: Vec<String> = received
        .iter()
        .filter_map(|m| message_id(&m.data))
        .collect();
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), distinct.len(), "no message delivered twice");
    assert_eq!(
        distinct,
        queued.iter().map(|(_, _, id)| id).collect::<HashSet<_>>(),
        "every queued message delivered"
    );
    let mut server_a = server_a;
    server_a.kill()?;
    server_a.wait()?;
    sink.stop();
    Ok(())
}
