//! Signing in and out: throttled per address, account and site (see
//! [`crate::accounts::throttle`]), passwords checked outside any database lock, a fresh session
//! on every sign-in (no fixation),
//! CSRF on the sign-in form by a double-submit cookie, every attempt in the audit log. A page
//! asked for without a session comes back as `?next=` (see [`safe_next`]) and is where the
//! user lands after signing in.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::audited;
use super::guard::{Posted, SESSION_COOKIE, Viewer, constant_time_eq};
use super::layout::page;
use crate::accounts::throttle::{Attempt, SignInLimits, Verdict};
use crate::accounts::{Role, audit, password, sessions, users};
use crate::domain::{Lang, SessionToken};
use crate::web::client::client_address;
use crate::web::error::AppError;
use crate::web::form;
use crate::web::html::{html, see_other};
use crate::web::state::{AppState, blocking};

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

/// The longest `next` kept (the dashboard's own paths and queries are far shorter).
const MAX_NEXT: usize = 2048;

/// Where to go after signing in: `next` when it is a path of this site under `/admin` (with its
/// query), else `None`. Refused, because a browser could take them to another site or they leave
/// the dashboard: absolute URLs (`https://…`), `//host`, backslashes (browsers read `/\host` as
/// `//host`), control characters, spaces and anything outside printable ASCII, fragments, dot
/// segments (plain or percent-encoded) and encoded slashes, the sign-in and sign-out pages
/// themselves, and anything longer than `MAX_NEXT` (2,048 bytes).
pub fn safe_next(next: &str) -> Option<&str> {
    let path = next.split('?').next().unwrap_or(next);
    let lower = path.to_ascii_lowercase();
    let under_admin = path == "/admin" || path.starts_with("/admin/");
    let printable = next
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'#');
    let dot_segment = path
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    let encoded = ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e));
    let loops = ["/admin/login", "/admin/logout"].contains(&path.trim_end_matches('/'));
    (next.len() <= MAX_NEXT && under_admin && printable && !dot_segment && !encoded && !loops)
        .then_some(next)
}

/// The sign-in page's `?next=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_page(csrf: &str, message: Option<&str>, next: Option<&str>) -> maud::Markup {
    page(
        None,
        "Đăng nhập",
        html! {
            h1 { "Đăng nhập hệ thống theo dõi chỉ số hài lòng" } p.muted lang="en" { "Sign in to the satisfaction index dashboard" }
            @if let Some(m) = message { div.alert role="alert" { (m) } }
            form method="post" action="/admin/login" {
                input type="hidden" name="csrf" value=(csrf);
                @if let Some(next) = next { input type="hidden" name="next" value=(next); }
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

/// `GET /admin/login[?next=/admin/…]`: the form, carrying a safe `next` (others are dropped).
pub async fn show_login(
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let csrf = SessionToken::generate().map_err(AppError::internal)?;
    let next = query.next.as_deref().and_then(safe_next);
    let mut response = html(StatusCode::OK, login_page(csrf.as_str(), None, next));
    response
        .add_cookie(&cookie(&state, LOGIN_CSRF_COOKIE, csrf.as_str().to_owned()))
        .map_err(AppError::internal)?;
    Ok(response)
}

fn retry(status: StatusCode, csrf: &str, message: &str, next: Option<&str>) -> HttpResponse {
    html(status, login_page(csrf, Some(message), next))
}

/// The sign-in form (its CSRF token is checked against the sign-in cookie, not a session).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    /// The page asked for before signing in (checked with [`safe_next`]).
    next: String,
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
    let next = safe_next(&form.next).map(str::to_owned);
    let email = users::normalise_email(&form.email).unwrap_or_default();
    let address = client_address(&req, &state.settings.security.trusted_proxies).to_string();
    let attempt = Attempt::new(&state.secret, &email, &address);
    let limits = SignInLimits::new(&state.settings.dashboard);
    let now = crate::clock::now();
    // 1. Count the attempt (a short write), 2. check the password with no lock held, 3. record
    // the outcome (a short write).
    let admitted = {
        let (attempt, email) = (attempt.clone(), email.clone());
        state
            .write(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let verdict = limits.admit(conn, &attempt, now)?;
                    let user = users::find_by_email(conn, &email)?;
                    if verdict != Verdict::Go
                        && let Some(u) = &user
                    {
                        audit::record(conn, now, Some(u.id), "login.throttled", &email)?;
                    }
                    Ok::<_, diesel::result::Error>((verdict, user))
                })
                .map_err(AppError::from)
            })
            .await?
    };
    let user = match admitted {
        (Verdict::Go, user) => user,
        (refused, _) => return Ok(throttled(refused, &cookie_csrf, next.as_deref())),
    };
    let password = form.password;
    let valid = blocking(move || {
        Ok(match &user {
            Some(u) => (password::verify(&password, &u.password_hash) && !u.disabled)
                .then_some((u.id, u.role)),
            None => {
                password::verify_nothing(&password);
                None
            }
        }
        .ok_or(user.map(|u| u.id)))
    })
    .await?;
    let outcome = state
        .write(move |conn| {
            crate::db::write_transaction(conn, |conn| match valid {
                Ok((id, role)) => {
                    limits.succeeded(conn, &attempt, now)?;
                    let token = sessions::start(conn, id, now).map_err(AppError::internal)?;
                    audit::record(conn, now, Some(id), "login", &email)?;
                    Ok(Some((token, role)))
                }
                Err(known) => {
                    limits.failed(conn, &attempt, now)?;
                    // Failures on real accounts are audited; failures on unknown emails are
                    // only counted (the log must not grow with every anonymous guess).
                    if let Some(id) = known {
                        audit::record(conn, now, Some(id), "login.failed", &email)?;
                    }
                    Ok(None)
                }
            })
        })
        .await?;
    match outcome {
        None => Ok(retry(
            StatusCode::UNAUTHORIZED,
            &cookie_csrf,
            "Email hoặc mật khẩu không đúng. (Wrong email or password.)",
            next.as_deref(),
        )),
        Some((token, role)) => Ok(HttpResponse::SeeOther()
            .cookie(cookie(&state, SESSION_COOKIE, token.as_str().to_owned()))
            .insert_header((header::LOCATION, next.as_deref().unwrap_or(home(role))))
            .finish()),
    }
}

/// The page of a refused attempt.
fn throttled(verdict: Verdict, csrf: &str, next: Option<&str>) -> HttpResponse {
    let message = match verdict {
        Verdict::AddressLocked { minutes } => format!(
            "Đăng nhập sai quá nhiều lần từ địa chỉ này. Xin thử lại sau {minutes} phút. \
             (Too many failed sign-ins from this address: try again in {minutes} minutes.)"
        ),
        Verdict::AccountSlowed { seconds } => format!(
            "Tài khoản này vừa bị thử mật khẩu sai nhiều lần; để bảo vệ tài khoản, mỗi lần thử \
             phải cách nhau {seconds} giây. Xin thử lại sau ít giây. (This account has had many \
             failed sign-ins: one attempt every {seconds} seconds.)"
        ),
        Verdict::SiteBusy | Verdict::Go => "Hệ thống đang nhận quá nhiều lượt đăng nhập. Xin \
             thử lại sau một phút. (Too many sign-ins right now: try again in a minute.)"
            .to_owned(),
    };
    retry(StatusCode::TOO_MANY_REQUESTS, csrf, &message, next)
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

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site_under_admin() {
        for good in [
            "/admin",
            "/admin/",
            "/admin/agencies/TN-STNMT?month=2026-10",
            "/admin?from=2026-11-16&to=2026-11-22",
            "/admin/cases/17",
        ] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "https://evil.example/admin",
            "//evil.example/admin",
            "///evil.example",
            "/\\evil.example",
            "/admin\\..\\..\\evil",
            "\\\\evil.example",
            "/admin/../../evil",
            "/admin/%2e%2e/%2E%2E//evil.example",
            "/admin/%2f%2fevil.example",
            "/admin/\r\nSet-Cookie: x=1",
            "/admin/\u{7f}",
            "/admin/x y",
            "/admin/đơn-vị",
            "/admin#frag",
            "/administrator",
            "/admin-evil",
            "admin/agencies",
            "javascript:alert(1)",
            "/admin/login",
            "/admin/logout/",
            "/s/token",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/admin/{}", "a".repeat(3000))), None);
    }
}
