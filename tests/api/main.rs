//! Integration tests: the real application on a real database (SQLite by default, PostgreSQL
//! when TEST_DATABASE_URL is set), over real HTTP. One test binary.

mod abuse;
mod admin_map;
mod api;
mod backup;
mod binary;
mod browser;
mod columns;
mod crash;
mod dashboard;
mod digests;
mod flags;
mod fuzz;
mod gateway;
mod helpers;
mod hostile_input;
mod import_staging;
mod imports;
mod language;
mod logs;
mod mail;
mod metrics;
mod migrations;
mod monitor;
mod outage;
mod outreach;
mod overview;
mod privacy;
mod report;
mod robustness;
mod servers;
mod shutdown;
mod signed;
mod survey;
mod walkin;
