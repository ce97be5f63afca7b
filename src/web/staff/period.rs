//! The period and province a dashboard page is asked for (`?from=&to=&province=`).

use chrono::{Duration, NaiveDate};
use serde::Deserialize;

/// The period and province chosen on a page.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub province: Option<String>,
}

impl PeriodQuery {
    /// The province code asked for, if any.
    pub fn province_code(&self) -> Option<String> {
        self.province.clone().filter(|p| !p.trim().is_empty())
    }

    /// The period asked for, or the last 365 days (Vietnam time).
    pub fn period(&self) -> (NaiveDate, NaiveDate) {
        let to = self.to.unwrap_or_else(crate::clock::today);
        let from = self
            .from
            .filter(|f| *f <= to)
            .unwrap_or(to - Duration::days(364));
        (from, to)
    }
}
