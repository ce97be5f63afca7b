//! Sessions: an opaque cookie, of which only a hash is stored.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::users::User;
use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::domain::SessionToken;

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub csrf_token: String,
    pub user: User,
}

/// Session lifetime rules.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub idle: Duration,
    pub absolute: Duration,
}

/// Starts a session for `user_id`; returns the cookie value (shown to the browser only).
pub fn start(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<SessionToken, StartError> {
    let token = SessionToken::generate().map_err(|e| StartError::Random(e.to_string()))?;
    let csrf = SessionToken::generate().map_err(|e| StartError::Random(e.to_string()))?;
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token.hash()),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(csrf.as_str()),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no randomness available: {0}")]
    Random(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// The live session of a cookie value, if any; expired sessions are deleted, and the idle clock
/// restarts (written at most once a minute).
pub fn find(
    conn: &mut DbConn,
    token: &SessionToken,
    now: NaiveDateTime,
    lifetime: Lifetime,
) -> QueryResult<Option<Session>> {
    let found: Option<(i64, String, NaiveDateTime, NaiveDateTime, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token.hash()))
        .select((
            sessions::id,
            sessions::csrf_token,
            sessions::created_at,
            sessions::last_seen_at,
            User::as_select(),
        ))
        .first(conn)
        .optional()?;
    let Some((id, csrf_token, created, seen, user)) = found else {
        return Ok(None);
    };
    if user.disabled || now - seen > lifetime.idle || now - created > lifetime.absolute {
        diesel::delete(sessions::table.find(id)).execute(conn)?;
        return Ok(None);
    }
    if now - seen > Duration::minutes(1) {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(Session {
        id,
        csrf_token,
        user,
    }))
}

/// Ends a session.
pub fn end(conn: &mut DbConn, session_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(session_id)).execute(conn)
}
