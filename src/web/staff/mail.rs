//! Mail for admins: a preview of the next weekly digests, messages that failed after their last
//! attempt (with a retry), and the recipients: extra addresses and unsubscriptions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::guard::{Admin, Posted, Viewer};
use super::layout::{csrf_field, page};
use super::{AdminPage, audited};
use crate::accounts::{audit, users};
use crate::catalog::queries as catalog;
use crate::mail::digest::{self, Period};
use crate::mail::{outbox, recipients};
use crate::web::error::AppError;
use crate::web::html::{html, see_other};
use crate::web::state::AppState;

/// The mail page.
pub struct MailPage;

impl AdminPage for MailPage {
    async fn render(
        viewer: &Viewer,
        state: &AppState,
        notice: Option<Markup>,
        status: StatusCode,
    ) -> Result<HttpResponse, AppError> {
        let lang = viewer.lang();
        let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
        let settings = state.settings.clone();
        let today = crate::clock::today();
        let (preview, failed, list) = state
            .read(move |conn| {
                Ok((
                    digest::compose(conn, &settings, Period::Weekly, None, today)?,
                    outbox::failed(conn)?,
                    recipients::list(conn)?,
                ))
            })
            .await?;
        let on = state.settings.mail.transport != crate::config::MailTransport::None;
        let body = html! {
            h1 { (t("Thư tổng hợp và cảnh báo", "Digests and alerts")) }
            @if let Some(n) = notice { div.alert role="status" { (n) } }
            @if !on { p.alert { (t("Chưa cấu hình gửi thư (", "Mail is not configured (")) code { "[mail] transport = \"none\"" } (t("): thư không được gửi.", "): nothing is sent.")) } }
            h2 { (t("Thư gửi thất bại", "Failed messages")) }
            @if failed.is_empty() { p { (t("Không có.", "None.")) } }
            div.scroll role="region" tabindex="0" aria-label=(t("Thư gửi thất bại", "Failed messages")) { table {
                thead { tr { th { (t("Người nhận", "Recipient")) } th { (t("Tiêu đề", "Subject")) } th.num { (t("Số lần thử", "Attempts")) } th { (t("Lỗi gần nhất", "Last error")) } th { span.sr-only { (t("Thao tác", "Actions")) } } } }
                tbody { @for m in &failed { tr {
                    td { (m.recipient) } td { (m.subject) } td.num { (m.attempts) } td { (m.last_error.as_deref().unwrap_or("")) }
                    td { form.inline method="post" action="/admin/mail/retry" { (csrf_field(viewer)) input type="hidden" name="id" value=(m.id); button type="submit" { (t("Gửi lại", "Retry")) } } }
                } } }
            } }
            h2 { (t("Người nhận thêm và địa chỉ đã hủy nhận", "Extra recipients and unsubscribed addresses")) }
            div.scroll role="region" tabindex="0" aria-label=(t("Người nhận thêm và địa chỉ đã hủy nhận", "Extra recipients and unsubscribed addresses")) { table {
                thead { tr { th { "Email" } th { (t("Cơ quan", "Agency")) } th { (t("Loại", "Kind")) } th { span.sr-only { (t("Thao tác", "Actions")) } } } }
                tbody { @for r in &list { tr {
                    td { (r.email) } td { (r.agency.as_deref().unwrap_or(t("(cơ quan cải cách hành chính)", "(reform office)"))) } td { @if r.active { (t("nhận thêm", "extra recipient")) } @else { (t("đã hủy nhận", "unsubscribed")) } }
                    td { form.inline method="post" action="/admin/mail/recipients/remove" { (csrf_field(viewer)) input type="hidden" name="id" value=(r.id); button type="submit" { (t("Xóa", "Remove")) } } }
                } } }
            } }
            form.filters method="post" action="/admin/mail/recipients" {
                (csrf_field(viewer))
                div { label for="email" { "Email" } br; input #email type="text" name="email" required; }
                div { label for="agency" { (t("Mã cơ quan (trống: cơ quan cải cách)", "Agency code (empty: reform office)")) } br; input #agency type="text" name="agency"; }
                div { label for="active" { (t("Việc", "Action")) } br; select #active name="active" { option value="true" { (t("Thêm người nhận", "Add a recipient")) } option value="false" { (t("Hủy nhận thư", "Unsubscribe")) } } }
                div { button type="submit" { (t("Lưu", "Save")) } }
            }
            h2 { (t("Xem trước thư tổng hợp tuần (", "Preview of the weekly digests (")) (preview.len()) (t(" thư)", " messages)")) }
            @for (email, _, _) in &preview {
                details { summary { (email.to) " – " (email.subject) } pre { (email.text) } }
            }
        };
        Ok(html(status, page(Some(viewer), t("Thư", "Mail"), body)))
    }
}

/// A form naming one row by id.
#[derive(Debug, Deserialize)]
pub struct IdForm {
    id: i64,
}

/// `POST /admin/mail/retry`: a failed message goes back in the queue.
pub async fn retry(
    state: web::Data<AppState>,
    Posted(Admin(viewer), IdForm { id }): Posted<Admin, IdForm>,
) -> Result<HttpResponse, AppError> {
    let now = crate::clock::now();
    let detail = format!("outbox #{id}");
    audited(
        &state,
        viewer.user_id(),
        "mail.retry",
        detail,
        move |conn| outbox::retry(conn, id, now),
    )
    .await?;
    Ok(see_other("/admin/mail"))
}

/// The recipient form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecipientForm {
    email: String,
    agency: String,
    active: Option<String>,
}

/// `POST /admin/mail/recipients`: adds an extra recipient or unsubscribes an address.
pub async fn add_recipient(
    state: web::Data<AppState>,
    Posted(Admin(viewer), form): Posted<Admin, RecipientForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let Some(email) = users::normalise_email(&form.email) else {
        let refused = html! { (t("Email không hợp lệ.", "Not a valid email address.")) };
        return MailPage::after(&viewer, &state, Err(refused)).await;
    };
    let agency = Some(form.agency.trim().to_owned()).filter(|a| !a.is_empty());
    let active = form.active.as_deref() != Some("false");
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let added = state
        .write(move |conn| {
            let agency_id = match &agency {
                Some(code) => match catalog::agency_by_code(conn, code)? {
                    Some(a) => Some(a.id),
                    None => return Ok(false),
                },
                None => None,
            };
            recipients::add(conn, &email, agency_id, active, now)?;
            let action = if active {
                "mail.recipient.add"
            } else {
                "mail.unsubscribe"
            };
            audit::record(conn, now, Some(actor), action, &email)?;
            Ok(true)
        })
        .await?;
    if !added {
        let refused =
            html! { (t("Không có cơ quan mã này.", "There is no agency with this code.")) };
        return MailPage::after(&viewer, &state, Err(refused)).await;
    }
    Ok(see_other("/admin/mail"))
}

/// `POST /admin/mail/recipients/remove`.
pub async fn remove_recipient(
    state: web::Data<AppState>,
    Posted(Admin(viewer), IdForm { id }): Posted<Admin, IdForm>,
) -> Result<HttpResponse, AppError> {
    let detail = format!("#{id}");
    audited(
        &state,
        viewer.user_id(),
        "mail.recipient.remove",
        detail,
        move |conn| recipients::remove(conn, id),
    )
    .await?;
    Ok(see_other("/admin/mail"))
}
