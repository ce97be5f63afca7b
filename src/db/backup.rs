//! Online backups: SQLite's `VACUUM INTO` writes a consistent copy while the server runs;
//! PostgreSQL is backed up with its own `pg_dump` (see the README).

use diesel::connection::SimpleConnection;

use super::DbConn;

/// Why a backup was not written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} đã tồn tại; hãy chọn tệp mới ({0} already exists; choose a new file)")]
    Exists(String),
    #[error(
        "PostgreSQL được sao lưu bằng pg_dump (PostgreSQL is backed up with pg_dump): pg_dump --format=custom --file=FILE \"$SIPAS_DATABASE_URL\""
    )]
    Postgres,
    #[error("không ghi được bản sao lưu (cannot write the backup): {0}")]
    Database(#[from] diesel::result::Error),
}

/// Writes a consistent copy of the SQLite database to `path` (a new file).
pub fn sqlite_backup(conn: &mut DbConn, path: &std::path::Path) -> Result<(), BackupError> {
    if path.exists() {
        return Err(BackupError::Exists(path.display().to_string()));
    }
    match conn {
        DbConn::Pg(_) => Err(BackupError::Postgres),
        DbConn::Sqlite(c) => {
            // The path is quoted as an SQL string literal (quotes doubled).
            let quoted = path.display().to_string().replace('\'', "''");
            c.batch_execute(&format!("VACUUM INTO '{quoted}'"))?;
            Ok(())
        }
    }
}
