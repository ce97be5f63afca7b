//! Digest recipients beyond agency heads (extra addresses per agency, or for the reform office)
//! and unsubscribed addresses; changed only by admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{agencies, mail_recipients};

/// One row: an extra recipient (active) or an unsubscribed address (inactive).
#[derive(Debug, Clone, Queryable)]
pub struct Recipient {
    pub id: i64,
    pub email: String,
    pub agency: Option<String>,
    pub active: bool,
}

/// Every row, by email.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Recipient>> {
    mail_recipients::table
        .left_join(agencies::table.on(agencies::id.nullable().eq(mail_recipients::agency_id)))
        .select((
            mail_recipients::id,
            mail_recipients::email,
            agencies::code.nullable(),
            mail_recipients::active,
        ))
        .order(mail_recipients::email)
        .load(conn)
}

/// Adds an extra recipient for an agency (or, with `None`, for the reform office's digest), or
/// unsubscribes an address (`active` false).
pub fn add(
    conn: &mut DbConn,
    email: &str,
    agency_id: Option<i64>,
    active: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(mail_recipients::table)
        .values((
            mail_recipients::email.eq(email),
            mail_recipients::agency_id.eq(agency_id),
            mail_recipients::active.eq(active),
            mail_recipients::created_at.eq(now),
        ))
        .execute(conn)
}

/// Removes a row (an extra recipient, or an unsubscription).
pub fn remove(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(mail_recipients::table.find(id)).execute(conn)
}
