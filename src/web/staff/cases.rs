//! Case pages: the list (open first, overdue highlighted, resolved cases verified once their flag
//! has stayed clear for a full quarter), one case with its action log, and the changes
//! reviewers make (status, assignee, due date, notes), each recorded with who and when.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::guard::{Posted, Staff, Viewer};
use super::layout::{csrf_field, page};
use crate::accounts::{Role, users};
use crate::cases::{self, Action, Case, CaseError, Status};
use crate::clock::today;
use crate::domain::Lang;
use crate::report::numbers::percent;
use crate::report::{self, GroupBy, Query};
use crate::stats::Severity;
use crate::web::error::AppError;
use crate::web::html::{html, ok, see_other};
use crate::web::state::AppState;

/// Days a flag must stay clear after a case is resolved for the fix to count as verified.
pub const VERIFY_DAYS: i64 = 90;

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

/// `GET /admin/cases` (admins and reviewers).
pub async fn list_cases(
    Staff(viewer): Staff,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let today = today();
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let (mut list, clear, outcomes) = state
        .read(move |conn| {
            let list = cases::list(conn)?;
            let needs = list.iter().any(|c| c.status() == Status::Resolved);
            let clear = if needs {
                clear_flags(conn, today)?
            } else {
                HashMap::new()
            };
            Ok((list, clear, cases::outcomes(conn)?))
        })
        .await?;
    // Open cases first (overdue at the top), then closed ones.
    list.sort_by_key(|c| {
        (
            c.status().is_closed(),
            !c.overdue(today),
            std::cmp::Reverse(c.id),
        )
    });
    let body = html! {
        h1 { (t("Theo dõi xử lý các cảnh báo", "Follow-up of flags")) }
        p.muted { (t("Mỗi cảnh báo, báo động hoặc phản ánh bị yêu cầu chi thêm tiền mở một hồ sơ theo dõi. Hồ sơ đã khắc phục được xác minh khi cờ không xuất hiện lại trong ", "Every alert, alarm or report of money asked opens a follow-up case. A resolved case is verified when the flag has not come back for ")) (VERIFY_DAYS) (t(" ngày sau đó.", " days afterwards.")) }
        @if !outcomes.is_empty() { (outcomes_table(&outcomes, lang)) }
        @if list.is_empty() { p { (t("Chưa có hồ sơ theo dõi nào.", "No follow-up case yet.")) } }
        @else { div.scroll role="region" tabindex="0" aria-label=(t("Danh sách hồ sơ theo dõi", "Follow-up cases")) { table {
            thead { tr { th { (t("Số", "No.")) } th { (t("Cơ quan", "Agency")) } th { (t("Vấn đề", "Problem")) } th { (t("Trạng thái", "Status")) } th { (t("Người xử lý", "Assignee")) } th { (t("Hạn", "Due")) } th { (t("Mở ngày", "Opened")) } } }
            tbody { @for c in &list { tr {
                td { a href=(format!("/admin/cases/{}", c.id)) { "#" (c.id) } }
                td { a href=(format!("/admin/agencies/{}", c.agency_code)) { (c.agency_name) } }
                td { (c.problem_label_in(lang)) }
                td { (status_cell(c, verified(c, &clear, today), today, lang)) }
                td { (c.assignee.as_deref().unwrap_or("—")) }
                td { (c.due_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                td { (c.opened_at.format("%Y-%m-%d")) }
            } } }
        } } }
    };
    Ok(ok(page(
        Some(&viewer),
        t("Theo dõi xử lý", "Follow-up"),
        body,
    )))
}

fn case_page(
    viewer: &Viewer,
    case: &Case,
    events: &[cases::Event],
    people: &[users::User],
    message: Option<&str>,
) -> Markup {
    let today = today();
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let next: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| case.status().can_move_to(*s))
        .collect();
    page(
        Some(viewer),
        &format!("{} #{}", t("Hồ sơ", "Case"), case.id),
        html! {
            h1 { (t("Hồ sơ theo dõi #", "Follow-up case #")) (case.id) ": " (case.problem_label_in(lang)) }
            p { a href=(format!("/admin/agencies/{}", case.agency_code)) { (case.agency_name) } (t(" · mở ngày ", " · opened ")) (case.opened_at.format("%Y-%m-%d")) }
            @if let Some(m) = message { div.alert role="alert" { (m) } }
            div.problem { p { strong { (t("Lý do mở: ", "Opened because: ")) } (case.reason) } }
            p { strong { (t("Trạng thái: ", "Status: ")) } (status_cell(case, false, today, lang))
                " · " strong { (t("Người xử lý: ", "Assignee: ")) } (case.assignee.as_deref().unwrap_or(t("chưa giao", "not assigned")))
                " · " strong { (t("Hạn: ", "Due: ")) } (case.due_on.map(|d| d.to_string()).unwrap_or_else(|| (t("chưa đặt", "not set")).into())) }
            @if let Some(r) = &case.unfounded_reason { p { strong { (t("Lý do không xác đáng: ", "Why unfounded: ")) } (r) } }
            div.cards {
                @if !next.is_empty() {
                    form.card method="post" action=(format!("/admin/cases/{}", case.id)) {
                        (csrf_field(viewer))
                        input type="hidden" name="action" value="status";
                        label.block for="to" { (t("Chuyển trạng thái", "Change the status")) }
                        select #to name="to" { @for s in &next { option value=(s.as_str()) { (s.label_in(lang)) } } }
                        label.block for="reason" { (t("Lý do (bắt buộc nếu không xác đáng)", "Reason (required for unfounded)")) }
                        input #reason type="text" name="reason";
                        p {}
                        button type="submit" { (t("Cập nhật", "Update")) }
                    }
                }
                form.card method="post" action=(format!("/admin/cases/{}", case.id)) {
                    (csrf_field(viewer))
                    input type="hidden" name="action" value="assign";
                    label.block for="assignee" { "Giao cho" }
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
            form method="post" action=(format!("/admin/cases/{}", case.id)) {
                (csrf_field(viewer))
                input type="hidden" name="action" value="note";
                label.block for="note" { (t("Ghi nhận việc đã làm", "Record what was done")) }
                textarea #note name="note" maxlength="2000" required {}
                button type="submit" { (t("Thêm ghi chú", "Add a note")) }
            }
            h2 { (t("Nhật ký xử lý", "Action log")) }
            div.scroll role="region" tabindex="0" aria-label=(t("Nhật ký xử lý", "Action log")) { table {
                thead { tr { th { (t("Thời điểm (UTC)", "Time (UTC)")) } th { (t("Người thực hiện", "By")) } th { (t("Việc", "Action")) } th { (t("Nội dung", "Details")) } } }
                tbody { @for e in events { tr {
                    td { (e.at.format("%Y-%m-%d %H:%M")) } td { (e.email.as_deref().unwrap_or(t("hệ thống", "system"))) } td { (e.kind) } td { (e.detail) }
                } } }
            } }
        },
    )
}

async fn render_case(
    viewer: &Viewer,
    state: &AppState,
    id: i64,
    message: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let data = state
        .read(move |conn| {
            let Some(case) = cases::get(conn, id)? else {
                return Ok(None);
            };
            let events = cases::events(conn, id)?;
            let people: Vec<users::User> = users::list(conn)?
                .into_iter()
                .filter(|u| !u.disabled && u.role != Role::AgencyHead)
                .collect();
            Ok(Some((case, events, people)))
        })
        .await?;
    let (case, events, people) = data.ok_or(AppError::NotFound)?;
    Ok(html(
        status,
        case_page(viewer, &case, &events, &people, message.as_deref()),
    ))
}

/// `GET /admin/cases/{id}`.
pub async fn show_case(
    Staff(viewer): Staff,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    render_case(&viewer, &state, id.into_inner(), None, StatusCode::OK).await
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

/// `POST /admin/cases/{id}`: one change.
pub async fn update_case(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Posted(Staff(viewer), form): Posted<Staff, CaseForm>,
) -> Result<HttpResponse, AppError> {
    let action = form.action()?;
    let (case_id, user, now) = (id.into_inner(), viewer.user_id(), crate::clock::now());
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
        Ok(()) => Ok(see_other(format!("/admin/cases/{case_id}"))),
        Err(CaseError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            let message = Some(e.to_string());
            render_case(
                &viewer,
                &state,
                case_id,
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
