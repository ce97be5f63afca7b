//! The HTTP server: listener, middleware (security headers, compression, access log, error pages
//! for framework errors) and the route table, over the shared [`AppState`].

use std::future::Future;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{
    self, Compress, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Logger,
};
use actix_web::{App, HttpResponse, HttpServer, web};

pub use actix_web::dev::ServerHandle;

use super::metrics::{self, MetricsPort};
use super::state::AppState;
use super::{pages, routes};

/// A bound, not yet running, HTTP server.
pub struct Server {
    port: u16,
    metrics_port: Option<u16>,
    server: actix_web::dev::Server,
    state: web::Data<AppState>,
}

impl Server {
    /// Binds the configured address (port 0 picks a free port) and builds the server.
    pub fn bind(state: AppState) -> std::io::Result<Server> {
        let settings = state.settings.server.clone();
        let listener = TcpListener::bind(&settings.bind).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.bind))
        })?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match settings.metrics_bind.trim() {
            "" => None,
            bind => Some(TcpListener::bind(bind).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {bind} (metrics): {e}"))
            })?),
        };
        let metrics_port = match &metrics_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let state = web::Data::new(state);
        let app_state = state.clone();
        let max_body = settings.max_body_bytes;
        let https = settings.public_url.starts_with("https://");
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::Data::new(MetricsPort(metrics_port)))
                .wrap(ErrorHandlers::new().default_handler(render_bare_errors))
                .wrap(middleware::from_fn(metrics::count_request))
                .wrap(middleware::from_fn(private_pages_not_stored))
                .wrap(security_headers(https))
                .wrap(Compress::default())
                .wrap(
                    Logger::new("%{request}xi %s %b %Dms")
                        .custom_request_replace("request", loggable_request)
                        .exclude("/healthz")
                        .exclude("/readyz"),
                )
                .configure(routes::routes)
        })
        // Compressed pages go out in several writes; with Nagle's algorithm the last one waited
        // for the client's delayed ACK (measured: every questionnaire page took 40 ms).
        .tcp_nodelay(true)
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(settings.client_request_timeout_secs))
        .listen(listener)?;
        if let Some(l) = metrics_listener {
            server = server.listen(l)?;
        }
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        Ok(Server {
            port,
            metrics_port,
            server: server.run(),
            state,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// A handle to stop the server from elsewhere (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The shared state; released once [`Server::run`] has returned and every worker has let
    /// go of it.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until stopped. SIGINT/SIGTERM (or [`ServerHandle::stop`]) let in-flight requests
    /// finish (up to `shutdown_timeout_secs`).
    pub async fn run(self) -> std::io::Result<()> {
        let Server { server, state, .. } = self;
        let result = server.await;
        drop(state);
        result
    }
}

/// Runs `future` to completion on a new actix system (the command line's `serve`).
pub fn block_on<F: Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}

/// Runs the blocking `f` off the async workers and waits for it.
pub async fn unblock<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    actix_web::rt::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)
}

/// The request as the access log shows it: method and path, with survey tokens masked (a token
/// is a key to a citizen's survey) and no query string.
fn loggable_request(req: &actix_web::dev::ServiceRequest) -> String {
    format!("{} {}", req.method(), mask_token(req.path()))
}

/// `/s/{token}` and `/q/{token}.svg` become `/s/…` and `/q/….svg`; other paths are kept.
fn mask_token(path: &str) -> String {
    for prefix in ["/s/", "/q/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let extension = [".svg", ".png"]
                .into_iter()
                .find(|e| rest.ends_with(e))
                .unwrap_or("");
            return format!("{prefix}…{extension}");
        }
    }
    path.to_owned()
}

fn security_headers(https: bool) -> DefaultHeaders {
    let headers = if https {
        // Browsers that once reached the site over https never try plain http again.
        DefaultHeaders::new().add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        // Survey URLs carry the token: never leak them to other sites.
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
}

/// Nothing under `/admin` (pages, downloads, redirects, errors) may be kept by a browser or a
/// proxy: it shows other people's data, sessions and one-time passwords.
async fn private_pages_not_stored(
    req: ServiceRequest,
    next: middleware::Next<impl MessageBody>,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let private = req.path().starts_with("/admin");
    let mut res = next.call(req).await?;
    if private {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

/// Gives framework-generated errors (404 for unknown routes, 405, 413 from the body limit…),
/// which come bare or as plain text, a page; our own HTML and JSON errors pass through.
fn render_bare_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let content_type = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = content_type.is_empty() || content_type.starts_with("text/plain");
    let status = res.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !bare
        || !is_error
        || res.request().path().starts_with("/api/")
        || status == StatusCode::SERVICE_UNAVAILABLE
            && matches!(res.request().path(), "/healthz" | "/readyz")
    {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, _) = res.into_parts();
    let response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(pages::error_page(status).into_string());
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::mask_token;

    #[test]
    fn tokens_never_reach_the_access_log() {
        assert_eq!(mask_token("/s/AbC-123_x"), "/s/…");
        assert_eq!(mask_token("/q/AbC-123_x.svg"), "/q/….svg");
        assert_eq!(mask_token("/q/AbC-123_x.png"), "/q/….png");
        assert_eq!(mask_token("/admin/agencies/T-SO"), "/admin/agencies/T-SO");
        assert_eq!(mask_token("/k/T-SO"), "/k/T-SO");
    }
}
