//! Dossier completion → invitation: validating a reported dossier and issuing its single-use link.

pub mod bulk;
pub mod dossier;
pub mod import;
pub mod issue;
pub mod qr;
pub mod queries;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::invitations;
use crate::domain::Channel;

/// A stored invitation (one per agency and dossier code).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Invitation {
    pub id: i64,
    pub token_seed: String,
    pub agency_id: i64,
    pub procedure_id: i64,
    pub dossier_code: String,
    pub channel: Channel,
    pub late: Option<bool>,
    pub days_late: Option<i32>,
    /// When the dossier was returned (UTC): the day its invitation counts in the response rate.
    pub returned_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used: bool,
}

/// A new invitation row (`None` stored as NULL, so that many rows go in one INSERT on SQLite).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = invitations, treat_none_as_default_value = false)]
pub struct NewInvitation {
    pub token_hash: String,
    pub token_seed: String,
    pub agency_id: i64,
    pub procedure_id: i64,
    pub dossier_code: String,
    pub channel: Channel,
    pub received_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub returned_at: NaiveDateTime,
    pub late: Option<bool>,
    pub days_late: Option<i32>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}
