//! Reports kept in memory for the dashboard, so that a page over a large province does not
//! recompute the flags (the peer mixture of every agency) on every view. A report is reused
//! while the data it was built from looks unchanged ([`Version`]: the newest response, the
//! imports' progress, the number of agencies), and, however busy the survey is, for up to
//! `fresh_for` after it was built: in a province where responses arrive every few seconds the
//! overview would otherwise never be reused. A changed catalog seen by this process clears the
//! cache ([`ReportCache::clear`]); changes the version cannot see (a catalog edited by another
//! process, `sipas aggregates recount`) show within [`UNCHANGED_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::{Query, Report, ReportError, build};
use crate::db::DbConn;
use crate::db::schema::{agencies, imports, responses};
use crate::responses::staging::ImportStatus;

/// Longest a report is reused while its version is unchanged.
pub const UNCHANGED_FOR: Duration = Duration::from_secs(3600);

/// Reports kept at most (the least recently used goes first): a province-year by agency of
/// 3,000 agencies takes a few megabytes.
const CAPACITY: usize = 12;

/// What the reports were built from, as far as a few cheap queries can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    newest_response: Option<i64>,
    /// Every import's id, status and how far it was published.
    imports: Vec<(i64, ImportStatus, Option<i64>)>,
    agencies: (i64, Option<i64>),
}

impl Version {
    /// Reads the version now (three indexed or small queries).
    pub fn read(conn: &mut DbConn) -> QueryResult<Version> {
        let newest_response = responses::table
            .select(max(responses::id))
            .first::<Option<i64>>(conn)?;
        let imports = imports::table
            .select((imports::id, imports::status, imports::published_through))
            .order(imports::id)
            .load(conn)?;
        let agencies = agencies::table
            .select((count_star(), max(agencies::id)))
            .first::<(i64, Option<i64>)>(conn)?;
        Ok(Version {
            newest_response,
            imports,
            agencies,
        })
    }
}

/// A report and when it was built.
#[derive(Debug, Clone)]
pub struct Cached {
    pub report: Arc<Report>,
    /// When it was computed (UTC), to say how old the figures are.
    pub built_at: NaiveDateTime,
}

struct Entry {
    cached: Cached,
    version: Version,
    built: Instant,
    used: Instant,
}

/// The reports of the last few queries.
pub struct ReportCache {
    fresh_for: Duration,
    entries: Mutex<HashMap<Query, Entry>>,
}

impl ReportCache {
    /// A cache that reuses a report for `fresh_for` whatever arrives meanwhile (zero: only
    /// while the version is unchanged).
    pub fn new(fresh_for: Duration) -> ReportCache {
        ReportCache {
            fresh_for,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The report for `query`: the kept one when still valid at `version`, else built now (on
    /// `conn`) and kept.
    pub fn get(
        &self,
        conn: &mut DbConn,
        version: &Version,
        query: &Query,
    ) -> Result<Cached, ReportError> {
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock()
            && let Some(entry) = entries.get_mut(query)
        {
            let age = now.saturating_duration_since(entry.built);
            if age < self.fresh_for || (entry.version == *version && age < UNCHANGED_FOR) {
                entry.used = now;
                return Ok(entry.cached.clone());
            }
        }
        let cached = Cached {
            report: Arc::new(build(conn, query)?),
            built_at: crate::clock::now(),
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY
                && !entries.contains_key(query)
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(q, _)| q.clone())
            {
                entries.remove(&oldest);
            }
            entries.insert(
                query.clone(),
                Entry {
                    cached: cached.clone(),
                    version: version.clone(),
                    built: now,
                    used: now,
                },
            );
        }
        Ok(cached)
    }

    /// Forgets every report (after a change the version does not see, such as the catalog).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
