//! Staged imports: a response import writes in short transactions, still all or nothing.
//!
//! An import is a row of `imports`. While `staging`, its responses are inserted a batch per
//! transaction, each carrying `responses.import_id`, and each batch renews `heartbeat_at`; its
//! rows are invisible to every reader ([`super::visible`]) and not yet counted. Once the whole
//! file has validated and staged, [`commit`] marks it `publishing`: the commit point. [`publish`]
//! then sums the import up once (per agency, procedure, channel and day or month) and adds the
//! sums to the counts a chunk per transaction, each chunk claimed in `import_chunks` by the
//! transaction that adds it (so a crash in between neither loses nor repeats a chunk, and on
//! PostgreSQL two connections add chunks side by side), then marks it `done` once every chunk
//! is in: from then on its rows are read like any others. An import that fails before the
//! commit point is `discarding` while [`discard`] deletes its rows, a chunk per transaction, and
//! then its `imports` row. [`recover`] finishes what a crash left: it rolls `publishing` imports
//! forward and discards `discarding` ones and `staging` ones whose heartbeat is older than
//! [`STALE_AFTER_MINUTES`].
//!
//! Every transaction takes the writer's turn ([`Database::transaction_on`]), so on SQLite the web
//! submissions (group commit) get the database between two batches.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use chrono::{Duration, NaiveDateTime, Timelike};
use diesel::prelude::*;

use super::Submission;
use super::record;
use crate::aggregates;
use crate::db::schema::{import_chunks, imports, response_answers, responses};
use crate::db::{Database, DbConn, StoreError};

/// Responses staged per transaction: small enough that a citizen's submission waiting for the
/// writer's turn waits tens of milliseconds, large enough to keep the import fast.
pub const STAGE_BATCH: usize = 2_000;

/// Rows an SQLite import stages in one transaction while no other writer waits for the turn
/// ([`crate::db::Turn`]: in this process, or marked by another one). Each commit writes every
/// page it changed to the log, and a batch of [`STAGE_BATCH`] random agencies touches most leaf
/// pages of the agency index: 1,000,000 rows in transactions of 2,000 rows spent 15% of the
/// import writing log frames. A citizen who arrives meanwhile waits for the batch being written
/// and its commit, then gets the turn ([`hand_over`]).
pub const STAGE_RUN_MAX: usize = 50_000;

/// How long an SQLite import's transaction goes on taking batches at most.
pub const STAGE_RUN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// How long an import waits, after a run, for the writers that wanted the turn to be served (a
/// steady stream of them slows the import down, never stops it).
pub const HAND_OVER_MAX: std::time::Duration = std::time::Duration::from_millis(200);

/// Count rows (sums of an import per agency, procedure, channel and day or month) added per
/// transaction while publishing.
pub const PUBLISH_CHUNK: i64 = 5_000;

/// Responses deleted per transaction when an import is discarded.
pub const DISCARD_CHUNK: i64 = 5_000;

/// A staging import whose heartbeat is older than this is taken for dead and discarded.
pub const STALE_AFTER_MINUTES: i64 = 10;

/// Where an import stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum ImportStatus {
    /// Rows are being validated and inserted; invisible, not counted.
    Staging,
    /// The whole file is in (the commit point); its counts are being added.
    Publishing,
    /// Counted and visible.
    Done,
    /// Failed before the commit point; its rows are being deleted.
    Discarding,
}

impl ImportStatus {
    /// Parses the stored code.
    pub fn parse(s: &str) -> Option<ImportStatus> {
        match s {
            "staging" => Some(ImportStatus::Staging),
            "publishing" => Some(ImportStatus::Publishing),
            "done" => Some(ImportStatus::Done),
            "discarding" => Some(ImportStatus::Discarding),
            _ => None,
        }
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Staging => "staging",
            ImportStatus::Publishing => "publishing",
            ImportStatus::Done => "done",
            ImportStatus::Discarding => "discarding",
        }
    }
}

crate::text_column!(ImportStatus, "import status");

/// An import in progress as its importer knows it: the id and the instant it began. Together
/// they tell it apart from a later import that got the same id (SQLite gives the largest id
/// again once its row is deleted), so an importer that recovery took for dead cannot write into
/// the next import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Import {
    pub id: i64,
    started_at: NaiveDateTime,
}

/// The row of one import in one status.
type ImportRow = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<imports::table, diesel::dsl::Eq<imports::id, i64>>,
        diesel::dsl::Eq<imports::started_at, NaiveDateTime>,
    >,
    diesel::dsl::Eq<imports::status, ImportStatus>,
>;

impl Import {
    /// This import's row, if it is still `staging`.
    fn staging(self) -> ImportRow {
        imports::table
            .filter(imports::id.eq(self.id))
            .filter(imports::started_at.eq(self.started_at))
            .filter(imports::status.eq(ImportStatus::Staging))
    }
}

/// Why a staging step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The import is no longer `staging`: recovery took it for dead and is discarding it.
    #[error(
        "lần nhập {0} bị coi là đã bỏ dở (không tiến triển trong {STALE_AFTER_MINUTES} phút) và đang bị xóa \
         (import {0} was taken for abandoned: no progress for {STALE_AFTER_MINUTES} minutes; it is being removed)"
    )]
    Abandoned(i64),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Starts an import: its `imports` row, `staging`.
pub fn begin(db: &Database, conn: &mut DbConn) -> QueryResult<Import> {
    let now = crate::clock::now();
    // Microseconds: what both backends store exactly, so the row is found by it again.
    let started_at = now
        .with_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now);
    let values = (
        imports::started_at.eq(started_at),
        imports::heartbeat_at.eq(crate::clock::now_to_second()),
        imports::status.eq(ImportStatus::Staging),
        imports::rows.eq(0),
    );
    let id = db.transaction_on(conn, |conn| {
        crate::on_backend!(conn, c => diesel::insert_into(imports::table)
            .values(values)
            .returning(imports::id)
            .get_result(c))
    })?;
    Ok(Import { id, started_at })
}

/// Stages one batch of `import` in a transaction of its own and renews its heartbeat. The
/// submissions must carry `import_id = Some(import.id)`.
pub fn stage(
    db: &Database,
    conn: &mut DbConn,
    import: Import,
    submissions: &[Submission],
) -> Result<(), StageError> {
    stage_run(db, conn, import, submissions, || None).map(drop)
}

/// Stages `first` and, on SQLite while no other writer of this process waits for the turn, the
/// batches `next` has ready, for up to [`STAGE_RUN_TIME`] and [`STAGE_RUN_MAX`] rows, in one
/// transaction; returns the rows staged. On PostgreSQL (no turn) a batch is a transaction, and
/// several connections may stage batches of the same import side by side.
pub fn stage_run<B: AsRef<[Submission]>>(
    db: &Database,
    conn: &mut DbConn,
    import: Import,
    first: B,
    mut next: impl FnMut() -> Option<B>,
) -> Result<u64, StageError> {
    let staged = db.long_transaction_on(conn, |conn| {
        let started = std::time::Instant::now();
        let mut staged = 0;
        let mut batch = first;
        loop {
            let submissions = batch.as_ref();
            record::stage(conn, submissions)?;
            // Then the import's own row: it proves the import is still staging, and locks it
            // against recovery until the commit (on PostgreSQL a row lock, on SQLite the write
            // lock). Taken last, so that stagers side by side wait for each other only while
            // one commits; a batch that took longer than STALE_AFTER_MINUTES (blocked behind
            // another lock) may find its import taken away by a recovery, and rolls back.
            let live = diesel::update(import.staging())
                .set((
                    imports::heartbeat_at.eq(crate::clock::now_to_second()),
                    imports::rows.eq(imports::rows + submissions.len() as i64),
                ))
                .execute(conn)?;
            if live == 0 {
                return Err(StageError::Abandoned(import.id));
            }
            staged += submissions.len();
            if db.turn_wanted() != Some(false)
                || staged >= STAGE_RUN_MAX
                || started.elapsed() >= STAGE_RUN_TIME
            {
                break;
            }
            match next() {
                Some(more) => batch = more,
                None => break,
            }
        }
        Ok(staged as u64)
    })?;
    hand_over(db);
    Ok(staged)
}

/// Lets the writers that wait for the turn (of this process, or of another one, which polls
/// SQLite's lock) have the database before the next run, for up to [`HAND_OVER_MAX`].
fn hand_over(db: &Database) {
    let started = std::time::Instant::now();
    while db.turn_wanted() == Some(true) && started.elapsed() < HAND_OVER_MAX {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The commit point: every row of `import` is staged and valid; from here on the import is
/// completed (by [`publish`] now, or by [`recover`] after a crash), never undone.
pub fn commit(db: &Database, conn: &mut DbConn, import: Import) -> Result<(), StageError> {
    db.transaction_on(conn, |conn| {
        let marked = diesel::update(import.staging())
            .set((
                imports::status.eq(ImportStatus::Publishing),
                imports::heartbeat_at.eq(crate::clock::now_to_second()),
            ))
            .execute(conn)?;
        if marked == 0 {
            return Err(StageError::Abandoned(import.id));
        }
        Ok(())
    })
}

/// Connections that add one import's sums side by side on PostgreSQL (the second only if the
/// pool has an idle connection): each upsert runs on one core of the server, so one connection
/// left the second core of the benchmark machine idle for half of a 1,000,000-row import.
pub const PG_PUBLISHERS: usize = 2;

/// Adds the rows of the `publishing` import `id` to the counts and marks it `done`. The import
/// is summed up once, without the writer's turn (from `tally`, the sums its importer kept while
/// reading the file, or else by [`aggregates::sum_import`]: one row per count row it adds to, in
/// key order, the same either way); the sums are then added in chunks of [`PUBLISH_CHUNK`]
/// count rows, each claimed in `import_chunks` in the transaction that adds it, on
/// [`PG_PUBLISHERS`] connections when the sums are in memory on PostgreSQL; once every chunk is
/// in, the import is marked `done`. Calls `progress(added, of)`: `(0, 0)` before summing, then
/// after each chunk. Safe beside another publisher of the same import (a chunk is added by
/// whoever claims it first) and beside a recount (which locks the import's row, then forgets
/// its chunks: they are added again).
pub fn publish(
    db: &Database,
    conn: &mut DbConn,
    id: i64,
    tally: Option<aggregates::Tally>,
    mut progress: impl FnMut(u64, u64),
) -> QueryResult<()> {
    progress(0, 0);
    let sums = match tally.and_then(aggregates::Tally::into_sums) {
        Some(sums) => sums,
        None => aggregates::sum_import(conn, id)?,
    };
    let total = sums.total();
    let of = u64::try_from(total).unwrap_or(0);
    let chunks = chunk_count(total);
    let published = loop {
        let pending = match pending_chunks(conn, id, chunks) {
            Ok(Some(pending)) => pending,
            // Another publisher (a recovery beside this import) finished it.
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if pending.is_empty() {
            match db.transaction_on(conn, |conn| mark_done(conn, id, chunks)) {
                Ok(true) => break Ok(()),
                // A recount forgot chunks meanwhile: they are added again.
                Ok(false) => continue,
                Err(e) => break Err(e),
            }
        }
        let before: i64 = pending.iter().map(|&c| chunk_rows(c, total)).sum();
        let before = u64::try_from(total - before).unwrap_or(0);
        let mut report = |added: u64| progress(before + added, of);
        report(0);
        if let Err(e) = add_chunks(db, conn, id, &sums, &pending, &mut report) {
            break Err(e);
        }
    };
    let dropped = aggregates::drop_import_sums(conn);
    published?;
    dropped?;
    progress(of, of);
    Ok(())
}

/// How many chunks of [`PUBLISH_CHUNK`] count rows `total` count rows make.
fn chunk_count(total: i64) -> i64 {
    (total + PUBLISH_CHUNK - 1) / PUBLISH_CHUNK
}

/// The count rows of chunk `chunk` (from 0), numbered from 1 as the sums are: its first and last.
fn chunk_range(chunk: i64, total: i64) -> (i64, i64) {
    (
        chunk * PUBLISH_CHUNK + 1,
        ((chunk + 1) * PUBLISH_CHUNK).min(total),
    )
}

/// How many count rows chunk `chunk` adds.
fn chunk_rows(chunk: i64, total: i64) -> i64 {
    let (first, last) = chunk_range(chunk, total);
    (last - first + 1).max(0)
}

/// The chunks of import `id` not yet added, in order; `None` once it is no longer `publishing`.
fn pending_chunks(conn: &mut DbConn, id: i64, chunks: i64) -> QueryResult<Option<Vec<i64>>> {
    let status: Option<ImportStatus> = imports::table
        .find(id)
        .select(imports::status)
        .first(conn)
        .optional()?;
    if status != Some(ImportStatus::Publishing) {
        return Ok(None);
    }
    let added: std::collections::HashSet<i64> = import_chunks::table
        .filter(import_chunks::import_id.eq(id))
        .select(import_chunks::chunk)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    Ok(Some((0..chunks).filter(|c| !added.contains(c)).collect()))
}

/// What the publishers of one import share: the chunks to add (taken in order), a stop sign
/// raised by the first that fails or finds the import finished, and the count rows added.
struct Publishers<'a> {
    pending: &'a [i64],
    next: AtomicUsize,
    stop: AtomicBool,
    added: AtomicU64,
}

/// Raises the stop sign when dropped (a publisher that returns, fails or panics).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Publishers<'_> {
    /// Adds the next pending chunk on `conn`, one transaction each, until none is left or the
    /// stop sign is up; calls `progress` with the count rows every publisher added so far.
    fn publish(
        &self,
        db: &Database,
        conn: &mut DbConn,
        id: i64,
        sums: &aggregates::ImportSums,
        progress: &mut dyn FnMut(u64),
    ) -> QueryResult<()> {
        let _stop = StopOnDrop(&self.stop);
        while !self.stop.load(Ordering::Acquire) {
            let Some(&chunk) = self.pending.get(self.next.fetch_add(1, Ordering::AcqRel)) else {
                break;
            };
            match add_chunk_retrying(db, conn, id, sums, chunk)? {
                Chunk::Added(rows) => {
                    let rows = u64::try_from(rows).unwrap_or(0);
                    progress(self.added.fetch_add(rows, Ordering::AcqRel) + rows);
                }
                Chunk::AddedBefore => {}
                Chunk::ImportDone => break,
            }
        }
        Ok(())
    }
}

/// Adds the chunks `pending` of the sums of import `id`: on this connection and, when the sums
/// are in memory on PostgreSQL, on up to [`PG_PUBLISHERS`] - 1 idle pooled ones beside it
/// (sums in SQL live in this connection's temporary tables).
fn add_chunks(
    db: &Database,
    conn: &mut DbConn,
    id: i64,
    sums: &aggregates::ImportSums,
    pending: &[i64],
    progress: &mut dyn FnMut(u64),
) -> QueryResult<()> {
    let helpers = match conn {
        DbConn::Pg(_) if sums.is_in_memory() => PG_PUBLISHERS.min(pending.len()).saturating_sub(1),
        _ => 0,
    };
    let spares: Vec<_> = (0..helpers).map_while(|_| db.spare_conn()).collect();
    let shared = Publishers {
        pending,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        added: AtomicU64::new(0),
    };
    let shared = &shared;
    std::thread::scope(|scope| {
        let helpers: Vec<_> = spares
            .into_iter()
            .map(|mut spare| {
                scope.spawn(move || shared.publish(db, &mut spare, id, sums, &mut |_| {}))
            })
            .collect();
        let mut outcome = shared.publish(db, conn, id, sums, progress);
        for helper in helpers {
            let helped = helper.join().unwrap_or_else(|_| {
                Err(diesel::result::Error::QueryBuilderError(
                    "a thread adding an import's counts panicked".into(),
                ))
            });
            outcome = outcome.and(helped);
        }
        outcome
    })
}

/// Attempts at a chunk's transaction that the database aborted to break a deadlock or that
/// waited past its lock timeout (a claimed chunk is added once, so trying again is safe).
const CHUNK_ATTEMPTS: usize = 4;

/// [`add_chunk`] in a transaction of its own, again after a deadlock or a lock timeout: a
/// chunk's count rows are taken in key order, but a citizens' batch of non-consecutive
/// responses takes them in several passes, and a recount holds every one of them.
fn add_chunk_retrying(
    db: &Database,
    conn: &mut DbConn,
    id: i64,
    sums: &aggregates::ImportSums,
    chunk: i64,
) -> QueryResult<Chunk> {
    let mut attempt = 1;
    loop {
        match db.transaction_on(conn, |conn| add_chunk(conn, id, sums, chunk)) {
            Err(e) if attempt < CHUNK_ATTEMPTS && worth_retrying(&e) => {
                tracing::warn!(import = id, chunk, error = %e, "adding a chunk of an import's counts again");
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// Whether the database gave up on a transaction that may succeed as it is when tried again: a
/// deadlock victim, a serialization failure or a lock timeout.
fn worth_retrying(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(kind, info) => {
            matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
            ) || info.message().contains("deadlock detected")
                || info.message().contains("lock timeout")
        }
        _ => false,
    }
}

/// What one chunk's transaction did.
enum Chunk {
    /// Added its count rows (how many).
    Added(i64),
    /// Another publisher added it before.
    AddedBefore,
    /// The import is no longer `publishing`: another publisher finished it.
    ImportDone,
}

/// Claims chunk `chunk` of import `id` and adds its sums (call in a write transaction). First
/// the rebuild lock, shared ([`aggregates::rebuild_lock`]: no recount meanwhile), then the
/// import's row, shared with the other publishers of its chunks (on PostgreSQL `FOR SHARE`:
/// they do not wait for each other) against the import's completion, which locks it for update;
/// then the count rows, in key order.
fn add_chunk(
    conn: &mut DbConn,
    id: i64,
    sums: &aggregates::ImportSums,
    chunk: i64,
) -> QueryResult<Chunk> {
    aggregates::rebuild_lock(conn, false)?;
    let publishing = imports::table
        .filter(imports::id.eq(id))
        .filter(imports::status.eq(ImportStatus::Publishing))
        .select(imports::id);
    let live: Vec<i64> = match conn {
        DbConn::Pg(c) => publishing.for_share().load(c)?,
        DbConn::Sqlite(c) => publishing.load(c)?,
    };
    if live.is_empty() {
        return Ok(Chunk::ImportDone);
    }
    let claim = diesel::insert_into(import_chunks::table)
        .values((
            import_chunks::import_id.eq(id),
            import_chunks::chunk.eq(chunk),
        ))
        .on_conflict_do_nothing();
    let claimed = crate::on_backend!(conn, c => claim.execute(c))?;
    if claimed == 0 {
        return Ok(Chunk::AddedBefore);
    }
    let (first, last) = chunk_range(chunk, sums.total());
    aggregates::add_import_sums(conn, sums, first, last)?;
    Ok(Chunk::Added(last - first + 1))
}

/// Marks import `id` `done` if its `chunks` chunks are all added, and forgets them (call in a
/// write transaction); false if some are missing (a recount forgot them). True too if it is no
/// longer `publishing`.
fn mark_done(conn: &mut DbConn, id: i64, chunks: i64) -> QueryResult<bool> {
    aggregates::rebuild_lock(conn, false)?;
    // Then the import's row: waits for the chunks being added, and keeps new ones out.
    let locked = diesel::update(
        imports::table
            .filter(imports::id.eq(id))
            .filter(imports::status.eq(ImportStatus::Publishing)),
    )
    .set(imports::heartbeat_at.eq(crate::clock::now_to_second()))
    .execute(conn)?;
    if locked == 0 {
        return Ok(true);
    }
    let added: i64 = import_chunks::table
        .filter(import_chunks::import_id.eq(id))
        .filter(import_chunks::chunk.lt(chunks))
        .count()
        .get_result(conn)?;
    if added < chunks {
        return Ok(false);
    }
    diesel::update(imports::table.find(id))
        .set(imports::status.eq(ImportStatus::Done))
        .execute(conn)?;
    diesel::delete(import_chunks::table.filter(import_chunks::import_id.eq(id))).execute(conn)?;
    Ok(true)
}

/// Undoes `import` before its commit point: marks it `discarding`, deletes its responses and
/// their answers, [`DISCARD_CHUNK`] rows per transaction, and finally its `imports` row. Nothing
/// of it is left. (Already `discarding` by recovery: recovery finishes the deletion.)
pub fn discard(db: &Database, conn: &mut DbConn, import: Import) -> QueryResult<()> {
    let marked = db.transaction_on(conn, |conn| {
        diesel::update(import.staging())
            .set(imports::status.eq(ImportStatus::Discarding))
            .execute(conn)
    })?;
    if marked == 0 {
        return Ok(());
    }
    delete_rows(db, conn, import.id)
}

/// Deletes the rows of the `discarding` import `id`, then the import itself.
fn delete_rows(db: &Database, conn: &mut DbConn, id: i64) -> QueryResult<()> {
    loop {
        let finished = db.transaction_on(conn, |conn| -> QueryResult<bool> {
            // Only an import being discarded loses rows (never one past its commit point), and
            // its row is locked for this chunk.
            let discarding = diesel::update(
                imports::table
                    .filter(imports::id.eq(id))
                    .filter(imports::status.eq(ImportStatus::Discarding)),
            )
            .set(imports::heartbeat_at.eq(crate::clock::now_to_second()))
            .execute(conn)?;
            if discarding == 0 {
                return Ok(true);
            }
            let ids: Vec<i64> = responses::table
                .filter(responses::import_id.eq(id))
                .order(responses::id)
                .select(responses::id)
                .limit(DISCARD_CHUNK)
                .load(conn)?;
            if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
                let chunk = responses::table
                    .filter(responses::import_id.eq(id))
                    .filter(responses::id.between(*first, *last));
                diesel::delete(
                    response_answers::table
                        .filter(response_answers::response_id.eq_any(chunk.select(responses::id))),
                )
                .execute(conn)?;
                diesel::delete(chunk).execute(conn)?;
            }
            if (ids.len() as i64) < DISCARD_CHUNK {
                diesel::delete(imports::table.find(id)).execute(conn)?;
                return Ok(true);
            }
            Ok(false)
        })?;
        if finished {
            return Ok(());
        }
    }
}

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Imports past their commit point whose counts were completed.
    pub rolled_forward: Vec<i64>,
    /// Imports interrupted before it whose rows were deleted.
    pub discarded: Vec<i64>,
}

impl Recovered {
    /// True when there was nothing to recover.
    pub fn is_empty(&self) -> bool {
        self.rolled_forward.is_empty() && self.discarded.is_empty()
    }
}

/// Finishes imports a crash or an interruption left behind: `publishing` ones are rolled
/// forward, `discarding` ones and `staging` ones without a heartbeat for
/// [`STALE_AFTER_MINUTES`] are deleted. Safe beside a running import (its heartbeat is fresh)
/// and beside another recovery. Run at start-up and before a command-line import.
pub fn recover(db: &Database) -> Result<Recovered, StoreError> {
    let mut conn = db.conn()?;
    let conn: &mut DbConn = &mut conn;
    let cutoff = crate::clock::now_to_second() - Duration::minutes(STALE_AFTER_MINUTES);
    db.transaction_on(conn, |conn| {
        diesel::update(
            imports::table
                .filter(imports::status.eq(ImportStatus::Staging))
                .filter(imports::heartbeat_at.lt(cutoff)),
        )
        .set(imports::status.eq(ImportStatus::Discarding))
        .execute(conn)
    })?;
    let pending: Vec<(i64, ImportStatus)> = imports::table
        .filter(imports::status.eq_any([ImportStatus::Publishing, ImportStatus::Discarding]))
        .order(imports::id)
        .select((imports::id, imports::status))
        .load(conn)?;
    let mut recovered = Recovered::default();
    for (id, status) in pending {
        if status == ImportStatus::Publishing {
            publish(db, conn, id, None, |_, _| {})?;
            tracing::info!(
                import = id,
                "an interrupted import was completed (counts added)"
            );
            recovered.rolled_forward.push(id);
        } else {
            delete_rows(db, conn, id)?;
            tracing::info!(import = id, "an interrupted import was removed");
            recovered.discarded.push(id);
        }
    }
    Ok(recovered)
}
