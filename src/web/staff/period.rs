//! The period and province a dashboard page is asked for (`?from=&to=&province=`). Dates are
//! bounded: one outside [`EARLIEST`, `LATEST`] makes the query unreadable (a 400 page), never a
//! date computation that overflows.

use chrono::{Datelike, Duration, NaiveDate};
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
    /// A released month (`YYYY-MM`): the only periods agency heads see.
    #[serde(default, deserialize_with = "bounded_month")]
    pub month: Option<NaiveDate>,
}

/// An optional `YYYY-MM` between [`EARLIEST`] and [`LATEST`], as its first day.
fn bounded_month<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = String::deserialize(d)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a month (YYYY-MM)")))?;
    if !(EARLIEST..=LATEST).contains(&date) {
        return Err(serde::de::Error::custom(format!(
            "{text} is outside {EARLIEST} – {LATEST}"
        )));
    }
    Ok(Some(date))
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

    /// The released month asked for (or the last one), for an agency head on `today`: only
    /// months that have ended are released (see [`crate::report::disclosure`]); `None` for a
    /// month that has not ended.
    pub fn released_month(&self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let last = last_released(today);
        let first = self.month.unwrap_or(last);
        (first <= last).then(|| (first, month_end(first)))
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

/// The first day of the last month that has ended on `today`.
pub fn last_released(today: NaiveDate) -> NaiveDate {
    let this_month = today.with_day(1).unwrap_or(today);
    (this_month - Duration::days(1))
        .with_day(1)
        .unwrap_or(this_month)
}

/// The last day of the month that starts on `first`.
pub fn month_end(first: NaiveDate) -> NaiveDate {
    (first + Duration::days(32))
        .with_day(1)
        .map_or(first, |next| next - Duration::days(1))
}

/// The `n` released months up to `last`, most recent first.
pub fn released_months(last: NaiveDate, n: usize) -> Vec<NaiveDate> {
    std::iter::successors(Some(last), |m| (*m - Duration::days(1)).with_day(1))
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or(EARLIEST)
    }

    #[test]
    fn only_ended_months_are_released() {
        assert_eq!(last_released(d("2026-11-30")), d("2026-10-01"));
        assert_eq!(last_released(d("2026-01-01")), d("2025-12-01"));
        assert_eq!(month_end(d("2024-02-01")), d("2024-02-29"));
        assert_eq!(month_end(d("2026-12-01")), d("2026-12-31"));
        assert_eq!(
            released_months(d("2026-02-01"), 3),
            [d("2026-02-01"), d("2026-01-01"), d("2025-12-01")]
        );
        let q = |month: Option<&str>| PeriodQuery {
            from: None,
            to: None,
            province: None,
            month: month.map(d),
        };
        assert_eq!(
            q(None).released_month(d("2026-11-30")),
            Some((d("2026-10-01"), d("2026-10-31")))
        );
        assert_eq!(q(Some("2026-11-01")).released_month(d("2026-11-30")), None);
    }
}
