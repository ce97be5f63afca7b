//! `sipas import dossiers FILE.csv`: the API's dossier report for offices without an API client.

use std::io::Read;
use std::sync::mpsc;

use chrono::NaiveDateTime;

use super::dossier::{Dossier, DossierReport};
use super::issue::{Fresh, Issued, Issuer, Scope, StoreError};
use crate::csvfile::{CsvRows, ImportError, LineError, Problems};
use crate::db::DbConn;
use crate::domain::TokenSecret;

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

/// Rows of the file, parsed: the dossiers and their lines, a new invitation's secrets for each,
/// and the lines that were refused.
#[derive(Default)]
struct Slice {
    dossiers: Vec<Dossier>,
    lines: Vec<u64>,
    fresh: Vec<Fresh>,
    refused: Vec<LineError>,
}

/// Reads the file a slice at a time (on a second thread, while the database stores the slice
/// before) and issues its invitations, all in one transaction, or none: after the first problem
/// nothing more is issued, the rest is only checked, and the transaction is rolled back. `emit`
/// receives each outcome in file order; what it received counts only if the import returns `Ok`
/// (the number of dossiers).
pub fn import_dossiers(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    input: impl Read + Send,
    emit: impl FnMut(&Issued) -> std::io::Result<()>,
) -> Result<u64, ImportError> {
    let rows = CsvRows::open(input, &COLUMNS)?;
    let (now, secret) = (issuer.now, issuer.secret);
    // Two slices in flight at most.
    let (send, slices) = mpsc::sync_channel::<Slice>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || read(rows, now, secret, &send));
        // `store` owns the receiver: when it stops early, the reader's next send fails and it
        // ends too, so the scope can join it.
        store(conn, issuer, slices, emit)
    })
}

/// Parses rows into slices (drawing each dossier's invitation secrets) until the end of the
/// file, or until the receiver is gone.
fn read(
    mut rows: CsvRows<impl Read>,
    now: NaiveDateTime,
    secret: &TokenSecret,
    send: &mpsc::SyncSender<Slice>,
) {
    let mut slice = Slice::default();
    while let Some(row) = rows.next_row() {
        match row {
            Err(e) => slice.refused.push(e),
            Ok(row) => {
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
                match report.parse(now) {
                    Ok(d) => {
                        slice.dossiers.push(d);
                        slice.lines.push(row.line);
                        // Without randomness, the storing side draws and reports the failure.
                        if let Ok(fresh) = Fresh::draw(secret) {
                            slice.fresh.push(fresh);
                        }
                    }
                    Err(errors) => slice.refused.extend(errors.into_iter().map(|e| LineError {
                        line: row.line,
                        message: format!("{}: {} ({})", e.field, e.message_vi, e.message),
                    })),
                }
            }
        }
        if slice.dossiers.len() + slice.refused.len() >= SLICE
            && send.send(std::mem::take(&mut slice)).is_err()
        {
            return;
        }
    }
    // The receiver stops at the channel's end: a failure to send means it has already stopped.
    let _ = send.send(slice);
}

/// Issues the slices as they arrive, in one transaction.
fn store(
    conn: &mut DbConn,
    issuer: &Issuer<'_>,
    slices: mpsc::Receiver<Slice>,
    mut emit: impl FnMut(&Issued) -> std::io::Result<()>,
) -> Result<u64, ImportError> {
    crate::db::with_import_cache(conn, |conn| {
        crate::db::write_transaction(conn, |conn| {
            let mut batch = issuer.batch(Scope::All);
            let mut problems = Problems::default();
            let mut imported = 0;
            for slice in slices {
                for e in slice.refused {
                    problems.push(e);
                }
                if slice.dossiers.is_empty() {
                    continue;
                }
                match batch.resolve(conn, &slice.dossiers)? {
                    Err(rejected) => {
                        for (i, e) in rejected {
                            let line = slice.lines.get(i).copied().unwrap_or(0);
                            problems.add(
                                line,
                                format!("{}: {} ({})", e.field, e.message_vi, e.message),
                            );
                        }
                    }
                    Ok(resolved) if problems.is_empty() => {
                        let stored = batch.store(conn, &resolved, slice.fresh);
                        for issued in stored.map_err(store_error)? {
                            emit(&issued).map_err(|e| ImportError::Read(e.to_string()))?;
                            imported += 1;
                        }
                    }
                    Ok(_) => {}
                }
            }
            problems.into_result()?;
            batch.finish(conn)?;
            Ok(imported)
        })
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
