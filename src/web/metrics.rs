//! The web side of the metrics: a middleware that counts every request by route pattern and
//! status, and `GET /metrics`, answered only on the metrics listener (`server.metrics_bind`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::AppError;
use super::state::AppState;
use crate::clock;
use crate::mail::outbox;
use crate::metrics::Gauges;

/// The port of the metrics listener, if any: `/metrics` answers there only.
#[derive(Debug, Clone, Copy)]
pub struct MetricsPort(pub Option<u16>);

/// Counts the request and its time under its route pattern (`unmatched` for unknown paths, so
/// scanners cannot grow the table).
pub async fn count_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> actix_web::Result<ServiceResponse<impl MessageBody>> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res.request().match_pattern();
        state.metrics.request(
            route.as_deref().unwrap_or("unmatched"),
            res.status().as_u16(),
            started.elapsed(),
        );
    }
    Ok(res)
}

/// `GET /metrics` in the Prometheus text format; a 404 on any listener but the metrics one.
pub async fn show_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    port: web::Data<MetricsPort>,
) -> Result<HttpResponse, AppError> {
    if port.0 != Some(req.app_config().local_addr().port()) {
        return Err(AppError::NotFound);
    }
    let pool = state.db.pool().state();
    let (pending, oldest) = state.read(|c| Ok(outbox::backlog(c)?)).await?;
    let gauges = Gauges {
        outbox_pending: pending,
        outbox_oldest_seconds: oldest
            .map(|at| (clock::now() - at).num_seconds().max(0))
            .unwrap_or(0),
        pool_connections: pool.connections,
        pool_idle: pool.idle_connections,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges)))
}
