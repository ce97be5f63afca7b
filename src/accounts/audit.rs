//! The audit log: sign-ins and every change, with who and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::audit_log;

/// Records `action` (a short code such as `login` or `user.create`) with its detail.
pub fn record(
    conn: &mut DbConn,
    at: NaiveDateTime,
    user_id: Option<i64>,
    action: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::user_id.eq(user_id),
            audit_log::action.eq(action),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One audit entry with the actor's email.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub at: NaiveDateTime,
    pub email: Option<String>,
    pub action: String,
    pub detail: String,
}

/// The most recent entries, newest first.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<Entry>> {
    use crate::db::schema::users;
    audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::user_id)))
        .select((
            audit_log::at,
            users::email.nullable(),
            audit_log::action,
            audit_log::detail,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .load(conn)
}

/// The name of an audit action in `lang` (the stored code when it is unknown).
pub fn action_label(action: &str, lang: crate::domain::Lang) -> String {
    let (vi, en) = match action {
        "login" => ("Đăng nhập", "Signed in"),
        "login.failed" => ("Đăng nhập sai", "Failed sign-in"),
        "login.throttled" => ("Đăng nhập bị tạm chặn", "Sign-in refused (throttled)"),
        "logout" => ("Đăng xuất", "Signed out"),
        "user.create" => ("Tạo tài khoản", "Account created"),
        "user.disable" => ("Khóa tài khoản", "Account locked"),
        "user.enable" => ("Mở khóa tài khoản", "Account unlocked"),
        "user.lang" => ("Đổi ngôn ngữ", "Language changed"),
        "password.change" => ("Đổi mật khẩu", "Password changed"),
        "password.change.failed" => (
            "Đổi mật khẩu: sai mật khẩu hiện tại",
            "Password change: wrong current password",
        ),
        "password.reset" => ("Đặt lại mật khẩu", "Password reset"),
        "apikey.create" => ("Tạo khóa API", "API key created"),
        "apikey.revoke" => ("Thu hồi khóa API", "API key revoked"),
        "catalog.import" => ("Nhập danh mục", "Catalog imported"),
        "questionnaire.publish" => ("Ban hành phiếu khảo sát", "Questionnaire published"),
        "mail.recipient.add" => ("Thêm người nhận thư", "Mail recipient added"),
        "mail.recipient.remove" => ("Bỏ người nhận thư", "Mail recipient removed"),
        "mail.retry" => ("Gửi lại thư", "Mail retried"),
        "mail.unsubscribe" => ("Ngừng nhận thư", "Unsubscribed"),
        other => return other.to_owned(),
    };
    lang.pick(vi, en).to_owned()
}
