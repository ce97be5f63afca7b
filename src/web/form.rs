//! Reading urlencoded form bodies (every form of the site posts one).

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::http::header;

/// The fields of an `application/x-www-form-urlencoded` body (repeated fields keep the last
/// value); `None` for another content type or a body that does not decode (invalid UTF-8).
pub fn fields(req: &HttpRequest, body: &[u8]) -> Option<BTreeMap<String, String>> {
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
    Some(pairs.into_iter().collect())
}
