//! `/s/{token}`: the questionnaire of an invitation link, and its submission.

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;

use super::views::{self, Entered, FormPage};
use super::{
    PageQuery, form_of, keep_for_later, language, money_asked, organiser, status_page, switching,
};
use crate::clock;
use crate::domain::{Lang, SurveyToken};
use crate::invitations::queries::{Opened, find_opened};
use crate::questionnaire::{Form, Timeliness};
use crate::responses::store::Stored;
use crate::responses::submission::{Submitted, submit_by_link};
use crate::web::client::client_address;
use crate::web::error::AppError;
use crate::web::form;
use crate::web::html::{html, retry_later, see_other};
use crate::web::ratelimit::CitizenLimits;
use crate::web::state::{AppState, blocking};

/// The questionnaire page of an opened invitation, with what the citizen entered (if anything).
fn survey_page(
    state: &AppState,
    opened: &Opened,
    lang: Lang,
    form: Form,
    path: &str,
    entered: &Entered,
) -> Markup {
    views::form_page(&FormPage {
        lang,
        questionnaire: &state.questionnaire(),
        form,
        timeliness: Timeliness::from_late(opened.invitation.late),
        agency_name: &opened.agency,
        organiser: &organiser(&opened.province, lang),
        procedure_name: Some(&opened.procedure),
        path,
        entered,
        procedures: None,
    })
}

/// Counts an unknown link against the client: `Err(TooManyRequests)` past the limit
/// ([`crate::web::ratelimit::CitizenLimits`]). Lookups are by the token's hash, so their
/// timing says nothing about how close a guess was.
pub(crate) async fn unknown_link(
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> Result<(), AppError> {
    let client = client_address(req, &state.settings.security.trusted_proxies);
    let key = CitizenLimits::link_miss_key(&state.secret, client);
    if state.limits.known_over(&key, Instant::now()) {
        return Err(AppError::TooManyRequests);
    }
    let shared = state.clone();
    let now = clock::now();
    let over = state
        .write(move |conn| Ok(shared.limits.count_link_miss(conn, &key, now)?))
        .await?;
    if over {
        return Err(AppError::TooManyRequests);
    }
    Ok(())
}

fn unknown_link_page(lang: Lang) -> HttpResponse {
    html(StatusCode::NOT_FOUND, views::unknown_link_page(lang))
}

fn expired_page(lang: Lang, agency_code: &str) -> HttpResponse {
    html(
        StatusCode::GONE,
        views::expired_page(lang, &format!("/k/{agency_code}")),
    )
}

/// `GET /s/{token}`: the questionnaire, or the page explaining why it cannot be answered.
pub async fn show_survey(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&query);
    let path = format!("/s/{token}");
    let opened = match SurveyToken::parse(&token) {
        Some(token) => {
            state
                .read(move |conn| Ok(find_opened(conn, &token)?))
                .await?
        }
        None => None,
    };
    let Some(opened) = opened else {
        unknown_link(&state, &req).await?;
        return Ok(unknown_link_page(lang));
    };
    if opened.invitation.used {
        let route = query
            .help()
            .then_some(state.settings.survey.complaint_route.as_str());
        return Ok(html(StatusCode::OK, views::thanks_page(lang, &path, route)));
    }
    if opened.invitation.expires_at < clock::now() {
        return Ok(expired_page(lang, &opened.agency_code));
    }
    let page = survey_page(
        &state,
        &opened,
        lang,
        query.form(),
        &path,
        &Entered::default(),
    );
    Ok(html(StatusCode::OK, page))
}

/// `POST /s/{token}`: validate and store the answers, then show the thank-you page.
pub async fn submit_survey(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let lang = language(&query);
    let path = format!("/s/{token}");
    let Some(fields) = form::parse::<BTreeMap<String, String>>(&req, &body) else {
        return Ok(status_page(StatusCode::BAD_REQUEST));
    };
    let Some(token) = SurveyToken::parse(&token) else {
        unknown_link(&state, &req).await?;
        return Ok(unknown_link_page(lang));
    };
    if let Some(to) = switching(&fields) {
        // The language button: the same answers, nothing stored, in the other language.
        let lookup = token.clone();
        let opened = state
            .read(move |conn| Ok(find_opened(conn, &lookup)?))
            .await?;
        let Some(opened) = opened else {
            unknown_link(&state, &req).await?;
            return Ok(unknown_link_page(to));
        };
        let form = form_of(&fields);
        let entered = Entered {
            values: fields,
            ..Entered::default()
        };
        let path = format!("/s/{}", token.as_str());
        let page = survey_page(&state, &opened, to, form, &path, &entered);
        return Ok(html(StatusCode::OK, page));
    }
    // Everything from the lookup to the commit happens in one trip to a database thread
    // (profiled: handing each request to a blocking thread twice cost more than the queries).
    let shared = state.clone();
    let (submitted, fields) = blocking(move || {
        let questionnaire = shared.questionnaire();
        let result = submit_by_link(&shared.submit(&questionnaire, lang), &token, &fields);
        Ok((result, fields))
    })
    .await?;
    let form = form_of(&fields);
    match submitted {
        Err(e) if e.is_transient() => Ok(keep_for_later(&e, lang, &path, &fields)),
        Err(e) => Err(e.into()),
        Ok(Submitted::Unknown) => {
            unknown_link(&state, &req).await?;
            Ok(unknown_link_page(lang))
        }
        Ok(Submitted::AlreadyUsed) => {
            Ok(html(StatusCode::OK, views::thanks_page(lang, &path, None)))
        }
        Ok(Submitted::Expired { agency_code }) => Ok(expired_page(lang, &agency_code)),
        Ok(Submitted::Invalid(opened, rejected)) => {
            let entered = Entered::rejected(fields, rejected);
            let page = survey_page(&state, &opened, lang, form, &path, &entered);
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Ok(Submitted::NotStored(opened, cause)) => {
            // Nothing was stored: show the form again with the citizen's answers and ask them to
            // send it again in a moment.
            tracing::warn!(%cause, "submission not stored: database unavailable");
            let entered = Entered {
                values: fields,
                unavailable: true,
                ..Entered::default()
            };
            let page = survey_page(&state, &opened, lang, form, &path, &entered);
            Ok(retry_later(StatusCode::SERVICE_UNAVAILABLE, page))
        }
        Ok(Submitted::Stored(stored)) => {
            if stored == Stored::AlreadyUsed {
                tracing::info!("repeated submit of a used invitation ignored");
            }
            // POST-redirect-GET: reloading the thank-you page does not post again.
            Ok(see_other(format!(
                "{path}?lang={}{}",
                lang.tag(),
                if money_asked(&fields) { "&help=1" } else { "" }
            )))
        }
    }
}
