//! Scheduled tasks, on one background thread (stopped and joined after the HTTP server): the
//! monitoring sweep every `monitoring.sweep_minutes` (the first 30 s after start-up), and when mail is on, outbox delivery every
//! 5 seconds and (unless `scheduled_digests` is off) the weekly (Mondays) and monthly (the 1st)
//! digests from `send_hour`, Vietnam time; when outreach is on, the citizens' invitations and reminders every 5 seconds
//! (`outreach::deliver::round`); when the dashboard reuses reports (`report_fresh_seconds` above
//! 0), the overview's default reports are computed ahead (`ReportCache::warm`), so that a reader
//! seldom waits for them. Every task is idempotent, so restarts and several servers are harmless.

use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Datelike, Timelike};

use crate::clock;
use crate::config::Settings;
use crate::db::Database;
use crate::mail::Mailer;
use crate::mail::digest::{self, Period};
use crate::mail::outbox;
use crate::metrics::Metrics;
use crate::monitoring;
use crate::outreach::deliver as outreach;
use crate::report::Query;
use crate::report::cache::{ReportCache, Version};

/// Time between two rounds.
const ROUND: StdDuration = StdDuration::from_secs(5);
/// The first sweep waits this long after start-up, past the commands an operator runs right
/// after starting the server (an SQLite transaction that read before another process wrote
/// cannot wait for the write lock: it fails at once).
const FIRST_SWEEP_AFTER: StdDuration = StdDuration::from_secs(30);

/// The running scheduler; [`Scheduler::stop`] lets its current round finish, then joins it.
pub struct Scheduler {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Scheduler {
    /// Asks the thread to stop and waits until its current round (and any send in it) is done.
    pub fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the scheduler thread panicked");
        }
    }
}

/// Dashboard reports kept computed ahead: the cache and the queries (asked each time: the default
/// period follows the calendar).
pub struct Warm {
    pub cache: Arc<ReportCache>,
    pub queries: fn() -> Vec<Query>,
}

/// What the scheduled tasks work with.
struct Tasks {
    db: Database,
    settings: Settings,
    mailer: Mailer,
    metrics: Arc<Metrics>,
    outreach: Option<outreach::Sender>,
    warm: Option<Warm>,
    /// Digest windows already queued by this process.
    queued: Vec<String>,
    /// When the last sweep ran.
    swept: Option<Instant>,
    started: Instant,
}

/// Starts the thread; `None` when there is nothing to schedule (mail, outreach and sweep off).
pub fn spawn(
    db: Database,
    settings: Settings,
    mailer: Mailer,
    metrics: Arc<Metrics>,
    outreach: Option<outreach::Sender>,
    warm: Option<Warm>,
) -> Option<Scheduler> {
    if !mailer.is_on()
        && outreach.is_none()
        && warm.is_none()
        && settings.monitoring.sweep_minutes == 0
    {
        return None;
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let mut tasks = Tasks {
        db,
        settings,
        mailer,
        metrics,
        outreach,
        warm,
        queued: Vec::new(),
        swept: None,
        started: Instant::now(),
    };
    let thread = std::thread::spawn(move || {
        loop {
            tasks.round();
            // Sleeps between rounds; the sender being dropped wakes it at once.
            match stopped.recv_timeout(ROUND) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("scheduler stopped");
    });
    Some(Scheduler { stop, thread })
}

impl Tasks {
    fn round(&mut self) {
        if let Err(e) = self.sweep_if_due() {
            tracing::warn!(error = %e, "monitoring sweep failed; retrying next round");
        }
        if self.mailer.is_on()
            && let Err(e) = self.mail()
        {
            tracing::warn!(error = %e, "mail round failed; retrying in a while");
        }
        if let Some(sender) = &self.outreach
            && let Err(e) = self.reach(sender)
        {
            tracing::warn!(error = %e, "outreach round failed; retrying in a while");
        }
        if let Some(warm) = &self.warm
            && let Err(e) = self.warm_reports(warm)
        {
            tracing::warn!(error = %e, "computing the dashboard's reports ahead failed; retrying next round");
        }
    }

    fn warm_reports(&self, warm: &Warm) -> anyhow::Result<()> {
        let built = self.db.read(|conn| -> anyhow::Result<usize> {
            let version = Version::read(conn)?;
            let mut built = 0;
            for query in (warm.queries)() {
                if warm.cache.warm(conn, &version, &query)? {
                    built += 1;
                }
            }
            Ok(built)
        })?;
        if built > 0 {
            tracing::debug!(built, "dashboard reports computed ahead");
        }
        Ok(())
    }

    fn reach(&self, sender: &outreach::Sender) -> anyhow::Result<()> {
        let round = outreach::round(&self.db, sender, clock::now)?;
        if round != outreach::Round::default() {
            tracing::info!(?round, "citizen messages");
        }
        Ok(())
    }

    fn sweep_if_due(&mut self) -> anyhow::Result<()> {
        let every = StdDuration::from_secs(u64::from(self.settings.monitoring.sweep_minutes) * 60);
        let waiting = match self.swept {
            Some(at) => at.elapsed() < every,
            None => self.started.elapsed() < FIRST_SWEEP_AFTER,
        };
        if every.is_zero() || waiting {
            return Ok(());
        }
        let started = Instant::now();
        let swept = self.db.write(|conn| {
            monitoring::sweep(conn, &self.settings, clock::today(), clock::now())
                .map_err(anyhow::Error::from)
        })?;
        self.metrics.sweep(started.elapsed());
        self.swept = Some(Instant::now());
        if !swept.opened.is_empty() {
            tracing::info!(
                flagged = swept.flagged,
                opened = swept.opened.len(),
                alerts = swept.alerts,
                "monitoring sweep opened cases"
            );
        }
        Ok(())
    }

    fn mail(&mut self) -> anyhow::Result<()> {
        let local = clock::local_now();
        let today = local.date_naive();
        let due =
            self.settings.mail.scheduled_digests && local.hour() >= self.settings.mail.send_hour;
        for (period, on_day) in [
            (Period::Weekly, local.weekday() == chrono::Weekday::Mon),
            (Period::Monthly, local.day() == 1),
        ] {
            let key = period.window(today).key;
            if due && on_day && !self.queued.contains(&key) {
                let n = digest::queue(&self.db, &self.settings, period, None, today, clock::now())?;
                tracing::info!(%key, queued = n, "digests queued");
                self.queued.push(key);
            }
        }
        let round = outbox::deliver_due(
            &self.db,
            &self.mailer,
            self.settings.mail.max_attempts,
            clock::now,
        )?;
        if round != outbox::Round::default() {
            tracing::info!(
                sent = round.sent,
                retrying = round.retrying,
                failed = round.failed,
                "mail delivered"
            );
        }
        Ok(())
    }
}
