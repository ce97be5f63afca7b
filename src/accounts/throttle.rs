//! Sign-in throttling that holds against spraying and is no free denial of service:
//! - per (account, client address): a few failures lock that address out of that account for a
//!   while; the account's owner, elsewhere, is not affected;
//! - per client address, whatever the accounts: password spraying from one address stops;
//! - per account, from anywhere: past a number of failures the account is slowed down (one
//!   attempt every few seconds), never locked;
//! - for the whole site: a cap on attempts per minute bounds the password-hashing work.
//!
//! Each attempt is counted as a failure *before* its password is checked (atomically, in the
//! database shared by every server process), so simultaneous attempts cannot all pass; a
//! correct password gives the count back.

use chrono::{Duration, NaiveDateTime};
use diesel::QueryResult;

use crate::config::DashboardSettings;
use crate::db::DbConn;
use crate::domain::TokenSecret;
use crate::limits::Limit;

/// The limits configured.
#[derive(Debug, Clone, Copy)]
pub struct SignInLimits {
    pair: Limit,
    address: Limit,
    account: Limit,
    pace: Limit,
    site: Limit,
    slowdown_after: u32,
}

/// The pseudonyms an attempt is counted under (never the address or email themselves).
#[derive(Debug, Clone)]
pub struct Attempt {
    pair: String,
    address: String,
    account: String,
}

impl Attempt {
    /// The attempt on `email` from `address`.
    pub fn new(secret: &TokenSecret, email: &str, address: &str) -> Attempt {
        Attempt {
            pair: secret.pseudonym("sign-in pair", &format!("{email}\n{address}")),
            address: secret.pseudonym("sign-in address", address),
            account: secret.pseudonym("sign-in account", email),
        }
    }
}

/// Whether an attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Too many failures from this address (for this account, or for any).
    AddressLocked {
        minutes: u32,
    },
    /// The account is under attack: one attempt per `seconds`.
    AccountSlowed {
        seconds: u32,
    },
    /// The site takes no more attempts this minute.
    SiteBusy,
}

impl SignInLimits {
    /// The limits of `[dashboard]`.
    pub fn new(s: &DashboardSettings) -> SignInLimits {
        let window = Duration::minutes(i64::from(s.login_lockout_minutes));
        SignInLimits {
            pair: Limit {
                scope: "sign-in pair",
                max: s.login_max_failures,
                window,
            },
            address: Limit {
                scope: "sign-in address",
                max: s.login_address_max_failures,
                window,
            },
            account: Limit {
                scope: "sign-in account",
                max: u32::MAX,
                window,
            },
            pace: Limit {
                scope: "sign-in pace",
                max: 1,
                window: Duration::seconds(i64::from(s.login_slowdown_seconds)),
            },
            site: Limit {
                scope: "sign-in site",
                max: s.login_global_per_minute,
                window: Duration::minutes(1),
            },
            slowdown_after: s.login_account_slowdown_after,
        }
    }

    /// Counts the attempt (as a failure until its password proves right) if every limit allows
    /// it. Run inside one write transaction.
    pub fn admit(
        &self,
        conn: &mut DbConn,
        attempt: &Attempt,
        now: NaiveDateTime,
    ) -> QueryResult<Verdict> {
        let minutes = u32::try_from(self.pair.window.num_minutes()).unwrap_or(u32::MAX);
        if !self.address.take(conn, &attempt.address, now)? {
            return Ok(Verdict::AddressLocked { minutes });
        }
        let refused = if !self.pair.take(conn, &attempt.pair, now)? {
            Some(Verdict::AddressLocked { minutes })
        } else if self.account.count(conn, &attempt.account, now)? >= self.slowdown_after
            && !self.pace.take(conn, &attempt.account, now)?
        {
            self.pair.give_back(conn, &attempt.pair, now)?;
            let seconds = u32::try_from(self.pace.window.num_seconds()).unwrap_or(u32::MAX);
            Some(Verdict::AccountSlowed { seconds })
        } else if !self.site.take(conn, "all", now)? {
            self.pair.give_back(conn, &attempt.pair, now)?;
            Some(Verdict::SiteBusy)
        } else {
            None
        };
        if let Some(verdict) = refused {
            // Only attempts whose password was checked count against the address.
            self.address.give_back(conn, &attempt.address, now)?;
            return Ok(verdict);
        }
        Ok(Verdict::Go)
    }

    /// The password was right: the provisional failure is given back and the account's
    /// failures from this address forgotten.
    pub fn succeeded(
        &self,
        conn: &mut DbConn,
        attempt: &Attempt,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        self.address.give_back(conn, &attempt.address, now)?;
        self.pair.clear(conn, &attempt.pair)
    }

    /// The password was wrong: the account's failures grow (its slow-down counts them).
    pub fn failed(
        &self,
        conn: &mut DbConn,
        attempt: &Attempt,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        self.account.add(conn, &attempt.account, now).map(|_| ())
    }
}
