//! Reaching the citizen: a dossier reported with an email address or a mobile number brings its
//! citizen one invitation and at most one reminder, by Zalo, SMS or email in the configured
//! order, through the outbox, exactly once; a citizen is invited at most once per fatigue window;
//! the address is kept only until the last message. See `docs/outreach.md`.
//!
//! - [`enroll`]: at report time, in the dossier's transaction: fatigue and opt-out, the address
//!   kept apart, the invitation queued.
//! - [`deliver`]: the scheduled part: sending due messages (rendered when sent), falling back
//!   from one channel to the next, queueing due reminders, erasing addresses, purging.
//! - [`gateway`]: the HTTP gateway for SMS and Zalo; [`messages`]: what the citizen reads;
//!   [`unsubscribe`]: the signed opt-out link; [`counts`]: the reach funnel.

pub mod counts;
pub mod deliver;
pub mod enroll;
pub mod gateway;
pub mod messages;
pub mod unsubscribe;

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::domain::TokenSecret;

/// A channel that carries a message to a citizen.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    Zalo,
    Sms,
    Email,
}

crate::text_column!(Medium, "outreach channel");

impl Medium {
    /// Every channel, in the order the funnel shows them.
    pub const ALL: [Medium; 3] = [Medium::Zalo, Medium::Sms, Medium::Email];

    /// Parses the stored code.
    pub fn parse(s: &str) -> Option<Medium> {
        match s {
            "zalo" => Some(Medium::Zalo),
            "sms" => Some(Medium::Sms),
            "email" => Some(Medium::Email),
            _ => None,
        }
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Zalo => "zalo",
            Medium::Sms => "sms",
            Medium::Email => "email",
        }
    }

    /// The name people read ("Zalo", "SMS", "Email"; the same in both languages).
    pub fn label(self) -> &'static str {
        match self {
            Medium::Zalo => "Zalo",
            Medium::Sms => "SMS",
            Medium::Email => "Email",
        }
    }
}

/// A citizen's addresses as a dossier reported them, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// Lower-case email address.
    pub email: Option<String>,
    /// A Vietnamese mobile number as `84` and nine digits.
    pub phone: Option<String>,
}

impl Contact {
    /// True when there is no address at all.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }

    /// The address `medium` needs, if the contact has it.
    pub fn address(&self, medium: Medium) -> Option<&str> {
        match medium {
            Medium::Email => self.email.as_deref(),
            Medium::Sms | Medium::Zalo => self.phone.as_deref(),
        }
    }

    /// The keyed hashes of the addresses (what the fatigue window and opt-outs keep).
    pub fn hashes(&self, secret: &TokenSecret) -> Vec<String> {
        let mut hashes = Vec::new();
        if let Some(e) = &self.email {
            hashes.push(secret.pseudonym("outreach", &format!("email:{e}")));
        }
        if let Some(p) = &self.phone {
            hashes.push(secret.pseudonym("outreach", &format!("phone:{p}")));
        }
        hashes
    }
}

/// A Vietnamese mobile number as `84` and nine digits, from the forms people write it in
/// (`0912 345 678`, `+84 912.345.678`, `84912345678`, `0084 912 345 678`, and with the trunk
/// zero kept after the country code: `+840912345678`, `+84 (0)912 345 678`); `None` for
/// anything else (landlines cannot receive SMS or Zalo notifications).
pub fn normalise_phone(raw: &str) -> Option<String> {
    let digits: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let international = digits
        .strip_prefix("+84")
        .or_else(|| digits.strip_prefix("0084"))
        .or_else(|| {
            digits
                .strip_prefix("84")
                .filter(|rest| rest.len() == 9 || (rest.len() == 10 && rest.starts_with('0')))
        });
    let national = match international {
        // The trunk zero written after the country code (`+84 (0)912…`) is not dialled.
        Some(rest) if rest.len() == 10 => rest.strip_prefix('0')?,
        Some(rest) => rest,
        None => digits.strip_prefix('0')?,
    };
    let mobile = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9');
    mobile.then(|| format!("84{national}"))
}

/// What outreach can use on this installation: the channels in order that are configured.
#[derive(Debug, Clone)]
pub struct Reach {
    /// The configured channels, in the order messages try them.
    pub channels: Vec<Medium>,
    pub fatigue_days: u32,
    /// Dossiers returned longer ago than this many days get no message; 0: no limit.
    pub max_age_days: u32,
    /// The domain of Message-IDs (and of the per-message ids gateways see).
    pub domain: String,
}

impl Reach {
    /// The outreach the settings switch on; `None` when no channel is configured (then an
    /// address a dossier carries is not kept at all).
    pub fn from_settings(settings: &Settings) -> Option<Reach> {
        let channels: Vec<Medium> = settings
            .outreach
            .channels
            .iter()
            .copied()
            .filter(|m| match m {
                Medium::Email => settings.mail.transport != crate::config::MailTransport::None,
                Medium::Sms => settings.sms.is_on(),
                Medium::Zalo => settings.zalo.is_on(),
            })
            .collect();
        (!channels.is_empty()).then(|| Reach {
            channels,
            fatigue_days: settings.outreach.fatigue_days,
            max_age_days: settings.outreach.max_age_days,
            domain: crate::mail::message_domain(settings),
        })
    }

    /// The channels `contact` can be reached by, in order.
    pub fn plan(&self, contact: &Contact) -> Vec<Medium> {
        self.channels
            .iter()
            .copied()
            .filter(|m| contact.address(*m).is_some())
            .collect()
    }

    /// The channel after `current` in `contact`'s plan.
    pub fn next(&self, contact: &Contact, current: Medium) -> Option<Medium> {
        let plan = self.plan(contact);
        let at = plan.iter().position(|m| *m == current)?;
        plan.get(at + 1).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_read_in_every_usual_form() {
        for raw in [
            "0912345678",
            "0912 345 678",
            "+84 912.345.678",
            "84912345678",
            "(+84) 912-345-678",
            "+840912345678",
            "0084912345678",
            "0084 912 345 678",
            "+84 (0)912 345 678",
            "840912345678",
        ] {
            assert_eq!(
                normalise_phone(raw).as_deref(),
                Some("84912345678"),
                "{raw}"
            );
        }
        assert_eq!(
            normalise_phone("0387654321").as_deref(),
            Some("84387654321")
        );
        for bad in [
            "02083856789",
            "091234567",
            "09123456789",
            "+1 415 555 0100",
            "",
            "0912a45678",
            "00912345678",
            "+8409123456789",
            "+84 (1)912 345 678",
            "008402083856789",
            "+84 0208 3856 789",
        ] {
            assert_eq!(normalise_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_plan_follows_the_order_and_the_addresses() {
        let reach = Reach {
            channels: vec![Medium::Zalo, Medium::Sms, Medium::Email],
            fatigue_days: 30,
            max_age_days: 14,
            domain: "x.vn".into(),
        };
        let both = Contact {
            email: Some("a@b.vn".into()),
            phone: Some("84912345678".into()),
        };
        assert_eq!(
            reach.plan(&both),
            [Medium::Zalo, Medium::Sms, Medium::Email]
        );
        assert_eq!(reach.next(&both, Medium::Sms), Some(Medium::Email));
        let email = Contact {
            email: Some("a@b.vn".into()),
            phone: None,
        };
        assert_eq!(reach.plan(&email), [Medium::Email]);
        assert_eq!(reach.next(&email, Medium::Email), None);
    }
}
