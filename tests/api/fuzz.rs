//! Fuzzing over HTTP and the importers: generated inputs (proptest strategies, a fixed seed so a
//! failure is reproducible; `FUZZ_CASES` and `FUZZ_SEED` for longer campaigns, see
//! docs/reliability.md) sent to the running server. Whatever comes in, the answer is a 2xx/3xx or
//! a clear 4xx, never a 5xx or a dropped connection; importers reject bad files whole.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::helpers::{SHORT_FORM, TestApp, TestResult, dossier, spawn_app};

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

fn runner() -> TestRunner {
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5195_2026);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Draws one value of `strategy`.
fn draw<S: Strategy>(runner: &mut TestRunner, strategy: &S) -> Result<S::Value, String> {
    Ok(strategy
        .new_tree(runner)
        .map_err(|r| r.to_string())?
        .current())
}

/// Strings that have broken parsers elsewhere: empty, huge, control characters, markup, SQL,
/// other scripts, lone surrogates written as escapes, numbers at the edges.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[0-9:+TZ .-]{0,30}",
        Just(String::new()),
        Just("x".repeat(100_000)),
        Just("'; DROP TABLE responses; --".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("\u{0}\u{1b}[31m\r\n".to_owned()),
        Just("9999-99-99T99:99:99+99:99".to_owned()),
        Just("-170141183460469231731687303715884105728".to_owned()),
        Just("NaN".to_owned()),
        Just("Đăng ký khai sinh 👶🏽".to_owned()),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        nasty_string().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                "\\PC{0,12}|dossier_code|agency_code|channel|due_at",
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid dossier report with some fields replaced or removed.
fn mutated_dossier() -> impl Strategy<Value = serde_json::Value> {
    let fields = [
        "dossier_code",
        "agency_code",
        "procedure_code",
        "channel",
        "received_at",
        "due_at",
        "returned_at",
        "citizen_email",
    ];
    (
        "[A-Z0-9-]{1,12}",
        proptest::collection::vec((0..fields.len(), proptest::option::of(any_json())), 0..4),
    )
        .prop_map(move |(code, changes)| {
            let mut d = dossier(&format!("FZ-{code}"), "T-SO", false);
            for (i, value) in changes {
                match (d.as_object_mut(), value) {
                    (Some(o), Some(v)) => {
                        o.insert(fields[i].to_owned(), v);
                    }
                    (Some(o), None) => {
                        o.remove(fields[i]);
                    }
                    _ => {}
                }
            }
            d
        })
}

/// Posts `body` as `content_type` to `path` (with the API key when `api` is set).
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
    api: bool,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = app.client.post(app.url(path));
    if api {
        request = request.bearer_auth(&app.api_key);
    }
    request
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
}

async fn must_not_fail(what: &str, response: reqwest::Response) -> TestResult {
    let status = response.status();
    let body = response.bytes().await?;
    assert!(
        status.is_success() || status.is_redirection() || status.is_client_error(),
        "{what}: {status} {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    if status.is_client_error() {
        assert!(!body.is_empty(), "{what}: a {status} explains itself");
    }
    Ok(())
}

#[tokio::test]
async fn generated_dossier_reports_get_clear_answers() -> TestResult {
    let app = spawn_app().await?;
    let mut runner = runner();
    let single = prop_oneof![mutated_dossier(), any_json()];
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for case in 0..cases(150) {
        let body = if case % 5 == 4 {
            serde_json::Value::from(draw(
                &mut runner,
                &proptest::collection::vec(single.clone(), 0..5),
            )?)
        } else {
            draw(&mut runner, &single)?
        };
        let response = app.post_dossiers(&body).await?;
        let status = response.status().as_u16();
        *seen.entry(status).or_default() += 1;
        let what = format!("case {case}: {body:.300}");
        if status == 400 || status == 422 {
            let json: serde_json::Value = response.json().await?;
            assert!(
                json.get("error").is_some() || json.get("errors").is_some(),
                "{what}: {json}"
            );
        } else {
            must_not_fail(&what, response).await?;
        }
    }
    // The generator reaches both acceptance and rejection.
    assert!(
        seen.keys().any(|s| *s < 300) && seen.keys().any(|s| *s >= 400),
        "{seen:?}"
    );
    // Raw bytes with assorted content types.
    let bytes = proptest::collection::vec(any::<u8>(), 0..300);
    let types = prop_oneof![
        Just("application/json"),
        Just("text/plain"),
        Just("application/x-www-form-urlencoded"),
        Just("multipart/form-data; boundary=x"),
        Just(""),
    ];
    for case in 0..cases(60) {
        let (body, ty) = (draw(&mut runner, &bytes)?, draw(&mut runner, &types)?);
        let response = post_raw(&app, "/api/v1/dossiers", ty, body, true).await?;
        must_not_fail(&format!("raw case {case} ({ty})"), response).await?;
    }
    Ok(())
}

#[tokio::test]
async fn generated_survey_forms_get_clear_answers() -> TestResult {
    let app = spawn_app().await?;
    let mut runner = runner();
    let names = prop_oneof![
        Just("form".to_owned()),
        "TC[0-9]|TT[0-9]|CC[0-9]|KQ[0-9]|PA[0-9]|HL0|E[0-9]|C[0-9]",
        Just("contact".to_owned()),
        Just("comment".to_owned()),
        "\\PC{0,8}",
    ];
    let values = prop_oneof![
        "[0-9]{1,2}",
        Just("na".to_owned()),
        Just("long".to_owned()),
        nasty_string(),
    ];
    let fields = proptest::collection::vec((names, values), 0..25);
    let mut token = app.invite("FORM-0", false).await?;
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for case in 0..cases(150) {
        let mut form: Vec<(String, String)> = Vec::new();
        if case % 3 == 0 {
            // Start from a valid form so some cases go deep into validation and storage.
            form.extend(
                SHORT_FORM
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
        }
        form.extend(draw(&mut runner, &fields)?);
        let body = serde_urlencoded::to_string(&form)?;
        let response = post_raw(
            &app,
            &format!("/s/{token}"),
            "application/x-www-form-urlencoded",
            body,
            false,
        )
        .await?;
        let status = response.status().as_u16();
        *seen.entry(status).or_default() += 1;
        must_not_fail(&format!("form case {case}: {form:?}"), response).await?;
        if status == 303 {
            token = app
                .invite(&format!("FORM-AFTER-{case}"), case % 2 == 0)
                .await?;
        }
    }
    assert!(
        seen.contains_key(&303) && seen.contains_key(&422),
        "{seen:?}"
    );
    // Percent-encoded bytes that are not UTF-8, and bodies that are not forms at all.
    let raw = proptest::collection::vec(any::<u8>(), 0..200).prop_map(|b| {
        b.iter()
            .map(|x| {
                if x % 7 == 0 {
                    format!("%{x:02X}")
                } else {
                    char::from(x % 94 + 33).to_string()
                }
            })
            .collect::<String>()
    });
    for case in 0..cases(60) {
        let body = draw(&mut runner, &raw)?;
        let response = post_raw(
            &app,
            &format!("/s/{token}"),
            "application/x-www-form-urlencoded",
            body,
            false,
        )
        .await?;
        must_not_fail(&format!("raw form case {case}"), response).await?;
    }
    // Everything stored went through validation: each response is one used invitation.
    assert_eq!(
        app.count("responses")?,
        app.count("invitations WHERE used")?
    );
    Ok(())
}

#[tokio::test]
async fn generated_csv_files_import_whole_or_not_at_all() -> TestResult {
    let app = spawn_app().await?;
    let mut runner = runner();
    let cell = prop_oneof![
        "[A-Z0-9-]{0,8}",
        Just("tinh".to_owned()),
        Just("xa".to_owned()),
        Just("TT".to_owned()),
        Just("T-SO".to_owned()),
        Just("P-KS".to_owned()),
        Just("2026-01-05".to_owned()),
        Just("\"quoted, \"\"cell\"\"\"".to_owned()),
        "\\PC{0,10}",
    ];
    let line = proptest::collection::vec(cell, 0..8).prop_map(|cells| cells.join(","));
    let headers = [
        "code,name,level,province_code,parent_code",
        "code,name,field,level",
        "agency_code,procedure_code",
        "dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at",
        "agency_code,submitted_at,procedure_code,channel,TC0,TT0,CC0,KQ0,HL0,E1,E2,E6,E7",
    ];
    let file = (0..headers.len(), proptest::collection::vec(line, 0..6));
    let questionnaire = sipas::questionnaire::Questionnaire::built_in()?;
    let secret = sipas::domain::TokenSecret::new(b"fuzz-secret-fuzz-secret-fuzz-secret!");
    let tables = [
        "agencies",
        "procedures",
        "agency_procedures",
        "invitations",
        "responses",
        "response_answers",
        "imports",
    ];
    let (mut accepted, mut rejected) = (0, 0);
    for case in 0..cases(200) {
        let (kind, lines) = draw(&mut runner, &file)?;
        let mut text = format!("{}\n", headers[kind]);
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        let before: Vec<i64> = tables
            .iter()
            .map(|t| app.count(t))
            .collect::<Result<_, _>>()?;
        let mut conn = app.conn()?;
        let imported = match kind {
            0 => sipas::catalog::import::import_agencies(&mut conn, text.as_bytes())
                .map(|n| n as u64),
            1 => sipas::catalog::import::import_procedures(&mut conn, text.as_bytes())
                .map(|n| n as u64),
            2 => sipas::catalog::import::import_links(&mut conn, text.as_bytes()).map(|n| n as u64),
            3 => {
                let issuer = sipas::invitations::issue::Issuer {
                    secret: &secret,
                    ttl_days: 30,
                    now: crate::helpers::now(),
                    reach: None,
                };
                sipas::invitations::import::import_dossiers(
                    &mut conn,
                    &issuer,
                    text.as_bytes(),
                    |_| Ok(()),
                )
            }
            _ => sipas::responses::import::import_responses(
                &app.database,
                &questionnaire,
                crate::helpers::import_earliest(),
                text.as_bytes(),
                |_| {},
            ),
        };
        drop(conn);
        let after: Vec<i64> = tables
            .iter()
            .map(|t| app.count(t))
            .collect::<Result<_, _>>()?;
        match imported {
            Ok(_) => accepted += 1,
            Err(e) => {
                rejected += 1;
                assert_eq!(
                    before, after,
                    "case {case}: a rejected file changes nothing\n{text}"
                );
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
    Ok(())
}

/// Query values that have broken date and number parsing elsewhere.
fn nasty_query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        // A URL must stay a URL the client can send (servers cap the request line anyway).
        nasty_string().prop_map(|s| s.chars().take(500).collect()),
        Just("-262143-01-02".to_owned()),
        Just("+262142-12-31".to_owned()),
        Just("2026-02-30".to_owned()),
        Just("0000-00-00".to_owned()),
        Just("2026-13".to_owned()),
        Just("1999-12".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("-1".to_owned()),
        Just("tn".to_owned()),
        Just("TT".to_owned()),
        Just("harassment".to_owned()),
        Just("desc".to_owned()),
        Just("attention".to_owned()),
        Just("18446744073709551615".to_owned()),
        "(19|20|21|30)[0-9]{2}-[01][0-9]-[0-3][0-9]",
        "(19|20|21)[0-9]{2}-[01][0-9]",
    ]
}

/// Signs in a fresh admin and agency head; returns their session cookies.
async fn staff_sessions(app: &TestApp) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    const PASSWORD: &str = "a-long-fuzz-password";
    {
        let mut conn = app.conn()?;
        let now = crate::helpers::now();
        sipas::accounts::users::create(
            &mut conn,
            "fz-admin@test.vn",
            "admin",
            None,
            PASSWORD,
            now,
        )?;
        sipas::accounts::users::create(
            &mut conn,
            "fz-head@test.vn",
            "agency_head",
            Some("T-HUYEN"),
            PASSWORD,
            now,
        )?;
    }
    let mut sessions = Vec::new();
    for email in ["fz-admin@test.vn", "fz-head@test.vn"] {
        let response = crate::signed::sign_in(app, email, PASSWORD, "127.0.0.1").await?;
        sessions.push(crate::signed::session_of(&response).ok_or("no session")?);
    }
    Ok(sessions)
}

#[tokio::test]
async fn generated_page_queries_get_clear_answers() -> TestResult {
    let app = spawn_app().await?;
    let sessions = staff_sessions(&app).await?;
    let mut runner = runner();
    let pages = [
        "/admin",
        "/admin/agencies",
        "/admin/agencies/T-SO",
        "/admin/agencies/me",
        "/admin/agencies/{code}",
        "/admin/agencies/{code}/poster",
        "/admin/cases",
        "/admin/cases/{id}",
        "/admin/export/report.csv",
        "/admin/export/report.xlsx",
        "/admin/export/reach.csv",
        "/admin/export/responses.csv",
        "/admin/password",
        "/admin/users",
        "/admin/catalog",
        "/admin/mail",
        "/k/{code}",
        "/s/{code}",
        "/u/{code}",
        "/q/{code}.svg",
    ];
    let keys = prop_oneof![
        Just("from"),
        Just("to"),
        Just("month"),
        Just("province"),
        Just("publish"),
        Just("lang"),
        Just("form"),
        Just("sent"),
        Just("done"),
        Just("sort"),
        Just("order"),
        Just("page"),
        Just("only"),
    ];
    let query = proptest::collection::vec((keys, nasty_query_value()), 0..5);
    let path_value = prop_oneof![nasty_query_value(), Just("T-XA".to_owned()), "[0-9]{1,20}",];
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for case in 0..cases(300) {
        let page = pages[case as usize % pages.len()];
        let filler: String = draw(&mut runner, &path_value)?;
        let path = page
            .replace("{code}", &urlencode(&filler))
            .replace("{id}", &urlencode(&filler));
        let pairs = draw(&mut runner, &query)?;
        let query = serde_urlencoded::to_string(&pairs)?;
        let session = &sessions[case as usize % sessions.len()];
        let response = app
            .client
            .get(app.url(&format!("{path}?{query}")))
            .header("Cookie", format!("sipas_session={session}"))
            .send()
            .await?;
        *seen.entry(response.status().as_u16()).or_default() += 1;
        must_not_fail(&format!("page case {case}: {path}?{query}"), response).await?;
    }
    assert!(
        seen.contains_key(&200) && seen.contains_key(&400),
        "{seen:?}"
    );
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn generated_dashboard_forms_get_clear_answers() -> TestResult {
    let app = spawn_app().await?;
    let sessions = staff_sessions(&app).await?;
    let csrf = crate::signed::csrf_of(&app, "/admin/users", &sessions[0]).await?;
    let mut runner = runner();
    let forms: [(&str, &[&str]); 15] = [
        (
            "/admin/cases/1",
            &["action", "to", "reason", "assignee", "due", "note"],
        ),
        ("/admin/cases/{id}", &["action", "assignee", "due"]),
        ("/admin/users", &["email", "role", "agency"]),
        ("/admin/users/{id}/disabled", &["disabled"]),
        ("/admin/users/{id}/password", &[]),
        ("/admin/password", &["current", "new", "again"]),
        ("/admin/catalog/keys", &["label", "province", "agency"]),
        ("/admin/catalog/keys/revoke", &["id"]),
        ("/admin/catalog/import", &["kind", "csv"]),
        ("/admin/questionnaires", &["json"]),
        ("/admin/mail/retry", &["id"]),
        ("/admin/mail/recipients", &["email", "agency"]),
        ("/admin/mail/recipients/remove", &["id"]),
        ("/admin/lang", &["lang"]),
        ("/admin/login", &["email", "password"]),
    ];
    let action = prop_oneof![
        Just("status".to_owned()),
        Just("assign".to_owned()),
        Just("due".to_owned()),
        Just("note".to_owned()),
        Just("agencies".to_owned()),
        Just("procedures".to_owned()),
        Just("links".to_owned()),
        nasty_query_value(),
    ];
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    for case in 0..cases(300) {
        let (path, names) = forms[case as usize % forms.len()];
        let id: String = draw(
            &mut runner,
            &prop_oneof![Just("1".to_owned()), "-?[0-9]{1,20}", nasty_query_value()],
        )?;
        let path = path.replace("{id}", &urlencode(&id));
        let mut fields: Vec<(String, String)> = Vec::new();
        if case % 4 != 3 {
            fields.push(("csrf".into(), csrf.clone()));
        }
        for name in names {
            let value = if *name == "action" || *name == "kind" {
                draw(&mut runner, &action)?
            } else {
                draw(&mut runner, &nasty_query_value())?
            };
            fields.push(((*name).to_owned(), value));
        }
        let body = serde_urlencoded::to_string(&fields)?;
        let session = &sessions[case as usize % 2];
        let response = app
            .client
            .post(app.url(&path))
            .header("Cookie", format!("sipas_session={session}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        *seen.entry(response.status().as_u16()).or_default() += 1;
        must_not_fail(&format!("form case {case}: {path} {fields:?}"), response).await?;
    }
    assert!(
        seen.keys().any(|s| *s < 400) && seen.keys().any(|s| *s >= 400),
        "{seen:?}"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_quoting_and_encodings_are_line_errors() -> TestResult {
    let app = spawn_app().await?;
    let mut runner = runner();
    // Fields with quotes in every wrong place, line breaks, and bytes that are not UTF-8.
    let field = prop_oneof![
        "[A-Z0-9-]{1,6}",
        Just("\"".to_owned()),
        Just("\"open".to_owned()),
        Just("close\"".to_owned()),
        Just("mid\"dle".to_owned()),
        Just("\"closed\"after".to_owned()),
        Just("\"a\"\"b\"".to_owned()),
        Just("\"line\nbreak\"".to_owned()),
        Just("\"cr\r\nlf\"".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{200B}x".to_owned()),
        "\\PC{0,6}",
    ];
    let line = proptest::collection::vec(field, 1..6).prop_map(|f| f.join(","));
    let garbage = prop_oneof![
        Just(Vec::new()),
        Just(b"S\xf4 T\xfa ph\xe1p".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"\xc3".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    let file = (
        proptest::collection::vec((line, garbage), 0..6),
        any::<bool>(),
    );
    let mut outcomes = (0, 0);
    for case in 0..cases(300) {
        let (lines, crlf) = draw(&mut runner, &file)?;
        let mut bytes = b"code,name,level,province_code,parent_code\n".to_vec();
        for (text, junk) in &lines {
            bytes.extend_from_slice(text.as_bytes());
            bytes.extend_from_slice(junk);
            bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let before = app.count("agencies")?;
        let mut conn = app.conn()?;
        let result = sipas::catalog::import::import_agencies(&mut conn, bytes.as_slice());
        drop(conn);
        match result {
            Ok(_) => outcomes.0 += 1,
            Err(sipas::csvfile::ImportError::Lines(errors)) => {
                outcomes.1 += 1;
                assert_eq!(
                    app.count("agencies")?,
                    before,
                    "case {case}: nothing imported"
                );
                assert!(
                    errors.iter().all(|e| e.line >= 1 && !e.message.is_empty()),
                    "case {case}: {errors:?}"
                );
            }
            Err(other) => panic!("case {case}: {other}"),
        }
    }
    assert!(outcomes.1 > 0, "{outcomes:?}");
    Ok(())
}
