//! An import's sums kept in memory while its rows are read: the same numbers as
//! [`super::sum_import`] computes in SQL afterwards, without the database sorting every row
//! again (9 of the 25 seconds of a 1,000,000-row SQLite import).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Array, BigInt, Date, Text};

use super::{Grain, ImportSums, MEASURES, adding};
use crate::db::DbConn;
use crate::responses::NewResponse;

/// Day keys past which a tally gives up (about 650 MB of the import's memory at the limit,
/// with the sorted rows) and the import is summed in SQL.
pub const MAX_KEYS: usize = 1_000_000;

/// Count rows per upsert statement on SQLite (45 parameters each).
const UPSERT_ROWS: usize = 100;

/// (agency, procedure or 0, channel, day): the key of a `daily_counts` row, ordered as
/// [`super::sum_import`] numbers them: `&str` orders by bytes, as SQLite's BINARY collation and
/// as any PostgreSQL collation orders the channels (lowercase words that differ before any
/// `_`); days are stored as `YYYY-MM-DD` text on SQLite, as dates on PostgreSQL.
type DayKey = (i64, i64, &'static str, NaiveDate);

/// The measures of one count row, in [`MEASURES`] order, then its dossier responses (a column
/// only where channels are summed up; u32: half the memory of i64; a sum that would overflow
/// makes the tally give up).
type Values = [u32; MEASURES.len() + 1];

/// Sums per day key of the rows added so far, or nothing once there were too many keys.
#[derive(Debug, Default)]
pub struct Tally {
    days: Option<HashMap<DayKey, Values>>,
    max_keys: usize,
}

impl Tally {
    pub fn new() -> Tally {
        Tally::with_limit(MAX_KEYS)
    }

    /// A tally that gives up past `max_keys` day keys.
    fn with_limit(max_keys: usize) -> Tally {
        Tally {
            days: Some(HashMap::new()),
            max_keys,
        }
    }

    /// Adds one response (a no-op once the tally has given up).
    pub fn add(&mut self, r: &NewResponse) {
        let Some(days) = &mut self.days else {
            return;
        };
        let key = (
            r.agency_id,
            r.procedure_id.unwrap_or(0),
            r.channel.as_str(),
            r.submitted_on,
        );
        if days.len() >= self.max_keys && !days.contains_key(&key) {
            self.days = None;
            return;
        }
        let sums = days.entry(key).or_insert([0; MEASURES.len() + 1]);
        for (sum, value) in sums.iter_mut().zip(measures(r)) {
            match sum.checked_add(value) {
                Some(total) => *sum = total,
                None => {
                    self.days = None;
                    return;
                }
            }
        }
    }

    /// The count rows to add, in the order (and so with the numbers) [`super::sum_import`]
    /// gives them; `None` if the tally gave up or a month's sum would overflow (sum in SQL
    /// instead).
    pub fn into_sums(self) -> Option<ImportSums> {
        let mut days: Vec<SumRow> = self
            .days?
            .into_iter()
            .map(|((agency, procedure, channel, day), values)| SumRow {
                agency,
                procedure,
                channel,
                period: Period::Day(day),
                values,
            })
            .collect();
        days.sort_unstable_by(|x, y| x.key().cmp(&y.key()));
        let mut months: Vec<SumRow> = Vec::new();
        for day in &days {
            let Period::Day(date) = day.period else {
                continue;
            };
            let month = Period::Month((date.year(), date.month()));
            match months.last_mut() {
                Some(row)
                    if (row.agency, row.procedure, row.channel, &row.period)
                        == (day.agency, day.procedure, day.channel, &month) =>
                {
                    for (sum, value) in row.values.iter_mut().zip(&day.values) {
                        *sum = sum.checked_add(*value)?;
                    }
                }
                _ => months.push(SumRow {
                    period: month,
                    ..day.clone()
                }),
            }
        }
        // Over procedures and channels: the months again, keyed (agency, month).
        let mut agency_months: HashMap<(i64, (i32, u32)), Values> = HashMap::new();
        for row in &months {
            let Period::Month(month) = row.period else {
                continue;
            };
            let sums = agency_months
                .entry((row.agency, month))
                .or_insert([0; MEASURES.len() + 1]);
            for (sum, value) in sums.iter_mut().zip(&row.values) {
                *sum = sum.checked_add(*value)?;
            }
        }
        let mut agency_months: Vec<SumRow> = agency_months
            .into_iter()
            .map(|((agency, month), values)| SumRow {
                agency,
                procedure: 0,
                channel: "",
                period: Period::Month(month),
                values,
            })
            .collect();
        agency_months.sort_unstable_by_key(SumRow::month_key);
        // And their years: the agency's months are consecutive, in time order.
        let mut agency_years: Vec<SumRow> = Vec::new();
        for row in &agency_months {
            let Period::Month((year, _)) = row.period else {
                continue;
            };
            match agency_years.last_mut() {
                Some(last) if (last.agency, &last.period) == (row.agency, &Period::Year(year)) => {
                    for (sum, value) in last.values.iter_mut().zip(&row.values) {
                        *sum = sum.checked_add(*value)?;
                    }
                }
                _ => agency_years.push(SumRow {
                    period: Period::Year(year),
                    ..row.clone()
                }),
            }
        }
        Some(ImportSums::in_memory([
            days,
            months,
            agency_months,
            agency_years,
        ]))
    }
}

/// The day, month or year of a count row (a day's month is the days' order: months follow it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Period {
    Day(NaiveDate),
    Month((i32, u32)),
    Year(i32),
}

impl Period {
    /// A month or year as its key in the count tables (`YYYY-MM`, `YYYY`); days are dates.
    fn text(&self) -> Option<String> {
        match self {
            Period::Day(_) => None,
            Period::Month((year, month)) => Some(format!("{year:04}-{month:02}")),
            Period::Year(year) => Some(format!("{year:04}")),
        }
    }
}

/// One count row to add.
#[derive(Debug, Clone)]
pub(super) struct SumRow {
    agency: i64,
    procedure: i64,
    channel: &'static str,
    period: Period,
    values: Values,
}

impl SumRow {
    /// The day key, in the order of [`super::sum_import`]'s numbers.
    fn key(&self) -> (i64, i64, &'static str, Option<NaiveDate>) {
        let day = match self.period {
            Period::Day(day) => Some(day),
            Period::Month(_) | Period::Year(_) => None,
        };
        (self.agency, self.procedure, self.channel, day)
    }

    /// The key of an agency's month, in the order of [`super::sum_import`]'s numbers.
    fn month_key(&self) -> (i64, Option<(i32, u32)>) {
        let month = match self.period {
            Period::Month(month) => Some(month),
            Period::Day(_) | Period::Year(_) => None,
        };
        (self.agency, month)
    }
}

/// `{head}` followed by the rows' values as bind parameters and `{tail}`: the same text for
/// every chunk of the same length, so the database keeps it prepared (a literal VALUES list took
/// 10 µs a row to parse).
struct UpsertRows<'a> {
    head: &'a str,
    /// Whether the table keeps procedures and channels apart (has those key columns).
    detailed: bool,
    tail: &'a str,
    rows: &'a [SumRow],
    /// The rows' months or years as text, in row order.
    periods: Vec<String>,
    /// The rows' values as the database's integers, row after row, `width` each.
    values: Vec<i64>,
    width: usize,
}

impl QueryId for UpsertRows<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> QueryFragment<DB> for UpsertRows<'_>
where
    i64: ToSql<BigInt, DB>,
    str: ToSql<Text, DB>,
    String: ToSql<Text, DB>,
    NaiveDate: ToSql<Date, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.head);
        let mut periods = self.periods.iter();
        let mut values = self.values.chunks(self.width);
        for (i, row) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            out.push_bind_param::<BigInt, _>(&row.agency)?;
            out.push_sql(", ");
            if self.detailed {
                out.push_bind_param::<BigInt, _>(&row.procedure)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(row.channel)?;
                out.push_sql(", ");
            }
            match &row.period {
                Period::Day(day) => out.push_bind_param::<Date, _>(day)?,
                Period::Month(_) | Period::Year(_) => {
                    let period = periods.next().ok_or_else(|| {
                        diesel::result::Error::QueryBuilderError("a period without its text".into())
                    })?;
                    out.push_bind_param::<Text, _>(period)?
                }
            }
            for value in values.next().unwrap_or_default() {
                out.push_sql(", ");
                out.push_bind_param::<BigInt, _>(value)?;
            }
            out.push_sql(")");
        }
        out.push_sql(self.tail);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for UpsertRows<'_> {}

/// Adds `rows` (in key order) to the counts of `grain`: on PostgreSQL in one statement from
/// arrays, on SQLite [`UPSERT_ROWS`] per statement.
pub(super) fn upsert(conn: &mut DbConn, grain: &Grain, rows: &[SumRow]) -> QueryResult<()> {
    match conn {
        DbConn::Pg(c) => upsert_arrays(c, grain, rows),
        DbConn::Sqlite(_) => upsert_values(conn, grain, rows),
    }
}

/// One `INSERT … SELECT FROM unnest(arrays) … ON CONFLICT` for all of `rows`, one array per
/// column (bound in binary, a statement of constant text whatever the number of rows), taken
/// in the arrays' order so that count rows are locked in key order, as every writer does.
fn upsert_arrays(conn: &mut PgConnection, grain: &Grain, rows: &[SumRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let columns = grain.columns();
    let Grain {
        table, time_column, ..
    } = grain;
    let keys = grain.keys();
    let arity = keys.split(", ").count() + 1 + columns.len();
    let placeholders: Vec<String> = (1..=arity).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({keys}, {time_column}, {columns}) \
         SELECT {keys}, {time_column}, {columns} \
         FROM unnest({placeholders}) WITH ORDINALITY AS v({keys}, {time_column}, {columns}, ord) \
         ORDER BY ord \
         ON CONFLICT ({keys}, {time_column}) DO UPDATE SET {updates}",
        columns = columns.join(", "),
        placeholders = placeholders.join(", "),
        updates = adding(table, &columns),
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.agency).collect::<Vec<_>>());
    if grain.detailed {
        query = query
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.procedure).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(rows.iter().map(|r| r.channel).collect::<Vec<_>>());
    }
    let mismatch =
        || diesel::result::Error::QueryBuilderError("a count row of another grain".into());
    query = if *time_column == "day" {
        let days = rows.iter().map(|r| match r.period {
            Period::Day(day) => Ok(day),
            Period::Month(_) | Period::Year(_) => Err(mismatch()),
        });
        query.bind::<Array<Date>, _>(days.collect::<QueryResult<Vec<_>>>()?)
    } else {
        let periods = rows.iter().map(|r| r.period.text().ok_or_else(mismatch));
        query.bind::<Array<Text>, _>(periods.collect::<QueryResult<Vec<_>>>()?)
    };
    for column in 0..columns.len() {
        query = query.bind::<Array<BigInt>, _>(
            rows.iter()
                .map(|r| i64::from(r.values[column]))
                .collect::<Vec<_>>(),
        );
    }
    query.execute(conn).map(drop)
}

/// Adds `rows` to the counts of `grain`, [`UPSERT_ROWS`] per statement.
fn upsert_values(conn: &mut DbConn, grain: &Grain, rows: &[SumRow]) -> QueryResult<()> {
    let columns = grain.columns();
    let Grain {
        table, time_column, ..
    } = grain;
    let keys = grain.keys();
    let head = format!(
        "INSERT INTO {table} ({keys}, {time_column}, {}) VALUES ",
        columns.join(", ")
    );
    let tail = format!(
        " ON CONFLICT ({keys}, {time_column}) DO UPDATE SET {}",
        adding(table, &columns)
    );
    for chunk in rows.chunks(UPSERT_ROWS) {
        let upsert = UpsertRows {
            head: &head,
            detailed: grain.detailed,
            tail: &tail,
            rows: chunk,
            periods: chunk.iter().filter_map(|row| row.period.text()).collect(),
            values: chunk
                .iter()
                .flat_map(|row| row.values[..columns.len()].iter().map(|v| i64::from(*v)))
                .collect(),
            width: columns.len(),
        };
        crate::on_backend!(conn, c => upsert.execute(c))?;
    }
    Ok(())
}

/// The 0/1 of a condition, as SQL's `CASE WHEN … THEN 1 ELSE 0 END` (NULL counts as false).
fn one(condition: bool) -> u32 {
    u32::from(condition)
}

/// Whether an answer is one of `values` (an unanswered item is none of them).
fn is(answer: Option<i32>, values: &[i32]) -> bool {
    answer.is_some_and(|a| values.contains(&a))
}

/// A 1–5 item's four measures: valid, top-2 box, sum, sum of squares.
fn scale(answer: Option<i32>) -> [u32; 4] {
    match answer {
        Some(a @ 1..=5) => [1, one(a >= 4), a.unsigned_abs(), (a * a).unsigned_abs()],
        _ => [0; 4],
    }
}

/// One response's measures, in [`MEASURES`] order: the SQL expressions there, in Rust (the
/// tests compare every import's counts with a recount by those expressions).
fn measures(r: &NewResponse) -> Values {
    let late = r.late == Some(true);
    let harassment = r.e6 == Some(2) || is(r.e7, &[2, 3]);
    let mut out = [0u32; MEASURES.len() + 1];
    out[0] = 1;
    for (i, item) in [r.tc0, r.tt0, r.cc0, r.kq0, r.pa0, r.hl0]
        .into_iter()
        .enumerate()
    {
        out[1 + 4 * i..5 + 4 * i].copy_from_slice(&scale(item));
    }
    let rest = [
        one(harassment),
        one(is(r.e6, &[1, 2]) || is(r.e7, &[1, 2, 3])),
        one(r.e7 == Some(2)),
        one(r.e7 == Some(3)),
        one(is(r.e1, &[3, 4]) || r.e2 == Some(3)),
        one(is(r.e1, &[1, 2, 3, 4]) || is(r.e2, &[1, 2, 3])),
        one(late),
        one(r.late.is_some()),
        one(late && r.e4 == Some(1)),
        one(late && is(r.e4, &[1, 2])),
        one(late && r.e5 == Some(1)),
        one(late && is(r.e5, &[1, 2])),
        one(late && r.e5 == Some(2)),
        one(is(r.hl0, &[1, 2]) || harassment || late),
        one(r.comment_flag),
    ];
    out[25..MEASURES.len()].copy_from_slice(&rest);
    // super::DOSSIER_RESPONSES.
    out[MEASURES.len()] = one(r.channel.is_dossier_channel());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;

    fn response(agency: i64, procedure: i64, channel: Channel, day: &str, hl0: i32) -> NewResponse {
        NewResponse {
            agency_id: agency,
            procedure_id: (procedure > 0).then_some(procedure),
            channel,
            submitted_on: day.parse().unwrap_or_default(),
            hl0: Some(hl0),
            ..Default::default()
        }
    }

    /// n_responses and hl0_sumsq of each count row, with its key.
    fn month_rows(rows: &[SumRow]) -> Vec<(i64, i64, &str, Period, u32, u32)> {
        rows.iter()
            .map(|r| {
                (
                    r.agency,
                    r.procedure,
                    r.channel,
                    r.period.clone(),
                    r.values[0],
                    r.values[24],
                )
            })
            .collect()
    }

    /// Agency, period, n_responses, hl0_sumsq and dossier responses of each count row per agency.
    fn per_agency(rows: &[SumRow]) -> Vec<(i64, Period, u32, u32, u32)> {
        rows.iter()
            .map(|r| {
                (
                    r.agency,
                    r.period.clone(),
                    r.values[0],
                    r.values[24],
                    r.values[MEASURES.len()],
                )
            })
            .collect()
    }

    /// Days come out in the order `sum_import` numbers them (agency, procedure, channel, day),
    /// then the months summed from them, then the agencies' months over procedures and channels
    /// (agency, month) and their years (agency, year); past its limit a tally gives up.
    #[test]
    fn sums_come_in_key_order_and_a_full_tally_gives_up() {
        let mut tally = Tally::with_limit(4);
        tally.add(&response(2, 0, Channel::Counter, "2026-02-01", 5));
        tally.add(&response(1, 7, Channel::WalkIn, "2026-01-31", 4));
        tally.add(&response(1, 0, Channel::Online, "2026-02-03", 1));
        tally.add(&response(1, 0, Channel::WalkIn, "2026-01-02", 2));
        tally.add(&response(1, 7, Channel::WalkIn, "2026-01-31", 5));
        let Some(sums) = tally.into_sums() else {
            panic!("within the limit");
        };
        assert_eq!(sums.total(), 4 + 4 + 3 + 2);
        let Some([days, months, agency_months, agency_years]) = &sums.memory else {
            panic!("in memory");
        };
        let keys: Vec<(i64, i64, &str, String, u32)> = days
            .iter()
            .map(|r| match r.period {
                Period::Day(d) => (r.agency, r.procedure, r.channel, d.to_string(), r.values[0]),
                Period::Month(_) | Period::Year(_) => (0, 0, "", String::new(), 0),
            })
            .collect();
        assert_eq!(
            keys,
            [
                (1, 0, "online", "2026-02-03".to_owned(), 1),
                (1, 0, "walk_in", "2026-01-02".to_owned(), 1),
                (1, 7, "walk_in", "2026-01-31".to_owned(), 2),
                (2, 0, "counter", "2026-02-01".to_owned(), 1),
            ]
        );
        assert_eq!(
            month_rows(months),
            [
                (1, 0, "online", Period::Month((2026, 2)), 1, 1),
                (1, 0, "walk_in", Period::Month((2026, 1)), 1, 4),
                (1, 7, "walk_in", Period::Month((2026, 1)), 2, 16 + 25),
                (2, 0, "counter", Period::Month((2026, 2)), 1, 25),
            ]
        );
        // Agency months: n_responses, hl0_sumsq and the dossier responses (online, counter).
        let agency_rows = per_agency(agency_months);
        assert_eq!(
            agency_rows,
            [
                (1, Period::Month((2026, 1)), 3, 4 + 16 + 25, 0),
                (1, Period::Month((2026, 2)), 1, 1, 1),
                (2, Period::Month((2026, 2)), 1, 25, 1),
            ]
        );
        // Agency years: agency 1's two months summed, agency 2's one.
        let year_rows = per_agency(agency_years);
        assert_eq!(
            year_rows,
            [
                (1, Period::Year(2026), 4, 4 + 16 + 25 + 1, 1),
                (2, Period::Year(2026), 1, 25, 1),
            ]
        );
        let mut full = Tally::with_limit(2);
        for day in ["2026-01-01", "2026-01-02", "2026-01-01", "2026-01-03"] {
            full.add(&response(1, 0, Channel::Paper, day, 3));
        }
        assert!(full.into_sums().is_none(), "a third key is past the limit");
    }

    /// An agency's months of two years sum into two year rows, in (agency, year) order.
    #[test]
    fn months_sum_into_their_years() {
        let mut tally = Tally::new();
        tally.add(&response(3, 0, Channel::Counter, "2026-01-01", 5));
        tally.add(&response(3, 9, Channel::Online, "2025-12-31", 4));
        tally.add(&response(3, 0, Channel::Paper, "2025-06-15", 1));
        tally.add(&response(1, 0, Channel::Counter, "2026-03-01", 2));
        let Some(ImportSums {
            memory: Some([_, _, _, years]),
            ..
        }) = tally.into_sums()
        else {
            panic!("summed in memory");
        };
        let rows = per_agency(&years);
        assert_eq!(
            rows,
            [
                (1, Period::Year(2026), 1, 4, 1),
                (3, Period::Year(2025), 2, 16 + 1, 1),
                (3, Period::Year(2026), 1, 25, 1),
            ]
        );
        assert_eq!(Period::Year(2025).text().as_deref(), Some("2025"));
        assert_eq!(Period::Month((2025, 3)).text().as_deref(), Some("2025-03"));
    }

    /// The Rust measures are laid out in the order of the SQL ones.
    #[test]
    fn measures_follow_the_sql_order() {
        let names: Vec<&str> = MEASURES.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            &names[..5],
            [
                "n_responses",
                "tc0_valid",
                "tc0_top2",
                "tc0_sum",
                "tc0_sumsq"
            ]
        );
        assert_eq!(
            names[21..25],
            ["hl0_valid", "hl0_top2", "hl0_sum", "hl0_sumsq"]
        );
        assert_eq!(
            names[25..],
            [
                "harassment_k",
                "harassment_n",
                "money_hinted",
                "money_asked",
                "repeat_k",
                "repeat_n",
                "late_k",
                "late_n",
                "notified_k",
                "notified_n",
                "apology_k",
                "apology_n",
                "late_no_apology",
                "unsatisfied_766",
                "comment_flags",
            ]
        );
        let answered = NewResponse {
            tc0: Some(4),
            hl0: Some(2),
            e7: Some(3),
            late: Some(true),
            e5: Some(2),
            ..Default::default()
        };
        let m = measures(&answered);
        assert_eq!(&m[..5], [1, 1, 1, 4, 16]);
        assert_eq!(&m[21..25], [1, 0, 2, 4]);
        assert_eq!(
            &m[25..MEASURES.len()],
            [1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0]
        );
        // Then whether it came through a dossier: not on paper, yes at the counter.
        assert_eq!(m[MEASURES.len()], 0);
        let counter = NewResponse {
            channel: Channel::Counter,
            ..answered
        };
        assert_eq!(measures(&counter)[MEASURES.len()], 1);
    }
}
