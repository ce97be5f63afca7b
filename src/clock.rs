//! Time as sipas means it: instants are UTC (stored without offset), calendar days
//! are Vietnam's (UTC+7 all year, no daylight saving). Every "now" and "today" comes from here.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Vietnam's offset from UTC, in hours.
pub const VIETNAM_OFFSET_HOURS: i32 = 7;

/// Vietnam's offset (UTC+7): dates without an offset are read as local time.
#[expect(clippy::expect_used, reason = "a constant offset within ±24 h")]
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(VIETNAM_OFFSET_HOURS * 3600).expect("UTC+7 is a valid offset")
}

/// The current instant in UTC.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The current instant in UTC to the second, for values both backends must store alike.
pub fn now_to_second() -> NaiveDateTime {
    truncate(now())
}

/// The current instant on Vietnam's clock.
pub fn local_now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&vietnam())
}

/// Today's date in Vietnam.
pub fn today() -> NaiveDate {
    local_now().date_naive()
}

/// The instant `utc` on Vietnam's clock.
pub fn local(utc: NaiveDateTime) -> DateTime<FixedOffset> {
    Utc.from_utc_datetime(&utc).with_timezone(&vietnam())
}

/// A day as people in Vietnam write it: `30/11/2026`.
pub fn day_text(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

/// The UTC instant `utc` in Vietnam time, as people in Vietnam write it: `30/11/2026 14:05`
/// (pages name the zone in their column headings).
pub fn local_text(utc: NaiveDateTime) -> String {
    local(utc).format("%d/%m/%Y %H:%M").to_string()
}

/// The Vietnam calendar day of the UTC instant `utc`.
pub fn day_of(utc: NaiveDateTime) -> NaiveDate {
    local(utc).date_naive()
}

/// Drops sub-second precision.
pub fn truncate(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

/// The SQL expression of the Vietnam calendar day of the UTC timestamp `column`.
pub fn sql_local_day(column: &str, sqlite: bool) -> String {
    if sqlite {
        format!("DATE({column}, '+{VIETNAM_OFFSET_HOURS} hours')")
    } else {
        format!("DATE({column} + INTERVAL '{VIETNAM_OFFSET_HOURS} hours')")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_the_vietnam_calendar_day() {
        let evening_utc = NaiveDate::from_ymd_opt(2026, 3, 1).and_then(|d| d.and_hms_opt(18, 0, 0));
        let day = evening_utc.map(day_of).map(|d| d.to_string());
        assert_eq!(day.as_deref(), Some("2026-03-02"));
        let morning_utc =
            NaiveDate::from_ymd_opt(2026, 3, 1).and_then(|d| d.and_hms_opt(16, 59, 59));
        assert_eq!(
            morning_utc.map(day_of).map(|d| d.to_string()).as_deref(),
            Some("2026-03-01")
        );
    }

    #[test]
    fn sql_day_expressions_name_the_offset() {
        assert_eq!(sql_local_day("t", true), "DATE(t, '+7 hours')");
        assert_eq!(sql_local_day("t", false), "DATE(t + INTERVAL '7 hours')");
    }
}
