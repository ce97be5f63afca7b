//! Group commit: concurrent response writes are committed together, a batch per transaction.
//!
//! Each commit has a fixed cost (SQLite's WAL append, PostgreSQL's flush of its log under
//! `synchronous_commit`), and profiling showed it to be the largest part of a web submission on
//! both. Request threads hand their item to the committer and wait; a committer thread takes every
//! item that is waiting (up to [`MAX_BATCH`]), writes them with one call of the batch function
//! (multi-row statements where the backend gains from them) in one transaction, and answers each
//! request only after the COMMIT. An answer therefore still means "stored". If the batch fails,
//! it is rolled back and its items are written again one transaction each, so one bad item never
//! costs another its place; a database that is unavailable (locked, down) fails the whole batch
//! at once, without retries that would multiply the wait.
//!
//! SQLite has one committer thread, holding the writers' turn for each batch. PostgreSQL has
//! several: while one waits for its COMMIT to reach the disk, the next gathers and writes the
//! following batch.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::result::QueryResult;

use super::DbConn;
use super::StoreError;

/// The most items committed together.
pub const MAX_BATCH: usize = 64;

/// A connection idle longer than this is checked before a batch.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Writes a batch inside the committer's transaction and returns one outcome per item, in order;
/// called again with single items after a failed batch.
pub type BatchFn<I, O> = dyn Fn(&mut DbConn, &[I]) -> QueryResult<Vec<O>> + Send + Sync;

/// Observes each committed batch (its size), for the metrics.
pub type BatchObserver = dyn Fn(usize) + Send + Sync;

struct Job<I, O> {
    item: I,
    reply: Sender<Result<O, StoreError>>,
}

/// How the committer threads open connections, write and report.
pub struct Committer<I, O> {
    /// Opens a connection of a thread's own (again after a write panicked, since the
    /// connection's transaction state is then unknown).
    pub connect: Box<dyn Fn() -> Result<DbConn, StoreError> + Send + Sync>,
    /// The lock every other SQLite writer holds for its transaction; held for each batch.
    pub turn: Option<Arc<super::Turn>>,
    pub batch: Box<BatchFn<I, O>>,
    pub observe: Box<BatchObserver>,
    /// Committer threads (1 on SQLite, which has one writer at a time).
    pub threads: usize,
}

/// The handle request threads use; the threads end when the handle is dropped.
pub struct GroupCommitter<I, O> {
    jobs: Sender<Job<I, O>>,
}

impl<I: Send + 'static, O: Send + 'static> GroupCommitter<I, O> {
    /// Starts the committer threads, each on a connection of its own.
    pub fn start(committer: Committer<I, O>) -> Result<GroupCommitter<I, O>, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job<I, O>>();
        let queue = Arc::new(Mutex::new(queue));
        let shared = Arc::new(committer);
        for n in 0..shared.threads.max(1) {
            let conn = (shared.connect)()?;
            let (queue, shared) = (queue.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("sipas-commit-{n}"))
                .spawn(move || run(conn, &shared, &queue))
                .map_err(|e| StoreError::Other(format!("cannot start a commit thread: {e}")))?;
        }
        Ok(GroupCommitter { jobs })
    }

    /// Commits `item` with whatever else is waiting, and returns once it is committed (or has
    /// failed). Call from a blocking thread.
    pub fn commit(&self, item: I) -> Result<O, StoreError> {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send(Job { item, reply })
            .map_err(|_| StoreError::Other("the commit thread has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| StoreError::Other("the commit thread stopped during a write".into()))?
    }
}

/// The next batch: blocks for its first item, then takes what is already waiting. The queue is
/// held only while gathering, so another thread gathers the next batch while this one writes.
fn gather<I, O>(queue: &Mutex<Receiver<Job<I, O>>>) -> Option<Vec<Job<I, O>>> {
    let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
    let first = queue.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run<I: 'static, O: 'static>(
    mut conn: DbConn,
    committer: &Committer<I, O>,
    queue: &Mutex<Receiver<Job<I, O>>>,
) {
    let mut last_used = Instant::now();
    while let Some(batch) = gather(queue) {
        let (items, replies): (Vec<I>, Vec<_>) =
            batch.into_iter().map(|job| (job.item, job.reply)).unzip();
        // A server connection may have died while idle (the database restarted): check it
        // before trusting it with a batch, as the pool checks its own.
        if last_used.elapsed() > IDLE_CHECK && super::ping(&mut conn).is_err() {
            renew(&mut conn, committer);
        }
        let outcome = {
            let _turn = committer.turn.as_ref().map(|t| t.take());
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                commit_batch(&mut conn, &committer.batch, &items)
            }))
        };
        last_used = Instant::now();
        let results = match outcome {
            Ok(results) => {
                (committer.observe)(items.len());
                // A lost connection is replaced for the next batch; this one is not retried, as
                // it may have been committed just before the connection was lost.
                if results
                    .iter()
                    .any(|r| matches!(r, Err(StoreError::Unavailable(_))))
                {
                    renew(&mut conn, committer);
                }
                results
            }
            Err(_) => {
                // Nothing of the batch was committed; the connection may still be inside its
                // transaction, so it is replaced.
                tracing::error!(
                    "a write panicked; its batch is refused and the connection renewed"
                );
                renew(&mut conn, committer);
                items
                    .iter()
                    .map(|_| Err(StoreError::Other("a write failed unexpectedly".into())))
                    .collect()
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // Fails only if the waiting thread is gone; the outcome stands either way.
            let _ = reply.send(result);
        }
    }
}

/// Replaces the thread's connection with a fresh one, if one can be had now (otherwise the next
/// batch fails as unavailable and tries again).
fn renew<I, O>(conn: &mut DbConn, committer: &Committer<I, O>) {
    match (committer.connect)() {
        Ok(fresh) => *conn = fresh,
        Err(e) => tracing::error!(error = %e, "cannot renew the commit connection"),
    }
}

/// Runs the batch in one transaction; falls back to one transaction per item when the batch
/// fails for a reason of its own.
fn commit_batch<I, O>(
    conn: &mut DbConn,
    batch: &BatchFn<I, O>,
    items: &[I],
) -> Vec<Result<O, StoreError>> {
    let together = super::write_transaction(conn, |c| {
        let outcomes = batch(c, items)?;
        if outcomes.len() == items.len() {
            Ok(outcomes)
        } else {
            Err(diesel::result::Error::QueryBuilderError(
                "a batch returned the wrong number of outcomes".into(),
            ))
        }
    });
    match together {
        Ok(values) => values.into_iter().map(Ok).collect(),
        Err(e) => {
            let error = StoreError::from(e);
            if items.len() == 1 || error.is_transient() {
                return items.iter().map(|_| Err(error.clone())).collect();
            }
            // One transaction each (a deadlock with another server's batch is retried this way
            // too); once the database is unavailable, the rest fail at once instead of each
            // waiting out the lock timeout.
            let mut results = Vec::with_capacity(items.len());
            let mut unavailable: Option<StoreError> = None;
            for item in items {
                let result = match &unavailable {
                    Some(e) => Err(e.clone()),
                    None => {
                        super::write_transaction(conn, |c| batch(c, std::slice::from_ref(item)))
                            .map_err(StoreError::from)
                            .and_then(|mut one| {
                                one.pop().ok_or_else(|| {
                                    StoreError::Other("a write returned nothing".into())
                                })
                            })
                    }
                };
                if let Err(e) = &result
                    && e.is_transient()
                {
                    unavailable = Some(e.clone());
                }
                results.push(result);
            }
            results
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl};

    fn memory() -> Result<DbConn, Box<dyn std::error::Error>> {
        let mut conn = DbConn::Sqlite(diesel::SqliteConnection::establish(":memory:")?);
        conn.batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")?;
        Ok(conn)
    }

    /// Inserts each value with its own statement.
    fn insert(c: &mut DbConn, values: &[i64]) -> QueryResult<Vec<i64>> {
        for v in values {
            diesel::sql_query(format!("INSERT INTO t (v) VALUES ({v})")).execute(c)?;
        }
        Ok(values.to_vec())
    }

    fn count(conn: &mut DbConn) -> Result<i64, Box<dyn std::error::Error>> {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT COUNT(*) AS n FROM t").get_result(conn)?;
        Ok(n.n)
    }

    #[test]
    fn a_failing_write_does_not_take_the_batch_with_it() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = memory()?;
        // The second write breaks a UNIQUE constraint of the first.
        let results = commit_batch(&mut conn, &insert, &[1, 1, 2]);
        assert!(matches!(results[0], Ok(1)));
        assert!(matches!(results[1], Err(StoreError::Other(_))));
        assert!(matches!(results[2], Ok(2)));
        assert_eq!(count(&mut conn)?, 2);
        Ok(())
    }

    #[test]
    fn writes_from_many_threads_are_all_committed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db").display().to_string();
        let mut setup = DbConn::Sqlite(diesel::SqliteConnection::establish(&path)?);
        setup.batch_execute(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER NOT NULL UNIQUE)",
        )?;
        let url = path.clone();
        let batches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = batches.clone();
        let committer = Arc::new(GroupCommitter::start(Committer {
            connect: Box::new(move || {
                diesel::SqliteConnection::establish(&url)
                    .map(DbConn::Sqlite)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
            }),
            turn: Some(Arc::new(crate::db::Turn::default())),
            batch: Box::new(insert),
            observe: Box::new(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
            threads: 2,
        })?);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let committer = committer.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| committer.commit(t * 1000 + i).is_ok())
                        .filter(|ok| *ok)
                        .count()
                })
            })
            .collect();
        let mut acknowledged = 0;
        for t in threads {
            acknowledged += t.join().map_err(|_| "thread panicked")?;
        }
        assert_eq!(acknowledged, 400);
        assert_eq!(
            count(&mut setup)?,
            400,
            "every acknowledged write is stored"
        );
        let observed = batches.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=400).contains(&observed), "{observed} batches observed");
        Ok(())
    }
}
