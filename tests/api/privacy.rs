//! Anonymity against an agency head who differences what they can see: free windows one day
//! apart, the month being filled, a breakdown whose small rows a subtraction would recover.

use std::net::Ipv4Addr;

use chrono::{Datelike, Duration, NaiveDate};
use sipas::web::staff::period::{last_released, month_end};

use crate::helpers::{TestApp, TestResult, select, spawn_app_with};
use crate::signed::{get, session_of, sign_in};

const PASSWORD: &str = "a-long-test-password";

/// The "Số phiếu" card of an agency page, if figures are shown.
fn responses_card(html: &scraper::Html) -> Option<u64> {
    select(html, "div.card")
        .into_iter()
        .find(|c| c.text().collect::<String>().contains("Số phiếu"))
        .and_then(|c| select_in(c, ".value"))
        .and_then(|v| v.trim().parse().ok())
}

fn select_in(element: scraper::ElementRef<'_>, css: &str) -> Option<String> {
    let selector = scraper::Selector::parse(css).ok()?;
    element.select(&selector).next().map(|e| e.text().collect())
}

/// Response counts in the page's tables (the "Phiếu" columns).
fn table_counts(html: &scraper::Html) -> Vec<u64> {
    select(html, "td.num")
        .iter()
        .filter_map(|td| td.text().collect::<String>().trim().parse().ok())
        .collect()
}

async fn head_page(
    app: &TestApp,
    session: &str,
    query: &str,
) -> Result<(u16, scraper::Html), Box<dyn std::error::Error>> {
    let response = get(app, &format!("/admin/agencies/me{query}"), session).await?;
    let status = response.status().as_u16();
    Ok((
        status,
        scraper::Html::parse_document(&response.text().await?),
    ))
}

#[tokio::test]
async fn an_agency_head_cannot_difference_windows_or_breakdowns() -> TestResult {
    let app =
        spawn_app_with(|s| s.security.trusted_proxies = vec![Ipv4Addr::LOCALHOST.into()]).await?;
    let today = sipas::clock::today();
    let released = last_released(today);
    let before = (released - Duration::days(1)).with_day(1).ok_or("month")?;
    // The released month: 8 answers for the procedure on days 1–8, 3 without one on days 10–12.
    // The month before: 4 answers (too few). This month so far: 2 answers (not released).
    let mut csv = String::from("agency_code,submitted_at,procedure_code,HL0,TC0,E6,E7\n");
    let mut add = |day: NaiveDate, procedure: &str, hl0: u8| {
        csv.push_str(&format!("T-SO,{day},{procedure},{hl0},4,1,1\n"));
    };
    for i in 0..8 {
        add(
            released + Duration::days(i),
            "P-LLTP",
            if i < 6 { 5 } else { 2 },
        );
    }
    for i in 9..12 {
        add(released + Duration::days(i), "", 1);
    }
    for i in 0..4 {
        add(before + Duration::days(i), "P-LLTP", 4);
    }
    for _ in 0..2 {
        add(today.with_day(1).ok_or("day")?, "P-LLTP", 1);
    }
    for i in 0..3 {
        csv.push_str(&format!("T-XA,{},,5,5,1,1\n", released + Duration::days(i)));
    }
    app.import_responses(&csv)?;
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "head@test.vn",
            "agency_head",
            Some("T-SO"),
            PASSWORD,
            crate::helpers::now(),
        )?;
    }
    let head =
        session_of(&sign_in(&app, "head@test.vn", PASSWORD, "10.9.0.1").await?).ok_or("head")?;

    // Free windows, many of them one day apart: every page shows the released month, whole.
    let start = before - Duration::days(3);
    let mut pairs = Vec::new();
    for a in (0..70).step_by(3) {
        for len in [0, 1, 2, 10, 11, 12, 30] {
            let from = start + Duration::days(a);
            pairs.push((from, from + Duration::days(len)));
            pairs.push((from + Duration::days(1), from + Duration::days(len)));
        }
    }
    for (from, to) in &pairs {
        let (status, html) = head_page(&app, &head, &format!("?from={from}&to={to}")).await?;
        assert_eq!(status, 200);
        assert_eq!(responses_card(&html), Some(11), "window {from} – {to}");
    }
    // Released months one by one: the month before has too few answers to show anything; the
    // month being filled is not released.
    let month = |m: NaiveDate| format!("?month={}", m.format("%Y-%m"));
    let (_, html) = head_page(&app, &head, &month(released)).await?;
    assert_eq!(responses_card(&html), Some(11));
    let (_, html) = head_page(&app, &head, &month(before)).await?;
    assert_eq!(responses_card(&html), None, "4 answers are never shown");
    let (status, _) = head_page(&app, &head, &month(today.with_day(1).ok_or("day")?)).await?;
    assert_eq!(status, 404, "the month being filled is not released");
    assert!(month_end(released) < today);

    // The breakdown: 3 answers without a procedure are hidden, and so is the procedure's 8,
    // which the month's 11 minus it would give away.
    let (_, html) = head_page(&app, &head, &month(released)).await?;
    let counts = table_counts(&html);
    assert!(
        counts.iter().all(|n| *n == 0 || *n >= 5),
        "no small group in any table: {counts:?}"
    );
    assert!(!counts.contains(&8) && !counts.contains(&3), "{counts:?}");
    let page_text = html.root_element().text().collect::<String>();
    assert!(
        page_text.contains("thủ tục có ít phiếu được ẩn"),
        "the head is told why"
    );

    // The head's own export: their agency, the released month, whatever window is asked for.
    let export = get(
        &app,
        &format!(
            "/admin/export/report.csv?from={released}&to={}",
            released + Duration::days(3)
        ),
        &head,
    )
    .await?;
    assert_eq!(export.status(), 200);
    let text = export.text().await?;
    assert!(text.contains("T-SO;") && !text.contains("T-XA"), "{text}");
    assert!(
        text.contains(&format!("Kỳ: {}", sipas::clock::day_text(released))),
        "the whole month: {text}"
    );
    assert!(text.contains(";11;"), "its 11 answers: {text}");

    // The reform office still reads any window it likes.
    {
        let mut conn = app.conn()?;
        sipas::accounts::users::create(
            &mut conn,
            "reviewer@test.vn",
            "reviewer",
            None,
            PASSWORD,
            crate::helpers::now(),
        )?;
    }
    let reviewer = session_of(&sign_in(&app, "reviewer@test.vn", PASSWORD, "10.9.0.2").await?)
        .ok_or("reviewer")?;
    let page = get(
        &app,
        &format!(
            "/admin/agencies/T-SO?from={released}&to={}",
            released + Duration::days(8)
        ),
        &reviewer,
    )
    .await?;
    let html = scraper::Html::parse_document(&page.text().await?);
    assert_eq!(responses_card(&html), Some(8));

    // What the reform office publishes follows the head's rule: one released month, no small
    // agency, and no agency a subtraction from the province total would give away.
    let published = get(
        &app,
        &format!(
            "/admin/export/report.csv?publish=1&month={}",
            released.format("%Y-%m")
        ),
        &reviewer,
    )
    .await?;
    assert_eq!(published.status(), 200);
    let text = published.text().await?;
    assert!(!text.contains("T-XA"), "3 answers are hidden: {text}");
    assert!(
        !text.contains("T-SO"),
        "and T-SO with them, or 14 − 11 would give them away: {text}"
    );
    let internal = get(
        &app,
        &format!(
            "/admin/export/report.csv?from={released}&to={}",
            month_end(released)
        ),
        &reviewer,
    )
    .await?;
    assert!(
        internal.text().await?.contains("T-XA"),
        "the office's own export is whole"
    );
    let unreleased = get(
        &app,
        &format!(
            "/admin/export/report.csv?publish=1&month={}",
            today.format("%Y-%m")
        ),
        &reviewer,
    )
    .await?;
    assert_eq!(unreleased.status(), 400);
    Ok(())
}
