//! Writing response rows in batches, with their extra answers and counts (called by
//! [`super::record`], the one write path).

use diesel::prelude::*;

use super::{NewResponse, Submission};
use crate::aggregates;
use crate::db::DbConn;
use crate::db::schema::{contact_requests, response_answers, responses};

/// Rows per INSERT statement: 26 columns × 1,000 rows stays under SQLite's 32,766 parameters.
pub const BATCH: usize = 1000;

/// Rows of the one multi-row INSERT statement SQLite keeps prepared (26 columns each).
const CACHED_ROWS: usize = 100;

/// What happened to a submission made through an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Saved,
    /// The invitation had already been used (double tap, back button): nothing new was stored.
    AlreadyUsed,
}

/// A citizen's request to be contacted, kept apart from the response.
#[derive(Debug, Clone)]
pub struct ContactRequest {
    pub agency_id: i64,
    pub contact: String,
}

/// Keeps a citizen's request to be contacted, with no link to their response.
pub fn insert_contact(
    conn: &mut DbConn,
    contact: &ContactRequest,
    on: chrono::NaiveDate,
) -> QueryResult<()> {
    diesel::insert_into(contact_requests::table)
        .values((
            contact_requests::agency_id.eq(contact.agency_id),
            contact_requests::created_on.eq(on),
            contact_requests::contact.eq(&contact.contact),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts rows and returns their ids in order: one row with `INSERT … RETURNING` (a web
/// submission), several with one multi-row INSERT.
///
/// For several rows PostgreSQL returns the ids (`RETURNING`). SQLite does not use `RETURNING`
/// there: on a large transaction it makes every statement's savepoint release slow (profiled:
/// 45% of an import). Inside our write transaction SQLite is the only writer and gives an
/// `INTEGER PRIMARY KEY` table's new rows consecutive rowids ending at `last_insert_rowid()`.
fn insert_rows(conn: &mut DbConn, rows: Vec<&NewResponse>) -> QueryResult<Vec<i64>> {
    let count = rows.len() as i64;
    if let [row] = rows.as_slice() {
        // One row (a web submission): a single-row INSERT is a constant statement that diesel
        // prepares once per connection; a batch INSERT is prepared again every time (profiled:
        // preparing it was the largest part of a submission's database time on SQLite).
        let id = crate::on_backend!(conn, c => diesel::insert_into(responses::table)
            .values(*row)
            .returning(responses::id)
            .get_result(c))?;
        return Ok(vec![id]);
    }
    match conn {
        DbConn::Pg(c) => diesel::insert_into(responses::table)
            .values(rows)
            .returning(responses::id)
            .get_results(c),
        DbConn::Sqlite(c) => {
            // Whole chunks of CACHED_ROWS rows are one fixed-size statement that diesel
            // prepares once per connection; a statement of any other length is prepared anew
            // (profiled: preparing the 1,000-row INSERT was 9% of a 1,000,000-row import).
            let mut chunks = rows.chunks_exact(CACHED_ROWS);
            for chunk in &mut chunks {
                // Owned rows: a cached statement's type may not borrow.
                let fixed: [NewResponse; CACHED_ROWS] = std::array::from_fn(|i| chunk[i].clone());
                diesel::insert_into(responses::table)
                    .values(fixed)
                    .execute(c)?;
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                diesel::insert_into(responses::table)
                    .values(rest.to_vec())
                    .execute(c)?;
            }
            let last: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "last_insert_rowid()",
            ))
            .get_result(c)?;
            Ok((last - count + 1..=last).collect())
        }
    }
}

/// Inserts submissions (at most [`BATCH`] per statement) and adds them to the daily counts,
/// inside the caller's transaction.
pub(super) fn insert_batch(conn: &mut DbConn, submissions: &[&Submission]) -> QueryResult<()> {
    let ids = insert_uncounted(conn, submissions)?;
    // One pass over the whole slice: fewer, larger aggregate statements.
    aggregates::record(conn, &ids)
}

/// Inserts submissions without counting them and without returning their ids (an import's
/// staging), inside the caller's transaction.
pub(super) fn insert_staged(conn: &mut DbConn, submissions: &[&Submission]) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn
        && submissions.len() >= COPY_FROM
        && submissions.iter().all(|s| s.extra.is_empty())
    {
        return super::copy::insert_unnumbered(c, submissions);
    }
    insert_uncounted(conn, submissions).map(drop)
}

/// Rows from which PostgreSQL gets them by `COPY` rather than multi-row INSERTs.
const COPY_FROM: usize = 100;

/// Inserts submissions with their extra answers (at most [`BATCH`] rows per statement, or one
/// `COPY` on PostgreSQL for a large batch) inside the caller's transaction, and returns their
/// ids; the counts are left to the caller.
pub(super) fn insert_uncounted(
    conn: &mut DbConn,
    submissions: &[&Submission],
) -> QueryResult<Vec<i64>> {
    if let DbConn::Pg(c) = conn
        && submissions.len() >= COPY_FROM
    {
        return super::copy::insert(c, submissions);
    }
    let mut all_ids = Vec::with_capacity(submissions.len());
    for chunk in submissions.chunks(BATCH) {
        let rows: Vec<_> = chunk.iter().map(|s| &s.response).collect();
        let ids = insert_rows(conn, rows)?;
        all_ids.extend_from_slice(&ids);
        let answers: Vec<_> = chunk
            .iter()
            .zip(&ids)
            .flat_map(|(s, id)| {
                s.extra.iter().map(move |(item, value)| {
                    (
                        response_answers::response_id.eq(*id),
                        response_answers::item.eq(item.as_str()),
                        response_answers::value.eq(*value),
                    )
                })
            })
            .collect();
        for part in answers.chunks(BATCH * 3) {
            crate::on_backend!(conn, c => diesel::insert_into(response_answers::table).values(part).execute(c))?;
        }
    }
    Ok(all_ids)
}
