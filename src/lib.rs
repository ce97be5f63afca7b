//! sipas: continuous citizen-satisfaction (SIPAS) surveys for Vietnamese one-stop offices.

pub mod accounts;
pub mod aggregates;
pub mod apikeys;
pub mod cases;
pub mod catalog;
pub mod charts;
pub mod cli;
pub mod config;
pub mod csvfile;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod invitations;
pub mod lexicon;
pub mod mail;
pub mod privacy;
pub mod questionnaire;
pub mod report;
pub mod responses;
pub mod startup;
pub mod stats;
pub mod surveys;
pub mod web;
