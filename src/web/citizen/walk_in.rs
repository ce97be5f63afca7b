//! `/k/{agency}`: the questionnaire for citizens without a dossier link (the agency's poster),
//! rate-limited per client and agency (counted in the database, see
//! [`crate::web::ratelimit`]).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;

use super::views::{self, Entered, FormPage};
use super::{
    PageQuery, form_of, keep_for_later, language, money_asked, organiser, status_page, switching,
};
use crate::catalog::{Agency, Procedure, queries as catalog};
use crate::domain::{Code, Lang};
use crate::questionnaire::{Form, Timeliness};
use crate::responses::submission::submit_walk_in;
use crate::web::client::client_address;
use crate::web::error::AppError;
use crate::web::form;
use crate::web::html::{html, see_other};
use crate::web::ratelimit::CitizenLimits;
use crate::web::state::{AppState, blocking};

/// The agency a poster URL names, the procedures a citizen may pick, and its province's name.
struct Poster {
    agency: Agency,
    procedures: Vec<Procedure>,
    province: String,
}

/// The poster of agency `code`, if there is one.
async fn walk_in_agency(state: &AppState, code: &str) -> Result<Option<Poster>, AppError> {
    let Some(code) = Code::parse(code) else {
        return Ok(None);
    };
    state
        .read(move |conn| {
            let Some(agency) = catalog::agency_by_code(conn, code.as_str())? else {
                return Ok(None);
            };
            let procedures = catalog::procedures_for_agency(conn, &agency)?;
            let province = catalog::province_name(conn, agency.province_id)?;
            Ok(Some(Poster {
                agency,
                procedures,
                province,
            }))
        })
        .await
}

fn walk_in_page(
    state: &AppState,
    lang: Lang,
    form: Form,
    poster: &Poster,
    entered: &Entered,
) -> Markup {
    let path = format!("/k/{}", poster.agency.code);
    views::form_page(&FormPage {
        lang,
        questionnaire: &state.questionnaire(),
        form,
        timeliness: Timeliness::Unknown,
        agency_name: &poster.agency.name,
        organiser: &organiser(&poster.province, lang),
        procedure_name: None,
        path: &path,
        entered,
        procedures: Some(&poster.procedures),
    })
}

/// `GET /k/{agency}`: the questionnaire for citizens without a dossier link.
pub async fn show_walk_in(
    code: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&query);
    let Some(poster) = walk_in_agency(&state, &code).await? else {
        return Ok(status_page(StatusCode::NOT_FOUND));
    };
    if query.sent.is_some() {
        let route = query
            .help()
            .then_some(state.settings.survey.complaint_route.as_str());
        return Ok(html(
            StatusCode::OK,
            views::thanks_page(lang, &format!("/k/{}", poster.agency.code), route),
        ));
    }
    let page = walk_in_page(&state, lang, query.form(), &poster, &Entered::default());
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
    let lang = language(&query);
    let path = format!("/k/{code}");
    let agency = match walk_in_agency(&state, &code).await {
        Err(e) if e.is_unavailable() => {
            let fields = form::parse(&req, &body).unwrap_or_default();
            return Ok(keep_for_later(&e, lang, &path, &fields));
        }
        other => other?,
    };
    let Some(poster) = agency else {
        return Ok(status_page(StatusCode::NOT_FOUND));
    };
    let Some(fields) = form::parse::<BTreeMap<String, String>>(&req, &body) else {
        return Ok(status_page(StatusCode::BAD_REQUEST));
    };
    if let Some(to) = switching(&fields) {
        // The language button: the same answers, nothing stored, in the other language.
        let form = form_of(&fields);
        let entered = Entered {
            values: fields,
            ..Entered::default()
        };
        return Ok(html(
            StatusCode::OK,
            walk_in_page(&state, to, form, &poster, &entered),
        ));
    }
    // The response is counted before it is stored (one atomic statement), and the count given
    // back if it is not stored: simultaneous posts cannot pass the limit together.
    let client = client_address(&req, &state.settings.security.trusted_proxies);
    let key = CitizenLimits::walk_in_key(&state.secret, client, poster.agency.id);
    let now = crate::clock::now();
    let limits = state.clone();
    let reserve_key = key.clone();
    let reserved = state
        .write(move |conn| Ok(limits.limits.reserve_walk_in(conn, &reserve_key, now)?))
        .await;
    match reserved {
        Ok(true) => {}
        Ok(false) => return Ok(status_page(StatusCode::TOO_MANY_REQUESTS)),
        Err(e) if e.is_unavailable() => return Ok(keep_for_later(&e, lang, &path, &fields)),
        Err(e) => return Err(e),
    }
    let shared = state.clone();
    let (outcome, fields, poster) = blocking(move || {
        let questionnaire = shared.questionnaire();
        let outcome = submit_walk_in(
            &shared.submit(&questionnaire, lang),
            &poster.agency,
            &poster.procedures,
            &fields,
        );
        Ok((outcome, fields, poster))
    })
    .await?;
    if !matches!(outcome, Ok(Ok(_))) {
        let limits = state.clone();
        // If the database cannot take even this, the count lapses with its window.
        if let Err(e) = state
            .write(move |conn| Ok(limits.limits.release_walk_in(conn, &key, now)?))
            .await
        {
            tracing::warn!(error = %e, "could not give back a walk-in reservation");
        }
    }
    match outcome {
        Err(e) if e.is_transient() => Ok(keep_for_later(&e, lang, &path, &fields)),
        Err(e) => Err(e.into()),
        Ok(Err(rejected)) => {
            let form = form_of(&fields);
            let entered = Entered::rejected(fields, rejected);
            let page = walk_in_page(&state, lang, form, &poster, &entered);
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Ok(Ok(_)) => Ok(see_other(format!(
            "/k/{}?lang={}&sent=1{}",
            poster.agency.code,
            lang.tag(),
            if money_asked(&fields) { "&help=1" } else { "" }
        ))),
    }
}
