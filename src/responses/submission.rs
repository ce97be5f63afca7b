//! A citizen's submission, by link or by walk-in poster: the link looked up, the answers
//! validated against the questionnaire, and the response handed to the one write path
//! ([`super::record`]). Knows nothing of HTTP: the web layer turns the outcome into a page.

use std::collections::BTreeMap;

use super::record::{Entry, Invited, MoneyAlert, Recorder};
use super::store::{ContactRequest, Stored};
use super::{Context, Submission};
use crate::catalog::{Agency, Procedure};
use crate::clock;
use crate::config::Settings;
use crate::db::{Database, StoreError};
use crate::domain::{Channel, Lang, SurveyToken};
use crate::invitations::queries::{Opened, find_opened};
use crate::questionnaire::{AnswerError, Form, Questionnaire, Timeliness, parse_answers};

/// The longest contact detail a citizen may leave.
pub const CONTACT_MAX: usize = 200;

/// What a submission needs besides the citizen's fields.
pub struct Submit<'a> {
    pub db: &'a Database,
    pub recorder: &'a Recorder,
    pub questionnaire: &'a Questionnaire,
    pub settings: &'a Settings,
    pub lang: Lang,
}

/// Answers to correct: problems by questionnaire item and by other field.
#[derive(Debug, Default)]
pub struct Rejected {
    pub errors: BTreeMap<String, AnswerError>,
    pub field_errors: BTreeMap<&'static str, String>,
}

/// What became of a submission by link.
pub enum Submitted {
    Unknown,
    AlreadyUsed,
    Expired {
        agency_code: String,
    },
    Invalid(Opened, Rejected),
    /// Valid, but the database could not take it now (nothing was stored).
    NotStored(Opened, StoreError),
    Stored(Stored),
}

/// The optional contact detail, or the message explaining why it was refused.
pub fn contact_of(fields: &BTreeMap<String, String>, lang: Lang) -> Result<Option<String>, String> {
    match fields.get("contact").map(|c| c.trim()) {
        None | Some("") => Ok(None),
        Some(c) if c.chars().count() <= CONTACT_MAX => Ok(Some(c.to_owned())),
        Some(_) => Err(match lang {
            Lang::Vi => format!("Thông tin liên hệ dài quá {CONTACT_MAX} ký tự."),
            Lang::En => format!("The contact detail is longer than {CONTACT_MAX} characters."),
        }),
    }
}

/// Looks the link up, validates the answers and records them, in one trip to the database
/// (call from a blocking thread).
pub fn submit_by_link(
    s: &Submit<'_>,
    token: &SurveyToken,
    fields: &BTreeMap<String, String>,
) -> Result<Submitted, StoreError> {
    let mut conn = s.db.conn()?;
    let Some(opened) = find_opened(&mut conn, token)? else {
        return Ok(Submitted::Unknown);
    };
    if opened.invitation.used {
        s.recorder.count_already_used();
        return Ok(Submitted::AlreadyUsed);
    }
    if opened.invitation.expires_at < clock::now() {
        return Ok(Submitted::Expired {
            agency_code: opened.agency_code,
        });
    }
    let form = Form::parse(fields.get("form").map(String::as_str));
    let timeliness = Timeliness::from_late(opened.invitation.late);
    let answers = parse_answers(s.questionnaire, form, timeliness, fields);
    let contact = contact_of(fields, s.lang);
    let (answers, contact) = match (answers, contact) {
        (Ok(a), Ok(c)) => (a, c),
        (answers, contact) => {
            let mut rejected = Rejected {
                errors: answers.err().unwrap_or_default(),
                ..Rejected::default()
            };
            if let Err(m) = contact {
                rejected.field_errors.insert("contact", m);
            }
            return Ok(Submitted::Invalid(opened, rejected));
        }
    };
    let inv = &opened.invitation;
    let ctx = Context {
        agency_id: inv.agency_id,
        procedure_id: Some(inv.procedure_id),
        channel: inv.channel,
        submitted_on: clock::today(),
        late: inv.late,
        days_late: inv.days_late,
    };
    let submission = Submission::from_answers(s.questionnaire, ctx, &answers);
    let invited = Invited {
        id: inv.id,
        agency_id: inv.agency_id,
        returned_on: clock::day_of(inv.returned_at),
    };
    let entry = entry(
        s,
        Some(invited),
        submission,
        contact,
        (&opened.agency_code, &opened.agency),
    );
    // The pooled connection goes back before the wait for the commit.
    drop(conn);
    match s.recorder.commit(entry) {
        Ok(stored) => Ok(Submitted::Stored(stored)),
        Err(e) if e.is_transient() => Ok(Submitted::NotStored(opened, e)),
        Err(e) => Err(e),
    }
}

/// Validates a walk-in submission for `agency` and records it (call from a blocking thread).
/// `Ok(Err(rejected))` when answers must be corrected.
pub fn submit_walk_in(
    s: &Submit<'_>,
    agency: &Agency,
    procedures: &[Procedure],
    fields: &BTreeMap<String, String>,
) -> Result<Result<Stored, Rejected>, StoreError> {
    let form = Form::parse(fields.get("form").map(String::as_str));
    let mut rejected = Rejected::default();
    let procedure = fields
        .get("procedure")
        .and_then(|code| procedures.iter().find(|p| &p.code == code));
    if procedure.is_none() {
        rejected.field_errors.insert(
            "procedure",
            s.lang
                .pick(
                    "Xin chọn thủ tục Ông/Bà đã làm.",
                    "Please choose the procedure you came for.",
                )
                .to_owned(),
        );
    }
    let contact = contact_of(fields, s.lang);
    if let Err(m) = &contact {
        rejected.field_errors.insert("contact", m.clone());
    }
    let answers = parse_answers(s.questionnaire, form, Timeliness::Unknown, fields);
    let (answers, procedure, contact) = match (answers, procedure, contact) {
        (Ok(a), Some(p), Ok(c)) => (a, p, c),
        (answers, _, _) => {
            rejected.errors = answers.err().unwrap_or_default();
            return Ok(Err(rejected));
        }
    };
    // The citizen's own answer to E3 (3 = Trễ hẹn) stands in for the missing system dates.
    let late = answers.choices.get("E3").map(|a| a.stored() == 3);
    let ctx = Context {
        agency_id: agency.id,
        procedure_id: Some(procedure.id),
        channel: Channel::WalkIn,
        submitted_on: clock::today(),
        late,
        days_late: None,
    };
    let submission = Submission::from_answers(s.questionnaire, ctx, &answers);
    let entry = entry(s, None, submission, contact, (&agency.code, &agency.name));
    s.recorder.commit(entry).map(Ok)
}

fn entry(
    s: &Submit<'_>,
    invitation: Option<Invited>,
    submission: Submission,
    contact: Option<String>,
    (code, name): (&str, &str),
) -> Entry {
    let agency_id = submission.response.agency_id;
    let alert = MoneyAlert::for_submission(s.settings, &submission, code, name, clock::now());
    Entry {
        invitation,
        submission,
        contact: contact.map(|contact| ContactRequest { agency_id, contact }),
        alert,
    }
}
