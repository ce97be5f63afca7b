//! The reform office's dashboard: sign-in, roles, overview, agency pages and user management.
//! Every route checks authorisation on the server through [`guard::Viewer`].

pub mod agency;
pub mod cases;
pub mod catalog;
pub mod charts;
pub mod exports;
pub mod guard;
pub mod layout;
pub mod login;
pub mod mail;
pub mod overview;
pub mod poster;
pub mod questionnaires;
pub mod users;

use actix_web::web;

/// The dashboard's routes, under `/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(overview::show_overview))
        .route("/admin/login", web::get().to(login::show_login))
        .route("/admin/login", web::post().to(login::submit_login))
        .route("/admin/logout", web::post().to(login::logout))
        .route("/admin/lang", web::post().to(login::set_lang))
        .route("/admin/agencies/{code}", web::get().to(agency::show_agency))
        .route(
            "/admin/agencies/{code}/poster",
            web::get().to(poster::show_poster),
        )
        .route("/admin/cases", web::get().to(cases::list_cases))
        .route("/admin/cases/{id}", web::get().to(cases::show_case))
        .route("/admin/cases/{id}", web::post().to(cases::update_case))
        .route(
            "/admin/export/report.csv",
            web::get().to(exports::report_csv),
        )
        .route(
            "/admin/export/report.xlsx",
            web::get().to(exports::report_xlsx),
        )
        .route(
            "/admin/export/responses.csv",
            web::get().to(exports::responses_csv),
        )
        .route("/admin/catalog", web::get().to(catalog::show_catalog))
        .route("/admin/catalog/keys", web::post().to(catalog::create_key))
        .route(
            "/admin/catalog/keys/revoke",
            web::post().to(catalog::revoke_key),
        )
        .route(
            "/admin/catalog/import",
            web::post().to(catalog::import_catalog),
        )
        .route(
            "/admin/questionnaires",
            web::get().to(questionnaires::show_questionnaires),
        )
        .route(
            "/admin/questionnaires",
            web::post().to(questionnaires::publish_questionnaire),
        )
        .route("/admin/mail", web::get().to(mail::show_mail))
        .route("/admin/mail/retry", web::post().to(mail::retry))
        .route(
            "/admin/mail/recipients",
            web::post().to(mail::add_recipient),
        )
        .route(
            "/admin/mail/recipients/remove",
            web::post().to(mail::remove_recipient),
        )
        .route("/admin/users", web::get().to(users::list_users))
        .route("/admin/users", web::post().to(users::invite_user))
        .route(
            "/admin/users/{id}/disabled",
            web::post().to(users::set_disabled),
        );
}
