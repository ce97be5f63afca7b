//! Which error belongs where: queries return `diesel::result::Error`; [`run`] turns pool and
//! database trouble into [`AppError`], which handlers return. `AppError` keeps what the user is
//! told apart from the logged cause: not found → 404, unavailable database → 503 (with a page that
//! asks to retry), anything else → a logged 500. JSON APIs use `api::ApiError` instead.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::{DbConn, DbPool};
use crate::web::pages;

/// An error a page handler may return.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("too many requests")]
    TooManyRequests,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// True when retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AppError::Unavailable(_))
    }
}

impl From<DieselError> for AppError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::NotFound => AppError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                AppError::Unavailable(e.to_string())
            }
            // A lock held past the configured timeout: "database is locked" (SQLite),
            // "canceling statement due to lock timeout" (PostgreSQL).
            DieselError::DatabaseError(_, info)
                if info.message().contains("locked") || info.message().contains("lock timeout") =>
            {
                AppError::Unavailable(e.to_string())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("connection") =>
            {
                AppError::Unavailable(e.to_string())
            }
            _ => AppError::Internal(e.to_string()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::NotFound | AppError::TooManyRequests => {}
            AppError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            AppError::Internal(cause) => tracing::error!(%cause, "request failed"),
        }
        let mut response = HttpResponse::build(self.status_code());
        if self.is_unavailable() {
            response.insert_header(("Retry-After", "30"));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(pages::error_page(self.status_code()).into_string())
    }
}

/// Runs `f` with a pooled connection on the blocking thread pool.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}
