//! Bad input and bad conditions on the citizen's path: a locked database (503 with the answers
//! kept, then stored once), oversized bodies, unknown routes and methods, asset path traversal,
//! and the security headers on every kind of page.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::helpers::{SHORT_FORM, TestResult, select, spawn_app_with};

/// Holds a write lock on the app's database from another connection until dropped.
enum Lock {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

impl Lock {
    fn take(url: &str) -> Result<Lock, Box<dyn std::error::Error>> {
        if url.starts_with("postgres") {
            let mut c = diesel::PgConnection::establish(url)?;
            // Readers may go on; writers to invitations (and the readiness probe's row) wait.
            c.batch_execute("BEGIN; LOCK TABLE invitations, locks IN EXCLUSIVE MODE;")?;
            Ok(Lock::Pg(c))
        } else {
            let mut c = diesel::SqliteConnection::establish(url)?;
            c.batch_execute("BEGIN IMMEDIATE;")?;
            Ok(Lock::Sqlite(c))
        }
    }

    fn release(self) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Lock::Sqlite(mut c) => c.batch_execute("ROLLBACK;")?,
            Lock::Pg(mut c) => c.batch_execute("ROLLBACK;")?,
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_locked_database_keeps_the_answers_and_asks_to_send_again() -> TestResult {
    let app = spawn_app_with(|s| s.database.lock_timeout_ms = 300).await?;
    let token = app.invite("LOCK-1", false).await?;
    let path = format!("/s/{token}");
    let mut answers = SHORT_FORM.to_vec();
    answers.push(("C1", "Ý kiến giữ lại"));
    let lock = Lock::take(&app.db.url)?;
    let response = app.post_form(&path, &answers).await?;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    let page = scraper::Html::parse_document(&response.text().await?);
    assert_eq!(
        select(&page, "#unavailable").len(),
        1,
        "the citizen is told nothing was saved"
    );
    assert_eq!(
        select(&page, "input[name=HL0][value='4'][checked]").len(),
        1,
        "answers kept"
    );
    assert!(
        page.root_element()
            .text()
            .any(|t| t.contains("Ý kiến giữ lại"))
    );
    lock.release()?;
    assert_eq!(app.count("responses")?, 0);
    // The server recovers by itself: the same form, sent again, is stored once.
    let again = app.post_form(&path, &answers).await?;
    assert_eq!(again.status().as_u16(), 303);
    assert_eq!(app.count("responses")?, 1);
    Ok(())
}

#[tokio::test]
async fn readiness_follows_the_write_lock_and_liveness_does_not() -> TestResult {
    let app = spawn_app_with(|s| s.database.lock_timeout_ms = 300).await?;
    let status = |path: &'static str| {
        let (client, url) = (app.client.clone(), app.url(path));
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(status("/readyz").await?, 200);
    let lock = Lock::take(&app.db.url)?;
    assert_eq!(status("/readyz").await?, 503, "cannot write: not ready");
    assert_eq!(status("/healthz").await?, 200, "but alive: reads work");
    lock.release()?;
    assert_eq!(status("/readyz").await?, 200);
    Ok(())
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_store_nothing() -> TestResult {
    let app = spawn_app_with(|s| s.server.max_body_bytes = 64 * 1024).await?;
    let token = app.invite("BIG-1", false).await?;
    let huge = "x".repeat(200 * 1024);
    let mut answers = SHORT_FORM.to_vec();
    answers.push(("C1", &huge));
    let response = app.post_form(&format!("/s/{token}"), &answers).await?;
    assert_eq!(response.status().as_u16(), 413);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    let api = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .bearer_auth(&app.api_key)
        .header("Content-Type", "application/json")
        .body(format!("[{}]", vec!["{}"; 40_000].join(",")))
        .send()
        .await?;
    assert_eq!(api.status().as_u16(), 413);
    assert_eq!(app.count("responses")?, 0);
    Ok(())
}

#[tokio::test]
async fn every_page_carries_the_security_headers() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let token = app.invite("HDR-1", false).await?;
    for path in [
        format!("/s/{token}"),
        "/s/AAAAAAAAAAAAAAAAAAAAAA".into(),
        "/k/T-SO".into(),
        "/nope".into(),
        "/api/v1/openapi.json".into(),
    ] {
        let r = app.client.get(app.url(&path)).send().await?;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").map(|v| v.as_bytes()),
            Some(&b"no-referrer"[..]),
            "{path}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn unknown_routes_methods_and_asset_paths_get_clean_errors() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/assets/app.css",
        "/assets/sipas.key",
        "/nope",
    ] {
        let r = app.client.get(app.url(path)).send().await?;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let body = r.text().await?;
        assert!(
            !body.contains("[package]") && !body.contains("secret"),
            "{path}"
        );
    }
    let r = app.client.delete(app.url("/healthz")).send().await?;
    assert!(r.status().is_client_error());
    let r = app.client.get(app.url("/healthz")).send().await?;
    assert_eq!(r.text().await?, "ok");
    Ok(())
}

#[tokio::test]
async fn guessing_survey_links_is_cut_off_per_client() -> TestResult {
    let app = spawn_app_with(|s| {
        s.security.link_miss_limit = 5;
        s.security.trusted_proxies = vec![std::net::IpAddr::from([127, 0, 0, 1])];
    })
    .await?;
    let valid = app.invite("GUESS-1", false).await?;
    let get = |path: String, forwarded: &'static str| {
        let request = app
            .client
            .get(app.url(&path))
            .header("X-Forwarded-For", forwarded);
        async move { request.send().await.map(|r| r.status().as_u16()) }
    };
    // Well-formed but unknown tokens, malformed ones and unknown QR codes all count.
    let guesses = [
        format!("/s/{}", "A".repeat(valid.len())),
        "/s/not-a-token".to_owned(),
        format!("/q/{}.svg", "B".repeat(valid.len())),
        "/q/not-a-token.png".to_owned(),
        format!("/q/{}.png", "D".repeat(valid.len())),
    ];
    for path in guesses {
        assert_eq!(get(path, "203.0.113.7").await?, 404);
    }
    // Past the limit unknown links get 429 ...
    let refused = app
        .client
        .get(app.url(&format!("/s/{}", "E".repeat(valid.len()))))
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.text().await?.contains("quá nhiều yêu cầu"));
    assert_eq!(get("/q/not-a-token.svg".into(), "203.0.113.7").await?, 429);
    // ... while a real link still works for a citizen behind the same address.
    assert_eq!(get(format!("/s/{valid}"), "203.0.113.7").await?, 200);
    assert_eq!(get(format!("/q/{valid}.svg"), "203.0.113.7").await?, 200);
    let post = app
        .client
        .post(app.url(&format!("/s/{valid}")))
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&SHORT_FORM)
        .send()
        .await?;
    assert_eq!(post.status().as_u16(), 303);
    assert_eq!(app.count("responses")?, 1);
    // Another client behind the same proxy has its own count; the proxy's own address and an
    // entry that is not an address do not hide the client (read from the right).
    assert_eq!(get("/s/not-a-token".into(), "198.51.100.20").await?, 404);
    assert_eq!(
        get("/s/not-a-token".into(), "1.2.3.4, 203.0.113.7, 127.0.0.1").await?,
        429,
        "the client is the nearest untrusted hop, whatever it put on the left"
    );
    Ok(())
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_the_proxy_is_trusted() -> TestResult {
    let app = spawn_app_with(|s| s.security.link_miss_limit = 2).await?;
    // A client cannot escape the limit by inventing X-Forwarded-For headers.
    for forged in ["192.0.2.1", "192.0.2.2"] {
        let status = app
            .client
            .get(app.url("/s/not-a-token"))
            .header("X-Forwarded-For", forged)
            .send()
            .await?
            .status();
        assert_eq!(status.as_u16(), 404);
    }
    let status = app
        .client
        .get(app.url("/s/not-a-token"))
        .header("X-Forwarded-For", "192.0.2.3")
        .send()
        .await?
        .status();
    assert_eq!(status.as_u16(), 429);
    Ok(())
}
