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
    state: Mutex<Seen<K>>,
}

#[derive(Debug)]
struct Seen<K> {
    times: HashMap<K, VecDeque<Instant>>,
    pruned: Option<Instant>,
}

/// The most keys remembered; past it (after pruning) everything is forgotten, so a flood of
/// addresses cannot grow the map without bound.
const MAX_KEYS: usize = 100_000;

/// Accepted walk-in submissions per (client address, agency).
pub type WalkinLimiter = WindowLimiter<(IpAddr, i64)>;

/// Requests for survey links that do not exist, per client address. A token has 128 random bits,
/// so guessing cannot succeed anyway; past the limit unknown links get 429 instead of 404, which
/// makes a scan visible and cheap to answer. Valid links are never refused: citizens behind one
/// shared (carrier) address must not pay for a scanner among them.
pub type LinkMissLimiter = WindowLimiter<IpAddr>;

impl<K: Hash + Eq + Copy> WindowLimiter<K> {
    /// At most `max` events per `window`.
    pub fn new(max: u32, window: Duration) -> WindowLimiter<K> {
        WindowLimiter {
            max: max as usize,
            window,
            state: Mutex::new(Seen {
                times: HashMap::new(),
                pruned: None,
            }),
        }
    }

    /// True when `key` may have one more event now.
    pub fn allows(&self, key: K, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut state, now);
        state
            .times
            .get(&key)
            .is_none_or(|t| t.iter().filter(|at| self.live(**at, now)).count() < self.max)
    }

    /// Records an event of `key`.
    pub fn record(&self, key: K, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut state, now);
        state.times.entry(key).or_default().push_back(now);
    }

    /// Records an event of `key` and tells whether it went past the limit.
    pub fn record_over(&self, key: K, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut state, now);
        let times = state.times.entry(key).or_default();
        times.push_back(now);
        times.iter().filter(|at| self.live(**at, now)).count() > self.max
    }

    fn live(&self, at: Instant, now: Instant) -> bool {
        now.duration_since(at) < self.window
    }

    /// Drops expired events, at most once a second (not on every request: the map may be large).
    fn prune(&self, state: &mut Seen<K>, now: Instant) {
        let due = state
            .pruned
            .is_none_or(|p| now.duration_since(p) >= Duration::from_secs(1));
        if !due && state.times.len() <= MAX_KEYS {
            return;
        }
        let window = self.window;
        state.times.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        if state.times.len() > MAX_KEYS {
            state.times.clear();
        }
        state.pruned = Some(now);
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

    #[test]
    fn misses_past_the_limit_are_reported() {
        let limiter = LinkMissLimiter::new(2, Duration::from_secs(60));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(!limiter.record_over(ip, t0));
        assert!(!limiter.record_over(ip, t0));
        assert!(limiter.record_over(ip, t0 + Duration::from_secs(1)));
        assert!(
            !limiter.record_over(ip, t0 + Duration::from_secs(120)),
            "forgotten after the window"
        );
    }
}
