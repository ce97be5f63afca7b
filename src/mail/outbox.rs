//! The outbox: messages are queued in the transaction that decides to send them and delivered
//! by workers with retries and exponential backoff.
//!
//! Delivery is claimed with a conditional UPDATE, so two workers (or two servers) never send the
//! same row; (recipient, kind, period) is unique, so a digest is never queued twice. A worker
//! that dies after the SMTP server accepted a message but before recording it leaves the row
//! claimed; it is retried after the claim expires — the one case where a message may arrive twice,
//! with the same Message-ID.
//!
//! The Message-ID is drawn when the message is queued and stored with its row: 128 random bits
//! and the sender's domain ([`super::message_domain`]), so it is unique across installations and
//! after a database restore (an id derived from the row number is not: a restored or second
//! installation numbers its rows again from the same values), and every retry or resend of the
//! row carries the same one.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{Email, Mailer};
use crate::db::schema::outbox;
use crate::db::{Database, DbConn, StoreError};
use crate::outreach::Medium;

/// How long a claim lasts before another worker may retry the row.
pub const CLAIM: i64 = 5;

/// A queued message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Queued {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub period: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub message_id: String,
    pub channel: String,
    pub outreach_id: Option<i64>,
}

/// A new globally unique Message-ID naming `domain`: `<32 hex digits@domain>`.
pub fn new_message_id(domain: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("<{random}@{domain}>"))
}

/// Queues `email` once per (recipient, kind, period), with a new Message-ID naming `domain`;
/// returns false when it was already queued.
pub fn enqueue(
    conn: &mut DbConn,
    email: &Email,
    kind: &str,
    period: &str,
    now: NaiveDateTime,
    domain: &str,
) -> QueryResult<bool> {
    insert_once(
        conn,
        New {
            recipient: &email.to,
            kind,
            period,
            subject: &email.subject,
            text_body: &email.text,
            html_body: &email.html,
            channel: Medium::Email.as_str(),
            outreach_id: None,
        },
        now,
        domain,
    )
}

/// Queues a message to a citizen once per (outreach row, kind). The row holds no address and
/// no text: the message is rendered from the outreach row when it is sent
/// (`crate::outreach::deliver`), so the outbox never keeps an address or a survey link.
pub fn enqueue_citizen(
    conn: &mut DbConn,
    outreach_id: i64,
    kind: &str,
    channel: Medium,
    now: NaiveDateTime,
    domain: &str,
) -> QueryResult<bool> {
    insert_once(
        conn,
        New {
            recipient: CITIZEN,
            kind,
            period: &outreach_id.to_string(),
            subject: "",
            text_body: "",
            html_body: "",
            channel: channel.as_str(),
            outreach_id: Some(outreach_id),
        },
        now,
        domain,
    )
}

/// The recipient column of a citizen's message (the address stays in its outreach row).
pub const CITIZEN: &str = "citizen";

/// A row to queue.
#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct New<'a> {
    recipient: &'a str,
    kind: &'a str,
    period: &'a str,
    subject: &'a str,
    text_body: &'a str,
    html_body: &'a str,
    channel: &'a str,
    outreach_id: Option<i64>,
}

/// Inserts `row` unless its (recipient, kind, period) is queued already; returns whether it was.
fn insert_once(
    conn: &mut DbConn,
    row: New<'_>,
    now: NaiveDateTime,
    domain: &str,
) -> QueryResult<bool> {
    let exists: i64 = outbox::table
        .filter(outbox::recipient.eq(row.recipient))
        .filter(outbox::kind.eq(row.kind))
        .filter(outbox::period.eq(row.period))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    let message_id = new_message_id(domain).map_err(|e| {
        diesel::result::Error::QueryBuilderError(
            format!("cannot draw a random Message-ID for the outbox: {e}").into(),
        )
    })?;
    // Another process (a second server) may queue it between our check and insert: still
    // exactly one. A conflict must not raise an error, which on PostgreSQL would abort the
    // caller's transaction (a citizen's response or dossier committed with the message).
    let values = (
        row,
        outbox::status.eq("pending"),
        outbox::next_attempt_at.eq(now),
        outbox::created_at.eq(now),
        outbox::message_id.eq(&message_id),
    );
    let inserted = crate::on_backend!(conn, c => diesel::insert_into(outbox::table)
        .values(values)
        .on_conflict((outbox::recipient, outbox::kind, outbox::period))
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Claims a due row for this worker; `None` when another worker got it first.
pub(crate) fn claim(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<Option<Queued>> {
    let claimed = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq_any(["pending", "sending"]))
            .filter(outbox::next_attempt_at.le(now)),
    )
    .set((
        outbox::status.eq("sending"),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::next_attempt_at.eq(now + Duration::minutes(CLAIM)),
    ))
    .execute(conn)?;
    if claimed == 0 {
        return Ok(None);
    }
    outbox::table
        .find(id)
        .select(Queued::as_select())
        .first(conn)
        .optional()
}

/// The wait before attempt `n + 1`: 1, 2, 4, 8… minutes, at most a day.
pub fn backoff(attempts: i32) -> Duration {
    Duration::minutes(1i64 << attempts.clamp(0, 10)).min(Duration::days(1))
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Delivers every due message once (SMTP runs outside any transaction and holds no connection;
/// each write takes the writers' turn on SQLite, as the web's do).
pub fn deliver_due(
    db: &Database,
    mailer: &Mailer,
    max_attempts: u32,
    now: impl Fn() -> NaiveDateTime,
) -> Result<Round, StoreError> {
    let due = db.read(|conn| Ok::<_, StoreError>(due(conn, false, now())?))?;
    let mut round = Round::default();
    for id in due {
        let Some(row) = db.write(|conn| Ok::<_, StoreError>(claim(conn, id, now())?))? else {
            continue;
        };
        let email = Email {
            to: row.recipient.clone(),
            subject: row.subject.clone(),
            text: row.text_body.clone(),
            html: row.html_body.clone(),
        };
        match mailer.send(&email, &row.message_id) {
            Ok(()) => {
                let at = now();
                db.write(|conn| {
                    Ok::<_, StoreError>(
                        diesel::update(outbox::table.find(id))
                            .set((
                                outbox::status.eq("sent"),
                                outbox::sent_at.eq(at),
                                outbox::last_error.eq(None::<String>),
                            ))
                            .execute(conn)?,
                    )
                })?;
                round.sent += 1;
            }
            Err(e) => {
                let give_up = row.attempts >= max_attempts as i32;
                tracing::warn!(id, attempts = row.attempts, error = %e, "mail delivery failed");
                let at = now();
                db.write(|conn| {
                    Ok::<_, StoreError>(
                        diesel::update(outbox::table.find(id))
                            .set((
                                outbox::status.eq(if give_up { "failed" } else { "pending" }),
                                outbox::next_attempt_at.eq(at + backoff(row.attempts)),
                                outbox::last_error.eq(Some(e.to_string())),
                            ))
                            .execute(conn)?,
                    )
                })?;
                if give_up {
                    round.failed += 1
                } else {
                    round.retrying += 1
                }
            }
        }
    }
    Ok(round)
}

/// Messages not yet sent nor given up, and when the oldest of them was queued.
pub fn backlog(conn: &mut DbConn) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    outbox::table
        .filter(outbox::status.eq_any(["pending", "sending"]))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(outbox::created_at),
        ))
        .first(conn)
}

/// The ids of up to 500 due messages, oldest first: citizens' messages or the others.
pub(crate) fn due(conn: &mut DbConn, citizens: bool, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    let pending = outbox::status
        .eq_any(["pending", "sending"])
        .and(outbox::next_attempt_at.le(now));
    if citizens {
        outbox::table
            .filter(pending.and(outbox::outreach_id.is_not_null()))
            .order(outbox::id)
            .select(outbox::id)
            .limit(500)
            .load(conn)
    } else {
        outbox::table
            .filter(pending.and(outbox::outreach_id.is_null()))
            .order(outbox::id)
            .select(outbox::id)
            .limit(500)
            .load(conn)
    }
}

/// Staff messages that gave up, newest first (shown to admins; a citizen's message that failed
/// on every channel is counted in the reach funnel and its address is gone).
pub fn failed(conn: &mut DbConn) -> QueryResult<Vec<Queued>> {
    outbox::table
        .filter(outbox::status.eq("failed"))
        .filter(outbox::outreach_id.is_null())
        .order(outbox::id.desc())
        .select(Queued::as_select())
        .load(conn)
}

/// Puts a failed message back in the queue for an immediate attempt (an admin's "retry").
pub fn retry(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq("failed"))
            .filter(outbox::outreach_id.is_null()),
    )
    .set((
        outbox::status.eq("pending"),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
    ))
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::{backoff, new_message_id};
    use chrono::Duration;

    #[test]
    fn message_ids_are_random_and_name_the_domain() -> Result<(), getrandom::Error> {
        let (a, b) = (
            new_message_id("tinh.gov.vn")?,
            new_message_id("tinh.gov.vn")?,
        );
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@tinh.gov.vn>"), "{a}");
        assert_eq!(a.len(), "<@tinh.gov.vn>".len() + 32);
        Ok(())
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(8));
        assert_eq!(backoff(40), Duration::days(1).min(Duration::minutes(1024)));
    }
}
