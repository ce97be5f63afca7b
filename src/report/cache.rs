//! Reports kept in memory for the dashboard, so that a page over a large province does not
//! recompute the flags (the peer mixture of every agency, most of a second for 3,000 agencies)
//! on every view.
//!
//! A report is reused while the data it was built from looks unchanged ([`Version`]: the newest
//! response, the imports' progress, the number of agencies), and, however busy the survey is,
//! for `fresh_for` after it was built: where responses arrive every few seconds the version
//! always changes. After that, up to [`STALE_FACTOR`] × `fresh_for`, the kept report is still
//! shown while a fresh one is computed on a thread of its own (one per report at a time), so
//! that a reader seldom waits for the computation; older reports are computed again before the
//! page is answered. `fresh_for` zero (the tests) means exact: a changed version always
//! recomputes, at once. A changed catalog seen by this process clears the cache
//! ([`ReportCache::clear`]); changes the version cannot see (a catalog edited by another
//! process, `sipas aggregates recount`) show within [`UNCHANGED_FOR`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::{Query, Report, ReportError, build_with};
use crate::db::schema::{agencies, agency_successions, import_chunks, imports, responses};
use crate::db::{Database, DbConn, StoreError};
use crate::responses::staging::ImportStatus;

/// Longest a report is reused while its version is unchanged.
pub const UNCHANGED_FOR: Duration = Duration::from_secs(3600);

/// A report older than `fresh_for` whose data changed is still shown, while a fresh one is
/// computed, until it is this many times `fresh_for` old.
pub const STALE_FACTOR: u32 = 5;

/// Reports kept at most (the least recently used goes first): a province-year by agency of
/// 3,000 agencies takes a few megabytes.
const CAPACITY: usize = 12;

/// What the reports were built from, as far as a few cheap queries can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The newest response's id (staged import rows included: they change the counts soon).
    newest_response: Option<i64>,
    /// Every import's id and status.
    imports: Vec<(i64, ImportStatus)>,
    /// The chunks of their counts the publishing imports have added (a few hundred at most
    /// per import, and none once it is done).
    chunks: Vec<(i64, i64)>,
    agencies: (i64, Option<i64>),
    /// The successions recorded (a reorganisation changes the units reports sum into).
    successions: (i64, Option<i64>),
}

impl Version {
    /// Reads the version now (five indexed or small queries).
    pub fn read(conn: &mut DbConn) -> QueryResult<Version> {
        let newest_response = responses::table
            .select(max(responses::id))
            .first::<Option<i64>>(conn)?;
        let imports = imports::table
            .select((imports::id, imports::status))
            .order(imports::id)
            .load(conn)?;
        let chunks = import_chunks::table
            .order((import_chunks::import_id, import_chunks::chunk))
            .load(conn)?;
        let agencies = agencies::table
            .select((count_star(), max(agencies::id)))
            .first::<(i64, Option<i64>)>(conn)?;
        let successions = agency_successions::table
            .select((count_star(), max(agency_successions::id)))
            .first::<(i64, Option<i64>)>(conn)?;
        Ok(Version {
            newest_response,
            imports,
            chunks,
            agencies,
            successions,
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
    /// A background refresh is running.
    refreshing: bool,
}

/// Why a background refresh failed (logged; the kept report stays).
#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// The reports of the last few queries.
pub struct ReportCache {
    fresh_for: Duration,
    /// Where background refreshes read.
    db: Database,
    entries: Mutex<HashMap<Query, Entry>>,
}

impl ReportCache {
    /// A cache over `db` that reuses a report for `fresh_for` whatever arrives meanwhile (zero:
    /// only while the version is unchanged).
    pub fn new(db: Database, fresh_for: Duration) -> ReportCache {
        ReportCache {
            fresh_for,
            db,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The report for `query`: the kept one when still valid at `version` (or stale but
    /// recent: then refreshed in the background), else built now on `conn` and kept.
    pub fn get(
        self: &Arc<Self>,
        conn: &mut DbConn,
        version: &Version,
        query: &Query,
    ) -> Result<Cached, ReportError> {
        let now = Instant::now();
        if let Ok(mut entries) = self.entries.lock()
            && let Some(entry) = entries.get_mut(query)
        {
            let age = now.saturating_duration_since(entry.built);
            let unchanged = entry.version == *version;
            if age < self.fresh_for || (unchanged && age < UNCHANGED_FOR) {
                entry.used = now;
                return Ok(entry.cached.clone());
            }
            if age < self.fresh_for * STALE_FACTOR {
                entry.used = now;
                if !entry.refreshing {
                    entry.refreshing = true;
                    self.refresh_in_background(query.clone());
                }
                return Ok(entry.cached.clone());
            }
        }
        let cached = Cached {
            report: Arc::new(build_with(conn, || self.db.spare_conn(), query)?),
            built_at: crate::clock::now(),
        };
        self.keep(query, version.clone(), cached.clone(), now);
        Ok(cached)
    }

    /// Builds `query` now, on the caller's thread, unless the kept report is younger than half of
    /// `fresh_for` or was built from `version`: the scheduler keeps the overview's default
    /// reports warm this way, so that a reader seldom computes one. Returns whether it built.
    pub fn warm(
        &self,
        conn: &mut DbConn,
        version: &Version,
        query: &Query,
    ) -> Result<bool, ReportError> {
        let now = Instant::now();
        if let Ok(entries) = self.entries.lock()
            && let Some(entry) = entries.get(query)
        {
            let age = now.saturating_duration_since(entry.built);
            if age < self.fresh_for / 2 || (entry.version == *version && age < UNCHANGED_FOR) {
                return Ok(false);
            }
        }
        let cached = Cached {
            report: Arc::new(build_with(conn, || self.db.spare_conn(), query)?),
            built_at: crate::clock::now(),
        };
        self.keep(query, version.clone(), cached, now);
        Ok(true)
    }

    /// The version of the data the kept report for `query` was built from, if one is kept.
    pub fn built_from(&self, query: &Query) -> Option<Version> {
        self.entries
            .lock()
            .ok()
            .and_then(|entries| entries.get(query).map(|e| e.version.clone()))
    }

    /// Forgets every report (after a change the version does not see, such as the catalog).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    fn keep(&self, query: &Query, version: Version, cached: Cached, built: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY
            && !entries.contains_key(query)
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(q, _)| q.clone())
        {
            entries.remove(&oldest);
        }
        let used = entries.get(query).map_or(built, |e| e.used.max(built));
        entries.insert(
            query.clone(),
            Entry {
                cached,
                version,
                built,
                used,
                refreshing: false,
            },
        );
    }

    /// Computes `query` again on a thread of its own and keeps the result; on failure the kept
    /// report stays (and the next reader tries again).
    fn refresh_in_background(self: &Arc<Self>, query: Query) {
        let cache = Arc::clone(self);
        let key = query.clone();
        let spawned = std::thread::Builder::new()
            .name("report-refresh".into())
            .spawn(move || {
                let started = Instant::now();
                let built = cache.db.read(|conn| {
                    let version = Version::read(conn).map_err(StoreError::from)?;
                    let report = build_with(conn, || cache.db.spare_conn(), &query)?;
                    Ok::<_, RefreshError>((version, report))
                });
                match built {
                    Ok((version, report)) => {
                        let cached = Cached {
                            report: Arc::new(report),
                            built_at: crate::clock::now(),
                        };
                        cache.keep(&query, version, cached, started);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "refreshing a report in the background failed");
                        cache.refreshed(&query);
                    }
                }
            });
        if spawned.is_err() {
            self.refreshed(&key);
        }
    }

    /// Marks `query` as no longer being refreshed.
    fn refreshed(&self, query: &Query) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(e) = entries.get_mut(query)
        {
            e.refreshing = false;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::DatabaseSettings;
    use crate::report::GroupBy;

    fn database() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: dir.path().join("cache.db").display().to_string(),
            ..Default::default()
        };
        (dir, Database::open(&settings).unwrap())
    }

    fn query() -> Query {
        Query {
            from: "2026-01-01".parse().unwrap(),
            to: "2026-12-31".parse().unwrap(),
            province: None,
            level: None,
            agencies: None,
            group_by: GroupBy::Agency,
            map: Default::default(),
        }
    }

    fn changed(v: &Version) -> Version {
        Version {
            newest_response: Some(v.newest_response.unwrap_or(0) + 1),
            ..v.clone()
        }
    }

    #[test]
    fn reports_are_kept_while_nothing_changes_and_rebuilt_after() {
        let (_dir, db) = database();
        let mut conn = db.conn().unwrap();
        let version = Version::read(&mut conn).unwrap();
        let exact = Arc::new(ReportCache::new(db.clone(), Duration::ZERO));
        let first = exact.get(&mut conn, &version, &query()).unwrap();
        let again = exact.get(&mut conn, &version, &query()).unwrap();
        assert!(Arc::ptr_eq(&first.report, &again.report), "kept");
        let after = exact.get(&mut conn, &changed(&version), &query()).unwrap();
        assert!(!Arc::ptr_eq(&first.report, &after.report), "rebuilt");
        exact.clear();
        let cleared = exact.get(&mut conn, &changed(&version), &query()).unwrap();
        assert!(!Arc::ptr_eq(&after.report, &cleared.report), "cleared");
    }

    #[test]
    fn a_busy_survey_is_shown_fresh_then_refreshed_in_the_background() {
        let (_dir, db) = database();
        let mut conn = db.conn().unwrap();
        let version = Version::read(&mut conn).unwrap();
        let busy = changed(&version);
        let fresh_for = Duration::from_millis(400);
        let cache = Arc::new(ReportCache::new(db.clone(), fresh_for));
        let first = cache.get(&mut conn, &version, &query()).unwrap();
        // Fresh: kept whatever arrived meanwhile.
        let kept = cache.get(&mut conn, &busy, &query()).unwrap();
        assert!(Arc::ptr_eq(&first.report, &kept.report));
        // Stale: still shown, while a new one is computed.
        std::thread::sleep(fresh_for + Duration::from_millis(50));
        let stale = cache.get(&mut conn, &busy, &query()).unwrap();
        assert!(Arc::ptr_eq(&first.report, &stale.report));
        let mut refreshed = None;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            let now = cache.get(&mut conn, &busy, &query()).unwrap();
            if !Arc::ptr_eq(&first.report, &now.report) {
                refreshed = Some(now);
                break;
            }
        }
        let refreshed = refreshed.expect("the background refresh replaced the report");
        // Too old: computed again before answering.
        std::thread::sleep(fresh_for * STALE_FACTOR + Duration::from_millis(50));
        let late = cache.get(&mut conn, &busy, &query()).unwrap();
        assert!(!Arc::ptr_eq(&refreshed.report, &late.report));
    }
}
