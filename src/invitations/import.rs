//! `sipas import dossiers FILE.csv`: the API's dossier report for offices without an API client.

use std::io::Read;

use chrono::NaiveDateTime;
use diesel::Connection;

use super::dossier::DossierReport;
use super::issue::{Issued, Issuer, Scope, StoreError};
use crate::csvfile::{CsvRows, ImportError, Problems};
use crate::db::DbConn;

const COLUMNS: [&str; 7] = [
    "dossier_code",
    "agency_code",
    "procedure_code",
    "channel",
    "received_at",
    "due_at",
    "returned_at",
];

/// Dossiers read before their invitations are issued: memory stays flat in the file's size.
const SLICE: usize = 5_000;

/// Reads the file a slice at a time and issues its invitations, all in one transaction (or
/// none: after the first problem nothing more is issued, the rest is only checked, and the
/// transaction is rolled back). `emit` receives each outcome in file order; what it received
/// counts only if the import returns `Ok` (the number of dossiers).
pub fn import_dossiers(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    input: impl Read,
    mut emit: impl FnMut(&Issued) -> std::io::Result<()>,
) -> Result<u64, ImportError> {
    let mut rows = CsvRows::open(input, &COLUMNS)?;
    conn.transaction(|conn| {
        let mut batch = issuer.batch(Scope::All);
        let mut problems = Problems::default();
        let mut dossiers = Vec::with_capacity(SLICE);
        let mut lines = Vec::with_capacity(SLICE);
        let mut imported = 0;
        loop {
            let next = rows.next_row();
            let end = next.is_none();
            match next {
                None => {}
                Some(Err(e)) => problems.push(e),
                Some(Ok(row)) => {
                    let report = DossierReport {
                        dossier_code: row.get("dossier_code").into(),
                        agency_code: row.get("agency_code").into(),
                        procedure_code: row.get("procedure_code").into(),
                        channel: row.get("channel").into(),
                        received_at: row.get("received_at").into(),
                        due_at: Some(row.get("due_at").into()),
                        returned_at: row.get("returned_at").into(),
                        citizen_email: Some(row.get("citizen_email").into()),
                        citizen_phone: Some(row.get("citizen_phone").into()),
                    };
                    match report.parse(issuer.now) {
                        Ok(d) => {
                            dossiers.push(d);
                            lines.push(row.line);
                        }
                        Err(errors) => {
                            for e in errors {
                                problems.add(row.line, format!("{}: {}", e.field, e.message));
                            }
                        }
                    }
                }
            }
            if dossiers.len() == SLICE || (end && !dossiers.is_empty()) {
                match batch.resolve(conn, &dossiers)? {
                    Err(rejected) => {
                        for (i, e) in rejected {
                            let line = lines.get(i).copied().unwrap_or(0);
                            problems.add(line, format!("{}: {}", e.field, e.message));
                        }
                    }
                    Ok(resolved) if problems.is_empty() => {
                        for issued in batch.store(conn, &resolved).map_err(store_error)? {
                            emit(&issued).map_err(|e| ImportError::Read(e.to_string()))?;
                            imported += 1;
                        }
                    }
                    Ok(_) => {}
                }
                dossiers.clear();
                lines.clear();
            }
            if end {
                break;
            }
        }
        problems.into_result()?;
        Ok(imported)
    })
}

fn store_error(e: StoreError) -> ImportError {
    match e {
        StoreError::Database(e) => ImportError::Database(e),
        StoreError::Random(e) => ImportError::Read(e),
    }
}

/// The time import runs are stamped with.
pub fn now() -> NaiveDateTime {
    crate::clock::now_to_second()
}
