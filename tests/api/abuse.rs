//! Attacks on limits and accounts, as a determined insider or a bot would make them: bursts of
//! walk-in posts, on one server and on two over one database; password spraying; locking
//! someone else out; one-time passwords; resets.

use std::net::Ipv4Addr;

use crate::helpers::{SHORT_FORM, TestApp, TestResult, select, spawn_app_with};
use crate::signed::{csrf_of, get, location, post, session_of, sign_in};

const PASSWORD: &str = "a-long-test-password";

fn walk_in_answers() -> Vec<(&'static str, &'static str)> {
    let mut answers = SHORT_FORM.to_vec();
    answers.extend([("procedure", "P-KS"), ("E3", "3"), ("E4", "2"), ("E5", "2")]);
    answers
}

/// Posts the walk-in form to `base` as the client `from` (behind the trusted proxy).
async fn post_walk_in(
    client: reqwest::Client,
    base: String,
    from: &'static str,
) -> Result<u16, reqwest::Error> {
    let body = serde_urlencoded::to_string(walk_in_answers()).unwrap_or_default();
    let response = client
        .post(format!("{base}/k/T-XA"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Forwarded-For", from)
        .body(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn limited_app(per_window: u32) -> Result<TestApp, Box<dyn std::error::Error>> {
    spawn_app_with(|s| {
        s.walkin.max_per_window = per_window;
        s.security.trusted_proxies = vec![Ipv4Addr::LOCALHOST.into()];
        s.database.pool_size = 8;
    })
    .await
}

/// Releases `n` posts at once against the servers in turn; returns the status counts.
async fn burst(
    app: &TestApp,
    servers: &[String],
    n: usize,
) -> Result<Vec<u16>, Box<dyn std::error::Error>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, base, barrier) = (
            app.client.clone(),
            servers[i % servers.len()].clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            post_walk_in(client, base, "203.0.113.7").await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await??);
    }
    Ok(statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_walk_in_posts_stores_at_most_the_limit() -> TestResult {
    let app = limited_app(3).await?;
    let statuses = burst(&app, std::slice::from_ref(&app.address), 100).await?;
    let stored = app.count("responses")?;
    let accepted = statuses.iter().filter(|s| **s == 303).count();
    assert_eq!(stored, 3, "statuses: {statuses:?}");
    assert_eq!(accepted, 3);
    assert!(
        statuses.iter().all(|s| [303, 429].contains(s)),
        "{statuses:?}"
    );
    // Another client is not affected.
    let other = post_walk_in(app.client.clone(), app.address.clone(), "198.51.100.9").await?;
    assert_eq!(other, 303);
    // The address is not stored: the counter's key is a pseudonym.
    assert_eq!(app.count("rate_counts WHERE key LIKE '%203.0.113%'")?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_over_one_database_share_the_limit() -> TestResult {
    let mut app = limited_app(3).await?;
    let second = app.another_server()?;
    let statuses = burst(&app, &[app.address.clone(), second], 60).await?;
    assert_eq!(app.count("responses")?, 3, "statuses: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 3);
    Ok(())
}

async fn accounts_app(
    tweak: impl FnOnce(&mut sipas::config::Settings),
) -> Result<TestApp, Box<dyn std::error::Error>> {
    let app = spawn_app_with(|s| {
        s.security.trusted_proxies = vec![Ipv4Addr::LOCALHOST.into()];
        tweak(s);
    })
    .await?;
    let mut conn = app.conn()?;
    let now = crate::helpers::now();
    for (email, role) in [("admin@test.vn", "admin"), ("reviewer@test.vn", "reviewer")] {
        sipas::accounts::users::create(&mut conn, email, role, None, PASSWORD, now)?;
    }
    drop(conn);
    Ok(app)
}

#[tokio::test]
async fn spraying_from_one_address_stops_and_leaves_bounded_traces() -> TestResult {
    let app = accounts_app(|s| s.dashboard.login_address_max_failures = 20).await?;
    let mut statuses = Vec::new();
    for i in 0..60 {
        let email = format!("guess{i}@test.vn");
        statuses.push(
            sign_in(&app, &email, "Password123!", "203.0.113.50")
                .await?
                .status()
                .as_u16(),
        );
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even a real account with its right password waits, from this address…
    assert_eq!(
        sign_in(&app, "admin@test.vn", PASSWORD, "203.0.113.50")
            .await?
            .status(),
        429
    );
    // …but not from another one.
    assert_eq!(
        sign_in(&app, "admin@test.vn", PASSWORD, "198.51.100.1")
            .await?
            .status(),
        303
    );
    // Guesses at unknown emails are counted, not logged one by one; the refused attempt on a
    // real account is.
    assert_eq!(app.count("audit_log WHERE action = 'login.failed'")?, 0);
    assert_eq!(app.count("audit_log WHERE action = 'login.throttled'")?, 1);
    let counters = app.count("rate_counts")?;
    assert!(counters <= 2 * 20 + 5, "{counters} counters for 60 guesses");
    Ok(())
}

#[tokio::test]
async fn nobody_can_lock_the_owner_out_of_an_account() -> TestResult {
    let app = accounts_app(|s| {
        s.dashboard.login_account_slowdown_after = 10;
        s.dashboard.login_slowdown_seconds = 2;
    })
    .await?;
    // An attacker tries the admin's password from four addresses, five times each.
    for n in 0..4 {
        let from = format!("203.0.113.{n}");
        for _ in 0..5 {
            let status = sign_in(&app, "admin@test.vn", "not-the-password", &from)
                .await?
                .status();
            assert!([401, 429].contains(&status.as_u16()), "{status}");
        }
        assert_eq!(
            sign_in(&app, "admin@test.vn", PASSWORD, &from)
                .await?
                .status(),
            429
        );
    }
    // The account is slowed down, not locked: its owner, elsewhere, gets in within a few
    // seconds.
    let mut signed_in = false;
    for _ in 0..10 {
        let response = sign_in(&app, "admin@test.vn", PASSWORD, "198.51.100.20").await?;
        if response.status() == 303 {
            signed_in = true;
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(response.text().await?.contains("cách nhau"));
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    assert!(signed_in, "the owner got in");
    Ok(())
}

#[tokio::test]
async fn the_site_wide_cap_bounds_attempts() -> TestResult {
    let app = accounts_app(|s| s.dashboard.login_global_per_minute = 10).await?;
    let mut busy = 0;
    for i in 0..15 {
        let response = sign_in(
            &app,
            &format!("nobody{i}@test.vn"),
            "x-wrong-password",
            &format!("192.0.2.{i}"),
        )
        .await?;
        if response.status() == 429 {
            assert!(response.text().await?.contains("quá nhiều lượt"));
            busy += 1;
        }
    }
    // The previous minute counts too, so a minute's edge changes nothing.
    assert_eq!(busy, 5, "{busy} refused of 15 with a cap of 10 a minute");
    Ok(())
}

#[tokio::test]
async fn one_time_passwords_must_be_changed_and_changes_end_sessions() -> TestResult {
    let app = accounts_app(|_| {}).await?;
    let admin =
        session_of(&sign_in(&app, "admin@test.vn", PASSWORD, "10.0.0.1").await?).ok_or("admin")?;
    // The admin invites a reviewer; the password is shown once.
    let csrf = csrf_of(&app, "/admin/users", &admin).await?;
    let page = post(
        &app,
        "/admin/users",
        &admin,
        &[
            ("csrf", &csrf),
            ("email", "new@test.vn"),
            ("role", "reviewer"),
        ],
    )
    .await?;
    assert_eq!(page.status(), 200);
    let html = scraper::Html::parse_document(&page.text().await?);
    let one_time = select(&html, ".alert code")
        .first()
        .map(|c| c.text().collect::<String>())
        .ok_or("no password shown")?;

    // Signed in with it, every page leads to the password change first.
    let first =
        session_of(&sign_in(&app, "new@test.vn", &one_time, "10.0.0.2").await?).ok_or("new")?;
    let overview = get(&app, "/admin", &first).await?;
    assert_eq!(overview.status(), 303);
    assert_eq!(location(&overview), Some("/admin/password"));
    let second =
        session_of(&sign_in(&app, "new@test.vn", &one_time, "10.0.0.3").await?).ok_or("second")?;

    let csrf = csrf_of(&app, "/admin/password", &first).await?;
    let new_password = "my-own-long-password";
    let change = |current: &str, new: &str, again: &str| {
        let fields = [
            ("csrf", csrf.clone()),
            ("current", current.to_owned()),
            ("new", new.to_owned()),
            ("again", again.to_owned()),
        ];
        let (app, first) = (&app, first.clone());
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, "/admin/password", &first, &fields).await
        }
    };
    let wrong = change("not-it-at-all", new_password, new_password).await?;
    assert_eq!(wrong.status(), 422);
    let mismatch = change(&one_time, new_password, "something-else-long").await?;
    assert_eq!(mismatch.status(), 422);
    let short = change(&one_time, "short", "short").await?;
    assert_eq!(short.status(), 422);
    let changed = change(&one_time, new_password, new_password).await?;
    assert_eq!(changed.status(), 303);
    let renewed = session_of(&changed).ok_or("a fresh session for this browser")?;
    // Every earlier session of the account has ended; the fresh one works everywhere.
    assert_eq!(
        location(&get(&app, "/admin", &first).await?),
        Some("/admin/login?next=%2Fadmin")
    );
    assert_eq!(
        location(&get(&app, "/admin", &second).await?),
        Some("/admin/login?next=%2Fadmin")
    );
    assert_eq!(get(&app, "/admin", &renewed).await?.status(), 200);
    assert_eq!(
        sign_in(&app, "new@test.vn", &one_time, "10.0.0.4")
            .await?
            .status(),
        401
    );
    assert_eq!(
        sign_in(&app, "new@test.vn", new_password, "10.0.0.4")
            .await?
            .status(),
        303
    );

    // An admin resets it: the user's sessions end, and the new one-time password must be
    // changed again.
    let id: i64 = {
        use diesel::prelude::*;
        use sipas::db::schema::users;
        let mut conn = app.conn()?;
        users::table
            .filter(users::email.eq("new@test.vn"))
            .select(users::id)
            .first(&mut *conn)?
    };
    let csrf = csrf_of(&app, "/admin/users", &admin).await?;
    let reset = post(
        &app,
        &format!("/admin/users/{id}/password"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await?;
    assert_eq!(reset.status(), 200);
    let html = scraper::Html::parse_document(&reset.text().await?);
    let again = select(&html, ".alert code")
        .first()
        .map(|c| c.text().collect::<String>())
        .ok_or("no reset password")?;
    assert_eq!(
        location(&get(&app, "/admin", &renewed).await?),
        Some("/admin/login?next=%2Fadmin")
    );
    let after = session_of(&sign_in(&app, "new@test.vn", &again, "10.0.0.5").await?)
        .ok_or("after reset")?;
    assert_eq!(
        location(&get(&app, "/admin/cases", &after).await?),
        Some("/admin/password")
    );
    // Only admins reset passwords.
    let reviewer = session_of(&sign_in(&app, "reviewer@test.vn", PASSWORD, "10.0.0.6").await?)
        .ok_or("reviewer")?;
    let csrf = csrf_of(&app, "/admin/password", &reviewer).await?;
    assert_eq!(
        post(
            &app,
            &format!("/admin/users/{id}/password"),
            &reviewer,
            &[("csrf", &csrf)]
        )
        .await?
        .status(),
        403
    );
    assert_eq!(app.count("audit_log WHERE action = 'password.reset'")?, 1);
    assert_eq!(app.count("audit_log WHERE action = 'password.change'")?, 1);
    Ok(())
}

#[tokio::test]
async fn a_burst_across_a_window_edge_gets_the_limit_once() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let limit = sipas::limits::Limit {
        scope: "edge test",
        max: 3,
        window: chrono::Duration::minutes(60),
    };
    let at = |h: u32, m: u32, s: u32| {
        sipas::clock::today()
            .and_hms_opt(h, m, s)
            .ok_or("a time of day")
    };
    let mut conn = app.conn()?;
    let taken: Vec<bool> = [at(10, 59, 58)?, at(10, 59, 59)?, at(10, 59, 59)?]
        .into_iter()
        .chain([at(11, 0, 0)?, at(11, 0, 1)?, at(11, 30, 0)?])
        .map(|t| limit.take(&mut conn, "client", t))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        taken,
        [true, true, true, false, false, false],
        "the hour before still counts just after the edge"
    );
    assert!(
        limit.take(&mut conn, "client", at(12, 0, 0)?)?,
        "two windows later"
    );
    assert_eq!(limit.count(&mut conn, "client", at(12, 0, 0)?)?, 1);
    Ok(())
}
