//! Building HTML responses: every page goes out the same way.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use maud::Markup;

/// A page with `status`. Pages are never cached: they carry answers, sessions or one-time
/// secrets.
pub fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// A 200 page.
pub fn ok(markup: Markup) -> HttpResponse {
    html(StatusCode::OK, markup)
}

/// `303 See Other` to `location` (POST-redirect-GET).
pub fn see_other(location: impl AsRef<str>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.as_ref()))
        .finish()
}

/// A page with `status` and `Retry-After: 30` (the database could not take the request now).
pub fn retry_later(status: StatusCode, markup: Markup) -> HttpResponse {
    let mut response = html(status, markup);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}
