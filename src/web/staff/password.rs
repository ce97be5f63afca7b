//! Passwords: a user changes their own (the current one required, checked with the sign-in
//! throttle); an admin resets someone's, which shows a one-time password that must be changed at
//! the next sign-in. A change ends every other session of the account. Passwords are hashed on a
//! blocking thread, never under a database write.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::AdminPage;
use super::guard::{Admin, PASSWORD_PATH, Posted, SESSION_COOKIE, Viewer};
use super::layout::{csrf_field, page};
use super::users::UsersPage;
use crate::accounts::password::{self, MIN_LENGTH};
use crate::accounts::throttle::{Attempt, SignInLimits, Verdict};
use crate::accounts::{audit, sessions, users};
use crate::web::client::client_address;
use crate::web::error::AppError;
use crate::web::html::{html, ok};
use crate::web::state::{AppState, blocking};

/// The query of the password page after a change.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
}

fn password_page(viewer: &Viewer, notice: Option<(bool, String)>) -> Markup {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let forced = viewer.0.user.must_change_password;
    page(
        Some(viewer),
        t("Đổi mật khẩu", "Change the password"),
        html! {
            h1 { (t("Đổi mật khẩu", "Change the password")) }
            @if forced {
                div.alert role="alert" { (t("Mật khẩu hiện tại do người khác đặt (mật khẩu tạm khi được mời hoặc được đặt lại). Xin đặt mật khẩu của riêng mình trước khi tiếp tục.", "Your current password was set by someone else (an invitation or a reset). Choose your own before going on.")) }
            }
            @if let Some((good, text)) = notice {
                div class=(if good { "done" } else { "alert" }) role=(if good { "status" } else { "alert" }) { (text) }
            }
            form method="post" action=(PASSWORD_PATH) {
                (csrf_field(viewer))
                input type="text" name="username" value=(viewer.0.user.email) autocomplete="username" hidden;
                label.block for="current" { (t("Mật khẩu hiện tại", "Current password")) }
                input #current type="password" name="current" autocomplete="current-password" required;
                label.block for="new" { (t("Mật khẩu mới (ít nhất ", "New password (at least ")) (MIN_LENGTH) (t(" ký tự)", " characters)")) }
                input #new type="password" name="new" autocomplete="new-password" minlength=(MIN_LENGTH) required;
                label.block for="again" { (t("Nhập lại mật khẩu mới", "The new password again")) }
                input #again type="password" name="again" autocomplete="new-password" minlength=(MIN_LENGTH) required;
                p {}
                button type="submit" { (t("Đổi mật khẩu", "Change the password")) }
            }
        },
    )
}

/// `GET /admin/password`.
pub async fn show_password(viewer: Viewer, q: web::Query<Done>) -> HttpResponse {
    let lang = viewer.lang();
    let notice = q.done.is_some().then(|| {
        (
            true,
            lang.pick(
                "Đã đổi mật khẩu. Các phiên đăng nhập khác của tài khoản đã kết thúc.",
                "The password was changed. Every other session of the account has ended.",
            )
            .to_owned(),
        )
    });
    ok(password_page(&viewer, notice))
}

/// The change form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    current: String,
    new: String,
    again: String,
}

/// `POST /admin/password`: changes the signed-in user's password.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    Posted(viewer, form): Posted<Viewer, ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let refuse = |vi: &str, en: &str| {
        Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            password_page(&viewer, Some((false, lang.pick(vi, en).to_owned()))),
        ))
    };
    if form.new != form.again {
        return refuse(
            "Hai lần nhập mật khẩu mới không giống nhau.",
            "The two new passwords differ.",
        );
    }
    if form.new.chars().count() < MIN_LENGTH {
        return refuse(
            &format!("Mật khẩu mới cần ít nhất {MIN_LENGTH} ký tự."),
            &format!("The new password needs at least {MIN_LENGTH} characters."),
        );
    }
    if form.new == form.current {
        return refuse(
            "Mật khẩu mới phải khác mật khẩu hiện tại.",
            "The new password must differ from the current one.",
        );
    }
    // The current password is a sign-in secret: guesses are throttled like sign-ins.
    let address = client_address(&req, &state.settings.security.trusted_proxies).to_string();
    let attempt = Attempt::new(&state.secret, &viewer.0.user.email, &address);
    let limits = SignInLimits::new(&state.settings.dashboard);
    let now = crate::clock::now();
    let admitted = {
        let attempt = attempt.clone();
        state
            .write(move |conn| Ok(limits.admit(conn, &attempt, now)?))
            .await?
    };
    if admitted != Verdict::Go {
        return refuse(
            "Nhập sai mật khẩu hiện tại quá nhiều lần. Xin thử lại sau ít phút.",
            "Too many wrong current passwords: try again in a few minutes.",
        );
    }
    let (stored, current, new) = (viewer.0.user.password_hash.clone(), form.current, form.new);
    let hashed = blocking(move || {
        Ok(password::verify(&current, &stored)
            .then(|| password::hash(&new))
            .transpose())
    })
    .await?;
    let (user, email) = (viewer.user_id(), viewer.0.user.email.clone());
    let hash = match hashed {
        Ok(Some(hash)) => hash,
        Ok(None) => {
            let attempt = attempt.clone();
            state
                .write(move |conn| {
                    limits.failed(conn, &attempt, now)?;
                    audit::record(conn, now, Some(user), "password.change.failed", &email)?;
                    Ok(())
                })
                .await?;
            return refuse(
                "Mật khẩu hiện tại không đúng.",
                "The current password is wrong.",
            );
        }
        Err(e) => return refuse(&e.to_string(), &e.to_string()),
    };
    let token = state
        .write(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                limits.succeeded(conn, &attempt, now)?;
                users::set_password(conn, user, &hash, false)?;
                audit::record(conn, now, Some(user), "password.change", &email)?;
                sessions::start(conn, user, now).map_err(AppError::internal)
            })
        })
        .await?;
    let cookie = Cookie::build(SESSION_COOKIE, token.as_str().to_owned())
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.server.public_url.starts_with("https://"))
        .finish();
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header((header::LOCATION, format!("{PASSWORD_PATH}?done=1")))
        .finish())
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct ResetForm {}

/// `POST /admin/users/{id}/password` (admins): a new one-time password, shown once, that must
/// be changed at the next sign-in; the account's sessions end.
pub async fn reset_password(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Posted(Admin(viewer), _): Posted<Admin, ResetForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let target = id.into_inner();
    let secret = password::generate().map_err(AppError::internal)?;
    let hash = {
        let secret = secret.clone();
        blocking(move || password::hash(&secret).map_err(AppError::internal)).await?
    };
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let email = state
        .write(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let Some(user) = users::find(conn, target)? else {
                    return Ok(None);
                };
                users::set_password(conn, target, &hash, true)?;
                audit::record(conn, now, Some(actor), "password.reset", &user.email)?;
                Ok::<_, diesel::result::Error>(Some(user.email))
            })
            .map_err(AppError::from)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    let notice = html! {
        (t("Đã đặt lại mật khẩu của ", "Reset the password of ")) strong { (email) }
        (t(". Mật khẩu tạm thời (chỉ hiện một lần; người dùng phải đổi khi đăng nhập): ", ". One-time password (shown once; it must be changed at sign-in): "))
        code { (secret) }
    };
    UsersPage::after(&viewer, &state, Ok(notice)).await
}
