//! PostgreSQL going away while the server runs: requests fail fast with a 503 page that keeps
//! the citizen's answers, and the server recovers by itself when the database is back.
//!
//! The outage is made by a TCP relay between the server and PostgreSQL that the test cuts
//! (every open connection reset, new ones refused) and restores: to sipas this is exactly a
//! stopped database server, without stopping the one PostgreSQL the other tests share.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{SHORT_FORM, TestResult, select, spawn_app_with};

/// Relays 127.0.0.1:port to PostgreSQL until cut.
struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: (String, u16)) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let down = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (is_down, streams) = (down.clone(), open.clone());
        // The thread ends with the test process; it holds no database connection of its own.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if is_down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else {
                    continue;
                };
                if let (Ok(c), Ok(s), Ok(mut list)) =
                    (client.try_clone(), server.try_clone(), streams.lock())
                {
                    list.push(c);
                    list.push(s);
                }
                pipe(client.try_clone(), server.try_clone());
                pipe(server.try_clone(), client.try_clone());
            }
        });
        Ok(Relay { port, down, open })
    }

    /// The database "stops": open connections are reset and new ones refused.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        if let Ok(mut list) = self.open.lock() {
            for s in list.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// The database is back.
    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

fn pipe(from: std::io::Result<TcpStream>, to: std::io::Result<TcpStream>) {
    if let (Ok(mut from), Ok(mut to)) = (from, to) {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
        });
    }
}

/// Host, port and database name of a `postgres://user@host:port/db` URL.
fn parts(url: &str) -> Option<(String, String, u16, String)> {
    let rest = url
        .strip_prefix("postgres://")
        .or(url.strip_prefix("postgresql://"))?;
    let (authority, db) = rest.split_once('/')?;
    let (user, host_port) = authority.rsplit_once('@')?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().ok()?),
        None => (host_port.to_owned(), 5432),
    };
    Some((user.to_owned(), host, port, db.to_owned()))
}

#[tokio::test]
async fn a_postgres_outage_fails_fast_keeps_answers_and_recovers() -> TestResult {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        // SQLite has no server to lose; its unavailable case (a locked file) is in robustness.rs.
        eprintln!("PostgreSQL outage test runs with TEST_DATABASE_URL (as .ci/run does)");
        return Ok(());
    }
    let relay: Arc<Mutex<Option<Relay>>> = Arc::new(Mutex::new(None));
    let slot = relay.clone();
    let app = spawn_app_with(move |s| {
        let Some((user, host, port, db)) = parts(&s.database.url) else {
            return;
        };
        if let (Ok(r), Ok(mut slot)) = (Relay::start((host, port)), slot.lock()) {
            s.database.url = format!(
                "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
                r.port
            );
            *slot = Some(r);
        }
        s.database.connect_timeout_ms = 1_000;
    })
    .await?;
    let relay = relay
        .lock()
        .map_err(|e| e.to_string())?
        .take()
        .ok_or("relay")?;
    let token = app.invite("OUT-1", false).await?;
    let path = format!("/s/{token}");

    relay.cut();
    // Reading the survey: a clear 503 page, quickly.
    let started = Instant::now();
    let page = app.client.get(app.url(&path)).send().await?;
    assert_eq!(page.status().as_u16(), 503);
    assert_eq!(
        page.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"30"[..])
    );
    assert!(page.text().await?.contains("thử lại"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );

    // Sending answers: 503, and every answer is still in the page, ready to be sent again.
    let answers: Vec<(&str, &str)> =
        [&SHORT_FORM[..], &[("comment", "Cán bộ <b>tận tình</b>")]].concat();
    let sent = app.post_form(&path, &answers).await?;
    assert_eq!(sent.status().as_u16(), 503);
    let html = scraper::Html::parse_document(&sent.text().await?);
    let form = select(&html, "form[method=post]");
    let action = form
        .first()
        .and_then(|f| f.value().attr("action"))
        .ok_or("no form")?;
    assert!(action.starts_with(&path));
    let kept: Vec<(String, String)> = select(&html, "form input[type=hidden]")
        .iter()
        .filter_map(|i| {
            Some((
                i.value().attr("name")?.to_owned(),
                i.value().attr("value")?.to_owned(),
            ))
        })
        .collect();
    for (name, value) in &answers {
        assert!(
            kept.contains(&((*name).to_owned(), (*value).to_owned())),
            "answer {name} kept"
        );
    }

    // The database returns: the server recovers by itself and the same answers are stored once.
    relay.restore();
    let mut status = 0;
    for _ in 0..50 {
        status = app
            .client
            .get(app.url(&path))
            .send()
            .await?
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "recovered without a restart");
    let kept: Vec<(&str, &str)> = kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.post_form(action, &kept).await?.status().as_u16(), 303);
    assert_eq!(
        app.post_form(action, &kept).await?.status().as_u16(),
        200,
        "a second send is the thank-you page"
    );
    assert_eq!(app.count("responses")?, 1);
    Ok(())
}
