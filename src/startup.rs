//! Building and running the application: open the database, the questionnaire, the token secret
//! and the mailer (and the outreach sender); start the scheduled tasks; bind the HTTP server. Nothing else lives here.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::Settings;
use crate::db::Database;
use crate::domain::TokenSecret;
use crate::mail::Mailer;
use crate::metrics::{Metrics, PoolEvents};
use crate::questionnaire::versions::{self, Current};
use crate::responses::record::Recorder;
use crate::responses::staging;
use crate::schedule::{self, Scheduler};
use crate::web::server::{self, Server, ServerHandle};
use crate::web::state::AppState;

/// A bound, not yet running, application: the HTTP server and the scheduled tasks.
pub struct Application {
    server: Server,
    scheduler: Option<Scheduler>,
    db: Database,
}

impl Application {
    /// Opens everything the settings name (running migrations) and binds the listener (port 0
    /// picks a free port).
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let metrics = Arc::new(Metrics::default());
        let db = Database::open_observed(
            &settings.database,
            Some(Box::new(PoolEvents(metrics.clone()))),
        )?;
        // An import a crash interrupted: its rows are invisible until this completes it (past its
        // commit point) or removes it. A failure here does not keep citizens out: it is logged,
        // and the next start or import tries again.
        match staging::recover(&db) {
            Ok(recovered) if !recovered.is_empty() => {
                tracing::info!(?recovered, "interrupted imports recovered");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot recover interrupted imports"),
        }
        let questionnaire = {
            let mut conn = db.conn()?;
            versions::active(&mut conn, settings.survey.questionnaire_file.as_deref())?
        };
        let secret = load_secret(&settings)?;
        let mailer = Mailer::new(&settings.mail)
            .context("không thiết lập được thư điện tử (cannot set up mail)")?;
        let outreach =
            crate::outreach::deliver::Sender::new(&settings, mailer.clone(), secret.clone())
                .map_err(anyhow::Error::msg)
                .context("không thiết lập được việc gửi lời mời (cannot set up outreach)")?;
        let recorder = Recorder::start(&db, metrics.clone())
            .context("không khởi động được các luồng ghi (cannot start the commit threads)")?;
        let state = AppState::new(
            settings.clone(),
            db.clone(),
            recorder,
            secret,
            Arc::new(Current::new(questionnaire)),
            metrics.clone(),
        );
        let warm = (settings.dashboard.report_fresh_seconds > 0).then(|| schedule::Warm {
            cache: state.reports.clone(),
            queries: crate::web::staff::overview::default_reports,
        });
        let server = Server::bind(state)?;
        let scheduler = schedule::spawn(db.clone(), settings, mailer, metrics, outreach, warm);
        Ok(Application {
            server,
            scheduler,
            db,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The metrics listener's port, when `server.metrics_bind` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.server.metrics_port()
    }

    /// The database the application runs on.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// A handle to stop the server from elsewhere (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// A weak reference to the web state: it is released once [`Application::run_until_stopped`]
    /// has returned and every HTTP worker has let go of it.
    pub fn state(&self) -> std::sync::Weak<AppState> {
        std::sync::Arc::downgrade(&self.server.state().into_inner())
    }

    /// Runs until stopped. SIGINT/SIGTERM (or [`ServerHandle::stop`]) first let in-flight
    /// requests finish (up to `shutdown_timeout_secs`), then the scheduler's current round.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server, scheduler, ..
        } = self;
        let result = server.run().await;
        if let Some(scheduler) = scheduler {
            server::unblock(move || scheduler.stop()).await?;
        }
        tracing::info!("sipas stopped");
        result
    }

    /// Runs until stopped, on a runtime of its own (the command line's `serve`).
    pub fn run_blocking(self) -> std::io::Result<()> {
        server::block_on(self.run_until_stopped())
    }
}

/// The configured secret, or the one kept in the key file (created on first start).
pub fn load_secret(settings: &Settings) -> anyhow::Result<TokenSecret> {
    if let Some(key) = &settings.security.secret_key {
        return Ok(TokenSecret::new(key.as_bytes()));
    }
    let path: &Path = &settings.security.secret_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => Ok(TokenSecret::new(text.trim().as_bytes())),
        Ok(_) => anyhow::bail!(
            "tệp khóa bí mật {p} ngắn hơn 32 ký tự (the secret key file {p} is shorter than 32 characters)",
            p = path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = TokenSecret::generate()
                .map_err(|e| anyhow::anyhow!("không có nguồn ngẫu nhiên (no randomness): {e}"))?;
            write_private(path, &key)
                .with_context(|| format!("không tạo được (cannot create) {}", path.display()))?;
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
