//! Signing in and out: throttled by email, a fresh session on every sign-in (no fixation),
//! CSRF on the sign-in form by a double-submit cookie, every attempt in the audit log.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use maud::html;
use serde::Deserialize;

use super::audited;
use super::guard::{Posted, SESSION_COOKIE, Viewer, constant_time_eq};
use super::layout::page;
use crate::accounts::{Role, audit, password, sessions, users};
use crate::domain::{Lang, SessionToken};
use crate::web::error::AppError;
use crate::web::form;
use crate::web::html::{html, see_other};
use crate::web::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "sipas_login_csrf";

fn secure(state: &AppState) -> bool {
    state.settings.server.public_url.starts_with("https://")
}

fn cookie<'a>(state: &AppState, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .finish()
}

fn login_page(csrf: &str, message: Option<&str>) -> maud::Markup {
    page(
        None,
        "Đăng nhập",
        html! {
            h1 { "Đăng nhập hệ thống theo dõi chỉ số hài lòng" } p.muted lang="en" { "Sign in to the satisfaction index dashboard" }
            @if let Some(m) = message { div.alert role="alert" { (m) } }
            form method="post" action="/admin/login" {
                input type="hidden" name="csrf" value=(csrf);
                label.block for="email" { "Email" }
                input #email type="text" name="email" autocomplete="username" required;
                label.block for="password" { "Mật khẩu " span lang="en" { "(password)" } }
                input #password type="password" name="password" autocomplete="current-password" required;
                p {}
                button type="submit" { "Đăng nhập " span lang="en" { "· Sign in" } }
            }
        },
    )
}

/// `GET /admin/login`.
pub async fn show_login(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let csrf = SessionToken::generate().map_err(AppError::internal)?;
    let mut response = html(StatusCode::OK, login_page(csrf.as_str(), None));
    response
        .add_cookie(&cookie(&state, LOGIN_CSRF_COOKIE, csrf.as_str().to_owned()))
        .map_err(AppError::internal)?;
    Ok(response)
}

fn retry(status: StatusCode, csrf: &str, message: &str) -> HttpResponse {
    html(status, login_page(csrf, Some(message)))
}

/// The sign-in form (its CSRF token is checked against the sign-in cookie, not a session).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
}

/// `POST /admin/login`.
pub async fn submit_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form: LoginForm = form::parse(&req, &body).ok_or(AppError::BadRequest)?;
    let cookie_csrf = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if cookie_csrf.is_empty() || !constant_time_eq(cookie_csrf.as_bytes(), form.csrf.as_bytes()) {
        return Err(AppError::Csrf);
    }
    let email = users::normalise_email(&form.email).unwrap_or_default();
    let password = form.password;
    let now = crate::clock::now();
    let settings = state.settings.dashboard.clone();
    let since = now - Duration::minutes(i64::from(settings.login_lockout_minutes));
    let outcome = state
        .write(move |conn| {
            if sessions::recent_failures(conn, &email, since)?
                >= i64::from(settings.login_max_failures)
            {
                audit::record(conn, now, None, "login.throttled", &email)?;
                return Ok(Outcome::Throttled);
            }
            let user = users::find_by_email(conn, &email)?;
            let valid = match &user {
                Some(u) => password::verify(&password, &u.password_hash) && !u.disabled,
                None => {
                    password::verify_nothing(&password);
                    false
                }
            };
            match user {
                Some(u) if valid => {
                    sessions::clear_failures(conn, &email)?;
                    let token = sessions::start(conn, u.id, now).map_err(AppError::internal)?;
                    audit::record(conn, now, Some(u.id), "login", &email)?;
                    Ok(Outcome::SignedIn(token, u.role))
                }
                _ => {
                    sessions::record_failure(conn, &email, now)?;
                    audit::record(conn, now, user.map(|u| u.id), "login.failed", &email)?;
                    Ok(Outcome::Failed)
                }
            }
        })
        .await?;
    match outcome {
        Outcome::Throttled => Ok(retry(
            StatusCode::TOO_MANY_REQUESTS,
            &cookie_csrf,
            "Đăng nhập sai quá nhiều lần. Tài khoản tạm khóa đăng nhập, xin thử lại sau ít phút. (Too many failed sign-ins: try again in a few minutes.)",
        )),
        Outcome::Failed => Ok(retry(
            StatusCode::UNAUTHORIZED,
            &cookie_csrf,
            "Email hoặc mật khẩu không đúng. (Wrong email or password.)",
        )),
        Outcome::SignedIn(token, role) => Ok(HttpResponse::SeeOther()
            .cookie(cookie(&state, SESSION_COOKIE, token.as_str().to_owned()))
            .insert_header((header::LOCATION, home(role)))
            .finish()),
    }
}

enum Outcome {
    Throttled,
    Failed,
    SignedIn(SessionToken, Role),
}

/// The page a user starts on: agency heads their agency, everyone else the overview.
fn home(role: Role) -> &'static str {
    if role == Role::AgencyHead {
        "/admin/agencies/me"
    } else {
        "/admin"
    }
}

/// The language form.
#[derive(Debug, Deserialize)]
pub struct LangForm {
    lang: Option<String>,
}

/// `POST /admin/lang`: the language the user reads the dashboard (and digests) in.
pub async fn set_lang(
    state: web::Data<AppState>,
    Posted(viewer, form): Posted<Viewer, LangForm>,
) -> Result<HttpResponse, AppError> {
    let lang = Lang::negotiate(form.lang.as_deref(), None);
    let user = viewer.user_id();
    audited(
        &state,
        user,
        "user.lang",
        lang.tag().to_owned(),
        move |conn| users::set_lang(conn, user, lang),
    )
    .await?;
    Ok(see_other(home(viewer.role())))
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

/// `POST /admin/logout`: ends the session and clears the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    Posted(viewer, _): Posted<Viewer, EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = viewer.0.id;
    audited(
        &state,
        viewer.user_id(),
        "logout",
        String::new(),
        move |conn| sessions::end(conn, id),
    )
    .await?;
    let mut gone = cookie(&state, SESSION_COOKIE, String::new());
    gone.set_max_age(time::Duration::ZERO);
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/admin/login"))
        .finish())
}
