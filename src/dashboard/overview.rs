//! The overview page: a province's SIPAS index and factors for a period with the change from the
//! previous period, counts, the monthly trend, flagged agencies first, and breakdowns by level
//! and field. All numbers come from `report::build`.

use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::guard::{DashError, Viewer};
use super::layout::page;
use crate::accounts::Role;
use crate::domain::Lang;
use crate::invitations::dossier::vietnam;
use crate::report::flags::Level as FlagLevel;
use crate::report::indicators::{Factors, Index, Indicators, Share};
use crate::report::numbers::{count, percent};
use crate::report::{self, AgencyRow, GroupBy, GroupRow, Query, Report};
use crate::startup::AppState;
use crate::stats::change::newcombe_difference;

/// The period and province chosen on the page.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    province: Option<String>,
}

impl PeriodQuery {
    /// The province code asked for, if any.
    pub fn province_code(&self) -> Option<String> {
        self.province.clone().filter(|p| !p.trim().is_empty())
    }

    /// The period asked for, or the last 365 days.
    pub fn period(&self) -> (NaiveDate, NaiveDate) {
        let to = self
            .to
            .unwrap_or_else(|| Utc::now().with_timezone(&vietnam()).date_naive());
        let from = self
            .from
            .filter(|f| *f <= to)
            .unwrap_or(to - Duration::days(364));
        (from, to)
    }
}

/// A rate for display: a percentage, or "chưa đủ dữ liệu" below the display minimum.
pub fn show_share(s: &Share, lang: Lang) -> String {
    match (s.rate, s.displayable) {
        (Some(r), true) => percent(r, lang),
        _ => lang.pick("chưa đủ dữ liệu", "not enough data").into(),
    }
}

/// An index with its interval for display.
pub fn show_index(i: &Index, lang: Lang) -> Markup {
    match (i.index, i.ci_low, i.ci_high, i.displayable) {
        (Some(v), Some(lo), Some(hi), true) => html! {
            (percent(v, lang)) " " span.muted { "(" (lang.pick("KTC 95%", "95% CI")) ": " (percent(lo, lang).trim_end_matches('%')) "–" (percent(hi, lang)) ")" }
        },
        _ => html! { (lang.pick("chưa đủ dữ liệu", "not enough data")) },
    }
}

/// The flag badge of an agency row.
pub fn flag_badge(flag: FlagLevel, review: bool, lang: Lang) -> Markup {
    html! {
        @match flag {
            FlagLevel::Alarm => span.flag-alarm { (lang.pick("Báo động", "Alarm")) },
            FlagLevel::Alert => span.flag-alert { (lang.pick("Cảnh báo", "Alert")) },
            FlagLevel::None if review => span.flag-review { (lang.pick("Cần xem xét", "Review")) },
            FlagLevel::None => {},
        }
    }
}

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
) -> Result<HttpResponse, DashError> {
    if viewer.role() == Role::AgencyHead {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/admin/agencies/me"))
            .finish());
    }
    viewer.require(&[Role::Admin, Role::Reviewer])?;
    let (from, to) = q.period();
    let province = q.province_code();
    let length = to - from;
    let (prev_to, prev_from) = (from - Duration::days(1), from - Duration::days(1) - length);
    let data = crate::error::run(&state.pool, move |conn| {
        let build = |conn: &mut crate::db::DbConn, q: Query| {
            report::build(conn, &q).map_err(|e| match e {
                report::ReportError::Database(d) => crate::error::AppError::from(d),
                other => crate::error::AppError::Internal(other.to_string()),
            })
        };
        Ok(Overview {
            current: build(conn, query(from, to, &province, GroupBy::Agency))?,
            previous: build(
                conn,
                query(prev_from, prev_to, &province, GroupBy::Province),
            )?,
            months: build(conn, query(from, to, &province, GroupBy::Month))?,
            levels: build(conn, query(from, to, &province, GroupBy::Level))?,
            fields: build(conn, query(from, to, &province, GroupBy::Field))?,
        })
    })
    .await?;
    // Flags found here open follow-up cases (idempotent: one open case per agency and problem).
    let flagged: Vec<AgencyRow> = data
        .current
        .agencies
        .iter()
        .flatten()
        .filter(|a| a.flag != FlagLevel::None || a.money_asked > 0)
        .cloned()
        .collect();
    if !flagged.is_empty() {
        let now = Utc::now().naive_utc();
        let settings = state.settings.clone();
        state
            .write(move |conn| Ok(open_cases_and_alert(conn, &settings, &flagged, now)?))
            .await?;
    }
    let body = overview_body(
        &data,
        from,
        to,
        q.province.as_deref().unwrap_or(""),
        viewer.lang(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            page(
                Some(&viewer),
                viewer.lang().pick("Tổng quan", "Overview"),
                body,
            )
            .into_string(),
        ))
}

/// Opens the cases of new flags and, in the same transaction, alerts the reform office of new
/// alarms.
fn open_cases_and_alert(
    conn: &mut crate::db::DbConn,
    settings: &crate::config::Settings,
    flagged: &[AgencyRow],
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    use diesel::Connection;
    conn.transaction(|conn| {
        for (code, name, problem, flag, reason) in crate::cases::open_for_flags(conn, flagged, now)?
        {
            if flag == "alarm" {
                let cause = crate::mail::alert::Cause::Alarm {
                    problem,
                    reason: &reason,
                };
                crate::mail::alert::queue(conn, settings, &code, &name, &cause, now)?;
            }
        }
        Ok(())
    })
}

fn change(current: &Indicators, previous: &Indicators, lang: Lang) -> Markup {
    let (c, p) = (&current.sipas, &previous.sipas);
    match (
        c.index,
        p.index,
        newcombe_difference(c.count, c.n, p.count, p.n, 0.95),
    ) {
        (Some(a), Some(b), Some(ci)) if c.displayable && p.displayable => {
            let points = |x: f64| match lang {
                Lang::Vi => format!("{:+.1}", x * 100.0).replace('.', ","),
                Lang::En => format!("{:+.1}", x * 100.0),
            };
            html! {
                (points(a - b)) (lang.pick(" điểm % so với kỳ trước ", " points from the previous period "))
                span.muted { "(" (lang.pick("KTC 95%", "95% CI")) ": " (points(ci.low)) (lang.pick(" đến ", " to ")) (points(ci.high)) ")" }
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
        .filter(|a| a.flag != FlagLevel::None || a.review)
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
            div.card { div { (tr("Chỉ số SIPAS", "SIPAS index")) } div.value { (show_index(&t.sipas, lang)) } div.note { (change(t, &d.previous.totals, lang)) } }
            div.card { div { (tr("Số phiếu trả lời", "Responses")) } div.value { (count(t.responses, lang)) } }
            div.card { div { (tr("Hồ sơ đã báo", "Dossiers reported")) } div.value { (count(t.dossiers.unwrap_or(0), lang)) } }
            div.card { div { (tr("Tỷ lệ phản hồi", "Response rate")) } div.value { (t.response_rate.map(|r| percent(r, lang)).unwrap_or_else(|| "—".into())) } }
            div.card { div { (tr("Phản ánh phiền hà", "Harassment reports")) } div.value { (show_share(&t.harassment, lang)) } }
            div.card { div { (tr("Đi lại nhiều lần", "Repeated visits")) } div.value { (show_share(&t.repeat_visits, lang)) } }
        }
        h2 { (tr("Năm chỉ số thành phần", "The five factors")) }
        (factors_table(&t.factors, lang))
        h2 { (tr("Cơ quan cần chú ý", "Agencies to watch")) }
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
        h2 { (tr("So sánh các cơ quan", "Agencies compared")) }
        (super::charts::funnel(d.current.agencies.as_deref().unwrap_or(&[]), super::charts::Problem::Harassment, lang))
        (super::charts::funnel(d.current.agencies.as_deref().unwrap_or(&[]), super::charts::Problem::RepeatVisits, lang))
        h2 { (tr("Diễn biến theo tháng", "Month by month")) }
        (super::charts::trend(d.months.groups.as_deref().unwrap_or(&[]), tr("Chỉ số SIPAS theo tháng", "SIPAS index by month"), lang))
        (groups_table(d.months.groups.as_deref().unwrap_or(&[]), tr("Tháng", "Month"), lang))
        h2 { (tr("Theo cấp", "By level")) }
        (groups_table(d.levels.groups.as_deref().unwrap_or(&[]), tr("Cấp", "Level"), lang))
        h2 { (tr("Theo lĩnh vực", "By field")) }
        (groups_table(d.fields.groups.as_deref().unwrap_or(&[]), tr("Lĩnh vực", "Field"), lang))
    }
}

/// The five factor indices.
pub fn factors_table(f: &Factors, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        div.scroll { table {
            thead { tr { th { (t("Yếu tố", "Factor")) } th { (t("Tỷ lệ hài lòng", "Satisfied")) } th.num { (t("Số trả lời", "Answers")) } } }
            tbody {
                @for (name, index) in [(t("Tiếp cận dịch vụ", "Access to the service"), &f.access), (t("Thủ tục hành chính", "Administrative procedure"), &f.procedure), (t("Công chức", "Officials"), &f.officials), (t("Kết quả", "Result"), &f.result), (t("Góp ý, phản ánh, kiến nghị", "Feedback and complaints"), &f.feedback)] {
                    tr { td { (name) } td { (show_index(index, lang)) } td.num { (index.n) } }
                }
            }
        } }
    }
}

/// A breakdown table (month, level, field, procedure).
pub fn groups_table(rows: &[GroupRow], heading: &str, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        div.scroll { table {
            thead { tr { th { (heading) } th.num { (t("Phiếu", "Responses")) } th { "SIPAS" } th { (t("Phiền hà", "Harassment")) } th { (t("Đi lại nhiều lần", "Repeated visits")) } th { (t("Trễ hẹn", "Late")) } } }
            tbody {
                @for r in rows {
                    tr {
                        td { (r.label) }
                        td.num { (r.indicators.responses) }
                        td { (show_index(&r.indicators.sipas, lang)) }
                        td { (show_share(&r.indicators.harassment, lang)) }
                        td { (show_share(&r.indicators.repeat_visits, lang)) }
                        td { (show_share(&r.indicators.late, lang)) }
                    }
                }
            }
        } }
    }
}
