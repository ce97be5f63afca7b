//! A per-client, per-agency sliding-window limit for the walk-in channel, kept in memory only:
//! the client's address is never stored with a response, and forgotten when its window ends.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts accepted submissions per (client address, agency).
#[derive(Debug)]
pub struct WalkinLimiter {
    max: usize,
    window: Duration,
    seen: Mutex<HashMap<(IpAddr, i64), VecDeque<Instant>>>,
}

impl WalkinLimiter {
    /// At most `max` submissions per `window`.
    pub fn new(max: u32, window: Duration) -> WalkinLimiter {
        WalkinLimiter {
            max: max as usize,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True when this client may submit once more for this agency now.
    pub fn allows(&self, client: IpAddr, agency: i64, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        seen.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        seen.get(&(client, agency))
            .is_none_or(|t| t.len() < self.max)
    }

    /// Records an accepted submission.
    pub fn record(&self, client: IpAddr, agency: i64, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry((client, agency)).or_default().push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_limits_then_forgets() {
        let limiter = WalkinLimiter::new(2, Duration::from_secs(60));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(limiter.allows(ip, 1, t0));
        limiter.record(ip, 1, t0);
        limiter.record(ip, 1, t0);
        assert!(!limiter.allows(ip, 1, t0 + Duration::from_secs(30)));
        assert!(
            limiter.allows(ip, 2, t0),
            "another agency has its own count"
        );
        assert!(
            limiter.allows([10, 0, 0, 2].into(), 1, t0),
            "another client too"
        );
        assert!(limiter.allows(ip, 1, t0 + Duration::from_secs(61)));
    }
}
