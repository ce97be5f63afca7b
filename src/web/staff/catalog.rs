//! Catalog and API keys for admins: agencies and procedures (listed, and imported from pasted
//! CSV with the same validation as the command line), API keys (created and shown once,
//! revoked), every change in the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::AdminPage;
use super::guard::{Admin, Posted, Viewer};
use super::layout::{csrf_field, page};
use crate::accounts::audit;
use crate::apikeys::{self, KeyError, KeyInfo, Owner};
use crate::catalog::{Agency, Procedure, import, queries};
use crate::csvfile::ImportError;
use crate::web::error::AppError;
use crate::web::html::html;
use crate::web::state::AppState;

struct Catalog {
    agencies: Vec<Agency>,
    procedures: Vec<Procedure>,
    keys: Vec<KeyInfo>,
}

fn catalog_page(
    viewer: &Viewer,
    c: &Catalog,
    notice: Option<Markup>,
    entered: Option<&ImportForm>,
) -> Markup {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let code_of = |id: Option<i64>| {
        id.and_then(|id| c.agencies.iter().find(|a| a.id == id))
            .map(|a| a.code.as_str())
            .unwrap_or("—")
    };
    page(
        Some(viewer),
        t("Danh mục và khóa API", "Catalog and API keys"),
        html! {
            h1 { (t("Danh mục và khóa API", "Catalog and API keys")) }
            @if let Some(n) = notice { div.alert role="status" { (n) } }
            h2 { (t("Khóa API của hệ thống một cửa", "API keys of one-stop systems")) }
            form.filters method="post" action="/admin/catalog/keys" {
                (csrf_field(viewer))
                div { label for="owner" { (t("Mã cơ quan hoặc tỉnh", "Agency or province code")) } br; input #owner type="text" name="owner" required; }
                div { label for="kind" { (t("Phạm vi", "Scope")) } br; select #kind name="kind" { option value="agency" { (t("Cơ quan (và đơn vị trực thuộc)", "Agency (and those under it)")) } option value="province" { (t("Cả tỉnh", "Whole province")) } } }
                div { button type="submit" { (t("Tạo khóa", "Create a key")) } }
            }
            div.scroll role="region" tabindex="0" aria-label=(t("Khóa API", "API keys")) { table {
                thead { tr { th { (t("Tiền tố", "Prefix")) } th { (t("Phạm vi", "Scope")) } th { (t("Tạo lúc (giờ Việt Nam)", "Created (Vietnam time)")) } th { (t("Trạng thái", "Status")) } th { span.sr-only { (t("Thao tác", "Actions")) } } } }
                tbody { @for k in &c.keys { tr {
                    td { code { (k.prefix) } }
                    td { (k.agency.as_deref().or(k.province.as_deref()).unwrap_or("—")) }
                    td { (crate::clock::local_text(k.created_at)) }
                    td { @if k.revoked_at.is_some() { (t("Đã thu hồi", "Revoked")) } @else { (t("Đang dùng", "In use")) } }
                    td { @if k.revoked_at.is_none() {
                        form.inline method="post" action="/admin/catalog/keys/revoke" {
                            (csrf_field(viewer))
                            input type="hidden" name="prefix" value=(k.prefix);
                            label { input type="checkbox" name="confirm" value="1" required; " " (t("Tôi biết hệ thống một cửa đang dùng khóa này sẽ không gửi được hồ sơ nữa", "I know a one-stop system using this key can no longer report dossiers")) }
                            " "
                            button type="submit" { (t("Thu hồi", "Revoke")) }
                        }
                    } }
                } } }
            } }
            h2 { (t("Nhập danh mục từ CSV", "Import the catalog from CSV")) }
            form method="post" action="/admin/catalog/import" {
                (csrf_field(viewer))
                label.block for="what" { (t("Loại danh mục", "Catalog")) }
                select #what name="what" {
                    @for (value, label) in [("agencies", "Cơ quan: code,name,level,province_code,parent_code"), ("procedures", "Thủ tục: code,name,field,level"), ("links", "Cơ quan – thủ tục: agency_code,procedure_code"), ("successions", "Sáp nhập, chia tách: old_code,new_code,effective_date[,share][,kind]")] {
                        option value=(value) selected[entered.is_some_and(|f| f.what == value)] { (label) }
                    }
                }
                label.block for="csv" { (t("Nội dung CSV (có dòng tiêu đề)", "CSV content (with a header row)")) }
                textarea #csv name="csv" required { (entered.map(|f| f.csv.as_str()).unwrap_or("")) }
                button type="submit" { (t("Nhập (tất cả hoặc không gì cả)", "Import (all rows or none)")) }
            }
            h2 { (t("Cơ quan (", "Agencies (")) (c.agencies.len()) ")" }
            div.scroll role="region" tabindex="0" aria-label=(t("Danh mục cơ quan", "Agencies in the catalog")) { table {
                thead { tr { th { (t("Mã", "Code")) } th { (t("Tên", "Name")) } th { (t("Cấp", "Level")) } th { (t("Trực thuộc", "Under")) } th { (t("Hiệu lực", "In force")) } } }
                tbody { @for a in &c.agencies { tr { td { a href=(format!("/admin/agencies/{}", a.code)) { (a.code) } } td { (a.name) } td { (crate::domain::Level::text_of(&a.level, lang)) } td { (code_of(a.parent_id)) }
                    td { (span_text(a.valid_from, a.valid_to, lang)) } } } }
            } }
            h2 { (t("Thủ tục (", "Procedures (")) (c.procedures.len()) ")" }
            div.scroll role="region" tabindex="0" aria-label=(t("Danh mục thủ tục", "Procedures in the catalog")) { table {
                thead { tr { th { (t("Mã", "Code")) } th { (t("Tên", "Name")) } th { (t("Lĩnh vực", "Field")) } th { (t("Cấp", "Level")) } } }
                tbody { @for p in &c.procedures { tr { td { (p.code) } td { (p.name) } td { (p.field) } td { (crate::domain::Level::text_of(&p.level, lang)) } } } }
            } }
        },
    )
}

/// An agency's life span ("01/07/2025 –", "– 30/06/2025", "—" when always in force).
fn span_text(
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    lang: crate::domain::Lang,
) -> String {
    match (from, to) {
        (None, None) => "—".to_owned(),
        (from, to) => {
            let day =
                |d: Option<chrono::NaiveDate>| d.map(crate::clock::day_text).unwrap_or_default();
            let ended = if to.is_some() {
                lang.pick(" (đã kết thúc)", " (ended)")
            } else {
                ""
            };
            format!("{} – {}{ended}", day(from), day(to))
        }
    }
}

/// The catalog page.
pub struct CatalogPage;

impl AdminPage for CatalogPage {
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
    entered: Option<&ImportForm>,
) -> Result<HttpResponse, AppError> {
    let c = state
        .read(|conn| {
            Ok(Catalog {
                agencies: queries::all_agencies(conn)?,
                procedures: queries::all_procedures(conn)?,
                keys: apikeys::list(conn)?,
            })
        })
        .await?;
    Ok(html(status, catalog_page(viewer, &c, notice, entered)))
}

/// The new key form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyForm {
    kind: String,
    owner: String,
}

/// `POST /admin/catalog/keys`: creates a key, shown once.
pub async fn create_key(
    state: web::Data<AppState>,
    Posted(Admin(viewer), form): Posted<Admin, KeyForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let code = form.owner.trim().to_owned();
    let owner = match form.kind.as_str() {
        "province" => Owner::Province(code),
        _ => Owner::Agency(code),
    };
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let created = state
        .write(move |conn| match apikeys::create(conn, &owner, now) {
            Ok(key) => {
                audit::record(
                    conn,
                    now,
                    Some(actor),
                    "apikey.create",
                    &format!("{} for {owner:?}", key.prefix()),
                )?;
                Ok(Ok(key))
            }
            Err(KeyError::Database(e)) => Err(AppError::from(e)),
            Err(other) => Ok(Err(other.to_string())),
        })
        .await?;
    let outcome = match created {
        Ok(key) => Ok(
            html! { (t("Khóa API mới (chỉ hiện một lần, hãy lưu lại ngay): ", "New API key (shown once, save it now): ")) code { (key.as_str()) } },
        ),
        Err(message) => {
            Err(html! { (t("Chưa tạo được khóa: ", "The key was not created: ")) (message) })
        }
    };
    CatalogPage::after(&viewer, &state, outcome).await
}

/// The revoke form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    prefix: String,
    confirm: String,
}

/// `POST /admin/catalog/keys/revoke`: revokes a key at once.
pub async fn revoke_key(
    state: web::Data<AppState>,
    Posted(Admin(viewer), RevokeForm { prefix, confirm }): Posted<Admin, RevokeForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    if confirm.trim().is_empty() {
        let refused = html! { (t("Chưa thu hồi: xin đánh dấu ô xác nhận bên cạnh nút Thu hồi.", "Not revoked: tick the confirmation box beside the Revoke button.")) };
        return CatalogPage::after(&viewer, &state, Err(refused)).await;
    }
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let shown = prefix.clone();
    let n = state
        .write(move |conn| {
            let n = apikeys::revoke(conn, &prefix, now)?;
            if n > 0 {
                audit::record(conn, now, Some(actor), "apikey.revoke", &prefix)?;
            }
            Ok(n)
        })
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    let done = html! { (t("Đã thu hồi khóa ", "Revoked the key ")) code { (shown) } "." };
    CatalogPage::after(&viewer, &state, Ok(done)).await
}

/// The pasted CSV form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportForm {
    what: String,
    csv: String,
}

/// `POST /admin/catalog/import`: imports pasted CSV, all rows or none.
pub async fn import_catalog(
    state: web::Data<AppState>,
    Posted(Admin(viewer), form): Posted<Admin, ImportForm>,
) -> Result<HttpResponse, AppError> {
    let typed = ImportForm {
        what: form.what.clone(),
        csv: form.csv.clone(),
    };
    let ImportForm { what, csv } = form;
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let label = what.clone();
    let outcome = state
        .write(move |conn| {
            let result = match what.as_str() {
                "agencies" => import::import_agencies(conn, csv.as_bytes()),
                "procedures" => import::import_procedures(conn, csv.as_bytes()),
                "links" => import::import_links(conn, csv.as_bytes()),
                "successions" => {
                    crate::catalog::successions::import_successions(conn, csv.as_bytes())
                }
                _ => return Ok(Err(vec!["loại danh mục không hợp lệ".to_owned()])),
            };
            match result {
                Ok(n) => {
                    audit::record(
                        conn,
                        now,
                        Some(actor),
                        "catalog.import",
                        &format!("{n} {what}"),
                    )?;
                    Ok(Ok(n))
                }
                Err(ImportError::Lines(lines)) => Ok(Err(lines
                    .iter()
                    .map(|l| format!("dòng {}: {}", l.line, l.message))
                    .collect())),
                Err(ImportError::Database(e)) => Err(AppError::from(e)),
                Err(ImportError::Store(e)) => Err(AppError::from(e)),
                Err(ImportError::Read(e)) => Ok(Err(vec![e])),
                // Only the staged response import stops these ways.
                Err(e @ (ImportError::Abandoned(_) | ImportError::Unpublished { .. })) => {
                    Err(AppError::Internal(e.to_string()))
                }
            }
        })
        .await?;
    if outcome.is_ok() {
        // Names, levels and peer groups of agencies are in every report.
        state.reports.clear();
    }
    match outcome {
        Ok(n) => {
            let done =
                html! { (t("Đã nhập ", "Imported ")) (n) (t(" dòng (", " rows (")) (label) ")." };
            CatalogPage::after(&viewer, &state, Ok(done)).await
        }
        Err(lines) => {
            let refused = html! { (t("Chưa nhập gì vì tệp có lỗi:", "Nothing was imported; the file has errors:")) ul { @for l in &lines { li { (l) } } } };
            render(
                &viewer,
                &state,
                Some(refused),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&typed),
            )
            .await
        }
    }
}
