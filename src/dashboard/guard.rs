//! Who is asking: the session cookie, the signed-in user, role checks and CSRF on every form.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{Duration, Utc};

use crate::accounts::Role;
use crate::accounts::sessions::{self, Lifetime, Session};
use crate::domain::SessionToken;
use crate::error::AppError;
use crate::startup::AppState;
use crate::web::pages;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sipas_session";

/// Why a dashboard request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DashError {
    #[error("not signed in")]
    SignIn,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("the form is stale or forged (CSRF)")]
    Csrf,
    #[error("bad request")]
    BadRequest,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<diesel::result::Error> for DashError {
    fn from(e: diesel::result::Error) -> Self {
        DashError::App(AppError::from(e))
    }
}

impl ResponseError for DashError {
    fn status_code(&self) -> StatusCode {
        match self {
            DashError::SignIn => StatusCode::SEE_OTHER,
            DashError::Forbidden | DashError::Csrf => StatusCode::FORBIDDEN,
            DashError::NotFound => StatusCode::NOT_FOUND,
            DashError::BadRequest => StatusCode::BAD_REQUEST,
            DashError::App(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            DashError::SignIn => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/admin/login"))
                .finish(),
            DashError::App(e) => e.error_response(),
            other => HttpResponse::build(other.status_code())
                .content_type("text/html; charset=utf-8")
                .body(pages::error_page(other.status_code()).into_string()),
        }
    }
}

/// The signed-in user of a dashboard request.
#[derive(Debug, Clone)]
pub struct Viewer(pub Session);

impl Viewer {
    /// The user's role.
    pub fn role(&self) -> Role {
        self.0.user.role()
    }

    /// The language the user reads the dashboard in.
    pub fn lang(&self) -> crate::domain::Lang {
        crate::domain::Lang::negotiate(Some(&self.0.user.lang), None)
    }

    /// Refuses anyone whose role is not listed.
    pub fn require(&self, roles: &[Role]) -> Result<(), DashError> {
        if roles.contains(&self.role()) {
            Ok(())
        } else {
            Err(DashError::Forbidden)
        }
    }

    /// Parses an urlencoded form and checks its CSRF token against the session's.
    pub fn form(
        &self,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<BTreeMap<String, String>, DashError> {
        let fields = crate::web::form::fields(req, body).ok_or(DashError::BadRequest)?;
        let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
        if constant_time_eq(sent.as_bytes(), self.0.csrf_token.as_bytes()) {
            Ok(fields)
        } else {
            Err(DashError::Csrf)
        }
    }
}

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session lifetime configured.
pub fn lifetime(state: &AppState) -> Lifetime {
    Lifetime {
        idle: Duration::minutes(i64::from(state.settings.dashboard.session_idle_minutes)),
        absolute: Duration::hours(i64::from(state.settings.dashboard.session_absolute_hours)),
    }
}

impl FromRequest for Viewer {
    type Error = DashError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, DashError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req
            .cookie(SESSION_COOKIE)
            .and_then(|c| SessionToken::parse(c.value()));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(DashError::SignIn);
            };
            let lifetime = lifetime(&state);
            let now = Utc::now().naive_utc();
            let session = crate::error::run(&state.pool, move |conn| {
                Ok(sessions::find(conn, &token, now, lifetime)?)
            })
            .await?;
            session.map(Viewer).ok_or(DashError::SignIn)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
