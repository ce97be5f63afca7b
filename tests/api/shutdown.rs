//! SIGTERM lets the server finish what it has started: a request still arriving is answered and
//! stored, and a mail being sent is completed and marked sent (so it is not sent again after a
//! restart). The process then exits cleanly.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::crash::{import_links, start_with};
use crate::helpers::{SHORT_FORM, TestDb, TestResult};
use crate::mail::Sink;

pub fn terminate(child: &Child) -> TestResult {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(status.success(), "kill -TERM failed");
    Ok(())
}

/// Waits for the process to end by itself (at most `limit`).
pub async fn wait_exit(
    child: &mut Child,
    limit: Duration,
) -> Result<bool, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill()?;
    child.wait()?;
    Err("the server did not stop after SIGTERM".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_and_mail_in_flight() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    let tokens = import_links(
        &db,
        dir.path(),
        "T-1,T-SO,P-LLTP,counter,2026-01-01,2026-01-20,2026-01-10\n\
         T-2,T-SO,P-LLTP,counter,2026-01-01,2026-01-20,2026-01-10\n",
    )?;
    let [money, slow] = tokens.as_slice() else {
        return Err(format!("expected two links, got {tokens:?}").into());
    };

    // An SMTP server that takes 2 seconds to accept each message.
    let sink = Sink::start_slow(0, Arc::new(Mutex::new(Vec::new())), Duration::from_secs(2))?;
    let smtp_port = sink.port.to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let env = [
        ("SIPAS_MAIL_TRANSPORT", "smtp"),
        ("SIPAS_MAIL_SMTP_HOST", "127.0.0.1"),
        ("SIPAS_MAIL_SMTP_PORT", smtp_port.as_str()),
        ("SIPAS_MAIL_SMTP_TLS", "none"),
        ("SIPAS_MAIL_FROM", "SIPAS <khaosat@test.vn>"),
        ("SIPAS_MAIL_REFORM_OFFICE", "office@test.vn"),
    ];
    let mut server = start_with(&db, dir.path(), port, &env).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // A citizen reports being asked for money: an alert is queued with the response.
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "E7")
        .collect();
    answers.push(("E7", "3"));
    let sent = client
        .post(format!("http://127.0.0.1:{port}/s/{money}"))
        .form(&answers)
        .send()
        .await?;
    assert_eq!(sent.status().as_u16(), 303);

    // Another citizen's answers are still arriving (half the body sent) ...
    let body = serde_urlencoded::to_string(SHORT_FORM)?;
    let mut upload = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        upload,
        "POST /s/{slow} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let (first, rest) = body.split_at(body.len() / 2);
    upload.write_all(first.as_bytes())?;
    upload.flush()?;

    // ... while the mail thread is in the middle of handing the alert to the SMTP server.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.started.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the alert was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    terminate(&server)?;

    // The request in flight is finished and answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    upload.write_all(rest.as_bytes())?;
    let mut reply = String::new();
    upload.set_read_timeout(Some(Duration::from_secs(15)))?;
    upload.read_to_string(&mut reply)?;
    assert!(
        reply.starts_with("HTTP/1.1 303"),
        "in-flight request answered: {reply:.200}"
    );
    assert!(
        wait_exit(&mut server, Duration::from_secs(30)).await?,
        "sipas exits cleanly after SIGTERM"
    );

    // Both responses are stored; the alert was delivered once and is marked sent.
    let pool = sipas::db::connect(&sipas::config::DatabaseSettings {
        url: db.url.clone(),
        ..Default::default()
    })?;
    let mut conn: sipas::db::PooledConn = pool.get()?.into();
    use sipas::db::schema::{outbox, responses};
    assert_eq!(responses::table.count().get_result::<i64>(&mut *conn)?, 2);
    let statuses: Vec<String> = outbox::table.select(outbox::status).load(&mut *conn)?;
    assert_eq!(statuses, ["sent"], "the alert in flight was completed");
    assert_eq!(sink.messages().len(), 1);

    // After a restart nothing is sent again.
    let mut server = start_with(&db, dir.path(), port, &env).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    terminate(&server)?;
    assert!(wait_exit(&mut server, Duration::from_secs(30)).await?);
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    assert_eq!(sink.started.load(Ordering::SeqCst), 1);
    sink.stop();
    Ok(())
}
