//! No secret reaches the server's log: survey tokens, API keys, passwords, session cookies and
//! the token secret stay out of it while the log still records every request.

use std::process::Stdio;

use crate::crash::{SECRET, import_links, sipas, start_logging};
use crate::helpers::{SHORT_FORM, TestDb, TestResult, dossier, select};
use crate::shutdown::{terminate, wait_exit};

#[tokio::test]
async fn the_log_records_requests_but_no_secrets() -> TestResult {
    let db = TestDb::new()?;
    let dir = tempfile::tempdir()?;
    let tokens = import_links(
        &db,
        dir.path(),
        "L-1,T-SO,P-LLTP,counter,2026-01-01,2026-01-20,2026-01-10\n",
    )?;
    let token = tokens.first().ok_or("no link")?;
    let key_out = sipas(&db, dir.path())
        .args(["apikey", "create", "--province", "TT"])
        .output()?;
    let api_key = String::from_utf8(key_out.stdout)?.trim().to_owned();
    let user_out = sipas(&db, dir.path())
        .args([
            "user",
            "add",
            "--email",
            "admin@log.test",
            "--role",
            "admin",
        ])
        .output()?;
    let password = String::from_utf8(user_out.stdout)?
        .lines()
        .find_map(|l| {
            l.strip_prefix("mật khẩu, chỉ hiện một lần (password, shown once): ")
                .map(str::to_owned)
        })
        .ok_or("no password printed")?;

    let log_path = dir.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = start_logging(
        &db,
        dir.path(),
        port,
        &[("RUST_LOG", "debug,actix_server=warn,h2=warn,hyper=warn")],
        Stdio::from(std::fs::File::create(&log_path)?),
    )
    .await?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // A citizen opens and answers the survey, and its QR code is fetched.
    assert_eq!(
        client
            .get(format!("{base}/s/{token}"))
            .send()
            .await?
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/q/{token}.svg"))
            .send()
            .await?
            .status(),
        200
    );
    let sent = client
        .post(format!("{base}/s/{token}"))
        .form(&SHORT_FORM)
        .send()
        .await?;
    assert_eq!(sent.status(), 303);
    // A one-stop system reports a dossier; another tries a wrong key.
    let reported = client
        .post(format!("{base}/api/v1/dossiers"))
        .bearer_auth(&api_key)
        .json(&dossier("L-2", "T-SO", false))
        .send()
        .await?;
    assert!(reported.status().is_success());
    let issued: serde_json::Value = reported.json().await?;
    let issued_token = issued["survey_url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .ok_or("no survey_url")?
        .to_owned();
    let refused = client
        .post(format!("{base}/api/v1/dossiers"))
        .bearer_auth("sipas_wrong_key_0123456789")
        .json(&dossier("L-3", "T-SO", false))
        .send()
        .await?;
    assert_eq!(refused.status(), 401);
    // An admin signs in (once with a wrong password).
    let page = client.get(format!("{base}/admin/login")).send().await?;
    let csrf_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix("sipas_login_csrf=")?
                .split(';')
                .next()
                .map(str::to_owned)
        })
        .ok_or("no csrf cookie")?;
    let html = scraper::Html::parse_document(&page.text().await?);
    let csrf = select(&html, "input[name=csrf]")
        .first()
        .and_then(|e| e.value().attr("value"))
        .ok_or("no csrf")?
        .to_owned();
    let mut session = String::new();
    for attempt in ["not-the-password", password.as_str()] {
        let response = client
            .post(format!("{base}/admin/login"))
            .header("Cookie", format!("sipas_login_csrf={csrf_cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "admin@log.test"),
                ("password", attempt),
            ])
            .send()
            .await?;
        if let Some(s) = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.strip_prefix("sipas_session=")?
                    .split(';')
                    .next()
                    .map(str::to_owned)
            })
        {
            session = s;
        }
    }
    assert!(!session.is_empty(), "signed in");
    let overview = client
        .get(format!("{base}/admin"))
        .header("Cookie", format!("sipas_session={session}"))
        .send()
        .await?;
    // A generated password is a one-time password: the first page is the password change.
    assert_eq!(overview.status(), 303);
    assert_eq!(
        overview
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/admin/password")
    );
    terminate(&server)?;
    assert!(wait_exit(&mut server, std::time::Duration::from_secs(30)).await?);

    let log = std::fs::read_to_string(&log_path)?;
    assert!(log.contains("POST /s/…"), "requests are logged:\n{log}");
    assert!(
        log.contains("POST /api/v1/dossiers"),
        "requests are logged:\n{log}"
    );
    for (what, secret) in [
        ("survey token", token.as_str()),
        ("issued survey token", issued_token.as_str()),
        ("API key", api_key.as_str()),
        ("refused API key", "sipas_wrong_key_0123456789"),
        ("password", password.as_str()),
        ("wrong password", "not-the-password"),
        ("session cookie", session.as_str()),
        ("sign-in CSRF token", csrf.as_str()),
        ("token secret", SECRET),
    ] {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "the {what} is in the log:\n{log}");
    }
    Ok(())
}
