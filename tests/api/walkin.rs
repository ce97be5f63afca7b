//! The walk-in channel: a poster QR per agency, procedure picked by the citizen, rate-limited.

use diesel::prelude::*;
use sipas::db::schema::responses;

use crate::helpers::{SHORT_FORM, TestResult, select, spawn_app_with, text};

#[tokio::test]
async fn walk_in_responses_are_stored_unverified_and_rate_limited() -> TestResult {
    let app = spawn_app_with(|s| {
        s.walkin.max_per_window = 2;
    })
    .await?;
    let (status, html) = app.get_html("/k/T-XA").await?;
    assert_eq!(status, 200);
    assert!(text(&html).contains("UBND xã Hùng Sơn"));
    // The procedures of the commune's level are offered; without dates, E3 is asked.
    let options: Vec<&str> = select(&html, "select[name=procedure] option")
        .iter()
        .filter_map(|o| o.value().attr("value"))
        .filter(|v| !v.is_empty())
        .collect();
    assert_eq!(options, ["P-KS"]);
    assert_eq!(select(&html, "input[name=E3]").len(), 3);

    // Without a procedure: the form again, with the error and the answers kept.
    let response = app.post_form("/k/T-XA", &SHORT_FORM).await?;
    assert_eq!(response.status().as_u16(), 422);
    let page = scraper::Html::parse_document(&response.text().await?);
    assert!(text(&page).contains("Xin chọn thủ tục"));
    assert_eq!(app.count("responses")?, 0);

    let mut answers = SHORT_FORM.to_vec();
    answers.extend([("procedure", "P-KS"), ("E3", "3"), ("E4", "2"), ("E5", "2")]);
    for _ in 0..2 {
        let response = app.post_form("/k/T-XA", &answers).await?;
        assert_eq!(response.status().as_u16(), 303);
    }
    let limited = app.post_form("/k/T-XA", &answers).await?;
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.text().await?.contains("quá nhiều"));
    assert_eq!(app.count("responses")?, 2);
    // Another agency's poster has its own count.
    let elsewhere = app
        .post_form(
            "/k/T-HUYEN",
            &[&answers[..], &[("procedure", "P-DD")]].concat(),
        )
        .await?;
    assert_eq!(elsewhere.status().as_u16(), 303);

    let mut conn = app.conn()?;
    let rows: Vec<(String, Option<bool>, Option<i32>)> = responses::table
        .select((responses::channel, responses::late, responses::e3))
        .load(&mut *conn)?;
    assert!(
        rows.iter()
            .all(|r| r.0 == "walk_in" && r.1 == Some(true) && r.2 == Some(3))
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_poster_is_not_found() -> TestResult {
    let app = spawn_app_with(|_| {}).await?;
    let (status, html) = app.get_html("/k/NOPE").await?;
    assert_eq!(status, 404);
    assert!(text(&html).contains("Không tìm thấy"));
    let (status, _) = app.get_html("/k/%3Cscript%3E").await?;
    assert_eq!(status, 404);
    Ok(())
}
