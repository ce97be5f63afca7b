//! `sipas import dossiers FILE.csv`: the API's dossier report for offices without an API client.

use std::io::Read;

use chrono::NaiveDateTime;

use super::dossier::DossierReport;
use super::queries::{IssueError, Issued, Issuer, Scope};
use crate::csvfile::{CsvRows, ImportError, LineError, Problems};
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

/// Reads every dossier, then issues all invitations in one transaction (or none).
pub fn import_dossiers(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    input: impl Read,
) -> Result<Vec<Issued>, ImportError> {
    let mut rows = CsvRows::open(input, &COLUMNS)?;
    let mut problems = Problems::default();
    let mut dossiers = Vec::new();
    let mut lines = Vec::new();
    while let Some(row) = rows.next_row() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
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
    problems.into_result()?;
    match issuer.issue(conn, &dossiers, Scope::All) {
        Ok(issued) => Ok(issued),
        Err(IssueError::Rejected(rejected)) => Err(ImportError::Lines(
            rejected
                .into_iter()
                .map(|(i, e)| LineError {
                    line: lines.get(i).copied().unwrap_or(0),
                    message: format!("{}: {}", e.field, e.message),
                })
                .collect(),
        )),
        Err(IssueError::Database(e)) => Err(ImportError::Database(e)),
        Err(IssueError::Random(e)) => Err(ImportError::Read(e)),
    }
}

/// The time import runs are stamped with.
pub fn now() -> NaiveDateTime {
    crate::clock::now_to_second()
}
