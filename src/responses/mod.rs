//! Anonymous responses: the stored row, building it from validated answers, and storing it.
//!
//! A response row holds agency, procedure, channel, questionnaire version, day of submission,
//! the system's lateness facts and the answers — never a token, dossier code, IP address or
//! user agent (domain.md §7).

mod copy;
pub mod import;
pub mod listing;
pub mod record;
pub mod staging;
pub mod store;
pub mod submission;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::responses;
use crate::domain::Channel;
use crate::questionnaire::{Answers, Questionnaire};

/// A response to insert (`None` stored as NULL: with `DEFAULT` in its place diesel inserts the
/// rows of a batch one statement each on SQLite).
#[derive(Debug, Clone, Default, PartialEq, Insertable)]
#[diesel(table_name = responses, treat_none_as_default_value = false)]
pub struct NewResponse {
    pub agency_id: i64,
    pub procedure_id: Option<i64>,
    pub channel: Channel,
    pub questionnaire_id: String,
    pub questionnaire_version: i32,
    pub submitted_on: NaiveDate,
    pub late: Option<bool>,
    pub days_late: Option<i32>,
    pub tc0: Option<i32>,
    pub tt0: Option<i32>,
    pub cc0: Option<i32>,
    pub kq0: Option<i32>,
    pub pa0: Option<i32>,
    pub hl0: Option<i32>,
    pub e1: Option<i32>,
    pub e2: Option<i32>,
    pub e3: Option<i32>,
    pub e4: Option<i32>,
    pub e5: Option<i32>,
    pub e6: Option<i32>,
    pub e7: Option<i32>,
    pub comment: Option<String>,
    pub comment_flag: bool,
    /// The staged import the row belongs to (`None` for web submissions).
    pub import_id: Option<i64>,
}

/// The SQL condition on `responses` that keeps out the rows of imports not yet done (still
/// staging, publishing, or being discarded): every reader of raw responses applies it.
pub const VISIBLE: &str = "(responses.import_id IS NULL OR responses.import_id IN \
     (SELECT imports.id FROM imports WHERE imports.status = 'done'))";

/// [`VISIBLE`] as a diesel filter: `responses::table.filter(responses::visible())`.
pub fn visible() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(VISIBLE)
}

/// A response with the answers that have no column of their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Submission {
    pub response: NewResponse,
    pub extra: Vec<(String, i32)>,
}

/// Where and how a response was given (none of it identifies the citizen).
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub agency_id: i64,
    pub procedure_id: Option<i64>,
    pub channel: Channel,
    pub submitted_on: NaiveDate,
    pub late: Option<bool>,
    pub days_late: Option<i32>,
}

impl NewResponse {
    /// The column of a core item, if it has one.
    fn slot(&mut self, item: &str) -> Option<&mut Option<i32>> {
        Some(match item {
            "TC0" => &mut self.tc0,
            "TT0" => &mut self.tt0,
            "CC0" => &mut self.cc0,
            "KQ0" => &mut self.kq0,
            "PA0" => &mut self.pa0,
            "HL0" => &mut self.hl0,
            "E1" => &mut self.e1,
            "E2" => &mut self.e2,
            "E3" => &mut self.e3,
            "E4" => &mut self.e4,
            "E5" => &mut self.e5,
            "E6" => &mut self.e6,
            "E7" => &mut self.e7,
            _ => return None,
        })
    }
}

impl Submission {
    /// Starts an empty submission for this questionnaire and context.
    pub fn new(questionnaire: &Questionnaire, ctx: Context) -> Submission {
        Submission {
            response: NewResponse {
                agency_id: ctx.agency_id,
                procedure_id: ctx.procedure_id,
                channel: ctx.channel,
                questionnaire_id: questionnaire.id.clone(),
                questionnaire_version: questionnaire.version,
                submitted_on: ctx.submitted_on,
                late: ctx.late,
                days_late: ctx.days_late,
                ..NewResponse::default()
            },
            extra: Vec::new(),
        }
    }

    /// Sets one answer (its stored value: option position, 0 for "not applicable").
    pub fn set(&mut self, item: &str, value: i32) {
        match self.response.slot(item) {
            Some(slot) => *slot = Some(value),
            None => self.extra.push((item.to_owned(), value)),
        }
    }

    /// A submission from validated answers.
    pub fn from_answers(
        questionnaire: &Questionnaire,
        ctx: Context,
        answers: &Answers,
    ) -> Submission {
        let mut s = Submission::new(questionnaire, ctx);
        for (item, answer) in &answers.choices {
            s.set(item, answer.stored());
        }
        if let Some(comment) = &answers.comment {
            s.set_comment(comment);
        }
        s
    }

    /// Sets the free-text comment, noting whether it matches the harassment lexicon.
    pub fn set_comment(&mut self, comment: &str) {
        self.response.comment_flag = crate::lexicon::matches(comment);
        self.response.comment = Some(comment.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::questionnaire::Answer;

    #[test]
    fn core_items_get_columns_and_others_go_to_extra()
    -> Result<(), crate::questionnaire::QuestionnaireError> {
        let q = Questionnaire::built_in()?;
        let mut answers = Answers::default();
        answers.choices.insert("HL0".into(), Answer::Choice(4));
        answers.choices.insert("PA0".into(), Answer::NotApplicable);
        answers.choices.insert("TC1".into(), Answer::Choice(2));
        let ctx = Context {
            agency_id: 7,
            procedure_id: Some(3),
            channel: Channel::Online,
            submitted_on: NaiveDate::default(),
            late: Some(true),
            days_late: Some(2),
        };
        let s = Submission::from_answers(&q, ctx, &answers);
        assert_eq!(s.response.hl0, Some(4));
        assert_eq!(s.response.pa0, Some(0));
        assert_eq!(s.extra, vec![("TC1".to_string(), 2)]);
        assert_eq!(s.response.channel, Channel::Online);
        assert_eq!(s.response.questionnaire_id, "sipas-2640-post");
        Ok(())
    }
}
