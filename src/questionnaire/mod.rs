//! The questionnaire as data: a versioned JSON file, loaded and validated at start-up.
//!
//! The built-in `sipas-2640-post` lives in `assets/questionnaires/`; a province may configure its
//! own file. Items whose answers feed the indices (see [`CORE_ITEMS`]) must keep their meaning and
//! option count, because responses store an answer as the option's position (1-based).

mod answers;
pub mod versions;

pub use answers::{Answer, AnswerError, Answers, parse_answers};

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::domain::Lang;

/// The built-in questionnaire file.
pub const BUILT_IN: &str = include_str!("../../assets/questionnaires/sipas-2640-post.json");

/// Items with a column of their own in `responses`, with the number of options each must have.
pub const CORE_ITEMS: [(&str, usize); 13] = [
    ("TC0", 5),
    ("TT0", 5),
    ("CC0", 5),
    ("KQ0", 5),
    ("PA0", 5),
    ("HL0", 5),
    ("E1", 4),
    ("E2", 3),
    ("E3", 3),
    ("E4", 2),
    ("E5", 2),
    ("E6", 3),
    ("E7", 4),
];

/// The id of the free-text comment item, stored in `responses.comment`.
pub const COMMENT_ITEM: &str = "C1";

/// The longest text answer, in characters, when the item names no `max_length`.
pub const DEFAULT_MAX_TEXT_LENGTH: usize = 1000;

/// A text in both UI languages.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

impl Text {
    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Vi => &self.vi,
            Lang::En => &self.en,
        }
    }
}

/// Which form of the questionnaire a citizen answers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    Short,
    Long,
}

impl Form {
    /// The form named in a URL or hidden field; anything else is the short form.
    pub fn parse(value: Option<&str>) -> Form {
        match value {
            Some("long") => Form::Long,
            _ => Form::Short,
        }
    }

    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Short => "short",
            Form::Long => "long",
        }
    }
}

/// When an item is shown.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Only when the system knows the dossier was late.
    Late,
    /// Only when the system has no dates for the dossier (walk-in).
    DatesUnknown,
}

/// What the system knows about the dossier being answered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    OnTime,
    Late,
    Unknown,
}

impl Timeliness {
    /// From the stored `late` flag.
    pub fn from_late(late: Option<bool>) -> Timeliness {
        match late {
            Some(true) => Timeliness::Late,
            Some(false) => Timeliness::OnTime,
            None => Timeliness::Unknown,
        }
    }
}

/// How an item is answered.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Choice,
    Text,
}

/// One question, as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub text: Text,
    #[serde(default)]
    pub kind: Kind,
    #[serde(default)]
    pub scale: Option<String>,
    #[serde(default)]
    pub options: Vec<Text>,
    #[serde(default)]
    pub na: bool,
    pub forms: Vec<Form>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub when: Option<Condition>,
    #[serde(default)]
    pub hint: Option<Text>,
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl Item {
    /// The longest answer this text item accepts, in characters: the same limit for the web form
    /// and for imported responses.
    pub fn max_text_length(&self) -> usize {
        self.max_length.unwrap_or(DEFAULT_MAX_TEXT_LENGTH)
    }

    /// True when the item is shown on `form` for a dossier with this timeliness.
    pub fn shown(&self, form: Form, timeliness: Timeliness) -> bool {
        let on_form = self.forms.contains(&form);
        on_form
            && match self.when {
                None => true,
                // Without dates the citizen tells us (E3) whether it was late, so late-only items
                // are shown with a note and kept only if E3 says late.
                Some(Condition::Late) => timeliness != Timeliness::OnTime,
                Some(Condition::DatesUnknown) => timeliness == Timeliness::Unknown,
            }
    }
}

/// A group of items under one heading.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: Text,
    #[serde(default)]
    pub stem: Option<Text>,
    pub items: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    id: String,
    version: i32,
    title: Text,
    intro: Text,
    scales: BTreeMap<String, Vec<Text>>,
    not_applicable: Text,
    sections: Vec<Section>,
}

/// A validated questionnaire: every choice item has its options resolved.
#[derive(Debug, Clone)]
pub struct Questionnaire {
    pub id: String,
    pub version: i32,
    pub title: Text,
    pub intro: Text,
    pub not_applicable: Text,
    pub sections: Vec<Section>,
}

/// Why a questionnaire file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum QuestionnaireError {
    #[error("the questionnaire is not valid JSON of the expected shape: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("questionnaire item {item}: {problem}")]
    Item { item: String, problem: String },
    #[error("questionnaire: {0}")]
    Invalid(String),
}

impl Questionnaire {
    /// Parses and validates a questionnaire file.
    pub fn parse(json: &str) -> Result<Questionnaire, QuestionnaireError> {
        let file: File = serde_json::from_str(json)?;
        if file.id.trim().is_empty() || file.version < 1 {
            return Err(QuestionnaireError::Invalid(
                "id must be set and version at least 1".into(),
            ));
        }
        let mut seen = HashSet::new();
        let mut sections = file.sections;
        for section in &mut sections {
            for item in &mut section.items {
                let fail = |problem: &str| QuestionnaireError::Item {
                    item: item.id.clone(),
                    problem: problem.to_owned(),
                };
                if !seen.insert(item.id.clone()) {
                    return Err(fail("the id is used twice"));
                }
                if item.forms.is_empty() {
                    return Err(fail("it belongs to no form"));
                }
                match item.kind {
                    Kind::Text => {
                        if item.id != COMMENT_ITEM {
                            return Err(fail("only the comment item C1 may be free text"));
                        }
                        if item.scale.is_some() || !item.options.is_empty() {
                            return Err(fail("a text item has no options"));
                        }
                        if item.max_length.is_none_or(|m| m == 0 || m > 10_000) {
                            return Err(fail("a text item needs max_length between 1 and 10000"));
                        }
                    }
                    Kind::Choice => {
                        match (&item.scale, item.options.is_empty()) {
                            (Some(scale), true) => {
                                let options = file
                                    .scales
                                    .get(scale)
                                    .ok_or_else(|| fail(&format!("unknown scale {scale}")))?;
                                item.options = options.clone();
                            }
                            (None, false) => {}
                            _ => return Err(fail("give exactly one of scale or options")),
                        }
                        if item.options.len() < 2 || item.options.len() > 20 {
                            return Err(fail("a choice needs between 2 and 20 options"));
                        }
                        if let Some((_, count)) = CORE_ITEMS.iter().find(|(id, _)| *id == item.id)
                            && item.options.len() != *count
                        {
                            return Err(fail(&format!(
                                "this item feeds the indices and must have {count} options"
                            )));
                        }
                    }
                }
            }
        }
        if !seen.contains("HL0") {
            return Err(QuestionnaireError::Invalid(
                "the overall question HL0 is required".into(),
            ));
        }
        Ok(Questionnaire {
            id: file.id,
            version: file.version,
            title: file.title,
            intro: file.intro,
            not_applicable: file.not_applicable,
            sections,
        })
    }

    /// The built-in `sipas-2640-post`.
    pub fn built_in() -> Result<Questionnaire, QuestionnaireError> {
        Questionnaire::parse(BUILT_IN)
    }

    /// Every item, in order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().find(|i| i.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_questionnaire_is_valid_and_matches_the_domain() -> Result<(), QuestionnaireError> {
        let q = Questionnaire::built_in()?;
        assert_eq!(q.id, "sipas-2640-post");
        let short: Vec<&str> = q
            .items()
            .filter(|i| i.shown(Form::Short, Timeliness::OnTime))
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(
            short,
            [
                "TC0", "TT0", "CC0", "KQ0", "PA0", "HL0", "E1", "E2", "E6", "E7", "C1"
            ]
        );
        let late: Vec<&str> = q
            .items()
            .filter(|i| i.shown(Form::Short, Timeliness::Late))
            .map(|i| i.id.as_str())
            .collect();
        assert!(late.contains(&"E4") && late.contains(&"E5") && !late.contains(&"E3"));
        let long = q
            .items()
            .filter(|i| i.shown(Form::Long, Timeliness::OnTime))
            .count();
        assert!(long > 40, "long form has {long} items");
        let e7 = q.item("E7").map(|i| i.options[2].vi.as_str());
        assert_eq!(e7, Some("Có, yêu cầu"));
        Ok(())
    }

    #[test]
    fn broken_files_are_rejected_with_the_item_named() {
        let dup = BUILT_IN.replacen("\"id\": \"TT0\"", "\"id\": \"TC0\"", 1);
        let err = Questionnaire::parse(&dup)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            matches!(&err, Err(m) if m.contains("TC0") && m.contains("twice")),
            "{err:?}"
        );
        let bad_scale = BUILT_IN.replacen("\"scale\": \"S5\"", "\"scale\": \"S7\"", 1);
        assert!(Questionnaire::parse(&bad_scale).is_err());
        assert!(Questionnaire::parse("{").is_err());
        assert!(Questionnaire::parse("[]").is_err());
    }

    proptest::proptest! {
        /// A damaged questionnaire file is rejected with an error, never a panic.
        #[test]
        fn damaged_files_never_panic(cut in 0usize..BUILT_IN.len(), byte in proptest::num::u8::ANY, at in 0usize..BUILT_IN.len()) {
            let mut bytes = BUILT_IN.as_bytes().to_vec();
            bytes[at] = byte;
            bytes.truncate(cut.max(1));
            let text = String::from_utf8_lossy(&bytes);
            let _ = Questionnaire::parse(&text);
        }
    }
}
