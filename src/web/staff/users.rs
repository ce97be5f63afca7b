//! User management for admins: list accounts, invite one (a password shown once), disable or
//! re-enable; every change goes to the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::AdminPage;
use super::guard::{Admin, Posted, Viewer};
use super::layout::{csrf_field, page};
use crate::accounts::{Role, audit, password, users};
use crate::web::error::AppError;
use crate::web::html::html;
use crate::web::state::{AppState, blocking};

fn users_page(
    viewer: &Viewer,
    list: &[users::User],
    entries: &[audit::Entry],
    notice: Option<Markup>,
    entered: Option<&InviteForm>,
) -> Markup {
    let typed = |f: fn(&InviteForm) -> &str| entered.map(f).unwrap_or("");
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    page(
        Some(viewer),
        t("Người dùng", "Users"),
        html! {
            h1 { (t("Người dùng", "Users")) }
            @if let Some(n) = notice { div.alert role="status" { (n) } }
            div.scroll role="region" tabindex="0" aria-label=(t("Danh sách người dùng", "Users")) { table {
                thead { tr { th { "Email" } th { (t("Vai trò", "Role")) } th { (t("Trạng thái", "Status")) } th { span.sr-only { (t("Thao tác", "Actions")) } } } }
                tbody {
                    @for u in list {
                        tr {
                            td { (u.email) }
                            td { (u.role.label()) }
                            td { @if u.disabled { (t("Đã khóa", "Locked")) } @else { (t("Đang hoạt động", "Active")) } }
                            td {
                                form.inline method="post" action=(format!("/admin/users/{}/disabled", u.id)) {
                                    (csrf_field(viewer))
                                    input type="hidden" name="disabled" value=(if u.disabled { "false" } else { "true" });
                                    @if !u.disabled {
                                        label { input type="checkbox" name="confirm" value="1" required; " " (t("Xác nhận khóa (mọi phiên đăng nhập kết thúc)", "Confirm the lock (every session ends)")) }
                                        " "
                                    }
                                    button type="submit" { @if u.disabled { (t("Mở khóa", "Unlock")) } @else { (t("Khóa", "Lock")) } }
                                }
                                " "
                                form.inline method="post" action=(format!("/admin/users/{}/password", u.id)) {
                                    (csrf_field(viewer))
                                    button type="submit" { (t("Đặt lại mật khẩu", "Reset the password")) }
                                }
                            }
                        }
                    }
                }
            } }
            h2 { (t("Mời người dùng mới", "Invite a new user")) }
            form method="post" action="/admin/users" {
                (csrf_field(viewer))
                label.block for="email" { "Email" }
                input #email type="text" name="email" required value=(typed(|f| f.email.as_str()));
                label.block for="role" { (t("Vai trò", "Role")) }
                select #role name="role" {
                    @for role in [Role::Reviewer, Role::AgencyHead, Role::Admin] {
                        option value=(role.as_str()) selected[typed(|f| f.role.as_str()) == role.as_str()] { (role.label()) }
                    }
                }
                label.block for="agency" { (t("Mã cơ quan (chỉ với thủ trưởng cơ quan)", "Agency code (agency heads only)")) }
                input #agency type="text" name="agency" value=(typed(|f| f.agency.as_str()));
                p {}
                button type="submit" { (t("Tạo tài khoản", "Create the account")) }
            }
            h2 { (t("Nhật ký thay đổi gần đây", "Recent changes")) }
            div.scroll role="region" tabindex="0" aria-label=(t("Nhật ký thay đổi gần đây", "Recent changes")) { table {
                thead { tr { th { (t("Thời điểm (giờ Việt Nam)", "Time (Vietnam, UTC+7)")) } th { (t("Người thực hiện", "By")) } th { (t("Việc", "Action")) } th { (t("Chi tiết", "Details")) } } }
                tbody { @for e in entries { tr { td { (crate::clock::local_text(e.at)) } td { (e.email.as_deref().unwrap_or("—")) } td { (audit::action_label(&e.action, lang)) } td { (e.detail) } } } }
            } }
        },
    )
}

/// The users page.
pub struct UsersPage;

impl AdminPage for UsersPage {
    async fn render(
        viewer: &Viewer,
        state: &AppState,
        notice: Option<Markup>,
        status: StatusCode,
    ) -> Result<HttpResponse, AppError> {
        render(viewer, state, notice, status, None).await
    }
}

async fn render(
    viewer: &Viewer,
    state: &AppState,
    notice: Option<Markup>,
    status: StatusCode,
    entered: Option<&InviteForm>,
) -> Result<HttpResponse, AppError> {
    let (list, entries) = state
        .read(|conn| Ok((users::list(conn)?, audit::recent(conn, 30)?)))
        .await?;
    Ok(html(
        status,
        users_page(viewer, &list, &entries, notice, entered),
    ))
}

/// The invitation form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
    agency: String,
}

/// `POST /admin/users`: creates an account with a random password, shown once.
pub async fn invite_user(
    state: web::Data<AppState>,
    Posted(Admin(viewer), form): Posted<Admin, InviteForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let secret = password::generate().map_err(AppError::internal)?;
    let hash = {
        let secret = secret.clone();
        blocking(move || password::hash(&secret).map_err(AppError::internal)).await?
    };
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let typed = InviteForm {
        email: form.email.clone(),
        role: form.role.clone(),
        agency: form.agency.clone(),
    };
    let created = state
        .write(move |conn| {
            let new = users::NewUser {
                email: &form.email,
                role: &form.role,
                agency: Some(form.agency.as_str()).filter(|a| !a.trim().is_empty()),
            };
            // The invited user must replace the password shown here at their first sign-in.
            match users::insert(conn, new, &hash, true, now) {
                Ok(u) => {
                    audit::record(
                        conn,
                        now,
                        Some(actor),
                        "user.create",
                        &format!("{} ({})", u.email, u.role),
                    )?;
                    Ok(Ok(u.email))
                }
                Err(users::UserError::Database(e)) => Err(AppError::from(e)),
                Err(other) => Ok(Err(other.to_string())),
            }
        })
        .await?;
    match created {
        Ok(email) => {
            let notice = html! { (t("Đã tạo tài khoản ", "Created the account ")) strong { (email) } (t(". Mật khẩu tạm thời (chỉ hiện một lần; người dùng phải đổi khi đăng nhập lần đầu): ", ". Temporary password (shown once; it must be changed at the first sign-in): ")) code { (secret) } };
            UsersPage::after(&viewer, &state, Ok(notice)).await
        }
        Err(message) => {
            let notice = html! { (t("Chưa tạo được tài khoản: ", "The account was not created: ")) (message) };
            render(
                &viewer,
                &state,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&typed),
            )
            .await
        }
    }
}

/// The lock/unlock form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DisabledForm {
    disabled: String,
    confirm: String,
}

/// `POST /admin/users/{id}/disabled`: locks or unlocks an account (locking ends its sessions).
pub async fn set_disabled(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Posted(Admin(viewer), form): Posted<Admin, DisabledForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let disabled = form.disabled == "true";
    let (target, actor, now) = (id.into_inner(), viewer.user_id(), crate::clock::now());
    if target == actor && disabled {
        let refused = html! { (t("Không thể tự khóa tài khoản của chính mình.", "You cannot lock your own account.")) };
        return UsersPage::after(&viewer, &state, Err(refused)).await;
    }
    if disabled && form.confirm.trim().is_empty() {
        let refused = html! { (t("Chưa khóa: xin đánh dấu ô xác nhận bên cạnh nút Khóa.", "Not locked: tick the confirmation box beside the Lock button.")) };
        return UsersPage::after(&viewer, &state, Err(refused)).await;
    }
    let changed = state
        .write(move |conn| {
            let n = users::set_disabled(conn, target, disabled)?;
            if n > 0 {
                let action = if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                };
                audit::record(conn, now, Some(actor), action, &format!("user #{target}"))?;
            }
            Ok(n)
        })
        .await?;
    if changed == 0 {
        return Err(AppError::NotFound);
    }
    let done = if disabled {
        html! { (t("Đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đã kết thúc.", "The account is locked; its sessions have ended.")) }
    } else {
        html! { (t("Đã mở khóa tài khoản.", "The account is unlocked.")) }
    };
    UsersPage::after(&viewer, &state, Ok(done)).await
}
