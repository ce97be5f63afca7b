//! Group commit for SQLite: concurrent response writes are committed together by one thread.
//!
//! SQLite has one writer at a time, and each commit has a fixed cost (the WAL append and its
//! bookkeeping) that profiling showed to be the largest part of a web submission. Request threads
//! hand their write to the committer and wait; the committer takes every write that is waiting
//! (up to [`MAX_BATCH`]), runs them in one transaction and answers each request only after the
//! COMMIT. An answer therefore still means "stored". If one write of a batch fails, the batch
//! is rolled back and its writes are run again one transaction each, so one bad write never
//! costs another its place; a database that is unavailable (locked) fails the whole batch at
//! once, without retries that would multiply the wait.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use diesel::Connection;
use diesel::result::QueryResult;

use super::DbConn;
use super::StoreError;

/// The most writes committed together.
pub const MAX_BATCH: usize = 64;

/// One write: run inside the committer's transaction, possibly twice (after a batch rollback).
pub type Work<T> = Box<dyn Fn(&mut DbConn) -> QueryResult<T> + Send>;

struct Job<T> {
    work: Work<T>,
    reply: Sender<Result<T, StoreError>>,
}

/// The handle request threads use; the thread ends when the handle is dropped.
pub struct GroupCommitter<T> {
    jobs: Sender<Job<T>>,
}

impl<T: Send + 'static> GroupCommitter<T> {
    /// Starts the committer thread on a connection of its own, made by `connect` (again after a
    /// write panicked, since the connection's transaction state is then unknown). `turn` is the
    /// lock every other SQLite writer holds for its transaction; the committer holds it for each
    /// batch.
    pub fn start<C>(connect: C, turn: Arc<Mutex<()>>) -> Result<GroupCommitter<T>, StoreError>
    where
        C: Fn() -> Result<DbConn, StoreError> + Send + 'static,
    {
        let conn = connect()?;
        let (jobs, queue) = mpsc::channel::<Job<T>>();
        std::thread::Builder::new()
            .name("sipas-commit".into())
            .spawn(move || run(conn, connect, &queue, &turn))
            .map_err(|e| StoreError::Other(format!("cannot start the commit thread: {e}")))?;
        Ok(GroupCommitter { jobs })
    }

    /// Commits `work` with whatever else is waiting, and returns once it is committed (or has
    /// failed). Call from a blocking thread.
    pub fn commit(&self, work: Work<T>) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::channel();
        self.jobs
            .send(Job { work, reply })
            .map_err(|_| StoreError::Other("the commit thread has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| StoreError::Other("the commit thread stopped during a write".into()))?
    }
}

fn run<T, C>(mut conn: DbConn, connect: C, queue: &Receiver<Job<T>>, turn: &Mutex<()>)
where
    C: Fn() -> Result<DbConn, StoreError>,
{
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = {
            let _turn = turn.lock().unwrap_or_else(|p| p.into_inner());
            std::panic::catch_unwind(AssertUnwindSafe(|| commit_batch(&mut conn, &batch)))
        };
        let results = match outcome {
            Ok(results) => results,
            Err(_) => {
                // Nothing of the batch was committed; the connection may still be inside its
                // transaction, so it is replaced.
                tracing::error!(
                    "a write panicked; its batch is refused and the connection renewed"
                );
                match connect() {
                    Ok(fresh) => conn = fresh,
                    Err(e) => tracing::error!(error = %e, "cannot renew the commit connection"),
                }
                batch
                    .iter()
                    .map(|_| Err(StoreError::Other("a write failed unexpectedly".into())))
                    .collect()
            }
        };
        for (job, result) in batch.into_iter().zip(results) {
            // Fails only if the waiting thread is gone; the outcome stands either way.
            let _ = job.reply.send(result);
        }
    }
}

/// Runs the batch in one transaction; falls back to one transaction per write when a write
/// fails for a reason of its own.
fn commit_batch<T>(conn: &mut DbConn, batch: &[Job<T>]) -> Vec<Result<T, StoreError>> {
    let together = conn.transaction(|c| {
        batch
            .iter()
            .map(|job| (job.work)(c))
            .collect::<QueryResult<Vec<T>>>()
    });
    match together {
        Ok(values) => values.into_iter().map(Ok).collect(),
        Err(e) => {
            let error = StoreError::from(e);
            if batch.len() == 1 || error.is_transient() {
                return batch.iter().map(|_| Err(error.clone())).collect();
            }
            // One transaction each; once the database is unavailable, the rest fail at once
            // instead of each waiting out the lock timeout.
            let mut results = Vec::with_capacity(batch.len());
            let mut unavailable: Option<StoreError> = None;
            for job in batch {
                let result = match &unavailable {
                    Some(e) => Err(e.clone()),
                    None => conn
                        .transaction(|c| (job.work)(c))
                        .map_err(StoreError::from),
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
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    fn memory() -> Result<DbConn, Box<dyn std::error::Error>> {
        let mut conn = DbConn::Sqlite(diesel::SqliteConnection::establish(":memory:")?);
        conn.batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")?;
        Ok(conn)
    }

    fn insert(v: i64) -> Work<i64> {
        Box::new(move |c| {
            diesel::sql_query(format!("INSERT INTO t (v) VALUES ({v})")).execute(c)?;
            Ok(v)
        })
    }

    fn job(v: i64) -> (Job<i64>, Receiver<Result<i64, StoreError>>) {
        let (reply, answer) = mpsc::channel();
        (
            Job {
                work: insert(v),
                reply,
            },
            answer,
        )
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
        let (batch, _answers): (Vec<_>, Vec<_>) = [1, 1, 2].into_iter().map(job).unzip();
        let results = commit_batch(&mut conn, &batch);
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
        let committer = Arc::new(GroupCommitter::start(
            move || {
                diesel::SqliteConnection::establish(&url)
                    .map(DbConn::Sqlite)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
            },
            Arc::new(Mutex::new(())),
        )?);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let committer = committer.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| committer.commit(insert(t * 1000 + i)).is_ok())
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
        Ok(())
    }
}
