//! API keys for one-stop systems: created on the command line, shown once, stored as a hash.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::queries as catalog;
use crate::db::DbConn;
use crate::db::schema::api_keys;
use crate::domain::ApiKey;

/// The scope of an active key: the agency or province whose dossiers it may report.
pub fn scope_of(
    conn: &mut DbConn,
    key: &crate::domain::ApiKey,
) -> QueryResult<Option<crate::invitations::issue::Scope>> {
    use crate::invitations::issue::Scope;
    let found = api_keys::table
        .filter(api_keys::key_hash.eq(key.hash()))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::agency_id, api_keys::province_id))
        .first::<(Option<i64>, Option<i64>)>(conn)
        .optional()?;
    Ok(match found {
        Some((Some(agency), _)) => Some(Scope::Agency(agency)),
        Some((None, Some(province))) => Some(Scope::Province(province)),
        _ => None,
    })
}

/// Whom a new key belongs to.
#[derive(Debug, Clone)]
pub enum Owner {
    Agency(String),
    Province(String),
}

/// Why a key was not created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("there is no agency with code {0}")]
    UnknownAgency(String),
    #[error("there is no province with code {0}")]
    UnknownProvince(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Creates a key for `owner` and returns it; only its hash is stored.
pub fn create(conn: &mut DbConn, owner: &Owner, now: NaiveDateTime) -> Result<ApiKey, KeyError> {
    let (agency_id, province_id) = match owner {
        Owner::Agency(code) => {
            let a = catalog::agency_by_code(conn, code)?
                .ok_or_else(|| KeyError::UnknownAgency(code.clone()))?;
            (Some(a.id), None)
        }
        Owner::Province(code) => {
            let p = catalog::province_by_code(conn, code)?
                .ok_or_else(|| KeyError::UnknownProvince(code.clone()))?;
            (None, Some(p.id))
        }
    };
    let key = ApiKey::generate().map_err(|e| KeyError::Random(e.to_string()))?;
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::key_hash.eq(key.hash()),
            api_keys::prefix.eq(key.prefix()),
            api_keys::agency_id.eq(agency_id),
            api_keys::province_id.eq(province_id),
            api_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(key)
}

/// Revokes the key(s) starting with `prefix`; returns how many were revoked.
pub fn revoke(conn: &mut DbConn, prefix: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::prefix.eq(prefix))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)
}

/// An API key as listed to admins (never the key itself).
#[derive(Debug, Clone, Queryable)]
pub struct KeyInfo {
    pub id: i64,
    pub prefix: String,
    pub agency: Option<String>,
    pub province: Option<String>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Every key, newest first, with the code of its agency or province.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<KeyInfo>> {
    use crate::db::schema::{agencies, provinces};
    api_keys::table
        .left_join(agencies::table.on(agencies::id.nullable().eq(api_keys::agency_id)))
        .left_join(provinces::table.on(provinces::id.nullable().eq(api_keys::province_id)))
        .select((
            api_keys::id,
            api_keys::prefix,
            agencies::code.nullable(),
            provinces::code.nullable(),
            api_keys::created_at,
            api_keys::revoked_at,
        ))
        .order(api_keys::id.desc())
        .load(conn)
}
