//! The server's mail thread (stopped and joined after the HTTP server): delivers the outbox
//! every 5 seconds and queues the weekly digest
//! (Mondays) and the monthly one (the 1st) from `send_hour`, Vietnam time. Queueing is
//! idempotent, so restarts and several servers are harmless.

use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use chrono::{Datelike, Timelike, Utc};

use super::digest::{self, Period};
use super::outbox;
use crate::invitations::dossier::vietnam;
use crate::startup::AppState;

/// The running mail thread; [`MailWorker::stop`] lets its current round finish, then joins it.
pub struct MailWorker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl MailWorker {
    /// Asks the thread to stop and waits until its current round (and any send in it) is done.
    pub fn stop(self) {
        drop(self.stop);
        if self.thread.join().is_err() {
            tracing::error!("the mail thread panicked");
        }
    }
}

/// Starts the thread (`None` when mail is off).
pub fn spawn(state: Arc<AppState>) -> Option<MailWorker> {
    if !state.mailer().is_on() {
        return None;
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let mut queued: Vec<String> = Vec::new();
        loop {
            if let Err(e) = tick(&state, &mut queued) {
                tracing::warn!(error = %e, "mail round failed; retrying in a while");
            }
            // Sleeps between rounds; the sender being dropped wakes it at once.
            match stopped.recv_timeout(ROUND) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!("mail thread stopped");
    });
    Some(MailWorker { stop, thread })
}

/// Time between two delivery rounds.
const ROUND: StdDuration = StdDuration::from_secs(5);

fn tick(state: &AppState, queued: &mut Vec<String>) -> anyhow::Result<()> {
    let mut conn = state.pool.get()?;
    let local = Utc::now().with_timezone(&vietnam());
    let today = local.date_naive();
    let due = local.hour() >= state.settings.mail.send_hour;
    for (period, on_day) in [
        (Period::Weekly, local.weekday() == chrono::Weekday::Mon),
        (Period::Monthly, local.day() == 1),
    ] {
        let key = period.window(today).key;
        if due && on_day && !queued.contains(&key) {
            let n = digest::queue(
                &mut conn,
                &state.settings,
                period,
                None,
                today,
                Utc::now().naive_utc(),
            )?;
            tracing::info!(%key, queued = n, "digests queued");
            queued.push(key);
        }
    }
    let round = outbox::deliver_due(
        &mut conn,
        state.mailer(),
        state.settings.mail.max_attempts,
        || Utc::now().naive_utc(),
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
