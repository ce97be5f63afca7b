//! Per-day and per-month counts per (agency, procedure, channel), and per month and per year
//! per agency: written in the same transaction as every response insert, so reports sum a few rows
//! instead of scanning responses.
//!
//! The indicator definitions live once, as SQL expressions over `responses` ([`MEASURES`]): the
//! same statement updates the counts for newly inserted rows and recounts everything from
//! scratch (`sipas aggregates recount`, and the check that the counts equal a recount). The SQL
//! is portable between SQLite and PostgreSQL (`INSERT … SELECT … ON CONFLICT DO UPDATE`).

use std::sync::LazyLock;

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::BigInt;

use crate::db::DbConn;

mod tally;
pub use tally::Tally;

/// Each counted measure: the `daily_counts` column and its SQL expression over one response.
///
/// Answers are option positions (0 = "not applicable"): satisfaction items 1–5, top-2 box = 4–5.
/// Harassment: E6 = 2 (Có) or E7 ∈ {2, 3} (gợi ý / yêu cầu), among responses with a substantive
/// answer to E6 or E7. Repeat visits: E1 ∈ {3, 4} (3 or more trips) or E2 = 3 (two or more
/// supplement requests), among responses answering E1 or E2. Notified/apology among late
/// dossiers answering E4/E5. Decision 766 "unsatisfied": HL0 ∈ {1, 2}, a harassment complaint,
/// or late.
pub const MEASURES: [(&str, &str); 40] = [
    ("n_responses", "1"),
    (
        "tc0_valid",
        "CASE WHEN tc0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "tc0_top2",
        "CASE WHEN tc0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "tc0_sum",
        "CASE WHEN tc0 BETWEEN 1 AND 5 THEN tc0 ELSE 0 END",
    ),
    (
        "tc0_sumsq",
        "CASE WHEN tc0 BETWEEN 1 AND 5 THEN tc0 * tc0 ELSE 0 END",
    ),
    (
        "tt0_valid",
        "CASE WHEN tt0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "tt0_top2",
        "CASE WHEN tt0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "tt0_sum",
        "CASE WHEN tt0 BETWEEN 1 AND 5 THEN tt0 ELSE 0 END",
    ),
    (
        "tt0_sumsq",
        "CASE WHEN tt0 BETWEEN 1 AND 5 THEN tt0 * tt0 ELSE 0 END",
    ),
    (
        "cc0_valid",
        "CASE WHEN cc0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "cc0_top2",
        "CASE WHEN cc0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "cc0_sum",
        "CASE WHEN cc0 BETWEEN 1 AND 5 THEN cc0 ELSE 0 END",
    ),
    (
        "cc0_sumsq",
        "CASE WHEN cc0 BETWEEN 1 AND 5 THEN cc0 * cc0 ELSE 0 END",
    ),
    (
        "kq0_valid",
        "CASE WHEN kq0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "kq0_top2",
        "CASE WHEN kq0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "kq0_sum",
        "CASE WHEN kq0 BETWEEN 1 AND 5 THEN kq0 ELSE 0 END",
    ),
    (
        "kq0_sumsq",
        "CASE WHEN kq0 BETWEEN 1 AND 5 THEN kq0 * kq0 ELSE 0 END",
    ),
    (
        "pa0_valid",
        "CASE WHEN pa0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "pa0_top2",
        "CASE WHEN pa0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "pa0_sum",
        "CASE WHEN pa0 BETWEEN 1 AND 5 THEN pa0 ELSE 0 END",
    ),
    (
        "pa0_sumsq",
        "CASE WHEN pa0 BETWEEN 1 AND 5 THEN pa0 * pa0 ELSE 0 END",
    ),
    (
        "hl0_valid",
        "CASE WHEN hl0 BETWEEN 1 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "hl0_top2",
        "CASE WHEN hl0 BETWEEN 4 AND 5 THEN 1 ELSE 0 END",
    ),
    (
        "hl0_sum",
        "CASE WHEN hl0 BETWEEN 1 AND 5 THEN hl0 ELSE 0 END",
    ),
    (
        "hl0_sumsq",
        "CASE WHEN hl0 BETWEEN 1 AND 5 THEN hl0 * hl0 ELSE 0 END",
    ),
    (
        "harassment_k",
        "CASE WHEN e6 = 2 OR e7 IN (2, 3) THEN 1 ELSE 0 END",
    ),
    (
        "harassment_n",
        "CASE WHEN e6 IN (1, 2) OR e7 IN (1, 2, 3) THEN 1 ELSE 0 END",
    ),
    ("money_hinted", "CASE WHEN e7 = 2 THEN 1 ELSE 0 END"),
    ("money_asked", "CASE WHEN e7 = 3 THEN 1 ELSE 0 END"),
    (
        "repeat_k",
        "CASE WHEN e1 IN (3, 4) OR e2 = 3 THEN 1 ELSE 0 END",
    ),
    (
        "repeat_n",
        "CASE WHEN e1 BETWEEN 1 AND 4 OR e2 BETWEEN 1 AND 3 THEN 1 ELSE 0 END",
    ),
    ("late_k", "CASE WHEN late THEN 1 ELSE 0 END"),
    ("late_n", "CASE WHEN late IS NOT NULL THEN 1 ELSE 0 END"),
    ("notified_k", "CASE WHEN late AND e4 = 1 THEN 1 ELSE 0 END"),
    (
        "notified_n",
        "CASE WHEN late AND e4 IN (1, 2) THEN 1 ELSE 0 END",
    ),
    ("apology_k", "CASE WHEN late AND e5 = 1 THEN 1 ELSE 0 END"),
    (
        "apology_n",
        "CASE WHEN late AND e5 IN (1, 2) THEN 1 ELSE 0 END",
    ),
    (
        "late_no_apology",
        "CASE WHEN late AND e5 = 2 THEN 1 ELSE 0 END",
    ),
    (
        "unsatisfied_766",
        "CASE WHEN hl0 IN (1, 2) OR e6 = 2 OR e7 IN (2, 3) OR late THEN 1 ELSE 0 END",
    ),
    ("comment_flags", "CASE WHEN comment_flag THEN 1 ELSE 0 END"),
];

/// One table of counts: its name, its time column and that column's expression over
/// `responses`, and whether it keeps procedures and channels apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grain {
    pub table: &'static str,
    pub time_column: &'static str,
    time_key: &'static str,
    /// This grain's time key over the next finer grain's (an import sums the finer grain's
    /// rows up instead of its responses again).
    rollup_key: &'static str,
    /// Keyed by (agency, procedure, channel); otherwise by agency alone, with the responses that
    /// came through a dossier counted in [`DOSSIER_RESPONSES`].
    pub detailed: bool,
}

/// The count of a grain that sums channels up: responses that came through a reported dossier
/// (counter, online or postal). Its column, its expression over `responses`, and over the rows
/// of a grain that keeps channels apart.
pub const DOSSIER_RESPONSES: [&str; 3] = [
    "dossier_responses",
    "CASE WHEN channel IN ('counter', 'online', 'postal') THEN 1 ELSE 0 END",
    "CASE WHEN channel IN ('counter', 'online', 'postal') THEN n_responses ELSE 0 END",
];

impl Grain {
    /// The key columns before the time column.
    pub fn keys(&self) -> &'static str {
        if self.detailed {
            "agency_id, procedure_id, channel"
        } else {
            "agency_id"
        }
    }

    /// The key columns over `responses` (`procedure_id` 0 stands for "no procedure given").
    fn key_expressions(&self) -> &'static str {
        if self.detailed {
            "agency_id, COALESCE(procedure_id, 0), channel"
        } else {
            "agency_id"
        }
    }

    /// The counted columns: every measure, and the dossier responses where channels are
    /// summed up.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut columns: Vec<&str> = MEASURES.iter().map(|(c, _)| *c).collect();
        if !self.detailed {
            columns.push(DOSSIER_RESPONSES[0]);
        }
        columns
    }

    /// `SUM(…)` of each column over `responses`.
    fn sums_over_responses(&self) -> Vec<String> {
        let mut sums: Vec<String> = MEASURES.iter().map(|(_, e)| format!("SUM({e})")).collect();
        if !self.detailed {
            sums.push(format!("SUM({})", DOSSIER_RESPONSES[1]));
        }
        sums
    }

    /// `SUM(…)` of each column over the rows of the grain `finer`.
    fn sums_over(&self, finer: &Grain) -> Vec<String> {
        let mut sums: Vec<String> = MEASURES.iter().map(|(c, _)| format!("SUM({c})")).collect();
        if !self.detailed {
            sums.push(format!(
                "SUM({})",
                if finer.detailed {
                    DOSSIER_RESPONSES[2]
                } else {
                    DOSSIER_RESPONSES[0]
                }
            ));
        }
        sums
    }
}

/// The four tables counts are kept in: per (agency, procedure, channel) and day or month, and
/// per agency and month or year for the reports that do not look at procedures or channels (a
/// row per agency and month, however many procedures it handles; a province-year is then one
/// row per agency). Each is summed from the one before it by an import, and numbered in this
/// order.
pub(crate) const GRAINS: [Grain; 4] = [
    Grain {
        table: "daily_counts",
        time_column: "day",
        time_key: "submitted_on",
        rollup_key: "",
        detailed: true,
    },
    Grain {
        table: "monthly_counts",
        time_column: "month",
        time_key: "SUBSTR(CAST(submitted_on AS TEXT), 1, 7)",
        rollup_key: "SUBSTR(CAST(k AS TEXT), 1, 7)",
        detailed: true,
    },
    Grain {
        table: "agency_monthly_counts",
        time_column: "month",
        time_key: "SUBSTR(CAST(submitted_on AS TEXT), 1, 7)",
        rollup_key: "k",
        detailed: false,
    },
    Grain {
        table: "agency_yearly_counts",
        time_column: "year",
        time_key: "SUBSTR(CAST(submitted_on AS TEXT), 1, 4)",
        rollup_key: "SUBSTR(k, 1, 4)",
        detailed: false,
    },
];

/// `INSERT INTO {table} … SELECT … FROM responses WHERE {filter} … ON CONFLICT` adding to the
/// existing counts.
fn upsert_sql(grain: &Grain, filter: &str) -> String {
    let Grain {
        table,
        time_column,
        time_key,
        ..
    } = grain;
    let (keys, key_expressions) = (grain.keys(), grain.key_expressions());
    let columns = grain.columns();
    format!(
        "INSERT INTO {table} ({keys}, {time_column}, {}) \
         SELECT {key_expressions}, {time_key}, {} \
         FROM responses WHERE {filter} \
         GROUP BY {key_expressions}, {time_key} \
         ORDER BY {key_expressions}, {time_key} \
         ON CONFLICT ({keys}, {time_column}) DO UPDATE SET {}",
        columns.join(", "),
        grain.sums_over_responses().join(", "),
        adding(table, &columns),
    )
}

/// `c = {table}.c + excluded.c` for each column: an upsert's update that adds.
pub(crate) fn adding(table: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the id filter goes in an upsert statement.
const FILTER: &str = "/*ids*/";

/// Each grain's upsert split around its id filter, built once: the statement text is then the
/// same on every insert and the database keeps it prepared (preparing this statement was 60% of
/// a single submission's cost).
static UPSERTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    GRAINS
        .iter()
        .map(|grain| {
            let sql = upsert_sql(grain, FILTER);
            let (before, after) = sql.split_once(FILTER).unwrap_or((&sql, ""));
            (before.to_owned(), after.to_owned())
        })
        .collect()
});

/// The upsert of one grain for the responses with ids `first..=last`, as a diesel query whose
/// ids are bind parameters (so its prepared statement is cached, on either backend).
#[derive(Debug, Clone, Copy)]
struct RecordRange {
    grain: usize,
    first: i64,
    last: i64,
}

impl QueryId for RecordRange {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> QueryFragment<DB> for RecordRange
where
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let (before, after) = UPSERTS
            .get(self.grain)
            .ok_or_else(|| diesel::result::Error::QueryBuilderError("unknown grain".into()))?;
        out.push_sql(before);
        out.push_sql("id BETWEEN ");
        out.push_bind_param::<BigInt, _>(&self.first)?;
        out.push_sql(" AND ");
        out.push_bind_param::<BigInt, _>(&self.last)?;
        out.push_sql(after);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for RecordRange {}

/// Adds the responses with these ids to the counts (call in the inserting transaction).
pub fn record(conn: &mut DbConn, ids: &[i64]) -> QueryResult<()> {
    // A run of consecutive ids (always, on SQLite) is one range; others go in lists of 1,000.
    let mut rest = ids;
    while let Some(first) = rest.first() {
        let run = rest.windows(2).take_while(|w| w[1] == w[0] + 1).count() + 1;
        if run > 1 || rest.len() == 1 {
            for grain in 0..GRAINS.len() {
                RecordRange {
                    grain,
                    first: *first,
                    last: rest[run - 1],
                }
                .execute(conn)?;
            }
            rest = &rest[run..];
        } else {
            // Ids we just received from the database: integers, safe to inline.
            let take = rest.len().min(1000);
            let list: Vec<String> = rest[..take].iter().map(i64::to_string).collect();
            let filter = format!("id IN ({})", list.join(","));
            for grain in &GRAINS {
                diesel::sql_query(upsert_sql(grain, &filter)).execute(conn)?;
            }
            rest = &rest[take..];
        }
    }
    Ok(())
}

/// The temporary tables holding an import's sums per grain (this connection's own).
fn sums_table(conn: &DbConn, grain: usize) -> String {
    let schema = match conn {
        DbConn::Sqlite(_) => "temp",
        DbConn::Pg(_) => "pg_temp",
    };
    format!("{schema}.sipas_import_sums_{grain}")
}

/// An import summed up: how many count rows each grain has, and where they are: in this
/// connection's temporary tables ([`sum_import`]) or in memory ([`Tally`]).
#[derive(Debug, Clone)]
pub struct ImportSums {
    rows: [i64; GRAINS.len()],
    memory: Option<[Vec<tally::SumRow>; GRAINS.len()]>,
}

impl ImportSums {
    fn in_memory(rows: [Vec<tally::SumRow>; GRAINS.len()]) -> ImportSums {
        ImportSums {
            rows: rows.each_ref().map(|r| r.len() as i64),
            memory: Some(rows),
        }
    }

    /// The count rows to add, over every grain.
    pub fn total(&self) -> i64 {
        self.rows.iter().sum()
    }

    /// Whether the sums are in this process's memory (any connection can add them), not in
    /// temporary tables of the connection that summed them.
    pub fn is_in_memory(&self) -> bool {
        self.memory.is_some()
    }
}

/// Sums the responses of import `import_id` once, into this connection's temporary tables: one
/// row per count row it adds to, numbered in key order. Reads only (no write turn is needed).
/// Apply them with [`add_import_sums`], then [`drop_import_sums`].
pub fn sum_import(conn: &mut DbConn, import_id: i64) -> QueryResult<ImportSums> {
    drop_import_sums(conn)?;
    let mut sums = ImportSums {
        rows: [0; GRAINS.len()],
        memory: None,
    };
    for (grain, spec) in GRAINS.iter().enumerate() {
        // Days from the rows; each coarser grain from the one before (every count is a sum).
        let (totals, source, grouped, selected, key) = match grain.checked_sub(1) {
            None => (
                spec.sums_over_responses(),
                format!("responses WHERE import_id = {import_id}"),
                spec.key_expressions(),
                "agency_id, COALESCE(procedure_id, 0) AS procedure_id, channel",
                spec.time_key,
            ),
            Some(finer) => (
                spec.sums_over(&GRAINS[finer]),
                format!("{} WHERE 1 = 1", sums_table(conn, finer)),
                spec.keys(),
                spec.keys(),
                spec.rollup_key,
            ),
        };
        let measures: Vec<String> = totals
            .iter()
            .zip(spec.columns())
            .map(|(sum, column)| format!("{sum} AS {column}"))
            .collect();
        let table = sums_table(conn, grain);
        diesel::sql_query(format!(
            "CREATE TEMPORARY TABLE {table} AS \
             SELECT ROW_NUMBER() OVER (ORDER BY {grouped}, {key}) AS n, \
             {selected}, {key} AS k, {measures} \
             FROM {source} GROUP BY {grouped}, {key}",
            measures = measures.join(", "),
        ))
        .execute(conn)?;
        // The index lives with its table: named in the temporary schema on SQLite, beside
        // the (schema-qualified) table on PostgreSQL.
        let index = match conn {
            DbConn::Sqlite(_) => format!(
                "CREATE INDEX temp.sipas_import_sums_n_{grain} ON sipas_import_sums_{grain} (n)"
            ),
            DbConn::Pg(_) => format!("CREATE INDEX sipas_import_sums_n_{grain} ON {table} (n)"),
        };
        diesel::sql_query(index).execute(conn)?;
        sums.rows[grain] = count_rows(conn, &table)?;
    }
    Ok(sums)
}

fn count_rows(conn: &mut DbConn, table: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let c: Count =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
    Ok(c.n)
}

/// Adds the summed count rows `first..=last` (numbered across the grains: the days, then the
/// months) to the counts, in key order (call in the writing transaction).
pub fn add_import_sums(
    conn: &mut DbConn,
    sums: &ImportSums,
    first: i64,
    last: i64,
) -> QueryResult<()> {
    let mut offset = 0;
    for (grain, spec) in GRAINS.iter().enumerate() {
        let rows = sums.rows[grain];
        let (from, to) = ((first - offset).max(1), (last - offset).min(rows));
        if let (Some(memory), true) = (&sums.memory, from <= to) {
            let rows = memory[grain]
                .get((from - 1) as usize..to as usize)
                .unwrap_or_default();
            tally::upsert(conn, spec, rows)?;
        } else if from <= to {
            let Grain {
                table, time_column, ..
            } = spec;
            let columns = spec.columns();
            diesel::sql_query(format!(
                "INSERT INTO {table} ({keys}, {time_column}, {columns}) \
                 SELECT {keys}, k, {columns} FROM {sums} \
                 WHERE n BETWEEN {from} AND {to} ORDER BY n \
                 ON CONFLICT ({keys}, {time_column}) DO UPDATE SET {updates}",
                keys = spec.keys(),
                sums = sums_table(conn, grain),
                columns = columns.join(", "),
                updates = adding(table, &columns),
            ))
            .execute(conn)?;
        }
        offset += rows;
    }
    Ok(())
}

/// Drops this connection's temporary sums of an import, if any.
pub fn drop_import_sums(conn: &mut DbConn) -> QueryResult<()> {
    for grain in 0..GRAINS.len() {
        let table = sums_table(conn, grain);
        diesel::sql_query(format!("DROP TABLE IF EXISTS {table}")).execute(conn)?;
    }
    Ok(())
}

/// The PostgreSQL advisory lock (`pg_advisory_xact_lock`) that a recount holds alone and every
/// transaction adding an import's chunk, or completing an import, holds shared: a chunk is
/// either wholly before a recount (its counts rebuilt without it, its claim forgotten) or wholly
/// after it, whenever its import reached its commit point. Waiting requests queue in order, so
/// a recount is not starved by publishers. ("SIPAS" and 1.)
const REBUILD_LOCK: i64 = 0x5349_5041_5301;

/// Takes the rebuild lock for the rest of the transaction: alone (`exclusive`, a recount) or
/// shared (an import's chunk or its completion). A no-op on SQLite, whose write transactions
/// exclude each other.
pub fn rebuild_lock(conn: &mut DbConn, exclusive: bool) -> QueryResult<()> {
    if let DbConn::Pg(c) = conn {
        let function = if exclusive {
            "pg_advisory_xact_lock"
        } else {
            "pg_advisory_xact_lock_shared"
        };
        diesel::sql_query(format!("SELECT {function}({REBUILD_LOCK})")).execute(c)?;
    }
    Ok(())
}

/// Rebuilds every count from the responses and invitations tables: web responses and imports
/// that are done. An import still adding its counts starts over (its sums are added again from
/// the first).
pub fn recount(conn: &mut DbConn) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        // No import adds a chunk meanwhile (on SQLite this transaction is the only writer), and
        // the imports adding their counts forget the chunks they added (every claim is of an
        // import not yet done): their counts are gone with the rest, and added again.
        rebuild_lock(conn, true)?;
        diesel::sql_query("DELETE FROM import_chunks").execute(conn)?;
        for grain in &GRAINS {
            diesel::sql_query(format!("DELETE FROM {}", grain.table)).execute(conn)?;
            diesel::sql_query(upsert_sql(grain, crate::responses::VISIBLE)).execute(conn)?;
        }
        // The Vietnam calendar day of a UTC timestamp: the one backend-specific expression.
        let day = crate::clock::sql_local_day("returned_at", matches!(conn, DbConn::Sqlite(_)));
        let month = format!("SUBSTR(CAST({day} AS TEXT), 1, 7)");
        for (table, column, key) in [
            ("daily_dossiers", "day", day.as_str()),
            ("monthly_dossiers", "month", month.as_str()),
        ] {
            diesel::sql_query(format!("DELETE FROM {table}")).execute(conn)?;
            diesel::sql_query(format!(
                "INSERT INTO {table} (agency_id, {column}, dossiers, answered) \
                 SELECT agency_id, {key}, COUNT(*), SUM(CASE WHEN used THEN 1 ELSE 0 END) \
                 FROM invitations GROUP BY agency_id, {key}"
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Counts new dossiers (not yet answered): `dossiers` holds how many `agency_id` returned on
/// each day. Keys in order (the lock order of every writer); on PostgreSQL one statement per
/// table for any number of keys (arrays), on SQLite multi-row upserts of 500 keys.
pub fn record_dossiers(
    conn: &mut DbConn,
    dossiers: &std::collections::BTreeMap<(i64, chrono::NaiveDate), i64>,
) -> QueryResult<()> {
    let mut monthly: std::collections::BTreeMap<(i64, String), i64> = Default::default();
    for ((agency_id, day), n) in dossiers {
        *monthly
            .entry((*agency_id, day.format("%Y-%m").to_string()))
            .or_default() += n;
    }
    let daily: Vec<(i64, String, i64)> = dossiers
        .iter()
        .map(|((agency_id, day), n)| (*agency_id, day.format("%Y-%m-%d").to_string(), *n))
        .collect();
    let monthly: Vec<(i64, String, i64)> = monthly
        .into_iter()
        .map(|((agency_id, month), n)| (agency_id, month, n))
        .collect();
    for (table, column, key_type, rows) in [
        ("daily_dossiers", "day", "DATE", daily),
        ("monthly_dossiers", "month", "TEXT", monthly),
    ] {
        let upsert = format!(
            "ON CONFLICT (agency_id, {column}) DO UPDATE \
             SET dossiers = {table}.dossiers + excluded.dossiers"
        );
        match conn {
            DbConn::Pg(c) => {
                use diesel::sql_types::{Array, Text};
                let agencies: Vec<i64> = rows.iter().map(|r| r.0).collect();
                let keys: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
                let counts: Vec<i64> = rows.iter().map(|r| r.2).collect();
                diesel::sql_query(format!(
                    "INSERT INTO {table} (agency_id, {column}, dossiers) \
                     SELECT a, CAST(k AS {key_type}), n FROM unnest($1, $2, $3) AS v(a, k, n) \
                     {upsert}"
                ))
                .bind::<Array<BigInt>, _>(&agencies)
                .bind::<Array<Text>, _>(&keys)
                .bind::<Array<BigInt>, _>(&counts)
                .execute(c)?;
            }
            DbConn::Sqlite(c) => {
                for chunk in rows.chunks(500) {
                    // Integer ids and counts, formatted dates: inlined (no bind limit to mind).
                    let values: Vec<String> = chunk
                        .iter()
                        .map(|(agency_id, key, n)| format!("({agency_id}, '{key}', {n})"))
                        .collect();
                    diesel::sql_query(format!(
                        "INSERT INTO {table} (agency_id, {column}, dossiers) VALUES {} {upsert}",
                        values.join(", ")
                    ))
                    .execute(c)?;
                }
            }
        }
    }
    Ok(())
}

/// Counts answered invitations among the dossiers returned on their day by their agency (the
/// invitation's day, not the answer's): the response rate's numerator, in the same population
/// as its denominator. `answered` holds one (agency, day) per invitation newly marked used.
pub fn record_answered(
    conn: &mut DbConn,
    answered: &[(i64, chrono::NaiveDate)],
) -> QueryResult<()> {
    let mut by_key: std::collections::BTreeMap<(i64, chrono::NaiveDate), i64> = Default::default();
    for key in answered {
        *by_key.entry(*key).or_default() += 1;
    }
    if by_key.is_empty() {
        return Ok(());
    }
    // The dossier was counted when its invitation was issued, so the rows exist; an UPDATE
    // (never an insert) capped at `dossiers` keeps answered <= dossiers.
    match conn {
        DbConn::Pg(c) if by_key.len() > 1 => {
            // One statement per grain for the whole batch, keys in order (the lock order of
            // every server's batch).
            let agencies: Vec<i64> = by_key.keys().map(|(a, _)| *a).collect();
            let days: Vec<chrono::NaiveDate> = by_key.keys().map(|(_, d)| *d).collect();
            let months: Vec<String> = days.iter().map(|d| d.format("%Y-%m").to_string()).collect();
            let counts: Vec<i64> = by_key.values().copied().collect();
            use diesel::sql_types::{Array, Date, Text};
            diesel::sql_query(
                "UPDATE daily_dossiers AS d SET answered = LEAST(d.dossiers, d.answered + v.n) \
                 FROM unnest($1, $2, $3) AS v(agency_id, day, n) \
                 WHERE d.agency_id = v.agency_id AND d.day = v.day",
            )
            .bind::<Array<BigInt>, _>(&agencies)
            .bind::<Array<Date>, _>(&days)
            .bind::<Array<BigInt>, _>(&counts)
            .execute(c)?;
            // Two days of one month are two keys here: sum them per month first.
            let mut by_month: std::collections::BTreeMap<(i64, String), i64> = Default::default();
            for ((agency, month), n) in agencies.iter().zip(months).zip(&counts) {
                *by_month.entry((*agency, month)).or_default() += n;
            }
            let agencies: Vec<i64> = by_month.keys().map(|(a, _)| *a).collect();
            let months: Vec<String> = by_month.keys().map(|(_, m)| m.clone()).collect();
            let counts: Vec<i64> = by_month.values().copied().collect();
            diesel::sql_query(
                "UPDATE monthly_dossiers AS d SET answered = LEAST(d.dossiers, d.answered + v.n) \
                 FROM unnest($1, $2, $3) AS v(agency_id, month, n) \
                 WHERE d.agency_id = v.agency_id AND d.month = v.month",
            )
            .bind::<Array<BigInt>, _>(&agencies)
            .bind::<Array<Text>, _>(&months)
            .bind::<Array<BigInt>, _>(&counts)
            .execute(c)?;
        }
        _ => {
            for ((agency_id, day), n) in by_key {
                // An integer id and formatted dates: inlined like `record_dossiers`.
                for (table, column, key) in [
                    ("daily_dossiers", "day", day.format("%Y-%m-%d").to_string()),
                    ("monthly_dossiers", "month", day.format("%Y-%m").to_string()),
                ] {
                    diesel::sql_query(format!(
                        "UPDATE {table} SET answered = CASE WHEN answered + {n} > dossiers \
                         THEN dossiers ELSE answered + {n} END \
                         WHERE agency_id = {agency_id} AND {column} = '{key}'"
                    ))
                    .execute(conn)?;
                }
            }
        }
    }
    Ok(())
}
