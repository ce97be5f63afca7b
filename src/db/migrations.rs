//! Embedded migrations for both backends, run at start-up and by `sipas migrate`.
//!
//! Each change is a same-named directory under `migrations/sqlite` and `migrations/postgres`;
//! a test (and `tests/api/migrations.rs` on a live PostgreSQL) guards that the two sets agree.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, DbError, DbPool};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The migration that fills `agency_monthly_counts` from `monthly_counts`.
const AGENCY_MONTHS: &str = "20261201000015";

/// Applies every pending migration of the active backend; returns the names applied.
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
    if applied.iter().any(|v| v.replace('-', "") == AGENCY_MONTHS) {
        recount_interrupted_publishing(&mut conn)?;
    }
    Ok(applied)
}

/// An import interrupted while adding its counts resumes by number across the count tables;
/// the months over procedures were numbered after the others only from the migration that
/// added them, which filled them from months that may already hold part of that import. Such a
/// database is recounted once (rare: an upgrade right after an interrupted import).
fn recount_interrupted_publishing(conn: &mut DbConn) -> Result<(), DbError> {
    use diesel::prelude::*;
    let publishing: i64 = crate::db::schema::imports::table
        .filter(
            crate::db::schema::imports::status
                .eq(crate::responses::staging::ImportStatus::Publishing),
        )
        .count()
        .get_result(conn)
        .map_err(|e| DbError::Migrate(e.to_string()))?;
    if publishing > 0 {
        tracing::warn!(
            imports = publishing,
            "an interrupted import is still adding its counts: recounting every count once"
        );
        crate::aggregates::recount(conn).map_err(|e| DbError::Migrate(e.to_string()))?;
    }
    Ok(())
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
