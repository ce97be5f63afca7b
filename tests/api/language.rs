//! No English left on a Vietnamese page: every staff page, read as a reviewer, an admin and an
//! agency head whose accounts are in Vietnamese, holds none of the English UI words the
//! dashboard once showed (`opened`, `status`, `login`, `tinh`, `UTC`…), outside passages marked
//! `lang="en"` (the bilingual hints).

use std::net::Ipv4Addr;

use crate::helpers::{SHORT_FORM, TestResult, spawn_app_with};
use crate::signed::{get, session_of, sign_in};

const PASSWORD: &str = "a-long-test-password";

/// Words of the English UI (and raw codes) that must not reach a Vietnamese reader.
const ENGLISH: [&str; 30] = [
    "opened",
    "status",
    "assign",
    "assignee",
    "due",
    "note",
    "login",
    "logout",
    "sign",
    "password",
    "overview",
    "follow-up",
    "users",
    "catalog",
    "update",
    "submit",
    "alarm",
    "alert",
    "none",
    "tinh",
    "huyen",
    "xa",
    "utc",
    "reviewer",
    "admin",
    "agency_head",
    "responses",
    "harassment",
    "export",
    "report",
];

/// The visible text of a page outside `lang="en"` passages, lower-cased, as words.
fn vietnamese_words(html: &scraper::Html) -> Vec<String> {
    let mut words = Vec::new();
    let body = scraper::Selector::parse("body").ok();
    let Some(body) = body.and_then(|s| html.select(&s).next()) else {
        return words;
    };
    for node in body.descendants() {
        let Some(text) = node.value().as_text() else {
            continue;
        };
        let english = node.ancestors().any(|a| {
            a.value().as_element().is_some_and(|e| {
                e.attr("lang") == Some("en")
                    || matches!(e.name(), "code" | "script" | "style" | "option")
            })
        });
        if english {
            continue;
        }
        // Email addresses and paths are data, not UI words.
        for token in text.split_whitespace().filter(|t| !t.contains(['@', '/'])) {
            words.extend(
                token
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase),
            );
        }
    }
    words
}

#[tokio::test]
async fn vietnamese_pages_hold_no_english_ui_words() -> TestResult {
    let app =
        spawn_app_with(|s| s.security.trusted_proxies = vec![Ipv4Addr::LOCALHOST.into()]).await?;
    {
        let mut conn = app.conn()?;
        let now = crate::helpers::now();
        for (email, role, agency) in [
            ("admin@test.vn", "admin", None),
            ("reviewer@test.vn", "reviewer", None),
            ("head@test.vn", "agency_head", Some("T-SO")),
        ] {
            sipas::accounts::users::create(&mut conn, email, role, agency, PASSWORD, now)?;
        }
    }
    // A money-asked answer opens a case, so the case pages have content.
    let token = app.invite("LANG-1", false).await?;
    let mut answers: Vec<(&str, &str)> = SHORT_FORM
        .iter()
        .filter(|(k, _)| *k != "E7")
        .copied()
        .collect();
    answers.push(("E7", "3"));
    app.post_form(&format!("/s/{token}"), &answers).await?;
    app.sweep()?;
    let pages: [(&str, &[&str]); 3] = [
        (
            "admin@test.vn",
            &[
                "/admin",
                "/admin/users",
                "/admin/catalog",
                "/admin/cases",
                "/admin/cases/1",
                "/admin/agencies/T-SO",
                "/admin/password",
                "/admin/mail",
                "/admin/questionnaires",
            ],
        ),
        (
            "reviewer@test.vn",
            &[
                "/admin",
                "/admin/cases",
                "/admin/cases/1",
                "/admin/agencies/T-XA",
            ],
        ),
        (
            "head@test.vn",
            &["/admin/agencies/me", "/admin/cases", "/admin/cases/1"],
        ),
    ];
    for (n, (email, paths)) in pages.iter().enumerate() {
        let session = session_of(&sign_in(&app, email, PASSWORD, &format!("10.3.0.{n}")).await?)
            .ok_or("session")?;
        for path in *paths {
            let response = get(&app, path, &session).await?;
            assert_eq!(response.status(), 200, "{email} {path}");
            let html = scraper::Html::parse_document(&response.text().await?);
            let words = vietnamese_words(&html);
            let found: Vec<&str> = ENGLISH
                .iter()
                .copied()
                .filter(|w| words.iter().any(|x| x == w))
                .collect();
            assert!(found.is_empty(), "{email} {path}: English words {found:?}");
        }
    }
    Ok(())
}
