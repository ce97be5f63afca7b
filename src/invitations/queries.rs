//! Issuing invitations (idempotent per agency and dossier code) and finding them by token.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::dossier::{Dossier, FieldError};
use super::{Invitation, NewInvitation};
use crate::catalog::{Agency, queries as catalog};
use crate::db::DbConn;
use crate::db::schema::{agencies, invitations, procedures};
use crate::domain::{SurveyToken, TokenSecret, new_seed};
use crate::outreach::Reach;
use crate::outreach::enroll::{self, Enrolled};

/// Which agencies a caller may report dossiers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One agency and the agencies under it.
    Agency(i64),
    /// Every agency of one province.
    Province(i64),
    /// Everything (the command line).
    All,
}

/// The outcome for one reported dossier.
#[derive(Debug, Clone)]
pub struct Issued {
    pub dossier_code: String,
    pub agency_code: String,
    pub token: SurveyToken,
    /// False when the dossier had been reported before and its invitation is returned again.
    pub created: bool,
    pub expires_at: NaiveDateTime,
    /// What became of the citizen's addresses (`None`: the dossier carried none, outreach is
    /// off, or the dossier had been reported before).
    pub outreach: Option<Enrolled>,
}

/// Why a batch was refused (nothing stored).
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("{} dossier(s) refused", .0.len())]
    Rejected(Vec<(usize, FieldError)>),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("no randomness available: {0}")]
    Random(String),
}

/// How invitations are issued.
pub struct Issuer<'a> {
    pub secret: &'a TokenSecret,
    pub ttl_days: u32,
    pub now: NaiveDateTime,
    /// Outreach, when a channel is configured: the invitation is sent to an address the dossier
    /// carries (`crate::outreach::enroll`).
    pub reach: Option<&'a Reach>,
}

impl Issuer<'_> {
    /// Issues (or finds) the invitation of every dossier, all in one transaction: if any dossier
    /// names an unknown or forbidden agency or procedure, nothing is stored.
    pub fn issue(
        &self,
        conn: &mut DbConn,
        dossiers: &[Dossier],
        scope: Scope,
    ) -> Result<Vec<Issued>, IssueError> {
        conn.transaction(|conn| {
            let mut agencies_by_code: HashMap<String, Option<Agency>> = HashMap::new();
            let mut procedures_by_code: HashMap<String, Option<i64>> = HashMap::new();
            let mut rejected = Vec::new();
            let mut resolved = Vec::with_capacity(dossiers.len());
            for (index, d) in dossiers.iter().enumerate() {
                let code = d.agency_code.as_str();
                if !agencies_by_code.contains_key(code) {
                    let found = catalog::agency_by_code(conn, code)?;
                    agencies_by_code.insert(code.to_owned(), found);
                }
                let agency = agencies_by_code.get(code).cloned().flatten();
                let procedure = match procedures_by_code.get(d.procedure_code.as_str()) {
                    Some(p) => *p,
                    None => {
                        let p = catalog::procedure_by_code(conn, d.procedure_code.as_str())?
                            .map(|p| p.id);
                        procedures_by_code.insert(d.procedure_code.to_string(), p);
                        p
                    }
                };
                match (agency, procedure) {
                    (None, _) => rejected.push((
                        index,
                        FieldError {
                            field: "agency_code",
                            message: format!("unknown agency {code}"),
                            message_vi: format!("không có cơ quan mã {code}"),
                        },
                    )),
                    (Some(a), _) if !in_scope(conn, &a, scope)? => rejected.push((
                        index,
                        FieldError {
                            field: "agency_code",
                            message: format!(
                                "this API key may not report dossiers of agency {code}"
                            ),
                            message_vi: format!(
                                "khóa API này không được báo hồ sơ của cơ quan {code}"
                            ),
                        },
                    )),
                    (_, None) => rejected.push((
                        index,
                        FieldError {
                            field: "procedure_code",
                            message: format!("unknown procedure {}", d.procedure_code),
                            message_vi: format!("không có thủ tục mã {}", d.procedure_code),
                        },
                    )),
                    (Some(a), Some(p)) => resolved.push((d, a, p)),
                }
            }
            if !rejected.is_empty() {
                return Err(IssueError::Rejected(rejected));
            }
            let mut issued = Vec::with_capacity(resolved.len());
            for (d, agency, procedure_id) in resolved {
                issued.push(self.issue_one(conn, d, &agency, procedure_id)?);
            }
            Ok(issued)
        })
    }

    fn issue_one(
        &self,
        conn: &mut DbConn,
        d: &Dossier,
        agency: &Agency,
        procedure_id: i64,
    ) -> Result<Issued, IssueError> {
        let existing: Option<Invitation> = invitations::table
            .filter(invitations::agency_id.eq(agency.id))
            .filter(invitations::dossier_code.eq(d.dossier_code.as_str()))
            .select(Invitation::as_select())
            .first(conn)
            .optional()?;
        if let Some(inv) = existing {
            return Ok(Issued {
                dossier_code: inv.dossier_code,
                agency_code: agency.code.clone(),
                token: SurveyToken::derive(self.secret, &inv.token_seed),
                created: false,
                expires_at: inv.expires_at,
                outreach: None,
            });
        }
        let seed = new_seed().map_err(|e| IssueError::Random(e.to_string()))?;
        let token = SurveyToken::derive(self.secret, &seed);
        let (late, days_late) = d.lateness();
        let expires_at = self.now + Duration::days(i64::from(self.ttl_days));
        let new = NewInvitation {
            token_hash: token.hash(),
            token_seed: seed,
            agency_id: agency.id,
            procedure_id,
            dossier_code: d.dossier_code.to_string(),
            channel: d.channel,
            received_at: d.received_at,
            due_at: d.due_at,
            returned_at: d.returned_at,
            late,
            days_late,
            created_at: self.now,
            expires_at,
        };
        let invitation_id: i64 = crate::on_backend!(conn, c => diesel::insert_into(invitations::table)
            .values(&new)
            .returning(invitations::id)
            .get_result(c))?;
        catalog::link(conn, agency.id, procedure_id)?;
        let returned_day = crate::clock::day_of(d.returned_at);
        crate::aggregates::record_dossier(conn, agency.id, returned_day)?;
        let outreach = match self.reach {
            Some(reach) if !d.contact.is_empty() => Some(enroll::enroll(
                conn,
                reach,
                self.secret,
                &enroll::Dossier {
                    invitation_id,
                    agency_id: agency.id,
                    day: returned_day,
                    expires_at,
                    contact: &d.contact,
                },
                self.now,
            )?),
            _ => None,
        };
        Ok(Issued {
            dossier_code: d.dossier_code.to_string(),
            agency_code: agency.code.clone(),
            token,
            created: true,
            expires_at,
            outreach,
        })
    }
}

/// True when `scope` covers `agency`.
fn in_scope(conn: &mut DbConn, agency: &Agency, scope: Scope) -> QueryResult<bool> {
    match scope {
        Scope::All => Ok(true),
        Scope::Province(p) => Ok(agency.province_id == p),
        Scope::Agency(root) => {
            let mut cursor = Some(agency.id);
            // The chain is acyclic (the import checks it); the bound is a second guard.
            for _ in 0..32 {
                match cursor {
                    Some(id) if id == root => return Ok(true),
                    Some(id) => {
                        cursor = agencies::table
                            .find(id)
                            .select(agencies::parent_id)
                            .first::<Option<i64>>(conn)?;
                    }
                    None => return Ok(false),
                }
            }
            Ok(false)
        }
    }
}

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
