//! The one write path of a response: store it, mark its link used (and count it answered for
//! the response rate, and forget the address outreach kept for it), update the counts, keep the
//! optional contact detail apart, and queue the
//! money alert it calls for — all in the caller's
//! transaction. Web submissions (link and walk-in) commit through [`Recorder`]; the paper import
//! calls [`stage`] with its batches, each in a transaction of its own, and its counts are added
//! once the whole file is in (`super::staging`).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::result::QueryResult;

use super::Submission;
use super::store::{self, ContactRequest, Stored};
use crate::aggregates;
use crate::config::Settings;
use crate::db::group_commit::{BatchFn, Committer, GroupCommitter};
use crate::db::{Database, DbConn, StoreError};
use crate::invitations::queries as invitations;
use crate::mail::alert::{self, Cause};
use crate::metrics::{Metrics, SubmitOutcome};

/// The invitation a response answers.
#[derive(Debug, Clone, Copy)]
pub struct Invited {
    pub id: i64,
    pub agency_id: i64,
    /// The Vietnam day its dossier was returned (the invitation issued): where the response
    /// rate counts it as answered.
    pub returned_on: NaiveDate,
}

/// One response to record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The invitation the response answers (marked used, and counted as answered for the
    /// response rate); `None` for walk-in and paper.
    pub invitation: Option<Invited>,
    pub submission: Submission,
    pub contact: Option<ContactRequest>,
    pub alert: Option<MoneyAlert>,
}

impl Entry {
    /// A response without invitation, contact or alert (a paper form).
    pub fn plain(submission: Submission) -> Entry {
        Entry {
            invitation: None,
            submission,
            contact: None,
            alert: None,
        }
    }
}

/// What the immediate alert needs when a response says an official asked for money.
#[derive(Debug, Clone)]
pub struct MoneyAlert {
    settings: Settings,
    code: String,
    name: String,
    at: NaiveDateTime,
}

impl MoneyAlert {
    /// The alert `submission` calls for (E7 = 3, "asked for money"), if any.
    pub fn for_submission(
        settings: &Settings,
        submission: &Submission,
        agency_code: &str,
        agency_name: &str,
        at: NaiveDateTime,
    ) -> Option<MoneyAlert> {
        (submission.response.e7 == Some(3)).then(|| MoneyAlert {
            settings: settings.clone(),
            code: agency_code.to_owned(),
            name: agency_name.to_owned(),
            at,
        })
    }
}

/// Records `entries` inside the caller's transaction; returns what became of each (a used
/// invitation stores nothing). Invitations are marked used in one statement and responses
/// inserted together, so a batch costs a few statements whatever its size.
pub fn record(conn: &mut DbConn, entries: &[Entry]) -> QueryResult<Vec<Stored>> {
    let fresh = claim_invitations(conn, entries)?;
    let kept: Vec<&Entry> = entries
        .iter()
        .zip(&fresh)
        .filter(|(_, fresh)| **fresh)
        .map(|(entry, _)| entry)
        .collect();
    let submissions: Vec<&Submission> = kept.iter().map(|e| &e.submission).collect();
    store::insert_batch(conn, &submissions)?;
    for entry in kept {
        if let Some(contact) = &entry.contact {
            store::insert_contact(conn, contact, entry.submission.response.submitted_on)?;
        }
        if let Some(a) = &entry.alert {
            alert::queue(
                conn,
                &a.settings,
                &a.code,
                &a.name,
                &Cause::MoneyAsked,
                a.at,
            )?;
        }
    }
    Ok(fresh
        .into_iter()
        .map(|fresh| {
            if fresh {
                Stored::Saved
            } else {
                Stored::AlreadyUsed
            }
        })
        .collect())
}

/// Marks the invitations of `entries` used and counts each newly used one as answered; true for
/// the entries to store (no invitation, or one used just now). Of two entries for the same
/// invitation in one batch (a double tap), the first is stored.
fn claim_invitations(conn: &mut DbConn, entries: &[Entry]) -> QueryResult<Vec<bool>> {
    let ids: Vec<i64> = entries
        .iter()
        .filter_map(|e| e.invitation.map(|i| i.id))
        .collect();
    let mut newly_used: HashSet<i64> = match ids.as_slice() {
        [] => HashSet::new(),
        // One invitation: a constant statement the connection keeps prepared.
        [id] => {
            if invitations::mark_used(conn, *id)? {
                HashSet::from([*id])
            } else {
                HashSet::new()
            }
        }
        _ => invitations::mark_all_used(conn, &ids)?
            .into_iter()
            .collect(),
    };
    let mut answered = Vec::new();
    let fresh = entries
        .iter()
        .map(|e| match e.invitation {
            None => true,
            Some(invited) => {
                let fresh = newly_used.remove(&invited.id);
                if fresh {
                    answered.push((invited.agency_id, invited.returned_on));
                }
                fresh
            }
        })
        .collect();
    aggregates::record_answered(conn, &answered)?;
    // The citizen's address (if outreach kept one) goes with the link's use.
    let used: Vec<i64> = entries
        .iter()
        .zip(&fresh)
        .filter(|(_, fresh): &(&Entry, &bool)| **fresh)
        .filter_map(|(e, _)| e.invitation.map(|i| i.id))
        .collect();
    crate::outreach::deliver::answered(conn, &used)?;
    Ok(fresh)
}

/// Stores paper responses of a staged import inside the caller's transaction, without counting
/// them: each carries its `import_id`, and the import's counts are added when it publishes
/// (`super::staging::publish`). Paper responses have no invitation, contact or alert.
pub fn stage(conn: &mut DbConn, submissions: &[Submission]) -> QueryResult<()> {
    let rows: Vec<&Submission> = submissions.iter().collect();
    store::insert_staged(conn, &rows)
}

/// Committer threads on PostgreSQL: while one waits for its COMMIT to be flushed, another
/// writes the next batch.
const PG_COMMITTERS: usize = 2;

/// Commits web responses through the group committer, together with the responses waiting
/// beside them. Returns once committed.
pub struct Recorder {
    committer: GroupCommitter<Entry, Stored>,
    metrics: Arc<Metrics>,
}

impl Recorder {
    /// Starts the commit threads; batch sizes and outcomes are counted in `metrics`.
    pub fn start(db: &Database, metrics: Arc<Metrics>) -> Result<Recorder, StoreError> {
        let opener = db.clone();
        let turn = db.turn();
        // SQLite gains nothing from multi-row statements for a web batch: single-row statements
        // stay prepared, a multi-row one is prepared again each time (profiled). PostgreSQL
        // gains a round trip per row and statement.
        let batch: Box<BatchFn<Entry, Stored>> = if turn.is_some() {
            Box::new(|c, entries| {
                let mut outcomes = Vec::with_capacity(entries.len());
                for entry in entries {
                    outcomes.extend(record(c, std::slice::from_ref(entry))?);
                }
                Ok(outcomes)
            })
        } else {
            Box::new(record)
        };
        let threads = if turn.is_some() { 1 } else { PG_COMMITTERS };
        let committer = GroupCommitter::start(Committer {
            connect: Box::new(move || opener.open_connection()),
            turn,
            batch,
            observe: {
                let metrics = metrics.clone();
                Box::new(move |size| metrics.batch(size))
            },
            threads,
        })?;
        Ok(Recorder { committer, metrics })
    }

    /// Counts a submission for a link already used, turned away before any write.
    pub fn count_already_used(&self) {
        self.metrics.submit(SubmitOutcome::AlreadyUsed);
    }

    /// Records `entry` and returns once it is committed (call from a blocking thread, holding
    /// no pooled connection: the pages served meanwhile need them).
    pub fn commit(&self, entry: Entry) -> Result<Stored, StoreError> {
        let result = self.committer.commit(entry);
        self.metrics.submit(match &result {
            Ok(Stored::Saved) => SubmitOutcome::Stored,
            Ok(Stored::AlreadyUsed) => SubmitOutcome::AlreadyUsed,
            Err(_) => SubmitOutcome::Failed,
        });
        result
    }
}
