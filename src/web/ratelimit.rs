//! The citizen side's rate limits: walk-in responses per client and agency, and unknown survey
//! links per client. Both are counted in the database ([`crate::limits`]), so every server
//! process shares them and simultaneous requests cannot overrun them; a client's address is
//! counted under a keyed pseudonym, never stored. A client already over the unknown-link limit
//! is also remembered in memory until its window ends, so that a scan costs no database write.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use crate::config::Settings;
use crate::db::DbConn;
use crate::domain::TokenSecret;
use crate::limits::Limit;

/// The most clients remembered as over the limit; past it the memory is cleared (the database
/// still counts them).
const MAX_BLOCKED: usize = 100_000;

/// The limits of the citizen pages.
#[derive(Debug)]
pub struct CitizenLimits {
    walk_in: Limit,
    link_miss: Limit,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl CitizenLimits {
    /// The limits configured in `[walkin]` and `[security]`.
    pub fn new(settings: &Settings) -> CitizenLimits {
        CitizenLimits {
            walk_in: Limit {
                scope: "walk-in",
                max: settings.walkin.max_per_window,
                window: chrono::Duration::minutes(i64::from(settings.walkin.window_minutes)),
            },
            link_miss: Limit {
                scope: "link miss",
                max: settings.security.link_miss_limit,
                window: chrono::Duration::minutes(i64::from(
                    settings.security.link_miss_window_minutes,
                )),
            },
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// The key a walk-in response from `client` to `agency` counts under.
    pub fn walk_in_key(secret: &TokenSecret, client: IpAddr, agency: i64) -> String {
        secret.pseudonym("walk-in", &format!("{client}\n{agency}"))
    }

    /// Reserves one walk-in response for `key`: false when the window's limit is reached.
    pub fn reserve_walk_in(
        &self,
        conn: &mut DbConn,
        key: &str,
        now: NaiveDateTime,
    ) -> diesel::QueryResult<bool> {
        self.walk_in.take(conn, key, now)
    }

    /// Gives back a reservation whose response was not stored (rejected or postponed).
    pub fn release_walk_in(
        &self,
        conn: &mut DbConn,
        key: &str,
        now: NaiveDateTime,
    ) -> diesel::QueryResult<()> {
        self.walk_in.give_back(conn, key, now)
    }

    /// The key unknown links asked for by `client` count under.
    pub fn link_miss_key(secret: &TokenSecret, client: IpAddr) -> String {
        secret.pseudonym("link miss", &client.to_string())
    }

    /// True when `key` is known (in this process) to be over the unknown-link limit.
    pub fn known_over(&self, key: &str, now: Instant) -> bool {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        blocked.get(key).is_some_and(|until| *until > now)
    }

    /// Counts an unknown link asked for by `key`; true when it went past the limit (the client
    /// is then remembered as over it until the window ends).
    pub fn count_link_miss(
        &self,
        conn: &mut DbConn,
        key: &str,
        now: NaiveDateTime,
    ) -> diesel::QueryResult<bool> {
        let over = self.link_miss.add(conn, key, now)? > self.link_miss.max;
        if over {
            let window = self
                .link_miss
                .window
                .to_std()
                .unwrap_or(Duration::from_secs(60));
            let now = Instant::now();
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            blocked.retain(|_, until| *until > now);
            if blocked.len() >= MAX_BLOCKED {
                blocked.clear();
            }
            blocked.insert(key.to_owned(), now + window);
        }
        Ok(over)
    }
}
