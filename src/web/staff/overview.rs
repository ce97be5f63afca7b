//! The overview page: first the agencies that need attention, most severe first (alarm, then a
//! citizen saying an official asked for money, then alert), each with its one-line reason, and
//! the early warnings apart; then the province's SIPAS index and factors for a period with the
//! change from the previous period, counts, funnel plots, the monthly trend and breakdowns by
//! level and field. All numbers come from `report::build`, through the report cache. The page
//! stays small at national size: lists are capped and link to the agency list
//! (`/admin/agencies`). Viewing it changes nothing: cases and alarm mail come from the scheduled
//! monitoring sweep (`crate::monitoring`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use maud::{Markup, html};

use super::charts;
use super::guard::Viewer;
use super::layout::page;
use super::period::{PeriodQuery, Shown, UnknownProvince, filter_form, resolve_province};
use crate::accounts::Role;
use crate::catalog::{Province, queries as catalog};
use crate::domain::Lang;
use crate::report::attention::{Attention, Rising, early_warnings, watch_list};
use crate::report::cache::Version;
use crate::report::flags::Problem;
use crate::report::indicators::Indicators;
use crate::report::numbers::{count, percent, points, share_text};
use crate::report::{GroupBy, Query, Report};
use crate::stats::change::newcombe_difference;
use crate::web::error::AppError;
use crate::web::html::{html, ok, see_other};
use crate::web::state::AppState;
use crate::web::views::{factors_table, groups_table, index_with_interval};

/// Agencies listed on the watch list; the rest are on the agency list.
pub const WATCH_SHOWN: usize = 15;
/// Early warnings listed; the rest are on the agency list.
pub const RISING_SHOWN: usize = 8;

fn query(shown: &Shown, from: NaiveDate, to: NaiveDate, group_by: GroupBy) -> Query {
    Query {
        from,
        to,
        province: shown.province.clone(),
        level: None,
        agencies: None,
        group_by,
        map: shown.map,
    }
}

/// The reports the overview of `shown` reads: the period by agency, the previous period of the
/// same length for the province, and the period by month, level and field.
pub fn queries(shown: &Shown) -> [Query; 5] {
    let (from, to) = (shown.from, shown.to);
    let length = to - from;
    let (prev_to, prev_from) = (from - Duration::days(1), from - Duration::days(1) - length);
    [
        query(shown, from, to, GroupBy::Agency),
        query(shown, prev_from, prev_to, GroupBy::Province),
        query(shown, from, to, GroupBy::Month),
        query(shown, from, to, GroupBy::Level),
        query(shown, from, to, GroupBy::Field),
    ]
}

/// The reports of the overview as it opens (every province, the last 365 days, today's map):
/// what the scheduler keeps warm.
pub fn default_reports() -> Vec<Query> {
    let (from, to) = PeriodQuery::default().period();
    let shown = Shown {
        from,
        to,
        province: None,
        map: Default::default(),
    };
    queries(&shown).to_vec()
}

struct Overview {
    current: std::sync::Arc<Report>,
    built_at: NaiveDateTime,
    previous: std::sync::Arc<Report>,
    months: std::sync::Arc<Report>,
    levels: std::sync::Arc<Report>,
    fields: std::sync::Arc<Report>,
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
    let asked = q.province_code();
    let map = q.map_mode();
    let reports = state.reports.clone();
    let lang = viewer.lang();
    let (provinces, found) = state
        .read(move |conn| {
            let provinces = catalog::all_provinces(conn)?;
            let province = match resolve_province(&provinces, asked.as_deref()) {
                Ok(p) => p,
                Err(unknown) => return Ok((provinces, Err(unknown))),
            };
            let shown = Shown {
                from,
                to,
                province,
                map,
            };
            let version = Version::read(conn)?;
            let [current, previous, months, levels, fields] = queries(&shown);
            let mut get = |q: Query| reports.get(conn, &version, &q);
            let current = get(current)?;
            let data = Overview {
                built_at: current.built_at,
                current: current.report,
                previous: get(previous)?.report,
                months: get(months)?.report,
                levels: get(levels)?.report,
                fields: get(fields)?.report,
            };
            Ok((provinces, Ok((shown, data))))
        })
        .await?;
    let title = lang.pick("Tổng quan", "Overview");
    match found {
        Ok((shown, data)) => Ok(ok(page(
            Some(&viewer),
            title,
            overview_body(&data, &shown, &provinces, lang),
        ))),
        Err(UnknownProvince(code)) => {
            let shown = Shown {
                from,
                to,
                province: None,
                map,
            };
            Ok(html(
                StatusCode::NOT_FOUND,
                page(
                    Some(&viewer),
                    title,
                    unknown_province(&code, &shown, &provinces, lang),
                ),
            ))
        }
    }
}

/// The page for a province code that is not in the catalog: the form to choose one.
fn unknown_province(code: &str, shown: &Shown, provinces: &[Province], lang: Lang) -> Markup {
    html! {
        h1 { (lang.pick("Tổng quan chỉ số hài lòng", "Satisfaction overview")) }
        p.alert role="alert" {
            (lang.pick("Không có tỉnh mã ", "There is no province with the code "))
            "\u{201c}" (code) "\u{201d}"
            (lang.pick(" trong danh mục. Hãy chọn một tỉnh trong danh sách.", " in the catalog. Choose a province from the list."))
        }
        (filter_form("/admin", shown, provinces, &[], lang))
    }
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

/// The watch list: one line per agency, most urgent first.
fn watch(list: &[Attention<'_>], shown: &Shown, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        @if list.is_empty() {
            p { (t("Không có cơ quan nào cần chú ý trong kỳ.", "No agency needs attention in this period.")) }
        } @else {
            ol.watch {
                @for a in list.iter().take(WATCH_SHOWN) {
                    li {
                        span class={ "tier flag-" (a.tier.as_str()) } { (a.tier.label(lang)) }
                        span.what {
                            a href=(format!("/admin/agencies/{}?{}", a.row.code, shown.query())) { (a.row.name) }
                            " — " (lang.pick(&a.reason.vi, &a.reason.en))
                            @if a.more > 0 {
                                " " span.muted { "(+" (a.more) (t(" vấn đề khác", " more")) ")" }
                            }
                        }
                    }
                }
            }
            @if list.len() > WATCH_SHOWN {
                p { a href=(format!("/admin/agencies?only=attention&{}", shown.query())) {
                    (t("Xem cả ", "All ")) (count(list.len() as u64, lang)) (t(" cơ quan cần chú ý", " agencies that need attention"))
                } }
            }
        }
    }
}

/// The early warnings, quieter than the watch list.
fn rising(list: &[Rising<'_>], shown: &Shown, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        @if !list.is_empty() {
            section.early aria-labelledby="early-warnings" {
                h3 #early-warnings { (t("Cảnh báo sớm: phản ánh tăng so với mức thường ngày", "Early warnings: reports rising above the usual rate")) }
                p.muted { (t("Chưa phải cờ: tỷ lệ phản ánh trong 90 ngày gần nhất cao rõ so với mức thường ngày của chính cơ quan.", "Not flags: the share of reports over the last 90 days is clearly above the agency's own usual rate.")) }
                ul {
                    @for r in list.iter().take(RISING_SHOWN) {
                        li { a href=(format!("/admin/agencies/{}?{}", r.row.code, shown.query())) { (r.row.name) } " — " (lang.pick(&r.reason.vi, &r.reason.en)) }
                    }
                }
                @if list.len() > RISING_SHOWN {
                    p { a href=(format!("/admin/agencies?only=warning&{}", shown.query())) {
                        (t("Xem cả ", "All ")) (count(list.len() as u64, lang)) (t(" cảnh báo sớm", " early warnings"))
                    } }
                }
            }
        }
    }
}

fn overview_body(d: &Overview, shown: &Shown, provinces: &[Province], lang: Lang) -> Markup {
    let tr = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let t = &d.current.totals;
    let rows = d.current.agencies.as_deref().unwrap_or(&[]);
    let list = watch_list(rows);
    let early = early_warnings(rows);
    let query = shown.query();
    let by = |sort: &str| format!("/admin/agencies?sort={sort}&{query}");
    html! {
        h1 { (tr("Tổng quan chỉ số hài lòng", "Satisfaction overview")) }
        (filter_form("/admin", shown, provinces, &[], lang))
        section.attention aria-labelledby="attention" {
            h2 #attention { (tr("Cơ quan cần chú ý", "Agencies that need attention")) @if !list.is_empty() { " (" (count(list.len() as u64, lang)) ")" } }
            (watch(&list, shown, lang))
            @if let Some(flags) = &d.current.flags {
                p.muted { (tr("Cờ trong kỳ: ", "Flags in the period: ")) (flags.statement(lang)) (tr(". Mỗi cơ quan được so với các cơ quan cùng nhóm trong tỉnh; số \"dự kiến nhầm\" là số cờ có thể rơi vào cơ quan thực ra bình thường.", ". Each agency is compared with its peers in the province; \"expected false\" is how many flags may fall on agencies that are in fact normal.")) }
            }
        }
        (rising(&early, shown, lang))
        p.muted {
            (tr("Số liệu tính lúc ", "Figures computed at ")) (crate::clock::local(d.built_at).format("%H:%M %d/%m/%Y")) ". "
            a href=(by("flag")) { (tr("Danh sách mọi cơ quan", "Every agency")) } " · "
            (tr("Tải về: ", "Download: "))
            a href=(format!("/admin/export/report.xlsx?{query}")) { (tr("báo cáo (Excel)", "report (Excel)")) } " · "
            a href=(format!("/admin/export/report.csv?{query}")) { (tr("báo cáo (CSV)", "report (CSV)")) } " · "
            a href="/admin/export/responses.csv" { (tr("toàn bộ phiếu trả lời (CSV, chỉ quản trị)", "all responses (CSV, admins only)")) }
        }
        h2 { (tr("Chỉ số của kỳ", "The period's indices")) }
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
        h2 { (tr("So sánh các cơ quan", "Agencies compared")) }
        (charts::funnel(rows, Problem::Harassment, &by("harassment"), lang))
        (charts::funnel(rows, Problem::RepeatVisits, &by("repeat"), lang))
        h2 { (tr("Diễn biến theo tháng", "Month by month")) }
        (charts::trend(d.months.groups.as_deref().unwrap_or(&[]), tr("Chỉ số SIPAS theo tháng", "SIPAS index by month"), lang))
        (groups_table(d.months.groups.as_deref().unwrap_or(&[]), tr("Tháng", "Month"), lang))
        h2 { (tr("Theo cấp", "By level")) }
        (groups_table(d.levels.groups.as_deref().unwrap_or(&[]), tr("Cấp", "Level"), lang))
        h2 { (tr("Theo lĩnh vực", "By field")) }
        (groups_table(d.fields.groups.as_deref().unwrap_or(&[]), tr("Lĩnh vực", "Field"), lang))
    }
}
