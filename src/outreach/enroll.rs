//! Enrolling a reported dossier's citizen, in the transaction that issues the invitation: an
//! old dossier's (returned more than `max_age_days` ago: a backfill), an opted-out or a recently
//! invited citizen gets no message (their link is still printable);
//! otherwise the addresses the planned channels need are kept apart from the invitation and the
//! invitation message is queued, so that it is sent exactly once whatever happens next.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::counts::{self, Count};
use super::{Contact, Medium, Reach};
use crate::db::DbConn;
use crate::db::schema::{contact_hashes, outreach};
use crate::domain::TokenSecret;
use crate::mail::outbox;

/// The dossier being enrolled.
#[derive(Debug, Clone)]
pub struct Dossier<'a> {
    pub invitation_id: i64,
    pub agency_id: i64,
    /// The Vietnam day the dossier was returned (the funnel's cohort).
    pub day: NaiveDate,
    pub expires_at: NaiveDateTime,
    pub contact: &'a Contact,
}

/// What became of a dossier's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    /// The invitation is queued on this channel (the first of the plan).
    Queued(Medium),
    /// No message: the citizen was invited within the fatigue window.
    RecentlyInvited,
    /// No message: the citizen asked for no more messages.
    OptedOut,
    /// No configured channel can use the addresses given (nothing kept).
    NoChannel,
    /// No message: the dossier was returned more than `max_age_days` ago (nothing kept).
    TooOld,
}

impl Enrolled {
    /// The code the API answers with.
    pub fn as_str(self) -> &'static str {
        match self {
            Enrolled::Queued(_) => "queued",
            Enrolled::RecentlyInvited => "recently_invited",
            Enrolled::OptedOut => "opted_out",
            Enrolled::NoChannel => "no_channel",
            Enrolled::TooOld => "too_old",
        }
    }
}

/// Enrolls `d` (call once, when its invitation is created, in the same transaction).
pub fn enroll(
    conn: &mut DbConn,
    reach: &Reach,
    secret: &TokenSecret,
    d: &Dossier<'_>,
    now: NaiveDateTime,
) -> QueryResult<Enrolled> {
    let plan = reach.plan(d.contact);
    let Some(&first) = plan.first() else {
        return Ok(Enrolled::NoChannel);
    };
    let today = crate::clock::day_of(now);
    if reach.max_age_days > 0 && (today - d.day).num_days() > i64::from(reach.max_age_days) {
        // Not counted with the addresses: the funnel shows it among the dossiers without message.
        return Ok(Enrolled::TooOld);
    }
    counts::add(conn, d.agency_id, d.day, first, Count::Contacts, 1)?;
    let mut hashes = d.contact.hashes(secret);
    hashes.sort();
    // The hashes are claimed before they are read: each one's row exists (inserted here if new)
    // and, on PostgreSQL, is locked until this transaction ends, so two reports of one citizen
    // at once (two API calls, two servers) cannot both find the window free — the second waits,
    // then reads the first one's invitation day. (On SQLite this transaction already holds the
    // database's write lock.) Always in hash order, so two claims cannot deadlock.
    for hash in &hashes {
        crate::on_backend!(conn, c => diesel::insert_into(contact_hashes::table)
            .values(contact_hashes::hash.eq(hash))
            .on_conflict(contact_hashes::hash)
            .do_nothing()
            .execute(c))?;
    }
    let read = contact_hashes::table
        .filter(contact_hashes::hash.eq_any(&hashes))
        .order(contact_hashes::hash)
        .select((contact_hashes::invited_on, contact_hashes::opted_out));
    let known: Vec<(Option<NaiveDate>, bool)> = match conn {
        DbConn::Pg(c) => read.for_update().load(c)?,
        DbConn::Sqlite(c) => read.load(c)?,
    };
    if known.iter().any(|(_, opted_out)| *opted_out) {
        counts::add(conn, d.agency_id, d.day, first, Count::OptedOut, 1)?;
        return Ok(Enrolled::OptedOut);
    }
    if reach.fatigue_days > 0 {
        let window_start = today - Duration::days(i64::from(reach.fatigue_days) - 1);
        if known
            .iter()
            .any(|(invited_on, _)| invited_on.is_some_and(|on| on >= window_start))
        {
            counts::add(conn, d.agency_id, d.day, first, Count::Recent, 1)?;
            return Ok(Enrolled::RecentlyInvited);
        }
    }
    diesel::update(contact_hashes::table.filter(contact_hashes::hash.eq_any(&hashes)))
        .set(contact_hashes::invited_on.eq(Some(today)))
        .execute(conn)?;
    // Only the addresses a planned channel needs are kept.
    let keep = |medium_needs: &[Medium], address: &Option<String>| {
        plan.iter()
            .any(|m| medium_needs.contains(m))
            .then(|| address.clone())
            .flatten()
    };
    let id: i64 = crate::on_backend!(conn, c => diesel::insert_into(outreach::table)
        .values((
            outreach::invitation_id.eq(d.invitation_id),
            outreach::agency_id.eq(d.agency_id),
            outreach::day.eq(d.day),
            outreach::email.eq(keep(&[Medium::Email], &d.contact.email)),
            outreach::phone.eq(keep(&[Medium::Sms, Medium::Zalo], &d.contact.phone)),
            outreach::expires_at.eq(d.expires_at),
        ))
        .returning(outreach::id)
        .get_result(c))?;
    outbox::enqueue_citizen(conn, id, INVITATION, first, now, &reach.domain)?;
    Ok(Enrolled::Queued(first))
}

/// The outbox kind of a citizen's invitation.
pub const INVITATION: &str = "invitation";
/// The outbox kind of a citizen's reminder.
pub const REMINDER: &str = "reminder";
