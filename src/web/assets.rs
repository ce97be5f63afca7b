//! Static assets, compiled into the binary (no file system paths to traverse) and served with
//! long-lived caching: their URL carries a hash of their content.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../assets/app.css");

/// The stylesheet's content hash (first 12 hex digits).
static CSS_HASH: LazyLock<String> = LazyLock::new(|| {
    Sha256::digest(CSS.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The URL pages link the stylesheet with.
pub fn css_url() -> String {
    format!("/assets/app.{}.css", *CSS_HASH)
}

/// `GET /assets/{file}`: only the files we embed; anything else is 404.
pub async fn serve_asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let expected = format!("app.{}.css", *CSS_HASH);
    if file.as_str() != expected {
        return HttpResponse::NotFound().finish();
    }
    let etag = format!("\"{}\"", *CSS_HASH);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::ETAG, etag));
    if matches {
        response.finish()
    } else {
        response.content_type("text/css; charset=utf-8").body(CSS)
    }
}
