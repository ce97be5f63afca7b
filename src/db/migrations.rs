//! Embedded migrations for both backends, run at start-up and by `sipas migrate`.
//!
//! Each change is a same-named directory under `migrations/sqlite` and `migrations/postgres`;
//! a test (and `tests/api/migrations.rs` on a live PostgreSQL) guards that the two sets agree.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, DbError, DbPool};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration of the active backend, then any recount a migration asked
/// for; returns the names applied.
pub fn run(pool: &DbPool) -> Result<Vec<String>, DbError> {
    let mut conn: super::PooledConn = pool
        .get()
        .map_err(|e| DbError::Migrate(e.to_string()))?
        .into();
    let applied: Vec<String> = match &mut *conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| DbError::Migrate(e.to_string()))?
    .iter()
    .map(ToString::to_string)
    .collect();
    recount_if_requested(&mut conn).map_err(|e| DbError::Migrate(e.to_string()))?;
    Ok(applied)
}

/// Recounts every count once if a migration asked for it in `pending_recounts` (migration
/// 000015, when an import was interrupted while adding its counts), clearing the request in the
/// same transaction: a crash in between recounts again at the next start.
fn recount_if_requested(conn: &mut DbConn) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pending {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let pending: Pending =
        diesel::sql_query("SELECT COUNT(*) AS n FROM pending_recounts").get_result(conn)?;
    if pending.n == 0 {
        return Ok(());
    }
    tracing::warn!(
        "an import was interrupted while adding its counts across an upgrade: recounting every count once"
    );
    crate::db::write_transaction(conn, |conn| {
        crate::aggregates::recount(conn)?;
        diesel::sql_query("DELETE FROM pending_recounts").execute(conn)?;
        Ok(())
    })
}

/// The migration names of one backend's embedded set, in order.
pub fn names(sqlite: bool) -> Vec<String> {
    use diesel::migration::MigrationSource;
    let set = if sqlite { SQLITE } else { POSTGRES };
    let migrations: Vec<Box<dyn diesel::migration::Migration<diesel::sqlite::Sqlite>>> =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&set).unwrap_or_default();
    migrations.iter().map(|m| m.name().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = super::names(true);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, super::names(false));
    }

    /// The two folders may differ only in how auto-increment keys are spelled and in the
    /// Vietnam day of a timestamp (`clock::sql_local_day`), except a migration whose SQLite twin
    /// says it is for PostgreSQL only (storage settings that change no schema); the live schema
    /// comparison runs in `tests/api/migrations.rs` against PostgreSQL.
    #[test]
    fn both_backends_have_the_same_sql_up_to_key_syntax() -> std::io::Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for entry in std::fs::read_dir(root.join("sqlite"))? {
            let name = entry?.file_name();
            for file in ["up.sql", "down.sql"] {
                let sqlite = std::fs::read_to_string(root.join("sqlite").join(&name).join(file))?;
                if sqlite.starts_with("-- PostgreSQL only") {
                    continue;
                }
                let postgres =
                    std::fs::read_to_string(root.join("postgres").join(&name).join(file))?;
                let local_day = |sqlite| crate::clock::sql_local_day("returned_at", sqlite);
                let normalised = postgres
                    .replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY")
                    .replace(&local_day(false), &local_day(true));
                assert_eq!(
                    sqlite, normalised,
                    "{name:?}/{file} differs beyond key syntax"
                );
            }
        }
        Ok(())
    }
}
