//! The questionnaire page and its submission: languages, late-only items, validation, double
//! submits, expired and unknown links, anonymity.

use diesel::prelude::*;
use sipas::db::schema::{invitations, responses};

use crate::helpers::{SHORT_FORM, TestResult, select, spawn_app, text};

fn radio_names(html: &scraper::Html) -> Vec<String> {
    let mut names: Vec<String> = select(html, "input[type=radio]")
        .iter()
        .filter_map(|e| e.value().attr("name").map(str::to_owned))
        .collect();
    names.dedup();
    names
}

#[tokio::test]
async fn the_form_follows_the_short_questionnaire_in_vietnamese() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-10", false).await?;
    let (status, html) = app.get_html(&format!("/s/{token}")).await?;
    assert_eq!(status, 200);
    assert_eq!(select(&html, "html")[0].value().attr("lang"), Some("vi"));
    let body = text(&html);
    assert!(body.contains(
        "Nhìn chung, Ông/Bà hài lòng thế nào với sự phục vụ của cơ quan khi giải quyết hồ sơ này?"
    ));
    assert!(body.contains("Sở Tư pháp") && body.contains("Cấp Phiếu lý lịch tư pháp"));
    assert_eq!(
        radio_names(&html),
        [
            "TC0", "TT0", "CC0", "KQ0", "PA0", "HL0", "E1", "E2", "E6", "E7"
        ]
    );
    // Every question is a fieldset with a legend; every radio sits inside a label.
    assert_eq!(select(&html, "fieldset").len(), 10);
    assert_eq!(select(&html, "fieldset > legend").len(), 10);
    assert_eq!(
        select(&html, "label.opt input[type=radio]").len(),
        select(&html, "input[type=radio]").len()
    );
    assert_eq!(select(&html, "textarea[name=C1]").len(), 1);
    assert_eq!(select(&html, "label[for=f-C1]").len(), 1);
    // PA0 offers "Không áp dụng"; HL0 does not.
    assert_eq!(select(&html, "input[name=PA0][value=na]").len(), 1);
    assert_eq!(select(&html, "input[name=HL0][value=na]").len(), 0);
    let form = select(&html, "form[method=post]");
    assert_eq!(form.len(), 1);
    let action = form[0].value().attr("action").ok_or("no action")?;
    assert!(action.starts_with(&format!("/s/{token}")));
    // No script, no external resources; the stylesheet is ours.
    assert!(select(&html, "script").is_empty());
    let css = select(&html, "link[rel=stylesheet]")[0]
        .value()
        .attr("href")
        .ok_or("no css")?
        .to_owned();
    let css_response = app.client.get(app.url(&css)).send().await?;
    assert_eq!(css_response.status().as_u16(), 200);
    assert!(
        css_response.headers()["cache-control"]
            .to_str()?
            .contains("immutable")
    );
    let page = app
        .client
        .get(app.url(&format!("/s/{token}")))
        .send()
        .await?
        .bytes()
        .await?;
    assert!(
        page.len() + css_response.bytes().await?.len() < 30 * 1024,
        "page and CSS under 30 KB"
    );
    Ok(())
}

#[tokio::test]
async fn vietnamese_unless_english_is_chosen_and_switching_keeps_answers() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-11", false).await?;
    let (_, by_query) = app.get_html(&format!("/s/{token}?lang=en")).await?;
    assert_eq!(
        select(&by_query, "html")[0].value().attr("lang"),
        Some("en")
    );
    assert!(text(&by_query).contains("Very satisfied"));
    let action = select(&by_query, "form")[0]
        .value()
        .attr("action")
        .unwrap_or("")
        .to_owned();
    assert!(
        action.contains("lang=en"),
        "the answer page stays in English: {action}"
    );
    // A phone set to English still gets Vietnamese: the agency and procedure names are.
    let response = app
        .client
        .get(app.url(&format!("/s/{token}")))
        .header("Accept-Language", "en-GB,en;q=0.9,vi;q=0.5")
        .send()
        .await?;
    let by_header = scraper::Html::parse_document(&response.text().await?);
    assert!(text(&by_header).contains("Gửi ý kiến"));
    assert!(
        text(&by_header).contains("Khảo sát chính thức của")
            && text(&by_header).contains("UBND tỉnh TT"),
        "who runs the survey is named"
    );
    // Switching language half-way keeps what was answered, and stores nothing.
    let mut half = SHORT_FORM[..4].to_vec();
    half.push(("switch_lang", "en"));
    let response = app.post_form(&format!("/s/{token}"), &half).await?;
    assert_eq!(response.status().as_u16(), 200);
    let page = scraper::Html::parse_document(&response.text().await?);
    assert_eq!(select(&page, "html")[0].value().attr("lang"), Some("en"));
    assert_eq!(
        select(&page, "input[name=TC0][checked]")[0]
            .value()
            .attr("value"),
        Some("5"),
        "the answer given is still selected"
    );
    assert!(
        select(&page, "#errors").is_empty(),
        "no error for unanswered questions yet"
    );
    assert_eq!(app.count("responses")?, 0);
    Ok(())
}

#[tokio::test]
async fn missing_answers_are_summarised_and_linked_and_money_asked_gets_the_complaint_route()
-> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-13", false).await?;
    let response = app
        .post_form(&format!("/s/{token}"), &[("form", "short"), ("TC0", "5")])
        .await?;
    assert_eq!(response.status().as_u16(), 422);
    let page = scraper::Html::parse_document(&response.text().await?);
    let title = select(&page, "title")[0].text().collect::<String>();
    assert!(title.starts_with("Lỗi: "), "{title}");
    let summary = select(&page, "#errors");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].value().attr("tabindex"), Some("-1"));
    assert!(
        summary[0].value().attr("autofocus").is_some(),
        "the summary takes the focus"
    );
    let links = select(&page, "#errors a");
    assert!(links.len() >= 3, "one link per question to look at");
    for link in &links {
        let target = link
            .value()
            .attr("href")
            .unwrap_or("")
            .trim_start_matches('#');
        assert_eq!(
            select(&page, &format!("[id='{target}']")).len(),
            1,
            "{target} exists"
        );
    }
    assert!(text(&page).contains(&format!("Còn {} câu cần xem lại", links.len())));
    assert!(
        select(&page, "form[novalidate]").len() == 1,
        "no browser bubbles"
    );

    // An answer that an official asked for money: the thank-you page says where to report it.
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .filter(|(k, _)| *k != "E7")
        .copied()
        .collect();
    answers.push(("E7", "3"));
    let response = app.post_form(&format!("/s/{token}"), &answers).await?;
    assert_eq!(response.status().as_u16(), 303);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (_, thanks) = app.get_html(&location).await?;
    assert!(text(&thanks).contains("Điều gì xảy ra tiếp theo?"));
    assert!(
        text(&thanks).contains("dichvucong.gov.vn"),
        "the complaint route"
    );
    let other = app.invite("HS-14", false).await?;
    let response = app.post_form(&format!("/s/{other}"), &SHORT_FORM).await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (_, thanks) = app.get_html(&location).await?;
    assert!(
        !text(&thanks).contains("dichvucong.gov.vn"),
        "only after money asked"
    );
    Ok(())
}

#[tokio::test]
async fn late_dossiers_get_the_apology_questions() -> TestResult {
    let app = spawn_app().await?;
    let late = app.invite("HS-12", true).await?;
    let (_, html) = app.get_html(&format!("/s/{late}")).await?;
    let names = radio_names(&html);
    assert!(names.contains(&"E4".to_string()) && names.contains(&"E5".to_string()));
    assert!(
        !names.contains(&"E3".to_string()),
        "system dates win over E3"
    );
    // Without E4/E5 the form comes back with the errors.
    let response = app.post_form(&format!("/s/{late}"), &SHORT_FORM).await?;
    assert_eq!(response.status().as_u16(), 422);
    let mut answers = SHORT_FORM.to_vec();
    answers.extend([("E4", "2"), ("E5", "1")]);
    let response = app.post_form(&format!("/s/{late}"), &answers).await?;
    assert_eq!(response.status().as_u16(), 303);
    let mut conn = app.conn()?;
    let row: (Option<bool>, Option<i32>, Option<i32>, Option<i32>) = responses::table
        .select((
            responses::late,
            responses::days_late,
            responses::e4,
            responses::e5,
        ))
        .first(&mut *conn)?;
    assert_eq!(row, (Some(true), Some(5), Some(2), Some(1)));
    Ok(())
}

#[tokio::test]
async fn a_valid_submission_is_stored_once() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-13", false).await?;
    let path = format!("/s/{token}");
    let mut answers = SHORT_FORM.to_vec();
    answers.push((
        "C1",
        "Cán bộ nhiệt tình <b>tốt</b>'; DROP TABLE responses; --",
    ));
    answers.push(("contact", "0912 345 678"));
    let response = app.post_form(&path, &answers).await?;
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str()?.to_owned();
    let (status, thanks) = app.get_html(&location).await?;
    assert_eq!(status, 200);
    assert!(text(&thanks).contains("Cảm ơn Ông/Bà"));

    // Double tap, back button, flaky network: the thank-you page again, nothing new stored.
    let again = app.post_form(&path, &answers).await?;
    assert_eq!(again.status().as_u16(), 200);
    assert!(again.text().await?.contains("Cảm ơn"));
    let (_, reopened) = app.get_html(&path).await?;
    assert!(text(&reopened).contains("Cảm ơn"));
    assert_eq!(app.count("responses")?, 1);
    assert_eq!(app.count("contact_requests")?, 1);

    let mut conn = app.conn()?;
    let row: (
        String,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<String>,
        String,
    ) = responses::table
        .select((
            responses::channel,
            responses::hl0,
            responses::pa0,
            responses::e1,
            responses::comment,
            responses::questionnaire_id,
        ))
        .first(&mut *conn)?;
    assert_eq!(row.0, "counter");
    assert_eq!((row.1, row.2, row.3), (Some(4), Some(0), Some(2)));
    assert_eq!(
        row.4.as_deref(),
        Some("Cán bộ nhiệt tình <b>tốt</b>'; DROP TABLE responses; --")
    );
    assert_eq!(row.5, "sipas-2640-post");
    let used: bool = invitations::table
        .select(invitations::used)
        .first(&mut *conn)?;
    assert!(used);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submits_of_one_token_store_one_response() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-14", false).await?;
    let body = serde_urlencoded::to_string(SHORT_FORM)?;
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .client
                .post(app.url(&format!("/s/{token}")))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.clone());
            tokio::spawn(request.send())
        })
        .collect();
    for handle in handles {
        let status = handle.await??.status().as_u16();
        assert!(status == 303 || status == 200, "status {status}");
    }
    assert_eq!(app.count("responses")?, 1);
    Ok(())
}

#[tokio::test]
async fn invalid_answers_come_back_with_errors_and_kept_values() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-15", false).await?;
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "HL0")
        .collect();
    answers.retain(|(k, _)| *k != "E1");
    answers.push(("E1", "7"));
    answers.push(("C1", "Ý kiến của tôi"));
    let long_comment = "x".repeat(1200);
    let response = app.post_form(&format!("/s/{token}"), &answers).await?;
    assert_eq!(response.status().as_u16(), 422);
    let html = scraper::Html::parse_document(&response.text().await?);
    let hl0_error = select(&html, "#q-HL0 .error");
    assert_eq!(hl0_error.len(), 1, "the error is next to its question");
    assert!(
        hl0_error[0]
            .text()
            .collect::<String>()
            .contains("Xin Ông/Bà chọn một câu trả lời")
    );
    assert_eq!(select(&html, "#q-E1 .error").len(), 1);
    assert_eq!(
        select(&html, "input[name=TC0][value='5'][checked]").len(),
        1,
        "answers are kept"
    );
    assert_eq!(select(&html, "input[name=PA0][value=na][checked]").len(), 1);
    assert!(text(&html).contains("Ý kiến của tôi"));
    assert_eq!(select(&html, "[role=alert]").len(), 1);

    let mut too_long = SHORT_FORM.to_vec();
    too_long.push(("C1", &long_comment));
    let response = app.post_form(&format!("/s/{token}"), &too_long).await?;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(app.count("responses")?, 0);

    let not_a_form = app
        .client
        .post(app.url(&format!("/s/{token}")))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(not_a_form.status().as_u16(), 400);
    let invalid_utf8 = app
        .client
        .post(app.url(&format!("/s/{token}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(b"HL0=%FF%FE&TC0=5".to_vec())
        .send()
        .await?;
    assert!(invalid_utf8.status().is_client_error());
    assert_eq!(app.count("responses")?, 0);
    Ok(())
}

#[tokio::test]
async fn unknown_and_expired_links_explain_what_to_do() -> TestResult {
    let app = spawn_app().await?;
    let (status, html) = app.get_html("/s/AAAAAAAAAAAAAAAAAAAAAA").await?;
    assert_eq!(status, 404);
    assert!(text(&html).contains("Không tìm thấy phiếu khảo sát"));
    let (status, _) = app.get_html("/s/..%2F..%2Fetc%2Fpasswd").await?;
    assert_eq!(status, 404);
    let posted = app
        .post_form("/s/AAAAAAAAAAAAAAAAAAAAAA", &SHORT_FORM)
        .await?;
    assert_eq!(posted.status().as_u16(), 404);

    let token = app.invite("HS-16", false).await?;
    {
        let mut conn = app.conn()?;
        let past = crate::helpers::now() - chrono::Duration::days(1);
        diesel::update(invitations::table)
            .set(invitations::expires_at.eq(past))
            .execute(&mut *conn)?;
    }
    let (status, html) = app.get_html(&format!("/s/{token}")).await?;
    assert_eq!(status, 410);
    assert!(text(&html).contains("hết hạn"));
    let walk_in = select(&html, "a[href^='/k/T-SO']");
    assert_eq!(walk_in.len(), 1, "points to the agency's general survey");
    let posted = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
    assert_eq!(posted.status().as_u16(), 410);
    assert_eq!(app.count("responses")?, 0);
    Ok(())
}

#[tokio::test]
async fn responses_hold_nothing_that_identifies_the_citizen() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-SECRET-17", false).await?;
    let mut answers = SHORT_FORM.to_vec();
    answers.push(("contact", "citizen@example.vn"));
    let response = app
        .client
        .post(app.url(&format!("/s/{token}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("User-Agent", "UA-FINGERPRINT-XYZ")
        .body(serde_urlencoded::to_string(&answers)?)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 303);

    // The response tables have no column for a token, dossier, address or agent...
    let columns = table_columns(&app, "responses")?;
    for forbidden in [
        "token",
        "dossier",
        "ip",
        "agent",
        "email",
        "contact",
        "invitation",
    ] {
        assert!(
            !columns.iter().any(|c| c.contains(forbidden)),
            "responses.{forbidden}: {columns:?}"
        );
    }
    assert!(
        !table_columns(&app, "contact_requests")?
            .iter()
            .any(|c| c.contains("response"))
    );
    // ...and no stored value carries them.
    let dump = dump_table(&app, "responses")? + &dump_table(&app, "response_answers")?;
    for secret in [
        token.as_str(),
        "HS-SECRET-17",
        "127.0.0.1",
        "UA-FINGERPRINT-XYZ",
        "citizen@example.vn",
    ] {
        assert!(!dump.contains(secret), "{secret} stored with the answers");
    }
    // Only the day is kept, not the time of submission.
    assert!(!columns.iter().any(|c| c.ends_with("_at")));
    Ok(())
}

fn table_columns(
    app: &crate::helpers::TestApp,
    table: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = if app.db.is_postgres() {
        format!(
            "SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = '{table}'"
        )
    } else {
        format!("SELECT name FROM pragma_table_info('{table}')")
    };
    let mut conn = app.conn()?;
    let rows: Vec<Column> = diesel::sql_query(sql).load(&mut *conn)?;
    Ok(rows.into_iter().map(|c| c.name).collect())
}

fn dump_table(
    app: &crate::helpers::TestApp,
    table: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let columns = table_columns(app, table)?;
    let concat = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let mut conn = app.conn()?;
    let rows: Vec<Row> =
        diesel::sql_query(format!("SELECT {concat} AS line FROM {table}")).load(&mut *conn)?;
    Ok(rows
        .into_iter()
        .map(|r| r.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

#[tokio::test]
async fn the_long_form_asks_and_stores_the_criteria_items() -> TestResult {
    let app = spawn_app().await?;
    let token = app.invite("HS-LONG", false).await?;
    let (_, short) = app.get_html(&format!("/s/{token}")).await?;
    let link = select(&short, "a[href*='form=long']");
    let href = link
        .first()
        .and_then(|a| a.value().attr("href"))
        .ok_or("no link to the long form")?
        .to_owned();
    let (status, long) = app.get_html(&href).await?;
    assert_eq!(status, 200);
    let names = radio_names(&long);
    for id in ["TC1", "TT5", "CC6", "KQ3", "PA4", "M1", "D5", "HL0"] {
        assert!(names.contains(&id.to_string()), "{id} on the long form");
    }
    assert_eq!(select(&long, "input[name=form][value=long]").len(), 1);
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .copied()
        .filter(|(k, _)| *k != "form")
        .collect();
    answers.extend([
        ("form", "long"),
        ("TC1", "na"),
        ("CC6", "2"),
        ("M1", "4"),
        ("D2", "3"),
    ]);
    let response = app.post_form(&format!("/s/{token}"), &answers).await?;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.count("response_answers")?, 4);
    assert_eq!(
        app.count("response_answers WHERE item = 'TC1' AND value = 0")?,
        1
    );
    assert_eq!(
        app.count("response_answers WHERE item = 'M1' AND value = 4")?,
        1
    );
    Ok(())
}
