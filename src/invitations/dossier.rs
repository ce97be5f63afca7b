//! A reported dossier, parsed from API JSON or a CSV row, with lateness computed from its dates.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone};

use crate::clock::{day_of, truncate, vietnam};
use serde::Deserialize;

use crate::domain::{Channel, Code};
use crate::outreach::{Contact, normalise_phone};

/// A dossier as reported, before validation (the API's JSON shape).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DossierReport {
    pub dossier_code: String,
    pub agency_code: String,
    pub procedure_code: String,
    pub channel: String,
    pub received_at: String,
    #[serde(default)]
    pub due_at: Option<String>,
    pub returned_at: String,
    #[serde(default)]
    pub citizen_email: Option<String>,
    /// A Vietnamese mobile number, for the invitation by Zalo or SMS.
    #[serde(default)]
    pub citizen_phone: Option<String>,
}

/// A validated dossier (timestamps in UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Dossier {
    pub dossier_code: Code,
    pub agency_code: Code,
    pub procedure_code: Code,
    pub channel: Channel,
    pub received_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub returned_at: NaiveDateTime,
    /// The citizen's addresses, for the invitation (`crate::outreach`); never stored with it.
    pub contact: Contact,
}

/// One field's problem, with a message in Vietnamese and English.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
    pub message_vi: String,
}

fn problem(field: &'static str, en: impl Into<String>, vi: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: en.into(),
        message_vi: vi.into(),
    }
}

impl DossierReport {
    /// Validates the report; `now` bounds how far in the future a return date may be.
    pub fn parse(&self, now: NaiveDateTime) -> Result<Dossier, Vec<FieldError>> {
        let mut errors = Vec::new();
        let code = |field: &'static str, value: &str, errors: &mut Vec<FieldError>| {
            let parsed = Code::parse(value);
            if parsed.is_none() {
                errors.push(problem(
                    field,
                    "must be 1–64 letters, digits or - _ . /",
                    "phải gồm 1–64 chữ cái, chữ số hoặc - _ . /",
                ));
            }
            parsed
        };
        let dossier_code = code("dossier_code", &self.dossier_code, &mut errors);
        let agency_code = code("agency_code", &self.agency_code, &mut errors);
        let procedure_code = code("procedure_code", &self.procedure_code, &mut errors);
        let channel = Channel::parse(&self.channel).filter(|c| c.is_dossier_channel());
        if channel.is_none() {
            errors.push(problem(
                "channel",
                "must be counter, online or postal",
                "phải là counter, online hoặc postal",
            ));
        }
        let mut time = |field: &'static str, value: &str| {
            let parsed = parse_timestamp(value);
            if parsed.is_none() {
                errors.push(problem(
                    field,
                    "must be an RFC 3339 timestamp (2026-03-01T08:30:00+07:00) or a date (2026-03-01)",
                    "phải là thời điểm RFC 3339 (2026-03-01T08:30:00+07:00) hoặc ngày (2026-03-01)",
                ));
            }
            parsed
        };
        let received_at = time("received_at", &self.received_at);
        let returned_at = time("returned_at", &self.returned_at);
        let due_at = match self.due_at.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(v) => time("due_at", v).map(Some),
        };
        let citizen_email = match self.citizen_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) if plausible_email(e) => Some(e.to_lowercase()),
            Some(_) => {
                errors.push(problem(
                    "citizen_email",
                    "is not an email address",
                    "không phải địa chỉ email",
                ));
                None
            }
        };
        let citizen_phone = match self.citizen_phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => {
                let phone = normalise_phone(p);
                if phone.is_none() {
                    errors.push(problem(
                        "citizen_phone",
                        "is not a Vietnamese mobile number (0912345678 or +84912345678)",
                        "không phải số di động Việt Nam (0912345678 hoặc +84912345678)",
                    ));
                }
                phone
            }
        };
        if let (Some(received), Some(returned)) = (received_at, returned_at) {
            if returned < received {
                errors.push(problem(
                    "returned_at",
                    "is before received_at",
                    "sớm hơn thời điểm tiếp nhận (received_at)",
                ));
            }
            if returned > now + Duration::days(1) {
                errors.push(problem(
                    "returned_at",
                    "is in the future",
                    "ở thời điểm tương lai",
                ));
            }
            if let Some(Some(due)) = due_at
                && due < received
            {
                errors.push(problem(
                    "due_at",
                    "is before received_at",
                    "sớm hơn thời điểm tiếp nhận (received_at)",
                ));
            }
        }
        match (
            dossier_code,
            agency_code,
            procedure_code,
            channel,
            received_at,
            due_at,
            returned_at,
        ) {
            (
                Some(dossier_code),
                Some(agency_code),
                Some(procedure_code),
                Some(channel),
                Some(received_at),
                Some(due_at),
                Some(returned_at),
            ) if errors.is_empty() => Ok(Dossier {
                dossier_code,
                agency_code,
                procedure_code,
                channel,
                received_at,
                due_at,
                returned_at,
                contact: Contact {
                    email: citizen_email,
                    phone: citizen_phone,
                },
            }),
            _ => Err(errors),
        }
    }
}

impl Dossier {
    /// Late, and by how many calendar days (Vietnam time); `None` without a due date.
    pub fn lateness(&self) -> (Option<bool>, Option<i32>) {
        let Some(due) = self.due_at else {
            return (None, None);
        };
        if self.returned_at <= due {
            return (Some(false), Some(0));
        }
        let days = (day_of(self.returned_at) - day_of(due)).num_days().max(1);
        (Some(true), Some(i32::try_from(days).unwrap_or(i32::MAX)))
    }
}

/// Parses RFC 3339, or a date/date-time without offset read as Vietnam time; returns UTC,
/// truncated to the second (both backends then store the same value).
pub fn parse_timestamp(value: &str) -> Option<NaiveDateTime> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(truncate(t.naive_utc()));
    }
    let local = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    vietnam()
        .from_local_datetime(&local)
        .single()
        .map(|t| truncate(t.naive_utc()))
}

fn plausible_email(e: &str) -> bool {
    e.parse::<lettre::Address>().is_ok()
        && e.len() <= 254
        && !e.contains(char::is_whitespace)
        && e.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> DossierReport {
        DossierReport {
            dossier_code: "HS-001".into(),
            agency_code: "TN-STP".into(),
            procedure_code: "HT-KS".into(),
            channel: "counter".into(),
            received_at: "2026-03-01T08:00:00+07:00".into(),
            due_at: Some("2026-03-05".into()),
            returned_at: "2026-03-07T10:00:00+07:00".into(),
            citizen_email: None,
            citizen_phone: None,
        }
    }

    fn now() -> NaiveDateTime {
        parse_timestamp("2026-06-01").unwrap_or_default()
    }

    #[test]
    fn lateness_is_computed_in_vietnam_days() -> Result<(), Vec<FieldError>> {
        let d = report().parse(now())?;
        assert_eq!(d.lateness(), (Some(true), Some(2)));
        let on_time = DossierReport {
            returned_at: "2026-03-04".into(),
            ..report()
        }
        .parse(now())?;
        assert_eq!(on_time.lateness(), (Some(false), Some(0)));
        let no_due = DossierReport {
            due_at: None,
            ..report()
        }
        .parse(now())?;
        assert_eq!(no_due.lateness(), (None, None));
        Ok(())
    }

    #[test]
    fn timestamps_without_offset_are_vietnam_time() {
        let t = parse_timestamp("2026-03-01 07:00:00").map(|t| t.to_string());
        assert_eq!(t.as_deref(), Some("2026-03-01 00:00:00"));
        assert!(parse_timestamp("01/03/2026").is_none());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let bad = DossierReport {
            dossier_code: "".into(),
            channel: "fax".into(),
            received_at: "2026-03-08".into(),
            citizen_email: Some("not-an-email".into()),
            citizen_phone: Some("02083856789".into()),
            ..report()
        };
        let errors = bad.parse(now()).err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "dossier_code",
                "channel",
                "citizen_email",
                "citizen_phone",
                "returned_at",
                "due_at"
            ]
        );
        let future = DossierReport {
            returned_at: "2027-01-01".into(),
            ..report()
        };
        assert!(future.parse(now()).is_err());
    }

    proptest::proptest! {
        /// Any strings in any field: no panic, and an accepted dossier has consistent dates.
        #[test]
        fn any_report_is_parsed_without_panic(
            fields in proptest::collection::vec("\\PC{0,30}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?", 9),
        ) {
            let report = DossierReport {
                dossier_code: fields[0].clone(),
                agency_code: fields[1].clone(),
                procedure_code: fields[2].clone(),
                channel: fields[3].clone(),
                received_at: fields[4].clone(),
                due_at: Some(fields[5].clone()),
                returned_at: fields[6].clone(),
                citizen_email: Some(fields[7].clone()),
                citizen_phone: Some(fields[8].clone()),
            };
            if let Ok(d) = report.parse(now()) {
                proptest::prop_assert!(d.returned_at >= d.received_at);
                let (late, days) = d.lateness();
                proptest::prop_assert_eq!(late.is_some(), days.is_some());
            }
        }
    }
}
