//! The JSON API for one-stop systems (`POST /api/v1/dossiers`), its OpenAPI document, and the
//! QR images of survey links.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use super::citizen::survey::unknown_link;
use super::error::AppError;
use super::state::AppState;
use crate::domain::{ApiKey, SurveyToken};
use crate::invitations::dossier::{Dossier, DossierReport, FieldError};
use crate::invitations::issue::{IssueError, Issued, Issuer, Scope, StoreError};
use crate::invitations::qr;
use crate::invitations::queries;

/// The most dossiers accepted in one request.
pub const MAX_BATCH: usize = 1000;

const OPENAPI: &str = include_str!("../../assets/openapi.json");

/// An API error, rendered as JSON with English and Vietnamese messages.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    message_vi: String,
    details: Vec<Detail>,
}

/// One refused dossier of a batch.
#[derive(Debug, Serialize)]
pub struct Detail {
    index: usize,
    #[serde(flatten)]
    error: FieldError,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, en: &str, vi: &str) -> ApiError {
        ApiError {
            status,
            code,
            message: en.into(),
            message_vi: vi.into(),
            details: vec![],
        }
    }

    fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API key as Authorization: Bearer <key>",
            "cần gửi khóa API hợp lệ trong tiêu đề Authorization: Bearer <khóa>",
        )
    }

    fn invalid(details: Vec<Detail>) -> ApiError {
        ApiError {
            details,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_dossiers",
                "some dossiers are invalid; nothing was stored",
                "một số hồ sơ không hợp lệ; chưa lưu hồ sơ nào",
            )
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(cause = %e, "database unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; retry later",
                "cơ sở dữ liệu tạm thời không sẵn sàng; xin thử lại sau",
            )
        } else {
            tracing::error!(cause = %e, "API request failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
                "lỗi hệ thống",
            )
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "message_vi": self.message_vi,
                "details": self.details,
            }
        });
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(body)
    }
}

/// Normalises every string of a JSON document ([`crate::text::clean`]).
fn clean_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = crate::text::clean(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_strings),
        serde_json::Value::Object(map) => map.values_mut().for_each(clean_strings),
        _ => {}
    }
}

/// The credentials of an `Authorization: Bearer <key>` header; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, key) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

/// The caller of the API, identified by its key.
pub struct ApiCaller(Scope);

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCaller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let key = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .and_then(ApiKey::parse);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(key), Some(state)) = (key, state) else {
                return Err(ApiError::unauthorized());
            };
            let scope = state
                .read(move |conn| Ok(crate::apikeys::scope_of(conn, &key)?))
                .await?;
            scope.map(ApiCaller).ok_or_else(ApiError::unauthorized)
        })
    }
}

/// One issued invitation in the API's answer.
#[derive(Debug, Serialize)]
pub struct IssuedJson {
    dossier_code: String,
    agency_code: String,
    status: &'static str,
    survey_url: String,
    qr_svg_url: String,
    qr_png_url: String,
    expires_at: String,
    /// What became of the citizen's email or phone (`queued`, `recently_invited`, `opted_out`,
    /// `no_channel`, `too_old`); absent when the dossier carried none or had been reported before.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

impl IssuedJson {
    fn new(i: Issued, base: &str) -> IssuedJson {
        let token = i.token.as_str();
        IssuedJson {
            dossier_code: i.dossier_code,
            agency_code: i.agency_code,
            status: if i.created { "created" } else { "existing" },
            survey_url: format!("{base}/s/{token}"),
            qr_svg_url: format!("{base}/q/{token}.svg"),
            qr_png_url: format!("{base}/q/{token}.png"),
            expires_at: format!("{}Z", i.expires_at.format("%Y-%m-%dT%H:%M:%S")),
            message: i.outreach.map(|o| o.as_str()),
        }
    }
}

/// `POST /api/v1/dossiers`: one dossier object, or an array of up to [`MAX_BATCH`].
pub async fn report_dossiers(
    req: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json",
            "cần gửi Content-Type: application/json",
        ));
    }
    let mut value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("the body is not valid JSON: {e}"),
            &format!("nội dung không phải JSON hợp lệ: {e}"),
        )
    })?;
    clean_strings(&mut value);
    let single = value.is_object();
    let items = match value {
        serde_json::Value::Array(items) => items,
        object @ serde_json::Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                "send one dossier object or an array of them",
                "cần gửi một hồ sơ (object) hoặc một mảng hồ sơ",
            ));
        }
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch_size",
            &format!("a batch holds 1 to {MAX_BATCH} dossiers"),
            &format!("mỗi lần gửi từ 1 đến {MAX_BATCH} hồ sơ"),
        ));
    }
    let now = crate::clock::now_to_second();
    let mut dossiers: Vec<Dossier> = Vec::with_capacity(items.len());
    let mut details = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<DossierReport>(item) {
            Ok(report) => match report.parse(now) {
                Ok(d) => dossiers.push(d),
                Err(errors) => {
                    details.extend(errors.into_iter().map(|error| Detail { index, error }))
                }
            },
            Err(e) => details.push(Detail {
                index,
                error: FieldError {
                    field: "dossier",
                    message: format!("wrong shape: {e}"),
                    message_vi: format!("sai cấu trúc: {e}"),
                },
            }),
        }
    }
    if !details.is_empty() {
        return Err(ApiError::invalid(details));
    }
    let scope = caller.0;
    let st = state.clone();
    let issued = state
        .write(move |conn| {
            let reach = crate::outreach::Reach::from_settings(&st.settings);
            let issuer = Issuer {
                secret: &st.secret,
                ttl_days: st.settings.survey.invitation_ttl_days,
                now,
                reach: reach.as_ref(),
            };
            Ok(issuer.issue(conn, &dossiers, scope))
        })
        .await?;
    let issued = match issued {
        Ok(issued) => issued,
        Err(IssueError::Rejected(rejected)) => {
            return Err(ApiError::invalid(
                rejected
                    .into_iter()
                    .map(|(index, error)| Detail { index, error })
                    .collect(),
            ));
        }
        Err(IssueError::Store(StoreError::Database(e))) => return Err(AppError::from(e).into()),
        Err(IssueError::Store(StoreError::Random(e))) => return Err(AppError::internal(e).into()),
    };
    let base = state.settings.public_url();
    let any_created = issued.iter().any(|i| i.created);
    let status = if any_created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let json: Vec<IssuedJson> = issued
        .into_iter()
        .map(|i| IssuedJson::new(i, base))
        .collect();
    let mut response = HttpResponse::build(status);
    Ok(if single {
        response.json(json.into_iter().next())
    } else {
        response.json(serde_json::json!({ "invitations": json }))
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// An unknown QR code counts against the client like an unknown survey link: 404, or 429 past
/// the limit.
async fn unknown_code(state: &web::Data<AppState>, req: &HttpRequest) -> AppError {
    match unknown_link(state, req).await {
        Ok(()) => AppError::NotFound,
        Err(e) => e,
    }
}

/// `GET /q/{token}.svg` and `.png`: the QR code of a survey link.
pub async fn show_qr(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let file = path.into_inner();
    let (token, svg) = match (file.strip_suffix(".svg"), file.strip_suffix(".png")) {
        (Some(t), _) => (t, true),
        (_, Some(t)) => (t, false),
        _ => return Err(AppError::NotFound),
    };
    let Some(token) = SurveyToken::parse(token) else {
        return Err(unknown_code(&state, &req).await);
    };
    let lookup = token.clone();
    let found = state
        .read(move |conn| Ok(queries::find_by_token(conn, &lookup)?))
        .await?;
    if found.is_none() {
        return Err(unknown_code(&state, &req).await);
    }
    let url = format!("{}/s/{}", state.settings.public_url(), token.as_str());
    let response = if svg {
        let body = qr::svg(&url).map_err(AppError::internal)?;
        HttpResponse::Ok().content_type("image/svg+xml").body(body)
    } else {
        let body = qr::png(&url, 8).map_err(AppError::internal)?;
        HttpResponse::Ok().content_type("image/png").body(body)
    };
    Ok(response)
}
