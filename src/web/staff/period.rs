//! The period and province a dashboard page is asked for (`?from=&to=&province=`), and the form
//! that asks for them: dates, and the province chosen from the catalog's list. Dates are
//! bounded: one outside [`EARLIEST`, `LATEST`] makes the query unreadable (a 400 page), never a
//! date computation that overflows.

use chrono::{Datelike, Duration, NaiveDate};
use maud::{Markup, html};
use serde::{Deserialize, Deserializer};

use crate::catalog::Province;
use crate::domain::Lang;
use crate::report::map::MapMode;

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

/// The period and province chosen on a page (`Default`: none chosen).
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default, deserialize_with = "bounded_date")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "bounded_date")]
    pub to: Option<NaiveDate>,
    pub province: Option<String>,
    /// A released month (`YYYY-MM`): the only periods agency heads see.
    #[serde(default, deserialize_with = "bounded_month")]
    pub month: Option<NaiveDate>,
    /// `today` (the default) or `as-it-was`: the map a period across a reorganisation is shown on.
    #[serde(default, deserialize_with = "map_mode")]
    pub map: Option<MapMode>,
}

/// An optional map (`today`, `as-it-was`); anything else makes the query unreadable.
fn map_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MapMode>, D::Error> {
    let text = String::deserialize(d)?;
    MapMode::parse(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} is not a map (today or as-it-was)"))
    })
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

    /// The map asked for (today's by default).
    pub fn map_mode(&self) -> MapMode {
        self.map.unwrap_or_default()
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

/// What a page shows: the period and the province (`None`: every province).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub province: Option<String>,
    pub map: MapMode,
}

impl Shown {
    /// `from=…&to=…[&province=…][&map=as-it-was]`, URL-encoded, for links that keep the same
    /// view.
    pub fn query(&self) -> String {
        let mut pairs = vec![("from", self.from.to_string()), ("to", self.to.to_string())];
        if let Some(p) = &self.province {
            pairs.push(("province", p.clone()));
        }
        if self.map != MapMode::default() {
            pairs.push(("map", self.map.as_str().to_owned()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// A province code that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvince(pub String);

/// The province code `asked` for among `provinces` (letter case aside, so `tn` is `TN`); `None`
/// when nothing was asked for.
pub fn resolve_province(
    provinces: &[Province],
    asked: Option<&str>,
) -> Result<Option<String>, UnknownProvince> {
    let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    provinces
        .iter()
        .find(|p| p.code == asked)
        .or_else(|| {
            provinces
                .iter()
                .find(|p| p.code.eq_ignore_ascii_case(asked))
        })
        .map(|p| Some(p.code.clone()))
        .ok_or_else(|| UnknownProvince(asked.to_owned()))
}

/// The form choosing the period and the province (from the list) of the page at `action`;
/// `keep` are hidden fields kept as they are (a list's sort order).
pub fn filter_form(
    action: &str,
    shown: &Shown,
    provinces: &[Province],
    keep: &[(&str, &str)],
    lang: Lang,
) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        form.filters method="get" action=(action) {
            @for (name, value) in keep { input type="hidden" name=(name) value=(value); }
            div { label for="from" { (t("Từ ngày", "From")) } br; input #from type="date" name="from" value=(shown.from); }
            div { label for="to" { (t("Đến ngày", "To")) } br; input #to type="date" name="to" value=(shown.to); }
            div {
                label for="province" { (t("Tỉnh", "Province")) } br;
                select #province name="province" {
                    option value="" selected[shown.province.is_none()] { (t("Tất cả các tỉnh", "Every province")) }
                    @for p in provinces {
                        option value=(p.code) selected[shown.province.as_deref() == Some(p.code.as_str())] {
                            (p.name) @if p.name != p.code { " (" (p.code) ")" }
                        }
                    }
                }
            }
            div {
                label for="map" { (t("Bản đồ hành chính", "Administrative map")) } br;
                select #map name="map" {
                    option value="today" selected[shown.map == MapMode::Today] {
                        (t("Như hiện nay (gộp đơn vị trước sáp nhập)", "As today (predecessors rolled up)"))
                    }
                    option value="as-it-was" selected[shown.map == MapMode::AsItWas] {
                        (t("Như tại thời điểm đó", "As it was"))
                    }
                }
            }
            div { button type="submit" { (t("Xem", "Show")) } }
        }
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

    #[test]
    fn provinces_are_found_whatever_the_case() {
        let list =
            [("TN", "Thái Nguyên"), ("tn", "lower"), ("BK", "Bắc Kạn")].map(|(code, name)| {
                Province {
                    id: 0,
                    code: code.into(),
                    name: name.into(),
                }
            });
        assert_eq!(resolve_province(&list, None), Ok(None));
        assert_eq!(resolve_province(&list, Some(" ")), Ok(None));
        assert_eq!(resolve_province(&list, Some("tn")), Ok(Some("tn".into())));
        assert_eq!(resolve_province(&list, Some("bk")), Ok(Some("BK".into())));
        assert_eq!(
            resolve_province(&list, Some("XX")),
            Err(UnknownProvince("XX".into()))
        );
        let shown = Shown {
            from: d("2026-01-01"),
            to: d("2026-12-31"),
            province: Some("A&B".into()),
            map: MapMode::Today,
        };
        assert_eq!(
            shown.query(),
            "from=2026-01-01&to=2026-12-31&province=A%26B"
        );
        let as_it_was = Shown {
            map: MapMode::AsItWas,
            ..shown
        };
        assert_eq!(
            as_it_was.query(),
            "from=2026-01-01&to=2026-12-31&province=A%26B&map=as-it-was"
        );
    }

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
            map: None,
            month: month.map(d),
        };
        assert_eq!(
            q(None).released_month(d("2026-11-30")),
            Some((d("2026-10-01"), d("2026-10-31")))
        );
        assert_eq!(q(Some("2026-11-01")).released_month(d("2026-11-30")), None);
    }
}
