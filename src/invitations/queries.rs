//! Finding invitations by token and marking them used.

use diesel::prelude::*;

use super::Invitation;
use crate::db::DbConn;
use crate::db::schema::{agencies, invitations, procedures};
use crate::domain::SurveyToken;

/// The invitation a token opens, if any.
pub fn find_by_token(conn: &mut DbConn, token: &SurveyToken) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::token_hash.eq(token.hash()))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// Marks the invitation used; returns false when it already was (a concurrent double submit).
pub fn mark_used(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    Ok(MarkUsed(id).execute(conn)? == 1)
}

/// Marks the invitations `ids` used in one statement; returns those that were not used before
/// (each once, whatever the order or repetitions of `ids`).
pub fn mark_all_used(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let mut ids = ids.to_vec();
    // Rows are locked in id order, as another server's batch locks them: no deadlock.
    ids.sort_unstable();
    ids.dedup();
    crate::on_backend!(conn, c => diesel::update(
        invitations::table
            .filter(invitations::id.eq_any(&ids))
            .filter(invitations::used.eq(false)),
    )
    .set(invitations::used.eq(true))
    .returning(invitations::id)
    .get_results(c))
}

/// `UPDATE invitations SET used = TRUE WHERE id = ? AND used = FALSE` as a query of constant
/// text. Diesel prepares its own UPDATE statements anew on every call (profiled: a tenth of a
/// submission's time on SQLite); a constant statement stays prepared.
#[derive(Debug, Clone, Copy)]
struct MarkUsed(i64);

impl diesel::query_builder::QueryId for MarkUsed {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for MarkUsed
where
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE invitations SET used = TRUE WHERE id = ");
        out.push_bind_param::<diesel::sql_types::BigInt, _>(&self.0)?;
        out.push_sql(" AND used = FALSE");
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for MarkUsed {}

/// An invitation with the agency and procedure names its survey page shows.
#[derive(Debug, Clone)]
pub struct Opened {
    pub invitation: Invitation,
    pub agency: String,
    pub agency_code: String,
    pub procedure: String,
    /// The name of the agency's province.
    pub province: String,
}

/// The invitation of `token` and the names its page shows, in one query.
pub fn find_opened(conn: &mut DbConn, token: &SurveyToken) -> QueryResult<Option<Opened>> {
    // Profiled on SQLite: the statement was parsed again on every call. `first()` binds its
    // LIMIT as a parameter, and SQLite re-prepares a statement whenever a LIMIT parameter is
    // bound again. The token hash is unique, so no LIMIT is needed.
    let found = crate::on_backend!(conn, c => invitations::table
        .inner_join(agencies::table.inner_join(crate::db::schema::provinces::table))
        .inner_join(procedures::table)
        .filter(invitations::token_hash.eq(token.hash()))
        .select((
            Invitation::as_select(),
            agencies::name,
            agencies::code,
            procedures::name,
            crate::db::schema::provinces::name,
        ))
        .load::<(Invitation, String, String, String, String)>(c))?
    .into_iter()
    .next();
    Ok(found.map(
        |(invitation, agency, agency_code, procedure, province)| Opened {
            invitation,
            agency,
            agency_code,
            procedure,
            province,
        },
    ))
}
