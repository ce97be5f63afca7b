//! Sliding-window limits kept in memory only (walk-in responses per client and agency; unknown
//! survey links per client): a client's address is never stored with a response, and is
//! forgotten when its window ends.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts events per key within a sliding window.
#[derive(Debug)]
pub struct WindowLimiter<K> {
    max: usize,
    window: Duration,
    seen: Mutex<HashMap<K, VecDeque<Instant>>>,
}

/// Accepted walk-in submissions per (client address, agency).
pub type WalkinLimiter = WindowLimiter<(IpAddr, i64)>;

/// Requests for survey links that do not exist, per client address: guessing tokens is refused
/// long before it could succeed (a token has 128 random bits).
pub type LinkMissLimiter = WindowLimiter<IpAddr>;

impl<K: Hash + Eq + Copy> WindowLimiter<K> {
    /// At most `max` events per `window`.
    pub fn new(max: u32, window: Duration) -> WindowLimiter<K> {
        WindowLimiter {
            max: max as usize,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True when `key` may have one more event now.
    pub fn allows(&self, key: K, now: Instant) -> bool {
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
        seen.get(&key).is_none_or(|t| t.len() < self.max)
    }

    /// Records an event of `key`.
    pub fn record(&self, key: K, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry(key).or_default().push_back(now);
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
        assert!(limiter.allows((ip, 1), t0));
        limiter.record((ip, 1), t0);
        limiter.record((ip, 1), t0);
        assert!(!limiter.allows((ip, 1), t0 + Duration::from_secs(30)));
        assert!(
            limiter.allows((ip, 2), t0),
            "another agency has its own count"
        );
        assert!(
            limiter.allows(([10, 0, 0, 2].into(), 1), t0),
            "another client too"
        );
        assert!(limiter.allows((ip, 1), t0 + Duration::from_secs(61)));
    }
}
