//! The citizen's side: the questionnaire by invitation link (`/s/{token}`) and by agency poster
//! (`/k/{agency}`, the unverified walk-in channel), with the pages they show, and the opt-out
//! link of outreach messages (`/u/{token}`).

pub mod survey;
pub mod unsubscribe;
pub mod views;
pub mod walk_in;

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Deserialize;

use super::html::{html, retry_later};
use super::pages::error_page;
use crate::domain::Lang;
use crate::questionnaire::Form;

/// Query parameters of the survey pages.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    form: Option<String>,
    /// Set after a walk-in submission (POST-redirect-GET to the thank-you page).
    sent: Option<String>,
    /// Set when the answers reported being asked for money: the thank-you page says where to
    /// complain.
    help: Option<String>,
}

impl PageQuery {
    /// True when the thank-you page should show where to report a request for money.
    fn help(&self) -> bool {
        self.help.is_some()
    }

    /// The questionnaire form asked for (short unless `form=long`).
    fn form(&self) -> Form {
        Form::parse(self.form.as_deref())
    }
}

/// The page language: Vietnamese unless the citizen chose English (`?lang=en`). A phone's
/// language says little here (many phones in Vietnam are set to English), and the agency and
/// procedure names are Vietnamese anyway.
fn language(query: &PageQuery) -> Lang {
    Lang::negotiate(query.lang.as_deref(), None)
}

/// True when the answers say an official asked for money (E7 = 3, "Có, yêu cầu").
fn money_asked(fields: &BTreeMap<String, String>) -> bool {
    fields.get("E7").is_some_and(|v| v.trim() == "3")
}

/// Who runs the survey, named from the province's name.
fn organiser(province: &str, lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("UBND tỉnh {province}"),
        Lang::En => format!("the People's Committee of {province} province"),
    }
}

/// The language the citizen switched to with the page's language button (which posts the form
/// so that the answers given so far are kept), if they did.
fn switching(fields: &BTreeMap<String, String>) -> Option<Lang> {
    fields
        .get("switch_lang")
        .map(|tag| Lang::negotiate(Some(tag), None))
}

/// The form a submitted body selects (short unless `form=long`).
fn form_of(fields: &BTreeMap<String, String>) -> Form {
    Form::parse(fields.get("form").map(String::as_str))
}

/// 503 with the citizen's answers kept in a form that sends them again (Retry-After: 30).
fn keep_for_later(
    cause: &dyn std::fmt::Display,
    lang: Lang,
    path: &str,
    fields: &BTreeMap<String, String>,
) -> HttpResponse {
    tracing::warn!(%cause, "submission not stored: database unavailable");
    let action = format!("{path}?lang={}", lang.tag());
    retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        views::resend_page(lang, &action, fields),
    )
}

/// The generic page for `status`.
fn status_page(status: StatusCode) -> HttpResponse {
    html(status, error_page(status))
}
