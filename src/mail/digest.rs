//! Digests: an agency's month for its head (released months only, like the head's pages), and
//! the province's week or month for the reform office. Aggregates only — no free text, nothing
//! from fewer than 5 responses — in the recipient's language, as plain text and simple
//! inline-styled HTML.
//!
//! Each digest is first written as a `Message` of blocks (paragraphs, labelled figures, lists,
//! links), and both parts are rendered from it: the HTML part (what Outlook and Gmail show) says
//! exactly what the text part says — every figure, interval, baseline, flag word and reason.
//!
//! What each reader is told:
//! - **Agency heads** get the monthly digest of the last ended month: its figures (none below 5
//!   responses), a change from the month before only when the interval of the difference
//!   excludes 0, and the agency's current flag *states* (alarm or alert on harassment and
//!   repeated visits, reports of money asked, early warning) from the monitoring window, without
//!   that window's numbers, which could be subtracted from the months' (`docs/privacy.md`); their
//!   open follow-up cases by problem, status and date, each with its link.
//! - **The reform office** gets the week's and the month's: the province's figures, the agencies
//!   flagged by the report's flag model over the monitoring window (never a week's noise),
//!   severity first with their reasons, early warnings, overdue cases and the agencies whose
//!   index changed clearly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use maud::html;

use super::Email;
use super::outbox::enqueue;
use crate::accounts::Role;
use crate::cases::{self, Case};
use crate::config::Settings;
use crate::db::schema::{agencies, mail_recipients, provinces, users};
use crate::db::{Database, DbConn, StoreError};
use crate::domain::Lang;
use crate::monitoring::WINDOW_DAYS;
use crate::report::disclosure::MINIMUM;
use crate::report::flags::Assessment;
use crate::report::indicators::{CONFIDENCE, Index};
use crate::report::numbers::{index_text, not_enough, percent, points, share_text};
use crate::report::{self, AgencyRow, EARLY_WARNING_DAYS, GroupBy, Query, Report};
use crate::stats::Severity;
use crate::stats::change::newcombe_difference;

/// Fewest valid answers in each of two periods for an agency's change to be listed in the
/// reform office's digest (with fewer, even a large difference is rarely clear, and a list of
/// hundreds of agencies would otherwise fill with chance).
const CHANGE_MINIMUM: u64 = 30;

/// Which digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Weekly,
    Monthly,
}

/// A digest period: the last complete week (Monday–Sunday) or month before `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous: (NaiveDate, NaiveDate),
    /// The outbox key ("weekly:2026-W47", "monthly:2026-10") and its Vietnamese name.
    pub key: String,
    pub name: String,
    pub name_en: String,
}

impl Period {
    /// Both periods.
    pub const ALL: [Period; 2] = [Period::Weekly, Period::Monthly];

    /// The period's name (`weekly`, `monthly`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    /// The window this period's digest covers when sent on `today`.
    pub fn window(self, today: NaiveDate) -> Window {
        match self {
            Period::Weekly => {
                let this_monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                let from = this_monday - Duration::days(7);
                let to = this_monday - Duration::days(1);
                let week = from.iso_week();
                Window {
                    period: self,
                    from,
                    to,
                    previous: (from - Duration::days(7), to - Duration::days(7)),
                    key: format!("weekly:{}-W{:02}", week.year(), week.week()),
                    name: format!(
                        "tuần {}/{} ({} – {})",
                        week.week(),
                        week.year(),
                        from.format("%d/%m"),
                        to.format("%d/%m/%Y")
                    ),
                    name_en: format!(
                        "week {} of {} ({} – {})",
                        week.week(),
                        week.year(),
                        from.format("%d/%m"),
                        to.format("%d/%m/%Y")
                    ),
                }
            }
            Period::Monthly => {
                let first_this = today.with_day(1).unwrap_or(today);
                let to = first_this - Duration::days(1);
                let from = to.with_day(1).unwrap_or(to);
                let prev_to = from - Duration::days(1);
                Window {
                    period: self,
                    from,
                    to,
                    previous: (prev_to.with_day(1).unwrap_or(prev_to), prev_to),
                    key: format!("monthly:{}", from.format("%Y-%m")),
                    name: format!("tháng {}", from.format("%m/%Y")),
                    name_en: from.format("%B %Y").to_string(),
                }
            }
        }
    }
}

impl Window {
    /// The window's name in `lang`.
    fn name(&self, lang: Lang) -> &str {
        lang.pick(&self.name, &self.name_en)
    }

    /// "tháng"/"month" or "tuần"/"week".
    fn unit(&self, lang: Lang) -> &'static str {
        match self.period {
            Period::Weekly => lang.pick("tuần", "week"),
            Period::Monthly => lang.pick("tháng", "month"),
        }
    }

    /// The monitoring window flags are judged over: the [`WINDOW_DAYS`] days up to the end of
    /// this period (what the monitoring sweep and the cases use).
    fn flag_window(&self) -> (NaiveDate, NaiveDate) {
        (self.to - Duration::days(WINDOW_DAYS - 1), self.to)
    }
}

// ---------------------------------------------------------------------------------------------
// The message: blocks rendered into both parts.

/// How a figure is shown in the HTML part (the words are the same in both parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Alarm,
    Alert,
}

impl Tone {
    fn of(severity: Severity) -> Tone {
        match severity {
            Severity::Alarm => Tone::Alarm,
            Severity::Alert => Tone::Alert,
            Severity::None => Tone::Plain,
        }
    }

    fn style(self) -> &'static str {
        match self {
            Tone::Plain => "",
            Tone::Alarm => "color:#9b1c1c;",
            Tone::Alert => "color:#8a5300;",
        }
    }
}

/// One labelled figure: "label: value".
#[derive(Debug, Clone)]
struct Fact {
    label: String,
    value: String,
    tone: Tone,
}

impl Fact {
    fn new(label: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact {
            label: label.into(),
            value: value.into(),
            tone: Tone::Plain,
        }
    }

    fn toned(mut self, tone: Tone) -> Fact {
        self.tone = tone;
        self
    }
}

/// One item of a list, with a link the reader may open.
#[derive(Debug, Clone)]
struct Item {
    text: String,
    tone: Tone,
    link: Option<(String, String)>,
}

impl Item {
    fn new(text: impl Into<String>) -> Item {
        Item {
            text: text.into(),
            tone: Tone::Plain,
            link: None,
        }
    }

    fn toned(mut self, tone: Tone) -> Item {
        self.tone = tone;
        self
    }

    fn linked(mut self, label: &str, url: String) -> Item {
        self.link = Some((label.to_owned(), url));
        self
    }
}

/// A part of a message.
#[derive(Debug, Clone)]
enum Block {
    Para(String),
    Facts {
        title: Option<String>,
        facts: Vec<Fact>,
    },
    List {
        title: String,
        items: Vec<Item>,
        /// What is said when the list is empty.
        empty: String,
    },
    Link {
        label: String,
        url: String,
    },
}

/// A digest before rendering.
#[derive(Debug, Clone)]
struct Message {
    lang: Lang,
    subject: String,
    blocks: Vec<Block>,
}

impl Message {
    fn email(&self, to: &str) -> Email {
        Email {
            to: to.to_owned(),
            subject: self.subject.clone(),
            text: self.text(),
            html: self.html(),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Para(p) => out.push_str(&format!("{p}\n")),
                Block::Facts { title, facts } => {
                    if let Some(t) = title {
                        out.push_str(&format!("{t}:\n"));
                    }
                    for f in facts {
                        out.push_str(&format!("{}: {}\n", f.label, f.value));
                    }
                }
                Block::List {
                    title,
                    items,
                    empty,
                } => {
                    out.push_str(&format!("{title}:\n"));
                    if items.is_empty() {
                        out.push_str(&format!("{empty}\n"));
                    }
                    for item in items {
                        out.push_str(&format!("- {}\n", item.text));
                        if let Some((label, url)) = &item.link {
                            out.push_str(&format!("  {label}: {url}\n"));
                        }
                    }
                }
                Block::Link { label, url } => out.push_str(&format!("{label}: {url}\n")),
            }
            out.push('\n');
        }
        format!("{}\n", out.trim_end())
    }

    fn html(&self) -> String {
        const CELL: &str = "padding:4px 8px;border-bottom:1px solid #dde1e6;vertical-align:top";
        let body = html! {
            @for block in &self.blocks {
                @match block {
                    Block::Para(p) => p { (p) },
                    Block::Facts { title, facts } => {
                        @if let Some(t) = title { p style="margin-bottom:4px" { strong { (t) } } }
                        table style="border-collapse:collapse;width:100%;max-width:640px" {
                            @for f in facts {
                                tr {
                                    td style=(CELL) { (f.label) }
                                    td style={ (CELL) ";font-weight:bold;" (f.tone.style()) } { (f.value) }
                                }
                            }
                        }
                    },
                    Block::List { title, items, empty } => {
                        p style="margin-bottom:4px" { strong { (title) } }
                        @if items.is_empty() { p style="margin-top:0" { (empty) } }
                        @else {
                            ul style="margin-top:0;padding-left:20px" {
                                @for item in items {
                                    li style={ "margin-bottom:4px;" (item.tone.style()) } {
                                        (item.text)
                                        @if let Some((label, url)) = &item.link {
                                            " " a href=(url) style="color:#0b4f9c" { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    },
                    Block::Link { label, url } => p { a href=(url) style="color:#0b4f9c" { (label) } },
                }
            }
        };
        html! {
            (maud::DOCTYPE)
            html lang=(self.lang.tag()) {
                head { meta charset="utf-8"; }
                body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#1a1a1a;line-height:1.5" {
                    div style="background:#9b1c1c;color:#ffffff;padding:8px 12px;font-weight:bold" {
                        (self.lang.pick("Khảo sát sự hài lòng (SIPAS)", "Satisfaction survey (SIPAS)"))
                    }
                    div style="padding:12px" { (body) }
                }
            }
        }
        .into_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Wording shared by both digests.

/// "55,2–95,3%".
fn interval(low: f64, high: f64, lang: Lang) -> String {
    format!(
        "{}–{}",
        percent(low, lang).trim_end_matches('%'),
        percent(high, lang)
    )
}

/// "83,3% (KTC 95%: 55,2–95,3%)", or "chưa đủ dữ liệu" (no interval) below the display minimum.
fn index_value(i: &Index, lang: Lang) -> String {
    match (i.displayable, i.ci_low, i.ci_high) {
        (true, Some(lo), Some(hi)) => format!(
            "{} ({} {})",
            index_text(i, lang),
            lang.pick("KTC 95%:", "95% CI:"),
            interval(lo, hi, lang)
        ),
        _ => index_text(i, lang),
    }
}

/// A problem's share in the period with its interval and the peers' baseline: "32% (KTC 95%:
/// 20,1–46,4%); mức chung của các sở, ban, ngành cấp tỉnh của tỉnh: 4,4%".
fn problem_value(a: &Assessment, lang: Lang) -> String {
    let share = a.share();
    let mut value = share_text(&share, lang);
    if let (true, Some(lo), Some(hi)) = (share.displayable, share.ci_low, share.ci_high) {
        let _ = write!(
            value,
            " ({} {})",
            lang.pick("KTC 95%:", "95% CI:"),
            interval(lo, hi, lang)
        );
    }
    if let Some(b) = a.baseline {
        let _ = write!(
            value,
            "; {} {}: {}",
            lang.pick("mức chung của", "baseline of"),
            lang.pick(&a.peers, &a.peers_en),
            percent(b, lang)
        );
    }
    value
}

/// The word for a flag's state.
fn severity_word(severity: Severity, lang: Lang) -> &'static str {
    match severity {
        Severity::Alarm => lang.pick("BÁO ĐỘNG", "ALARM"),
        Severity::Alert => lang.pick("Cảnh báo", "Alert"),
        Severity::None => lang.pick("không bị gắn cờ", "not flagged"),
    }
}

/// How an index moved between two periods.
enum Change {
    /// The 95% interval of the difference excludes 0: (difference, low, high).
    Clear(f64, f64, f64),
    /// Both periods have figures, but the interval of the difference includes 0.
    Unclear,
    /// One of the periods has too few answers to compare.
    NoData,
}

impl Change {
    fn of(now: &Index, before: Option<&Index>) -> Change {
        let Some(before) = before.filter(|b| b.displayable && now.displayable) else {
            return Change::NoData;
        };
        match newcombe_difference(now.count, now.n, before.count, before.n, CONFIDENCE) {
            Some(ci) if ci.low > 0.0 || ci.high < 0.0 => {
                let d = now.count as f64 / now.n as f64 - before.count as f64 / before.n as f64;
                Change::Clear(d, ci.low, ci.high)
            }
            Some(_) => Change::Unclear,
            None => Change::NoData,
        }
    }

    /// "tăng 12,5 điểm %" / "up 12.5 points" (clear changes only).
    fn headline(&self, lang: Lang) -> Option<String> {
        let Change::Clear(d, _, _) = self else {
            return None;
        };
        let size = points(*d, lang);
        let size = size.trim_start_matches(['+', '-']);
        Some(match (lang, *d > 0.0) {
            (Lang::Vi, true) => format!("tăng {size} điểm %"),
            (Lang::Vi, false) => format!("giảm {size} điểm %"),
            (Lang::En, true) => format!("up {size} points"),
            (Lang::En, false) => format!("down {size} points"),
        })
    }

    /// The full statement, with the interval of the difference when the change is clear.
    fn statement(&self, window: &Window, lang: Lang) -> String {
        match self {
            Change::Clear(_, low, high) => format!(
                "{} ({} {} {} {} {})",
                self.headline(lang).unwrap_or_default(),
                lang.pick("KTC 95% của chênh lệch:", "95% CI of the difference:"),
                points(*low, lang),
                lang.pick("đến", "to"),
                points(*high, lang),
                lang.pick("điểm %", "points")
            ),
            Change::Unclear => lang.pick("không thay đổi rõ rệt", "no clear change").into(),
            Change::NoData => match lang {
                Lang::Vi => format!("chưa đủ dữ liệu để so sánh với {} trước", window.unit(lang)),
                Lang::En => format!(
                    "not enough data to compare with the previous {}",
                    window.unit(lang)
                ),
            },
        }
    }
}

/// "40% (8 trong 20 hồ sơ trả kết quả trong tháng đã có phiếu trả lời)": answered invitations
/// among the `issued` ones of the period (one population, never above 100%).
fn response_rate(
    rate: Option<f64>,
    issued: Option<u64>,
    window: &Window,
    lang: Lang,
) -> Option<Fact> {
    let (rate, issued) = (rate?, issued?);
    let answered = (rate * issued as f64).round() as u64;
    let unit = window.unit(lang);
    let detail = match lang {
        Lang::Vi => {
            format!("{answered} trong {issued} hồ sơ trả kết quả trong {unit} đã có phiếu trả lời")
        }
        Lang::En => {
            format!("{answered} of the {issued} dossiers returned in the {unit} have been answered")
        }
    };
    Some(Fact::new(
        lang.pick("Tỷ lệ phản hồi", "Response rate"),
        format!("{} ({detail})", percent(rate, lang)),
    ))
}

/// "(12 tháng đến 31/10/2026)" / "(the 12 months to 31/10/2026)": the flag window, stated.
fn flag_window_name(window: &Window, lang: Lang) -> String {
    let to = window.flag_window().1.format("%d/%m/%Y");
    match lang {
        Lang::Vi => format!("12 tháng đến {to}"),
        Lang::En => format!("the 12 months to {to}"),
    }
}

fn footer(lang: Lang) -> Block {
    Block::Para(
        lang.pick(
            "Thư này được gửi tự động từ hệ thống khảo sát sự hài lòng (SIPAS).",
            "This message was sent automatically by the satisfaction survey system (SIPAS).",
        )
        .into(),
    )
}

// ---------------------------------------------------------------------------------------------
// The agency head's monthly digest.

/// What an agency head's digest is made of.
struct AgencyDigest<'a> {
    /// The agency's row of the province's report for the month.
    month: &'a AgencyRow,
    /// The same for the month before.
    before: Option<&'a AgencyRow>,
    /// The agency's row over the monitoring window: only its flag states are told.
    standing: &'a AgencyRow,
    /// The agency's open follow-up cases.
    open: &'a [Case],
    /// The day the digest is composed (what "overdue" is judged against).
    today: NaiveDate,
}

/// The flags in a subject line: "BÁO ĐỘNG: phiền hà, sách nhiễu".
fn subject_flags(standing: &AgencyRow, lang: Lang) -> Option<String> {
    let mut parts = Vec::new();
    for severity in [Severity::Alarm, Severity::Alert] {
        let problems: Vec<&str> = [
            ("harassment", &standing.harassment),
            ("repeat_visits", &standing.repeat_visits),
        ]
        .iter()
        .filter(|(_, a)| a.flag == severity)
        .map(|(p, _)| cases::problem_label(p, lang))
        .collect();
        if !problems.is_empty() {
            parts.push(format!(
                "{}: {}",
                severity_word(severity, lang),
                problems.join(", ").to_lowercase()
            ));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The agency's current flag states, without the monitoring window's numbers.
fn standing_block(standing: &AgencyRow, window: &Window, lang: Lang) -> Vec<Block> {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let mut facts = Vec::new();
    for (problem, a) in [
        ("harassment", &standing.harassment),
        ("repeat_visits", &standing.repeat_visits),
    ] {
        facts.push(
            Fact::new(
                cases::problem_label(problem, lang),
                severity_word(a.flag, lang),
            )
            .toned(Tone::of(a.flag)),
        );
    }
    let money = standing.money_asked > 0;
    facts.push(
        Fact::new(
            cases::problem_label("money_asked", lang),
            if money {
                t(
                    "có người dân phản ánh bị yêu cầu (cần xem xét từng trường hợp)",
                    "citizens reported being asked (each case needs review)",
                )
            } else {
                t("không có phản ánh", "no reports")
            },
        )
        .toned(if money { Tone::Alarm } else { Tone::Plain }),
    );
    let warned: Vec<&str> = [
        ("harassment", &standing.harassment),
        ("repeat_visits", &standing.repeat_visits),
    ]
    .iter()
    .filter(|(_, a)| a.early_warning.signal)
    .map(|(p, _)| cases::problem_label(p, lang))
    .collect();
    facts.push(
        Fact::new(
            t("Cảnh báo sớm", "Early warning"),
            if warned.is_empty() {
                t("không có tín hiệu", "no signal").to_owned()
            } else {
                match lang {
                    Lang::Vi => format!(
                        "có tín hiệu tăng trong {EARLY_WARNING_DAYS} ngày gần nhất ({})",
                        warned.join(", ").to_lowercase()
                    ),
                    Lang::En => format!(
                        "a recent rise in the last {EARLY_WARNING_DAYS} days ({})",
                        warned.join(", ").to_lowercase()
                    ),
                }
            },
        )
        .toned(if warned.is_empty() {
            Tone::Plain
        } else {
            Tone::Alert
        }),
    );
    let mut blocks = vec![Block::Facts {
        title: Some(match lang {
            Lang::Vi => format!(
                "Tình trạng theo dõi hiện nay của cơ quan ({})",
                flag_window_name(window, lang)
            ),
            Lang::En => format!(
                "The agency's current flags ({})",
                flag_window_name(window, lang)
            ),
        }),
        facts,
    }];
    // What the words mean, for those that appear.
    let severities = [standing.harassment.flag, standing.repeat_visits.flag];
    let mut meanings: Vec<&str> = Vec::new();
    if severities.contains(&Severity::Alarm) {
        meanings.push(t(
            "BÁO ĐỘNG: người dân phản ánh vấn đề này nhiều hơn hẳn ở các cơ quan cùng nhóm, khó có thể do ngẫu nhiên.",
            "ALARM: citizens report this problem far more often than at similar agencies; very unlikely to be chance.",
        ));
    }
    if severities.contains(&Severity::Alert) {
        meanings.push(t(
            "Cảnh báo: có thể nhiều hơn ở các cơ quan cùng nhóm; cần theo dõi thêm.",
            "Alert: possibly more often than at similar agencies; worth watching.",
        ));
    }
    if money {
        meanings.push(t(
            "Mỗi phản ánh bị yêu cầu chi thêm tiền được xem xét riêng.",
            "Each report of money asked is looked into on its own.",
        ));
    }
    if !warned.is_empty() {
        meanings.push(t(
            "Cảnh báo sớm: số phản ánh tăng lên trong thời gian gần đây.",
            "Early warning: reports have risen recently.",
        ));
    }
    if !meanings.is_empty() {
        meanings.push(t(
            "Văn phòng cải cách hành chính theo dõi các trường hợp này cùng cơ quan.",
            "The reform office follows these up with the agency.",
        ));
        blocks.push(Block::Para(meanings.join(" ")));
    }
    blocks
}

/// An agency head's monthly digest, in `lang`.
fn agency_message(d: &AgencyDigest<'_>, window: &Window, base: &str, lang: Lang) -> Message {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let row = d.month;
    let period = window.name(lang);
    let enough = row.responses >= MINIMUM;
    let change = Change::of(&row.sipas, d.before.map(|b| &b.sipas));
    let mut subject = format!("[SIPAS] {} – {period}: ", row.name);
    if enough {
        let _ = write!(
            subject,
            "{} {}",
            t("chỉ số hài lòng", "satisfaction index"),
            index_text(&row.sipas, lang)
        );
        if let Some(moved) = change.headline(lang) {
            let _ = write!(subject, ", {moved}");
        }
    } else {
        subject.push_str(not_enough(lang));
    }
    if let Some(flags) = subject_flags(d.standing, lang) {
        let _ = write!(subject, "; {flags}");
    }
    let mut blocks = vec![
        Block::Para(match lang {
            Lang::Vi => format!("Kính gửi Thủ trưởng {},", row.name),
            Lang::En => format!("Dear head of {},", row.name),
        }),
        Block::Para(match lang {
            Lang::Vi => format!("Kết quả khảo sát sự hài lòng {period}:"),
            Lang::En => format!("Satisfaction survey results for {period}:"),
        }),
    ];
    if enough {
        let mut facts = vec![
            Fact::new(
                t("Chỉ số SIPAS", "SIPAS index"),
                index_value(&row.sipas, lang),
            ),
            Fact::new(
                t("So với tháng trước", "Change from the previous month"),
                change.statement(window, lang),
            ),
            Fact::new(
                t("Số phiếu trả lời", "Responses"),
                row.responses.to_string(),
            ),
        ];
        facts.extend(response_rate(row.response_rate, row.dossiers, window, lang));
        blocks.push(Block::Facts { title: None, facts });
        blocks.push(Block::Facts {
            title: Some(t("Năm chỉ số thành phần", "The five factors").into()),
            facts: [
                (
                    t("Tiếp cận dịch vụ", "Access to the service"),
                    &row.factors.access,
                ),
                (
                    t("Thủ tục hành chính", "Administrative procedure"),
                    &row.factors.procedure,
                ),
                (t("Công chức", "Officials"), &row.factors.officials),
                (t("Kết quả", "Result"), &row.factors.result),
                (
                    t("Góp ý, phản ánh, kiến nghị", "Feedback and complaints"),
                    &row.factors.feedback,
                ),
            ]
            .into_iter()
            .map(|(name, i)| Fact::new(name, index_value(i, lang)))
            .collect(),
        });
        blocks.push(Block::Facts {
            title: Some(match lang {
                Lang::Vi => format!("Người dân phản ánh trong {period}"),
                Lang::En => format!("What citizens reported in {period}"),
            }),
            facts: vec![
                Fact::new(
                    t("Bị gây phiền hà, sách nhiễu", "Harassment"),
                    problem_value(&row.harassment, lang),
                ),
                Fact::new(
                    t("Phải đi lại nhiều lần", "Repeated visits"),
                    problem_value(&row.repeat_visits, lang),
                ),
            ],
        });
    } else {
        blocks.push(Block::Para(match lang {
            Lang::Vi => format!(
                "{} có dưới {MINIMUM} phiếu trả lời: để người trả lời được ẩn danh, thư này không nêu số liệu của tháng.",
                capitalised(period)
            ),
            Lang::En => format!(
                "{period} had fewer than {MINIMUM} responses: to keep respondents anonymous, this message gives no figures for the month."
            ),
        }));
    }
    blocks.extend(standing_block(d.standing, window, lang));
    blocks.push(Block::List {
        title: format!(
            "{} ({})",
            t("Hồ sơ theo dõi đang mở", "Open follow-up cases"),
            d.open.len()
        ),
        items: d
            .open
            .iter()
            .map(|c| {
                let mut text = format!(
                    "{} – {}, {} {}",
                    c.problem_label_in(lang),
                    c.status().label_in(lang).to_lowercase(),
                    t("mở ngày", "opened"),
                    crate::clock::day_of(c.opened_at).format("%d/%m/%Y")
                );
                if let Some(due) = c.due_on {
                    let _ = write!(text, ", {} {}", t("hạn", "due"), due.format("%d/%m/%Y"));
                    if c.overdue(d.today) {
                        let _ = write!(text, " ({})", t("quá hạn", "overdue"));
                    }
                }
                Item::new(text).linked(
                    t("Xem hồ sơ", "Open the case"),
                    format!("{base}/admin/cases/{}", c.id),
                )
            })
            .collect(),
        empty: t(
            "Không có hồ sơ theo dõi nào đang mở.",
            "No follow-up case is open.",
        )
        .into(),
    });
    blocks.push(Block::Link {
        label: match lang {
            Lang::Vi => format!("Xem chi tiết {period} trên hệ thống"),
            Lang::En => format!("See {period} in the dashboard"),
        },
        url: format!(
            "{base}/admin/agencies/{}?month={}",
            row.code,
            window.from.format("%Y-%m")
        ),
    });
    blocks.push(footer(lang));
    Message {
        lang,
        subject,
        blocks,
    }
}

/// "tháng 10/2026" → "Tháng 10/2026".
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The reform office's digest.

/// What the reform office's digest of one province is made of.
struct OfficeDigest<'a> {
    province_name: &'a str,
    /// The province over the digest's period and the one before.
    now: &'a Report,
    before: &'a Report,
    /// The province over the monitoring window: the flags.
    standing: &'a Report,
    overdue: &'a [Case],
}

/// The reform office's digest of one province, in `lang`.
fn office_message(d: &OfficeDigest<'_>, window: &Window, base: &str, lang: Lang) -> Message {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let period = window.name(lang);
    let totals = &d.now.totals;
    // A week or month with fewer than 5 responses shows no figure, even to the reform office.
    let enough = totals.responses >= MINIMUM;
    let change = Change::of(&totals.sipas, Some(&d.before.totals.sipas));
    let rows: Vec<&AgencyRow> = d.standing.agencies.iter().flatten().collect();
    let mut flagged: Vec<&AgencyRow> = rows
        .iter()
        .copied()
        .filter(|a| a.flag != Severity::None)
        .collect();
    flagged.sort_by(|a, b| b.flag.cmp(&a.flag).then(a.code.cmp(&b.code)));
    let summary = d.standing.flags.clone().unwrap_or_default();
    let (from, to) = window.flag_window();
    let agency_link = |code: &str| format!("{base}/admin/agencies/{code}?from={from}&to={to}");
    let reasons = |a: &AgencyRow| {
        a.reasons
            .iter()
            .map(|r| lang.pick(&r.vi, &r.en))
            .collect::<Vec<_>>()
            .join(" ")
    };

    let mut subject = match lang {
        Lang::Vi => format!("[SIPAS] Tổng hợp {period} – {}: ", d.province_name),
        Lang::En => format!("[SIPAS] Summary, {period} – {}: ", d.province_name),
    };
    if enough {
        let _ = write!(
            subject,
            "{} {}",
            t("chỉ số hài lòng", "satisfaction index"),
            index_text(&totals.sipas, lang)
        );
        if let Some(moved) = change.headline(lang) {
            let _ = write!(subject, ", {moved}");
        }
    } else {
        subject.push_str(not_enough(lang));
    }
    let _ = match lang {
        Lang::Vi => write!(
            subject,
            "; {} báo động, {} cảnh báo",
            summary.alarms, summary.alerts
        ),
        Lang::En => write!(
            subject,
            "; {} alarm(s), {} alert(s)",
            summary.alarms, summary.alerts
        ),
    };

    let mut blocks = vec![Block::Para(match lang {
        Lang::Vi => format!(
            "Tổng hợp khảo sát sự hài lòng {period} của tỉnh {}:",
            d.province_name
        ),
        Lang::En => format!(
            "Satisfaction survey summary for {period}, province {}:",
            d.province_name
        ),
    })];
    let mut facts = vec![
        Fact::new(
            t("Chỉ số SIPAS toàn tỉnh", "SIPAS index of the province"),
            if enough {
                index_value(&totals.sipas, lang)
            } else {
                not_enough(lang).into()
            },
        ),
        Fact::new(
            match lang {
                Lang::Vi => format!("So với {} trước", window.unit(lang)),
                Lang::En => format!("Change from the previous {}", window.unit(lang)),
            },
            if enough {
                change.statement(window, lang)
            } else {
                Change::NoData.statement(window, lang)
            },
        ),
        Fact::new(
            t("Số phiếu trả lời", "Responses"),
            totals.responses.to_string(),
        ),
    ];
    if enough {
        facts.extend(response_rate(
            totals.response_rate,
            totals.dossiers,
            window,
            lang,
        ));
    }
    blocks.push(Block::Facts { title: None, facts });

    blocks.push(Block::List {
        title: match lang {
            Lang::Vi => format!(
                "Cơ quan bị gắn cờ, theo dữ liệu {}: {}",
                flag_window_name(window, lang),
                summary.statement(lang)
            ),
            Lang::En => format!(
                "Agencies flagged over {}: {}",
                flag_window_name(window, lang),
                summary.statement(lang)
            ),
        },
        items: flagged
            .iter()
            .map(|a| {
                // The reasons begin with the flag's word ("BÁO ĐỘNG – Phiền hà…").
                Item::new(format!("{} ({}): {}", a.name, a.code, reasons(a)))
                    .toned(Tone::of(a.flag))
                    .linked(t("Xem cơ quan", "Open the agency"), agency_link(&a.code))
            })
            .collect(),
        empty: t("Không có cơ quan nào bị gắn cờ.", "No agency is flagged.").into(),
    });
    let review: Vec<&AgencyRow> = rows
        .iter()
        .copied()
        .filter(|a| a.flag == Severity::None && a.review)
        .collect();
    if !review.is_empty() {
        blocks.push(Block::List {
            title: match lang {
                Lang::Vi => format!(
                    "Cần xem xét, dù chưa bị gắn cờ ({})",
                    flag_window_name(window, lang)
                ),
                Lang::En => format!(
                    "To review, though not flagged ({})",
                    flag_window_name(window, lang)
                ),
            },
            items: review
                .iter()
                .map(|a| {
                    Item::new(format!("{} ({}): {}", a.name, a.code, reasons(a)))
                        .linked(t("Xem cơ quan", "Open the agency"), agency_link(&a.code))
                })
                .collect(),
            empty: String::new(),
        });
    }
    let warned: Vec<(&AgencyRow, Vec<&str>)> = rows
        .iter()
        .filter_map(|a| {
            let problems: Vec<&str> = [
                ("harassment", &a.harassment),
                ("repeat_visits", &a.repeat_visits),
            ]
            .iter()
            .filter(|(_, x)| x.early_warning.signal)
            .map(|(p, _)| cases::problem_label(p, lang))
            .collect();
            (!problems.is_empty()).then_some((*a, problems))
        })
        .collect();
    blocks.push(Block::List {
        title: match lang {
            Lang::Vi => format!(
                "Cảnh báo sớm: phản ánh tăng trong {EARLY_WARNING_DAYS} ngày đến {}",
                to.format("%d/%m/%Y")
            ),
            Lang::En => format!(
                "Early warnings: reports rising in the {EARLY_WARNING_DAYS} days to {}",
                to.format("%d/%m/%Y")
            ),
        },
        items: warned
            .iter()
            .map(|(a, problems)| {
                Item::new(format!(
                    "{} ({}): {}",
                    a.name,
                    a.code,
                    problems.join(", ").to_lowercase()
                ))
                .toned(Tone::Alert)
                .linked(t("Xem cơ quan", "Open the agency"), agency_link(&a.code))
            })
            .collect(),
        empty: t("Không có.", "None.").into(),
    });
    blocks.push(Block::List {
        title: format!(
            "{} ({})",
            t("Hồ sơ theo dõi quá hạn", "Overdue follow-up cases"),
            d.overdue.len()
        ),
        items: d
            .overdue
            .iter()
            .map(|c| {
                Item::new(format!(
                    "#{} {} – {}: {}, {} {}",
                    c.id,
                    c.agency_name,
                    c.problem_label_in(lang),
                    c.status().label_in(lang).to_lowercase(),
                    t("hạn", "due"),
                    c.due_on
                        .map(|d| d.format("%d/%m/%Y").to_string())
                        .unwrap_or_default()
                ))
                .linked(
                    t("Xem hồ sơ", "Open the case"),
                    format!("{base}/admin/cases/{}", c.id),
                )
            })
            .collect(),
        empty: t("Không có.", "None.").into(),
    });
    blocks.push(Block::List {
        title: match lang {
            Lang::Vi => format!(
                "Chỉ số hài lòng thay đổi rõ rệt so với {} trước (cơ quan có từ {CHANGE_MINIMUM} câu trả lời mỗi kỳ)",
                window.unit(lang)
            ),
            Lang::En => format!(
                "Clear changes of the satisfaction index from the previous {} (agencies with at least {CHANGE_MINIMUM} answers in each)",
                window.unit(lang)
            ),
        },
        items: clear_changes(d.now, d.before)
            .iter()
            .map(|(a, before, change)| {
                Item::new(format!(
                    "{} ({}): {}; {} → {}",
                    a.name,
                    a.code,
                    change.statement(window, lang),
                    index_text(&before.sipas, lang),
                    index_text(&a.sipas, lang)
                ))
            })
            .collect(),
        empty: t(
            "Không có cơ quan nào thay đổi rõ rệt.",
            "No agency changed clearly.",
        )
        .into(),
    });
    blocks.push(Block::Link {
        label: match lang {
            Lang::Vi => format!("Xem chi tiết {period} trên hệ thống"),
            Lang::En => format!("See {period} in the dashboard"),
        },
        url: format!("{base}/admin?from={}&to={}", window.from, window.to),
    });
    blocks.push(footer(lang));
    Message {
        lang,
        subject,
        blocks,
    }
}

/// Agencies whose index changed clearly between the two reports (the interval of the
/// difference excludes 0, at least [`CHANGE_MINIMUM`] answers each time), largest first.
fn clear_changes<'a>(
    now: &'a Report,
    before: &'a Report,
) -> Vec<(&'a AgencyRow, &'a AgencyRow, Change)> {
    let earlier: BTreeMap<&str, &AgencyRow> = before
        .agencies
        .iter()
        .flatten()
        .map(|a| (a.code.as_str(), a))
        .collect();
    let mut out: Vec<(&AgencyRow, &AgencyRow, Change)> = now
        .agencies
        .iter()
        .flatten()
        .filter_map(|a| {
            let b = *earlier.get(a.code.as_str())?;
            if a.sipas.n < CHANGE_MINIMUM || b.sipas.n < CHANGE_MINIMUM {
                return None;
            }
            match Change::of(&a.sipas, Some(&b.sipas)) {
                c @ Change::Clear(..) => Some((a, b, c)),
                Change::Unclear | Change::NoData => None,
            }
        })
        .collect();
    let size = |c: &Change| match c {
        Change::Clear(d, _, _) => d.abs(),
        Change::Unclear | Change::NoData => 0.0,
    };
    out.sort_by(|x, y| {
        size(&y.2)
            .total_cmp(&size(&x.2))
            .then(x.0.code.cmp(&y.0.code))
    });
    out
}

// ---------------------------------------------------------------------------------------------
// Who gets what.

fn build(conn: &mut DbConn, from: NaiveDate, to: NaiveDate, province: &str) -> QueryResult<Report> {
    let q = Query {
        from,
        to,
        province: Some(province.to_owned()),
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
        map: Default::default(),
    };
    report::build(conn, &q).map_err(|e| match e {
        report::ReportError::Database(d) => d,
        other => diesel::result::Error::QueryBuilderError(
            format!("the digest's report for {province} ({from} – {to}): {other}").into(),
        ),
    })
}

/// Addresses that asked (through an admin) not to receive digests.
fn unsubscribed(conn: &mut DbConn) -> QueryResult<BTreeSet<String>> {
    Ok(mail_recipients::table
        .filter(mail_recipients::active.eq(false))
        .select(mail_recipients::email)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// The language of every account, by email: a recipient who has an account reads its digest in
/// the account's language; any other address in Vietnamese.
fn account_languages(conn: &mut DbConn) -> QueryResult<BTreeMap<String, Lang>> {
    Ok(users::table
        .select((users::email, users::lang))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(email, lang)| (email, Lang::negotiate(Some(&lang), None)))
        .collect())
}

/// Composes the digests of `period` for every recipient (or one agency's), in one list:
/// (message, outbox kind, outbox key).
pub fn compose(
    conn: &mut DbConn,
    settings: &Settings,
    period: Period,
    agency: Option<&str>,
    today: NaiveDate,
) -> QueryResult<Vec<(Email, &'static str, String)>> {
    let window = period.window(today);
    let base = settings.public_url().to_owned();
    let off = unsubscribed(conn)?;
    let languages = account_languages(conn)?;
    let lang_of = |email: &str| languages.get(email).copied().unwrap_or_default();
    // Agency heads read released months only (`report::disclosure`): weekly figures could be
    // subtracted from the month's, so their digest is the monthly one; the weekly one goes to
    // the reform office only.
    let mut heads: Vec<(i64, String)> = Vec::new();
    if period == Period::Monthly {
        heads = users::table
            .filter(users::role.eq(Role::AgencyHead.as_str()))
            .filter(users::disabled.eq(false))
            .filter(users::agency_id.is_not_null())
            .select((users::agency_id.assume_not_null(), users::email))
            .load(conn)?;
        // Extra recipients of an agency read what its head reads.
        heads.extend(
            mail_recipients::table
                .filter(mail_recipients::active.eq(true))
                .filter(mail_recipients::agency_id.is_not_null())
                .select((
                    mail_recipients::agency_id.assume_not_null(),
                    mail_recipients::email,
                ))
                .load::<(i64, String)>(conn)?,
        );
    }
    let agency_list: Vec<(i64, String, i64)> = agencies::table
        .select((agencies::id, agencies::code, agencies::province_id))
        .load(conn)?;
    let province_list: Vec<(i64, String, String)> = provinces::table
        .select((provinces::id, provinces::code, provinces::name))
        .order(provinces::code)
        .load(conn)?;
    let all_cases = cases::list(conn)?;
    let (flag_from, flag_to) = window.flag_window();
    let mut out = Vec::new();
    for (province_id, code, province_name) in &province_list {
        if !agency_list.iter().any(|a| a.2 == *province_id) {
            continue;
        }
        let now_report = build(conn, window.from, window.to, code)?;
        let before_report = build(conn, window.previous.0, window.previous.1, code)?;
        let standing = build(conn, flag_from, flag_to, code)?;
        let row_of = |report: &Report, code: &str| -> Option<AgencyRow> {
            report
                .agencies
                .iter()
                .flatten()
                .find(|r| r.code == code)
                .cloned()
        };
        for (agency_id, email) in &heads {
            let Some((_, agency_code, p)) = agency_list.iter().find(|a| a.0 == *agency_id) else {
                continue;
            };
            if p != province_id
                || off.contains(email)
                || agency.is_some_and(|only| only != agency_code)
            {
                continue;
            }
            let (Some(month), Some(current)) = (
                row_of(&now_report, agency_code),
                row_of(&standing, agency_code),
            ) else {
                continue;
            };
            let before = row_of(&before_report, agency_code);
            let open: Vec<Case> = all_cases
                .iter()
                .filter(|c| &c.agency_code == agency_code && !c.status().is_closed())
                .cloned()
                .collect();
            let digest = AgencyDigest {
                month: &month,
                before: before.as_ref(),
                standing: &current,
                open: &open,
                today,
            };
            out.push((
                agency_message(&digest, &window, &base, lang_of(email)).email(email),
                "digest_agency",
                window.key.clone(),
            ));
        }
        // The reform office hears of every province with responses in the monitoring window:
        // a quiet week still has its standing flags and overdue cases.
        if agency.is_none() && standing.totals.responses > 0 {
            let mut office: BTreeSet<String> =
                settings.mail.reform_office.iter().cloned().collect();
            office.extend(
                mail_recipients::table
                    .filter(mail_recipients::active.eq(true))
                    .filter(mail_recipients::agency_id.is_null())
                    .select(mail_recipients::email)
                    .load::<String>(conn)?,
            );
            let province_agencies: BTreeSet<&str> = agency_list
                .iter()
                .filter(|a| a.2 == *province_id)
                .map(|a| a.1.as_str())
                .collect();
            let overdue: Vec<Case> = all_cases
                .iter()
                .filter(|c| c.overdue(today) && province_agencies.contains(c.agency_code.as_str()))
                .cloned()
                .collect();
            let digest = OfficeDigest {
                province_name,
                now: &now_report,
                before: &before_report,
                standing: &standing,
                overdue: &overdue,
            };
            for email in office.iter().filter(|e| !off.contains(*e)) {
                out.push((
                    office_message(&digest, &window, &base, lang_of(email)).email(email),
                    "digest_office",
                    format!("{}:{code}", window.key),
                ));
            }
        }
    }
    Ok(out)
}

/// Queues the digests of `period` (each recipient and period at most once); returns how many
/// were newly queued.
pub fn queue(
    db: &Database,
    settings: &Settings,
    period: Period,
    agency: Option<&str>,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let emails =
        db.read(|conn| Ok::<_, StoreError>(compose(conn, settings, period, agency, today)?))?;
    let domain = super::message_domain(settings);
    db.write_transaction(|conn| {
        let mut queued = 0;
        for (email, kind, key) in &emails {
            if enqueue(conn, email, kind, key, now, &domain)? {
                queued += 1;
            }
        }
        Ok(queued)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn index(count: u64, n: u64) -> Index {
        let share = crate::report::indicators::Share::of(count as i64, n as i64);
        Index {
            index: share.rate,
            ci_low: share.ci_low,
            ci_high: share.ci_high,
            count,
            n,
            mean_score: None,
            displayable: share.displayable,
        }
    }

    #[test]
    fn a_change_is_a_change_only_when_its_interval_excludes_zero() {
        let month = Period::Monthly.window(d("2026-11-01"));
        // 14 of 25 satisfied (56%, interval 37–73%) after 22 of 28 (78.6%): -22.6 points, but
        // the interval of the difference includes 0.
        let unclear = Change::of(&index(14, 25), Some(&index(22, 28)));
        assert!(matches!(unclear, Change::Unclear));
        assert_eq!(unclear.headline(Lang::Vi), None);
        assert_eq!(unclear.statement(&month, Lang::Vi), "không thay đổi rõ rệt");
        assert_eq!(unclear.statement(&month, Lang::En), "no clear change");
        // 60 of 100 after 20 of 100: clear, with its interval.
        let clear = Change::of(&index(60, 100), Some(&index(20, 100)));
        assert_eq!(
            clear.headline(Lang::Vi).as_deref(),
            Some("tăng 40,0 điểm %")
        );
        assert_eq!(clear.headline(Lang::En).as_deref(), Some("up 40.0 points"));
        assert!(
            clear
                .statement(&month, Lang::Vi)
                .starts_with("tăng 40,0 điểm % (KTC 95% của chênh lệch: +"),
            "{}",
            clear.statement(&month, Lang::Vi)
        );
        let fall = Change::of(&index(20, 100), Some(&index(60, 100)));
        assert_eq!(fall.headline(Lang::Vi).as_deref(), Some("giảm 40,0 điểm %"));
        // Fewer than 10 answers on either side: nothing to compare.
        assert!(matches!(
            Change::of(&index(8, 9), Some(&index(20, 100))),
            Change::NoData
        ));
        assert!(matches!(Change::of(&index(8, 20), None), Change::NoData));
    }

    #[test]
    fn windows_are_the_last_complete_week_and_month() {
        let w = Period::Weekly.window(d("2026-11-24")); // a Tuesday
        assert_eq!((w.from, w.to), (d("2026-11-16"), d("2026-11-22")));
        assert_eq!(w.previous, (d("2026-11-09"), d("2026-11-15")));
        assert_eq!(w.key, "weekly:2026-W47");
        assert_eq!(w.flag_window(), (d("2025-11-23"), d("2026-11-22")));
        let m = Period::Monthly.window(d("2026-11-01"));
        assert_eq!((m.from, m.to), (d("2026-10-01"), d("2026-10-31")));
        assert_eq!(m.previous, (d("2026-09-01"), d("2026-09-30")));
        assert_eq!(m.key, "monthly:2026-10");
        let jan = Period::Monthly.window(d("2026-01-15"));
        assert_eq!(jan.from, d("2025-12-01"));
    }
}
