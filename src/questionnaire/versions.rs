//! Published questionnaire versions: a province publishes its own version from the dashboard;
//! the latest published version is the one citizens answer, and every response records the
//! version it answered.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Questionnaire, QuestionnaireError};
use crate::db::DbConn;
use crate::db::schema::{questionnaires, responses};

/// Why a version was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Invalid(#[from] QuestionnaireError),
    #[error("version {version} of {code} is not newer than the published version {latest}")]
    NotNewer {
        code: String,
        version: i32,
        latest: i32,
    },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Validates and publishes a questionnaire file; it becomes the active version.
pub fn publish(
    conn: &mut DbConn,
    json: &str,
    user: Option<i64>,
    now: NaiveDateTime,
) -> Result<Questionnaire, PublishError> {
    let q = Questionnaire::parse(json)?;
    conn.transaction(|conn| {
        let latest: Option<i32> = questionnaires::table
            .filter(questionnaires::code.eq(&q.id))
            .select(diesel::dsl::max(questionnaires::version))
            .first(conn)?;
        if let Some(latest) = latest.filter(|l| *l >= q.version) {
            return Err(PublishError::NotNewer {
                code: q.id.clone(),
                version: q.version,
                latest,
            });
        }
        diesel::insert_into(questionnaires::table)
            .values((
                questionnaires::code.eq(&q.id),
                questionnaires::version.eq(q.version),
                questionnaires::body.eq(json),
                questionnaires::published_at.eq(now),
                questionnaires::published_by.eq(user),
            ))
            .execute(conn)?;
        Ok(q)
    })
}

/// The most recently published version's file, if any was published.
pub fn latest(conn: &mut DbConn) -> QueryResult<Option<String>> {
    questionnaires::table
        .order(questionnaires::id.desc())
        .select(questionnaires::body)
        .first(conn)
        .optional()
}

/// Published versions, newest first: (code, version, published at).
pub fn published(conn: &mut DbConn) -> QueryResult<Vec<(String, i32, NaiveDateTime)>> {
    questionnaires::table
        .order(questionnaires::id.desc())
        .select((
            questionnaires::code,
            questionnaires::version,
            questionnaires::published_at,
        ))
        .load(conn)
}

/// How many responses answered each (questionnaire, version).
pub fn usage(conn: &mut DbConn) -> QueryResult<Vec<(String, i32, i64)>> {
    responses::table
        .group_by((
            responses::questionnaire_id,
            responses::questionnaire_version,
        ))
        .select((
            responses::questionnaire_id,
            responses::questionnaire_version,
            diesel::dsl::count_star(),
        ))
        .order((
            responses::questionnaire_id,
            responses::questionnaire_version,
        ))
        .load(conn)
}
