//! The dashboard: who can reach what (the access matrix), sign-in throttling, CSRF on every form,
//! sessions that end, and pages whose numbers come from the report.

use crate::helpers::{SHORT_FORM, TestApp, TestResult, select, spawn_app, text};
use diesel::prelude::*;

const PASSWORD: &str = "a-long-test-password";

/// A signed-in browser: its session cookie and the CSRF token of its forms.
pub struct SignedIn {
    cookie: String,
    csrf: String,
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

async fn try_login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> Result<reqwest::Response, Box<dyn std::error::Error>> {
    try_login_with_cookies(app, email, password, "").await
}

/// Signs in through the form; `more_cookies` (`; name=value…`) are sent along with the form's.
async fn try_login_with_cookies(
    app: &TestApp,
    email: &str,
    password: &str,
    more_cookies: &str,
) -> Result<reqwest::Response, Box<dyn std::error::Error>> {
    let page = app.client.get(app.url("/admin/login")).send().await?;
    let csrf_cookie = cookie_value(&page, "sipas_login_csrf").ok_or("no login csrf cookie")?;
    let html = scraper::Html::parse_document(&page.text().await?);
    let csrf = select(&html, "input[name=csrf]")
        .first()
        .and_then(|e| e.value().attr("value"))
        .ok_or("no csrf")?
        .to_owned();
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", password),
    ])?;
    Ok(app
        .client
        .post(app.url("/admin/login"))
        .header(
            "Cookie",
            format!("sipas_login_csrf={csrf_cookie}{more_cookies}"),
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?)
}

async fn login(app: &TestApp, email: &str) -> Result<SignedIn, Box<dyn std::error::Error>> {
    let response = try_login(app, email, PASSWORD).await?;
    assert_eq!(response.status().as_u16(), 303, "sign-in of {email}");
    let cookie = cookie_value(&response, "sipas_session").ok_or("no session cookie")?;
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let page = app
        .client
        .get(app.url("/admin/agencies/me"))
        .header("Cookie", format!("sipas_session={cookie}"))
        .send()
        .await?;
    let page = if page.status().as_u16() == 404 {
        app.client
            .get(app.url("/admin"))
            .header("Cookie", format!("sipas_session={cookie}"))
            .send()
            .await?
    } else {
        page
    };
    let html = scraper::Html::parse_document(&page.text().await?);
    let csrf = select(&html, "input[name=csrf]")
        .first()
        .and_then(|e| e.value().attr("value"))
        .ok_or("no csrf on pages")?
        .to_owned();
    Ok(SignedIn { cookie, csrf })
}

async fn get(
    app: &TestApp,
    who: Option<&SignedIn>,
    path: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut request = app.client.get(app.url(path));
    if let Some(s) = who {
        request = request.header("Cookie", format!("sipas_session={}", s.cookie));
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Posts a dashboard form (with the session's CSRF token unless `csrf` overrides it); returns
/// the status and the page.
async fn submit(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
    csrf: Option<&str>,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut all = fields.to_vec();
    let token = csrf.unwrap_or(&who.csrf).to_owned();
    all.push(("csrf", &token));
    let response = app
        .client
        .post(app.url(path))
        .header("Cookie", format!("sipas_session={}", who.cookie))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&all)?)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Posts a dashboard form; returns the status.
async fn post(
    app: &TestApp,
    who: &SignedIn,
    path: &str,
    fields: &[(&str, &str)],
    csrf: Option<&str>,
) -> Result<u16, Box<dyn std::error::Error>> {
    Ok(submit(app, who, path, fields, csrf).await?.0)
}

async fn with_users() -> Result<TestApp, Box<dyn std::error::Error>> {
    let app = spawn_app().await?;
    {
        let mut conn = app.conn()?;
        let now = crate::helpers::now();
        for (email, role, agency) in [
            ("admin@test.vn", "admin", None),
            ("reviewer@test.vn", "reviewer", None),
            ("head@test.vn", "agency_head", Some("T-HUYEN")),
        ] {
            sipas::accounts::users::create(&mut conn, email, role, agency, PASSWORD, now)?;
        }
    }
    // Some responses so that pages have numbers.
    for i in 0..6 {
        let token = app.invite(&format!("DASH-{i}"), false).await?;
        app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
    }
    Ok(app)
}

#[tokio::test]
async fn each_role_reaches_exactly_what_it_should() -> TestResult {
    let app = with_users().await?;
    let admin = login(&app, "admin@test.vn").await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let head = login(&app, "head@test.vn").await?;
    // (path, anonymous, admin, reviewer, agency head of T-HUYEN)
    let matrix: [(&str, u16, u16, u16, u16); 15] = [
        ("/admin", 303, 200, 200, 303),
        ("/admin/agencies/T-SO", 303, 200, 200, 404),
        ("/admin/agencies/T-HUYEN", 303, 200, 200, 200),
        ("/admin/agencies/T-XA", 303, 200, 200, 200),
        ("/admin/agencies/NOPE", 303, 404, 404, 404),
        ("/admin/users", 303, 200, 403, 403),
        ("/admin/agencies/T-XA/poster", 303, 200, 200, 200),
        ("/admin/agencies/T-SO/poster", 303, 200, 200, 404),
        ("/admin/cases", 303, 200, 200, 200),
        ("/admin/export/report.csv", 303, 200, 200, 200),
        ("/admin/export/reach.csv", 303, 200, 200, 200),
        ("/admin/export/responses.csv", 303, 200, 403, 403),
        ("/admin/mail", 303, 200, 403, 403),
        ("/admin/catalog", 303, 200, 403, 403),
        ("/admin/questionnaires", 303, 200, 403, 403),
    ];
    for (path, anon, a, r, h) in matrix {
        assert_eq!(get(&app, None, path).await?.0, anon, "anonymous {path}");
        assert_eq!(get(&app, Some(&admin), path).await?.0, a, "admin {path}");
        assert_eq!(
            get(&app, Some(&reviewer), path).await?.0,
            r,
            "reviewer {path}"
        );
        assert_eq!(
            get(&app, Some(&head), path).await?.0,
            h,
            "agency head {path}"
        );
    }
    let (_, poster) = get(&app, Some(&head), "/admin/agencies/T-XA/poster").await?;
    assert!(
        poster.contains("<svg")
            && poster.contains("https://khaosat.test/k/T-XA")
            && poster.contains("Quét mã QR")
    );
    // Changes: only admins.
    let invite = [
        ("email", "new@test.vn"),
        ("role", "reviewer"),
        ("agency", ""),
    ];
    assert_eq!(
        post(&app, &reviewer, "/admin/users", &invite, None).await?,
        403
    );
    assert_eq!(post(&app, &head, "/admin/users", &invite, None).await?, 403);
    assert_eq!(
        post(&app, &admin, "/admin/users", &invite, None).await?,
        200
    );
    assert_eq!(app.count("users WHERE email = 'new@test.vn'")?, 1);
    Ok(())
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() -> TestResult {
    let app = with_users().await?;
    let admin = login(&app, "admin@test.vn").await?;
    let invite = [("email", "csrf@test.vn"), ("role", "reviewer")];
    assert_eq!(
        post(&app, &admin, "/admin/users", &invite, Some("forged")).await?,
        403
    );
    assert_eq!(
        post(&app, &admin, "/admin/logout", &[], Some("")).await?,
        403
    );
    assert_eq!(app.count("users WHERE email = 'csrf@test.vn'")?, 0);
    // The sign-in form needs its cookie too.
    let response = app
        .client
        .post(app.url("/admin/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("csrf=x&email=admin%40test.vn&password=a-long-test-password")
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 403);
    Ok(())
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_and_audited() -> TestResult {
    let app = with_users().await?;
    for _ in 0..5 {
        assert_eq!(
            try_login(&app, "admin@test.vn", "wrong-password-here")
                .await?
                .status()
                .as_u16(),
            401
        );
    }
    // This address may not try this account for now, even with the right password.
    let locked = try_login(&app, "admin@test.vn", PASSWORD).await?;
    assert_eq!(locked.status().as_u16(), 429);
    assert!(locked.text().await?.contains("từ địa chỉ này"));
    // Unknown emails take the same path, and are counted but not written to the audit log.
    assert_eq!(
        try_login(&app, "nobody@test.vn", PASSWORD)
            .await?
            .status()
            .as_u16(),
        401
    );
    assert_eq!(app.count("audit_log WHERE action = 'login.failed'")?, 5);
    assert_eq!(app.count("audit_log WHERE action = 'login.throttled'")?, 1);
    // Another account from the same address is not affected.
    login(&app, "reviewer@test.vn").await?;
    assert_eq!(app.count("audit_log WHERE action = 'login'")?, 1);
    Ok(())
}

#[tokio::test]
async fn sessions_end_on_sign_out_idle_time_and_disabling() -> TestResult {
    let app = with_users().await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    assert_eq!(
        post(&app, &reviewer, "/admin/logout", &[], None).await?,
        303
    );
    assert_eq!(
        get(&app, Some(&reviewer), "/admin").await?.0,
        303,
        "signed out"
    );

    let idle = login(&app, "reviewer@test.vn").await?;
    {
        use diesel::prelude::*;
        use sipas::db::schema::sessions;
        let mut conn = app.conn()?;
        let long_ago = crate::helpers::now() - chrono::Duration::minutes(31);
        diesel::update(sessions::table)
            .set(sessions::last_seen_at.eq(long_ago))
            .execute(&mut *conn)?;
    }
    assert_eq!(
        get(&app, Some(&idle), "/admin").await?.0,
        303,
        "idle session ended"
    );

    let admin = login(&app, "admin@test.vn").await?;
    let head = login(&app, "head@test.vn").await?;
    let id: i64 = {
        use diesel::prelude::*;
        use sipas::db::schema::users;
        let mut conn = app.conn()?;
        users::table
            .filter(users::email.eq("head@test.vn"))
            .select(users::id)
            .first(&mut *conn)?
    };
    assert_eq!(
        post(
            &app,
            &admin,
            &format!("/admin/users/{id}/disabled"),
            &[("disabled", "true")],
            None
        )
        .await?,
        422,
        "locking needs the confirmation"
    );
    assert_eq!(
        get(&app, Some(&head), "/admin/agencies/me").await?.0,
        200,
        "not locked without it"
    );
    assert_eq!(
        post(
            &app,
            &admin,
            &format!("/admin/users/{id}/disabled"),
            &[("disabled", "true"), ("confirm", "1")],
            None
        )
        .await?,
        200
    );
    assert_eq!(
        get(&app, Some(&head), "/admin/agencies/me").await?.0,
        303,
        "disabled user signed out"
    );
    assert_eq!(
        try_login(&app, "head@test.vn", PASSWORD)
            .await?
            .status()
            .as_u16(),
        401
    );
    assert_eq!(app.count("audit_log WHERE action = 'user.disable'")?, 1);
    Ok(())
}

#[tokio::test]
async fn pages_show_the_report_and_agency_heads_see_no_free_text() -> TestResult {
    let app = with_users().await?;
    // A comment with personal data on T-SO.
    let token = app.invite("DASH-C", false).await?;
    let mut answers = SHORT_FORM.to_vec();
    answers.push(("C1", "Cán bộ tốt, gọi tôi 0912 345 678"));
    app.post_form(&format!("/s/{token}"), &answers).await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let (status, body) = get(&app, Some(&reviewer), "/admin").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&body);
    assert!(text(&html).contains("Chỉ số SIPAS"));
    assert_eq!(
        select(&html, "svg.chart-funnel").len(),
        2,
        "two funnel plots"
    );
    assert_eq!(select(&html, "svg.chart-trend").len(), 1);
    let (_, agency) = get(&app, Some(&reviewer), "/admin/agencies/T-SO").await?;
    assert!(
        agency.contains("Cán bộ tốt, gọi tôi ***"),
        "comment shown masked to reviewers"
    );
    assert!(!agency.contains("0912 345 678"));
    // The agency head of T-HUYEN: own subtree only, no comments.
    let head = login(&app, "head@test.vn").await?;
    let (status, own) = get(&app, Some(&head), "/admin/agencies/me").await?;
    assert_eq!(status, 200);
    assert!(own.contains("UBND huyện Đại Từ"));
    assert!(!own.contains("Ý kiến của người dân"));
    Ok(())
}

/// A citizen answers dossier `code` of T-SO saying an official asked for money.
async fn money_asked(app: &TestApp, code: &str) -> TestResult {
    let token = app.invite(code, false).await?;
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "E7")
        .collect();
    answers.push(("E7", "3"));
    app.post_form(&format!("/s/{token}"), &answers).await?;
    Ok(())
}

#[tokio::test]
async fn reading_any_dashboard_page_changes_nothing() -> TestResult {
    let app = with_users().await?;
    // A citizen says an official asked for money: a flag that a sweep would act on.
    money_asked(&app, "READ-ONLY").await?;
    let admin = login(&app, "admin@test.vn").await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let head = login(&app, "head@test.vn").await?;
    let tables = app.row_counts()?;
    assert!(tables.len() >= 15, "every table is counted: {tables:?}");
    assert!(tables.iter().any(|(t, n)| t == "responses" && *n == 7));
    let pages = [
        (&admin, "/admin"),
        (&reviewer, "/admin"),
        (&admin, "/admin?from=2020-01-01&to=2035-12-31"),
        (&admin, "/admin?province=TT"),
        (&admin, "/admin/agencies/T-SO"),
        (&reviewer, "/admin/agencies/T-SO?from=2020-01-01"),
        (&head, "/admin/agencies/me"),
        (&admin, "/admin/agencies/T-SO/poster"),
        (&reviewer, "/admin/cases"),
        (&admin, "/admin/export/report.csv"),
        (&admin, "/admin/export/report.xlsx"),
        (&admin, "/admin/export/reach.csv"),
        (&admin, "/admin/export/reach.xlsx"),
        (&admin, "/admin/export/responses.csv"),
        (&admin, "/admin/catalog"),
        (&admin, "/admin/questionnaires"),
        (&admin, "/admin/mail"),
        (&admin, "/admin/users"),
    ];
    for (who, path) in pages {
        let (status, _) = get(&app, Some(who), path).await?;
        assert_eq!(status, 200, "{path}");
    }
    let anonymous = app.client.get(app.url("/admin/login")).send().await?;
    assert_eq!(anonymous.status().as_u16(), 200);
    assert_eq!(app.row_counts()?, tables, "no GET changed a row count");
    Ok(())
}

#[tokio::test]
async fn a_flag_opens_a_case_that_reviewers_follow_up() -> TestResult {
    let app = with_users().await?;
    // A citizen of T-SO says an official asked for money.
    money_asked(&app, "DASH-MONEY").await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    assert_eq!(get(&app, Some(&reviewer), "/admin").await?.0, 200);
    assert_eq!(app.count("cases")?, 0, "viewing the overview opens nothing");
    // The scheduled monitoring sweep opens the case, once however often it runs.
    app.sweep()?;
    app.sweep()?;
    assert_eq!(
        app.count("cases")?,
        1,
        "one case, however often the sweep runs"
    );
    let (status, list) = get(&app, Some(&reviewer), "/admin/cases").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&list);
    let link = select(&html, "a[href^='/admin/cases/']")
        .first()
        .and_then(|a| a.value().attr("href"))
        .ok_or("no case link")?
        .to_owned();
    assert!(text(&html).contains("Yêu cầu chi thêm tiền") && text(&html).contains("Mới"));
    // Unfounded needs a reason; forward moves and notes are logged.
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "status"), ("to", "unfounded"), ("reason", "")],
            None
        )
        .await?,
        422
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "status"), ("to", "acknowledged")],
            None
        )
        .await?,
        303
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "due"), ("due", "2020-01-01")],
            None
        )
        .await?,
        303
    );
    let (_, overdue) = get(&app, Some(&reviewer), "/admin/cases").await?;
    assert!(overdue.contains("Quá hạn"), "past its due date");
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "note"), ("note", "Đã làm việc với cơ quan")],
            None
        )
        .await?,
        303
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "status"), ("to", "new")],
            None
        )
        .await?,
        422,
        "no going back"
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "status"), ("to", "resolved")],
            None
        )
        .await?,
        422,
        "closing as resolved needs what was done"
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[
                ("action", "status"),
                ("to", "resolved"),
                ("reason", "Đã chấn chỉnh cán bộ tiếp nhận")
            ],
            None
        )
        .await?,
        303
    );
    assert_eq!(
        post(
            &app,
            &reviewer,
            &link,
            &[("action", "note"), ("note", "x")],
            Some("forged")
        )
        .await?,
        403
    );
    let (_, page) = get(&app, Some(&reviewer), &link).await?;
    let page = scraper::Html::parse_document(&page);
    let log = text(&page);
    assert!(
        log.contains("Mới → Đã tiếp nhận")
            && log.contains("Đã làm việc với cơ quan")
            && log.contains("Đã tiếp nhận → Đã khắc phục")
    );
    assert!(log.contains("reviewer@test.vn"), "who did it");
    assert_eq!(app.count("case_events")?, 5);
    // The head of another agency sees none of this agency's cases.
    let head = login(&app, "head@test.vn").await?;
    let (status, list) = get(&app, Some(&head), "/admin/cases").await?;
    assert_eq!(status, 200);
    assert!(!list.contains(&link), "another agency's case is not listed");
    assert_eq!(get(&app, Some(&head), &link).await?.0, 404);

    // The flag persists after the case was resolved: no duplicate, the case notes it; once the
    // verification period has passed with the flag still there, the same case reopens.
    app.sweep()?;
    assert_eq!(app.count("cases")?, 1, "no duplicate case");
    assert_eq!(app.count("case_events WHERE kind = 'persists'")?, 1);
    app.sweep()?;
    assert_eq!(
        app.count("case_events WHERE kind = 'persists'")?,
        1,
        "noted once"
    );
    {
        let mut conn = app.conn()?;
        let long_ago = sipas::clock::now() - chrono::Duration::days(91);
        diesel::update(sipas::db::schema::cases::table)
            .set(sipas::db::schema::cases::closed_at.eq(Some(long_ago)))
            .execute(&mut *conn)?;
    }
    app.sweep()?;
    assert_eq!(app.count("cases")?, 1);
    assert_eq!(
        app.count("cases WHERE status = 'in_progress'")?,
        1,
        "reopened"
    );
    let (_, page) = get(&app, Some(&reviewer), &link).await?;
    assert!(page.contains("Mở lại"), "the history shows the reopening");
    Ok(())
}

#[tokio::test]
async fn agency_heads_read_their_cases_and_record_what_they_did() -> TestResult {
    let app = with_users().await?;
    money_asked(&app, "HEAD-CASE").await?;
    app.sweep()?;
    let id: i64 = {
        let mut conn = app.conn()?;
        sipas::db::schema::cases::table
            .select(sipas::db::schema::cases::id)
            .first(&mut *conn)?
    };
    let link = format!("/admin/cases/{id}");
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "head.so@test.vn",
            "agency_head",
            Some("T-SO"),
            PASSWORD,
            crate::helpers::now(),
        )?;
    }
    let head = login(&app, "head.so@test.vn").await?;
    let (status, list) = get(&app, Some(&head), "/admin/cases").await?;
    assert_eq!(status, 200);
    assert!(list.contains(&link));
    let (status, page) = get(&app, Some(&head), &link).await?;
    assert_eq!(status, 200);
    assert!(!page.contains("name=\"assignee\""), "heads do not assign");
    assert_eq!(
        post(
            &app,
            &head,
            &link,
            &[("action", "note"), ("note", "Đã họp rút kinh nghiệm")],
            None
        )
        .await?,
        303
    );
    assert_eq!(
        post(
            &app,
            &head,
            &link,
            &[("action", "status"), ("to", "resolved"), ("reason", "x")],
            None
        )
        .await?,
        403,
        "reviewers decide"
    );
    let (_, page) = get(&app, Some(&head), &format!("{link}?done=1")).await?;
    assert!(page.contains("Đã họp rút kinh nghiệm") && page.contains("Đã lưu thay đổi"));
    Ok(())
}

#[tokio::test]
async fn exports_read_back_as_csv_and_xlsx() -> TestResult {
    use std::io::Read;
    let app = with_users().await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let cookie = format!("sipas_session={}", reviewer.cookie);
    let csv = app
        .client
        .get(app.url("/admin/export/report.csv"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(csv.status().as_u16(), 200);
    let bytes = csv.bytes().await?;
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 with BOM for Excel");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .has_headers(false)
        .from_reader(&bytes[3..]);
    let mut records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let title = records.remove(0);
    assert!(
        title[2].starts_with("Kỳ: "),
        "the period in the title row: {title:?}"
    );
    let header = records.remove(0);
    assert_eq!(&header[0], "Mã");
    assert_eq!(&header[7], "Chỉ số SIPAS (%)");
    let rows = records;
    let so = rows
        .iter()
        .find(|r| &r[0] == "T-SO")
        .ok_or("T-SO in the export")?;
    assert_eq!(&so[4], "6", "its responses");
    assert!(so[7].contains(','), "a decimal comma: {:?}", &so[7]);
    assert_eq!(&so[12], "không", "flags in words");
    // The English variant: `,`, decimal points, English headings.
    let en = app
        .client
        .get(app.url("/admin/export/report.csv?lang=en"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    let disposition = en
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(disposition.contains("sipas-report-all-"), "{disposition}");
    let en = en.bytes().await?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(&en[3..]);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    assert_eq!(&records[1][7], "SIPAS index (%)");

    let xlsx = app
        .client
        .get(app.url("/admin/export/report.xlsx"))
        .header("Cookie", &cookie)
        .send()
        .await?;
    assert_eq!(xlsx.status().as_u16(), 200);
    let mut book = zip::ZipArchive::new(std::io::Cursor::new(xlsx.bytes().await?.to_vec()))?;
    let mut strings = String::new();
    book.by_name("xl/sharedStrings.xml")?
        .read_to_string(&mut strings)?;
    assert!(strings.contains("Cơ quan") && strings.contains("Sở Tư pháp"));
    let mut sheet = String::new();
    book.by_name("xl/worksheets/sheet1.xml")?
        .read_to_string(&mut sheet)?;
    assert_eq!(
        sheet.matches("<row ").count(),
        2 + rows.len(),
        "a title row, the headings and one row per agency"
    );
    assert!(sheet.contains("<cols>"), "column widths");
    assert!(strings.contains("Kỳ: "), "the period");
    let mut styles = String::new();
    book.by_name("xl/styles.xml")?.read_to_string(&mut styles)?;
    assert!(styles.contains("0.0%"), "rates formatted as percentages");

    // The raw export: admins only, streamed, and readable by `sipas import responses`.
    assert_eq!(
        get(&app, Some(&reviewer), "/admin/export/responses.csv")
            .await?
            .0,
        403
    );
    let admin = login(&app, "admin@test.vn").await?;
    let raw = app
        .client
        .get(app.url("/admin/export/responses.csv"))
        .header("Cookie", format!("sipas_session={}", admin.cookie))
        .send()
        .await?;
    assert_eq!(raw.status().as_u16(), 200);
    let raw = raw.bytes().await?;
    let text = String::from_utf8(raw[3..].to_vec())?;
    assert_eq!(text.lines().count(), 7, "a header and six responses");
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.starts_with("agency_code,submitted_at"))
    );
    assert_eq!(app.import_responses(&text)?, 6);
    assert_eq!(app.count("responses")?, 12);
    Ok(())
}

#[tokio::test]
async fn admins_manage_keys_and_the_catalog() -> TestResult {
    let app = with_users().await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    assert_eq!(get(&app, Some(&reviewer), "/admin/catalog").await?.0, 403);
    let admin = login(&app, "admin@test.vn").await?;
    let (status, page) = submit(
        &app,
        &admin,
        "/admin/catalog/keys",
        &[("owner", "T-XA"), ("kind", "agency")],
        None,
    )
    .await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&page);
    let key = select(&html, "[role=status] code")
        .first()
        .map(|c| c.text().collect::<String>())
        .ok_or("key shown once")?;
    let send = |key: String| {
        app.client
            .post(app.url("/api/v1/dossiers"))
            .bearer_auth(key)
            .json(&crate::helpers::dossier("KEY-1", "T-XA", false))
            .send()
    };
    assert_eq!(send(key.clone()).await?.status().as_u16(), 201);
    let prefix = &key[..12];
    assert_eq!(
        submit(
            &app,
            &admin,
            "/admin/catalog/keys/revoke",
            &[("prefix", prefix)],
            None
        )
        .await?
        .0,
        422,
        "revoking needs the confirmation"
    );
    assert!(
        send(key.clone()).await?.status().is_success(),
        "still in use"
    );
    let (status, page) = submit(
        &app,
        &admin,
        "/admin/catalog/keys/revoke",
        &[("prefix", prefix), ("confirm", "1")],
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert!(page.contains("Đã thu hồi khóa"), "a success message");
    assert_eq!(
        send(key.clone()).await?.status().as_u16(),
        401,
        "a revoked key stops at once"
    );
    assert_eq!(
        submit(
            &app,
            &admin,
            "/admin/catalog/keys",
            &[("owner", "NOPE"), ("kind", "agency")],
            None
        )
        .await?
        .0,
        422
    );

    let bad = "code,name,field,level\nQ-1,Tên,Lĩnh vực,xa\nQ-2,Tên,,xa\n";
    let (status, page) = submit(
        &app,
        &admin,
        "/admin/catalog/import",
        &[("what", "procedures"), ("csv", bad)],
        None,
    )
    .await?;
    assert_eq!(status, 422);
    assert!(page.contains("dòng 3"), "the bad line is named");
    assert_eq!(
        app.count("procedures WHERE code = 'Q-1'")?,
        0,
        "nothing imported"
    );
    let good = "code,name,field,level\nQ-1,Cấp giấy phép,Xây dựng,huyen\n";
    assert_eq!(
        submit(
            &app,
            &admin,
            "/admin/catalog/import",
            &[("what", "procedures"), ("csv", good)],
            None
        )
        .await?
        .0,
        200
    );
    assert_eq!(app.count("procedures WHERE code = 'Q-1'")?, 1);
    assert_eq!(
        app.count(
            "audit_log WHERE action IN ('apikey.create', 'apikey.revoke', 'catalog.import')"
        )?,
        3
    );
    Ok(())
}

#[tokio::test]
async fn a_published_questionnaire_version_is_answered_and_counted() -> TestResult {
    let app = with_users().await?;
    let admin = login(&app, "admin@test.vn").await?;
    let v2 = sipas::questionnaire::BUILT_IN
        .replacen("\"version\": 1", "\"version\": 2", 1)
        .replacen("Nhìn chung, Ông/Bà hài lòng thế nào với sự phục vụ của cơ quan khi giải quyết hồ sơ này?", "Ông/Bà hài lòng với cơ quan đến mức nào?", 1);
    let (status, _) = submit(
        &app,
        &admin,
        "/admin/questionnaires",
        &[("json", "{ not json")],
        None,
    )
    .await?;
    assert_eq!(status, 422);
    let (status, page) = submit(
        &app,
        &admin,
        "/admin/questionnaires",
        &[("json", &v2)],
        None,
    )
    .await?;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        submit(
            &app,
            &admin,
            "/admin/questionnaires",
            &[("json", &v2)],
            None
        )
        .await?
        .0,
        422,
        "not newer"
    );
    // Citizens now get version 2, and their responses say so.
    let token = app.invite("V2-1", false).await?;
    let (_, form) = app.get_html(&format!("/s/{token}")).await?;
    assert!(text(&form).contains("Ông/Bà hài lòng với cơ quan đến mức nào?"));
    assert_eq!(
        app.post_form(&format!("/s/{token}"), &SHORT_FORM)
            .await?
            .status()
            .as_u16(),
        303
    );
    assert_eq!(app.count("responses WHERE questionnaire_version = 2")?, 1);
    let (_, listing) = get(&app, Some(&admin), "/admin/questionnaires").await?;
    let html = scraper::Html::parse_document(&listing);
    let rows: Vec<String> = select(&html, "tbody tr")
        .iter()
        .map(|r| r.text().collect::<Vec<_>>().join("|"))
        .collect();
    assert!(
        rows.iter().any(|r| r.contains("sipas-2640-post|1|6")),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("sipas-2640-post|2|1")),
        "{rows:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_user_can_read_the_dashboard_in_english() -> TestResult {
    let app = with_users().await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    assert_eq!(
        post(&app, &reviewer, "/admin/lang", &[("lang", "en")], None).await?,
        303
    );
    let (_, overview) = get(&app, Some(&reviewer), "/admin").await?;
    let html = scraper::Html::parse_document(&overview);
    assert_eq!(select(&html, "html")[0].value().attr("lang"), Some("en"));
    assert!(
        text(&html).contains("Satisfaction overview") && text(&html).contains("The five factors")
    );
    let (_, agency) = get(&app, Some(&reviewer), "/admin/agencies/T-SO").await?;
    assert!(agency.contains("SIPAS index") && agency.contains("Month by month"));
    let (_, cases) = get(&app, Some(&reviewer), "/admin/cases").await?;
    assert!(cases.contains("Follow-up of flags"));
    let admin = login(&app, "admin@test.vn").await?;
    assert_eq!(
        post(&app, &admin, "/admin/lang", &[("lang", "en")], None).await?,
        303
    );
    for (path, words) in [
        ("/admin/users", "Invite a new user"),
        ("/admin/catalog", "Catalog and API keys"),
        ("/admin/questionnaires", "Publish a new version"),
        ("/admin/mail", "Digests and alerts"),
    ] {
        let (status, page) = get(&app, Some(&admin), path).await?;
        assert!(status == 200 && page.contains(words), "{path}");
    }
    // And back.
    assert_eq!(
        post(&app, &reviewer, "/admin/lang", &[("lang", "vi")], None).await?,
        303
    );
    let (_, again) = get(&app, Some(&reviewer), "/admin").await?;
    assert!(again.contains("Tổng quan chỉ số hài lòng"));
    Ok(())
}

#[tokio::test]
async fn planted_sessions_and_borrowed_csrf_tokens_are_useless() -> TestResult {
    let app = with_users().await?;
    // Session fixation: a session id planted in the victim's browser before sign-in is neither
    // kept nor honoured; sign-in always issues a fresh one.
    let planted = "attacker-chosen-session-id-0000000000000000";
    let signed_in = try_login_with_cookies(
        &app,
        "admin@test.vn",
        PASSWORD,
        &format!("; sipas_session={planted}"),
    )
    .await?;
    assert_eq!(signed_in.status().as_u16(), 303);
    let issued = cookie_value(&signed_in, "sipas_session").ok_or("no session issued")?;
    assert_ne!(issued, planted);
    let planted_visit = SignedIn {
        cookie: planted.to_owned(),
        csrf: String::new(),
    };
    assert_eq!(get(&app, Some(&planted_visit), "/admin").await?.0, 303);

    // A CSRF token belongs to its session: another user's token does not work.
    let admin = login(&app, "admin@test.vn").await?;
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let invite = [("email", "borrowed@test.vn"), ("role", "reviewer")];
    assert_eq!(
        post(&app, &admin, "/admin/users", &invite, Some(&reviewer.csrf)).await?,
        403
    );
    // A signed-out session's token and cookie are dead.
    assert_eq!(post(&app, &admin, "/admin/logout", &[], None).await?, 303);
    assert_ne!(
        post(&app, &admin, "/admin/users", &invite, None).await?,
        200
    );
    assert_eq!(app.count("users WHERE email = 'borrowed@test.vn'")?, 0);
    Ok(())
}

#[tokio::test]
async fn hostile_comments_are_shown_as_text() -> TestResult {
    let app = with_users().await?;
    let hostile =
        "<script>alert('x')</script><img src=x onerror=alert(1)>'; DROP TABLE responses; --";
    let before = app.count("responses")?;
    let token = app.invite("DASH-XSS", false).await?;
    let mut answers = SHORT_FORM.to_vec();
    answers.push(("C1", hostile));
    assert_eq!(
        app.post_form(&format!("/s/{token}"), &answers)
            .await?
            .status()
            .as_u16(),
        303
    );
    let reviewer = login(&app, "reviewer@test.vn").await?;
    let (status, page) = get(&app, Some(&reviewer), "/admin/agencies/T-SO").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&page);
    // The comment is on the page as text, not as markup.
    assert!(text(&html).contains("<script>alert('x')</script>"));
    assert!(select(&html, "script").is_empty(), "no script element");
    assert!(select(&html, "img").is_empty(), "no injected element");
    assert!(page.contains("&lt;script&gt;"));
    assert_eq!(
        app.count("responses")?,
        before + 1,
        "the SQL in it was only text"
    );
    Ok(())
}

/// Opens `login_path`, then signs in with the form as served (its hidden fields, `next`
/// included), plus `next` when given; returns the form's `next` field and the response.
async fn sign_in_from(
    app: &TestApp,
    login_path: &str,
    email: &str,
    next: Option<&str>,
) -> Result<(Option<String>, reqwest::Response), Box<dyn std::error::Error>> {
    let page = app.client.get(app.url(login_path)).send().await?;
    assert_eq!(page.status().as_u16(), 200, "{login_path}");
    let csrf_cookie = cookie_value(&page, "sipas_login_csrf").ok_or("no login csrf cookie")?;
    let html = scraper::Html::parse_document(&page.text().await?);
    let field = |name: &str| {
        select(&html, &format!("form input[name={name}]"))
            .first()
            .and_then(|e| e.value().attr("value"))
            .map(str::to_owned)
    };
    let csrf = field("csrf").ok_or("no csrf")?;
    let served = field("next");
    let mut fields = vec![
        ("csrf", csrf),
        ("email", email.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    if let Some(n) = next.map(str::to_owned).or(served.clone()) {
        fields.push(("next", n));
    }
    let response = app
        .client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("sipas_login_csrf={csrf_cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&fields)?)
        .send()
        .await?;
    Ok((served, response))
}

fn location_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_and_nowhere_else() -> TestResult {
    let app = with_users().await?;
    // A digest's link, opened without a session: sign-in, then the same page and period.
    let asked = "/admin/agencies/T-XA?month=2026-10";
    let anonymous = app.client.get(app.url(asked)).send().await?;
    assert_eq!(anonymous.status().as_u16(), 303);
    let to_login = location_of(&anonymous).ok_or("no redirect")?;
    assert_eq!(
        to_login,
        "/admin/login?next=%2Fadmin%2Fagencies%2FT-XA%3Fmonth%3D2026-10"
    );
    let (served, signed) = sign_in_from(&app, &to_login, "head@test.vn", None).await?;
    assert_eq!(served.as_deref(), Some(asked), "carried through the form");
    assert_eq!(signed.status().as_u16(), 303);
    assert_eq!(location_of(&signed).as_deref(), Some(asked));
    // The office's link with its period.
    let office = "/admin?from=2026-11-16&to=2026-11-22";
    let redirected = app.client.get(app.url(office)).send().await?;
    let (_, signed) = sign_in_from(
        &app,
        &location_of(&redirected).ok_or("no redirect")?,
        "reviewer@test.vn",
        None,
    )
    .await?;
    assert_eq!(location_of(&signed).as_deref(), Some(office));
    // A form's target is not a page to return to: sign-in goes home.
    let posted = app
        .client
        .post(app.url("/admin/lang"))
        .form(&[("lang", "en")])
        .send()
        .await?;
    assert_eq!(location_of(&posted).as_deref(), Some("/admin/login"));
    // Open redirects: each hostile `next` is dropped from the form and ignored when posted.
    for hostile in [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "\\\\evil.example",
        "/admin/../../evil",
        "/admin/%2e%2e/%2e%2e//evil.example",
        "/admin/\r\nSet-Cookie: a=b",
        "/admin/\u{0}",
        "javascript:alert(1)",
        "/s/anything",
        "/admin/login",
    ] {
        let query = serde_urlencoded::to_string([("next", hostile)])?;
        let (status, page) = get(&app, None, &format!("/admin/login?{query}")).await?;
        let page = scraper::Html::parse_document(&page);
        assert_eq!(status, 200);
        assert!(
            select(&page, "input[name=next]").is_empty(),
            "{hostile:?} is not offered"
        );
        let (_, signed) =
            sign_in_from(&app, "/admin/login", "admin@test.vn", Some(hostile)).await?;
        assert_eq!(signed.status().as_u16(), 303, "{hostile:?}");
        // Forms drop invisible characters before anything reads them (`web::form`), so a
        // posted "/admin/\0" arrives as "/admin/": still this site's dashboard.
        let home = if hostile.contains('\u{0}') {
            "/admin/"
        } else {
            "/admin"
        };
        assert_eq!(
            location_of(&signed).as_deref(),
            Some(home),
            "{hostile:?} leads home"
        );
    }
    // A failed attempt keeps the target for the next try.
    let page = app
        .client
        .get(app.url("/admin/login?next=%2Fadmin%2Fcases%2F1"))
        .send()
        .await?;
    let csrf_cookie = cookie_value(&page, "sipas_login_csrf").ok_or("cookie")?;
    let html = scraper::Html::parse_document(&page.text().await?);
    let csrf = select(&html, "input[name=csrf]")
        .first()
        .and_then(|e| e.value().attr("value"))
        .ok_or("csrf")?
        .to_owned();
    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .header("Cookie", format!("sipas_login_csrf={csrf_cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("email", "admin@test.vn"),
            ("password", "wrong-password-here"),
            ("next", "/admin/cases/1"),
        ])?)
        .send()
        .await?;
    assert_eq!(wrong.status().as_u16(), 401);
    let html = scraper::Html::parse_document(&wrong.text().await?);
    assert_eq!(
        select(&html, "input[name=next]")
            .first()
            .and_then(|e| e.value().attr("value")),
        Some("/admin/cases/1")
    );
    Ok(())
}
