//! The flag history: each agency's flag state per problem over time, one row whenever it
//! changes, written by the monitoring sweep.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{agencies, flag_history};
use crate::report::AgencyRow;
use crate::stats::Severity;

/// One change of an agency's flag.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct Change {
    pub problem: String,
    pub severity: String,
    pub problem_probability: Option<f64>,
    pub observed_at: NaiveDateTime,
}

/// True when some flag of `rows` differs from its agency's last recorded state (reads only).
pub fn has_changes(conn: &mut DbConn, rows: &[AgencyRow]) -> QueryResult<bool> {
    Ok(!changes(conn, rows)?.is_empty())
}

/// A flag that differs from its agency's last recorded state.
struct Pending {
    agency: i64,
    problem: &'static str,
    severity: Severity,
    probability: Option<f64>,
}

/// Every flag of `rows` that differs from its last recorded state.
fn changes(conn: &mut DbConn, rows: &[AgencyRow]) -> QueryResult<Vec<Pending>> {
    let ids: HashMap<String, i64> = agencies::table
        .select((agencies::code, agencies::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let latest: Vec<(i64, String, String)> = flag_history::table
        .select((
            flag_history::agency_id,
            flag_history::problem,
            flag_history::severity,
        ))
        .order(flag_history::id)
        .load(conn)?;
    let mut last: HashMap<(i64, String), String> = HashMap::new();
    for (agency, problem, severity) in latest {
        last.insert((agency, problem), severity);
    }
    let mut out = Vec::new();
    for row in rows {
        let Some(&agency) = ids.get(&row.code) else {
            continue;
        };
        for (problem, a) in [
            ("harassment", &row.harassment),
            ("repeat_visits", &row.repeat_visits),
        ] {
            let before = last
                .get(&(agency, problem.to_owned()))
                .map(String::as_str)
                .unwrap_or(Severity::None.as_str());
            if before != a.flag.as_str() {
                out.push(Pending {
                    agency,
                    problem,
                    severity: a.flag,
                    probability: a.problem_probability,
                });
            }
        }
    }
    Ok(out)
}

/// Records the flags of `rows` that differ from each agency's last recorded state (no row yet
/// means "none"); returns how many changes were recorded. Call inside the sweep's transaction.
pub fn record(conn: &mut DbConn, rows: &[AgencyRow], now: NaiveDateTime) -> QueryResult<usize> {
    let found = changes(conn, rows)?;
    for p in &found {
        diesel::insert_into(flag_history::table)
            .values((
                flag_history::agency_id.eq(p.agency),
                flag_history::problem.eq(p.problem),
                flag_history::severity.eq(p.severity.as_str()),
                flag_history::problem_probability.eq(p.probability),
                flag_history::observed_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(found.len())
}

/// An agency's flag changes, newest first.
pub fn for_agency(conn: &mut DbConn, agency_id: i64) -> QueryResult<Vec<Change>> {
    flag_history::table
        .filter(flag_history::agency_id.eq(agency_id))
        .select((
            flag_history::problem,
            flag_history::severity,
            flag_history::problem_probability,
            flag_history::observed_at,
        ))
        .order(flag_history::id.desc())
        .limit(50)
        .load(conn)
}
