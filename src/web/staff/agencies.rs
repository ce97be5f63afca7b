//! The list of every agency for a period (`/admin/agencies`): the full table behind the
//! overview's capped lists and funnel plots, sortable by any column and paged, optionally only
//! the agencies that need attention or have an early warning. From the report cache, like the
//! overview.

use std::cmp::Ordering;

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::guard::Staff;
use super::layout::page;
use super::period::{PeriodQuery, Shown, filter_form, resolve_province};
use crate::catalog::{Province, queries as catalog};
use crate::domain::Lang;
use crate::report::attention::tier;
use crate::report::cache::Version;
use crate::report::numbers::{count, index_text, share_text};
use crate::report::{AgencyRow, GroupBy, Query};
use crate::web::error::AppError;
use crate::web::html::ok;
use crate::web::state::AppState;

/// Agencies per page.
pub const PAGE_SIZE: usize = 50;

/// A column the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most urgent first (the watch list's order), then by code.
    #[default]
    Flag,
    Name,
    Responses,
    Sipas,
    Harassment,
    Repeat,
}

impl Sort {
    const ALL: [Sort; 6] = [
        Sort::Flag,
        Sort::Name,
        Sort::Responses,
        Sort::Sipas,
        Sort::Harassment,
        Sort::Repeat,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Sort::Flag => "flag",
            Sort::Name => "name",
            Sort::Responses => "responses",
            Sort::Sipas => "sipas",
            Sort::Harassment => "harassment",
            Sort::Repeat => "repeat",
        }
    }

    /// The order a column is first sorted in: what a reader looks for first (the lowest
    /// index, the highest rates).
    fn natural(self) -> Order {
        match self {
            Sort::Flag | Sort::Name | Sort::Sipas => Order::Asc,
            Sort::Responses | Sort::Harassment | Sort::Repeat => Order::Desc,
        }
    }

    fn heading(self, lang: Lang) -> &'static str {
        match self {
            Sort::Flag => lang.pick("Cờ", "Flag"),
            Sort::Name => lang.pick("Cơ quan", "Agency"),
            Sort::Responses => lang.pick("Phiếu", "Responses"),
            Sort::Sipas => "SIPAS",
            Sort::Harassment => lang.pick("Phiền hà", "Harassment"),
            Sort::Repeat => lang.pick("Đi lại nhiều lần", "Repeated visits"),
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    fn flipped(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }
}

/// Which agencies to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Only {
    #[default]
    All,
    /// The watch list.
    Attention,
    /// Early warnings.
    Warning,
}

impl Only {
    fn as_str(self) -> &'static str {
        match self {
            Only::All => "all",
            Only::Attention => "attention",
            Only::Warning => "warning",
        }
    }
}

/// `?sort=&order=&page=&only=` (with the period and province of [`PeriodQuery`]).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub sort: Sort,
    pub order: Option<Order>,
    pub page: Option<usize>,
    #[serde(default)]
    pub only: Only,
}

/// `GET /admin/agencies` (admins and reviewers).
pub async fn list_agencies(
    Staff(viewer): Staff,
    state: web::Data<AppState>,
    period: web::Query<PeriodQuery>,
    list: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = period.period();
    let asked = period.province_code();
    let map = period.map_mode();
    let reports = state.reports.clone();
    let (provinces, shown, report) = state
        .read(move |conn| {
            let provinces = catalog::all_provinces(conn)?;
            let province =
                resolve_province(&provinces, asked.as_deref()).map_err(|_| AppError::NotFound)?;
            let shown = Shown {
                from,
                to,
                province,
                map,
            };
            let version = Version::read(conn)?;
            let query = Query {
                from,
                to,
                province: shown.province.clone(),
                level: None,
                agencies: None,
                group_by: GroupBy::Agency,
                map,
            };
            let report = reports.get(conn, &version, &query)?.report;
            Ok((provinces, shown, report))
        })
        .await?;
    let lang = viewer.lang();
    let rows = report.agencies.as_deref().unwrap_or(&[]);
    let body = list_body(rows, &shown, &provinces, &list, lang);
    Ok(ok(page(
        Some(&viewer),
        lang.pick("Các cơ quan", "Agencies"),
        body,
    )))
}

/// `a` against `b` on `sort`, ascending; rows without a figure go last whatever the order.
fn compare(sort: Sort, order: Order, a: &AgencyRow, b: &AgencyRow) -> Ordering {
    let figure = |r: &AgencyRow| -> Option<f64> {
        match sort {
            Sort::Sipas => r.sipas.index.filter(|_| r.sipas.displayable),
            Sort::Harassment => r
                .harassment
                .rate
                .filter(|_| r.harassment.share().displayable),
            Sort::Repeat => r
                .repeat_visits
                .rate
                .filter(|_| r.repeat_visits.share().displayable),
            Sort::Responses => Some(r.responses as f64),
            Sort::Flag | Sort::Name => None,
        }
    };
    let directed = |o: Ordering| match order {
        Order::Asc => o,
        Order::Desc => o.reverse(),
    };
    let primary = match sort {
        // No tier sorts after the last tier.
        Sort::Flag => directed(
            tier(a)
                .map_or(usize::MAX, |t| t as usize)
                .cmp(&tier(b).map_or(usize::MAX, |t| t as usize)),
        ),
        Sort::Name => directed(a.name.cmp(&b.name)),
        _ => match (figure(a), figure(b)) {
            (Some(x), Some(y)) => directed(x.total_cmp(&y)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    };
    primary.then_with(|| a.code.cmp(&b.code))
}

fn list_body(
    rows: &[AgencyRow],
    shown: &Shown,
    provinces: &[Province],
    q: &ListQuery,
    lang: Lang,
) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let order = q.order.unwrap_or(q.sort.natural());
    let mut selected: Vec<&AgencyRow> = rows
        .iter()
        .filter(|r| match q.only {
            Only::All => true,
            Only::Attention => tier(r).is_some(),
            Only::Warning => r.early_warning && tier(r).is_none(),
        })
        .collect();
    selected.sort_by(|a, b| compare(q.sort, order, a, b));
    let pages = selected.len().div_ceil(PAGE_SIZE).max(1);
    let current = q.page.unwrap_or(1).clamp(1, pages);
    let on_page = selected
        .iter()
        .skip((current - 1) * PAGE_SIZE)
        .take(PAGE_SIZE);
    let period = shown.query();
    let link = |sort: Sort, order: Order, page: usize| {
        format!(
            "/admin/agencies?only={}&sort={}&order={}&page={page}&{period}",
            q.only.as_str(),
            sort.as_str(),
            order.as_str()
        )
    };
    let keep = [
        ("only", q.only.as_str()),
        ("sort", q.sort.as_str()),
        ("order", order.as_str()),
    ];
    let heading = |s: Sort| {
        let here = s == q.sort;
        let next = if here { order.flipped() } else { s.natural() };
        let aria = here.then_some(match order {
            Order::Asc => "ascending",
            Order::Desc => "descending",
        });
        html! {
            th.num[matches!(s, Sort::Responses)] aria-sort=[aria] {
                a href=(link(s, next, 1)) {
                    (s.heading(lang))
                    @if here { span aria-hidden="true" { (if order == Order::Asc { " ▲" } else { " ▼" }) } }
                }
            }
        }
    };
    html! {
        h1 { (t("Các cơ quan", "Agencies")) }
        (filter_form("/admin/agencies", shown, provinces, &keep, lang))
        nav.tabs aria-label=(t("Chọn cơ quan", "Which agencies")) {
            @for (only, label) in [(Only::All, t("Tất cả", "All")), (Only::Attention, t("Cần chú ý", "Need attention")), (Only::Warning, t("Cảnh báo sớm", "Early warnings"))] {
                @if only == q.only {
                    strong aria-current="page" { (label) }
                } @else {
                    a href=(format!("/admin/agencies?only={}&{period}", only.as_str())) { (label) }
                }
                " "
            }
        }
        p.muted {
            (count(selected.len() as u64, lang)) (t(" cơ quan, kỳ ", " agencies, period ")) (shown.from) " – " (shown.to)
            (t(". Bấm tiêu đề cột để xếp theo cột đó.", ". Choose a column heading to sort by it."))
        }
        div.scroll role="region" tabindex="0" aria-label=(t("Danh sách cơ quan", "Agency list")) { table.list {
            thead { tr {
                @for s in Sort::ALL { @if s != Sort::Flag { (heading(s)) } }
                (heading(Sort::Flag))
            } }
            tbody {
                @for r in on_page {
                    tr {
                        td { a href=(format!("/admin/agencies/{}?{period}", r.code)) { (r.name) } br; span.muted { (r.code) }
                            @if let Some(note) = &r.map_note { br; span.muted.map-note { (lang.pick(&note.vi, &note.en)) } } }
                        td.num { (count(r.responses, lang)) }
                        td { (index_text(&r.sipas, lang)) }
                        td { (share_text(&r.harassment.share(), lang)) }
                        td { (share_text(&r.repeat_visits.share(), lang)) }
                        td {
                            @if let Some(tier) = tier(r) { span class={ "flag-" (tier.as_str()) } { (tier.label(lang)) } }
                            @if r.early_warning { " " span.flag-review { (t("Cảnh báo sớm", "Early warning")) } }
                        }
                    }
                }
            }
        } }
        @if pages > 1 {
            nav.pages aria-label=(t("Các trang", "Pages")) {
                @if current > 1 { a href=(link(q.sort, order, 1)) { (t("« Đầu", "« First")) } " " a href=(link(q.sort, order, current - 1)) rel="prev" { (t("‹ Trước", "‹ Previous")) } " " }
                span aria-current="page" { (t("Trang ", "Page ")) (current) " / " (pages) }
                @if current < pages { " " a href=(link(q.sort, order, current + 1)) rel="next" { (t("Sau ›", "Next ›")) } " " a href=(link(q.sort, order, pages)) { (t("Cuối »", "Last »")) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sort_has_a_name_and_a_natural_order() {
        for s in Sort::ALL {
            let parsed: ListQuery = serde_urlencoded::from_str(&format!("sort={}", s.as_str()))
                .unwrap_or(ListQuery {
                    sort: Sort::Flag,
                    order: None,
                    page: None,
                    only: Only::All,
                });
            assert_eq!(parsed.sort, s);
        }
        assert_eq!(Sort::Sipas.natural(), Order::Asc);
        assert_eq!(Sort::Harassment.natural().flipped(), Order::Asc);
    }
}
