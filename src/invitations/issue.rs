//! Issuing the invitations of reported dossiers in batches: idempotent per agency and dossier
//! code, all or nothing, a few statements per thousand dossiers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::dossier::{Dossier, FieldError};
use super::{Invitation, NewInvitation};
use crate::catalog::{Agency, queries as catalog};
use crate::db::DbConn;
use crate::db::schema::{agencies, invitations};
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
    /// False when the dossier had been reported before (or earlier in the same batch) and its
    /// invitation is returned again.
    pub created: bool,
    pub expires_at: NaiveDateTime,
    /// What became of the citizen's addresses (`None`: the dossier carried none, outreach is
    /// off, or the dossier had been reported before).
    pub outreach: Option<Enrolled>,
}

/// Why a batch was refused or failed (nothing stored).
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("{} dossier(s) refused", .0.len())]
    Rejected(Vec<(usize, FieldError)>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for IssueError {
    fn from(e: diesel::result::Error) -> Self {
        IssueError::Store(StoreError::Database(e))
    }
}

/// Why storing resolved dossiers failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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

/// New invitations per INSERT: on SQLite 13 parameters a row stays within its 32,766 parameters
/// per statement; PostgreSQL takes them as arrays (fewer, larger round trips).
fn rows_per_insert(conn: &DbConn) -> usize {
    match conn {
        DbConn::Pg(_) => 5_000,
        DbConn::Sqlite(_) => 1_000,
    }
}

impl<'a> Issuer<'a> {
    /// Issues (or finds) the invitation of every dossier, all in one transaction: if any dossier
    /// names an unknown or forbidden agency or procedure, nothing is stored.
    pub fn issue(
        &self,
        conn: &mut DbConn,
        dossiers: &[Dossier],
        scope: Scope,
    ) -> Result<Vec<Issued>, IssueError> {
        crate::db::write_transaction(conn, |conn| {
            let mut batch = self.batch(scope);
            let resolved = batch
                .resolve(conn, dossiers)?
                .map_err(IssueError::Rejected)?;
            let issued = batch.store(conn, &resolved, Vec::new())?;
            batch.finish(conn)?;
            Ok(issued)
        })
    }

    /// A batch for `scope`, for a caller that issues several slices of dossiers in its own
    /// transaction (the CSV import); it remembers the catalog lookups between slices and counts
    /// the new dossiers when it is finished ([`Batch::finish`], in the same transaction).
    pub fn batch(&'a self, scope: Scope) -> Batch<'a> {
        Batch {
            issuer: self,
            scope,
            agencies: HashMap::new(),
            procedures: HashMap::new(),
            in_scope: HashMap::new(),
            linked: HashSet::new(),
            dossiers_by_day: BTreeMap::new(),
        }
    }
}

/// Issues slices of dossiers; see [`Issuer::batch`].
pub struct Batch<'a> {
    issuer: &'a Issuer<'a>,
    scope: Scope,
    agencies: HashMap<String, Option<Arc<Agency>>>,
    procedures: HashMap<String, Option<i64>>,
    in_scope: HashMap<i64, bool>,
    /// Agency–procedure pairs known to be linked.
    linked: HashSet<(i64, i64)>,
    /// New dossiers by agency and day, not yet added to the counts.
    dossiers_by_day: BTreeMap<(i64, NaiveDate), i64>,
}

/// Counts are added early once this many agency-days are waiting (memory stays bounded).
const MAX_PENDING_DAYS: usize = 200_000;

/// A new invitation's secrets: a random seed, the token derived from it and the token's hash
/// (CPU work that a caller may do ahead, on another thread).
pub struct Fresh {
    seed: String,
    token: SurveyToken,
    hash: String,
}

impl Fresh {
    /// Draws a seed and derives the rest.
    pub fn draw(secret: &TokenSecret) -> Result<Fresh, StoreError> {
        let seed = new_seed().map_err(|e| StoreError::Random(e.to_string()))?;
        let token = SurveyToken::derive(secret, &seed);
        let hash = token.hash();
        Ok(Fresh { seed, token, hash })
    }
}

/// A dossier whose agency and procedure exist and that the caller may report.
pub struct Resolved<'d> {
    dossier: &'d Dossier,
    agency: Arc<Agency>,
    procedure_id: i64,
}

/// A resolved slice, or the dossiers refused in it (by their index in the slice).
pub type Resolution<'d> = Result<Vec<Resolved<'d>>, Vec<(usize, FieldError)>>;

impl Batch<'_> {
    /// Looks up each dossier's agency and procedure (each code once per batch) and checks the
    /// scope; stores nothing.
    pub fn resolve<'d>(
        &mut self,
        conn: &mut DbConn,
        dossiers: &'d [Dossier],
    ) -> QueryResult<Resolution<'d>> {
        let mut rejected = Vec::new();
        let mut resolved = Vec::with_capacity(dossiers.len());
        for (index, d) in dossiers.iter().enumerate() {
            let code = d.agency_code.as_str();
            let agency = match self.agencies.get(code) {
                Some(found) => found.clone(),
                None => {
                    let found = catalog::agency_by_code(conn, code)?.map(Arc::new);
                    self.agencies.insert(code.to_owned(), found.clone());
                    found
                }
            };
            let procedure = match self.procedures.get(d.procedure_code.as_str()) {
                Some(p) => *p,
                None => {
                    let p =
                        catalog::procedure_by_code(conn, d.procedure_code.as_str())?.map(|p| p.id);
                    self.procedures.insert(d.procedure_code.to_string(), p);
                    p
                }
            };
            let refusal = match (agency, procedure) {
                (None, _) => FieldError {
                    field: "agency_code",
                    message: format!("unknown agency {code}"),
                    message_vi: format!("không có cơ quan mã {code}"),
                },
                (Some(a), _) if !self.allowed(conn, &a)? => FieldError {
                    field: "agency_code",
                    message: format!("this API key may not report dossiers of agency {code}"),
                    message_vi: format!("khóa API này không được báo hồ sơ của cơ quan {code}"),
                },
                (_, None) => FieldError {
                    field: "procedure_code",
                    message: format!("unknown procedure {}", d.procedure_code),
                    message_vi: format!("không có thủ tục mã {}", d.procedure_code),
                },
                (Some(agency), Some(procedure_id)) => {
                    resolved.push(Resolved {
                        dossier: d,
                        agency,
                        procedure_id,
                    });
                    continue;
                }
            };
            rejected.push((index, refusal));
        }
        Ok(if rejected.is_empty() {
            Ok(resolved)
        } else {
            Err(rejected)
        })
    }

    /// True when the batch's scope covers `agency` (each agency checked once per batch).
    fn allowed(&mut self, conn: &mut DbConn, agency: &Agency) -> QueryResult<bool> {
        if let Some(known) = self.in_scope.get(&agency.id) {
            return Ok(*known);
        }
        let allowed = in_scope(conn, agency, self.scope)?;
        self.in_scope.insert(agency.id, allowed);
        Ok(allowed)
    }

    /// Issues the invitations of `resolved`, in its order: new dossiers get a new invitation
    /// (multi-row INSERTs that skip a dossier already stored), counted once per agency and day;
    /// a dossier reported before (or twice in the slice) gets its existing invitation again.
    /// New invitations take their secrets from `drawn` first (drawn ahead by the caller), then
    /// draw their own.
    pub fn store(
        &mut self,
        conn: &mut DbConn,
        resolved: &[Resolved<'_>],
        drawn: Vec<Fresh>,
    ) -> Result<Vec<Issued>, StoreError> {
        let mut drawn = drawn.into_iter();
        let mut issued: Vec<Option<Issued>> = vec![None; resolved.len()];
        // The first occurrence of each dossier in the slice; later ones repeat its outcome.
        let mut first: HashMap<(i64, &str), usize> = HashMap::new();
        let mut unique = Vec::with_capacity(resolved.len());
        for (i, r) in resolved.iter().enumerate() {
            let key = (r.agency.id, r.dossier.dossier_code.as_str());
            if let std::collections::hash_map::Entry::Vacant(slot) = first.entry(key) {
                slot.insert(i);
                unique.push(i);
            }
        }
        for chunk in unique.chunks(rows_per_insert(conn)) {
            self.store_chunk(conn, resolved, chunk, &mut issued, &mut drawn)?;
        }
        if self.dossiers_by_day.len() > MAX_PENDING_DAYS {
            self.flush_counts(conn)?;
        }
        (0..resolved.len())
            .map(|i| match &issued[i] {
                Some(done) => Ok(done.clone()),
                None => {
                    let r = &resolved[i];
                    let key = (r.agency.id, r.dossier.dossier_code.as_str());
                    let original = first
                        .get(&key)
                        .and_then(|f| issued[*f].as_ref())
                        .ok_or(diesel::result::Error::NotFound)?;
                    Ok(Issued {
                        created: false,
                        outreach: None,
                        ..original.clone()
                    })
                }
            })
            .collect()
    }

    /// Adds the new dossiers to the counts; call once all slices are stored, in their
    /// transaction.
    pub fn finish(mut self, conn: &mut DbConn) -> QueryResult<()> {
        self.flush_counts(conn)
    }

    fn flush_counts(&mut self, conn: &mut DbConn) -> QueryResult<()> {
        crate::aggregates::record_dossiers(conn, &self.dossiers_by_day)?;
        self.dossiers_by_day.clear();
        Ok(())
    }

    /// Inserts the new invitations of `chunk` (indices into `resolved`, each dossier once) and
    /// fills `issued` for every one of them.
    fn store_chunk(
        &mut self,
        conn: &mut DbConn,
        resolved: &[Resolved<'_>],
        chunk: &[usize],
        issued: &mut [Option<Issued>],
        drawn: &mut impl Iterator<Item = Fresh>,
    ) -> Result<(), StoreError> {
        let issuer = self.issuer;
        let expires_at = issuer.now + Duration::days(i64::from(issuer.ttl_days));
        let mut rows = Vec::with_capacity(chunk.len());
        let mut tokens = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let fresh = match drawn.next() {
                Some(fresh) => fresh,
                None => Fresh::draw(issuer.secret)?,
            };
            let d = resolved[i].dossier;
            let (late, days_late) = d.lateness();
            rows.push(NewInvitation {
                token_hash: fresh.hash,
                token_seed: fresh.seed,
                agency_id: resolved[i].agency.id,
                procedure_id: resolved[i].procedure_id,
                dossier_code: d.dossier_code.to_string(),
                channel: d.channel,
                received_at: d.received_at,
                due_at: d.due_at,
                returned_at: d.returned_at,
                late,
                days_late,
                created_at: issuer.now,
                expires_at,
            });
            tokens.push(fresh.token);
        }
        // A dossier already stored (an earlier report, or a concurrent one) is skipped here and
        // looked up below.
        let ids: HashMap<(i64, String), i64> = super::bulk::insert_new(conn, &rows)?
            .into_iter()
            .map(|r| ((r.agency_id, r.dossier_code), r.id))
            .collect();
        let mut existing: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (&i, token) in chunk.iter().zip(tokens) {
            let r = &resolved[i];
            let d = r.dossier;
            let Some(&invitation_id) = ids.get(&(r.agency.id, d.dossier_code.to_string())) else {
                existing.entry(r.agency.id).or_default().push(i);
                continue;
            };
            if self.linked.insert((r.agency.id, r.procedure_id)) {
                catalog::link(conn, r.agency.id, r.procedure_id)?;
            }
            let day = crate::clock::day_of(d.returned_at);
            *self.dossiers_by_day.entry((r.agency.id, day)).or_default() += 1;
            let outreach = match issuer.reach {
                Some(reach) if !d.contact.is_empty() => Some(enroll::enroll(
                    conn,
                    reach,
                    issuer.secret,
                    &enroll::Dossier {
                        invitation_id,
                        agency_id: r.agency.id,
                        day,
                        expires_at,
                        contact: &d.contact,
                    },
                    issuer.now,
                )?),
                _ => None,
            };
            issued[i] = Some(Issued {
                dossier_code: d.dossier_code.to_string(),
                agency_code: r.agency.code.clone(),
                token,
                created: true,
                expires_at,
                outreach,
            });
        }
        for (agency_id, indices) in existing {
            let codes: Vec<&str> = indices
                .iter()
                .map(|&i| resolved[i].dossier.dossier_code.as_str())
                .collect();
            let found: HashMap<String, Invitation> = invitations::table
                .filter(invitations::agency_id.eq(agency_id))
                .filter(invitations::dossier_code.eq_any(&codes))
                .select(Invitation::as_select())
                .load::<Invitation>(conn)?
                .into_iter()
                .map(|inv| (inv.dossier_code.clone(), inv))
                .collect();
            for i in indices {
                let r = &resolved[i];
                let inv = found
                    .get(r.dossier.dossier_code.as_str())
                    .ok_or(diesel::result::Error::NotFound)?;
                issued[i] = Some(Issued {
                    dossier_code: inv.dossier_code.clone(),
                    agency_code: r.agency.code.clone(),
                    token: SurveyToken::derive(issuer.secret, &inv.token_seed),
                    created: false,
                    expires_at: inv.expires_at,
                    outreach: None,
                });
            }
        }
        Ok(())
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
