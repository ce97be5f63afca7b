//! The UI language: Vietnamese first, English second.

/// A UI language.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// Parses a stored language tag (`vi` or `en`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The stored tag (the same as [`Lang::tag`]).
    pub fn as_str(self) -> &'static str {
        self.tag()
    }

    /// Picks the language from `?lang=` first, then `Accept-Language`; Vietnamese otherwise.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        match query.map(str::trim) {
            Some("en") => return Lang::En,
            Some("vi") => return Lang::Vi,
            _ => {}
        }
        let Some(header) = accept_language else {
            return Lang::Vi;
        };
        // The first of vi/en in the client's order of preference (q-values honoured).
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("vi") => Lang::Vi,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Vi)
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// Picks the Vietnamese or the English text.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

crate::text_column!(Lang, "language");

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn negotiation_prefers_query_then_header_then_vietnamese() {
        assert_eq!(Lang::negotiate(None, None), Lang::Vi);
        assert_eq!(Lang::negotiate(Some("en"), Some("vi")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("en;q=0.5,vi;q=0.8")), Lang::Vi);
        assert_eq!(Lang::negotiate(None, Some("fr-FR,de")), Lang::Vi);
        assert_eq!(Lang::negotiate(Some("xx"), Some("en")), Lang::En);
    }

    proptest::proptest! {
        #[test]
        fn any_header_negotiates_a_language(q in proptest::option::of("\\PC{0,10}"), h in proptest::option::of("\\PC{0,60}")) {
            let _ = Lang::negotiate(q.as_deref(), h.as_deref());
        }
    }
}
