//! The route table: every URL of the application and the handler that serves it. The dashboard
//! lives under one `/admin` scope; its handlers take a [`staff::guard::Viewer`] (signed in, with
//! the role the page needs) before anything else.

use actix_web::{HttpResponse, web};

use super::state::AppState;
use super::{api, assets, citizen, metrics, staff};

/// Every route of the application.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics::show_metrics))
        .route("/assets/{file}", web::get().to(assets::serve_asset))
        .route("/api/v1/openapi.json", web::get().to(api::openapi))
        .route("/api/v1/dossiers", web::post().to(api::report_dossiers))
        .route("/q/{file}", web::get().to(api::show_qr))
        .route("/s/{token}", web::get().to(citizen::survey::show_survey))
        .route("/s/{token}", web::post().to(citizen::survey::submit_survey))
        .route(
            "/u/{token}",
            web::get().to(citizen::unsubscribe::show_unsubscribe),
        )
        .route(
            "/u/{token}",
            web::post().to(citizen::unsubscribe::submit_unsubscribe),
        )
        .route("/k/{agency}", web::get().to(citizen::walk_in::show_walk_in))
        .route(
            "/k/{agency}",
            web::post().to(citizen::walk_in::submit_walk_in_form),
        )
        .service(web::scope("/admin").configure(staff_routes));
}

/// The dashboard, relative to `/admin`.
fn staff_routes(cfg: &mut web::ServiceConfig) {
    use staff::{
        agencies, agency, cases, catalog, exports, login, mail, overview, password, poster,
        questionnaires, reach, users,
    };
    cfg.route("", web::get().to(overview::show_overview))
        .route("/login", web::get().to(login::show_login))
        .route("/login", web::post().to(login::submit_login))
        .route("/logout", web::post().to(login::logout))
        .route("/lang", web::post().to(login::set_lang))
        .route("/password", web::get().to(password::show_password))
        .route("/password", web::post().to(password::change_password))
        .route("/agencies", web::get().to(agencies::list_agencies))
        .route("/agencies/{code}", web::get().to(agency::show_agency))
        .route(
            "/agencies/{code}/poster",
            web::get().to(poster::show_poster),
        )
        .route("/cases", web::get().to(cases::list_cases))
        .route("/cases/{id}", web::get().to(cases::show_case))
        .route("/cases/{id}", web::post().to(cases::update_case))
        .route("/export/report.csv", web::get().to(exports::report_csv))
        .route("/export/report.xlsx", web::get().to(exports::report_xlsx))
        .route("/export/reach.csv", web::get().to(reach::reach_csv))
        .route("/export/reach.xlsx", web::get().to(reach::reach_xlsx))
        .route(
            "/export/responses.csv",
            web::get().to(exports::responses_csv),
        )
        .route(
            "/catalog",
            web::get().to(staff::show::<catalog::CatalogPage>),
        )
        .route("/catalog/keys", web::post().to(catalog::create_key))
        .route("/catalog/keys/revoke", web::post().to(catalog::revoke_key))
        .route("/catalog/import", web::post().to(catalog::import_catalog))
        .route(
            "/questionnaires",
            web::get().to(staff::show::<questionnaires::QuestionnairesPage>),
        )
        .route(
            "/questionnaires",
            web::post().to(questionnaires::publish_questionnaire),
        )
        .route("/mail", web::get().to(staff::show::<mail::MailPage>))
        .route("/mail/retry", web::post().to(mail::retry))
        .route("/mail/recipients", web::post().to(mail::add_recipient))
        .route(
            "/mail/recipients/remove",
            web::post().to(mail::remove_recipient),
        )
        .route("/users", web::get().to(staff::show::<users::UsersPage>))
        .route("/users", web::post().to(users::invite_user))
        .route("/users/{id}/disabled", web::post().to(users::set_disabled))
        .route(
            "/users/{id}/password",
            web::post().to(password::reset_password),
        );
}

/// `GET /readyz`: 200 when a write can be made within the database's lock timeout (the
/// server can take responses), 503 otherwise — for a load balancer's readiness check.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let now = crate::clock::now();
    let ok = state
        .write(move |conn| Ok(crate::db::claim(conn, "readyz", now)?))
        .await;
    match ok {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database not writable"),
    }
}

/// `GET /healthz` (liveness): 200 when the database answers a read, 503 otherwise.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok = state.read(|conn| Ok(crate::db::ping(conn)?)).await;
    match ok {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable"),
    }
}
