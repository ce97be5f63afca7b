//! The scheduled part of outreach: sending the citizens' due messages, queueing due reminders,
//! and forgetting what is no longer needed. Every step is safe to run twice at once (another
//! server may run it too): messages are claimed in the outbox, reminders are queued once per row.
//!
//! A message is rendered when it is sent, from its outreach row (the address) and its invitation
//! (the survey link, derived from the seed with the secret): the outbox keeps neither. After the
//! last message of a dossier (the reminder; the invitation when no reminder will follow; a
//! message no channel could deliver), the addresses are erased and the dossier's outbox rows
//! deleted (their times could be matched with the answer's); so they are when the link is used
//! (`answered`) or expires (`purge`).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::counts::{self, Count};
use super::gateway::{Gateway, Outcome};
use super::messages::{self, Facts, Kind};
use super::{Contact, Medium, Reach, unsubscribe};
use crate::config::Settings;
use crate::db::schema::{agencies, contact_hashes, invitations, outbox, outreach, procedures};
use crate::db::{Database, DbConn, StoreError};
use crate::domain::{SurveyToken, TokenSecret};
use crate::mail::outbox::{Queued, backoff, claim, due, enqueue_citizen};
use crate::mail::{Mailer, SendError};

/// Everything sending needs: the settings, the channels, the secret.
#[derive(Clone)]
pub struct Sender {
    settings: Settings,
    reach: Reach,
    mailer: Mailer,
    sms: Option<Gateway>,
    zalo: Option<Gateway>,
    secret: TokenSecret,
}

impl Sender {
    /// The sender of `settings`; `None` when no outreach channel is configured.
    pub fn new(
        settings: &Settings,
        mailer: Mailer,
        secret: TokenSecret,
    ) -> Result<Option<Sender>, String> {
        let Some(reach) = Reach::from_settings(settings) else {
            return Ok(None);
        };
        Ok(Some(Sender {
            settings: settings.clone(),
            reach,
            mailer,
            sms: Gateway::new(&settings.sms).map_err(|e| format!("[sms] {e}"))?,
            zalo: Gateway::new(&settings.zalo).map_err(|e| format!("[zalo] {e}"))?,
            secret,
        }))
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retrying: usize,
    /// Moved to the next channel.
    pub fell_back: usize,
    /// Given up on every channel.
    pub failed: usize,
    /// Dropped unsent: the link was used or expired, or the citizen opted out.
    pub dropped: usize,
    /// Left for the next round: their channel failed [`PAUSE_AFTER`] times in a row in this one.
    pub deferred: usize,
    pub reminders_queued: usize,
}

/// Transient failures in a row after which a channel is not used for the rest of a round: one
/// dead gateway (each attempt waiting `timeout_secs`) must not hold the other channels, and the
/// scheduler, for hours.
pub const PAUSE_AFTER: u32 = 3;

/// One outreach round, as the scheduler runs it: queue due reminders, send due messages, purge.
/// Each step takes a pooled connection of its own, and every write the writers' turn first (on
/// SQLite), as web requests do: a write committed outside the turn, between the read and the
/// write of a web request's transaction, failed that request ("database is locked").
pub fn round(
    db: &Database,
    sender: &Sender,
    now: impl Fn() -> NaiveDateTime,
) -> Result<Round, StoreError> {
    let queued = queue_reminders(db, sender, now())?;
    let mut round = deliver_due(db, sender, &now)?;
    round.reminders_queued = queued;
    purge(db, sender, now())?;
    Ok(round)
}

/// The outreach row a message is rendered from.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outreach, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct Row {
    id: i64,
    invitation_id: i64,
    agency_id: i64,
    day: NaiveDate,
    email: Option<String>,
    phone: Option<String>,
}

impl Row {
    fn contact(&self) -> Contact {
        Contact {
            email: self.email.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// The invitation facts a message names.
struct Invited {
    seed: String,
    used: bool,
    expires_at: NaiveDateTime,
    agency: String,
    procedure: String,
}

fn invited(conn: &mut DbConn, invitation_id: i64) -> QueryResult<Option<Invited>> {
    let found = invitations::table
        .inner_join(agencies::table)
        .inner_join(procedures::table)
        .filter(invitations::id.eq(invitation_id))
        .select((
            invitations::token_seed,
            invitations::used,
            invitations::expires_at,
            agencies::name,
            procedures::name,
        ))
        .first::<(String, bool, NaiveDateTime, String, String)>(conn)
        .optional()?;
    Ok(
        found.map(|(seed, used, expires_at, agency, procedure)| Invited {
            seed,
            used,
            expires_at,
            agency,
            procedure,
        }),
    )
}

/// Settles outreach row `id` when nothing more will be sent: erases its addresses (and any
/// reminder still planned) and deletes its outbox rows, sent or not (a sent time kept could be
/// matched with the answer's).
pub(crate) fn settle(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(outreach::table.find(id))
        .set((
            outreach::email.eq(None::<String>),
            outreach::phone.eq(None::<String>),
            outreach::remind_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    diesel::delete(outbox::table.filter(outbox::outreach_id.eq(id))).execute(conn)?;
    Ok(())
}

/// What to do with a claimed message.
enum Prepared {
    /// Not to be sent (why, for the log); the outreach row is settled if it is still there.
    Drop(&'static str),
    Send(Box<Ready>),
}

/// A message ready to send.
struct Ready {
    row: Row,
    kind: Kind,
    medium: Medium,
    address: String,
    facts: Facts,
    expires_at: NaiveDateTime,
}

fn prepare(
    conn: &mut DbConn,
    sender: &Sender,
    q: &Queued,
    now: NaiveDateTime,
) -> QueryResult<Prepared> {
    let Some(outreach_id) = q.outreach_id else {
        return Ok(Prepared::Drop("not a citizen's message"));
    };
    let row: Option<Row> = outreach::table
        .find(outreach_id)
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Prepared::Drop("the link was answered or expired"));
    };
    let (Some(kind), Some(medium)) = (Kind::parse(&q.kind), Medium::parse(&q.channel)) else {
        return Ok(Prepared::Drop("unknown kind or channel"));
    };
    let Some(inv) = invited(conn, row.invitation_id)? else {
        return Ok(Prepared::Drop("the invitation is gone"));
    };
    if inv.used || inv.expires_at <= now {
        return Ok(Prepared::Drop("the link was answered or expired"));
    }
    let contact = row.contact();
    let Some(address) = contact.address(medium).map(str::to_owned) else {
        return Ok(Prepared::Drop("no address for this channel"));
    };
    let hashes = contact.hashes(&sender.secret);
    if unsubscribe::opted_out(conn, &hashes)? {
        return Ok(Prepared::Drop("the citizen opted out"));
    }
    let base = sender.settings.public_url();
    let token = SurveyToken::derive(&sender.secret, &inv.seed);
    let facts = Facts {
        kind,
        agency: inv.agency,
        procedure: inv.procedure,
        link: format!("{base}/s/{}", token.as_str()),
        expires: crate::clock::local_text(inv.expires_at),
        expires_day: crate::clock::day_text(crate::clock::day_of(inv.expires_at)),
        unsubscribe: format!("{base}/u/{}", unsubscribe::token(&sender.secret, &hashes)),
    };
    Ok(Prepared::Send(Box::new(Ready {
        row,
        kind,
        medium,
        address,
        facts,
        expires_at: inv.expires_at,
    })))
}

/// Sends `r` on its channel; with the SMS parts it took.
fn send(sender: &Sender, r: &Ready, message_id: &str) -> (Outcome, i64) {
    let gateway = match r.medium {
        Medium::Email => {
            let email = messages::email(&r.address, &r.facts);
            let outcome = match sender.mailer.send_with_unsubscribe(
                &email,
                message_id,
                Some(&r.facts.unsubscribe),
            ) {
                Ok(()) => Outcome::Accepted,
                Err(SendError::Smtp(e)) if e.is_permanent() => Outcome::Refused(smtp_status(&e)),
                Err(SendError::Smtp(e)) => Outcome::Transient(smtp_status(&e)),
                Err(SendError::Build(_)) => Outcome::Refused("the message cannot be built".into()),
                Err(SendError::Off) => Outcome::Refused("mail is switched off".into()),
                Err(SendError::File(_)) => Outcome::Transient("file transport error".into()),
            };
            return (outcome, 0);
        }
        Medium::Sms => &sender.sms,
        Medium::Zalo => &sender.zalo,
    };
    let Some(gateway) = gateway else {
        return (
            Outcome::Refused(format!("[{}] is not configured", r.medium.as_str())),
            0,
        );
    };
    let unaccented = sender.settings.outreach.sms_unaccented;
    let text = match r.medium {
        Medium::Sms => messages::short(&r.facts, unaccented, Some(messages::sms_limit(unaccented))),
        _ => messages::short(&r.facts, false, None),
    };
    let parts = match r.medium {
        Medium::Sms => i64::try_from(messages::sms_parts(&text)).unwrap_or(i64::MAX),
        _ => 0,
    };
    // One id per message and channel: a provider that serves both Zalo and SMS must not take
    // the fallback for a repetition of the message it refused.
    let id = format!(
        "{}-{}",
        message_id
            .trim_matches(['<', '>'])
            .split('@')
            .next()
            .unwrap_or(message_id),
        r.medium.as_str()
    );
    let phone_local = format!("0{}", r.address.strip_prefix("84").unwrap_or(&r.address));
    let token = r
        .facts
        .link
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let values = BTreeMap::from([
        ("id", id),
        ("phone", r.address.clone()),
        ("phone_local", phone_local),
        ("text", text),
        ("link", r.facts.link.clone()),
        ("token", token),
        ("agency", r.facts.agency.clone()),
        ("procedure", r.facts.procedure.clone()),
        ("expires", r.facts.expires_day.clone()),
        ("kind", r.kind.as_str().to_owned()),
        ("unsubscribe", r.facts.unsubscribe.clone()),
    ]);
    (gateway.send(&values), parts)
}

/// What is kept of an SMTP error: its status code, never the server's text (which names the
/// address: "550 <dan@example.vn> rejected").
fn smtp_status(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}"),
        None if e.is_timeout() => "SMTP timeout".into(),
        None => "SMTP connection error".into(),
    }
}

/// Sends every due citizen message once (the transports run outside any transaction and hold no
/// connection).
fn deliver_due(
    db: &Database,
    sender: &Sender,
    now: impl Fn() -> NaiveDateTime,
) -> Result<Round, StoreError> {
    let mut round = Round::default();
    // Transient failures in a row, by channel.
    let mut streak: BTreeMap<Medium, u32> = BTreeMap::new();
    for id in db.read(|conn| Ok::<_, StoreError>(due(conn, true, now())?))? {
        if streak.values().any(|n| *n >= PAUSE_AFTER) {
            let channel: Option<String> = db.read(|conn| {
                Ok::<_, StoreError>(
                    outbox::table
                        .find(id)
                        .select(outbox::channel)
                        .first(conn)
                        .optional()?,
                )
            })?;
            let paused = channel
                .as_deref()
                .and_then(Medium::parse)
                .is_some_and(|m| streak.get(&m).is_some_and(|n| *n >= PAUSE_AFTER));
            if paused {
                round.deferred += 1;
                continue;
            }
        }
        let Some(q) = db.write(|conn| Ok::<_, StoreError>(claim(conn, id, now())?))? else {
            continue;
        };
        let ready = match db.read(|conn| Ok::<_, StoreError>(prepare(conn, sender, &q, now())?))? {
            Prepared::Drop(why) => {
                tracing::info!(id, why, "citizen message dropped unsent");
                db.write_transaction(|conn| {
                    diesel::delete(outbox::table.find(id)).execute(conn)?;
                    if let Some(o) = q.outreach_id {
                        settle(conn, o)?;
                    }
                    Ok::<_, StoreError>(())
                })?;
                round.dropped += 1;
                continue;
            }
            Prepared::Send(ready) => ready,
        };
        let (outcome, parts) = send(sender, &ready, &q.message_id);
        if matches!(outcome, Outcome::Transient(_)) {
            *streak.entry(ready.medium).or_default() += 1;
        } else {
            streak.remove(&ready.medium);
        }
        let at = now();
        db.write_transaction::<_, StoreError>(|conn| match outcome {
            Outcome::Accepted => {
                accepted(conn, sender, &q, &ready, parts, at)?;
                round.sent += 1;
                Ok(())
            }
            Outcome::Transient(e)
                if q.attempts < sender.settings.outreach.max_attempts as i32 =>
            {
                tracing::warn!(id, attempts = q.attempts, channel = ready.medium.as_str(), error = %e, "citizen message not delivered; retrying");
                diesel::update(outbox::table.find(id))
                    .set((
                        outbox::status.eq("pending"),
                        outbox::next_attempt_at.eq(at + backoff(q.attempts)),
                        outbox::last_error.eq(Some(e)),
                    ))
                    .execute(conn)?;
                round.retrying += 1;
                Ok(())
            }
            Outcome::Transient(e) | Outcome::Refused(e) => {
                tracing::warn!(id, channel = ready.medium.as_str(), error = %e, "citizen message failed on this channel");
                let r = &ready.row;
                counts::add(conn, r.agency_id, r.day, ready.medium, Count::Failed, 1)?;
                match sender.reach.next(&r.contact(), ready.medium) {
                    Some(next) => {
                        diesel::update(outbox::table.find(id))
                            .set((
                                outbox::status.eq("pending"),
                                outbox::channel.eq(next.as_str()),
                                outbox::attempts.eq(0),
                                outbox::next_attempt_at.eq(at),
                                outbox::last_error.eq(Some(e)),
                            ))
                            .execute(conn)?;
                        round.fell_back += 1;
                    }
                    None => {
                        // Nothing more will be sent: no reminder after a lost invitation.
                        settle(conn, r.id)?;
                        round.failed += 1;
                    }
                }
                Ok(())
            }
        })?;
    }
    Ok(round)
}

/// Records a delivered message: the funnel counts, and either the outbox row sent and the
/// reminder planned, or the outreach row settled.
fn accepted(
    conn: &mut DbConn,
    sender: &Sender,
    q: &Queued,
    r: &Ready,
    parts: i64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let row = &r.row;
    let count = match r.kind {
        Kind::Invitation => Count::Invited,
        Kind::Reminder => Count::Reminded,
    };
    counts::add(conn, row.agency_id, row.day, r.medium, count, 1)?;
    if parts > 0 {
        counts::add(
            conn,
            row.agency_id,
            row.day,
            r.medium,
            Count::SmsParts,
            parts,
        )?;
    }
    let days = sender.settings.outreach.reminder_days;
    let remind_at = at + Duration::days(i64::from(days));
    // A reminder leaves the citizen at least a day to answer, or it is not sent.
    let reminder =
        r.kind == Kind::Invitation && days > 0 && remind_at + Duration::days(1) <= r.expires_at;
    if r.kind == Kind::Invitation {
        diesel::update(outreach::table.find(row.id))
            .set(outreach::channel.eq(Some(r.medium)))
            .execute(conn)?;
    }
    if reminder {
        diesel::update(outbox::table.find(q.id))
            .set((
                outbox::status.eq("sent"),
                outbox::sent_at.eq(Some(at)),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)?;
        diesel::update(outreach::table.find(row.id))
            .set(outreach::remind_at.eq(Some(remind_at)))
            .execute(conn)?;
        Ok(())
    } else {
        // That was the last message.
        settle(conn, row.id)
    }
}

/// Queues the reminders that are due (once each: the row's `remind_at` is cleared in the same
/// transaction); returns how many.
fn queue_reminders(
    db: &Database,
    sender: &Sender,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = outreach, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
    struct Due {
        id: i64,
        invitation_id: i64,
        channel: Option<Medium>,
        email: Option<String>,
        phone: Option<String>,
    }
    let due: Vec<Due> = db.read(|conn| {
        Ok::<_, StoreError>(
            outreach::table
                .filter(outreach::remind_at.le(now))
                .order(outreach::id)
                .select(Due::as_select())
                .limit(500)
                .load(conn)?,
        )
    })?;
    let mut queued = 0;
    for Due {
        id,
        invitation_id,
        channel,
        email,
        phone,
    } in due
    {
        let contact = Contact { email, phone };
        let first = channel.or_else(|| sender.reach.plan(&contact).first().copied());
        db.write_transaction::<_, StoreError>(|conn| {
            // Cleared only if still due: another server may have queued it meanwhile.
            let mine = diesel::update(outreach::table.find(id).filter(outreach::remind_at.le(now)))
                .set(outreach::remind_at.eq(None::<NaiveDateTime>))
                .execute(conn)?;
            if mine == 0 {
                return Ok(());
            }
            let open = invited(conn, invitation_id)?.is_some_and(|i| !i.used && i.expires_at > now);
            match first {
                Some(medium) if open => {
                    if enqueue_citizen(
                        conn,
                        id,
                        Kind::Reminder.as_str(),
                        medium,
                        now,
                        &sender.reach.domain,
                    )? {
                        queued += 1;
                    }
                    Ok(())
                }
                _ => Ok(settle(conn, id)?),
            }
        })?;
    }
    Ok(queued)
}

/// Forgets what is no longer needed: outreach rows whose link expired with their outbox rows
/// (sent or waiting), outbox rows whose outreach row is gone, and the hashes of citizens invited
/// before the fatigue window who did not opt out.
fn purge(db: &Database, sender: &Sender, now: NaiveDateTime) -> Result<(), StoreError> {
    db.write_transaction::<_, StoreError>(|conn| {
        let expired: Vec<i64> = outreach::table
            .filter(outreach::expires_at.le(now))
            .select(outreach::id)
            .limit(1000)
            .load(conn)?;
        if !expired.is_empty() {
            diesel::delete(outbox::table.filter(outbox::outreach_id.eq_any(&expired)))
                .execute(conn)?;
            diesel::delete(outreach::table.filter(outreach::id.eq_any(&expired))).execute(conn)?;
        }
        // Rows kept by earlier versions, which deleted only the messages still waiting.
        diesel::delete(
            outbox::table.filter(
                outbox::outreach_id.is_not_null().and(
                    outbox::outreach_id
                        .assume_not_null()
                        .ne_all(outreach::table.select(outreach::id)),
                ),
            ),
        )
        .execute(conn)?;
        let days = sender.settings.outreach.fatigue_days;
        let before = crate::clock::day_of(now) - Duration::days(i64::from(days));
        diesel::delete(
            contact_hashes::table
                .filter(contact_hashes::opted_out.eq(false))
                .filter(
                    contact_hashes::invited_on
                        .is_null()
                        .or(contact_hashes::invited_on.lt(before)),
                ),
        )
        .execute(conn)?;
        Ok(())
    })
}

/// Called when invitations are answered, in the answer's transaction: the answer counts for the
/// channel that delivered the invitation, and the outreach rows go with any address and their
/// outbox rows, sent or waiting.
pub fn answered(conn: &mut DbConn, invitation_ids: &[i64]) -> QueryResult<()> {
    if invitation_ids.is_empty() {
        return Ok(());
    }
    let gone: Vec<(i64, i64, NaiveDate, Option<Medium>)> = crate::on_backend!(conn, c => diesel::delete(
        outreach::table.filter(outreach::invitation_id.eq_any(invitation_ids)),
    )
    .returning((outreach::id, outreach::agency_id, outreach::day, outreach::channel))
    .get_results(c))?;
    if gone.is_empty() {
        return Ok(());
    }
    for (_, agency_id, day, channel) in &gone {
        if let Some(medium) = channel {
            counts::add(conn, *agency_id, *day, *medium, Count::Answered, 1)?;
        }
    }
    let ids: Vec<i64> = gone.iter().map(|g| g.0).collect();
    diesel::delete(outbox::table.filter(outbox::outreach_id.eq_any(&ids))).execute(conn)?;
    Ok(())
}
