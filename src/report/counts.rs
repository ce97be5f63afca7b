//! Loading summed counts for a period, grouped by agency, procedure, field, level or month.
//!
//! Whole years come from `agency_yearly_counts` where months are not grouped, whole months from
//! `agency_monthly_counts` (or `monthly_counts` where procedures are grouped), the partial
//! months at either end of the period from `daily_counts`; a province-year is then one row per
//! agency, not a scan of every response.

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::map::UnitMap;
use super::{GroupBy, Query};
use crate::aggregates::{DOSSIER_RESPONSES, MEASURES};
use crate::db::DbConn;
use crate::db::schema::imports;
use crate::responses::staging::ImportStatus;

/// Declares [`Counts`] with one `i64` per measure and the addition of two groups.
macro_rules! counts {
    ($($field:ident),* $(,)?) => {
        /// The counts of one group over the period (column names as in `daily_counts`).
        #[derive(Debug, Clone, Default, PartialEq, Eq, QueryableByName)]
        pub struct Counts {
            /// Responses that came through a reported dossier (counter, online, postal).
            #[diesel(sql_type = BigInt)]
            pub dossier_responses: i64,
            $(#[diesel(sql_type = BigInt)] pub $field: i64,)*
        }

        impl Counts {
            /// The columns, in the order [`Counts::from_values`] reads them.
            const COLUMNS: &[&str] = &["dossier_responses", $(stringify!($field)),*];

            /// The counts from their values in [`Counts::COLUMNS`] order (`None` if too few).
            fn from_values(values: &[i64]) -> Option<Counts> {
                let mut values = values.iter().copied();
                Some(Counts {
                    dossier_responses: values.next()?,
                    $($field: values.next()?,)*
                })
            }

            /// Adds another group's counts to these.
            pub fn add(&mut self, other: &Counts) {
                self.dossier_responses += other.dossier_responses;
                $(self.$field += other.$field;)*
            }
        }
    };
}

counts!(
    n_responses,
    tc0_valid,
    tc0_top2,
    tc0_sum,
    tc0_sumsq,
    tt0_valid,
    tt0_top2,
    tt0_sum,
    tt0_sumsq,
    cc0_valid,
    cc0_top2,
    cc0_sum,
    cc0_sumsq,
    kq0_valid,
    kq0_top2,
    kq0_sum,
    kq0_sumsq,
    pa0_valid,
    pa0_top2,
    pa0_sum,
    pa0_sumsq,
    hl0_valid,
    hl0_top2,
    hl0_sum,
    hl0_sumsq,
    harassment_k,
    harassment_n,
    money_hinted,
    money_asked,
    repeat_k,
    repeat_n,
    late_k,
    late_n,
    notified_k,
    notified_n,
    apology_k,
    apology_n,
    late_no_apology,
    unsatisfied_766,
    comment_flags,
);

#[derive(QueryableByName)]
struct Keyed {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(embed)]
    counts: Counts,
}

/// A group's counts as one array, in [`Counts::COLUMNS`] order: on PostgreSQL, where finding
/// each of 41 columns by name in each of 3,000 rows took longer than the query.
#[derive(QueryableByName)]
struct KeyedArray {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Array<BigInt>)]
    counts: Vec<i64>,
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The period as months read whole (`'YYYY-MM'` bounds), day ranges added to them and day
/// ranges taken off them. A partial month at either end is read as its days in the period or
/// as the whole month less its other days, whichever reads fewer days of the daily table (the
/// ninety days of an early warning that ends on a month's last day start two days into a
/// month: two days taken off instead of twenty-nine added).
#[derive(Debug, PartialEq)]
struct Split {
    months: Option<(String, String)>,
    days: Vec<(NaiveDate, NaiveDate)>,
    minus: Vec<(NaiveDate, NaiveDate)>,
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month_start(d: NaiveDate) -> NaiveDate {
    let start = month_start(d);
    (start + Duration::days(32)).with_day(1).unwrap_or(start)
}

fn month_end(d: NaiveDate) -> NaiveDate {
    next_month_start(d) - Duration::days(1)
}

/// Days in an inclusive range (0 if empty).
fn days_in((a, b): (NaiveDate, NaiveDate)) -> i64 {
    ((b - a).num_days() + 1).max(0)
}

/// `complement`: whether a partial month may be read whole less its other days (the caller
/// then drops groups that sum to nothing).
fn split(from: NaiveDate, to: NaiveDate, complement: bool) -> Split {
    let month = |d: NaiveDate| d.format("%Y-%m").to_string();
    let mut out = Split {
        months: None,
        days: Vec::new(),
        minus: Vec::new(),
    };
    if to < from {
        return out;
    }
    // The months the period touches, each read whole (less the days outside the period) or
    // as its days: only the first and the last can be partial.
    let (first, last) = (month_start(from), month_start(to));
    let mut whole = (first, last);
    let mut take = |covered: (NaiveDate, NaiveDate), outside: Vec<(NaiveDate, NaiveDate)>| {
        let outside: Vec<_> = outside.into_iter().filter(|r| days_in(*r) > 0).collect();
        let off: i64 = outside.iter().copied().map(days_in).sum();
        if off == 0 {
            return true;
        }
        if complement && off < days_in(covered) {
            out.minus.extend(outside);
            true
        } else {
            out.days.push(covered);
            false
        }
    };
    if first == last {
        let outside = vec![
            (first, from - Duration::days(1)),
            (to + Duration::days(1), month_end(to)),
        ];
        if !take((from, to), outside) {
            return out;
        }
    } else {
        if !take(
            (from, month_end(from)),
            vec![(first, from - Duration::days(1))],
        ) {
            whole.0 = next_month_start(from);
        }
        if !take((last, to), vec![(to + Duration::days(1), month_end(to))]) {
            whole.1 = month_start(last - Duration::days(1));
        }
    }
    if whole.0 <= whole.1 {
        out.months = Some((month(whole.0), month(whole.1)));
    }
    out
}

/// Whole months `first..=last`, numbered `year * 12 + month - 1`, as whole years read from a
/// yearly table, with months added to them and taken off them: the same choice as [`split`]
/// makes between a month's days and the month (a year less its months only with
/// `complement`).
#[derive(Debug, PartialEq)]
struct YearSplit {
    years: Option<(i32, i32)>,
    months: Vec<(i32, i32)>,
    minus: Vec<(i32, i32)>,
}

fn split_years(first: i32, last: i32, complement: bool) -> YearSplit {
    let mut out = YearSplit {
        years: None,
        months: Vec::new(),
        minus: Vec::new(),
    };
    if last < first {
        return out;
    }
    let count = |(a, b): (i32, i32)| (b - a + 1).max(0);
    let (y0, y1) = (first.div_euclid(12), last.div_euclid(12));
    let mut whole = (y0, y1);
    let mut take = |covered: (i32, i32), outside: Vec<(i32, i32)>| {
        let outside: Vec<_> = outside.into_iter().filter(|r| count(*r) > 0).collect();
        let off: i32 = outside.iter().copied().map(count).sum();
        if off == 0 {
            return true;
        }
        if complement && off < count(covered) {
            out.minus.extend(outside);
            true
        } else {
            out.months.push(covered);
            false
        }
    };
    if y0 == y1 {
        if !take(
            (first, last),
            vec![(y0 * 12, first - 1), (last + 1, y1 * 12 + 11)],
        ) {
            return out;
        }
    } else {
        if !take((first, y0 * 12 + 11), vec![(y0 * 12, first - 1)]) {
            whole.0 = y0 + 1;
        }
        if !take((y1 * 12, last), vec![(last + 1, y1 * 12 + 11)]) {
            whole.1 = y1 - 1;
        }
    }
    if whole.0 <= whole.1 {
        out.years = Some(whole);
    }
    out
}

/// `'YYYY-MM'` as `year * 12 + month - 1`, and back.
fn month_number(month: &str) -> Option<i32> {
    let (year, month) = month.split_once('-')?;
    let (year, month): (i32, i32) = (year.parse().ok()?, month.parse().ok()?);
    Some(year * 12 + month - 1)
}

fn month_text(number: i32) -> String {
    format!(
        "{:04}-{:02}",
        number.div_euclid(12),
        number.rem_euclid(12) + 1
    )
}

/// Where counts are read from: a daily and a monthly table with the same key columns (and a
/// yearly one, where the caller does not group by month), and the counted columns of each
/// (`expression AS name`, the same names in the same order).
pub(crate) struct Source<'a> {
    pub daily: &'a str,
    pub monthly: &'a str,
    /// A table of whole years with the monthly table's keys and columns: its rows are read
    /// with their year in the `month` column.
    pub yearly: Option<&'a str>,
    pub keys: &'a str,
    /// (expression over a daily row, expression over a monthly row, name).
    pub columns: &'a [(String, String, &'a str)],
    /// Whether a partial month may be read whole less its other days (see [`Split`]): the
    /// caller drops the groups that then sum to nothing.
    pub complement: bool,
}

impl Source<'_> {
    /// The columns as a list of plain names, the same over both tables.
    pub fn plain(names: &str) -> Vec<(String, String, &str)> {
        names
            .split(", ")
            .map(|c| (c.to_owned(), c.to_owned(), c))
            .collect()
    }
}

/// Whether a partial month may be read as its whole month less its other days: not while a
/// response import is adding its counts, table after table (its days can then be in before its
/// months, and a month less its days would go below zero for a moment).
fn complement_safe(conn: &mut DbConn) -> QueryResult<bool> {
    let publishing: i64 = imports::table
        .filter(imports::status.eq(ImportStatus::Publishing))
        .count()
        .get_result(conn)?;
    Ok(publishing == 0)
}

/// A subquery with one row per stored (keys…, month) over the period: months from the monthly
/// table, days added or taken off from the daily one. Only dates we formatted are inlined.
pub(crate) fn source(src: &Source, from: NaiveDate, to: NaiveDate) -> String {
    let Source {
        daily,
        monthly,
        yearly,
        keys,
        columns,
        ..
    } = src;
    let split = split(from, to, src.complement);
    let ranges = |days: &[(NaiveDate, NaiveDate)]| {
        days.iter()
            .map(|(a, b)| format!("day BETWEEN '{}' AND '{}'", date(*a), date(*b)))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let list = |f: &dyn Fn(&(String, String, &str)) -> String| {
        columns.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    let mut parts = Vec::new();
    if !split.days.is_empty() {
        parts.push(format!(
            "SELECT {keys}, SUBSTR(CAST(day AS TEXT), 1, 7) AS month, {} FROM {daily} WHERE {}",
            list(&|(e, _, n)| format!("{e} AS {n}")),
            ranges(&split.days)
        ));
    }
    if !split.minus.is_empty() {
        parts.push(format!(
            "SELECT {keys}, SUBSTR(CAST(day AS TEXT), 1, 7) AS month, {} FROM {daily} WHERE {}",
            list(&|(e, _, n)| format!("-({e}) AS {n}")),
            ranges(&split.minus)
        ));
    }
    let months = |ranges: &[(String, String)], negate: bool| {
        let conditions: Vec<String> = ranges
            .iter()
            .map(|(a, b)| format!("month BETWEEN '{a}' AND '{b}'"))
            .collect();
        format!(
            "SELECT {keys}, month, {} FROM {monthly} WHERE {}",
            list(&|(_, e, n)| if negate {
                format!("-({e}) AS {n}")
            } else {
                format!("{e} AS {n}")
            }),
            conditions.join(" OR ")
        )
    };
    let whole_months = split
        .months
        .as_ref()
        .and_then(|(a, b)| Some((month_number(a)?, month_number(b)?)));
    match (yearly, whole_months) {
        (Some(yearly), Some((first, last))) => {
            let years = split_years(first, last, src.complement);
            let texts = |ranges: &[(i32, i32)]| -> Vec<(String, String)> {
                ranges
                    .iter()
                    .map(|(a, b)| (month_text(*a), month_text(*b)))
                    .collect()
            };
            if !years.months.is_empty() {
                parts.push(months(&texts(&years.months), false));
            }
            if !years.minus.is_empty() {
                parts.push(months(&texts(&years.minus), true));
            }
            if let Some((a, b)) = years.years {
                parts.push(format!(
                    "SELECT {keys}, year AS month, {} FROM {yearly} \
                     WHERE year BETWEEN '{a:04}' AND '{b:04}'",
                    list(&|(_, e, n)| format!("{e} AS {n}")),
                ));
            }
        }
        _ => {
            if let Some(range) = split.months {
                parts.push(months(&[range], false));
            }
        }
    }
    format!("({})", parts.join(" UNION ALL "))
}

/// What a grouping keys on: the expression grouped by, and the key as text. Ids are grouped as
/// integers (PostgreSQL then aggregates in a hash table instead of sorting wide rows by a text
/// key, which spilled to disk at 3,000 agencies) and turned into text once per group.
struct Key {
    group: &'static str,
    text: &'static str,
}

fn key_expression(group_by: GroupBy) -> Key {
    let (group, text) = match group_by {
        GroupBy::Agency => ("a.id", "CAST(a.id AS TEXT)"),
        GroupBy::Procedure => ("dc.procedure_id", "CAST(dc.procedure_id AS TEXT)"),
        GroupBy::Field => ("COALESCE(pr.field, '')", "COALESCE(pr.field, '')"),
        GroupBy::Level => ("a.level", "a.level"),
        GroupBy::Month => ("dc.month", "dc.month"),
        GroupBy::Channel => ("dc.channel", "dc.channel"),
        GroupBy::Province => ("a.province_id", "CAST(a.province_id AS TEXT)"),
    };
    Key { group, text }
}

/// Province, level and agency filters. Only typed values are inlined: integer ids and a level
/// from a closed set.
pub(crate) fn conditions(query: &Query, province_id: Option<i64>) -> String {
    let mut sql = String::from("1 = 1");
    if let Some(p) = province_id {
        sql.push_str(&format!(" AND a.province_id = {p}"));
    }
    if let Some(level) = query.level {
        sql.push_str(&format!(" AND a.level = '{}'", level.as_str()));
    }
    if let Some(ids) = &query.agencies {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        // An empty selection selects nothing.
        sql.push_str(&format!(
            " AND a.id IN ({})",
            if list.is_empty() {
                "NULL".to_owned()
            } else {
                list.join(",")
            }
        ));
    }
    sql
}

/// `SUM(dc.{column})` as a `BIGINT`. PostgreSQL sums a `BIGINT` column into a `NUMERIC` (a state
/// allocated per group and column, converted back at the end), which was a fifth of a
/// province-year's count query; there the counts are summed as `DOUBLE PRECISION` instead,
/// exact for every integer below 2⁵³ (a national year's largest sum, of squared scores, stays
/// below 10¹¹). SQLite sums integers as integers.
fn sum(conn: &DbConn, column: &str) -> String {
    match conn {
        DbConn::Pg(_) => format!("CAST(SUM(CAST(dc.{column} AS DOUBLE PRECISION)) AS BIGINT)"),
        DbConn::Sqlite(_) => format!("CAST(SUM(dc.{column}) AS BIGINT)"),
    }
}

/// Summed counts per group key over the query's period, in key order; agencies are summed into
/// their units of `map` (`a` is the unit).
pub fn grouped(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    map: &UnitMap,
) -> QueryResult<Vec<(String, Counts)>> {
    let key = key_expression(query.group_by);
    let sums: Vec<String> = Counts::COLUMNS.iter().map(|c| sum(conn, c)).collect();
    let sums = match conn {
        DbConn::Pg(_) => format!("ARRAY[{}] AS counts", sums.join(", ")),
        DbConn::Sqlite(_) => {
            let named: Vec<String> = sums
                .iter()
                .zip(Counts::COLUMNS)
                .map(|(sum, c)| format!("{sum} AS {c}"))
                .collect();
            named.join(", ")
        }
    };
    // Months per procedure and channel only where those are grouped: otherwise one row per
    // agency and month, however many procedures it handles.
    let detailed = matches!(
        query.group_by,
        GroupBy::Procedure | GroupBy::Field | GroupBy::Channel
    );
    let (monthly, keys) = if detailed {
        ("monthly_counts", "agency_id, procedure_id, channel")
    } else {
        ("agency_monthly_counts", "agency_id")
    };
    let yearly = (!detailed && query.group_by != GroupBy::Month).then_some("agency_yearly_counts");
    let procedures = if query.group_by == GroupBy::Field {
        "LEFT JOIN procedures pr ON pr.id = dc.procedure_id"
    } else {
        ""
    };
    let [dossier, _, dossier_by_channel] = DOSSIER_RESPONSES;
    let mut columns: Vec<(String, String, &str)> = MEASURES
        .iter()
        .map(|(c, _)| (c.to_string(), c.to_string(), *c))
        .collect();
    columns.push((
        dossier_by_channel.to_owned(),
        if detailed {
            dossier_by_channel
        } else {
            dossier
        }
        .to_owned(),
        dossier,
    ));
    let sql = format!(
        "{with}SELECT {text} AS key, {sums} \
         FROM {source} dc {join} {procedures} \
         WHERE {conditions} GROUP BY {group} HAVING {responses} <> 0 ORDER BY {text}",
        responses = sum(conn, "n_responses"),
        text = key.text,
        group = key.group,
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        source = source(
            &Source {
                daily: "daily_counts",
                monthly,
                yearly,
                keys,
                columns: &columns,
                complement: complement_safe(conn)?,
            },
            query.from,
            query.to
        ),
        conditions = conditions(query, province_id),
    );
    let DbConn::Pg(c) = conn else {
        let rows: Vec<Keyed> = diesel::sql_query(sql).load(conn)?;
        return Ok(rows.into_iter().map(|r| (r.key, r.counts)).collect());
    };
    let rows: Vec<KeyedArray> = diesel::sql_query(sql).load(c)?;
    rows.into_iter()
        .map(|r| {
            let counts = Counts::from_values(&r.counts).ok_or_else(|| {
                diesel::result::Error::DeserializationError(
                    format!("{} counts for {}", r.counts.len(), r.key).into(),
                )
            })?;
            Ok((r.key, counts))
        })
        .collect()
}

/// The dossiers returned in a period (one survey invitation each) and how many of those
/// invitations have been answered so far: the response rate's one population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dossiers {
    pub issued: i64,
    pub answered: i64,
}

impl std::ops::Add for Dossiers {
    type Output = Dossiers;
    fn add(self, other: Dossiers) -> Dossiers {
        Dossiers {
            issued: self.issued + other.issued,
            answered: self.answered + other.answered,
        }
    }
}

impl std::iter::Sum for Dossiers {
    fn sum<I: Iterator<Item = Dossiers>>(iter: I) -> Dossiers {
        iter.fold(Dossiers::default(), |a, b| a + b)
    }
}

#[derive(QueryableByName)]
struct DossierRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    dossiers: i64,
    #[diesel(sql_type = BigInt)]
    answered: i64,
}

/// Dossiers reported in the period (and their invitations answered) per group key; procedures,
/// fields and channels have no dossier count (the daily dossier counts are per agency).
pub fn dossiers(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    map: &UnitMap,
) -> QueryResult<Vec<(String, Dossiers)>> {
    let key = match query.group_by {
        g @ (GroupBy::Agency | GroupBy::Level | GroupBy::Month | GroupBy::Province) => {
            key_expression(g)
        }
        GroupBy::Procedure | GroupBy::Field | GroupBy::Channel => return Ok(Vec::new()),
    };
    let sql = format!(
        "{with}SELECT {text} AS key, CAST(SUM(dc.dossiers) AS BIGINT) AS dossiers, \
         CAST(SUM(dc.answered) AS BIGINT) AS answered \
         FROM {source} dc {join} \
         WHERE {conditions} GROUP BY {group} \
         HAVING SUM(dc.dossiers) <> 0 OR SUM(dc.answered) <> 0",
        text = key.text,
        group = key.group,
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        source = source(
            &Source {
                daily: "daily_dossiers",
                monthly: "monthly_dossiers",
                yearly: None,
                keys: "agency_id",
                columns: &Source::plain("dossiers, answered"),
                complement: true,
            },
            query.from,
            query.to
        ),
        conditions = conditions(query, province_id),
    );
    let rows: Vec<DossierRow> = diesel::sql_query(sql).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let d = Dossiers {
                issued: r.dossiers,
                answered: r.answered,
            };
            (r.key, d)
        })
        .collect())
}

/// One agency-month of harassment and repeat-visit counts, for the early-warning CUSUM.
#[derive(Debug, Clone, QueryableByName)]
pub struct RecentEvents {
    #[diesel(sql_type = BigInt)]
    pub agency_id: i64,
    #[diesel(sql_type = BigInt)]
    pub harassment_k: i64,
    #[diesel(sql_type = BigInt)]
    pub harassment_n: i64,
    #[diesel(sql_type = BigInt)]
    pub repeat_k: i64,
    #[diesel(sql_type = BigInt)]
    pub repeat_n: i64,
}

/// Per unit of `map` and month (in time order) from `from` to the end of the period: a merged
/// agency's window continues from its predecessors' months.
pub fn recent_events(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    from: NaiveDate,
    map: &UnitMap,
) -> QueryResult<Vec<RecentEvents>> {
    let sql = format!(
        "{with}SELECT a.id AS agency_id, {} AS harassment_k, {} AS harassment_n, \
         {} AS repeat_k, {} AS repeat_n FROM {source} dc {join} \
         WHERE {conditions} GROUP BY a.id, dc.month HAVING {} <> 0 \
         ORDER BY a.id, dc.month",
        sum(conn, "harassment_k"),
        sum(conn, "harassment_n"),
        sum(conn, "repeat_k"),
        sum(conn, "repeat_n"),
        sum(conn, "n_responses"),
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        source = source(
            &Source {
                daily: "daily_counts",
                monthly: "agency_monthly_counts",
                yearly: None,
                keys: "agency_id",
                columns: &Source::plain(
                    "n_responses, harassment_k, harassment_n, repeat_k, repeat_n"
                ),
                complement: complement_safe(conn)?,
            },
            from.max(query.from),
            query.to
        ),
        conditions = conditions(query, province_id),
    );
    diesel::sql_query(sql).load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn months(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.into(), b.into()))
    }

    #[test]
    fn periods_split_into_whole_months_and_ends() {
        for complement in [false, true] {
            let year = split(d("2026-01-01"), d("2026-12-31"), complement);
            assert_eq!(
                year,
                Split {
                    months: months("2026-01", "2026-12"),
                    days: vec![],
                    minus: vec![],
                }
            );
            let february = split(d("2026-02-01"), d("2026-02-28"), complement);
            assert_eq!(february.months, months("2026-02", "2026-02"));
            assert!(february.days.is_empty() && february.minus.is_empty());
        }
        let ragged = split(d("2025-11-25"), d("2026-11-24"), false);
        assert_eq!(ragged.months, months("2025-12", "2026-10"));
        assert_eq!(
            ragged.days,
            vec![
                (d("2025-11-25"), d("2025-11-30")),
                (d("2026-11-01"), d("2026-11-24"))
            ]
        );
        let inside = split(d("2026-02-03"), d("2026-02-20"), false);
        assert_eq!(
            inside,
            Split {
                months: None,
                days: vec![(d("2026-02-03"), d("2026-02-20"))],
                minus: vec![],
            }
        );
        let to_end = split(d("2026-02-15"), d("2026-03-31"), false);
        assert_eq!(to_end.months, months("2026-03", "2026-03"));
        assert_eq!(to_end.days, vec![(d("2026-02-15"), d("2026-02-28"))]);
    }

    /// The counts read as an array are the measures and the dossier responses, each once, and
    /// each value lands in its own field.
    #[test]
    fn counts_read_by_position_are_the_named_columns() {
        let mut names: Vec<&str> = MEASURES.iter().map(|(c, _)| *c).collect();
        names.push(DOSSIER_RESPONSES[0]);
        let mut columns = Counts::COLUMNS.to_vec();
        names.sort_unstable();
        columns.sort_unstable();
        assert_eq!(columns, names);
        let values: Vec<i64> = (0..Counts::COLUMNS.len() as i64).collect();
        let position = |name: &str| Counts::COLUMNS.iter().position(|c| *c == name);
        let counts = Counts::from_values(&values);
        assert_eq!(
            counts
                .as_ref()
                .map(|c| (c.dossier_responses, c.n_responses, c.hl0_sumsq)),
            Some((0, 1, position("hl0_sumsq").unwrap_or(0) as i64))
        );
        assert_eq!(
            counts.map(|c| c.comment_flags),
            position("comment_flags").map(|p| p as i64)
        );
        assert!(
            Counts::from_values(&values[1..]).is_none(),
            "one value short"
        );
    }

    fn m(month: &str) -> i32 {
        month_number(month).unwrap_or(i32::MIN)
    }

    /// Whole months become whole years where a year is covered, or (with `complement`) where
    /// fewer of its months are outside the period than inside.
    #[test]
    fn whole_months_split_into_years() {
        assert_eq!(
            (month_text(m("2026-01")), month_text(m("2025-12"))),
            ("2026-01".to_owned(), "2025-12".to_owned())
        );
        assert_eq!(month_number("2026"), None);
        for complement in [false, true] {
            let year = split_years(m("2026-01"), m("2026-12"), complement);
            assert_eq!(
                year,
                YearSplit {
                    years: Some((2026, 2026)),
                    months: vec![],
                    minus: vec![],
                }
            );
            // Two years and the end of the one before.
            let span = split_years(m("2024-11"), m("2026-12"), complement);
            assert_eq!(span.years, Some((2025, 2026)));
            assert_eq!(span.months, vec![(m("2024-11"), m("2024-12"))]);
            assert!(span.minus.is_empty());
            // Twelve months across two years: no whole year, the months as they are.
            let across = split_years(m("2025-07"), m("2026-06"), complement);
            assert_eq!(across.years, None);
            assert_eq!(
                across.months,
                vec![(m("2025-07"), m("2025-12")), (m("2026-01"), m("2026-06"))]
            );
            assert!(
                split_years(m("2026-03"), m("2026-02"), complement)
                    == YearSplit {
                        years: None,
                        months: vec![],
                        minus: vec![],
                    }
            );
        }
        // January to November: the months, or the year less December.
        let to_november = split_years(m("2026-01"), m("2026-11"), false);
        assert_eq!(to_november.years, None);
        assert_eq!(to_november.months, vec![(m("2026-01"), m("2026-11"))]);
        let to_november = split_years(m("2026-01"), m("2026-11"), true);
        assert_eq!(to_november.years, Some((2026, 2026)));
        assert_eq!(to_november.minus, vec![(m("2026-12"), m("2026-12"))]);
        assert!(to_november.months.is_empty());
        // March to August inside one year: six of twelve months, a tie, read as months.
        let summer = split_years(m("2026-03"), m("2026-08"), true);
        assert_eq!(summer.years, None);
        assert_eq!(summer.months, vec![(m("2026-03"), m("2026-08"))]);
        // February 2025 to November 2026: 2025 less January, 2026 less December.
        let ragged = split_years(m("2025-02"), m("2026-11"), true);
        assert_eq!(ragged.years, Some((2025, 2026)));
        assert_eq!(
            ragged.minus,
            vec![(m("2025-01"), m("2025-01")), (m("2026-12"), m("2026-12"))]
        );
    }

    /// With `complement`, a partial month is read whole less its other days when those are
    /// fewer than its days in the period; ties and short ends are read as days.
    #[test]
    fn partial_months_are_read_by_the_fewer_days() {
        // The early warning of a year: 3 October to 31 December.
        let warning = split(d("2026-10-03"), d("2026-12-31"), true);
        assert_eq!(
            warning,
            Split {
                months: months("2026-10", "2026-12"),
                days: vec![],
                minus: vec![(d("2026-10-01"), d("2026-10-02"))],
            }
        );
        // Six days at the start (read as days), twenty-four at the end (the month less six).
        let ragged = split(d("2025-11-25"), d("2026-11-24"), true);
        assert_eq!(ragged.months, months("2025-12", "2026-11"));
        assert_eq!(ragged.days, vec![(d("2025-11-25"), d("2025-11-30"))]);
        assert_eq!(ragged.minus, vec![(d("2026-11-25"), d("2026-11-30"))]);
        // Inside one month: 18 of February's 28 days, less the 2 before and 8 after.
        let inside = split(d("2026-02-03"), d("2026-02-20"), true);
        assert_eq!(inside.months, months("2026-02", "2026-02"));
        assert!(inside.days.is_empty());
        assert_eq!(
            inside.minus,
            vec![
                (d("2026-02-01"), d("2026-02-02")),
                (d("2026-02-21"), d("2026-02-28"))
            ]
        );
        // A short stretch inside a month stays days; a tie too (15 of 30 days).
        let short = split(d("2026-04-10"), d("2026-04-12"), true);
        assert_eq!((short.months, short.days.len()), (None, 1));
        let tie = split(d("2026-04-16"), d("2026-05-31"), true);
        assert_eq!(tie.days, vec![(d("2026-04-16"), d("2026-04-30"))]);
        assert_eq!(tie.months, months("2026-05", "2026-05"));
        assert!(tie.minus.is_empty());
        // One day at the end of a month: read as that day.
        let last = split(d("2026-01-31"), d("2026-02-28"), true);
        assert_eq!(last.days, vec![(d("2026-01-31"), d("2026-01-31"))]);
        assert_eq!(last.months, months("2026-02", "2026-02"));
        // An empty period reads nothing.
        for complement in [false, true] {
            let empty = split(d("2026-04-10"), d("2026-03-05"), complement);
            assert_eq!(
                (empty.months, empty.days, empty.minus),
                (None, vec![], vec![])
            );
        }
    }
}
