//! Questionnaire versions for admins: the active version, publishing a new one from a file's
//! JSON (validated like at start-up), and which version the stored responses answered.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::AdminPage;
use super::guard::{Admin, Posted, Viewer};
use super::layout::{csrf_field, page};
use crate::accounts::audit;
use crate::questionnaire::versions::{self, PublishError};
use crate::web::error::AppError;
use crate::web::html::html;
use crate::web::state::AppState;

/// The questionnaires page.
pub struct QuestionnairesPage;

impl AdminPage for QuestionnairesPage {
    async fn render(
        viewer: &Viewer,
        state: &AppState,
        notice: Option<Markup>,
        status: StatusCode,
    ) -> Result<HttpResponse, AppError> {
        let lang = viewer.lang();
        let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
        let (published, usage) = state
            .read(|conn| Ok((versions::published(conn)?, versions::usage(conn)?)))
            .await?;
        let active = state.questionnaire();
        let body = html! {
            h1 { (t("Phiên bản phiếu khảo sát", "Questionnaire versions")) }
            @if let Some(n) = notice { div.alert role="status" { (n) } }
            p { (t("Đang dùng: ", "In use: ")) strong { (active.id) (t(" phiên bản ", " version ")) (active.version) } " – " (active.title.vi) }
            h2 { (t("Số phiếu theo phiên bản", "Responses by version")) }
            div.scroll role="region" tabindex="0" aria-label=(t("Số phiếu theo phiên bản", "Responses by version")) { table {
                thead { tr { th { (t("Phiếu", "Questionnaire")) } th { (t("Phiên bản", "Version")) } th.num { (t("Số phiếu trả lời", "Responses")) } } }
                tbody { @for (code, version, n) in &usage { tr { td { (code) } td { (version) } td.num { (n) } } } }
            } }
            h2 { (t("Các phiên bản đã công bố", "Published versions")) }
            @if published.is_empty() { p { (t("Chưa công bố phiên bản nào trên hệ thống; đang dùng phiếu mặc định.", "No version published here yet; the default questionnaire is in use.")) } }
            ul { @for (code, version, at) in &published { li { (code) (t(" phiên bản ", " version ")) (version) " · " (crate::clock::local_text(*at)) " " (t("(giờ Việt Nam)", "(Vietnam time)")) } } }
            h2 { (t("Công bố phiên bản mới", "Publish a new version")) }
            form method="post" action="/admin/questionnaires" {
                (csrf_field(viewer))
                label.block for="json" { (t("Nội dung tệp phiếu (JSON, cùng định dạng assets/questionnaires/sipas-2640-post.json; số phiên bản phải lớn hơn)", "The questionnaire file (JSON, the format of assets/questionnaires/sipas-2640-post.json; the version must be higher)")) }
                textarea #json name="json" required {}
                button type="submit" { (t("Công bố", "Publish")) }
            }
        };
        let title = t("Phiên bản phiếu", "Questionnaire versions");
        Ok(html(status, page(Some(viewer), title, body)))
    }
}

/// The publish form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PublishForm {
    json: String,
}

/// `POST /admin/questionnaires`: validates and publishes a new version, active at once.
pub async fn publish_questionnaire(
    state: web::Data<AppState>,
    Posted(Admin(viewer), PublishForm { json }): Posted<Admin, PublishForm>,
) -> Result<HttpResponse, AppError> {
    let lang = viewer.lang();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let (actor, now) = (viewer.user_id(), crate::clock::now());
    let outcome = state
        .write(
            move |conn| match versions::publish(conn, &json, Some(actor), now) {
                Ok(q) => {
                    audit::record(
                        conn,
                        now,
                        Some(actor),
                        "questionnaire.publish",
                        &format!("{} v{}", q.id, q.version),
                    )?;
                    Ok(Ok(q))
                }
                Err(PublishError::Database(e)) => Err(AppError::from(e)),
                Err(other) => Ok(Err(other.to_string())),
            },
        )
        .await?;
    let outcome = match outcome {
        Ok(q) => {
            let notice = html! { (t("Đã công bố ", "Published ")) (q.id) (t(" phiên bản ", " version ")) (q.version) (t("; người dân trả lời phiên bản này từ bây giờ.", "; citizens answer this version from now on.")) };
            state.set_questionnaire(q);
            Ok(notice)
        }
        Err(message) => Err(html! { (t("Chưa công bố: ", "Not published: ")) (message) }),
    };
    QuestionnairesPage::after(&viewer, &state, outcome).await
}
