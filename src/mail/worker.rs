//! The server's mail thread (until the server stops): delivers the outbox every 5 seconds and queues the weekly digest
//! (Mondays) and the monthly one (the 1st) from `send_hour`, Vietnam time. Queueing is
//! idempotent, so restarts and several servers are harmless.

use std::time::Duration as StdDuration;

use chrono::{Datelike, Timelike, Utc};

use super::digest::{self, Period};
use super::outbox;
use crate::invitations::dossier::vietnam;
use crate::startup::AppState;

/// Starts the thread (nothing happens when mail is off).
pub fn spawn(state: actix_web::web::Data<AppState>) {
    if !state.mailer().is_on() {
        return;
    }
    let state: std::sync::Arc<AppState> = state.into_inner();
    std::thread::spawn(move || {
        let mut queued: Vec<String> = Vec::new();
        // The thread ends once the server has let go of the shared state (it stopped).
        while std::sync::Arc::strong_count(&state) > 1 {
            if let Err(e) = tick(&state, &mut queued) {
                tracing::warn!(error = %e, "mail round failed; retrying in a while");
            }
            for _ in 0..20 {
                if std::sync::Arc::strong_count(&state) <= 1 {
                    break;
                }
                std::thread::sleep(StdDuration::from_millis(250));
            }
        }
    });
}

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
