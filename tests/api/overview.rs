//! The overview puts the agencies that need attention first, stays small and keyboard-friendly at
//! national size, and hands the full table to the agency list (`/admin/agencies`).

use std::collections::HashSet;
use std::fmt::Write;

use chrono::Duration;

use crate::helpers::{TestApp, TestResult, select, spawn_app};
use crate::signed::{get, session_of, sign_in};

const PASSWORD: &str = "a-long-overview-password";

/// Days back from today of response `j` of agency `i` (within the default last-365-days view).
fn day(i: usize, j: usize) -> chrono::NaiveDate {
    sipas::clock::today() - Duration::days(((j * 37 + i * 11) % 300) as i64)
}

/// Adds `communes` generated communes of TT (under T-HUYEN) with `per / 2` to `3 per / 2`
/// responses each, about 4% of them reporting harassment and, in every `money_every`-th commune
/// (0: none), one citizen saying an official asked for money; and three planted agencies: P-BAD
/// (40% harassment), P-MONEY (asked for money) and P-WORDS (comments with harassment words).
fn province(app: &TestApp, communes: usize, per: usize, money_every: usize) -> TestResult {
    let mut agencies = String::from("code,name,level,province_code,parent_code\n");
    let mut codes: Vec<String> = (0..communes).map(|i| format!("P-X{i:04}")).collect();
    for (i, code) in codes.iter().enumerate() {
        writeln!(agencies, "{code},UBND xã số {i},xa,TT,T-HUYEN")?;
    }
    for (code, name) in [
        ("P-BAD", "UBND xã Có Vấn Đề"),
        ("P-MONEY", "UBND xã Đòi Tiền"),
        ("P-WORDS", "UBND xã Lời Phàn Nàn"),
    ] {
        writeln!(agencies, "{code},{name},xa,TT,T-HUYEN")?;
        codes.push(code.to_owned());
    }
    {
        let mut conn = app.conn()?;
        sipas::catalog::import::import_agencies(&mut conn, agencies.as_bytes())?;
        let now = crate::helpers::now();
        for (email, role, agency) in [
            ("admin@overview.vn", "admin", None),
            ("head@overview.vn", "agency_head", Some("T-HUYEN")),
        ] {
            sipas::accounts::users::create(&mut conn, email, role, agency, PASSWORD, now)?;
        }
    }
    let mut responses =
        String::from("agency_code,submitted_at,TC0,TT0,CC0,KQ0,PA0,HL0,E1,E2,E6,E7,C1\n");
    for (i, code) in codes.iter().enumerate() {
        let generated = code.starts_with("P-X");
        let n = if generated {
            per / 2 + (i * 37) % per
        } else {
            60
        };
        let money = code == "P-MONEY" || (generated && money_every > 0 && i % money_every == 1);
        for j in 0..n {
            let harassed = match code.as_str() {
                "P-BAD" => j % 5 < 2,
                _ => (i * 7 + j * 13) % 25 == 0,
            };
            let e7 = if money && j == 0 { 3 } else { 1 };
            let comment = if code == "P-WORDS" && j < 2 {
                "Cán bộ đòi bồi dưỡng mới làm"
            } else {
                ""
            };
            let score = 4 + (i + j) % 2;
            writeln!(
                responses,
                "{code},{},{score},{score},{score},{score},{score},{score},1,1,{},{e7},{comment}",
                day(i, j),
                if harassed { 2 } else { 1 },
            )?;
        }
    }
    app.import_responses(&responses)?;
    Ok(())
}

async fn session(app: &TestApp, email: &str) -> Result<String, Box<dyn std::error::Error>> {
    let response = sign_in(app, email, PASSWORD, "127.0.0.1").await?;
    Ok(session_of(&response).ok_or("no session")?)
}

async fn page(
    app: &TestApp,
    session: &str,
    path: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let response = get(app, path, session).await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// Every sideways-scrolling table is a named region in the tab order, each name once.
fn scroll_regions_are_reachable(html: &scraper::Html, path: &str) {
    let mut names = HashSet::new();
    for region in select(html, "div.scroll") {
        let v = region.value();
        assert_eq!(v.attr("tabindex"), Some("0"), "{path}");
        assert_eq!(v.attr("role"), Some("region"), "{path}");
        let name = v.attr("aria-label").unwrap_or_default();
        assert!(!name.is_empty(), "{path}: a region without a name");
        assert!(
            names.insert(name.to_owned()),
            "{path}: two regions named {name}"
        );
    }
}

/// The first thing in the body is the skip link to `main#main`.
fn skip_link_first(html: &scraper::Html, path: &str) {
    let first = select(html, "body > *")
        .into_iter()
        .next()
        .map(|e| e.value().clone());
    assert!(
        first
            .as_ref()
            .is_some_and(|e| e.name() == "a" && e.attr("href") == Some("#main")),
        "{path}: {first:?}"
    );
    assert_eq!(select(html, "main#main").len(), 1, "{path}");
}

#[tokio::test]
async fn attention_comes_first_most_severe_first_with_a_reason() -> TestResult {
    let app = spawn_app().await?;
    province(&app, 60, 40, 0)?;
    let admin = session(&app, "admin@overview.vn").await?;
    let (status, body) = page(&app, &admin, "/admin").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&body);
    let items = select(&html, "ol.watch > li");
    let entry = |li: &scraper::ElementRef<'_>| {
        let tier = li
            .select(&scraper::Selector::parse(".tier").map_err(|e| e.to_string())?)
            .next()
            .and_then(|t| t.value().attr("class"))
            .unwrap_or_default()
            .to_owned();
        let links: Vec<String> = li
            .select(&scraper::Selector::parse("a").map_err(|e| e.to_string())?)
            .filter_map(|a| a.value().attr("href").map(str::to_owned))
            .collect();
        let text: String = li.text().collect();
        Ok::<_, String>((tier, links, text))
    };
    let entries: Vec<(String, Vec<String>, String)> =
        items.iter().map(entry).collect::<Result<_, _>>()?;
    assert!(entries.len() >= 3, "{entries:?}");
    let rank = |tier: &str| {
        ["flag-alarm", "flag-money", "flag-alert", "flag-review"]
            .iter()
            .position(|t| tier.contains(t))
            .unwrap_or(9)
    };
    assert!(
        entries.windows(2).all(|w| rank(&w[0].0) <= rank(&w[1].0)),
        "alarm, then money asked, then alert, then review: {entries:?}"
    );
    let find = |code: &str| {
        entries
            .iter()
            .find(|e| {
                e.1.iter()
                    .any(|l| l.starts_with(&format!("/admin/agencies/{code}?")))
            })
            .cloned()
            .ok_or_else(|| format!("{code} is on the watch list: {entries:?}"))
    };
    let (tier, links, reason) = find("P-BAD")?;
    assert!(tier.contains("flag-alarm"), "{tier}");
    assert_eq!(links.len(), 1, "one link per line");
    assert!(
        reason.contains("Phiền hà, sách nhiễu: 40% người trả lời phản ánh (24/60)"),
        "{reason}"
    );
    assert!(
        entries[0].0.contains("flag-alarm"),
        "an alarm heads the list"
    );
    let (tier, _, reason) = find("P-MONEY")?;
    assert!(tier.contains("flag-money"), "{tier}");
    assert!(reason.contains("yêu cầu chi thêm tiền"), "{reason}");
    let (tier, _, reason) = find("P-WORDS")?;
    assert!(tier.contains("flag-review"), "{tier}");
    assert!(reason.contains("2 ý kiến"), "{reason}");
    // Above the indices and charts.
    let watch = body.find("class=\"watch\"").ok_or("watch list")?;
    for later in ["class=\"cards\"", "<svg"] {
        assert!(
            watch < body.find(later).ok_or(later)?,
            "{later} after the watch list"
        );
    }
    skip_link_first(&html, "/admin");
    scroll_regions_are_reachable(&html, "/admin");
    // The plots hold no control; each has one disclosure with the agencies that stand out.
    assert!(select(&html, "svg a, svg [tabindex]").is_empty());
    assert_eq!(select(&html, "figure.chart details > summary").len(), 2);
    let table_links: Vec<&str> = select(&html, "figure.chart details table a")
        .iter()
        .filter_map(|a| a.value().attr("href"))
        .collect();
    assert!(
        table_links
            .iter()
            .any(|l| l.starts_with("/admin/agencies/P-BAD")),
        "{table_links:?}"
    );
    assert!(
        table_links.len() < 10,
        "only the agencies that stand out: {table_links:?}"
    );
    assert!(select(&html, "figure.chart details a").iter().any(|a| {
        a.value()
            .attr("href")
            .is_some_and(|h| h.starts_with("/admin/agencies?sort=harassment&"))
    }));
    for path in [
        "/admin/cases",
        "/admin/users",
        "/admin/agencies/P-BAD",
        "/admin/agencies",
    ] {
        let (status, body) = page(&app, &admin, path).await?;
        assert_eq!(status, 200, "{path}");
        let html = scraper::Html::parse_document(&body);
        skip_link_first(&html, path);
        scroll_regions_are_reachable(&html, path);
    }
    Ok(())
}

#[tokio::test]
async fn the_province_is_chosen_from_a_list() -> TestResult {
    let app = spawn_app().await?;
    province(&app, 5, 5, 0)?;
    let admin = session(&app, "admin@overview.vn").await?;
    let (status, body) = page(&app, &admin, "/admin").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&body);
    let options: Vec<(String, bool)> = select(&html, "select#province option")
        .iter()
        .map(|o| {
            (
                o.value().attr("value").unwrap_or("?").to_owned(),
                o.value().attr("selected").is_some(),
            )
        })
        .collect();
    assert_eq!(
        options,
        [
            ("".into(), true),
            ("OT".into(), false),
            ("TT".into(), false)
        ]
    );
    assert!(
        select(&html, "input[name=province]").is_empty(),
        "no free text"
    );
    assert_eq!(select(&html, "label[for=province]").len(), 1);
    // Letter case does not matter; the choice is kept.
    let (status, body) = page(&app, &admin, "/admin?province=tt").await?;
    assert_eq!(status, 200);
    let html = scraper::Html::parse_document(&body);
    let selected: Vec<&str> = select(&html, "select#province option[selected]")
        .iter()
        .filter_map(|o| o.value().attr("value"))
        .collect();
    assert_eq!(selected, ["TT"]);
    assert!(body.contains("province=TT"), "links keep the province");
    // An unknown code: a 404 that offers the list.
    let (status, body) = page(&app, &admin, "/admin?province=XX%26Y").await?;
    assert_eq!(status, 404);
    assert!(
        body.contains("Không có tỉnh mã \u{201c}XX&amp;Y\u{201d}"),
        "{body}"
    );
    assert_eq!(
        select(
            &scraper::Html::parse_document(&body),
            "select#province option"
        )
        .len(),
        3
    );
    Ok(())
}

#[tokio::test]
async fn the_agency_list_sorts_pages_and_filters() -> TestResult {
    let app = spawn_app().await?;
    province(&app, 70, 20, 0)?;
    let admin = session(&app, "admin@overview.vn").await?;
    let codes = |body: &str| -> Vec<String> {
        let html = scraper::Html::parse_document(body);
        select(&html, "table tbody tr td:first-child span.muted")
            .iter()
            .map(|s| s.text().collect())
            .collect()
    };
    let (status, first) = page(&app, &admin, "/admin/agencies").await?;
    assert_eq!(status, 200);
    // 70 communes, 3 planted, the catalog's 4: 77 agencies, 50 on the first page.
    assert_eq!(codes(&first).len(), 50);
    assert!(first.contains("Trang 1 / 2"), "pages");
    assert_eq!(codes(&first)[0], "P-BAD", "most urgent first");
    let (_, second) = page(&app, &admin, "/admin/agencies?page=2").await?;
    assert_eq!(codes(&second).len(), 27);
    let (_, beyond) = page(&app, &admin, "/admin/agencies?page=99").await?;
    assert_eq!(codes(&beyond), codes(&second), "the last page");

    let (_, by_rate) = page(&app, &admin, "/admin/agencies?sort=harassment").await?;
    assert_eq!(codes(&by_rate)[0], "P-BAD");
    let html = scraper::Html::parse_document(&by_rate);
    let sorted: Vec<String> = select(&html, "th[aria-sort]")
        .iter()
        .map(|th| {
            format!(
                "{} {}",
                th.text().collect::<String>().trim(),
                th.value().attr("aria-sort").unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(sorted, ["Phiền hà ▼ descending"]);
    let (_, ascending) = page(&app, &admin, "/admin/agencies?sort=harassment&order=asc").await?;
    assert_ne!(codes(&ascending)[0], "P-BAD");
    let (_, by_name) = page(&app, &admin, "/admin/agencies?sort=name&page=2").await?;
    assert_eq!(codes(&by_name).len(), 27);

    let (_, attention) = page(&app, &admin, "/admin/agencies?only=attention").await?;
    let listed = codes(&attention);
    for code in ["P-BAD", "P-MONEY", "P-WORDS"] {
        assert!(listed.iter().any(|c| c == code), "{code}: {listed:?}");
    }
    assert!(listed.len() < 10, "{listed:?}");

    assert_eq!(
        page(&app, &admin, "/admin/agencies?sort=nonsense").await?.0,
        400
    );
    assert_eq!(
        page(&app, &admin, "/admin/agencies?province=XX").await?.0,
        404
    );
    let head = session(&app, "head@overview.vn").await?;
    assert_eq!(page(&app, &head, "/admin/agencies").await?.0, 403);
    Ok(())
}

#[tokio::test]
async fn three_thousand_agencies_stay_under_300_kb() -> TestResult {
    let app = spawn_app().await?;
    province(&app, 3000, 30, 10)?;
    let admin = session(&app, "admin@overview.vn").await?;
    for path in [
        "/admin",
        "/admin/agencies",
        "/admin/agencies?only=attention",
    ] {
        let (status, body) = page(&app, &admin, path).await?;
        assert_eq!(status, 200, "{path}");
        assert!(body.len() < 300_000, "{path}: {} bytes", body.len());
        let html = scraper::Html::parse_document(&body);
        let stops = select(
            &html,
            "a[href], button, input:not([type=hidden]), select, summary, [tabindex='0']",
        )
        .len();
        assert!(stops < 150, "{path}: {stops} tab stops");
    }
    Ok(())
}

#[tokio::test]
async fn the_scheduler_computes_the_default_overview_ahead() -> TestResult {
    // Reports reused for 2 s: the scheduler computes the default overview again every second
    // (at its 5-second rounds).
    let app = crate::helpers::spawn_app_with(|s| s.dashboard.report_fresh_seconds = 2).await?;
    province(&app, 30, 20, 0)?;
    let state = app.state().ok_or("the server is not running")?;
    let defaults = sipas::web::staff::overview::default_reports();
    assert_eq!(defaults.len(), 5);
    // Before anyone opens a page, the scheduler has computed every report the overview reads,
    // from the data as it is now (the province was loaded after the server started).
    let version = {
        let mut conn = app.conn()?;
        sipas::report::cache::Version::read(&mut conn)?
    };
    let mut current = false;
    for _ in 0..150 {
        current = defaults
            .iter()
            .all(|q| state.reports.built_from(q).as_ref() == Some(&version));
        if current {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        current,
        "the default overview's reports are computed ahead, on today's data"
    );
    Ok(())
}
