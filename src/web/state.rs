//! What every handler shares: the database, the response recorder, the current questionnaire,
//! the token secret, the settings, the rate limits and the recently computed reports. Built
//! from the parts start-up opened; handlers reach the database through [`AppState::read`] and
//! [`AppState::write`], which run the work on actix's blocking pool.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::error::AppError;
use super::ratelimit::CitizenLimits;
use crate::config::Settings;
use crate::db::{Database, DbConn};
use crate::domain::TokenSecret;
use crate::metrics::Metrics;
use crate::questionnaire::Questionnaire;
use crate::questionnaire::versions::Current;
use crate::report::cache::ReportCache;
use crate::responses::record::Recorder;
use crate::responses::submission::Submit;

/// The shared state of the web layer.
pub struct AppState {
    pub settings: Settings,
    pub db: Database,
    pub recorder: Recorder,
    pub secret: TokenSecret,
    questionnaire: Arc<Current>,
    /// Walk-in responses per client and agency, unknown survey links per client.
    pub limits: CitizenLimits,
    /// Reports the dashboard computed recently.
    pub reports: Arc<ReportCache>,
    /// Operational metrics (`GET /metrics` on the metrics listener).
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The state over what start-up opened.
    pub fn new(
        settings: Settings,
        db: Database,
        recorder: Recorder,
        secret: TokenSecret,
        questionnaire: Arc<Current>,
        metrics: Arc<Metrics>,
    ) -> AppState {
        let limits = CitizenLimits::new(&settings);
        let reports = Arc::new(ReportCache::new(
            db.clone(),
            Duration::from_secs(u64::from(settings.dashboard.report_fresh_seconds)),
        ));
        AppState {
            settings,
            db,
            recorder,
            secret,
            questionnaire,
            limits,
            reports,
            metrics,
        }
    }

    /// The questionnaire citizens answer now.
    pub fn questionnaire(&self) -> Arc<Questionnaire> {
        self.questionnaire.get()
    }

    /// Makes `q` the questionnaire citizens answer from now on.
    pub fn set_questionnaire(&self, q: Questionnaire) {
        self.questionnaire.set(q);
    }

    /// What a citizen's submission needs (call from a blocking thread).
    pub fn submit<'a>(
        &'a self,
        questionnaire: &'a Questionnaire,
        lang: crate::domain::Lang,
    ) -> Submit<'a> {
        Submit {
            db: &self.db,
            recorder: &self.recorder,
            questionnaire,
            settings: &self.settings,
            lang,
        }
    }

    /// Runs the read `f` with a pooled connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || db.read(f)).await
    }

    /// Runs the write `f` on the blocking pool, one writer at a time on SQLite.
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || db.write(f)).await
    }
}

/// Runs `f` on actix's blocking thread pool.
pub async fn blocking<T, F>(f: F) -> Result<T, AppError>
where
    F: FnOnce() -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await.map_err(AppError::internal)?
}
