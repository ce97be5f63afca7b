//! Catalog and dossier codes: short, printable, no surprises in URLs or CSV files.

use std::fmt;

/// A code of an agency, procedure, province or dossier: 1–64 characters of letters, digits and
/// `-_./`, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

impl Code {
    /// Parses a code, trimming surrounding spaces.
    pub fn parse(s: &str) -> Option<Code> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        ok.then(|| Code(s.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_checked() {
        assert_eq!(
            Code::parse(" TN-STP ").map(|c| c.to_string()),
            Some("TN-STP".into())
        );
        assert!(Code::parse("").is_none());
        assert!(Code::parse("a b").is_none());
        assert!(Code::parse("x'; DROP TABLE").is_none());
        assert!(Code::parse(&"x".repeat(65)).is_none());
        assert!(Code::parse("HS/2026.001_a").is_some());
    }
}
