//! sipas: continuous citizen-satisfaction (SIPAS) surveys for Vietnamese one-stop offices.
//!
//! Layers, top to bottom (see `docs/architecture.md`): entry points (`cli`, `web`, `schedule`)
//! → feature modules → storage (`db`) → pure statistics (`stats`).

pub mod accounts;
pub mod aggregates;
pub mod apikeys;
pub mod cases;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod csvfile;
pub mod csvsafe;
pub mod db;
pub mod demo;
pub mod domain;
pub mod invitations;
pub mod lexicon;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod monitoring;
pub mod outreach;
pub mod privacy;
pub mod questionnaire;
pub mod report;
pub mod responses;
pub mod schedule;
pub mod startup;
pub mod stats;
pub mod text;
pub mod web;
