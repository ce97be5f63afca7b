//! Loading summed counts for a period, grouped by agency, procedure, field, level or month.
//!
//! Whole months come from `monthly_counts`, the partial months at either end of the period from
//! `daily_counts`; a province-year is then a few tens of thousands of rows, not a scan of every
//! response.

use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::map::UnitMap;
use super::{GroupBy, Query};
use crate::aggregates::MEASURES;
use crate::db::DbConn;

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

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The period as whole months (`'YYYY-MM'` bounds) and the leftover day ranges at its ends.
#[derive(Debug, PartialEq)]
struct Split {
    months: Option<(String, String)>,
    days: Vec<(NaiveDate, NaiveDate)>,
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month_start(d: NaiveDate) -> NaiveDate {
    let start = month_start(d);
    (start + Duration::days(32)).with_day(1).unwrap_or(start)
}

fn split(from: NaiveDate, to: NaiveDate) -> Split {
    let first = if from.day() == 1 {
        from
    } else {
        next_month_start(from)
    };
    // The month after the last whole month.
    let end = month_start(to + Duration::days(1));
    if first >= end {
        return Split {
            months: None,
            days: vec![(from, to)],
        };
    }
    let last = end - Duration::days(1);
    let mut days = Vec::new();
    if from < first {
        days.push((from, first - Duration::days(1)));
    }
    if end <= to {
        days.push((end, to));
    }
    let month = |d: NaiveDate| d.format("%Y-%m").to_string();
    Split {
        months: Some((month(first), month(last))),
        days,
    }
}

/// A subquery with one row per stored (keys…, month) over the period: whole months from the
/// monthly table, the ends from the daily one. Only dates we formatted are inlined.
pub(crate) fn source(
    daily: &str,
    monthly: &str,
    keys: &str,
    columns: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> String {
    let split = split(from, to);
    let mut parts = Vec::new();
    if !split.days.is_empty() {
        let ranges: Vec<String> = split
            .days
            .iter()
            .map(|(a, b)| format!("day BETWEEN '{}' AND '{}'", date(*a), date(*b)))
            .collect();
        parts.push(format!(
            "SELECT {keys}, SUBSTR(CAST(day AS TEXT), 1, 7) AS month, {columns} FROM {daily} WHERE {}",
            ranges.join(" OR ")
        ));
    }
    if let Some((a, b)) = split.months {
        parts.push(format!(
            "SELECT {keys}, month, {columns} FROM {monthly} WHERE month BETWEEN '{a}' AND '{b}'"
        ));
    }
    format!("({})", parts.join(" UNION ALL "))
}

fn measure_columns() -> String {
    MEASURES
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
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

/// Summed counts per group key over the query's period, in key order; agencies are summed into
/// their units of `map` (`a` is the unit).
pub fn grouped(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    map: &UnitMap,
) -> QueryResult<Vec<(String, Counts)>> {
    let key = key_expression(query.group_by);
    let sums: Vec<String> = MEASURES
        .iter()
        .map(|(c, _)| format!("CAST(SUM(dc.{c}) AS BIGINT) AS {c}"))
        .collect();
    let sql = format!(
        "{with}SELECT {text} AS key, {sums}, \
         CAST(SUM(CASE WHEN dc.channel IN ('counter', 'online', 'postal') THEN dc.n_responses ELSE 0 END) AS BIGINT) \
         AS dossier_responses \
         FROM {source} dc {join} \
         LEFT JOIN procedures pr ON pr.id = dc.procedure_id \
         WHERE {conditions} GROUP BY {group} ORDER BY {text}",
        text = key.text,
        group = key.group,
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        sums = sums.join(", "),
        source = source(
            "daily_counts",
            "monthly_counts",
            "agency_id, procedure_id, channel",
            &measure_columns(),
            query.from,
            query.to
        ),
        conditions = conditions(query, province_id),
    );
    let rows: Vec<Keyed> = diesel::sql_query(sql).load(conn)?;
    Ok(rows.into_iter().map(|r| (r.key, r.counts)).collect())
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
         WHERE {conditions} GROUP BY {group}",
        text = key.text,
        group = key.group,
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        source = source(
            "daily_dossiers",
            "monthly_dossiers",
            "agency_id",
            "dossiers, answered",
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
        "{with}SELECT a.id AS agency_id, \
         CAST(SUM(dc.harassment_k) AS BIGINT) AS harassment_k, CAST(SUM(dc.harassment_n) AS BIGINT) AS harassment_n, \
         CAST(SUM(dc.repeat_k) AS BIGINT) AS repeat_k, CAST(SUM(dc.repeat_n) AS BIGINT) AS repeat_n \
         FROM {source} dc {join} \
         WHERE {conditions} GROUP BY a.id, dc.month ORDER BY a.id, dc.month",
        with = map.with_clause().unwrap_or_default(),
        join = map.join(),
        source = source(
            "daily_counts",
            "monthly_counts",
            "agency_id",
            "harassment_k, harassment_n, repeat_k, repeat_n",
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

    #[test]
    fn periods_split_into_whole_months_and_ends() {
        let year = split(d("2026-01-01"), d("2026-12-31"));
        assert_eq!(
            year,
            Split {
                months: Some(("2026-01".into(), "2026-12".into())),
                days: vec![]
            }
        );
        let ragged = split(d("2025-11-25"), d("2026-11-24"));
        assert_eq!(ragged.months, Some(("2025-12".into(), "2026-10".into())));
        assert_eq!(
            ragged.days,
            vec![
                (d("2025-11-25"), d("2025-11-30")),
                (d("2026-11-01"), d("2026-11-24"))
            ]
        );
        let inside = split(d("2026-02-03"), d("2026-02-20"));
        assert_eq!(
            inside,
            Split {
                months: None,
                days: vec![(d("2026-02-03"), d("2026-02-20"))]
            }
        );
        let february = split(d("2026-02-01"), d("2026-02-28"));
        assert_eq!(february.months, Some(("2026-02".into(), "2026-02".into())));
        let to_end = split(d("2026-02-15"), d("2026-03-31"));
        assert_eq!(to_end.months, Some(("2026-03".into(), "2026-03".into())));
        assert_eq!(to_end.days, vec![(d("2026-02-15"), d("2026-02-28"))]);
    }
}
