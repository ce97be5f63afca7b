//! The period and province a dashboard page is asked for (`?from=&to=&province=`). Dates are
//! bounded: one outside [`EARLIEST`, `LATEST`] makes the query unreadable (a 400 page), never a
//! date computation that overflows.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Deserializer};

/// The earliest date a page may be asked for.
pub const EARLIEST: NaiveDate = date(2000, 1, 1);
/// The latest date a page may be asked for.
pub const LATEST: NaiveDate = date(2100, 12, 31);

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => panic!("not a date"),
    }
}

/// The period and province chosen on a page.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    #[serde(default, deserialize_with = "bounded_date")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "bounded_date")]
    pub to: Option<NaiveDate>,
    pub province: Option<String>,
}

/// An optional `YYYY-MM-DD` between [`EARLIEST`] and [`LATEST`]; empty means none.
fn bounded_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a date (YYYY-MM-DD)")))?;
    if !(EARLIEST..=LATEST).contains(&date) {
        return Err(serde::de::Error::custom(format!(
            "{date} is outside {EARLIEST} – {LATEST}"
        )));
    }
    Ok(Some(date))
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
