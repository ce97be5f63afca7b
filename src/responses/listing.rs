//! Reading stored responses back: pages of anonymous rows for the raw export, and an agency's
//! recent comments (personal data masked) for the reform office. Rows of an import that is not
//! done are never read ([`super::visible`]).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{agencies, procedures, responses};
use crate::domain::Channel;
use crate::privacy::mask_personal_data;

/// One response as exported (anonymous fields only).
pub struct RawRow {
    pub id: i64,
    pub agency: String,
    pub procedure: Option<String>,
    pub channel: Channel,
    pub questionnaire: String,
    pub day: chrono::NaiveDate,
    pub late: Option<bool>,
    pub answers: [Option<i32>; 13],
    pub comment: Option<String>,
}

/// Up to `limit` responses after id `after` (keyset pagination: no OFFSET scans).
pub fn raw_page(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<RawRow>> {
    type Answers = (
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<i32>,
    );
    type Facts = (
        i64,
        String,
        Option<String>,
        Channel,
        String,
        chrono::NaiveDate,
        Option<bool>,
    );
    let rows: Vec<(Facts, Answers, Option<String>)> = responses::table
        .inner_join(agencies::table)
        .left_join(procedures::table.on(procedures::id.nullable().eq(responses::procedure_id)))
        .filter(responses::id.gt(after))
        .filter(super::visible())
        .order(responses::id)
        .limit(limit)
        .select((
            (
                responses::id,
                agencies::code,
                procedures::code.nullable(),
                responses::channel,
                responses::questionnaire_id,
                responses::submitted_on,
                responses::late,
            ),
            (
                responses::tc0,
                responses::tt0,
                responses::cc0,
                responses::kq0,
                responses::pa0,
                responses::hl0,
                responses::e1,
                responses::e2,
                responses::e3,
                responses::e4,
                responses::e5,
                responses::e6,
                responses::e7,
            ),
            responses::comment,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |((id, agency, procedure, channel, questionnaire, day, late), a, comment)| RawRow {
                id,
                agency,
                procedure,
                channel,
                questionnaire,
                day,
                late,
                answers: [
                    a.0, a.1, a.2, a.3, a.4, a.5, a.6, a.7, a.8, a.9, a.10, a.11, a.12,
                ],
                comment,
            },
        )
        .collect())
}

/// The most recent comments of the agency in the period (reform office only).
pub fn recent_comments(
    conn: &mut DbConn,
    agency: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, String)>> {
    let rows: Vec<(NaiveDate, Option<String>)> = responses::table
        .filter(responses::agency_id.eq(agency))
        .filter(responses::submitted_on.between(from, to))
        .filter(responses::comment.is_not_null())
        .filter(super::visible())
        .select((responses::submitted_on, responses::comment))
        .order(responses::id.desc())
        .limit(50)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, c)| c.map(|c| (d, mask_personal_data(&c))))
        .collect())
}
