//! Building the application: database, migrations, questionnaire, secret, routes, listener.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::middleware::{
    Compress, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Logger,
};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context as _;

use crate::config::Settings;
use std::sync::{Arc, Mutex, RwLock};

use crate::db::group_commit::{GroupCommitter, Work};
use crate::db::{self, Backend, DbConn, DbPool};
use crate::domain::TokenSecret;
use crate::error::AppError;
use crate::invitations::api;
use crate::mail::worker::MailWorker;
use crate::questionnaire::Questionnaire;
use crate::responses::store::Stored;
use crate::surveys::ratelimit::{LinkMissLimiter, WalkinLimiter};
use crate::surveys::routes as surveys;
use crate::web::{assets, pages};

/// What every handler shares.
pub struct AppState {
    pub settings: Settings,
    pub pool: DbPool,
    /// The active questionnaire: replaced when an admin publishes a new version.
    questionnaire: RwLock<Arc<Questionnaire>>,
    pub secret: TokenSecret,
    pub walkin: WalkinLimiter,
    /// Unknown survey links asked for, per client (token guessing).
    pub link_misses: LinkMissLimiter,
    mailer: crate::mail::Mailer,
    /// SQLite only: write transactions take turns here instead of in SQLite's busy handler,
    /// which sleeps and retries (profiled: it set the p99 of submissions under load).
    writer: Option<Arc<Mutex<()>>>,
    /// SQLite only: commits web responses in groups (see [`crate::db::group_commit`]).
    committer: Option<GroupCommitter<Stored>>,
}

impl AppState {
    /// Opens the database (running migrations), loads the questionnaire and the token secret.
    pub fn open(settings: Settings) -> anyhow::Result<AppState> {
        let pool = db::connect(&settings.database)?;
        let applied = db::migrations::run(&pool)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "database migrations applied");
        }
        let configured = load_questionnaire(&settings)?;
        // A version published from the dashboard takes over from the configured file.
        let published = {
            let mut conn = pool.get()?;
            crate::questionnaire::versions::latest(&mut conn)?
        };
        let questionnaire = match published {
            Some(json) => Questionnaire::parse(&json)
                .context("the latest published questionnaire is invalid")?,
            None => configured,
        };
        let questionnaire = RwLock::new(Arc::new(questionnaire));
        let secret = load_secret(&settings)?;
        let walkin = WalkinLimiter::new(
            settings.walkin.max_per_window,
            Duration::from_secs(u64::from(settings.walkin.window_minutes) * 60),
        );
        let link_misses = LinkMissLimiter::new(
            settings.security.link_miss_limit,
            Duration::from_secs(u64::from(settings.security.link_miss_window_minutes) * 60),
        );
        let writer = Backend::from_url(&settings.database.url)
            .is_sqlite()
            .then(|| Arc::new(Mutex::new(())));
        let committer = match &writer {
            Some(turn) => {
                let database = settings.database.clone();
                let connect = move || {
                    db::open_connection(&database).map_err(|e| AppError::Unavailable(e.to_string()))
                };
                Some(
                    GroupCommitter::start(connect, turn.clone())
                        .context("cannot start the commit thread")?,
                )
            }
            None => None,
        };
        let mailer = crate::mail::Mailer::new(&settings.mail).context("cannot set up mail")?;
        Ok(AppState {
            settings,
            pool,
            questionnaire,
            secret,
            walkin,
            link_misses,
            mailer,
            writer,
            committer,
        })
    }

    /// The configured mail transport.
    pub fn mailer(&self) -> &crate::mail::Mailer {
        &self.mailer
    }

    /// The questionnaire citizens answer now.
    pub fn questionnaire(&self) -> Arc<Questionnaire> {
        self.questionnaire
            .read()
            .map(|q| q.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Makes `q` the questionnaire citizens answer from now on.
    pub fn set_questionnaire(&self, q: Questionnaire) {
        let mut slot = self
            .questionnaire
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *slot = Arc::new(q);
    }

    /// Runs a write transaction `f` on the blocking pool, one writer at a time on SQLite.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let writer = self.writer.clone();
        crate::error::run(&self.pool, move |conn| {
            let _turn = writer
                .as_ref()
                .map(|w| w.lock().unwrap_or_else(|p| p.into_inner()));
            f(conn)
        })
        .await
    }

    /// Commits a response's write (call from a database thread): on SQLite through the group
    /// committer, together with the writes waiting beside it (the pooled connection goes back
    /// to the pool first, for the pages served meanwhile); on PostgreSQL in its own transaction
    /// on `conn`. Returns once the write is committed.
    pub fn commit_response(
        &self,
        mut conn: db::PooledConn,
        work: Work<Stored>,
    ) -> Result<Stored, AppError> {
        match &self.committer {
            Some(committer) => {
                drop(conn);
                committer.commit(work)
            }
            None => {
                use diesel::Connection;
                Ok(conn.transaction(|c| work(c))?)
            }
        }
    }

    /// The client address used for rate limits (never stored). Behind trusted proxies it is the
    /// nearest untrusted address in `X-Forwarded-For`, read from the right (each proxy appends
    /// the address it saw); an entry that is not an address stops the walk at the last trusted
    /// hop. IPv6 clients count per /64 (one subscriber's network), so rotating addresses within
    /// it does not escape a limit.
    pub fn client_address(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map(|a| a.ip().to_canonical())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let trusted = &self.settings.security.trusted_proxies;
        let mut client = peer;
        if trusted.contains(&peer) {
            let hops: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            for hop in hops.iter().rev() {
                match hop.parse::<IpAddr>() {
                    Ok(ip) => {
                        client = ip.to_canonical();
                        if !trusted.contains(&client) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        per_subscriber(client)
    }
}

/// An IPv6 address reduced to its /64 network; IPv4 addresses as they are.
fn per_subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// The configured questionnaire, or the built-in one.
pub fn load_questionnaire(settings: &Settings) -> anyhow::Result<Questionnaire> {
    match &settings.survey.questionnaire_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read questionnaire file {}", path.display()))?;
            Questionnaire::parse(&text)
                .with_context(|| format!("invalid questionnaire file {}", path.display()))
        }
        None => Ok(Questionnaire::built_in()?),
    }
}

/// The configured secret, or the one kept in the key file (created on first start).
fn load_secret(settings: &Settings) -> anyhow::Result<TokenSecret> {
    if let Some(key) = &settings.security.secret_key {
        return Ok(TokenSecret::new(key.as_bytes()));
    }
    let path: &Path = &settings.security.secret_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => Ok(TokenSecret::new(text.trim().as_bytes())),
        Ok(_) => anyhow::bail!(
            "the secret key file {} is shorter than 32 characters",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = TokenSecret::generate().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            write_private(path, &key)
                .with_context(|| format!("cannot create {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a new secret key file; back it up with the database");
            Ok(TokenSecret::new(key.as_bytes()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(content.as_bytes())
}

/// A bound, not yet running, HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    mail: Option<MailWorker>,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and builds the server.
    pub fn build(state: AppState) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&state.settings.server.bind)
            .with_context(|| format!("cannot listen on {}", state.settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let server_settings = state.settings.server.clone();
        let state = web::Data::new(state);
        let mail = crate::mail::worker::spawn(state.clone().into_inner());
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(server_settings.max_body_bytes))
                .wrap(ErrorHandlers::new().default_handler(render_bare_errors))
                .wrap(security_headers())
                .wrap(Compress::default())
                .wrap(
                    Logger::new("%{request}xi %s %b %Dms")
                        .custom_request_replace("request", loggable_request)
                        .exclude("/healthz"),
                )
                .configure(routes)
        })
        // Compressed pages go out in several writes; with Nagle's algorithm the last one waited
        // for the client's delayed ACK (measured: every questionnaire page took 40 ms).
        .tcp_nodelay(true)
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(
            server_settings.client_request_timeout_secs,
        ))
        .listen(listener)?;
        if server_settings.workers > 0 {
            server = server.workers(server_settings.workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            state,
            mail,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The state shared by the workers; it is released once [`Application::run_until_stopped`]
    /// has returned and every worker has let go of it.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Runs until stopped. SIGINT/SIGTERM (or [`ServerHandle::stop`]) first let in-flight
    /// requests finish (up to `shutdown_timeout_secs`), then the mail thread's current round.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            mail,
            ..
        } = self;
        let result = server.await;
        drop(state);
        if let Some(mail) = mail {
            actix_web::rt::task::spawn_blocking(move || mail.stop())
                .await
                .map_err(std::io::Error::other)?;
        }
        tracing::info!("sipas stopped");
        result
    }
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

/// Every route of the application.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/assets/{file}", web::get().to(assets::serve_asset))
        .route("/api/v1/openapi.json", web::get().to(api::openapi))
        .route("/api/v1/dossiers", web::post().to(api::report_dossiers))
        .route("/q/{file}", web::get().to(api::show_qr))
        .route("/s/{token}", web::get().to(surveys::show_survey))
        .route("/s/{token}", web::post().to(surveys::submit_survey))
        .route("/k/{agency}", web::get().to(surveys::show_walk_in))
        .route("/k/{agency}", web::post().to(surveys::submit_walk_in))
        .configure(crate::dashboard::routes);
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok = crate::error::run(&state.pool, |conn| {
        use diesel::connection::SimpleConnection;
        Ok(conn.batch_execute("SELECT 1")?)
    })
    .await;
    match ok {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable"),
    }
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
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

/// Gives framework-generated errors (404 for unknown routes, 405, 413 from the body limit…),
/// which come bare or as plain text, a page; our own HTML and JSON errors pass through.
fn render_bare_errors<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let content_type = res
        .response()
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = content_type.is_empty() || content_type.starts_with("text/plain");
    let status = res.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !bare
        || !is_error
        || res.request().path().starts_with("/api/")
        || status == StatusCode::SERVICE_UNAVAILABLE && res.request().path() == "/healthz"
    {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, _) = res.into_parts();
    let response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(pages::error_page(status).into_string());
    Ok(ErrorHandlerResponse::Response(
        actix_web::dev::ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::{mask_token, per_subscriber};

    #[test]
    fn ipv6_clients_count_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        let other: std::net::IpAddr = "2001:db8:1:3::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST.into());
        assert_eq!(per_subscriber(a), per_subscriber(b));
        assert_ne!(per_subscriber(a), per_subscriber(other));
        let v4: std::net::IpAddr = [203, 0, 113, 7].into();
        assert_eq!(per_subscriber(v4), v4);
    }

    #[test]
    fn tokens_never_reach_the_access_log() {
        assert_eq!(mask_token("/s/AbC-123_x"), "/s/…");
        assert_eq!(mask_token("/q/AbC-123_x.svg"), "/q/….svg");
        assert_eq!(mask_token("/q/AbC-123_x.png"), "/q/….png");
        assert_eq!(mask_token("/admin/agencies/T-SO"), "/admin/agencies/T-SO");
        assert_eq!(mask_token("/k/T-SO"), "/k/T-SO");
    }
}
