//! Handlers for showing and submitting the questionnaire.

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use serde::Deserialize;

use super::submission::{
    Opened, Submitted, contact_of, find_opened, money_alert, now, save_with_alert, submit, today,
};
use super::views::{self, Entered, FormPage};
use crate::catalog::{Agency, Procedure, queries as catalog};
use crate::domain::{Channel, Code, Lang, SurveyToken};
use crate::error::{self, AppError};
use crate::questionnaire::{Form, Timeliness, parse_answers};
use crate::responses::store::{ContactRequest, Stored};
use crate::responses::{Context, Submission};
use crate::startup::AppState;

/// Query parameters of the survey pages.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    form: Option<String>,
    /// Set after a walk-in submission (POST-redirect-GET to the thank-you page).
    sent: Option<String>,
}

fn language(req: &HttpRequest, query: &PageQuery) -> Lang {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(query.lang.as_deref(), header)
}

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

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
        procedure_name: Some(&opened.procedure),
        path,
        entered,
        procedures: None,
    })
}

/// Opens the invitation of `token`, or `None` for an unknown link. Unknown links count against the
/// client ([`super::ratelimit::LinkMissLimiter`]): past its limit they get 429. The lookup is by
/// the token's hash, so its timing says nothing about how close a guess was.
async fn open(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
) -> Result<Option<Opened>, AppError> {
    let opened = lookup(state, token).await?;
    if opened.is_none() {
        unknown_link(state, req)?;
    }
    Ok(opened)
}

/// Counts an unknown link against the client: `Err(TooManyRequests)` past the limit.
fn unknown_link(state: &AppState, req: &HttpRequest) -> Result<(), AppError> {
    let client = state.client_address(req);
    if state.link_misses.record_over(client, Instant::now()) {
        return Err(AppError::TooManyRequests);
    }
    Ok(())
}

async fn lookup(state: &AppState, token: &str) -> Result<Option<Opened>, AppError> {
    let Some(token) = SurveyToken::parse(token) else {
        return Ok(None);
    };
    error::run(&state.pool, move |conn| Ok(find_opened(conn, &token)?)).await
}

/// `GET /s/{token}`: the questionnaire, or the page explaining why it cannot be answered.
pub async fn show_survey(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&req, &query);
    let path = format!("/s/{token}");
    let Some(opened) = open(&state, &req, &token).await? else {
        return Ok(html(StatusCode::NOT_FOUND, views::unknown_link_page(lang)));
    };
    if opened.invitation.used {
        return Ok(html(StatusCode::OK, views::thanks_page(lang, &path)));
    }
    if opened.invitation.expires_at < now() {
        return Ok(html(
            StatusCode::GONE,
            views::expired_page(lang, &format!("/k/{}", opened.agency_code)),
        ));
    }
    let form = Form::parse(query.form.as_deref());
    let page = survey_page(&state, &opened, lang, form, &path, &Entered::default());
    Ok(html(StatusCode::OK, page))
}

/// 503 with the citizen's answers kept in a form that sends them again (Retry-After: 30).
fn keep_for_later(
    cause: &AppError,
    lang: Lang,
    path: &str,
    fields: &BTreeMap<String, String>,
) -> HttpResponse {
    tracing::warn!(%cause, "submission not stored: database unavailable");
    let action = format!("{path}?lang={}", lang.tag());
    let mut response = html(
        StatusCode::SERVICE_UNAVAILABLE,
        views::resend_page(lang, &action, fields),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}

fn bad_request() -> HttpResponse {
    html(
        StatusCode::BAD_REQUEST,
        crate::web::pages::error_page(StatusCode::BAD_REQUEST),
    )
}

/// `POST /s/{token}`: validate and store the answers, then show the thank-you page.
pub async fn submit_survey(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let lang = language(&req, &query);
    let path = format!("/s/{token}");
    let Some(fields) = crate::web::form::fields(&req, &body) else {
        return Ok(bad_request());
    };
    let Some(token) = SurveyToken::parse(&token) else {
        unknown_link(&state, &req)?;
        return Ok(html(StatusCode::NOT_FOUND, views::unknown_link_page(lang)));
    };
    // Everything from the lookup to the commit happens in one trip to a database thread
    // (profiled: handing each request to a blocking thread twice cost more than the queries).
    let shared = state.clone();
    let (submitted, fields) = match web::block(move || {
        let result = submit(&shared, &token, lang, &fields);
        (result, fields)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => return Err(AppError::Internal(e.to_string())),
    };
    let form = Form::parse(fields.get("form").map(String::as_str));
    match submitted {
        Err(e) if e.is_unavailable() => Ok(keep_for_later(&e, lang, &path, &fields)),
        Err(e) => Err(e),
        Ok(Submitted::Unknown) => {
            unknown_link(&state, &req)?;
            Ok(html(StatusCode::NOT_FOUND, views::unknown_link_page(lang)))
        }
        Ok(Submitted::AlreadyUsed) => Ok(html(StatusCode::OK, views::thanks_page(lang, &path))),
        Ok(Submitted::Expired { agency_code }) => Ok(html(
            StatusCode::GONE,
            views::expired_page(lang, &format!("/k/{agency_code}")),
        )),
        Ok(Submitted::Invalid(opened, mut entered)) => {
            entered.values = fields;
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
            let mut response = html(StatusCode::SERVICE_UNAVAILABLE, page);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
            Ok(response)
        }
        Ok(Submitted::Stored(stored)) => {
            if stored == Stored::AlreadyUsed {
                tracing::info!("repeated submit of a used invitation ignored");
            }
            // POST-redirect-GET: reloading the thank-you page does not post again.
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("{path}?lang={}", lang.tag())))
                .finish())
        }
    }
}

/// The agency named by a poster URL, with the procedures a citizen may pick.
async fn walk_in_agency(
    state: &AppState,
    code: &str,
) -> Result<Option<(Agency, Vec<Procedure>)>, AppError> {
    let Some(code) = Code::parse(code) else {
        return Ok(None);
    };
    error::run(&state.pool, move |conn| {
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
        return Ok(html(
            StatusCode::NOT_FOUND,
            crate::web::pages::error_page(StatusCode::NOT_FOUND),
        ));
    };
    if query.sent.is_some() {
        return Ok(html(
            StatusCode::OK,
            views::thanks_page(lang, &format!("/k/{}", agency.code)),
        ));
    }
    let form = Form::parse(query.form.as_deref());
    let page = walk_in_page(
        &state,
        lang,
        form,
        (&agency, &procedures),
        &Entered::default(),
    );
    Ok(html(StatusCode::OK, page))
}

/// `POST /k/{agency}`: store a walk-in response (rate-limited per client and agency).
pub async fn submit_walk_in(
    req: HttpRequest,
    code: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let lang = language(&req, &query);
    let agency = match walk_in_agency(&state, &code).await {
        Err(e) if e.is_unavailable() => {
            let fields = crate::web::form::fields(&req, &body).unwrap_or_default();
            return Ok(keep_for_later(&e, lang, &format!("/k/{code}"), &fields));
        }
        other => other?,
    };
    let Some((agency, procedures)) = agency else {
        return Ok(html(
            StatusCode::NOT_FOUND,
            crate::web::pages::error_page(StatusCode::NOT_FOUND),
        ));
    };
    let client = state.client_address(&req);
    if !state.walkin.allows((client, agency.id), Instant::now()) {
        return Ok(html(
            StatusCode::TOO_MANY_REQUESTS,
            crate::web::pages::error_page(StatusCode::TOO_MANY_REQUESTS),
        ));
    }
    let Some(fields) = crate::web::form::fields(&req, &body) else {
        return Ok(bad_request());
    };
    let form = Form::parse(fields.get("form").map(String::as_str));
    let mut entered = Entered::default();
    let procedure = fields
        .get("procedure")
        .and_then(|code| procedures.iter().find(|p| &p.code == code));
    if procedure.is_none() {
        entered.field_errors.insert(
            "procedure",
            lang.pick(
                "Xin chọn thủ tục Ông/Bà đã làm.",
                "Please choose the procedure you came for.",
            )
            .to_owned(),
        );
    }
    let contact = contact_of(&fields, lang);
    if let Err(m) = &contact {
        entered.field_errors.insert("contact", m.clone());
    }
    let answers = parse_answers(&state.questionnaire(), form, Timeliness::Unknown, &fields);
    let (answers, procedure, contact) = match (answers, procedure, contact) {
        (Ok(a), Some(p), Ok(c)) => (a, p, c),
        (answers, _, _) => {
            entered.errors = answers.err().unwrap_or_default();
            entered.values = fields;
            let page = walk_in_page(&state, lang, form, (&agency, &procedures), &entered);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    // The citizen's own answer to E3 (3 = Trễ hẹn) stands in for the missing system dates.
    let late = answers.choices.get("E3").map(|a| a.stored() == 3);
    let ctx = Context {
        agency_id: agency.id,
        procedure_id: Some(procedure.id),
        channel: Channel::WalkIn,
        submitted_on: today(),
        late,
        days_late: None,
    };
    let submission = Submission::from_answers(&state.questionnaire(), ctx, &answers);
    let contact = contact.map(|contact| ContactRequest {
        agency_id: agency.id,
        contact,
    });
    let alert = money_alert(&state, &submission, &agency.code, &agency.name);
    let stored = state
        .write(move |conn| {
            use diesel::Connection;
            Ok(conn.transaction(|c| {
                save_with_alert(c, None, &submission, contact.as_ref(), alert.as_ref())
            })?)
        })
        .await;
    match stored {
        Err(e) if e.is_unavailable() => {
            return Ok(keep_for_later(&e, lang, &format!("/k/{code}"), &fields));
        }
        other => other?,
    };
    state.walkin.record((client, agency.id), Instant::now());
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/k/{}?lang={}&sent=1", agency.code, lang.tag()),
        ))
        .finish())
}
