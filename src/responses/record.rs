//! The one write path of a response: store it, mark its link used (and count it answered for
//! the response rate, and forget the address outreach kept for it), update the counts, keep the
//! optional contact detail apart, and queue the
//! money alert it calls for — all in the caller's
//! transaction. Web submissions (link and walk-in) commit through [`Recorder`]; the paper import
//! calls [`stage`] with its batches, each in a transaction of its own, and its counts are added
//! once the whole file is in (`super::staging`).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection;
use diesel::result::QueryResult;

use super::Submission;
use super::store::{self, ContactRequest, Stored};
use crate::aggregates;
use crate::config::Settings;
use crate::db::group_commit::GroupCommitter;
use crate::db::{Database, DbConn, PooledConn, StoreError};
use crate::invitations::queries as invitations;
use crate::mail::alert::{self, Cause};

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
/// invitation stores nothing). Responses are inserted together, so a batch costs one statement
/// per 1,000 rows.
pub fn record(conn: &mut DbConn, entries: &[Entry]) -> QueryResult<Vec<Stored>> {
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut kept: Vec<&Entry> = Vec::with_capacity(entries.len());
    let mut answered = Vec::new();
    for entry in entries {
        let fresh = match entry.invitation {
            Some(invited) => {
                let fresh = invitations::mark_used(conn, invited.id)?;
                if fresh {
                    aggregates::record_answered(conn, invited.agency_id, invited.returned_on)?;
                    answered.push(invited.id);
                }
                fresh
            }
            None => true,
        };
        outcomes.push(if fresh {
            kept.push(entry);
            Stored::Saved
        } else {
            Stored::AlreadyUsed
        });
    }
    // The citizen's address (if outreach kept one) goes with the link's use.
    crate::outreach::deliver::answered(conn, &answered)?;
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
    Ok(outcomes)
}

/// Stores paper responses of a staged import inside the caller's transaction, without counting
/// them: each carries its `import_id`, and the import's counts are added when it publishes
/// (`super::staging::publish`). Paper responses have no invitation, contact or alert.
pub fn stage(conn: &mut DbConn, submissions: &[Submission]) -> QueryResult<()> {
    let rows: Vec<&Submission> = submissions.iter().collect();
    store::insert_uncounted(conn, &rows)?;
    Ok(())
}

/// Commits web responses: on SQLite through the group committer, together with the responses
/// waiting beside them; on PostgreSQL in a transaction of their own. Returns once committed.
pub struct Recorder {
    db: Database,
    committer: Option<GroupCommitter<Stored>>,
}

impl Recorder {
    /// Starts the commit thread on SQLite.
    pub fn start(db: &Database) -> Result<Recorder, StoreError> {
        let committer = match db.turn() {
            Some(turn) => {
                let opener = db.clone();
                Some(GroupCommitter::start(
                    move || opener.open_connection(),
                    turn,
                )?)
            }
            None => None,
        };
        Ok(Recorder {
            db: db.clone(),
            committer,
        })
    }

    /// Records `entry` and commits it (call from a blocking thread). `conn` is a pooled
    /// connection the caller already holds (it goes back to the pool first on SQLite, for the
    /// pages served meanwhile).
    pub fn commit(&self, conn: Option<PooledConn>, entry: Entry) -> Result<Stored, StoreError> {
        let once = move |c: &mut DbConn| {
            record(c, std::slice::from_ref(&entry))
                .map(|outcomes| outcomes.first().copied().unwrap_or(Stored::AlreadyUsed))
        };
        match &self.committer {
            Some(committer) => {
                drop(conn);
                committer.commit(Box::new(once))
            }
            None => {
                let mut conn = match conn {
                    Some(c) => c,
                    None => self.db.conn()?,
                };
                let conn: &mut DbConn = &mut conn;
                Ok(conn.transaction(once)?)
            }
        }
    }
}
