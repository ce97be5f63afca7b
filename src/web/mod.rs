//! The HTTP layer: every handler, extractor, route, middleware and page lives here, and nothing
//! below it knows of actix or maud pages. `citizen/` serves the survey, `staff/` the dashboard,
//! `api` the one-stop systems; `state` is what handlers share, `error` turns every lower error
//! into a page once.

pub mod api;
pub mod assets;
pub mod charts;
pub mod citizen;
pub mod client;
pub mod error;
pub mod form;
pub mod html;
pub mod layout;
pub mod metrics;
pub mod pages;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod staff;
pub mod state;
pub mod views;
