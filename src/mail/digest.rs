//! Digests: an agency's month for its head (released months only, like the head's pages), and
//! the province's week or month for the reform office. Aggregates only — no free text, nothing
//! from fewer than 5 responses — in Vietnamese, as plain text and simple inline-styled HTML.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use maud::{Markup, html};

use super::Email;
use super::outbox::enqueue;
use crate::accounts::Role;
use crate::cases;
use crate::config::Settings;
use crate::db::DbConn;
use crate::db::schema::{agencies, mail_recipients, users};
use crate::domain::Lang;
use crate::report::indicators::{Index, Share};
use crate::report::numbers::{index_text, percent, points, share_text};
use crate::report::{self, AgencyRow, GroupBy, Query, Report};
use crate::stats::Severity;
use crate::stats::change::newcombe_difference;

use crate::report::disclosure::MINIMUM;

/// Which digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Weekly,
    Monthly,
}

/// A digest period: the last complete week (Monday–Sunday) or month before `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
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

fn build(conn: &mut DbConn, from: NaiveDate, to: NaiveDate, province: &str) -> QueryResult<Report> {
    let q = Query {
        from,
        to,
        province: Some(province.to_owned()),
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
    };
    report::build(conn, &q).map_err(|e| match e {
        report::ReportError::Database(d) => d,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })
}

fn pct(i: &Index) -> String {
    index_text(i, Lang::Vi)
}

/// "+3,1 điểm %" ("+3.1 points") and whether it is significant, when both periods have enough
/// answers.
fn change(now: &Index, before: Option<&Index>, lang: Lang) -> Option<(String, bool)> {
    let before = before?;
    let (a, b) = (now.index?, before.index?);
    if !now.displayable || !before.displayable {
        return None;
    }
    let ci = newcombe_difference(now.count, now.n, before.count, before.n, 0.95)?;
    let significant = ci.low > 0.0 || ci.high < 0.0;
    let points = format!("{}{}", points(a - b, lang), lang.pick(" điểm %", " points"));
    Some((points, significant))
}

/// One agency's digest, in the recipient's language.
pub fn agency_email(
    row: &AgencyRow,
    before: Option<&AgencyRow>,
    open: &[cases::Case],
    window: &Window,
    base: &str,
    to: &str,
    lang: Lang,
) -> Email {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let period = match lang {
        Lang::Vi => window.name.clone(),
        Lang::En => window.name_en.clone(),
    };
    let link = format!(
        "{base}/admin/agencies/{}?month={}",
        row.code,
        window.from.format("%Y-%m")
    );
    let enough = row.responses >= MINIMUM;
    let moved = change(&row.sipas, before.map(|b| &b.sipas), lang);
    let pct = |i: &Index| index_text(i, lang);
    let share = |s: &Share| share_text(s, lang);
    let subject = if enough {
        format!(
            "[SIPAS] {}: {period} – {} {}",
            row.name,
            t("chỉ số hài lòng", "satisfaction index"),
            pct(&row.sipas)
        )
    } else {
        format!(
            "[SIPAS] {}: {period} – {}",
            row.name,
            t("chưa đủ dữ liệu", "not enough data")
        )
    };
    let factors = [
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
    ];
    let problems = [
        (
            t("Phản ánh phiền hà, sách nhiễu", "Reports of harassment"),
            &row.harassment,
        ),
        (
            t("Phải đi lại nhiều lần", "Repeated visits"),
            &row.repeat_visits,
        ),
    ];
    let significant_note = t(
        " (thay đổi có ý nghĩa thống kê)",
        " (statistically significant)",
    );
    let too_few = match lang {
        Lang::Vi => format!(
            "Kỳ này có dưới {MINIMUM} phiếu trả lời nên chưa đủ dữ liệu để báo cáo số liệu."
        ),
        Lang::En => format!(
            "Fewer than {MINIMUM} responses this period: not enough data to report figures."
        ),
    };
    let greeting = match lang {
        Lang::Vi => format!("Kính gửi Thủ trưởng {},", row.name),
        Lang::En => format!("Dear head of {},", row.name),
    };
    let intro = match lang {
        Lang::Vi => format!("Kết quả khảo sát sự hài lòng {period}:"),
        Lang::En => format!("Satisfaction survey results for {period}:"),
    };
    let mut text = format!("{greeting}\n\n{intro}\n\n");
    if enough {
        text.push_str(&format!(
            "{}: {}",
            t("Chỉ số SIPAS", "SIPAS index"),
            pct(&row.sipas)
        ));
        if let (Some(lo), Some(hi)) = (row.sipas.ci_low, row.sipas.ci_high) {
            text.push_str(&format!(
                " ({}: {}–{})",
                t("KTC 95%", "95% CI"),
                percent(lo, lang).trim_end_matches('%'),
                percent(hi, lang)
            ));
        }
        text.push('\n');
        if let Some((delta, significant)) = &moved {
            text.push_str(&format!(
                "{}: {delta}{}\n",
                t("So với kỳ trước", "Change from the previous period"),
                if *significant { significant_note } else { "" }
            ));
        }
        text.push_str(&format!(
            "{}: {}",
            t("Số phiếu trả lời", "Responses"),
            row.responses
        ));
        if let Some(rate) = row.response_rate {
            text.push_str(&format!(
                "; {} {}",
                t("tỷ lệ phản hồi", "response rate"),
                percent(rate, lang)
            ));
        }
        text.push_str(&format!(
            "\n\n{}:\n",
            t("Năm chỉ số thành phần", "The five factors")
        ));
        for (name, i) in factors {
            text.push_str(&format!("- {name}: {}\n", pct(i)));
        }
        for (name, a) in problems {
            text.push_str(&format!(
                "\n{name}: {} ({}: {}){}",
                share(&a.share()),
                lang.pick(&a.peers, &a.peers_en),
                a.baseline
                    .map(|b| percent(b, lang))
                    .unwrap_or_else(|| "—".into()),
                match a.flag {
                    Severity::Alarm => t(" – BÁO ĐỘNG", " – ALARM"),
                    Severity::Alert => t(" – cảnh báo", " – alert"),
                    Severity::None => "",
                }
            ));
        }
        text.push('\n');
    } else {
        text.push_str(&too_few);
        text.push('\n');
    }
    if !open.is_empty() {
        text.push_str(&format!(
            "\n{}:\n",
            t("Hồ sơ theo dõi đang mở", "Open follow-up cases")
        ));
        for c in open {
            let due = c
                .due_on
                .map(|d| format!(", {} {}", t("hạn", "due"), d.format("%d/%m/%Y")))
                .unwrap_or_default();
            text.push_str(&format!(
                "- #{} {}: {}{due}\n",
                c.id,
                c.problem_label(),
                c.status().label()
            ));
        }
    }
    text.push_str(&format!(
        "\n{}: {link}\n\n{}\n",
        t("Xem chi tiết", "Details"),
        t(
            "Thư này được gửi tự động từ hệ thống khảo sát sự hài lòng (SIPAS).",
            "This message was sent automatically by the satisfaction survey system (SIPAS)."
        )
    ));
    let html = wrap(
        lang,
        html! {
            p { (greeting) }
            p { (intro) }
            @if enough {
                table style="border-collapse:collapse;width:100%;max-width:560px" {
                    (line(t("Chỉ số SIPAS", "SIPAS index"), &pct(&row.sipas)))
                    @if let Some((delta, significant)) = &moved { (line(t("So với kỳ trước", "Change from the previous period"), &format!("{delta}{}", if *significant { significant_note } else { "" }))) }
                    (line(t("Số phiếu trả lời", "Responses"), &row.responses.to_string()))
                    @if let Some(rate) = row.response_rate { (line(t("Tỷ lệ phản hồi", "Response rate"), &percent(rate, lang))) }
                    @for (name, i) in factors { (line(name, &pct(i))) }
                    @for (name, a) in problems { (line(name, &share(&a.share()))) }
                }
            } @else {
                p { (too_few) }
            }
            @if !open.is_empty() {
                p { strong { (t("Hồ sơ theo dõi đang mở", "Open follow-up cases")) ":" } }
                ul { @for c in open { li { "#" (c.id) " " (c.problem_label()) ": " (c.status().label()) } } }
            }
            p { a href=(link) style="color:#0b4f9c" { (t("Xem chi tiết trên hệ thống", "See the details in the dashboard")) } }
        },
    );
    Email {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

/// The reform office's digest of the province.
pub fn office_email(
    report: &Report,
    before: &Report,
    overdue: &[cases::Case],
    window: &Window,
    base: &str,
    to: &str,
) -> Email {
    let t = &report.totals;
    let moved = change(&t.sipas, Some(&before.totals.sipas), Lang::Vi);
    let flagged: Vec<&AgencyRow> = report
        .agencies
        .iter()
        .flatten()
        .filter(|a| a.flag != Severity::None)
        .collect();
    // Agencies whose index moved most, among those with at least 30 valid answers both times.
    let mut moves: Vec<(f64, &AgencyRow)> = report
        .agencies
        .iter()
        .flatten()
        .filter_map(|a| {
            let b = before
                .agencies
                .iter()
                .flatten()
                .find(|b| b.code == a.code)?;
            (a.sipas.n >= 30 && b.sipas.n >= 30).then_some((a.sipas.index? - b.sipas.index?, a))
        })
        .collect();
    moves.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.code.cmp(&y.1.code)));
    let improved: Vec<&(f64, &AgencyRow)> = moves.iter().filter(|m| m.0 > 0.0).take(5).collect();
    let declined: Vec<&(f64, &AgencyRow)> =
        moves.iter().rev().filter(|m| m.0 < 0.0).take(5).collect();
    let points = |d: f64| format!("{:+.1} điểm %", d * 100.0).replace('.', ",");
    let subject = format!(
        "[SIPAS] Tổng hợp {} – chỉ số hài lòng {}, {} cơ quan bị gắn cờ",
        window.name,
        pct(&t.sipas),
        flagged.len()
    );
    let mut text = format!(
        "Tổng hợp khảo sát sự hài lòng {}:\n\nChỉ số SIPAS toàn tỉnh: {}",
        window.name,
        pct(&t.sipas)
    );
    if let Some((delta, significant)) = &moved {
        text.push_str(&format!(
            " ({delta} so với kỳ trước{})",
            if *significant {
                ", có ý nghĩa thống kê"
            } else {
                ""
            }
        ));
    }
    text.push_str(&format!("\nSố phiếu trả lời: {}\n", t.responses));
    text.push_str(&format!("\nCơ quan bị gắn cờ ({}):\n", flagged.len()));
    for a in &flagged {
        for r in &a.reasons {
            text.push_str(&format!("- {} ({}): {}\n", a.name, a.code, r.vi));
        }
    }
    text.push_str(&format!("\nHồ sơ theo dõi quá hạn ({}):\n", overdue.len()));
    for c in overdue {
        text.push_str(&format!(
            "- #{} {} – {}: hạn {}\n",
            c.id,
            c.agency_name,
            c.problem_label(),
            c.due_on.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    for (title, list) in [
        ("Cải thiện nhiều nhất", &improved),
        ("Giảm nhiều nhất", &declined),
    ] {
        text.push_str(&format!("\n{title}:\n"));
        for (d, a) in list.iter() {
            text.push_str(&format!("- {} ({})\n", a.name, points(*d)));
        }
        if list.is_empty() {
            text.push_str("(không có cơ quan đủ 30 phiếu ở cả hai kỳ)\n");
        }
    }
    let link = format!("{base}/admin?from={}&to={}", window.from, window.to);
    text.push_str(&format!("\nXem chi tiết: {link}\n"));
    let html = wrap(
        Lang::Vi,
        html! {
            p { "Tổng hợp khảo sát sự hài lòng " (window.name) ":" }
            table style="border-collapse:collapse;width:100%;max-width:560px" {
                (line("Chỉ số SIPAS toàn tỉnh", &pct(&t.sipas)))
                @if let Some((delta, _)) = &moved { (line("So với kỳ trước", delta)) }
                (line("Số phiếu trả lời", &t.responses.to_string()))
                (line("Cơ quan bị gắn cờ", &flagged.len().to_string()))
                (line("Hồ sơ quá hạn", &overdue.len().to_string()))
            }
            @if !flagged.is_empty() {
                p { strong { "Cơ quan bị gắn cờ" } }
                ul { @for a in &flagged { @for r in &a.reasons { li { strong { (a.name) } ": " (r.vi) } } } }
            }
            @if !improved.is_empty() { p { strong { "Cải thiện nhiều nhất" } } ul { @for (d, a) in &improved { li { (a.name) " (" (points(*d)) ")" } } } }
            @if !declined.is_empty() { p { strong { "Giảm nhiều nhất" } } ul { @for (d, a) in &declined { li { (a.name) " (" (points(*d)) ")" } } } }
            p { a href=(link) style="color:#0b4f9c" { "Xem chi tiết trên hệ thống" } }
        },
    );
    Email {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

fn line(label: &str, value: &str) -> Markup {
    html! {
        tr {
            td style="padding:4px 8px;border-bottom:1px solid #dde1e6" { (label) }
            td style="padding:4px 8px;border-bottom:1px solid #dde1e6;text-align:right;font-weight:bold" { (value) }
        }
    }
}

fn wrap(lang: Lang, body: Markup) -> String {
    html! {
        (maud::DOCTYPE)
        html lang=(lang.tag()) {
            head { meta charset="utf-8"; }
            body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;color:#1a1a1a;line-height:1.5" {
                div style="background:#9b1c1c;color:#ffffff;padding:8px 12px;font-weight:bold" { "Khảo sát sự hài lòng (SIPAS)" }
                div style="padding:12px" { (body) }
            }
        }
    }
    .into_string()
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

/// Composes the digests of `period` for every recipient (or one agency's), in one list.
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
    // Agency heads and extra recipients, by agency id.
    // (agency, email, language): heads in the language of their account, extras in Vietnamese.
    let mut targets: Vec<(i64, String, String)> = users::table
        .filter(users::role.eq(Role::AgencyHead.as_str()))
        .filter(users::disabled.eq(false))
        .filter(users::agency_id.is_not_null())
        .select((
            users::agency_id.assume_not_null(),
            users::email,
            users::lang,
        ))
        .load(conn)?;
    targets.extend(
        mail_recipients::table
            .filter(mail_recipients::active.eq(true))
            .filter(mail_recipients::agency_id.is_not_null())
            .select((
                mail_recipients::agency_id.assume_not_null(),
                mail_recipients::email,
            ))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .map(|(agency, email)| (agency, email, "vi".to_owned())),
    );
    let agency_list: Vec<(i64, String, i64)> = agencies::table
        .select((agencies::id, agencies::code, agencies::province_id))
        .load(conn)?;
    let provinces: BTreeSet<i64> = agency_list.iter().map(|a| a.2).collect();
    let mut out = Vec::new();
    for province_id in provinces {
        let code: String = crate::db::schema::provinces::table
            .find(province_id)
            .select(crate::db::schema::provinces::code)
            .first(conn)?;
        let now_report = build(conn, window.from, window.to, &code)?;
        let before_report = build(conn, window.previous.0, window.previous.1, &code)?;
        let all_cases = cases::list(conn)?;
        // Agency heads read released months only (`report::disclosure`): weekly figures
        // could be subtracted from the month's. Their digest is the monthly one.
        let heads = if period == Period::Monthly {
            targets.as_slice()
        } else {
            &[]
        };
        for (agency_id, email, lang) in heads {
            let Some((_, agency_code, p)) = agency_list.iter().find(|a| a.0 == *agency_id) else {
                continue;
            };
            if *p != province_id
                || off.contains(email)
                || agency.is_some_and(|only| only != agency_code)
            {
                continue;
            }
            let Some(row) = now_report
                .agencies
                .iter()
                .flatten()
                .find(|r| &r.code == agency_code)
            else {
                continue;
            };
            let before = before_report
                .agencies
                .iter()
                .flatten()
                .find(|r| &r.code == agency_code);
            let open: Vec<cases::Case> = all_cases
                .iter()
                .filter(|c| &c.agency_code == agency_code && !c.status().is_closed())
                .cloned()
                .collect();
            out.push((
                agency_email(
                    row,
                    before,
                    &open,
                    &window,
                    &base,
                    email,
                    Lang::negotiate(Some(lang), None),
                ),
                "digest_agency",
                window.key.clone(),
            ));
        }
        // The reform office hears of every province that had responses.
        if agency.is_none() && now_report.totals.responses > 0 {
            let mut office: BTreeSet<String> =
                settings.mail.reform_office.iter().cloned().collect();
            office.extend(
                mail_recipients::table
                    .filter(mail_recipients::active.eq(true))
                    .filter(mail_recipients::agency_id.is_null())
                    .select(mail_recipients::email)
                    .load::<String>(conn)?,
            );
            let overdue: Vec<cases::Case> = all_cases
                .iter()
                .filter(|c| c.overdue(today))
                .cloned()
                .collect();
            for email in office.iter().filter(|e| !off.contains(*e)) {
                out.push((
                    office_email(&now_report, &before_report, &overdue, &window, &base, email),
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
    conn: &mut DbConn,
    settings: &Settings,
    period: Period,
    agency: Option<&str>,
    today: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let emails = compose(conn, settings, period, agency, today)?;
    let domain = super::message_domain(settings);
    conn.transaction(|conn| {
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

    #[test]
    fn windows_are_the_last_complete_week_and_month() {
        let w = Period::Weekly.window(d("2026-11-24")); // a Tuesday
        assert_eq!((w.from, w.to), (d("2026-11-16"), d("2026-11-22")));
        assert_eq!(w.previous, (d("2026-11-09"), d("2026-11-15")));
        assert_eq!(w.key, "weekly:2026-W47");
        let m = Period::Monthly.window(d("2026-11-01"));
        assert_eq!((m.from, m.to), (d("2026-10-01"), d("2026-10-31")));
        assert_eq!(m.previous, (d("2026-09-01"), d("2026-09-30")));
        assert_eq!(m.key, "monthly:2026-10");
        let jan = Period::Monthly.window(d("2026-01-15"));
        assert_eq!(jan.from, d("2025-12-01"));
    }
}
