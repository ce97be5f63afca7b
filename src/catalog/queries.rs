//! Catalog queries.

use diesel::prelude::*;

use super::{Agency, NewAgency, NewProcedure, Procedure, Province};
use crate::db::DbConn;
use crate::db::schema::{agencies, agency_procedures, procedures, provinces};

/// The agency with this code.
pub fn agency_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Agency>> {
    agencies::table
        .filter(agencies::code.eq(code))
        .select(Agency::as_select())
        .first(conn)
        .optional()
}

/// The procedure with this code.
pub fn procedure_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Procedure>> {
    procedures::table
        .filter(procedures::code.eq(code))
        .select(Procedure::as_select())
        .first(conn)
        .optional()
}

/// The province with this code.
pub fn province_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Province>> {
    provinces::table
        .filter(provinces::code.eq(code))
        .select(Province::as_select())
        .first(conn)
        .optional()
}

/// Every province, by code.
pub fn all_provinces(conn: &mut DbConn) -> QueryResult<Vec<Province>> {
    provinces::table
        .select(Province::as_select())
        .order(provinces::code)
        .load(conn)
}

/// The province with this code, created (named after its code) when new.
pub fn ensure_province(conn: &mut DbConn, code: &str) -> QueryResult<Province> {
    if let Some(p) = province_by_code(conn, code)? {
        return Ok(p);
    }
    diesel::insert_into(provinces::table)
        .values((provinces::code.eq(code), provinces::name.eq(code)))
        .execute(conn)?;
    provinces::table
        .filter(provinces::code.eq(code))
        .select(Province::as_select())
        .first(conn)
}

/// Renames a province.
pub fn rename_province(conn: &mut DbConn, id: i64, name: &str) -> QueryResult<usize> {
    diesel::update(provinces::table.find(id))
        .set(provinces::name.eq(name))
        .execute(conn)
}

/// Inserts the agency, or updates the one with the same code; returns its id.
pub fn upsert_agency(conn: &mut DbConn, agency: &NewAgency) -> QueryResult<i64> {
    let existing: Option<i64> = agencies::table
        .filter(agencies::code.eq(&agency.code))
        .select(agencies::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => {
            diesel::update(agencies::table.find(id))
                .set(agency)
                .execute(conn)?;
            Ok(id)
        }
        None => diesel::insert_into(agencies::table)
            .values(agency)
            .returning(agencies::id)
            .get_result(conn),
    }
}

/// Inserts the procedure, or updates the one with the same code; returns its id.
pub fn upsert_procedure(conn: &mut DbConn, procedure: &NewProcedure) -> QueryResult<i64> {
    let existing: Option<i64> = procedures::table
        .filter(procedures::code.eq(&procedure.code))
        .select(procedures::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => {
            diesel::update(procedures::table.find(id))
                .set(procedure)
                .execute(conn)?;
            Ok(id)
        }
        None => diesel::insert_into(procedures::table)
            .values(procedure)
            .returning(procedures::id)
            .get_result(conn),
    }
}

/// Records that an agency handles a procedure (no-op when already linked).
pub fn link(conn: &mut DbConn, agency_id: i64, procedure_id: i64) -> QueryResult<()> {
    crate::on_backend!(conn, c => diesel::insert_into(agency_procedures::table)
        .values((
            agency_procedures::agency_id.eq(agency_id),
            agency_procedures::procedure_id.eq(procedure_id),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The procedures a walk-in citizen may pick at this agency: those linked to it, or, when none
/// are linked yet, every procedure of the agency's level.
pub fn procedures_for_agency(conn: &mut DbConn, agency: &Agency) -> QueryResult<Vec<Procedure>> {
    let linked: Vec<Procedure> = procedures::table
        .inner_join(agency_procedures::table)
        .filter(agency_procedures::agency_id.eq(agency.id))
        .select(Procedure::as_select())
        .order((procedures::field, procedures::name))
        .load(conn)?;
    if !linked.is_empty() {
        return Ok(linked);
    }
    procedures::table
        .filter(procedures::level.eq(&agency.level))
        .select(Procedure::as_select())
        .order((procedures::field, procedures::name))
        .load(conn)
}

/// Every agency, by code.
pub fn all_agencies(conn: &mut DbConn) -> QueryResult<Vec<Agency>> {
    agencies::table
        .select(Agency::as_select())
        .order(agencies::code)
        .load(conn)
}

/// Every procedure, by code.
pub fn all_procedures(conn: &mut DbConn) -> QueryResult<Vec<Procedure>> {
    procedures::table
        .select(Procedure::as_select())
        .order(procedures::code)
        .load(conn)
}

/// The agency and every agency under it (its subtree), by id.
pub fn subtree(conn: &mut DbConn, root: i64) -> QueryResult<Vec<i64>> {
    let links: Vec<(i64, Option<i64>)> = agencies::table
        .select((agencies::id, agencies::parent_id))
        .load(conn)?;
    let mut ids = vec![root];
    let mut next = 0;
    while next < ids.len() {
        let parent = ids[next];
        ids.extend(
            links
                .iter()
                .filter(|(id, p)| *p == Some(parent) && !ids.contains(id))
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
        );
        next += 1;
    }
    Ok(ids)
}

/// The agency named by `code` (`me`: the agency head's own) if a user with `role` and agency
/// `own` may see it. An agency
/// head sees the agencies under their own and nothing else: `None` (404, not 403, so that the
/// page does not confirm that other agencies exist).
pub fn visible_to(
    conn: &mut DbConn,
    role: crate::accounts::Role,
    own: Option<i64>,
    code: &str,
) -> QueryResult<Option<Agency>> {
    let agency = match (code, own) {
        ("me", Some(id)) => all_agencies(conn)?.into_iter().find(|a| a.id == id),
        _ => agency_by_code(conn, code)?,
    };
    let Some(agency) = agency else {
        return Ok(None);
    };
    if role == crate::accounts::Role::AgencyHead
        && !own.is_some_and(|root| subtree(conn, root).is_ok_and(|ids| ids.contains(&agency.id)))
    {
        return Ok(None);
    }
    Ok(Some(agency))
}

/// The name of a province.
pub fn province_name(conn: &mut DbConn, province_id: i64) -> QueryResult<String> {
    crate::db::schema::provinces::table
        .find(province_id)
        .select(crate::db::schema::provinces::name)
        .first(conn)
}

/// The code of a province.
pub fn province_code(conn: &mut DbConn, province_id: i64) -> QueryResult<String> {
    crate::db::schema::provinces::table
        .find(province_id)
        .select(crate::db::schema::provinces::code)
        .first(conn)
}

/// Sets (or clears) the peer group of the agency `code`.
pub fn set_peer_group(conn: &mut DbConn, code: &str, group: Option<&str>) -> QueryResult<usize> {
    diesel::update(agencies::table.filter(agencies::code.eq(code)))
        .set(agencies::peer_group.eq(group))
        .execute(conn)
}

/// Sets (or clears) the life span of the agency `code`.
pub fn set_validity(
    conn: &mut DbConn,
    code: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> QueryResult<usize> {
    diesel::update(agencies::table.filter(agencies::code.eq(code)))
        .set((agencies::valid_from.eq(from), agencies::valid_to.eq(to)))
        .execute(conn)
}
