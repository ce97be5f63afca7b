//! Database plumbing: one connection type over SQLite and PostgreSQL, the pool, and migrations.
//!
//! The backend is chosen from the URL scheme (`postgres://` or `postgresql://` → PostgreSQL;
//! `sqlite://PATH` or a bare path → SQLite), never by trial connection: SQLite accepts any string.

pub mod backup;
pub mod error;
pub mod group_commit;
pub mod migrations;
pub mod schema;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};

use crate::config::DatabaseSettings;
pub use error::StoreError;

/// A connection to whichever backend the configuration names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of either backend. For the few
/// statements `MultiConnection` cannot express (multi-row INSERT), the body compiles once per
/// backend.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Stores a domain enum with `parse`/`as_str` as a `Text` column on every backend. Reading a
/// value the enum does not know is an error naming it, never a silent default. The type also
/// needs `#[derive(diesel::AsExpression, diesel::FromSqlRow)]` and
/// `#[diesel(sql_type = diesel::sql_types::Text)]`.
#[macro_export]
macro_rules! text_column {
    ($ty:ty, $what:literal) => {
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let stored = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                <$ty>::parse(&stored)
                    .ok_or_else(|| format!("unknown {} {stored:?} in the database", $what).into())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }
    };
}

/// The page cache of each SQLite connection, in KiB.
pub const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// The page cache of an SQLite connection during a bulk import, in KiB (allocated as it fills).
pub const SQLITE_IMPORT_CACHE_KIB: u32 = 1024 * 1024;

/// WAL pages after which an SQLite import's commit copies the log into the database while it
/// stages rows (1,000, the default, made a 1,000,000-row import checkpoint every few batches,
/// writing the same index pages to the database again each time).
pub const SQLITE_IMPORT_CHECKPOINT_PAGES: u32 = 65_536;

/// How often the background checkpoint of a bulk write runs.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Runs `f` with a larger SQLite page cache (a no-op on PostgreSQL). A bulk import writes into
/// indexes all over the file; with the everyday cache the same pages were written out and read
/// back again and again (profiled: 10,000,000 responses made the process read 64 GB for a 1 GB
/// database).
pub fn with_import_cache<T, E: From<diesel::result::Error>>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    if sqlite {
        conn.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}"))?;
    }
    let result = f(conn);
    if sqlite
        && let Err(e) = conn.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
    {
        // The import's own outcome is what counts (it may have committed): only say so.
        tracing::warn!(error = %e, "could not restore the page cache size after an import");
    }
    result
}

/// The shared connection pool.
pub type DbPool = Pool<Manager>;
/// One connection checked out of the pool; it goes back when dropped.
pub struct PooledConn(PooledConnection<Manager>);

impl From<PooledConnection<Manager>> for PooledConn {
    fn from(checked_out: PooledConnection<Manager>) -> PooledConn {
        PooledConn(checked_out)
    }
}

impl std::ops::Deref for PooledConn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0.conn
    }
}

/// How long a pooled PostgreSQL connection is trusted after it was last checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Counts the server connections found lost (a statement failed for want of its connection):
/// after one, every pooled connection is checked again before its next use.
static LOST_CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Records that a server connection was found lost (see [`Pooled`]).
pub(crate) fn connection_lost() {
    LOST_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
}

/// A connection of the pool, with the time it was last known to be alive. A server connection
/// can die while idle (PostgreSQL restarted), so it is checked on checkout: when its last check
/// is older than [`CHECK_EVERY`], or a connection was found lost since (a `SELECT 1` round trip
/// before every request was a visible share of the submit path, profiled). So when the database
/// comes back, the first statement that finds its connection gone fails (as every request did
/// while the database was down), and every other pooled connection is checked, and replaced if
/// dead, before it is used.
pub struct Pooled {
    conn: DbConn,
    checked: Instant,
    /// [`LOST_CONNECTIONS`] at the last check.
    lost_seen: u64,
}

/// Which backend a database URL designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL, with the full `postgres://` URL.
    Postgres(String),
    /// SQLite, with the file path (or `:memory:`).
    Sqlite(String),
}

impl Backend {
    /// Reads the backend from a configured URL.
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Backend::Sqlite(path.to_owned())
        }
    }

    /// True for SQLite.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Backend::Sqlite(_))
    }
}

/// The r2d2 manager: opens connections for the configured backend and applies SQLite pragmas.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
    busy_timeout_ms: u64,
    synchronous: String,
}

impl Manager {
    fn open(&self) -> Result<DbConn, diesel::r2d2::Error> {
        match &self.backend {
            Backend::Postgres(url) => {
                let mut conn = diesel::PgConnection::establish(url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // Fail fast (503) rather than queue behind a lock indefinitely. Dates as text
                // in ISO order whatever the server's default: months are keyed by the first
                // seven characters of a day (`YYYY-MM`), in SQL and in an import's tally alike.
                conn.batch_execute(&format!(
                    "SET lock_timeout = {}; SET DateStyle = 'ISO, YMD'",
                    self.busy_timeout_ms
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Pg(conn))
            }
            Backend::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // NORMAL synchronous in WAL mode (set once in `connect`) is durable across
                // application crashes; an OS crash may lose the last commits.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -{SQLITE_CACHE_KIB}; PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms, self.synchronous
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        Ok(Pooled {
            conn: self.open()?,
            checked: Instant::now(),
            lost_seen: LOST_CONNECTIONS.load(Ordering::Relaxed),
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        let lost = LOST_CONNECTIONS.load(Ordering::Relaxed);
        match &mut pooled.conn {
            // A server connection may have died while idle (the server restarted): check it
            // when its last check is old, or another connection was found lost since.
            DbConn::Pg(c)
                if pooled.checked.elapsed() >= CHECK_EVERY || pooled.lost_seen != lost =>
            {
                c.batch_execute("SELECT 1")
                    .map_err(diesel::r2d2::Error::QueryError)?;
                pooled.checked = Instant::now();
                pooled.lost_seen = lost;
                Ok(())
            }
            // An SQLite connection is an open file in this process; checking it cost a parsed
            // statement on every checkout (profiled on the submit path).
            DbConn::Pg(_) | DbConn::Sqlite(_) => Ok(()),
        }
    }

    /// A connection given back by a panicking thread may still be inside its transaction, and
    /// one whose transaction manager is broken cannot be trusted: both are closed, not reused.
    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking() || pooled.conn.is_broken()
    }
}

/// The SQLite writers' turn: one write transaction at a time (taken here instead of in SQLite's
/// busy handler, which sleeps and retries; profiled, it set the p99 of submissions under load),
/// and a way for a long job (an import) to see that a writer waits, in this process or in
/// another one (the server, while `sipas import` runs beside it), so that it keeps the database
/// only while nobody else needs it.
///
/// Across processes a writer says it waits with a shared lock on a file beside the database
/// (`<database>-writers`), held from before it asks for the database until its transaction
/// ends; the long job tries an exclusive lock on the same file: refused means someone waits.
#[derive(Debug, Default)]
pub struct Turn {
    lock: Mutex<()>,
    waiting: AtomicUsize,
    /// `<database>-writers` (none for an in-memory database).
    marker: Option<std::path::PathBuf>,
}

/// The turn, held until dropped (with the caller's mark as a waiting writer, if any).
pub struct TurnGuard<'a> {
    _lock: MutexGuard<'a, ()>,
    _waiting: Option<std::fs::File>,
}

impl Turn {
    /// The turn of the SQLite database at `path`.
    pub fn for_database(path: &str) -> Turn {
        let memory = path == ":memory:" || path.contains("mode=memory");
        Turn {
            marker: (!memory).then(|| std::path::PathBuf::from(format!("{path}-writers"))),
            ..Turn::default()
        }
    }

    /// Waits for the turn, marked as a waiting writer for long jobs of other processes; the
    /// turn is held until the guard is dropped.
    pub fn take(&self) -> TurnGuard<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // Without the file (a read-only folder) other processes' long jobs just do not see us.
        let waiting = self.marker.as_ref().and_then(|path| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .ok()?;
            file.lock_shared().ok()?;
            Some(file)
        });
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        TurnGuard {
            _lock: lock,
            _waiting: waiting,
        }
    }

    /// Waits for the turn without marking the caller as waiting: for the long job that asks
    /// [`Turn::wanted`].
    pub fn take_unmarked(&self) -> TurnGuard<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let lock = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        TurnGuard {
            _lock: lock,
            _waiting: None,
        }
    }

    /// Whether another writer waits for the turn, in this process or (marked) in another.
    pub fn wanted(&self) -> bool {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let Some(path) = &self.marker else {
            return false;
        };
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
        else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            // A filesystem without file locks: other processes cannot be seen (as without the
            // file), rather than seen waiting forever.
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }
}

/// The database as the rest of the program uses it: the pool and, on SQLite, the turn every
/// write transaction takes. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    /// SQLite only: write transactions take turns here.
    turn: Option<Arc<Turn>>,
    settings: DatabaseSettings,
}

impl Database {
    /// Opens the pool and brings the schema up to date.
    pub fn open(settings: &DatabaseSettings) -> Result<Database, DbError> {
        Database::open_observed(settings, None)
    }

    /// [`Database::open`], with the pool's checkouts and timeouts reported to `events`.
    pub fn open_observed(
        settings: &DatabaseSettings,
        events: Option<Box<dyn diesel::r2d2::HandleEvent>>,
    ) -> Result<Database, DbError> {
        let pool = connect_observed(settings, events)?;
        let applied = migrations::run(&pool)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "database migrations applied");
        }
        let turn = match Backend::from_url(&settings.url) {
            Backend::Sqlite(path) => Some(Arc::new(Turn::for_database(&path))),
            Backend::Postgres(_) => None,
        };
        Ok(Database {
            pool,
            turn,
            settings: settings.clone(),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// A pooled connection, or `Unavailable`.
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get()?.into())
    }

    /// An idle pooled connection if there is one now (never waits): for work that can also be
    /// done with the connections already held.
    pub fn spare_conn(&self) -> Option<PooledConn> {
        self.pool.try_get().map(Into::into)
    }

    /// Runs `f` on a pooled connection (call from a blocking thread).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// Runs the write `f` on a pooled connection, one writer at a time on SQLite (call from a
    /// blocking thread). `f` opens its own transaction where it needs one. The turn is taken
    /// before the connection: a writer that holds a pooled connection while it waits for the turn
    /// could wait forever for one that waits for a connection (with a small pool).
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = self.take_turn();
        let mut conn = self.conn()?;
        f(&mut conn)
    }

    /// Runs `f` in one write transaction ([`write_transaction`]) on a pooled connection, in the
    /// writer's turn on SQLite (call from a blocking thread).
    pub fn write_transaction<T, E: From<StoreError> + From<diesel::result::Error>>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write(|conn| write_transaction(conn, f))
    }

    /// Runs `f` in one transaction on the caller's own connection, in the writer's turn on SQLite
    /// (a long job that keeps its connection, such as an import, writing in short steps).
    pub fn transaction_on<T, E: From<diesel::result::Error>>(
        &self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = self.take_turn();
        write_transaction(conn, f)
    }

    /// Runs `f` (a bulk write on `conn`) while a thread of its own copies SQLite's log into the
    /// database every [`CHECKPOINT_EVERY`] (a no-op on PostgreSQL). The writer's own automatic
    /// checkpoints are deferred to [`SQLITE_IMPORT_CHECKPOINT_PAGES`]: done on the writing thread
    /// every 1,000 pages, they took 16% of a 1,000,000-row import and left the second core idle;
    /// a log left to grow slowed it down more. A checkpoint copies only what is committed and
    /// never blocks the writer.
    pub fn with_background_checkpoints<T, E: From<diesel::result::Error>>(
        &self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        if !matches!(conn, DbConn::Sqlite(_)) {
            return f(conn);
        }
        conn.batch_execute(&format!(
            "PRAGMA wal_autocheckpoint = {SQLITE_IMPORT_CHECKPOINT_PAGES}"
        ))?;
        let done = std::sync::atomic::AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            let checkpointer = self
                .open_connection()
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "no checkpoint thread: the import checkpoints itself");
                })
                .ok();
            if let Some(mut checkpointer) = checkpointer {
                let done = &done;
                scope.spawn(move || {
                    while !done.load(Ordering::SeqCst) {
                        std::thread::sleep(CHECKPOINT_EVERY);
                        if let Err(e) = checkpointer.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                        {
                            tracing::debug!(error = %e, "a background checkpoint failed");
                        }
                    }
                });
            }
            // The checkpoint thread stops even if `f` panics (the scope waits for it).
            struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _stop = Stop(&done);
            f(conn)
        });
        // Copy the rest of the log now, on the import's own time: left to the next writer's
        // automatic checkpoint, it fell on a citizen's commit.
        if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::debug!(error = %e, "the checkpoint after an import failed");
        }
        if let Err(e) = conn.batch_execute("PRAGMA wal_autocheckpoint = 1000") {
            tracing::warn!(error = %e, "could not restore the checkpoint threshold after an import");
        }
        result
    }

    /// [`Database::transaction_on`] for a long job that asks [`Database::turn_wanted`] and hands
    /// the turn over: it does not count itself as a waiting writer.
    pub fn long_transaction_on<T, E: From<diesel::result::Error>>(
        &self,
        conn: &mut DbConn,
        f: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = self.turn.as_ref().map(|t| t.take_unmarked());
        write_transaction(conn, f)
    }

    /// Waits for the writer's turn (SQLite); `None` on PostgreSQL, where writers do not queue here.
    pub fn take_turn(&self) -> Option<TurnGuard<'_>> {
        self.turn.as_ref().map(|t| t.take())
    }

    /// Whether another writer waits for the turn; `None` on PostgreSQL (no turn).
    pub fn turn_wanted(&self) -> Option<bool> {
        self.turn.as_ref().map(|t| t.wanted())
    }

    /// The shared turn (SQLite), for a writer thread of its own such as the group committer.
    pub fn turn(&self) -> Option<Arc<Turn>> {
        self.turn.clone()
    }

    /// A connection outside the pool with the same settings.
    pub fn open_connection(&self) -> Result<DbConn, StoreError> {
        open_connection(&self.settings).map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("không mở được cơ sở dữ liệu {url} (cannot open the database): {source}")]
    Open {
        url: String,
        #[source]
        source: diesel::r2d2::PoolError,
    },
    #[error(
        "không mở được cơ sở dữ liệu SQLite {path} (cannot open the SQLite database): {source}"
    )]
    Sqlite {
        path: String,
        #[source]
        source: diesel::ConnectionError,
    },
    #[error("không kết nối được cơ sở dữ liệu {url} (cannot connect to the database): {message}")]
    Connect { url: String, message: String },
    #[error("không cập nhật được cấu trúc cơ sở dữ liệu (cannot run database migrations): {0}")]
    Migrate(String),
}

/// Builds the pool for the configured database. Does not run migrations.
pub fn connect(settings: &DatabaseSettings) -> Result<DbPool, DbError> {
    connect_observed(settings, None)
}

/// [`connect`], with the pool's events reported to `events`.
fn connect_observed(
    settings: &DatabaseSettings,
    events: Option<Box<dyn diesel::r2d2::HandleEvent>>,
) -> Result<DbPool, DbError> {
    let backend = Backend::from_url(&settings.url);
    if let Backend::Sqlite(path) = &backend {
        // WAL lets readers proceed while one writer commits. It is a property of the database
        // file, set once here: switching it from several new pooled connections at once fails
        // with "database is locked".
        diesel::SqliteConnection::establish(path)
            .and_then(|mut c| {
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
                    settings.lock_timeout_ms
                ))
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
            })
            .map_err(|source| DbError::Sqlite {
                path: path.clone(),
                source,
            })?;
    }
    let mut builder = Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(Duration::from_millis(settings.connect_timeout_ms));
    if let Some(events) = events {
        builder = builder.event_handler(events);
    }
    builder
        .build(manager(settings))
        .map_err(|source| DbError::Open {
            url: redact(&settings.url),
            source,
        })
}

/// One connection outside the pool, with the same settings (the SQLite commit thread's own).
pub fn open_connection(settings: &DatabaseSettings) -> Result<DbConn, DbError> {
    manager(settings).open().map_err(|e| DbError::Connect {
        url: redact(&settings.url),
        message: e.to_string(),
    })
}

fn manager(settings: &DatabaseSettings) -> Manager {
    Manager {
        busy_timeout_ms: settings.lock_timeout_ms,
        synchronous: settings.sqlite_synchronous.pragma().to_owned(),
        backend: Backend::from_url(&settings.url),
    }
}

/// Runs `f` in a transaction that writes (a savepoint when one is open). On SQLite it begins
/// `IMMEDIATE`: the write lock is taken first, waiting for it up to the busy timeout. A deferred
/// transaction that read and then wrote failed at once ("database is locked", no wait) whenever
/// another connection, of this process or another, held the write lock at that moment.
pub fn write_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Transactions = <DbConn as Connection>::TransactionManager;
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    if AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some()
    {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    // Ended as diesel's own `transaction` ends one.
    match f(conn) {
        Ok(value) => {
            Transactions::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Transactions::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// Takes the named lock for the rest of the caller's transaction: another process (or server)
/// taking the same lock waits until this transaction ends (a row lock on PostgreSQL, the write
/// lock on SQLite). Call it first thing in the transaction.
pub fn claim(conn: &mut DbConn, name: &str, now: chrono::NaiveDateTime) -> QueryResult<()> {
    use schema::locks;
    crate::on_backend!(conn, c => diesel::insert_into(locks::table)
        .values((locks::name.eq(name), locks::taken_at.eq(now)))
        .on_conflict(locks::name)
        .do_update()
        .set(locks::taken_at.eq(now))
        .execute(c))?;
    Ok(())
}

/// Checks that the database answers.
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Hides a password in a database URL before it is logged or shown.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Backend::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Backend::from_url("sqlite://data/x.db"),
            Backend::Sqlite("data/x.db".into())
        );
        assert_eq!(
            Backend::from_url("sipas.db"),
            Backend::Sqlite("sipas.db".into())
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sipas.db"), "sipas.db");
    }

    /// A transaction that reads, then writes while another connection holds the write lock:
    /// SQLite fails a deferred one at once, whatever the busy timeout; `write_transaction` waits.
    #[test]
    fn a_write_transaction_waits_for_another_connections_write() -> anyhow::Result<()> {
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let dir = tempfile::tempdir()?;
        let settings = DatabaseSettings {
            url: dir.path().join("t.db").display().to_string(),
            ..Default::default()
        };
        let pool = connect(&settings)?;
        let mut reader: PooledConn = pool.get()?.into();
        reader.batch_execute("CREATE TABLE t (x INTEGER)")?;
        let attempt = |conn: &mut DbConn, immediate: bool| -> Result<i64, diesel::result::Error> {
            let (holding, held) = std::sync::mpsc::channel();
            let (release, released) = std::sync::mpsc::channel::<()>();
            let pool = pool.clone();
            // Holds the lock until the attempt is over (a deferred one does not wait), or 300 ms
            // (an immediate one waits for this commit).
            let hold = Duration::from_millis(if immediate { 300 } else { 30_000 });
            let writer = std::thread::spawn(move || -> anyhow::Result<()> {
                let mut other: PooledConn = pool.get()?.into();
                other.batch_execute("BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")?;
                holding.send(())?;
                let _ = released.recv_timeout(hold);
                other.batch_execute("COMMIT")?;
                Ok(())
            });
            held.recv()
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
            let body = |c: &mut DbConn| {
                let before =
                    diesel::sql_query("SELECT COUNT(*) AS n FROM t").get_result::<Count>(c)?;
                diesel::sql_query("INSERT INTO t VALUES (2)").execute(c)?;
                Ok(before.n)
            };
            let outcome = if immediate {
                write_transaction(conn, body)
            } else {
                conn.transaction(body)
            };
            let _ = release.send(());
            let joined = writer.join();
            assert!(matches!(joined, Ok(Ok(()))), "the other writer failed");
            outcome
        };
        let deferred = attempt(&mut reader, false);
        assert!(
            matches!(&deferred, Err(e) if e.to_string().contains("locked")),
            "{deferred:?}"
        );
        // It waited for the other write, and saw it.
        assert_eq!(attempt(&mut reader, true)?, 2);
        Ok(())
    }
}
