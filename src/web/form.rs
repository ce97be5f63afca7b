//! Reading urlencoded form bodies (every form of the site posts one).

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::AppError;

/// The form in `body` as a `T`; `None` for another content type or a body that does not decode
/// into `T` (invalid UTF-8, a missing or malformed field). Repeated fields keep the last value.
/// Every value is normalised first ([`crate::text::clean`]: NFC, no invisible characters).
pub fn parse<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Option<T> {
    let urlencoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !urlencoded {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let cleaned: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (k, crate::text::clean(&v)))
        .collect();
    serde_urlencoded::from_str(&serde_urlencoded::to_string(cleaned).ok()?).ok()
}

/// The error of a body that could not be read: 413 past the configured size, 400 otherwise.
pub fn unreadable(e: &actix_web::Error) -> AppError {
    if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest
    }
}
