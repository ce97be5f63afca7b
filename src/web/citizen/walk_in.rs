//! `/k/{agency}`: the questionnaire for citizens without a dossier link (the agency's poster),
//! rate-limited per client and agency.

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;

use super::views::{self, Entered, FormPage};
use super::{PageQuery, form_of, keep_for_later, language, status_page};
use crate::catalog::{Agency, Procedure, queries as catalog};
use crate::domain::{Code, Lang};
use crate::questionnaire::{Form, Timeliness};
use crate::responses::submission::submit_walk_in;
use crate::web::client::client_address;
use crate::web::error::AppError;
use crate::web::form;
use crate::web::html::{html, see_other};
use crate::web::state::{AppState, blocking};

/// The agency named by a poster URL, with the procedures a citizen may pick.
async fn walk_in_agency(
    state: &AppState,
    code: &str,
) -> Result<Option<(Agency, Vec<Procedure>)>, AppError> {
    let Some(code) = Code::parse(code) else {
        return Ok(None);
    };
    state
        .read(move |conn| {
            let Some(agency) = catalog::agency_by_code(conn, code.as_str())? else {
                return Ok(None);
            };
            let procedures = catalog::procedures_for_agency(conn, &agency)?;
            Ok(Some((agency, procedures)))
        })
        .await
}

fn walk_in_page(
    state: &AppState,
    lang: Lang,
    form: Form,
    (agency, procedures): (&Agency, &[Procedure]),
    entered: &Entered,
) -> Markup {
    let path = format!("/k/{}", agency.code);
    views::form_page(&FormPage {
        lang,
        questionnaire: &state.questionnaire(),
        form,
        timeliness: Timeliness::Unknown,
        agency_name: &agency.name,
        procedure_name: None,
        path: &path,
        entered,
        procedures: Some(procedures),
    })
}

/// `GET /k/{agency}`: the questionnaire for citizens without a dossier link.
pub async fn show_walk_in(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&req, &query);
    let Some((agency, procedures)) = walk_in_agency(&state, &code).await? else {
        return Ok(status_page(StatusCode::NOT_FOUND));
    };
    if query.sent.is_some() {
        return Ok(html(
            StatusCode::OK,
            views::thanks_page(lang, &format!("/k/{}", agency.code)),
        ));
    }
    let page = walk_in_page(
        &state,
        lang,
        query.form(),
        (&agency, &procedures),
        &Entered::default(),
    );
    Ok(html(StatusCode::OK, page))
}

/// `POST /k/{agency}`: store a walk-in response (rate-limited per client and agency).
pub async fn submit_walk_in_form(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let lang = language(&req, &query);
    let path = format!("/k/{code}");
    let agency = match walk_in_agency(&state, &code).await {
        Err(e) if e.is_unavailable() => {
            let fields = form::parse(&req, &body).unwrap_or_default();
            return Ok(keep_for_later(&e, lang, &path, &fields));
        }
        other => other?,
    };
    let Some((agency, procedures)) = agency else {
        return Ok(status_page(StatusCode::NOT_FOUND));
    };
    let client = client_address(&req, &state.settings.security.trusted_proxies);
    if !state.walkin.allows((client, agency.id), Instant::now()) {
        return Ok(status_page(StatusCode::TOO_MANY_REQUESTS));
    }
    let Some(fields) = form::parse::<BTreeMap<String, String>>(&req, &body) else {
        return Ok(status_page(StatusCode::BAD_REQUEST));
    };
    let shared = state.clone();
    let agency_id = agency.id;
    let (outcome, fields, agency, procedures) = blocking(move || {
        let questionnaire = shared.questionnaire();
        let outcome = submit_walk_in(
            &shared.submit(&questionnaire, lang),
            &agency,
            &procedures,
            &fields,
        );
        Ok((outcome, fields, agency, procedures))
    })
    .await?;
    match outcome {
        Err(e) if e.is_transient() => Ok(keep_for_later(&e, lang, &path, &fields)),
        Err(e) => Err(e.into()),
        Ok(Err(rejected)) => {
            let form = form_of(&fields);
            let entered = Entered::rejected(fields, rejected);
            let page = walk_in_page(&state, lang, form, (&agency, &procedures), &entered);
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Ok(Ok(_)) => {
            state.walkin.record((client, agency_id), Instant::now());
            Ok(see_other(format!(
                "/k/{}?lang={}&sent=1",
                agency.code,
                lang.tag()
            )))
        }
    }
}
