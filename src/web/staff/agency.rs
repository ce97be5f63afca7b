//! An agency's page: indices with intervals, factors, harassment / repeat-visit / late figures
//! with their flags and early warning, the monthly trend, procedures, and (for the reform office
//! only) comments with personal data masked, and the reach of each outreach channel with the
//! response rate it brings. Agency heads see their own agency and the agencies
//! under it, aggregates only, nothing from fewer than 5 responses.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use maud::{Markup, html};

use super::guard::Viewer;
use super::layout::page;
use super::period::{PeriodQuery, last_released, released_months};
use crate::accounts::Role;
use crate::catalog::{Agency, queries as catalog};
use crate::domain::Lang;
use crate::report::cache::Version;
use crate::report::disclosure::{MINIMUM, Withheld, withhold_groups};
use crate::report::flags::Assessment;
use crate::report::map::MapMode;
use crate::report::numbers::share_text;
use crate::report::{self, AgencyRow, GroupBy, GroupRow, Query};
use crate::responses::listing::recent_comments;
use crate::web::error::AppError;
use crate::web::html::ok;
use crate::web::state::AppState;
use crate::web::views::{factors_table, flag_badge, groups_table, index_with_interval};

/// The period shown and, for an agency head, the released months to choose from and what was
/// withheld.
struct Shown {
    from: NaiveDate,
    to: NaiveDate,
    released: Option<Vec<NaiveDate>>,
    withheld: Withheld,
}

struct AgencyData {
    agency: Agency,
    row: Option<AgencyRow>,
    months: Vec<GroupRow>,
    procedures: Vec<GroupRow>,
    comments: Vec<(NaiveDate, String)>,
    cases: Vec<crate::cases::Case>,
    history: Vec<crate::monitoring::history::Change>,
    reach: crate::outreach::counts::Reached,
}

/// `GET /admin/agencies/{code}` (`me` for an agency head's own agency).
pub async fn show_agency(
    viewer: Viewer,
    state: web::Data<AppState>,
    code: web::Path<String>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let role = viewer.role();
    let head = role == Role::AgencyHead;
    // Agency heads see released months only (ended calendar months; see
    // `report::disclosure`): a free window could be differenced against another one day longer.
    let (from, to) = if head {
        q.released_month(crate::clock::today())
            .ok_or(AppError::NotFound)?
    } else {
        q.period()
    };
    // The trend: for heads the twelve released months up to the one shown, each on its own.
    let trend_from = if head {
        released_months(from, 12).last().copied().unwrap_or(from)
    } else {
        from
    };
    let own = viewer.0.user.agency_id;
    // Heads see one map (today's), for the same reason publications do.
    let map = if head { MapMode::Today } else { q.map_mode() };
    let code = code.into_inner();
    let reports = state.reports.clone();
    let data = state
        .read(move |conn| {
            let Some(agency) = catalog::visible_to(conn, role, own, &code)? else {
                return Ok(None);
            };
            let province = catalog::province_code(conn, agency.province_id)?;
            // An agency that no longer exists is shown as it was: on today's map its history
            // belongs to its successor.
            let map = if agency.valid_to.is_some() {
                MapMode::AsItWas
            } else {
                map
            };
            // Flags are relative to the province: take the agency's row from the province
            // report, which the overview and the agency list share (report cache).
            let version = Version::read(conn)?;
            let whole = reports.get(
                conn,
                &version,
                &Query {
                    from,
                    to,
                    province: Some(province.clone()),
                    level: None,
                    agencies: None,
                    group_by: GroupBy::Agency,
                    map,
                },
            )?;
            let row = whole
                .report
                .agencies
                .iter()
                .flatten()
                .find(|a| a.code == agency.code)
                .cloned();
            let mut build = |q: Query| report::build(conn, &q);
            let only = Some(vec![agency.id]);
            let months = build(Query {
                from: trend_from,
                to,
                province: Some(province.clone()),
                level: None,
                agencies: only.clone(),
                group_by: GroupBy::Month,
                map,
            })?;
            let procedures = build(Query {
                from,
                to,
                province: Some(province),
                level: None,
                agencies: only.clone(),
                group_by: GroupBy::Procedure,
                map,
            })?;
            let reach = crate::outreach::counts::reach(
                conn,
                &Query {
                    from,
                    to,
                    province: None,
                    level: None,
                    agencies: only,
                    group_by: GroupBy::Agency,
                    // Messages are counted by the agency that issued the link.
                    map: crate::report::map::MapMode::AsItWas,
                },
                None,
            )?
            .into_iter()
            .map(|(_, r)| r)
            .next()
            .unwrap_or_default();
            let reform_office = role != Role::AgencyHead;
            let comments = if reform_office {
                recent_comments(conn, agency.id, from, to)?
            } else {
                Vec::new()
            };
            let (cases, history) = if reform_office {
                (
                    crate::cases::for_agency(conn, agency.id)?,
                    crate::monitoring::history::for_agency(conn, agency.id)?,
                )
            } else {
                (Vec::new(), Vec::new())
            };
            Ok(Some(AgencyData {
                agency,
                row,
                months: months.groups.unwrap_or_default(),
                procedures: procedures.groups.unwrap_or_default(),
                comments,
                cases,
                history,
                reach,
            }))
        })
        .await?;
    let Some(mut data) = data else {
        return Err(AppError::NotFound);
    };
    let mut withheld = Withheld::default();
    if head {
        // Nothing from groups of fewer than 5 responses, nor from a pool of them that a
        // subtraction would recover. Months stand alone (no total over them is shown).
        data.months.retain(|g| g.indicators.responses >= MINIMUM);
        let (procedures, w) = withhold_groups(std::mem::take(&mut data.procedures));
        (data.procedures, withheld) = (procedures, w);
        if data.row.as_ref().is_some_and(|r| r.responses < MINIMUM) {
            data.row = None;
        }
    }
    let title = data.agency.name.clone();
    let shown = Shown {
        from,
        to,
        released: head.then(|| released_months(last_released(crate::clock::today()), 12)),
        withheld,
    };
    let body = html! {
        (agency_body(&data, role, &shown, viewer.lang()))
        (super::reach::funnel_section(&data.reach, &state.settings, head, viewer.lang()))
    };
    Ok(ok(page(Some(&viewer), &title, body)))
}

fn assessment(title: &str, a: &Assessment, lang: Lang) -> Markup {
    html! {
        section.problem {
            h2 { (title) " " (flag_badge(a.flag, false, lang)) }
            p { (lang.pick(&a.reason, &a.reason_en)) }
            @if a.early_warning.signal {
                p { strong { (lang.pick("Cảnh báo sớm: ", "Early warning: ")) } (lang.pick("phản ánh tăng rõ so với mức thường ngày của chính cơ quan trong 90 ngày gần nhất.", "reports rose clearly above the agency's own usual rate over the last 90 days.")) }
            }
            @if !a.details.is_empty() {
                details { summary { (lang.pick("Cách tính", "How this was computed")) } p.muted { (lang.pick(&a.details, &a.details_en)) } }
            }
        }
    }
}

fn agency_body(d: &AgencyData, role: Role, shown: &Shown, lang: Lang) -> Markup {
    let (from, to) = (shown.from, shown.to);
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let level = crate::domain::Level::text_of(&d.agency.level, lang);
    html! {
        h1 { (d.agency.name) }
        p.muted { (d.agency.code) " · " (level) " · " (t("kỳ", "period")) " " (crate::clock::day_text(from)) " – " (crate::clock::day_text(to)) " · "
            a href=(format!("/admin/agencies/{}/poster", d.agency.code)) { (t("In áp phích mã QR", "Print the QR poster")) } }
        @if let Some(months) = &shown.released {
            nav.months aria-label=(t("Chọn tháng", "Choose the month")) {
                (t("Tháng: ", "Month: "))
                @for m in months {
                    @if *m == from { strong { (m.format("%m/%Y")) } } @else { a href=(format!("?month={}", m.format("%Y-%m"))) { (m.format("%m/%Y")) } }
                    " "
                }
            }
            p.muted { (t("Để người trả lời được ẩn danh, số liệu chỉ hiện theo từng tháng đã kết thúc, không hiện nhóm dưới 5 phiếu, và khi cần ẩn thêm một nhóm nhỏ khác để không thể suy ra nhóm bị ẩn bằng phép trừ.", "To keep respondents anonymous, figures are shown by ended month only, never for a group of fewer than 5 responses, and another small group is hidden when needed so that no hidden group can be worked out by subtraction.")) }
        }
        @match &d.row {
            None => p { (t("Chưa đủ dữ liệu trong kỳ này (dưới ", "Not enough data in this period (fewer than ")) (MINIMUM) (t(" phiếu).", " responses).")) },
            Some(r) => {
                @if let Some(note) = &r.map_note {
                    p.map-note { (lang.pick(&note.vi, &note.en)) }
                }
                @if !r.reasons.is_empty() {
                    div.alert { ul.reasons { @for reason in &r.reasons { li { (lang.pick(&reason.vi, &reason.en)) } } } }
                }
                div.cards {
                    div.card { div { (t("Chỉ số SIPAS", "SIPAS index")) } div.value { (index_with_interval(&r.sipas, lang)) } }
                    div.card { div { (t("Số phiếu", "Responses")) } div.value { (r.responses) } div.note { (t("Hồ sơ đã báo: ", "Dossiers reported: ")) (r.dossiers.unwrap_or(0)) } }
                    div.card { div { (t("Phiền hà", "Harassment")) } div.value { (share_text(&r.harassment.share(), lang)) } }
                    div.card { div { (t("Đi lại nhiều lần", "Repeated visits")) } div.value { (share_text(&r.repeat_visits.share(), lang)) } }
                    div.card { div { (t("Trễ hẹn", "Late")) } div.value { (share_text(&r.late, lang)) } div.note { (t("Có xin lỗi: ", "Apologised: ")) (share_text(&r.apology, lang)) } }
                    div.card { div { (t("Tỷ lệ theo QĐ 766", "Decision 766 ratio")) } div.value { (share_text(&r.decision_766, lang)) } }
                }
                (assessment(t("Phiền hà, sách nhiễu", "Harassment"), &r.harassment, lang))
                (assessment(t("Đi lại nhiều lần", "Repeated visits"), &r.repeat_visits, lang))
                h2 { (t("Năm chỉ số thành phần", "The five factors")) }
                (factors_table(&r.factors, lang))
            }
        }
        h2 { (t("Diễn biến theo tháng", "Month by month")) }
        (super::charts::trend(&d.months, t("Chỉ số SIPAS của cơ quan theo tháng", "The agency's SIPAS index by month"), lang))
        (groups_table(&d.months, t("Tháng", "Month"), lang))
        h2 { (t("Theo thủ tục", "By procedure")) }
        (groups_table(&d.procedures, t("Thủ tục", "Procedure"), lang))
        @if shown.withheld.rows > 0 {
            p.muted { (shown.withheld.rows) (t(" thủ tục có ít phiếu được ẩn để bảo vệ người trả lời.", " procedures with few responses are hidden to protect respondents.")) }
        }
        @if role != Role::AgencyHead {
            h2 { (t("Lịch sử cảnh báo và xử lý", "Flags and follow-up")) }
            @if d.cases.is_empty() { p { (t("Chưa có hồ sơ theo dõi.", "No follow-up case yet.")) } }
            ul { @for c in &d.cases { li {
                a href=(format!("/admin/cases/{}", c.id)) { "#" (c.id) " " (c.problem_label_in(lang)) } " · " (c.status().label_in(lang)) " · " (t("mở ngày", "opened")) " " (crate::clock::day_text(crate::clock::day_of(c.opened_at)))
            } } }
            @if !d.history.is_empty() {
                h3 { (t("Diễn biến cờ (theo đợt rà soát tự động)", "Flag changes (from the automatic sweeps)")) }
                ul { @for h in &d.history { li {
                    (crate::clock::local_text(h.observed_at)) " " (t("(giờ Việt Nam)", "(Vietnam time)")) " · " (crate::cases::problem_label(&h.problem, lang)) ": "
                    (match h.severity.as_str() { "alarm" => t("báo động", "alarm"), "alert" => t("cảnh báo", "alert"), _ => t("hết cờ", "cleared") })
                } } }
            }
            h2 { (t("Ý kiến của người dân (đã che thông tin cá nhân)", "Citizens' comments (personal data masked)")) }
            @if d.comments.is_empty() { p { (t("Không có ý kiến trong kỳ.", "No comments in this period.")) } }
            ul { @for (day, c) in &d.comments { li { span.muted { (day) } " " (c) } } }
        }
    }
}
