//! Rate limits shared by every server process: counters in the database, one per (scope, key,
//! fixed window), taken and counted in one statement so that simultaneous requests cannot all
//! pass a check made before any of them is counted. A limit counts the current window together
//! with the previous one, so that a burst across a window's edge cannot get twice the limit: at
//! most `max` events in any span of one window (a client may wait up to two windows). Keys are pseudonyms
//! ([`crate::domain::TokenSecret::pseudonym`]), never addresses or emails; a counter's row is
//! deleted once its window has passed, so the table holds at most the keys of one window.

use chrono::{DateTime, Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};

use crate::db::DbConn;
use crate::db::schema::rate_counts;

/// At most `max` events per key in each fixed `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub scope: &'static str,
    pub max: u32,
    pub window: Duration,
}

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = Integer)]
    hits: i32,
}

impl Limit {
    /// The start of the window `now` falls in, and when that window ends.
    fn window_of(&self, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        let length = self.window.num_seconds().max(1);
        let seconds = now.and_utc().timestamp();
        let start = seconds - seconds.rem_euclid(length);
        let start = DateTime::from_timestamp(start, 0).map_or(now, |d| d.naive_utc());
        (start, start + Duration::seconds(length))
    }

    /// Counts one event of `key` if the window still allows it: true when counted (the event
    /// may go ahead), false when the limit was reached. One atomic statement.
    pub fn take(&self, conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<bool> {
        Ok(self.upsert(conn, key, now, true)?.is_some())
    }

    /// Counts one event of `key` whatever the limit; returns the count of the current and the
    /// previous window with it.
    pub fn add(&self, conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<u32> {
        Ok(self.upsert(conn, key, now, false)?.unwrap_or(0))
    }

    fn upsert(
        &self,
        conn: &mut DbConn,
        key: &str,
        now: NaiveDateTime,
        bounded: bool,
    ) -> QueryResult<Option<u32>> {
        prune(conn, now)?;
        let (start, end) = self.window_of(now);
        let previous = self.hits_at(conn, key, start - (end - start))?;
        if bounded && previous >= self.max {
            return Ok(None);
        }
        let room = self.max - previous.min(self.max);
        // The row outlives its window by one more: the next window counts it too.
        let expires = end + (end - start);
        let condition = if bounded {
            " WHERE rate_counts.hits < ?"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO rate_counts (scope, key, window_start, hits, expires_at) \
             VALUES (?, ?, ?, 1, ?) ON CONFLICT (scope, key, window_start) \
             DO UPDATE SET hits = rate_counts.hits + 1{condition} RETURNING hits"
        );
        let max = i32::try_from(room).unwrap_or(i32::MAX);
        macro_rules! run {
            ($c:expr, $sql:expr) => {{
                let query = diesel::sql_query($sql)
                    .bind::<Text, _>(self.scope)
                    .bind::<Text, _>(key)
                    .bind::<Timestamp, _>(start)
                    .bind::<Timestamp, _>(expires);
                if bounded {
                    query.bind::<Integer, _>(max).load::<Hits>($c)
                } else {
                    query.load::<Hits>($c)
                }
            }};
        }
        let rows = match conn {
            DbConn::Pg(c) => run!(c, numbered(&sql)),
            DbConn::Sqlite(c) => run!(c, sql),
        }?;
        Ok(rows
            .first()
            .map(|h| u32::try_from(h.hits).unwrap_or(0))
            .filter(|hits| !bounded || *hits <= room)
            .map(|hits| hits + previous))
    }

    /// The events of `key` counted in the current and the previous window.
    pub fn count(&self, conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<u32> {
        let (start, end) = self.window_of(now);
        Ok(self.hits_at(conn, key, start)? + self.hits_at(conn, key, start - (end - start))?)
    }

    /// The events of `key` in the window that starts at `start`.
    fn hits_at(&self, conn: &mut DbConn, key: &str, start: NaiveDateTime) -> QueryResult<u32> {
        let hits: Option<i32> = rate_counts::table
            .filter(rate_counts::scope.eq(self.scope))
            .filter(rate_counts::key.eq(key))
            .filter(rate_counts::window_start.eq(start))
            .select(rate_counts::hits)
            .first(conn)
            .optional()?;
        Ok(hits.map_or(0, |h| u32::try_from(h).unwrap_or(0)))
    }

    /// Gives back one event taken in the current window (a reservation that was not used).
    pub fn give_back(&self, conn: &mut DbConn, key: &str, now: NaiveDateTime) -> QueryResult<()> {
        let (start, _) = self.window_of(now);
        diesel::update(
            rate_counts::table
                .filter(rate_counts::scope.eq(self.scope))
                .filter(rate_counts::key.eq(key))
                .filter(rate_counts::window_start.eq(start))
                .filter(rate_counts::hits.gt(0)),
        )
        .set(rate_counts::hits.eq(rate_counts::hits - 1))
        .execute(conn)?;
        Ok(())
    }

    /// Forgets every event of `key` (a successful sign-in clears its failures).
    pub fn clear(&self, conn: &mut DbConn, key: &str) -> QueryResult<()> {
        diesel::delete(
            rate_counts::table
                .filter(rate_counts::scope.eq(self.scope))
                .filter(rate_counts::key.eq(key)),
        )
        .execute(conn)?;
        Ok(())
    }
}

/// `?` placeholders numbered as PostgreSQL wants them (`$1, $2…`).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Deletes the counters whose window has passed.
pub fn prune(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_counts::table.filter(rate_counts::expires_at.le(now))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_placeholders_numbered() {
        let limit = Limit {
            scope: "t",
            max: 3,
            window: Duration::minutes(10),
        };
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_opt(10, 17, 5))
            .unwrap_or_default();
        let (start, end) = limit.window_of(now);
        assert_eq!(start.to_string(), "2026-11-30 10:10:00");
        assert_eq!(end.to_string(), "2026-11-30 10:20:00");
        assert_eq!(numbered("a ? b ?"), "a $1 b $2");
    }
}
