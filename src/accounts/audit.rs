//! The audit log: sign-ins and every change, with who and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::audit_log;

/// Records `action` (a short code such as `login` or `user.create`) with its detail.
pub fn record(
    conn: &mut DbConn,
    at: NaiveDateTime,
    user_id: Option<i64>,
    action: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::user_id.eq(user_id),
            audit_log::action.eq(action),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One audit entry with the actor's email.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub at: NaiveDateTime,
    pub email: Option<String>,
    pub action: String,
    pub detail: String,
}

/// The most recent entries, newest first.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Entry>> {
    use crate::db::schema::users;
    audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::user_id)))
        .select((
            audit_log::at,
            users::email.nullable(),
            audit_log::action,
            audit_log::detail,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .load(conn)
}
