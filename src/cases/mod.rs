//! Follow-up of flags (case management): an alert or alarm, or a citizen asked for money, opens a
//! case for the agency and problem; reviewers move it through `mới → đã tiếp nhận → đang xử lý →
//! đã khắc phục` or close it as `không xác đáng` with a reason, assign it and set a due date;
//! every change is an event with who and when.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{agencies, case_events, cases, users};
use crate::report::AgencyRow;
use crate::stats::Severity;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    Acknowledged,
    InProgress,
    Resolved,
    Unfounded,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Acknowledged,
        Status::InProgress,
        Status::Resolved,
        Status::Unfounded,
    ];

    /// Parses the stored code.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Unfounded => "unfounded",
        }
    }

    /// The Vietnamese name.
    pub fn label(self) -> &'static str {
        match self {
            Status::New => "Mới",
            Status::Acknowledged => "Đã tiếp nhận",
            Status::InProgress => "Đang xử lý",
            Status::Resolved => "Đã khắc phục",
            Status::Unfounded => "Không xác đáng",
        }
    }

    /// The name in `lang`.
    pub fn label_in(self, lang: crate::domain::Lang) -> &'static str {
        let en = match self {
            Status::New => "New",
            Status::Acknowledged => "Acknowledged",
            Status::InProgress => "In progress",
            Status::Resolved => "Resolved",
            Status::Unfounded => "Unfounded",
        };
        lang.pick(self.label(), en)
    }

    /// True once the case is closed.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Resolved | Status::Unfounded)
    }

    /// Whether the workflow allows moving from `self` to `to`: forward, or reopening a closed
    /// case to "in progress".
    pub fn can_move_to(self, to: Status) -> bool {
        let rank = |s: Status| Status::ALL.iter().position(|x| *x == s).unwrap_or(0);
        match (self.is_closed(), to) {
            (true, Status::InProgress) => true,
            (true, _) => false,
            (false, Status::Unfounded) => true,
            (false, to) => rank(to) > rank(self),
        }
    }
}

/// A case with its agency and assignee.
#[derive(Debug, Clone, Queryable)]
pub struct Case {
    pub id: i64,
    pub agency_code: String,
    pub agency_name: String,
    pub problem: String,
    pub flag: String,
    pub reason: String,
    pub status: String,
    pub assignee: Option<String>,
    pub due_on: Option<NaiveDate>,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub unfounded_reason: Option<String>,
}

impl Case {
    /// The case's status (an unknown stored value reads as new).
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::New)
    }

    /// Open and past its due date.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        !self.status().is_closed() && self.due_on.is_some_and(|d| d < today)
    }

    /// How urgent the case is: 0 for an alarm, 1 for a report of money asked, 2 for an alert.
    pub fn severity_rank(&self) -> u8 {
        match self.flag.as_str() {
            "alarm" => 0,
            "review" => 1,
            _ => 2,
        }
    }

    /// The case's severity in `lang`.
    pub fn severity_label(&self, lang: crate::domain::Lang) -> &'static str {
        match self.flag.as_str() {
            "alarm" => lang.pick("Báo động", "Alarm"),
            "review" => lang.pick("Phản ánh đòi tiền", "Money asked"),
            _ => lang.pick("Cảnh báo", "Alert"),
        }
    }

    /// The problem in `lang`.
    pub fn problem_label_in(&self, lang: crate::domain::Lang) -> &'static str {
        problem_label(&self.problem, lang)
    }

    /// The problem in Vietnamese.
    pub fn problem_label(&self) -> &'static str {
        problem_label(&self.problem, crate::domain::Lang::Vi)
    }
}

/// The name of a stored problem (`harassment`, `repeat_visits`, `money_asked`).
pub fn problem_label(problem: &str, lang: crate::domain::Lang) -> &'static str {
    match problem {
        "harassment" => lang.pick("Phiền hà, sách nhiễu", "Harassment"),
        "repeat_visits" => lang.pick("Đi lại nhiều lần", "Repeated visits"),
        _ => lang.pick("Yêu cầu chi thêm tiền", "Asked for money"),
    }
}

/// The name of an action-log entry's kind in `lang`.
pub fn event_label(kind: &str, lang: crate::domain::Lang) -> &'static str {
    match kind {
        "opened" => lang.pick("Mở hồ sơ", "Opened"),
        "status" => lang.pick("Đổi trạng thái", "Status changed"),
        "assign" => lang.pick("Giao việc", "Assigned"),
        "due" => lang.pick("Đặt hạn", "Due date set"),
        "note" => lang.pick("Ghi chú", "Note"),
        "persists" => lang.pick(
            "Cờ vẫn còn sau khi đóng",
            "Flag still present after closing",
        ),
        "reopened" => lang.pick("Mở lại (cờ vẫn còn)", "Reopened (flag still present)"),
        _ => lang.pick("Khác", "Other"),
    }
}

/// One entry of a case's action log.
#[derive(Debug, Clone, Queryable)]
pub struct Event {
    pub at: NaiveDateTime,
    pub email: Option<String>,
    pub kind: String,
    pub detail: String,
}

/// Cases, newest first; only `id` or only the cases of `agency` when given.
fn load(conn: &mut DbConn, id: Option<i64>, agency: Option<i64>) -> QueryResult<Vec<Case>> {
    let mut query = cases::table
        .inner_join(agencies::table)
        .left_join(users::table.on(users::id.nullable().eq(cases::assignee_id)))
        .select((
            cases::id,
            agencies::code,
            agencies::name,
            cases::problem,
            cases::flag,
            cases::reason,
            cases::status,
            users::email.nullable(),
            cases::due_on,
            cases::opened_at,
            cases::closed_at,
            cases::unfounded_reason,
        ))
        .order(cases::id.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(cases::id.eq(id));
    }
    if let Some(agency) = agency {
        query = query.filter(cases::agency_id.eq(agency));
    }
    query.load(conn)
}

/// Every case, newest first.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Case>> {
    load(conn, None, None)
}

/// The cases of one agency (its flag history), newest first.
pub fn for_agency(conn: &mut DbConn, agency_id: i64) -> QueryResult<Vec<Case>> {
    load(conn, None, Some(agency_id))
}

/// One case.
pub fn get(conn: &mut DbConn, id: i64) -> QueryResult<Option<Case>> {
    Ok(load(conn, Some(id), None)?.into_iter().next())
}

/// How the flags of one problem and severity turned out once reviewers closed their cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub problem: String,
    pub flag: String,
    /// Closed as resolved: the problem was real.
    pub substantiated: u64,
    /// Closed as unfounded.
    pub unfounded: u64,
    /// The model's expected share of real problems among these flags, Σ(1 − lfdr)/count
    /// (`None` when no closed case recorded it).
    pub expected_precision: Option<f64>,
}

impl Outcome {
    /// The province's own measured precision of these flags.
    pub fn measured_precision(&self) -> Option<f64> {
        let closed = self.substantiated + self.unfounded;
        (closed > 0).then(|| self.substantiated as f64 / closed as f64)
    }
}

/// The outcomes of closed cases per problem and flag (statistical flags only).
pub fn outcomes(conn: &mut DbConn) -> QueryResult<Vec<Outcome>> {
    let closed: Vec<(String, String, String, Option<f64>)> = cases::table
        .filter(cases::status.eq_any([Status::Resolved.as_str(), Status::Unfounded.as_str()]))
        .filter(cases::problem.ne("money_asked"))
        .select((
            cases::problem,
            cases::flag,
            cases::status,
            cases::false_probability,
        ))
        .order((cases::problem, cases::flag, cases::id))
        .load(conn)?;
    let mut out: Vec<Outcome> = Vec::new();
    let mut expected: Vec<(f64, u64)> = Vec::new();
    for (problem, flag, status, false_probability) in closed {
        if out
            .last()
            .is_none_or(|o| o.problem != problem || o.flag != flag)
        {
            out.push(Outcome {
                problem: problem.clone(),
                flag: flag.clone(),
                substantiated: 0,
                unfounded: 0,
                expected_precision: None,
            });
            expected.push((0.0, 0));
        }
        let (Some(o), Some(e)) = (out.last_mut(), expected.last_mut()) else {
            continue;
        };
        if status == Status::Resolved.as_str() {
            o.substantiated += 1;
        } else {
            o.unfounded += 1;
        }
        if let Some(f) = false_probability {
            e.0 += 1.0 - f;
            e.1 += 1;
        }
    }
    for (o, (sum, count)) in out.iter_mut().zip(expected) {
        o.expected_precision = (count > 0).then(|| sum / count as f64);
    }
    Ok(out)
}

/// A case's action log, oldest first.
pub fn events(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<Event>> {
    case_events::table
        .left_join(users::table.on(users::id.nullable().eq(case_events::user_id)))
        .filter(case_events::case_id.eq(case_id))
        .select((
            case_events::at,
            users::email.nullable(),
            case_events::kind,
            case_events::detail,
        ))
        .order(case_events::id)
        .load(conn)
}

fn log(
    conn: &mut DbConn,
    case_id: i64,
    at: NaiveDateTime,
    user: Option<i64>,
    kind: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(case_events::table)
        .values((
            case_events::case_id.eq(case_id),
            case_events::at.eq(at),
            case_events::user_id.eq(user),
            case_events::kind.eq(kind),
            case_events::detail.eq(detail),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A case just opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub agency_code: String,
    pub agency_name: String,
    /// `harassment`, `repeat_visits` or `money_asked`.
    pub problem: &'static str,
    /// The flag's severity (`None` for a report of money asked, which is reviewed whatever the
    /// numbers).
    pub severity: Severity,
    pub reason: String,
}

/// Days a flag must stay clear after a case is closed for the fix to count as verified; a flag
/// still present after them reopens the case.
pub const VERIFY_DAYS: i64 = 90;

/// Opens a case for every flagged problem of the report's agencies that has no open case yet
/// (or reopens its closed one, see [`VERIFY_DAYS`]); returns the cases opened or reopened.
pub fn open_for_flags(
    conn: &mut DbConn,
    rows: &[AgencyRow],
    now: NaiveDateTime,
) -> QueryResult<Vec<Opened>> {
    let ids: std::collections::HashMap<String, i64> = agencies::table
        .select((agencies::code, agencies::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let mut opened = Vec::new();
    for row in rows {
        let Some(agency_id) = ids.get(&row.code).copied() else {
            continue;
        };
        let mut wanted: Vec<(&'static str, Severity, &str, Option<f64>)> = Vec::new();
        for (problem, a) in [
            ("harassment", &row.harassment),
            ("repeat_visits", &row.repeat_visits),
        ] {
            if a.flag != Severity::None {
                let false_probability = a.problem_probability.map(|p| 1.0 - p);
                wanted.push((problem, a.flag, &a.reason, false_probability));
            }
        }
        let money;
        if row.money_asked > 0 {
            money = format!(
                "{} người trả lời cho biết bị yêu cầu chi thêm tiền, quà",
                row.money_asked
            );
            wanted.push(("money_asked", Severity::None, &money, None));
        }
        for (problem, severity, reason, false_probability) in wanted {
            // A report of money asked is stored as "review": looked at whatever the numbers.
            let flag = match severity {
                Severity::None => "review",
                other => other.as_str(),
            };
            let latest: Option<(i64, String, Option<NaiveDateTime>)> = cases::table
                .filter(cases::agency_id.eq(agency_id))
                .filter(cases::problem.eq(problem))
                .order(cases::id.desc())
                .select((cases::id, cases::status, cases::closed_at))
                .first(conn)
                .optional()?;
            if let Some((id, status, closed_at)) = latest {
                let closed = Status::parse(&status).is_some_and(Status::is_closed);
                if !closed {
                    continue;
                }
                // The flag is back on a closed case: its history continues there. Within the
                // verification period the flag's window still holds answers from before the
                // fix, so the case only notes it (once); after it, the case reopens.
                let since = closed_at.unwrap_or(now);
                if now - since < chrono::Duration::days(VERIFY_DAYS) {
                    let noted: i64 = case_events::table
                        .filter(case_events::case_id.eq(id))
                        .filter(case_events::kind.eq("persists"))
                        .filter(case_events::at.ge(since))
                        .count()
                        .get_result(conn)?;
                    if noted == 0 {
                        log(conn, id, now, None, "persists", reason)?;
                    }
                    continue;
                }
                diesel::update(cases::table.find(id))
                    .set((
                        cases::status.eq(Status::InProgress.as_str()),
                        cases::closed_at.eq(None::<NaiveDateTime>),
                        cases::flag.eq(flag),
                        cases::reason.eq(reason),
                    ))
                    .execute(conn)?;
                log(conn, id, now, None, "reopened", reason)?;
                opened.push(Opened {
                    agency_code: row.code.clone(),
                    agency_name: row.name.clone(),
                    problem,
                    severity,
                    reason: reason.to_owned(),
                });
                continue;
            }
            let id: i64 = diesel::insert_into(cases::table)
                .values((
                    cases::agency_id.eq(agency_id),
                    cases::problem.eq(problem),
                    cases::flag.eq(flag),
                    cases::reason.eq(reason),
                    cases::status.eq(Status::New.as_str()),
                    cases::opened_at.eq(now),
                    cases::false_probability.eq(false_probability),
                ))
                .returning(cases::id)
                .get_result(conn)?;
            log(conn, id, now, None, "opened", reason)?;
            opened.push(Opened {
                agency_code: row.code.clone(),
                agency_name: row.name.clone(),
                problem,
                severity,
                reason: reason.to_owned(),
            });
        }
    }
    Ok(opened)
}

/// A change a reviewer makes to a case.
#[derive(Debug, Clone)]
pub enum Action {
    Status { to: Status, reason: Option<String> },
    Assign(Option<i64>),
    Due(Option<NaiveDate>),
    Note(String),
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("không thể chuyển từ \"{from}\" sang \"{to}\"")]
    Transition {
        from: &'static str,
        to: &'static str,
    },
    #[error("cần ghi rõ lý do khi kết luận không xác đáng")]
    ReasonNeeded,
    #[error("cần ghi rõ việc đã làm để khắc phục trước khi kết luận đã khắc phục")]
    ResolutionNeeded,
    #[error("ghi chú không được để trống và dài tối đa 2000 ký tự")]
    Note,
    #[error("không có hồ sơ theo dõi này")]
    NotFound,
    #[error(
        "chỉ giao được cho chuyên viên theo dõi hoặc quản trị đang hoạt động (not an active reviewer or admin)"
    )]
    Assignee,
    #[error(
        "hạn xử lý phải là một ngày từ năm 2000 đến 2100 (the due date must fall in 2000–2100)"
    )]
    Due,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Applies a change and records it in the case's log, in one transaction.
pub fn apply(
    conn: &mut DbConn,
    case_id: i64,
    action: &Action,
    user: i64,
    now: NaiveDateTime,
) -> Result<(), CaseError> {
    crate::db::write_transaction(conn, |conn| {
        let case = get(conn, case_id)?.ok_or(CaseError::NotFound)?;
        let target = cases::table.find(case_id);
        match action {
            Action::Status { to, reason } => {
                let from = case.status();
                if !from.can_move_to(*to) {
                    return Err(CaseError::Transition {
                        from: from.label(),
                        to: to.label(),
                    });
                }
                let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
                if *to == Status::Unfounded && reason.is_none() {
                    return Err(CaseError::ReasonNeeded);
                }
                if *to == Status::Resolved && reason.is_none() {
                    return Err(CaseError::ResolutionNeeded);
                }
                let closed = to.is_closed().then_some(now);
                let unfounded_reason = (*to == Status::Unfounded).then_some(reason).flatten();
                diesel::update(target)
                    .set((
                        cases::status.eq(to.as_str()),
                        cases::closed_at.eq(closed),
                        cases::unfounded_reason.eq(unfounded_reason),
                    ))
                    .execute(conn)?;
                let detail = match reason {
                    Some(r) => format!("{} → {}: {r}", from.label(), to.label()),
                    None => format!("{} → {}", from.label(), to.label()),
                };
                log(conn, case_id, now, Some(user), "status", &detail)?;
            }
            Action::Assign(who) => {
                if let Some(id) = who {
                    let role: Option<(crate::accounts::Role, bool)> = users::table
                        .find(id)
                        .select((users::role, users::disabled))
                        .first(conn)
                        .optional()?;
                    let may_work = matches!(
                        role,
                        Some((
                            crate::accounts::Role::Admin | crate::accounts::Role::Reviewer,
                            false
                        ))
                    );
                    if !may_work {
                        return Err(CaseError::Assignee);
                    }
                }
                diesel::update(target)
                    .set(cases::assignee_id.eq(who))
                    .execute(conn)?;
                let email: Option<String> = match who {
                    Some(id) => users::table
                        .find(id)
                        .select(users::email)
                        .first(conn)
                        .optional()?,
                    None => None,
                };
                log(
                    conn,
                    case_id,
                    now,
                    Some(user),
                    "assign",
                    email.as_deref().unwrap_or("(bỏ giao)"),
                )?;
            }
            Action::Due(day) => {
                if day.is_some_and(|d| !(2000..=2100).contains(&d.year())) {
                    return Err(CaseError::Due);
                }
                diesel::update(target)
                    .set(cases::due_on.eq(day))
                    .execute(conn)?;
                log(
                    conn,
                    case_id,
                    now,
                    Some(user),
                    "due",
                    &day.map(|d| d.to_string())
                        .unwrap_or_else(|| "(không hạn)".into()),
                )?;
            }
            Action::Note(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > 2000 {
                    return Err(CaseError::Note);
                }
                log(conn, case_id, now, Some(user), "note", text)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::Status::*;

    #[test]
    fn the_workflow_moves_forward_or_reopens() {
        assert!(New.can_move_to(Acknowledged));
        assert!(New.can_move_to(Resolved));
        assert!(InProgress.can_move_to(Unfounded));
        assert!(!InProgress.can_move_to(Acknowledged));
        assert!(!Resolved.can_move_to(Unfounded));
        assert!(Resolved.can_move_to(InProgress));
        assert!(!New.can_move_to(New));
    }
}
