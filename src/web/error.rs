//! Which error belongs where: storage returns [`StoreError`], feature
//! modules their own errors; handlers return [`AppError`], which every lower error converts into
//! once, here. `AppError` keeps what the user is told apart from the logged cause and renders
//! the error page: not found → 404, unavailable or busy database → 503 (Retry-After), anything
//! else → a logged 500. The JSON API renders the same errors as JSON (`super::api::ApiError`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use super::pages;
use crate::db::StoreError;

/// An error a page handler may return.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("too many requests")]
    TooManyRequests,
    /// A dashboard page without a valid session: back to the sign-in page, which returns to
    /// `next` (the page asked for, already checked by `staff::login::safe_next`) afterwards.
    #[error("not signed in")]
    SignIn { next: Option<String> },
    #[error("the password must be changed first")]
    PasswordChange,
    #[error("forbidden")]
    Forbidden,
    #[error("the form is stale or forged (CSRF)")]
    Csrf,
    #[error("bad request")]
    BadRequest,
    #[error("the request body is too large")]
    TooLarge,
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

    /// A logged 500 for a failure with this cause.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        AppError::Internal(cause.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Unavailable(m) | StoreError::Busy(m) => AppError::Unavailable(m),
            StoreError::Other(m) => AppError::Internal(m),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::from(StoreError::from(e))
    }
}

impl From<crate::report::ReportError> for AppError {
    fn from(e: crate::report::ReportError) -> Self {
        match e {
            crate::report::ReportError::Database(d) => AppError::from(d),
            // A province code typed into a URL or a form that no province has.
            crate::report::ReportError::UnknownProvince(_) => AppError::NotFound,
            crate::report::ReportError::Period { .. } => AppError::BadRequest,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::SignIn { .. } | AppError::PasswordChange => StatusCode::SEE_OTHER,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::PasswordChange => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/admin/password"))
                    .finish();
            }
            AppError::SignIn { next } => {
                let query = next
                    .as_deref()
                    .and_then(|n| serde_urlencoded::to_string([("next", n)]).ok())
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, format!("/admin/login{query}")))
                    .finish();
            }
            AppError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            AppError::Internal(cause) => tracing::error!(%cause, "request failed"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if self.is_unavailable() {
            response.insert_header((header::RETRY_AFTER, "30"));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(pages::error_page(self.status_code()).into_string())
    }
}
