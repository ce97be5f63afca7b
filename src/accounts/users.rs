//! Users: creating, finding, listing and disabling accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Role;
use super::password::{self, PasswordError};
use crate::catalog::queries as catalog;
use crate::db::DbConn;
use crate::db::schema::{sessions, users};
use crate::domain::Lang;

/// A dashboard account.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub agency_id: Option<i64>,
    pub lang: Lang,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    /// The password was set by someone else (an invitation, a reset): it must be changed before
    /// anything else.
    pub must_change_password: bool,
}

/// Why an account was not created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0:?} không phải là địa chỉ email ({0:?} is not an email address)")]
    Email(String),
    #[error(
        "vai trò phải là admin, reviewer hoặc agency_head (the role must be admin, reviewer or agency_head)"
    )]
    Role,
    #[error(
        "thủ trưởng cơ quan cần mã cơ quan (--agency MÃ), và chỉ thủ trưởng cơ quan mới có mã cơ quan (an agency head needs an agency code, and only an agency head has one)"
    )]
    AgencyNeeded,
    #[error("không có cơ quan nào mã {0} (there is no agency with code {0})")]
    UnknownAgency(String),
    #[error("đã có tài khoản với email {0} (an account with email {0} already exists)")]
    Exists(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Normalises an email for storage and lookup.
pub fn normalise_email(email: &str) -> Option<String> {
    let e = crate::text::clean(email).trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@')
            .is_some_and(|(u, h)| !u.is_empty() && h.contains('.') && !h.ends_with('.'));
    ok.then_some(e)
}

/// Creates an account with a password its user chose; `agency` is required for (and only for)
/// agency heads. Hashes the password on the calling thread (not inside a web write).
pub fn create(
    conn: &mut DbConn,
    email: &str,
    role: &str,
    agency: Option<&str>,
    password: &str,
    now: NaiveDateTime,
) -> Result<User, UserError> {
    let hash = password::hash(password)?;
    insert(
        conn,
        NewUser {
            email,
            role,
            agency,
        },
        &hash,
        false,
        now,
    )
}

/// Who a new account is for.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub role: &'a str,
    pub agency: Option<&'a str>,
}

/// Creates an account with an already hashed password; `must_change` when someone else chose
/// it (an invitation).
pub fn insert(
    conn: &mut DbConn,
    new: NewUser<'_>,
    password_hash: &str,
    must_change: bool,
    now: NaiveDateTime,
) -> Result<User, UserError> {
    let NewUser {
        email,
        role,
        agency,
    } = new;
    let email = normalise_email(email).ok_or_else(|| UserError::Email(email.to_owned()))?;
    let role = Role::parse(role).ok_or(UserError::Role)?;
    let agency_id = match (role, agency.map(str::trim).filter(|a| !a.is_empty())) {
        (Role::AgencyHead, Some(code)) => Some(
            catalog::agency_by_code(conn, code)?
                .ok_or_else(|| UserError::UnknownAgency(code.to_owned()))?
                .id,
        ),
        (Role::AgencyHead, None) | (_, Some(_)) => return Err(UserError::AgencyNeeded),
        (_, None) => None,
    };
    crate::db::write_transaction(conn, |conn| {
        if find_by_email(conn, &email)?.is_some() {
            return Err(UserError::Exists(email.clone()));
        }
        diesel::insert_into(users::table)
            .values((
                users::email.eq(&email),
                users::password_hash.eq(password_hash),
                users::must_change_password.eq(must_change),
                users::role.eq(role.as_str()),
                users::agency_id.eq(agency_id),
                users::created_at.eq(now),
            ))
            .execute(conn)?;
        find_by_email(conn, &email)?.ok_or(UserError::Database(diesel::result::Error::NotFound))
    })
}

/// The account with this (normalised) email.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Every account, by email.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .select(User::as_select())
        .order(users::email)
        .load(conn)
}

/// Disables or re-enables an account; disabling ends its sessions at once.
pub fn set_disabled(conn: &mut DbConn, user_id: i64, disabled: bool) -> QueryResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        let n = diesel::update(users::table.find(user_id))
            .set(users::disabled.eq(disabled))
            .execute(conn)?;
        if disabled {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        }
        Ok(n)
    })
}

/// Replaces an account's password (already hashed) and ends every session of the account;
/// `must_change` when someone else chose it (a reset).
pub fn set_password(
    conn: &mut DbConn,
    user_id: i64,
    password_hash: &str,
    must_change: bool,
) -> QueryResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        let n = diesel::update(users::table.find(user_id))
            .set((
                users::password_hash.eq(password_hash),
                users::must_change_password.eq(must_change),
            ))
            .execute(conn)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        Ok(n)
    })
}

/// The account with this id.
pub fn find(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(user_id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Sets the language an account's pages and digests use (`vi` or `en`).
pub fn set_lang(conn: &mut DbConn, user_id: i64, lang: crate::domain::Lang) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set(users::lang.eq(lang.tag()))
        .execute(conn)
}
