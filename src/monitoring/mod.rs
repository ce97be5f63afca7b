//! The monitoring sweep: the flags of the last [`WINDOW_DAYS`] days, computed on today's data,
//! are recorded in the flag history, become follow-up cases (one open case per agency and
//! problem) and new alarms alert the reform office, all in one transaction under a named lock, so
//! two servers sweeping at once open each case and send each alert once. A scheduled job
//! ([`crate::schedule`]) and `sipas monitor run` run it; no page does.

pub mod history;

use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::cases::{self, Opened};
use crate::config::Settings;
use crate::db::DbConn;
use crate::mail::alert::{self, Cause};
use crate::report::{self, AgencyRow, GroupBy, Query, ReportError};
use crate::stats::Severity;

/// The lock a sweep holds while it writes.
const LOCK: &str = "monitoring-sweep";

/// The days a sweep looks back over (the overview's default period).
pub const WINDOW_DAYS: i64 = 365;

/// What one sweep found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    /// Agencies with a flag or a report of money asked.
    pub flagged: usize,
    /// Cases opened by this sweep (flags that already had an open case open none).
    pub opened: Vec<Opened>,
    /// Alarm alerts queued.
    pub alerts: usize,
    /// Flag changes recorded in the history.
    pub changes: usize,
}

/// Runs one sweep over every province for the window ending `today` (Vietnam); `now` stamps
/// the cases and alerts.
pub fn sweep(
    conn: &mut DbConn,
    settings: &Settings,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Result<Swept, ReportError> {
    let query = Query {
        from: today - Duration::days(WINDOW_DAYS - 1),
        to: today,
        province: None,
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
        map: Default::default(),
    };
    let report = report::build(conn, &query)?;
    let rows: Vec<AgencyRow> = report.agencies.into_iter().flatten().collect();
    let flagged: Vec<AgencyRow> = rows
        .iter()
        .filter(|a| a.flag != Severity::None || a.money_asked > 0)
        .cloned()
        .collect();
    // Nothing to record or open: write nothing (a sweep on a quiet database takes no lock).
    if flagged.is_empty() && !history::has_changes(conn, &rows)? {
        return Ok(Swept::default());
    }
    Ok(crate::db::write_transaction(conn, |conn| {
        crate::db::claim(conn, LOCK, now)?;
        let changes = history::record(conn, &rows, now)?;
        let opened = cases::open_for_flags(conn, &flagged, now)?;
        let mut alerts = 0;
        for case in opened.iter().filter(|c| c.severity == Severity::Alarm) {
            let cause = Cause::Alarm {
                problem: case.problem,
                reason: &case.reason,
            };
            alerts += alert::queue(
                conn,
                settings,
                &case.agency_code,
                &case.agency_name,
                &cause,
                now,
            )?;
        }
        diesel::QueryResult::Ok(Swept {
            flagged: flagged.len(),
            opened,
            alerts,
            changes,
        })
    })?)
}
