//! Who is asking: the session cookie, the signed-in user, the role a page needs and CSRF on
//! every form. Handlers say what they need in their signature: [`Viewer`] (anyone signed in),
//! [`Staff`] (admins and reviewers), [`Admin`], and [`Posted`] for a form sent by one of them
//! whose CSRF token matches the session's.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Duration;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::login::safe_next;
use crate::accounts::Role;
use crate::accounts::sessions::{self, Lifetime, Session};
use crate::domain::{Lang, SessionToken};
use crate::web::error::AppError;
use crate::web::form;
use crate::web::state::AppState;

/// The page where users change their password.
pub const PASSWORD_PATH: &str = "/admin/password";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sipas_session";

/// The signed-in user of a dashboard request.
#[derive(Debug, Clone)]
pub struct Viewer(pub Session);

impl AsRef<Viewer> for Viewer {
    fn as_ref(&self) -> &Viewer {
        self
    }
}

impl Viewer {
    /// The user's role.
    pub fn role(&self) -> Role {
        self.0.user.role
    }

    /// The language the user reads the dashboard in.
    pub fn lang(&self) -> Lang {
        self.0.user.lang
    }

    /// The user's id.
    pub fn user_id(&self) -> i64 {
        self.0.user.id
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
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Viewer, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req
            .cookie(SESSION_COOKIE)
            .and_then(|c| SessionToken::parse(c.value()));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // Until a password someone else chose is changed, only changing it (or signing out) works.
        let changing_password = matches!(req.path(), PASSWORD_PATH | "/admin/logout");
        // A page (never a form's target) asked for without a session is where sign-in returns.
        let next = matches!(*req.method(), Method::GET | Method::HEAD)
            .then(|| req.uri().path_and_query().map(|p| p.as_str()))
            .flatten()
            .and_then(safe_next)
            .map(str::to_owned);
        let sign_in = move || AppError::SignIn { next };
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(sign_in());
            };
            let lifetime = lifetime(&state);
            let now = crate::clock::now();
            let session = state
                .read(move |conn| Ok(sessions::find(conn, &token, now, lifetime)?))
                .await?;
            match session {
                None => Err(sign_in()),
                Some(s) if s.user.must_change_password && !changing_password => {
                    Err(AppError::PasswordChange)
                }
                Some(s) => Ok(Viewer(s)),
            }
        })
    }
}

/// Declares an extractor for a signed-in user whose role is one of `$roles`.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident: $($roles:path),+) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Viewer);

        impl AsRef<Viewer> for $name {
            fn as_ref(&self) -> &Viewer {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = Viewer;
            fn deref(&self) -> &Viewer {
                &self.0
            }
        }

        impl FromRequest for $name {
            type Error = AppError;
            type Future = Pin<Box<dyn Future<Output = Result<$name, AppError>>>>;

            fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
                let viewer = Viewer::from_request(req, payload);
                Box::pin(async move {
                    let viewer = viewer.await?;
                    if [$($roles),+].contains(&viewer.role()) {
                        Ok($name(viewer))
                    } else {
                        Err(AppError::Forbidden)
                    }
                })
            }
        }
    };
}

role_extractor!(
    /// A signed-in admin or reviewer (the reform office).
    Staff: Role::Admin, Role::Reviewer
);
role_extractor!(
    /// A signed-in admin.
    Admin: Role::Admin
);

/// A dashboard form: who sent it (`R`: [`Viewer`], [`Staff`] or [`Admin`]) and its fields
/// (`T`), urlencoded, with a `csrf` field that matches the session's token. Checked in this
/// order: signed in with the role (303 to sign-in, 403), a form body of `T` (400), CSRF (403).
#[derive(Debug)]
pub struct Posted<R, T>(pub R, pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<R, T> FromRequest for Posted<R, T>
where
    R: FromRequest<Error = AppError> + AsRef<Viewer> + 'static,
    T: DeserializeOwned + 'static,
{
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Posted<R, T>, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let who = R::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let who = who.await?;
            let body = body.await.map_err(|e| form::unreadable(&e))?;
            let sent: CsrfField = form::parse(&req, &body).ok_or(AppError::BadRequest)?;
            let expected = &who.as_ref().0.csrf_token;
            if !constant_time_eq(sent.csrf.as_bytes(), expected.as_bytes()) {
                return Err(AppError::Csrf);
            }
            let fields = form::parse(&req, &body).ok_or(AppError::BadRequest)?;
            Ok(Posted(who, fields))
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
