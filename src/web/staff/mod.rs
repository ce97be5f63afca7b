//! The reform office's dashboard under `/admin`: sign-in, roles, overview, agency pages, cases,
//! exports, catalog, questionnaires, mail and users. Every handler names the signed-in user it
//! needs ([`guard::Viewer`], [`guard::Staff`], [`guard::Admin`]), so authorisation is checked on
//! the server before anything runs; routes are in [`crate::web::routes`].

pub mod agencies;
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
pub mod password;
pub mod period;
pub mod poster;
pub mod questionnaires;
pub mod reach;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::Markup;

use self::guard::{Admin, Viewer};
use crate::accounts::audit;
use crate::db::DbConn;
use crate::web::error::AppError;
use crate::web::state::AppState;

/// An admin page that shows a notice after a change (catalog, questionnaires, mail, users).
pub trait AdminPage {
    /// The page for `viewer`, with `notice` above its content, answered with `status`.
    fn render(
        viewer: &Viewer,
        state: &AppState,
        notice: Option<Markup>,
        status: StatusCode,
    ) -> impl Future<Output = Result<HttpResponse, AppError>>;

    /// The page after a change: `Ok` says what was done (200), `Err` why nothing was (422).
    fn after(
        viewer: &Viewer,
        state: &AppState,
        outcome: Result<Markup, Markup>,
    ) -> impl Future<Output = Result<HttpResponse, AppError>> {
        let (notice, status) = match outcome {
            Ok(done) => (done, StatusCode::OK),
            Err(refused) => (refused, StatusCode::UNPROCESSABLE_ENTITY),
        };
        Self::render(viewer, state, Some(notice), status)
    }
}

/// `GET` of an admin page (admins only).
pub async fn show<P: AdminPage>(
    Admin(viewer): Admin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    P::render(&viewer, &state, None, StatusCode::OK).await
}

/// Runs `change` as `actor` and records it in the audit log as `action` with `detail`, in one
/// transaction.
pub async fn audited<T, F>(
    state: &AppState,
    actor: i64,
    action: &'static str,
    detail: String,
    change: F,
) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> diesel::QueryResult<T> + Send + 'static,
    T: Send + 'static,
{
    let now = crate::clock::now();
    state
        .write(move |conn| {
            Ok(crate::db::write_transaction(conn, |conn| {
                let done = change(conn)?;
                audit::record(conn, now, Some(actor), action, &detail)?;
                Ok::<T, diesel::result::Error>(done)
            })?)
        })
        .await
}
