//! Case pages: the queue (open first, severity first, filtered by severity, status, agency,
//! assignee and overdue; resolved cases verified once their flag has stayed clear for a full
//! quarter), one case with its action log, and the changes reviewers make (status, assignee, due
//! date, notes), each recorded with who and when. Agency heads read the cases of their own
//! agencies and add what they did (a note); reviewers decide.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::guard::{Posted, Viewer};
use super::layout::{csrf_field, page};
use crate::accounts::{Role, users};
use crate::cases::{self, Action, Case, CaseError, Status, VERIFY_DAYS};
use crate::catalog::queries as catalog;
use crate::clock::today;
use crate::clock::{day_text, local_text};
use crate::domain::Lang;
use crate::report::numbers::percent;
use crate::report::{self, GroupBy, Query};
use crate::stats::Severity;
use crate::web::error::AppError;
use crate::web::html::{html, ok, see_other};
use crate::web::state::AppState;

/// Agency codes and problems whose flag is clear over the last [`VERIFY_DAYS`] days.
fn clear_flags(
    conn: &mut crate::db::DbConn,
    today: NaiveDate,
) -> Result<HashMap<(String, &'static str), bool>, AppError> {
    let q = Query {
        from: today - Duration::days(VERIFY_DAYS - 1),
        to: today,
        province: None,
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
        map: Default::default(),
    };
    let r = report::build(conn, &q)?;
    let mut clear = HashMap::new();
    for row in r.agencies.into_iter().flatten() {
        clear.insert(
            (row.code.clone(), "harassment"),
            row.harassment.flag == Severity::None,
        );
        clear.insert(
            (row.code.clone(), "repeat_visits"),
            row.repeat_visits.flag == Severity::None,
        );
        clear.insert((row.code, "money_asked"), row.money_asked == 0);
    }
    Ok(clear)
}

/// True when a resolved case's flag stayed clear for a full period after it was resolved.
fn verified(case: &Case, clear: &HashMap<(String, &'static str), bool>, today: NaiveDate) -> bool {
    let problem: &'static str = match case.problem.as_str() {
        "harassment" => "harassment",
        "repeat_visits" => "repeat_visits",
        _ => "money_asked",
    };
    case.status() == Status::Resolved
        && case
            .closed_at
            .is_some_and(|c| c.date() <= today - Duration::days(VERIFY_DAYS))
        && clear
            .get(&(case.agency_code.clone(), problem))
            .copied()
            .unwrap_or(false)
}

/// The status cell of a case: its label, overdue or verified.
fn status_cell(case: &Case, verified: bool, today: NaiveDate, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        (case.status().label_in(lang))
        @if case.overdue(today) { " " span.flag-alarm { (t("Quá hạn", "Overdue")) } }
        @if verified { " " span.flag-review { (t("Đã xác minh", "Verified")) } }
    }
}

/// How often closed flags were real, against what the model expected.
fn outcomes_table(outcomes: &[cases::Outcome], lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let share = |x: Option<f64>| x.map(|v| percent(v, lang)).unwrap_or_else(|| "—".into());
    html! {
        h2 { (t("Cờ đã kiểm chứng", "Flags checked by reviewers")) }
        p.muted { (t("Trong các hồ sơ đã đóng: bao nhiêu cờ là có thật (đã khắc phục) và bao nhiêu không xác đáng, so với tỷ lệ mô hình dự kiến.", "Among closed cases: how many flags were real (resolved) and how many unfounded, against the share the model expected.")) }
        div.scroll role="region" tabindex="0" aria-label=(t("Cờ đã kiểm chứng", "Flags checked by reviewers")) { table {
            thead { tr { th { (t("Vấn đề", "Problem")) } th { (t("Mức cờ", "Flag")) } th.num { (t("Có thật", "Real")) } th.num { (t("Không xác đáng", "Unfounded")) } th { (t("Tỷ lệ đúng thực tế", "Measured precision")) } th { (t("Mô hình dự kiến", "Model expected")) } } }
            tbody { @for o in outcomes { tr {
                td { (cases::problem_label(&o.problem, lang)) }
                td { (match o.flag.as_str() { "alarm" => t("báo động", "alarm"), "alert" => t("cảnh báo", "alert"), other => other }) }
                td.num { (o.substantiated) }
                td.num { (o.unfounded) }
                td { (share(o.measured_precision())) }
                td { (share(o.expected_precision)) }
            } } }
        } }
    }
}

/// The agency codes an agency head may see cases of; `None` for the reform office (all).
fn visible_codes(
    conn: &mut crate::db::DbConn,
    viewer_role: Role,
    own: Option<i64>,
) -> Result<Option<std::collections::HashSet<String>>, AppError> {
    if viewer_role != Role::AgencyHead {
        return Ok(None);
    }
    let ids = match own {
        Some(root) => catalog::subtree(conn, root)?,
        None => Vec::new(),
    };
    Ok(Some(
        catalog::all_agencies(conn)?
            .into_iter()
            .filter(|a| ids.contains(&a.id))
            .map(|a| a.code)
            .collect(),
    ))
}

/// The queue's filters (`?severity=&status=&agency=&assignee=&overdue=`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CaseFilter {
    severity: String,
    status: String,
    agency: String,
    assignee: String,
    overdue: String,
}

impl CaseFilter {
    /// True when `case` passes every filter. With no status filter, open cases are shown.
    fn keeps(&self, case: &Case, today: NaiveDate) -> bool {
        let status = case.status();
        let status_ok = match self.status.as_str() {
            "" | "open" => !status.is_closed(),
            "closed" => status.is_closed(),
            "all" => true,
            other => status.as_str() == other,
        };
        let severity_ok = self.severity.is_empty() || case.flag == self.severity;
        let agency_ok = self.agency.is_empty() || case.agency_code == self.agency;
        let assignee_ok = match self.assignee.as_str() {
            "" => true,
            "none" => case.assignee.is_none(),
            email => case.assignee.as_deref() == Some(email),
        };
        let overdue_ok = self.overdue.is_empty() || case.overdue(today);
        status_ok && severity_ok && agency_ok && assignee_ok && overdue_ok
    }
}

fn filter_form(
    filter: &CaseFilter,
    agencies: &[(String, String)],
    people: &[String],
    lang: Lang,
) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let statuses: Vec<(&str, &str)> = [
        ("open", t("Đang mở", "Open")),
        ("closed", t("Đã đóng", "Closed")),
        ("all", t("Tất cả", "All")),
    ]
    .into_iter()
    .chain(Status::ALL.iter().map(|s| (s.as_str(), s.label_in(lang))))
    .collect();
    let current_status = if filter.status.is_empty() {
        "open"
    } else {
        filter.status.as_str()
    };
    html! {
        form.filters method="get" action="/admin/cases" {
            label for="f-severity" { (t("Mức độ", "Severity")) }
            select #f-severity name="severity" {
                option value="" { (t("Tất cả", "All")) }
                @for (value, label) in [("alarm", t("Báo động", "Alarm")), ("review", t("Phản ánh đòi tiền", "Money asked")), ("alert", t("Cảnh báo", "Alert"))] {
                    option value=(value) selected[filter.severity == value] { (label) }
                }
            }
            " "
            label for="f-status" { (t("Trạng thái", "Status")) }
            select #f-status name="status" {
                @for (value, label) in &statuses { option value=(value) selected[current_status == *value] { (label) } }
            }
            " "
            label for="f-agency" { (t("Cơ quan", "Agency")) }
            select #f-agency name="agency" {
                option value="" { (t("Tất cả", "All")) }
                @for (code, name) in agencies { option value=(code) selected[filter.agency == *code] { (name) } }
            }
            " "
            label for="f-assignee" { (t("Người xử lý", "Assignee")) }
            select #f-assignee name="assignee" {
                option value="" { (t("Tất cả", "All")) }
                option value="none" selected[filter.assignee == "none"] { (t("Chưa giao", "Not assigned")) }
                @for email in people { option value=(email) selected[filter.assignee == *email] { (email) } }
            }
            " "
            label { input type="checkbox" name="overdue" value="1" checked[!filter.overdue.is_empty()]; " " (t("Chỉ hồ sơ quá hạn", "Overdue only")) }
            " "
            button type="submit" { (t("Lọc", "Filter")) }
        }
    }
}

/// `GET /admin/cases`: the queue (reform office: every case; agency heads: their agencies').
pub async fn list_cases(
    viewer: Viewer,
    state: web::Data<AppState>,
    filter: web::Query<CaseFilter>,
) -> Result<HttpResponse, AppError> {
    let today = today();
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let (role, own) = (viewer.role(), viewer.0.user.agency_id);
    let (all, clear, outcomes) = state
        .read(move |conn| {
            let visible = visible_codes(conn, role, own)?;
            let list: Vec<Case> = cases::list(conn)?
                .into_iter()
                .filter(|c| visible.as_ref().is_none_or(|v| v.contains(&c.agency_code)))
                .collect();
            let needs = list.iter().any(|c| c.status() == Status::Resolved);
            let clear = if needs {
                clear_flags(conn, today)?
            } else {
                HashMap::new()
            };
            let outcomes = if visible.is_none() {
                cases::outcomes(conn)?
            } else {
                Vec::new()
            };
            Ok((list, clear, outcomes))
        })
        .await?;
    let mut agencies: Vec<(String, String)> = all
        .iter()
        .map(|c| (c.agency_code.clone(), c.agency_name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.1.cmp(&b.1));
    agencies.dedup();
    let mut people: Vec<String> = all.iter().filter_map(|c| c.assignee.clone()).collect();
    people.sort();
    people.dedup();
    let mut list: Vec<&Case> = all.iter().filter(|c| filter.keeps(c, today)).collect();
    // Open before closed, then the most severe, overdue first, newest first.
    list.sort_by_key(|c| {
        (
            c.status().is_closed(),
            c.severity_rank(),
            !c.overdue(today),
            std::cmp::Reverse(c.id),
        )
    });
    let head = role == Role::AgencyHead;
    let body = html! {
        h1 { (t("Theo dõi xử lý các cảnh báo", "Follow-up of flags")) }
        p.muted { (t("Mỗi cảnh báo, báo động hoặc phản ánh bị yêu cầu chi thêm tiền mở một hồ sơ theo dõi. Hồ sơ đã khắc phục được xác minh khi cờ không xuất hiện lại trong ", "Every alert, alarm or report of money asked opens a follow-up case. A resolved case is verified when the flag has not come back for ")) (VERIFY_DAYS) (t(" ngày sau đó.", " days afterwards.")) }
        @if head { p.muted { (t("Ông/Bà xem được hồ sơ của cơ quan mình và ghi nhận việc đã làm; chuyên viên theo dõi kết luận hồ sơ.", "You see your agencies' cases and record what was done; reviewers decide.")) } }
        (filter_form(&filter, &agencies, &people, lang))
        p.muted { (list.len()) (t(" hồ sơ khớp bộ lọc.", " cases match the filters.")) }
        @if list.is_empty() { p { (t("Không có hồ sơ theo dõi nào khớp bộ lọc.", "No follow-up case matches the filters.")) } }
        @else {
            div.scroll role="region" tabindex="0" aria-label=(t("Danh sách hồ sơ theo dõi", "Follow-up cases")) { table {
                thead { tr { th { (t("Số", "No.")) } th { (t("Mức độ", "Severity")) } th { (t("Cơ quan", "Agency")) } th { (t("Vấn đề", "Problem")) } th { (t("Trạng thái", "Status")) } th { (t("Người xử lý", "Assignee")) } th { (t("Hạn", "Due")) } th { (t("Mở ngày", "Opened")) } } }
                tbody { @for c in &list { tr {
                    td { a href=(format!("/admin/cases/{}", c.id)) { "#" (c.id) } }
                    td { span class=(match c.severity_rank() { 0 => "flag-alarm", 1 => "flag-review", _ => "flag-alert" }) { (c.severity_label(lang)) } }
                    td { a href=(format!("/admin/agencies/{}", c.agency_code)) { (c.agency_name) } }
                    td { (c.problem_label_in(lang)) }
                    td { (status_cell(c, verified(c, &clear, today), today, lang)) }
                    td { (c.assignee.as_deref().unwrap_or("—")) }
                    td { (c.due_on.map(day_text).unwrap_or_else(|| "—".into())) }
                    td { (day_text(crate::clock::day_of(c.opened_at))) }
                } } }
            } }
        }
        @if !outcomes.is_empty() { (outcomes_table(&outcomes, lang)) }
    };
    Ok(ok(page(
        Some(&viewer),
        t("Theo dõi xử lý", "Follow-up"),
        body,
    )))
}

/// What the page shows besides the case: a message after a change or a refusal, and what the
/// user had typed when a change was refused.
struct Notice<'a> {
    message: Option<(bool, String)>,
    entered: Option<&'a CaseForm>,
}

fn case_page(
    viewer: &Viewer,
    case: &Case,
    events: &[cases::Event],
    people: &[users::User],
    notice: &Notice<'_>,
) -> Markup {
    let today = today();
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let reviewer = viewer.role() != Role::AgencyHead;
    let next: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| case.status().can_move_to(*s))
        .collect();
    let entered = |f: fn(&CaseForm) -> &str| notice.entered.map(f).unwrap_or("");
    page(
        Some(viewer),
        &format!("{} #{}", t("Hồ sơ", "Case"), case.id),
        html! {
            h1 { (t("Hồ sơ theo dõi #", "Follow-up case #")) (case.id) ": " (case.problem_label_in(lang)) }
            p { a href=(format!("/admin/agencies/{}", case.agency_code)) { (case.agency_name) } " · " (case.severity_label(lang)) (t(" · mở ngày ", " · opened ")) (day_text(crate::clock::day_of(case.opened_at))) }
            @if let Some((good, m)) = &notice.message {
                div class=(if *good { "done" } else { "alert" }) role=(if *good { "status" } else { "alert" }) { (m) }
            }
            div.problem { p { strong { (t("Lý do mở: ", "Opened because: ")) } (case.reason) } }
            p { strong { (t("Trạng thái: ", "Status: ")) } (status_cell(case, false, today, lang))
                " · " strong { (t("Người xử lý: ", "Assignee: ")) } (case.assignee.as_deref().unwrap_or(t("chưa giao", "not assigned")))
                " · " strong { (t("Hạn: ", "Due: ")) } (case.due_on.map(day_text).unwrap_or_else(|| (t("chưa đặt", "not set")).into())) }
            @if let Some(r) = &case.unfounded_reason { p { strong { (t("Lý do không xác đáng: ", "Why unfounded: ")) } (r) } }
            @if reviewer {
                div.cards {
                    @if !next.is_empty() {
                        form.card method="post" action=(format!("/admin/cases/{}", case.id)) {
                            (csrf_field(viewer))
                            input type="hidden" name="action" value="status";
                            label.block for="to" { (t("Chuyển trạng thái", "Change the status")) }
                            select #to name="to" { @for s in &next { option value=(s.as_str()) selected[entered(|f| f.to.as_str()) == s.as_str()] { (s.label_in(lang)) } } }
                            label.block for="reason" { (t("Việc đã làm hoặc lý do (bắt buộc khi kết luận đã khắc phục hoặc không xác đáng)", "What was done, or why (required to close as resolved or unfounded)")) }
                            input #reason type="text" name="reason" maxlength="2000" value=(entered(|f| f.reason.as_str()));
                            p {}
                            button type="submit" { (t("Cập nhật", "Update")) }
                        }
                    }
                    form.card method="post" action=(format!("/admin/cases/{}", case.id)) {
                        (csrf_field(viewer))
                        input type="hidden" name="action" value="assign";
                        label.block for="assignee" { (t("Giao cho", "Assign to")) }
                        select #assignee name="assignee" {
                            option value="" { (t("(chưa giao)", "(not assigned)")) }
                            @for u in people { option value=(u.id) selected[case.assignee.as_deref() == Some(u.email.as_str())] { (u.email) } }
                        }
                        p {}
                        button type="submit" { (t("Giao việc", "Assign")) }
                    }
                    form.card method="post" action=(format!("/admin/cases/{}", case.id)) {
                        (csrf_field(viewer))
                        input type="hidden" name="action" value="due";
                        label.block for="due" { (t("Hạn xử lý", "Due date")) }
                        input #due type="date" name="due" value=[case.due_on];
                        p {}
                        button type="submit" { (t("Đặt hạn", "Set the due date")) }
                    }
                }
            }
            form method="post" action=(format!("/admin/cases/{}", case.id)) {
                (csrf_field(viewer))
                input type="hidden" name="action" value="note";
                label.block for="note" { (t("Ghi nhận việc đã làm", "Record what was done")) }
                textarea #note name="note" maxlength="2000" { (entered(|f| f.note.as_str())) }
                button type="submit" { (t("Thêm ghi chú", "Add a note")) }
            }
            h2 { (t("Nhật ký xử lý", "Action log")) }
            div.scroll role="region" tabindex="0" aria-label=(t("Nhật ký xử lý", "Action log")) { table {
                thead { tr { th { (t("Thời điểm (giờ Việt Nam)", "Time (Vietnam, UTC+7)")) } th { (t("Người thực hiện", "By")) } th { (t("Việc", "Action")) } th { (t("Nội dung", "Details")) } } }
                tbody { @for e in events { tr {
                    td { (local_text(e.at)) } td { (e.email.as_deref().unwrap_or(t("hệ thống", "system"))) } td { (cases::event_label(&e.kind, lang)) } td { (e.detail) }
                } } }
            } }
        },
    )
}

/// The case `id` if `viewer` may see it.
async fn visible_case(
    viewer: &Viewer,
    state: &AppState,
    id: i64,
) -> Result<(Case, Vec<cases::Event>, Vec<users::User>), AppError> {
    let (role, own) = (viewer.role(), viewer.0.user.agency_id);
    let data = state
        .read(move |conn| {
            let Some(case) = cases::get(conn, id)? else {
                return Ok(None);
            };
            if let Some(codes) = visible_codes(conn, role, own)?
                && !codes.contains(&case.agency_code)
            {
                return Ok(None);
            }
            let events = cases::events(conn, id)?;
            let people: Vec<users::User> = if role == Role::AgencyHead {
                Vec::new()
            } else {
                users::list(conn)?
                    .into_iter()
                    .filter(|u| !u.disabled && u.role != Role::AgencyHead)
                    .collect()
            };
            Ok(Some((case, events, people)))
        })
        .await?;
    data.ok_or(AppError::NotFound)
}

async fn render_case(
    viewer: &Viewer,
    state: &AppState,
    id: i64,
    notice: Notice<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (case, events, people) = visible_case(viewer, state, id).await?;
    Ok(html(
        status,
        case_page(viewer, &case, &events, &people, &notice),
    ))
}

/// The query of a case page after a change.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
}

/// `GET /admin/cases/{id}` (agency heads: cases of their agencies).
pub async fn show_case(
    viewer: Viewer,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    q: web::Query<Done>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let message = q.done.is_some().then(|| {
        (
            true,
            lang.pick("Đã lưu thay đổi.", "The change was saved.")
                .to_owned(),
        )
    });
    let notice = Notice {
        message,
        entered: None,
    };
    render_case(&viewer, &state, id.into_inner(), notice, StatusCode::OK).await
}

/// A change to a case: `action` is status (with `to`, `reason`), assign (`assignee`), due
/// (`due`) or note (`note`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CaseForm {
    action: String,
    to: String,
    reason: String,
    assignee: String,
    due: String,
    note: String,
}

impl CaseForm {
    /// The change asked for; `BadRequest` for one no page offers.
    fn action(&self) -> Result<Action, AppError> {
        fn optional(v: &str) -> Option<&str> {
            Some(v.trim()).filter(|v| !v.is_empty())
        }
        Ok(match self.action.trim() {
            "status" => Action::Status {
                to: Status::parse(self.to.trim()).ok_or(AppError::BadRequest)?,
                reason: Some(self.reason.trim().to_owned()),
            },
            "assign" => Action::Assign(
                optional(&self.assignee)
                    .map(str::parse)
                    .transpose()
                    .map_err(|_| AppError::BadRequest)?,
            ),
            "due" => Action::Due(
                optional(&self.due)
                    .map(str::parse)
                    .transpose()
                    .map_err(|_| AppError::BadRequest)?,
            ),
            "note" => Action::Note(self.note.trim().to_owned()),
            _ => return Err(AppError::BadRequest),
        })
    }
}

/// `POST /admin/cases/{id}`: one change. Agency heads may only add notes, to cases of their
/// agencies.
pub async fn update_case(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Posted(viewer, form): Posted<Viewer, CaseForm>,
) -> Result<HttpResponse, AppError> {
    let action = form.action()?;
    let case_id = id.into_inner();
    if viewer.role() == Role::AgencyHead {
        if !matches!(action, Action::Note(_)) {
            return Err(AppError::Forbidden);
        }
        visible_case(&viewer, &state, case_id).await?;
    }
    let (user, now) = (viewer.user_id(), crate::clock::now());
    let outcome = state
        .write(
            move |conn| match cases::apply(conn, case_id, &action, user, now) {
                Ok(()) => Ok(Ok(())),
                Err(CaseError::Database(e)) => Err(AppError::from(e)),
                Err(other) => Ok(Err(other)),
            },
        )
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(format!("/admin/cases/{case_id}?done=1"))),
        Err(CaseError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            let notice = Notice {
                message: Some((false, e.to_string())),
                entered: Some(&form),
            };
            render_case(
                &viewer,
                &state,
                case_id,
                notice,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
