//! What the digests say, on a province with real flags: a department with a long-standing
//! harassment alarm and a month of 25 answers whose fall is not clear, a commune with the same
//! kind of alarm but 2 answers this month, a repeat-visit alarm, a recent rise (early warning), a
//! report of money asked, tiny groups, a clear change, open and overdue cases, and a response rate
//! that used to read 125%. Snapshots of both parts of every digest kind in both languages (at a
//! fixed date, so they never drift), and a check that the HTML part states every fact of the text
//! part.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use sipas::cases::{self, Action};
use sipas::config::{MailSettings, MailTransport, Settings};
use sipas::domain::Lang;
use sipas::mail::Email;
use sipas::mail::digest::{self, Period};

use crate::helpers::{SHORT_FORM, TestApp, TestResult, select, spawn_app};

/// The day the digests are composed: a Tuesday. The monthly digest covers October 2026, the
/// weekly one 16–22 November 2026.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
}

fn now() -> NaiveDateTime {
    today().and_hms_opt(1, 0, 0).unwrap_or_default()
}

const PASSWORD: &str = "a-long-test-password";

/// The province's agencies beyond the helpers' catalog (T-SO, T-HUYEN, T-XA).
const MORE_AGENCIES: [(&str, &str, &str); 24] = [
    ("T-S01", "Sở Xây dựng", "tinh"),
    ("T-S02", "Sở Y tế", "tinh"),
    ("T-S03", "Sở Giáo dục và Đào tạo", "tinh"),
    ("T-S04", "Sở Tài chính", "tinh"),
    ("T-S05", "Sở Công Thương", "tinh"),
    ("T-S06", "Sở Nội vụ", "tinh"),
    ("T-S07", "Sở Giao thông vận tải", "tinh"),
    ("T-X01", "UBND xã Tân Cương", "xa"),
    ("T-X02", "UBND xã Phúc Xuân", "xa"),
    ("T-X03", "UBND xã Quyết Thắng", "xa"),
    ("T-X04", "UBND xã Phúc Trìu", "xa"),
    ("T-X05", "UBND xã Thịnh Đức", "xa"),
    ("T-X06", "UBND xã Cao Ngạn", "xa"),
    ("T-X07", "UBND xã Đồng Bẩm", "xa"),
    ("T-X08", "UBND xã Linh Sơn", "xa"),
    ("T-X09", "UBND xã Huống Thượng", "xa"),
    ("T-X10", "UBND xã Sơn Cẩm", "xa"),
    ("T-X11", "UBND xã Phúc Hà", "xa"),
    ("T-X12", "UBND xã Tích Lương", "xa"),
    ("T-X13", "UBND xã Lương Sơn", "xa"),
    ("T-X14", "UBND xã Tân Thịnh", "xa"),
    ("T-X15", "UBND xã Quang Vinh", "xa"),
    ("T-X16", "UBND xã Đồng Quang", "xa"),
    ("T-X17", "UBND xã Gia Sàng", "xa"),
];

/// Answers of one stretch of time: how many, and the shares satisfied, harassed and made to come
/// back (spread evenly, so the counts are exact).
#[derive(Clone, Copy)]
struct Stretch {
    n: u32,
    satisfied: f64,
    harassed: f64,
    repeat: f64,
}

const fn stretch(n: u32, satisfied: f64, harassed: f64, repeat: f64) -> Stretch {
    Stretch {
        n,
        satisfied,
        harassed,
        repeat,
    }
}

/// Event `j` of `n` at rate `p`, spread evenly (exactly round(n·p) events), shifted by `offset`.
fn event(j: u32, p: f64, offset: u32) -> bool {
    let k = j + offset;
    ((f64::from(k) + 1.0) * p).floor() > (f64::from(k) * p).floor()
}

/// One agency: its background year, the previous period and the period of the digest.
struct Profile {
    code: &'static str,
    channel: &'static str,
    background: Stretch,
    previous: Stretch,
    current: Stretch,
    /// Background answers that say an official asked for money.
    money_asked: u32,
}

fn profiles() -> Vec<Profile> {
    let usual = |code: &'static str, i: u32| Profile {
        code,
        channel: "paper",
        background: stretch(80 + (i * 23) % 60, 0.8, 0.04, 0.08),
        previous: stretch(10, 0.8, 0.0, 0.1),
        current: stretch(10, 0.8, 0.0, 0.1),
        money_asked: 0,
    };
    let mut list: Vec<Profile> = MORE_AGENCIES
        .iter()
        .zip(0..)
        .map(|((code, _, _), i)| usual(code, i))
        .collect();
    for p in &mut list {
        match p.code {
            // A clear rise of the index (40 answers each period).
            "T-S01" => {
                p.previous = stretch(40, 0.5, 0.0, 0.05);
                p.current = stretch(40, 0.9, 0.0, 0.05);
            }
            // A repeat-visit alarm.
            "T-X05" => p.background = stretch(100, 0.7, 0.04, 0.45),
            // Quiet for months, then complaints rise: an early warning.
            "T-X07" => {
                p.background = stretch(100, 0.8, 0.02, 0.08);
                p.previous = stretch(15, 0.6, 0.4, 0.1);
                p.current = stretch(15, 0.5, 0.6, 0.1);
            }
            // Three answers this period, two of them about harassment: noise, not a flag.
            "T-X09" => p.current = stretch(3, 0.3, 0.67, 0.0),
            // One citizen said an official asked for money.
            "T-X11" => p.money_asked = 1,
            _ => {}
        }
    }
    // The department with a long-standing harassment alarm; its month's 25 answers read lower
    // than the 30 of the month before, but not clearly. Counter answers: before the response
    // rate counted one population, these over its 20 dossiers read 125%.
    list.push(Profile {
        code: "T-SO",
        channel: "counter",
        background: stretch(160, 0.75, 0.3, 0.06),
        previous: stretch(30, 0.8, 0.3, 0.1),
        current: stretch(25, 0.64, 0.32, 0.08),
        money_asked: 0,
    });
    // The commune with a long-standing harassment alarm and 2 answers this period.
    list.push(Profile {
        code: "T-XA",
        channel: "paper",
        background: stretch(60, 0.6, 0.45, 0.1),
        previous: stretch(3, 0.6, 0.3, 0.0),
        current: stretch(2, 0.5, 0.5, 0.0),
        money_asked: 0,
    });
    list.push(Profile {
        code: "T-HUYEN",
        channel: "paper",
        background: stretch(120, 0.8, 0.05, 0.1),
        previous: stretch(12, 0.8, 0.0, 0.1),
        current: stretch(12, 0.8, 0.0, 0.1),
        money_asked: 0,
    });
    list
}

/// The responses CSV for `period`'s digest composed on [`today`]: each agency's background in
/// the 270 days before the previous period (inside the flag window of either digest), then its
/// previous and current periods.
fn responses_csv(period: Period) -> Result<String, std::fmt::Error> {
    let window = period.window(today());
    let background = (
        window.previous.0 - Duration::days(270),
        window.previous.0 - Duration::days(1),
    );
    let mut csv =
        String::from("agency_code,submitted_at,channel,HL0,TC0,TT0,CC0,KQ0,PA0,E1,E6,E7\n");
    for p in profiles() {
        for ((from, to), s, money) in [
            (background, p.background, p.money_asked),
            (window.previous, p.previous, 0),
            ((window.from, window.to), p.current, 0),
        ] {
            let days = (to - from).num_days() + 1;
            for j in 0..s.n {
                let day = from + Duration::days(i64::from(j) * days / i64::from(s.n.max(1)));
                let hl0 = if event(j, s.satisfied, 0) { 4 } else { 2 };
                let e6 = if event(j, s.harassed, 3) { 2 } else { 1 };
                let e1 = if event(j, s.repeat, 5) { 3 } else { 1 };
                let e7 = if j < money { 3 } else { 1 };
                // Factors: mostly satisfied, officials less so where citizens were harassed,
                // and a "not applicable" for feedback now and then.
                let cc0 = if e6 == 2 { 2 } else { 4 };
                let pa0 = if j % 3 == 0 { "NA" } else { "4" };
                writeln!(
                    csv,
                    "{},{day},{},{hl0},5,{},{cc0},{},{pa0},{e1},{e6},{e7}",
                    p.code,
                    p.channel,
                    if j % 4 == 0 { 3 } else { 5 },
                    if event(j, s.satisfied, 1) { 4 } else { 3 },
                )?;
            }
        }
    }
    Ok(csv)
}

/// A dossier of `agency` returned on `day`.
fn dossier_on(code: &str, day: NaiveDate) -> serde_json::Value {
    serde_json::json!({
        "dossier_code": code,
        "agency_code": "T-SO",
        "procedure_code": "P-LLTP",
        "channel": "counter",
        "received_at": format!("{}T08:00:00+07:00", day - Duration::days(5)),
        "due_at": (day + Duration::days(5)).to_string(),
        "returned_at": format!("{day}T10:00:00+07:00"),
    })
}

fn settings_for(app: &TestApp) -> Result<Settings, Box<dyn std::error::Error>> {
    let mut s = Settings::load(None, Vec::new())?;
    s.database.url = app.db.url.clone();
    s.server.public_url = "https://khaosat.test".into();
    s.mail = MailSettings {
        transport: MailTransport::File,
        from: "SIPAS <khaosat@test.vn>".into(),
        reform_office: vec!["office@test.vn".into(), "office.en@test.vn".into()],
        ..MailSettings::default()
    };
    Ok(s)
}

/// The province of [`profiles`] for `period`'s digest: responses, 20 dossiers of T-SO returned
/// in the period (8 answered), accounts (the heads of T-SO and T-XA, a reviewer, an English
/// reader of the office's digest), and the cases a monitoring sweep opens, one of them overdue.
async fn province(period: Period) -> Result<(TestApp, Settings), Box<dyn std::error::Error>> {
    let app = spawn_app().await?;
    let mut catalog = String::from("code,name,level,province_code,parent_code\n");
    for (code, name, level) in MORE_AGENCIES {
        let parent = if level == "xa" { "T-HUYEN" } else { "" };
        writeln!(catalog, "{code},{name},{level},TT,{parent}")?;
    }
    {
        let mut conn = app.conn()?;
        sipas::catalog::import::import_agencies(&mut conn, catalog.as_bytes())?;
    }
    app.import_responses(&responses_csv(period)?)?;
    let window = period.window(today());
    let days = (window.to - window.from).num_days() + 1;
    for i in 0..20 {
        let day = window.from + Duration::days(i * days / 20);
        let response = app
            .post_dossiers(&dossier_on(&format!("DG-{i:02}"), day))
            .await?;
        let json: serde_json::Value = response.json().await?;
        let token = json["survey_url"]
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .ok_or("no survey link")?
            .to_owned();
        if i % 5 < 2 {
            // Answered now: after the period, so outside every figure of the digest but the rate.
            let answered = app.post_form(&format!("/s/{token}"), &SHORT_FORM).await?;
            assert_eq!(answered.status().as_u16(), 303);
        }
    }
    let settings = settings_for(&app)?;
    let mut conn = app.conn()?;
    let created = now() - Duration::days(30);
    for (email, role, agency) in [
        ("head.so@test.vn", "agency_head", Some("T-SO")),
        ("head.xa@test.vn", "agency_head", Some("T-XA")),
        ("reviewer@test.vn", "reviewer", None),
        ("office.en@test.vn", "reviewer", None),
    ] {
        sipas::accounts::users::create(&mut conn, email, role, agency, PASSWORD, created)?;
    }
    set_lang(&app, "office.en@test.vn", Lang::En)?;
    sipas::monitoring::sweep(&mut conn, &settings, today(), created)?;
    let reviewer =
        sipas::accounts::users::find_by_email(&mut conn, "reviewer@test.vn")?.ok_or("reviewer")?;
    let opened = cases::list(&mut conn)?;
    let so = opened
        .iter()
        .find(|c| c.agency_code == "T-SO")
        .ok_or("a case for T-SO's alarm")?;
    cases::apply(
        &mut conn,
        so.id,
        &Action::Due(Some(today() - Duration::days(3))),
        reviewer.id,
        created,
    )?;
    cases::apply(
        &mut conn,
        so.id,
        &Action::Status {
            to: cases::Status::InProgress,
            reason: None,
        },
        reviewer.id,
        created,
    )?;
    drop(conn);
    Ok((app, settings))
}

fn set_lang(app: &TestApp, email: &str, lang: Lang) -> TestResult {
    let mut conn = app.conn()?;
    let user = sipas::accounts::users::find_by_email(&mut conn, email)?.ok_or("no such user")?;
    sipas::accounts::users::set_lang(&mut conn, user.id, lang)?;
    Ok(())
}

/// The digests of `period` by recipient.
fn compose(
    app: &TestApp,
    settings: &Settings,
    period: Period,
) -> Result<BTreeMap<String, Email>, Box<dyn std::error::Error>> {
    let mut conn = app.conn()?;
    Ok(digest::compose(&mut conn, settings, period, None, today())?
        .into_iter()
        .map(|(e, _, _)| (e.to.clone(), e))
        .collect())
}

/// The HTML with a line break after each block, so that a snapshot's diff is readable.
fn readable(html: &str) -> String {
    let mut out = html.to_owned();
    for tag in [
        "</p>", "</tr>", "</li>", "</table>", "</ul>", "</div>", "</head>",
    ] {
        out = out.replace(tag, &format!("{tag}\n"));
    }
    out
}

/// Compares with the stored snapshot; `SIPAS_UPDATE_SNAPSHOTS=1` rewrites it.
pub fn snapshot(name: &str, actual: &str) -> TestResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/snapshots")
        .join(name);
    if std::env::var("SIPAS_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, actual)?;
    }
    let expected = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run with SIPAS_UPDATE_SNAPSHOTS=1)",
            path.display()
        )
    })?;
    assert_eq!(actual, expected, "{name} differs from its snapshot");
    Ok(())
}

fn snapshot_both(name: &str, email: &Email) -> TestResult {
    snapshot(
        &format!("{name}.txt"),
        &format!("Subject: {}\n\n{}", email.subject, email.text),
    )?;
    snapshot(&format!("{name}.html"), &readable(&email.html))
}

/// The visible text of the HTML part.
fn html_text(html: &str) -> String {
    let page = scraper::Html::parse_document(html);
    let body = select(&page, "body");
    body.first()
        .map(|b| b.text().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Flag words, verdicts and baselines a reader acts on.
const WORDS: [&str; 14] = [
    "BÁO ĐỘNG",
    "Cảnh báo",
    "cảnh báo sớm",
    "ALARM",
    "Alert",
    "không thay đổi rõ rệt",
    "no clear change",
    "chưa đủ dữ liệu",
    "not enough data",
    "mức chung của",
    "baseline of",
    "KTC 95%",
    "95% CI",
    "không bị gắn cờ",
];

/// The facts of a text: every token with a digit (figures, intervals, counts, dates) and every
/// occurrence of [`WORDS`], links left out (the HTML part has them as links).
fn facts(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for token in text.split_whitespace() {
        let token = token.trim_matches(|c: char| "(),;:.".contains(c));
        if token.contains("://") || !token.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        *out.entry(token.to_owned()).or_insert(0) += 1;
    }
    for word in WORDS {
        let n = text.matches(word).count();
        if n > 0 {
            out.insert(word.to_owned(), n);
        }
    }
    out
}

/// The HTML part states exactly the facts of the text part.
fn assert_same_facts(email: &Email) {
    let text = facts(&email.text);
    let html = facts(&html_text(&email.html));
    assert_eq!(
        text, html,
        "the HTML part of the digest to {} says something else than its text part",
        email.to
    );
    assert!(
        !text.is_empty(),
        "facts were found in the digest to {}",
        email.to
    );
}

#[tokio::test]
async fn monthly_digests_read_right_in_both_languages_and_both_parts() -> TestResult {
    let (app, settings) = province(Period::Monthly).await?;
    let vi = compose(&app, &settings, Period::Monthly)?;
    set_lang(&app, "head.so@test.vn", Lang::En)?;
    let en = compose(&app, &settings, Period::Monthly)?;
    let get = |all: &BTreeMap<String, Email>, to: &str| {
        all.get(to)
            .cloned()
            .ok_or(format!("no monthly digest for {to}"))
    };
    let head = get(&vi, "head.so@test.vn")?;
    snapshot_both("agency_monthly.vi", &head)?;
    snapshot_both("agency_monthly.en", &get(&en, "head.so@test.vn")?)?;
    let small = get(&vi, "head.xa@test.vn")?;
    snapshot_both("agency_monthly_small.vi", &small)?;
    snapshot_both("office_monthly.vi", &get(&vi, "office@test.vn")?)?;
    snapshot_both("office_monthly.en", &get(&vi, "office.en@test.vn")?)?;
    for email in vi.values().chain(en.values()) {
        assert_same_facts(email);
    }

    // 25 answers, 64% against 80%: the interval of the difference includes 0.
    assert!(
        head.text
            .contains("So với tháng trước: không thay đổi rõ rệt"),
        "{}",
        head.text
    );
    assert!(!head.subject.contains("điểm %"), "{}", head.subject);
    // The alarm with its peers' baseline, in both parts.
    assert!(head.subject.contains("BÁO ĐỘNG: phiền hà, sách nhiễu"));
    assert!(
        head.text
            .contains("Bị gây phiền hà, sách nhiễu: 32% (KTC 95%:")
    );
    // 8 of the 20 dossiers returned in October were answered: 40%, not 25/20.
    assert!(
        head.text.contains("Tỷ lệ phản hồi: 40% (8 trong 20 hồ sơ"),
        "{}",
        head.text
    );
    // Only links a head can open: their month, and their agency's cases.
    for url in head.text.split_whitespace().filter(|t| t.contains("://")) {
        assert!(
            url.starts_with("https://khaosat.test/admin/agencies/T-SO?month=2026-10")
                || url.starts_with("https://khaosat.test/admin/cases/"),
            "{url}"
        );
    }
    // No window but the month: the flags are stated without the year's numbers.
    let standing = head
        .text
        .split("Tình trạng theo dõi")
        .nth(1)
        .and_then(|rest| rest.split("Hồ sơ theo dõi đang mở").next())
        .ok_or("the flags section")?;
    assert!(
        !standing.contains('%') && !standing.contains(" trên "),
        "{standing}"
    );

    // The small commune: no figure, no interval, but its standing alarm.
    assert!(small.text.contains("có dưới 5 phiếu trả lời"));
    assert!(!small.text.contains('%'), "{}", small.text);
    assert!(small.text.contains("Phiền hà, sách nhiễu: BÁO ĐỘNG"));
    assert!(small.subject.contains("BÁO ĐỘNG"), "{}", small.subject);
    Ok(())
}

#[tokio::test]
async fn the_weekly_digest_lists_the_real_flags_not_the_weeks_noise() -> TestResult {
    let (app, settings) = province(Period::Weekly).await?;
    let weekly = compose(&app, &settings, Period::Weekly)?;
    assert!(
        !weekly.keys().any(|to| to.starts_with("head.")),
        "heads get no weekly digest"
    );
    let office = weekly.get("office@test.vn").ok_or("the office's digest")?;
    snapshot_both("office_weekly.vi", office)?;
    snapshot_both(
        "office_weekly.en",
        weekly
            .get("office.en@test.vn")
            .ok_or("the English reader's digest")?,
    )?;
    for email in weekly.values() {
        assert_same_facts(email);
    }
    let flagged = office
        .text
        .split("Cơ quan bị gắn cờ")
        .nth(1)
        .and_then(|rest| rest.split("Cảnh báo sớm").next())
        .ok_or("the flagged list")?;
    for alarm in ["(T-SO)", "(T-XA)", "(T-X05)"] {
        assert!(flagged.contains(alarm), "{alarm} is listed: {flagged}");
    }
    assert!(
        !flagged.contains("(T-X09)"),
        "three answers of a week are not a flag: {flagged}"
    );
    // Severity first.
    let first_alert = flagged.find("- Cảnh báo").unwrap_or(flagged.len());
    let last_alarm = flagged.rfind("- BÁO ĐỘNG").unwrap_or(0);
    assert!(last_alarm < first_alert, "{flagged}");
    assert!(office.text.contains("T-X07"), "the early warning");
    Ok(())
}
