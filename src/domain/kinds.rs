//! Administrative levels and dossier channels, stored as short text codes.

use std::fmt;

/// The level of government an agency or procedure belongs to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Level {
    /// Province (cấp tỉnh).
    Tinh,
    /// District (cấp huyện): abolished on 1 July 2025, kept for the history before it.
    Huyen,
    /// Commune (cấp xã).
    Xa,
}

impl Level {
    /// Parses the stored code `tinh`, `huyen` or `xa` (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tinh" => Some(Level::Tinh),
            "huyen" => Some(Level::Huyen),
            "xa" => Some(Level::Xa),
            _ => None,
        }
    }

    /// The Vietnamese name ("cấp tỉnh").
    pub fn label(self) -> &'static str {
        match self {
            Level::Tinh => "cấp tỉnh",
            Level::Huyen => "cấp huyện (cũ)",
            Level::Xa => "cấp xã",
        }
    }

    /// The name in `lang` ("cấp tỉnh", "provincial").
    pub fn label_in(self, lang: super::Lang) -> &'static str {
        let en = match self {
            Level::Tinh => "provincial",
            Level::Huyen => "district (former)",
            Level::Xa => "commune",
        };
        lang.pick(self.label(), en)
    }

    /// The name of a stored level code in `lang`, or the code itself when it is not one.
    pub fn text_of(code: &str, lang: super::Lang) -> String {
        Level::parse(code).map_or_else(|| code.to_owned(), |l| l.label_in(lang).to_owned())
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Tinh => "tinh",
            Level::Huyen => "huyen",
            Level::Xa => "xa",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a dossier reached the agency, or how a response was collected.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Channel {
    Counter,
    Online,
    Postal,
    /// Unverified: a citizen scanned the agency's poster without a dossier link.
    WalkIn,
    /// Entered from a paper form or another tool (also what an import row without a channel means).
    #[default]
    Paper,
}

impl Channel {
    /// Parses a stored or submitted channel code.
    pub fn parse(s: &str) -> Option<Channel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "counter" => Some(Channel::Counter),
            "online" => Some(Channel::Online),
            "postal" => Some(Channel::Postal),
            "walk_in" => Some(Channel::WalkIn),
            "paper" => Some(Channel::Paper),
            _ => None,
        }
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Counter => "counter",
            Channel::Online => "online",
            Channel::Postal => "postal",
            Channel::WalkIn => "walk_in",
            Channel::Paper => "paper",
        }
    }

    /// True for the channels a one-stop system reports dossiers through.
    pub fn is_dossier_channel(self) -> bool {
        matches!(self, Channel::Counter | Channel::Online | Channel::Postal)
    }
}

crate::text_column!(Level, "level");
crate::text_column!(Channel, "channel");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in [Level::Tinh, Level::Huyen, Level::Xa] {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        for c in [
            Channel::Counter,
            Channel::Online,
            Channel::Postal,
            Channel::WalkIn,
            Channel::Paper,
        ] {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Level::parse("Tỉnh"), None);
        assert!(!Channel::WalkIn.is_dossier_channel());
    }
}
