//! The severity of a flag, one type from the statistics to the charts, cases, exports and mail.

/// The severity of a flag, the one name used from statistics to charts, cases and mail;
/// serialised and stored as `"none"`, `"alert"` or `"alarm"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    None,
    /// "Higher than expected — watch" (amber).
    Alert,
    /// "Much higher than expected — investigate" (red).
    Alarm,
}

impl Severity {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Alert => "alert",
            Severity::Alarm => "alarm",
        }
    }
}
