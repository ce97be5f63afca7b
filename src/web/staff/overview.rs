//! The overview page: a province's SIPAS index and factors for a period with the change from the
//! previous period, counts, the monthly trend, flagged agencies first, and breakdowns by level
//! and field. All numbers come from `report::build`. Viewing it changes nothing: cases and alarm
//! mail come from the scheduled monitoring sweep (`crate::monitoring`).

use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};

use super::charts;
use super::guard::Viewer;
use super::layout::page;
use super::period::PeriodQuery;
use crate::accounts::Role;
use crate::domain::Lang;
use crate::report::flags::Problem;
use crate::report::indicators::Indicators;
use crate::report::numbers::{count, percent, points, share_text};
use crate::report::{self, AgencyRow, GroupBy, Query, Report};
use crate::stats::Severity;
use crate::stats::change::newcombe_difference;
use crate::web::error::AppError;
use crate::web::html::{ok, see_other};
use crate::web::state::AppState;
use crate::web::views::{factors_table, flag_badge, groups_table, index_with_interval};

fn query(from: NaiveDate, to: NaiveDate, province: &Option<String>, group_by: GroupBy) -> Query {
    Query {
        from,
        to,
        province: province.clone(),
        level: None,
        agencies: None,
        group_by,
    }
}

struct Overview {
    current: Report,
    previous: Report,
    months: Report,
    levels: Report,
    fields: Report,
}

/// `GET /admin`: the overview (admins and reviewers; agency heads go to their agency).
pub async fn show_overview(
    viewer: Viewer,
    state: web::Data<AppState>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    match viewer.role() {
        Role::AgencyHead => return Ok(see_other("/admin/agencies/me")),
        Role::Admin | Role::Reviewer => {}
    }
    let (from, to) = q.period();
    let province = q.province_code();
    let length = to - from;
    let (prev_to, prev_from) = (from - Duration::days(1), from - Duration::days(1) - length);
    let data = state
        .read(move |conn| {
            let mut build = |q: Query| report::build(conn, &q);
            Ok(Overview {
                current: build(query(from, to, &province, GroupBy::Agency))?,
                previous: build(query(prev_from, prev_to, &province, GroupBy::Province))?,
                months: build(query(from, to, &province, GroupBy::Month))?,
                levels: build(query(from, to, &province, GroupBy::Level))?,
                fields: build(query(from, to, &province, GroupBy::Field))?,
            })
        })
        .await?;
    let lang = viewer.lang();
    let body = overview_body(&data, from, to, q.province.as_deref().unwrap_or(""), lang);
    Ok(ok(page(
        Some(&viewer),
        lang.pick("Tổng quan", "Overview"),
        body,
    )))
}

fn change(current: &Indicators, previous: &Indicators, lang: Lang) -> Markup {
    let (c, p) = (&current.sipas, &previous.sipas);
    match (
        c.index,
        p.index,
        newcombe_difference(c.count, c.n, p.count, p.n, 0.95),
    ) {
        (Some(a), Some(b), Some(ci)) if c.displayable && p.displayable => {
            html! {
                (points(a - b, lang)) (lang.pick(" điểm % so với kỳ trước ", " points from the previous period "))
                span.muted { "(" (lang.pick("KTC 95%", "95% CI")) ": " (points(ci.low, lang)) (lang.pick(" đến ", " to ")) (points(ci.high, lang)) ")" }
            }
        }
        _ => {
            html! { span.muted { (lang.pick("kỳ trước chưa đủ dữ liệu để so sánh", "not enough data in the previous period to compare")) } }
        }
    }
}

fn overview_body(
    d: &Overview,
    from: NaiveDate,
    to: NaiveDate,
    province: &str,
    lang: Lang,
) -> Markup {
    let tr = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let t = &d.current.totals;
    let agencies: Vec<&AgencyRow> = d
        .current
        .agencies
        .iter()
        .flatten()
        .filter(|a| a.flag != Severity::None || a.review)
        .collect();
    // Early warnings are listed apart: they never crowd the watch list.
    let rising: Vec<&AgencyRow> = d
        .current
        .agencies
        .iter()
        .flatten()
        .filter(|a| a.early_warning && a.flag == Severity::None && !a.review)
        .collect();
    html! {
        h1 { (tr("Tổng quan chỉ số hài lòng", "Satisfaction overview")) }
        form.filters method="get" action="/admin" {
            div { label for="from" { (tr("Từ ngày", "From")) } br; input #from type="date" name="from" value=(from); }
            div { label for="to" { (tr("Đến ngày", "To")) } br; input #to type="date" name="to" value=(to); }
            div { label for="province" { (tr("Tỉnh (mã)", "Province (code)")) } br; input #province type="text" name="province" value=(province) size="6"; }
            div { button type="submit" { (tr("Xem", "Show")) } }
        }
        p {
            (tr("Tải về: ", "Download: "))
            a href=(format!("/admin/export/report.xlsx?from={from}&to={to}&province={province}")) { (tr("báo cáo (Excel)", "report (Excel)")) } " · "
            a href=(format!("/admin/export/report.csv?from={from}&to={to}&province={province}")) { (tr("báo cáo (CSV)", "report (CSV)")) } " · "
            a href="/admin/export/responses.csv" { (tr("toàn bộ phiếu trả lời (CSV, chỉ quản trị)", "all responses (CSV, admins only)")) }
        }
        div.cards {
            div.card { div { (tr("Chỉ số SIPAS", "SIPAS index")) } div.value { (index_with_interval(&t.sipas, lang)) } div.note { (change(t, &d.previous.totals, lang)) } }
            div.card { div { (tr("Số phiếu trả lời", "Responses")) } div.value { (count(t.responses, lang)) } }
            div.card { div { (tr("Hồ sơ đã báo", "Dossiers reported")) } div.value { (count(t.dossiers.unwrap_or(0), lang)) } }
            div.card { div { (tr("Tỷ lệ phản hồi", "Response rate")) } div.value { (t.response_rate.map(|r| percent(r, lang)).unwrap_or_else(|| "—".into())) } }
            div.card { div { (tr("Phản ánh phiền hà", "Harassment reports")) } div.value { (share_text(&t.harassment, lang)) } }
            div.card { div { (tr("Đi lại nhiều lần", "Repeated visits")) } div.value { (share_text(&t.repeat_visits, lang)) } }
        }
        h2 { (tr("Năm chỉ số thành phần", "The five factors")) }
        (factors_table(&t.factors, lang))
        h2 { (tr("Cơ quan cần chú ý", "Agencies to watch")) }
        @if let Some(flags) = &d.current.flags {
            p.muted { (tr("Cờ trong kỳ: ", "Flags in the period: ")) (flags.statement(lang)) (tr(". Mỗi cơ quan được so với các cơ quan cùng cấp trong tỉnh; số \"dự kiến nhầm\" là số cờ có thể rơi vào cơ quan thực ra bình thường.", ". Each agency is compared with its peers of the same level in the province; \"expected false\" is how many flags may fall on agencies that are in fact normal.")) }
        }
        @if agencies.is_empty() {
            p { (tr("Không có cơ quan nào bị gắn cờ trong kỳ.", "No agency was flagged in this period.")) }
        } @else {
            div.scroll { table {
                thead { tr { th { (tr("Cơ quan", "Agency")) } th { (tr("Cờ", "Flag")) } th.num { (tr("Phiếu", "Responses")) } th { (tr("Lý do", "Reasons")) } } }
                tbody {
                    @for a in &agencies {
                        tr {
                            td { a href=(format!("/admin/agencies/{}", a.code)) { (a.name) } br; span.muted { (a.code) } }
                            td { (flag_badge(a.flag, a.review, lang)) }
                            td.num { (a.responses) }
                            td { ul.reasons { @for r in &a.reasons { li { (lang.pick(&r.vi, &r.en)) } } } }
                        }
                    }
                }
            } }
        }
        @if !rising.is_empty() {
            h3 { (tr("Cảnh báo sớm: phản ánh tăng so với mức thường ngày", "Early warnings: reports rising above the usual rate")) }
            p.muted { (tr("Chưa phải cờ: tỷ lệ phản ánh trong 90 ngày gần nhất cao rõ so với mức thường ngày của chính cơ quan.", "Not flags: the share of reports over the last 90 days is clearly above the agency's own usual rate.")) }
            ul { @for a in &rising { li { a href=(format!("/admin/agencies/{}", a.code)) { (a.name) } } } }
        }
        h2 { (tr("So sánh các cơ quan", "Agencies compared")) }
        (charts::funnel(d.current.agencies.as_deref().unwrap_or(&[]), Problem::Harassment, lang))
        (charts::funnel(d.current.agencies.as_deref().unwrap_or(&[]), Problem::RepeatVisits, lang))
        h2 { (tr("Diễn biến theo tháng", "Month by month")) }
        (charts::trend(d.months.groups.as_deref().unwrap_or(&[]), tr("Chỉ số SIPAS theo tháng", "SIPAS index by month"), lang))
        (groups_table(d.months.groups.as_deref().unwrap_or(&[]), tr("Tháng", "Month"), lang))
        h2 { (tr("Theo cấp", "By level")) }
        (groups_table(d.levels.groups.as_deref().unwrap_or(&[]), tr("Cấp", "Level"), lang))
        h2 { (tr("Theo lĩnh vực", "By field")) }
        (groups_table(d.fields.groups.as_deref().unwrap_or(&[]), tr("Lĩnh vực", "Field"), lang))
    }
}
