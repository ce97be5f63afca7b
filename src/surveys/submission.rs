//! Storing a citizen's answers: the link looked up, the answers validated and the response
//! committed in one trip to a database thread, with the money alert it may call for.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};

use super::views::{CONTACT_MAX, Entered};
use crate::db::schema::{agencies, invitations, procedures};
use crate::domain::{Channel, Lang, SurveyToken};
use crate::error::AppError;
use crate::invitations::Invitation;
use crate::invitations::dossier::vietnam;
use crate::questionnaire::{Form, Timeliness, parse_answers};
use crate::responses::store::{self, ContactRequest, Stored};
use crate::responses::{Context, Submission};
use crate::startup::AppState;

pub(super) fn today() -> chrono::NaiveDate {
    Utc::now().with_timezone(&vietnam()).date_naive()
}

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The invitation of a token with its agency and procedure names.
pub(super) struct Opened {
    pub(super) invitation: Invitation,
    pub(super) agency: String,
    pub(super) agency_code: String,
    pub(super) procedure: String,
}

/// The invitation of `token` and the names its page shows, in one query.
pub(super) fn find_opened(
    conn: &mut crate::db::DbConn,
    token: &SurveyToken,
) -> diesel::QueryResult<Option<Opened>> {
    use diesel::prelude::*;
    // Profiled on SQLite: the statement was parsed again on every call. `first()` binds its
    // LIMIT as a parameter, and SQLite re-prepares a statement whenever a LIMIT parameter is
    // bound again. The token hash is unique, so no LIMIT is needed.
    let found = crate::on_backend!(conn, c => invitations::table
        .inner_join(agencies::table)
        .inner_join(procedures::table)
        .filter(invitations::token_hash.eq(token.hash()))
        .select((
            Invitation::as_select(),
            agencies::name,
            agencies::code,
            procedures::name,
        ))
        .load::<(Invitation, String, String, String)>(c))?
    .into_iter()
    .next();
    Ok(
        found.map(|(invitation, agency, agency_code, procedure)| Opened {
            invitation,
            agency,
            agency_code,
            procedure,
        }),
    )
}

/// The optional contact detail, or the message explaining why it was refused.
pub(super) fn contact_of(
    fields: &BTreeMap<String, String>,
    lang: Lang,
) -> Result<Option<String>, String> {
    match fields.get("contact").map(|c| c.trim()) {
        None | Some("") => Ok(None),
        Some(c) if c.chars().count() <= CONTACT_MAX => Ok(Some(c.to_owned())),
        Some(_) => Err(match lang {
            Lang::Vi => format!("Thông tin liên hệ dài quá {CONTACT_MAX} ký tự."),
            Lang::En => format!("The contact detail is longer than {CONTACT_MAX} characters."),
        }),
    }
}

/// What became of a submission.
pub(super) enum Submitted {
    Unknown,
    AlreadyUsed,
    Expired {
        agency_code: String,
    },
    /// Answers to correct (values are filled in by the caller).
    Invalid(Opened, Entered),
    /// Valid, but the database could not take it now.
    NotStored(Opened, AppError),
    Stored(Stored),
}

/// Looks the link up, validates the answers and stores them (on a database thread).
pub(super) fn submit(
    state: &AppState,
    token: &SurveyToken,
    lang: Lang,
    fields: &BTreeMap<String, String>,
) -> Result<Submitted, AppError> {
    let mut conn = state
        .pool
        .get()
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let Some(opened) = find_opened(&mut conn, token)? else {
        return Ok(Submitted::Unknown);
    };
    if opened.invitation.used {
        return Ok(Submitted::AlreadyUsed);
    }
    if opened.invitation.expires_at < now() {
        return Ok(Submitted::Expired {
            agency_code: opened.agency_code,
        });
    }
    let questionnaire = state.questionnaire();
    let form = Form::parse(fields.get("form").map(String::as_str));
    let timeliness = Timeliness::from_late(opened.invitation.late);
    let answers = parse_answers(&questionnaire, form, timeliness, fields);
    let contact = contact_of(fields, lang);
    let (answers, contact) = match (answers, contact) {
        (Ok(a), Ok(c)) => (a, c),
        (answers, contact) => {
            let mut entered = Entered {
                errors: answers.err().unwrap_or_default(),
                ..Entered::default()
            };
            if let Err(m) = contact {
                entered.field_errors.insert("contact", m);
            }
            return Ok(Submitted::Invalid(opened, entered));
        }
    };
    let inv = &opened.invitation;
    let ctx = Context {
        agency_id: inv.agency_id,
        procedure_id: Some(inv.procedure_id),
        channel: Channel::parse(&inv.channel).unwrap_or(Channel::Counter),
        submitted_on: today(),
        late: inv.late,
        days_late: inv.days_late,
    };
    let submission = Submission::from_answers(&questionnaire, ctx, &answers);
    let contact = contact.map(|contact| ContactRequest {
        agency_id: inv.agency_id,
        contact,
    });
    let alert = money_alert(state, &submission, &opened.agency_code, &opened.agency);
    let invitation = inv.id;
    let stored = state.commit_response(
        conn,
        Box::new(move |c| {
            save_with_alert(
                c,
                Some(invitation),
                &submission,
                contact.as_ref(),
                alert.as_ref(),
            )
        }),
    );
    match stored {
        Ok(stored) => Ok(Submitted::Stored(stored)),
        Err(e) if e.is_unavailable() => Ok(Submitted::NotStored(opened, e)),
        Err(e) => Err(e),
    }
}

/// What an immediate alert needs when a response says an official asked for money.
pub(super) struct MoneyAlert {
    settings: crate::config::Settings,
    code: String,
    name: String,
}

pub(super) fn money_alert(
    state: &AppState,
    submission: &Submission,
    code: &str,
    name: &str,
) -> Option<MoneyAlert> {
    (submission.response.e7 == Some(3)).then(|| MoneyAlert {
        settings: state.settings.clone(),
        code: code.to_owned(),
        name: name.to_owned(),
    })
}

/// Stores a response and queues the alert it calls for, inside the caller's transaction (so
/// both are stored or neither).
pub(super) fn save_with_alert(
    conn: &mut crate::db::DbConn,
    invitation: Option<i64>,
    submission: &Submission,
    contact: Option<&ContactRequest>,
    alert: Option<&MoneyAlert>,
) -> diesel::QueryResult<Stored> {
    let stored = store::save_within(conn, invitation, submission, contact)?;
    if let (Stored::Saved, Some(a)) = (stored, alert) {
        crate::mail::alert::queue(
            conn,
            &a.settings,
            &a.code,
            &a.name,
            &crate::mail::alert::Cause::MoneyAsked,
            Utc::now().naive_utc(),
        )?;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    #[test]
    fn today_is_the_vietnam_calendar_day() {
        use chrono::TimeZone;
        let t = super::Utc.with_ymd_and_hms(2026, 3, 1, 18, 0, 0).single();
        let day = t.map(|t| t.with_timezone(&super::vietnam()).date_naive().to_string());
        assert_eq!(day.as_deref(), Some("2026-03-02"));
    }
}
