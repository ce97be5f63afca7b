//! The reform office's dashboard under `/admin`: sign-in, roles, overview, agency pages, cases,
//! exports, catalog, questionnaires, mail and users. Every handler names the signed-in user it
//! needs ([`guard::Viewer`], [`guard::Staff`], [`guard::Admin`]), so authorisation is checked on
//! the server before anything runs; routes are in [`crate::web::routes`].

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
pub mod period;
pub mod poster;
pub mod questionnaires;
pub mod users;
