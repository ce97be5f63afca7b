//! Bulk insertion on PostgreSQL with `COPY … FROM STDIN`: the rows of a large batch (an import)
//! go to the server as one stream instead of a statement per thousand rows.
//!
//! `COPY` returns no ids, so when extra answers must point at their responses the ids are taken
//! from the table's sequence first (one round trip) and the extra answers copied with them;
//! otherwise the table numbers the rows itself ([`insert_unnumbered`]).

use std::io::Write;

use diesel::pg::CopyFormat;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::{NewResponse, Submission};
use crate::db::schema::{response_answers, responses};

/// `n` new ids from the responses' sequence, in increasing order.
fn reserve_ids(conn: &mut PgConnection, n: usize) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT nextval(pg_get_serial_sequence('responses', 'id')) AS id \
         FROM generate_series(1, $1) ORDER BY 1",
    )
    .bind::<BigInt, _>(n as i64)
    .load(conn)?;
    Ok(ids.into_iter().map(|i| i.id).collect())
}

/// Inserts `submissions` with their extra answers; returns their ids, in order.
pub fn insert(conn: &mut PgConnection, submissions: &[&Submission]) -> QueryResult<Vec<i64>> {
    let ids = reserve_ids(conn, submissions.len())?;
    let rows: Vec<(i64, &NewResponse)> = ids
        .iter()
        .copied()
        .zip(submissions.iter().map(|s| &s.response))
        .collect();
    diesel::copy_from(responses::table)
        // Every column, in the order of `schema.rs` (the order `write_response` writes).
        .from_raw_data(responses::table, |out: &mut dyn Write| -> QueryResult<()> {
            for (id, r) in &rows {
                write_response(out, *id, r).map_err(io_error)?;
            }
            Ok(())
        })
        .with_format(CopyFormat::Text)
        .execute(conn)?;
    let answers: Vec<(i64, &str, i32)> = ids
        .iter()
        .zip(submissions)
        .flat_map(|(id, s)| {
            s.extra
                .iter()
                .map(move |(item, value)| (*id, item.as_str(), *value))
        })
        .collect();
    if !answers.is_empty() {
        diesel::copy_from(response_answers::table)
            .from_raw_data(
                (
                    response_answers::response_id,
                    response_answers::item,
                    response_answers::value,
                ),
                |out: &mut dyn Write| -> QueryResult<()> {
                    for (id, item, value) in &answers {
                        write!(out, "{id}\t")
                            .and_then(|()| text(out, item))
                            .and_then(|()| writeln!(out, "\t{value}"))
                            .map_err(io_error)?;
                    }
                    Ok(())
                },
            )
            .with_format(CopyFormat::Text)
            .execute(conn)?;
    }
    Ok(ids)
}

/// Inserts `submissions`, none of which has extra answers, and lets the table's sequence number
/// them: no ids come back and none are reserved first (for 1,000,000 imported rows, the
/// reserving statements took 2.7 s of PostgreSQL's time).
pub fn insert_unnumbered(conn: &mut PgConnection, submissions: &[&Submission]) -> QueryResult<()> {
    use crate::db::schema::responses::dsl::*;
    debug_assert!(submissions.iter().all(|s| s.extra.is_empty()));
    diesel::copy_from(responses)
        // Every column but the id, in the order `write_fields` writes them.
        .from_raw_data(
            (
                agency_id,
                procedure_id,
                channel,
                questionnaire_id,
                questionnaire_version,
                submitted_on,
                late,
                days_late,
                tc0,
                tt0,
                cc0,
                kq0,
                pa0,
                hl0,
                e1,
                e2,
                e3,
                e4,
                e5,
                e6,
                e7,
                comment,
                comment_flag,
                import_id,
            ),
            |out: &mut dyn Write| -> QueryResult<()> {
                for s in submissions {
                    write_fields(out, &s.response).map_err(io_error)?;
                }
                Ok(())
            },
        )
        .with_format(CopyFormat::Text)
        .execute(conn)?;
    Ok(())
}

/// One row of `responses` in COPY's text format.
fn write_response(out: &mut dyn Write, id: i64, r: &NewResponse) -> std::io::Result<()> {
    write!(out, "{id}\t")?;
    write_fields(out, r)
}

/// The columns of a `responses` row after its id, in COPY's text format.
fn write_fields(out: &mut dyn Write, r: &NewResponse) -> std::io::Result<()> {
    write!(
        out,
        "{}\t{}\t{}\t",
        r.agency_id,
        opt(r.procedure_id),
        r.channel.as_str()
    )?;
    text(out, &r.questionnaire_id)?;
    write!(
        out,
        "\t{}\t{}\t{}\t{}",
        r.questionnaire_version,
        r.submitted_on.format("%Y-%m-%d"),
        opt(r.late.map(|l| if l { "t" } else { "f" })),
        opt(r.days_late)
    )?;
    for item in [
        r.tc0, r.tt0, r.cc0, r.kq0, r.pa0, r.hl0, r.e1, r.e2, r.e3, r.e4, r.e5, r.e6, r.e7,
    ] {
        write!(out, "\t{}", opt(item))?;
    }
    out.write_all(b"\t")?;
    match &r.comment {
        Some(c) => text(out, c)?,
        None => out.write_all(b"\\N")?,
    }
    writeln!(
        out,
        "\t{}\t{}",
        if r.comment_flag { "t" } else { "f" },
        opt(r.import_id)
    )
}

fn io_error(e: std::io::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(e))
}

/// A value, or COPY's NULL marker.
fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "\\N".to_owned(), |v| v.to_string())
}

/// Text escaped for COPY's text format: backslash, tab, newline and carriage return.
fn text(out: &mut dyn Write, s: &str) -> std::io::Result<()> {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.write_all(&s.as_bytes()[start..i])?;
        out.write_all(escaped)?;
        start = i + 1;
    }
    out.write_all(&s.as_bytes()[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_copy() -> std::io::Result<()> {
        let mut out = Vec::new();
        text(&mut out, "a\\b\tc\nd\re – đ")?;
        assert_eq!(String::from_utf8_lossy(&out), "a\\\\b\\tc\\nd\\re – đ");
        Ok(())
    }
}
