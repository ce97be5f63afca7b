//! The catalog: provinces, agencies, procedures and which agency handles which procedure.

pub mod import;
pub mod queries;
pub mod successions;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{agencies, procedures, provinces};

/// A province.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = provinces, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Province {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// An agency that runs a one-stop desk.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agencies, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Agency {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub level: String,
    pub province_id: i64,
    pub parent_id: Option<i64>,
    /// The first day it existed (`None`: before any data).
    pub valid_from: Option<NaiveDate>,
    /// The last day it existed (`None`: still exists).
    pub valid_to: Option<NaiveDate>,
}

/// An administrative procedure.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedures, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Procedure {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub field: String,
    pub level: String,
}

/// A new or updated agency.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = agencies)]
pub struct NewAgency {
    pub code: String,
    pub name: String,
    pub level: String,
    pub province_id: i64,
    #[diesel(treat_none_as_null = true)]
    pub parent_id: Option<i64>,
}

/// A new or updated procedure.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = procedures)]
pub struct NewProcedure {
    pub code: String,
    pub name: String,
    pub field: String,
    pub level: String,
}
