//! Parsing a citizen's submitted answers against the questionnaire (required items, allowed
//! options, comment length), keeping every error next to its item.

use std::collections::BTreeMap;

use super::{COMMENT_ITEM, Form, Kind, Questionnaire, Timeliness};

/// One answer to a choice item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The option's position, from 1.
    Choice(u8),
    /// "Không áp dụng".
    NotApplicable,
}

impl Answer {
    /// The stored value: the option position, or 0 for "not applicable".
    pub fn stored(self) -> i32 {
        match self {
            Answer::Choice(p) => i32::from(p),
            Answer::NotApplicable => 0,
        }
    }
}

/// A complete, valid set of answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub choices: BTreeMap<String, Answer>,
    pub comment: Option<String>,
}

/// Why one item's answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    Required,
    UnknownOption,
    TooLong(usize),
}

impl AnswerError {
    /// The explanation shown next to the question.
    pub fn message(self, lang: crate::domain::Lang) -> String {
        use crate::domain::Lang::{En, Vi};
        match (self, lang) {
            (AnswerError::Required, Vi) => "Xin Ông/Bà chọn một câu trả lời.".into(),
            (AnswerError::Required, En) => "Please choose an answer.".into(),
            (AnswerError::UnknownOption, Vi) => "Câu trả lời không hợp lệ, xin chọn lại.".into(),
            (AnswerError::UnknownOption, En) => {
                "That answer is not valid; please choose again.".into()
            }
            (AnswerError::TooLong(max), Vi) => format!("Ý kiến dài quá {max} ký tự, xin rút gọn."),
            (AnswerError::TooLong(max), En) => {
                format!("The comment is longer than {max} characters; please shorten it.")
            }
        }
    }
}

/// Parses submitted fields (`item id → value`, value `1…k` or `na`) for `form`.
///
/// Returns the valid answers, or every error keyed by item id. Fields that are not shown on this
/// form are ignored, so a tampered form cannot store answers to questions that were not asked.
pub fn parse_answers(
    questionnaire: &Questionnaire,
    form: Form,
    timeliness: Timeliness,
    fields: &BTreeMap<String, String>,
) -> Result<Answers, BTreeMap<String, AnswerError>> {
    let mut answers = Answers::default();
    let mut errors = BTreeMap::new();
    // Without system dates, the citizen's own answer to E3 (3 = late) decides the late-only items.
    let citizen_says_late = fields.get("E3").map(|v| v.trim()) == Some("3");
    for item in questionnaire.items() {
        if !item.shown(form, timeliness) {
            continue;
        }
        let late_only = item.when == Some(super::Condition::Late);
        if late_only && timeliness == Timeliness::Unknown && !citizen_says_late {
            continue;
        }
        let raw = fields.get(&item.id).map(|v| v.trim()).unwrap_or("");
        match item.kind {
            Kind::Text => {
                let max = item.max_text_length();
                let length = raw.chars().count();
                if length > max {
                    errors.insert(item.id.clone(), AnswerError::TooLong(max));
                } else if !raw.is_empty() && item.id == COMMENT_ITEM {
                    answers.comment = Some(raw.to_owned());
                }
            }
            Kind::Choice => {
                let parsed = match raw {
                    "" => None,
                    "na" if item.na => Some(Ok(Answer::NotApplicable)),
                    _ => Some(
                        raw.parse::<u8>()
                            .ok()
                            .filter(|p| *p >= 1 && usize::from(*p) <= item.options.len())
                            .map(Answer::Choice)
                            .ok_or(AnswerError::UnknownOption),
                    ),
                };
                match parsed {
                    None if item.required => {
                        errors.insert(item.id.clone(), AnswerError::Required);
                    }
                    None => {}
                    Some(Ok(answer)) => {
                        answers.choices.insert(item.id.clone(), answer);
                    }
                    Some(Err(e)) => {
                        errors.insert(item.id.clone(), e);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::questionnaire::QuestionnaireError;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const SHORT_OK: [(&str, &str); 10] = [
        ("TC0", "5"),
        ("TT0", "4"),
        ("CC0", "4"),
        ("KQ0", "3"),
        ("PA0", "na"),
        ("HL0", "4"),
        ("E1", "2"),
        ("E2", "1"),
        ("E6", "1"),
        ("E7", "1"),
    ];

    #[test]
    fn a_complete_short_form_is_accepted() -> Result<(), QuestionnaireError> {
        let q = Questionnaire::built_in()?;
        let mut f = fields(&SHORT_OK);
        f.insert("C1".into(), "  Cảm ơn  ".into());
        f.insert("TC1".into(), "5".into()); // long-form item: ignored on the short form
        let a = parse_answers(&q, Form::Short, Timeliness::OnTime, &f);
        let a = a.map_err(|e| QuestionnaireError::Invalid(format!("{e:?}")))?;
        assert_eq!(a.choices.get("PA0"), Some(&Answer::NotApplicable));
        assert_eq!(a.choices.get("TC0"), Some(&Answer::Choice(5)));
        assert!(!a.choices.contains_key("TC1"));
        assert_eq!(a.comment.as_deref(), Some("Cảm ơn"));
        Ok(())
    }

    #[test]
    fn each_problem_is_reported_on_its_item() -> Result<(), QuestionnaireError> {
        let q = Questionnaire::built_in()?;
        let mut f = fields(&SHORT_OK);
        f.remove("HL0");
        f.insert("E1".into(), "9".into());
        f.insert("TC0".into(), "na".into()); // TC0 offers no "not applicable"
        f.insert("C1".into(), "x".repeat(1001));
        let errors = parse_answers(&q, Form::Short, Timeliness::OnTime, &f).err();
        let errors = errors.unwrap_or_default();
        assert_eq!(errors.get("HL0"), Some(&AnswerError::Required));
        assert_eq!(errors.get("E1"), Some(&AnswerError::UnknownOption));
        assert_eq!(errors.get("TC0"), Some(&AnswerError::UnknownOption));
        assert_eq!(errors.get("C1"), Some(&AnswerError::TooLong(1000)));
        assert_eq!(errors.len(), 4);
        Ok(())
    }

    #[test]
    fn late_items_follow_the_system_dates_or_the_citizen() -> Result<(), QuestionnaireError> {
        let q = Questionnaire::built_in()?;
        let f = fields(&SHORT_OK);
        let late = parse_answers(&q, Form::Short, Timeliness::Late, &f)
            .err()
            .unwrap_or_default();
        assert_eq!(late.get("E4"), Some(&AnswerError::Required));
        assert_eq!(late.get("E5"), Some(&AnswerError::Required));
        // Unknown dates: E3 is required; E4/E5 only when the citizen says late.
        let unknown = parse_answers(&q, Form::Short, Timeliness::Unknown, &f);
        assert_eq!(
            unknown.err().unwrap_or_default().get("E3"),
            Some(&AnswerError::Required)
        );
        let mut on_time = f.clone();
        on_time.insert("E3".into(), "2".into());
        on_time.insert("E4".into(), "1".into());
        let a = parse_answers(&q, Form::Short, Timeliness::Unknown, &on_time);
        assert!(a.is_ok_and(|a| !a.choices.contains_key("E4")));
        let mut said_late = f;
        said_late.insert("E3".into(), "3".into());
        let errors = parse_answers(&q, Form::Short, Timeliness::Unknown, &said_late).err();
        assert_eq!(errors.unwrap_or_default().len(), 2);
        Ok(())
    }

    proptest::proptest! {
        /// Any submitted fields: no panic; accepted answers are in range; errors name shown items.
        #[test]
        fn any_fields_are_parsed_without_panic(
            fields in proptest::collection::btree_map(
                proptest::prop_oneof!["[A-Z]{1,2}[0-9]", "TC0|HL0|E[1-7]|PA0|C1|form"],
                proptest::prop_oneof!["[0-9]{1,3}", proptest::strategy::Just("na".to_string()), "\\PC{0,20}"],
                0..20,
            ),
            late in proptest::option::of(proptest::bool::ANY),
            long in proptest::bool::ANY,
        ) {
            let q = Questionnaire::built_in().map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let form = if long { Form::Long } else { Form::Short };
            let timeliness = Timeliness::from_late(late);
            match parse_answers(&q, form, timeliness, &fields) {
                Ok(answers) => {
                    for (id, answer) in &answers.choices {
                        let item = q.item(id);
                        proptest::prop_assert!(item.is_some_and(|i| i.shown(form, timeliness)));
                        if let (Some(item), Answer::Choice(p)) = (item, answer) {
                            proptest::prop_assert!(*p >= 1 && usize::from(*p) <= item.options.len());
                        }
                    }
                }
                Err(errors) => {
                    for id in errors.keys() {
                        proptest::prop_assert!(q.item(id).is_some_and(|i| i.shown(form, timeliness)));
                    }
                }
            }
        }
    }
}
