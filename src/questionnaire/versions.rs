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
    crate::db::write_transaction(conn, |conn| {
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
        .filter(crate::responses::visible())
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

/// The questionnaire citizens answer now, replaced when an admin publishes a new version.
pub struct Current(std::sync::RwLock<std::sync::Arc<super::Questionnaire>>);

impl Current {
    /// Holds `q` as the current questionnaire.
    pub fn new(q: super::Questionnaire) -> Current {
        Current(std::sync::RwLock::new(std::sync::Arc::new(q)))
    }

    /// The questionnaire citizens answer now.
    pub fn get(&self) -> std::sync::Arc<super::Questionnaire> {
        self.0
            .read()
            .map(|q| q.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Makes `q` the questionnaire citizens answer from now on.
    pub fn set(&self, q: super::Questionnaire) {
        let mut slot = self.0.write().unwrap_or_else(|p| p.into_inner());
        *slot = std::sync::Arc::new(q);
    }
}

/// Why the questionnaire to serve could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read questionnaire file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid questionnaire file {path}: {source}")]
    Invalid {
        path: String,
        source: QuestionnaireError,
    },
    #[error("the latest published questionnaire is invalid: {0}")]
    Published(QuestionnaireError),
    #[error("the built-in questionnaire is invalid: {0}")]
    BuiltIn(QuestionnaireError),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// The configured questionnaire file, or the built-in questionnaire.
pub fn configured(file: Option<&std::path::Path>) -> Result<Questionnaire, LoadError> {
    match file {
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                path: shown.clone(),
                source,
            })?;
            Questionnaire::parse(&text).map_err(|source| LoadError::Invalid {
                path: shown,
                source,
            })
        }
        None => Questionnaire::built_in().map_err(LoadError::BuiltIn),
    }
}

/// The questionnaire to serve: the latest version published from the dashboard, else the
/// configured file, else the built-in one.
pub fn active(
    conn: &mut DbConn,
    file: Option<&std::path::Path>,
) -> Result<Questionnaire, LoadError> {
    let configured = configured(file)?;
    match latest(conn)? {
        Some(json) => Questionnaire::parse(&json).map_err(LoadError::Published),
        None => Ok(configured),
    }
}
