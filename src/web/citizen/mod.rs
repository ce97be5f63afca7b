//! The citizen's side: the questionnaire by invitation link (`/s/{token}`) and by agency poster
//! (`/k/{agency}`, the unverified walk-in channel), with the pages they show.

pub mod survey;
pub mod views;
pub mod walk_in;

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
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
}

impl PageQuery {
    /// The questionnaire form asked for (short unless `form=long`).
    fn form(&self) -> Form {
        Form::parse(self.form.as_deref())
    }
}

/// The page language: `?lang=` first, then `Accept-Language`, Vietnamese otherwise.
fn language(req: &HttpRequest, query: &PageQuery) -> Lang {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(query.lang.as_deref(), header)
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
