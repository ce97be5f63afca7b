//! `sipas import responses FILE.csv`: paper and legacy answers, all or nothing, in batches.
//!
//! Columns: `agency_code, submitted_at` (RFC 3339 or `YYYY-MM-DD`), optional `procedure_code,
//! channel, late` (0/1) and `questionnaire`, then one column per question id. An answer is the
//! option's position from 1, `NA` for "Không áp dụng", empty for not answered; `C1` is text.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use diesel::Connection;

use super::record::{Entry, record};
use super::store::IMPORT_BATCH;
use super::{Context, Submission};
use crate::catalog::queries as catalog;
use crate::csvfile::{CsvRows, ImportError, Problems};
use crate::db::DbConn;
use crate::domain::Channel;
use crate::invitations::dossier::parse_timestamp;
use crate::questionnaire::{COMMENT_ITEM, Questionnaire};

const FIXED: [&str; 6] = [
    "agency_code",
    "submitted_at",
    "procedure_code",
    "channel",
    "late",
    "questionnaire",
];

/// Imports every row or none; `progress` is called with the number of rows read so far.
pub fn import_responses(
    conn: &mut DbConn,
    questionnaire: &Questionnaire,
    input: impl Read,
    mut progress: impl FnMut(u64),
) -> Result<u64, ImportError> {
    let mut rows = CsvRows::open_with(input, &["agency_code", "submitted_at"], &[COMMENT_ITEM])?;
    let agencies: HashMap<String, i64> = catalog::all_agencies(conn)?
        .into_iter()
        .map(|a| (a.code, a.id))
        .collect();
    let procedures: HashMap<String, i64> = catalog::all_procedures(conn)?
        .into_iter()
        .map(|p| (p.code, p.id))
        .collect();
    let mut header = Problems::default();
    for column in rows.column_names() {
        if !FIXED.contains(&column) && questionnaire.item(column).is_none() {
            header.add(
                1,
                format!("column {column} is not a question of {}", questionnaire.id),
            );
        }
    }
    header.into_result()?;
    crate::db::with_import_cache(conn, |conn| {
        conn.transaction(|conn| -> Result<u64, ImportError> {
            let mut problems = Problems::default();
            let mut batch: Vec<Entry> = Vec::with_capacity(IMPORT_BATCH);
            let mut count = 0u64;
            while let Some(row) = rows.next_row() {
                let row = match row {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                };
                let line = row.line;
                let mut bad = |m: String| problems.add(line, m);
                let agency_id = agencies.get(row.get("agency_code")).copied();
                if agency_id.is_none() {
                    bad(format!("unknown agency_code {:?}", row.get("agency_code")));
                }
                let submitted_on = submitted_on(row.get("submitted_at"));
                if submitted_on.is_none() {
                    bad(format!(
                        "submitted_at {:?} is not RFC 3339 or YYYY-MM-DD",
                        row.get("submitted_at")
                    ));
                }
                let procedure_id = match row.get("procedure_code") {
                    "" => Some(None),
                    code => procedures.get(code).map(|id| Some(*id)),
                };
                if procedure_id.is_none() {
                    bad(format!(
                        "unknown procedure_code {:?}",
                        row.get("procedure_code")
                    ));
                }
                let channel = match row.get("channel") {
                    "" => Some(Channel::Paper),
                    c => Channel::parse(c),
                };
                if channel.is_none() {
                    bad(format!(
                        "channel {:?} is not counter, online, postal, walk_in or paper",
                        row.get("channel")
                    ));
                }
                let late = match row.get("late") {
                    "" => Some(None),
                    "0" => Some(Some(false)),
                    "1" => Some(Some(true)),
                    _ => None,
                };
                if late.is_none() {
                    bad(format!("late {:?} must be 0, 1 or empty", row.get("late")));
                }
                match row.get("questionnaire") {
                    "" => {}
                    q if q == questionnaire.id => {}
                    q => bad(format!(
                        "questionnaire {q:?} is not the active questionnaire {}",
                        questionnaire.id
                    )),
                }
                let mut answers: Vec<(&str, i32)> = Vec::new();
                let mut comment = None;
                for (column, value) in row.columns_where(|c| !FIXED.contains(&c)) {
                    if value.is_empty() {
                        continue;
                    }
                    if column == COMMENT_ITEM {
                        comment = Some(value.to_owned());
                        continue;
                    }
                    let Some(item) = questionnaire.item(column) else {
                        continue;
                    };
                    let stored = if value.eq_ignore_ascii_case("NA") {
                        item.na.then_some(0)
                    } else {
                        value
                            .parse::<i32>()
                            .ok()
                            .filter(|v| *v >= 1 && *v as usize <= item.options.len())
                    };
                    match stored {
                        Some(v) => answers.push((column, v)),
                        None => bad(format!(
                            "{column} = {value:?}: expected 1–{}{}",
                            item.options.len(),
                            if item.na { " or NA" } else { "" }
                        )),
                    }
                }
                let (
                    Some(agency_id),
                    Some(submitted_on),
                    Some(procedure_id),
                    Some(channel),
                    Some(late),
                ) = (agency_id, submitted_on, procedure_id, channel, late)
                else {
                    continue;
                };
                if !problems.is_empty() {
                    // Keep validating to report every bad line, but write nothing more.
                    continue;
                }
                let ctx = Context {
                    agency_id,
                    procedure_id,
                    channel,
                    submitted_on,
                    late,
                    days_late: None,
                };
                let mut submission = Submission::new(questionnaire, ctx);
                for (item, value) in answers {
                    submission.set(item, value);
                }
                if let Some(comment) = &comment {
                    submission.set_comment(comment);
                }
                batch.push(Entry::plain(submission));
                count += 1;
                if batch.len() == IMPORT_BATCH {
                    record(conn, &batch)?;
                    batch.clear();
                    progress(count);
                }
            }
            problems.into_result()?;
            record(conn, &batch)?;
            progress(count);
            Ok(count)
        })
    })
}

/// The Vietnam calendar day of a submission time.
fn submitted_on(value: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
        return Some(d);
    }
    let utc = parse_timestamp(value)?;
    Some(crate::clock::day_of(utc))
}
