//! Immediate alerts to the reform office (and, if configured, the agency's heads): a citizen
//! reports being asked for money, or an agency newly reaches `alarm`. Queued in the transaction that records the cause; one message per
//! agency and cause per hour, so a burst sends one.

use chrono::NaiveDateTime;
use maud::html;

use super::Email;
use super::outbox::enqueue;
use crate::config::Settings;
use crate::db::DbConn;

/// What an alert is about.
pub enum Cause<'a> {
    /// A response said an official asked for money ("Có, yêu cầu").
    MoneyAsked,
    /// The agency reached `alarm`; the reason explains the numbers.
    Alarm { problem: &'a str, reason: &'a str },
}

/// Queues an alert about `agency` for every reform-office address; returns how many were queued.
pub fn queue(
    conn: &mut DbConn,
    settings: &Settings,
    agency_code: &str,
    agency_name: &str,
    cause: &Cause<'_>,
    now: NaiveDateTime,
) -> diesel::QueryResult<usize> {
    if settings.mail.transport == crate::config::MailTransport::None {
        return Ok(0);
    }
    let hour = crate::clock::local(now).format("%Y-%m-%dT%H");
    let link = format!("{}/admin/agencies/{agency_code}", settings.public_url());
    let (subject, what, key) = match cause {
        Cause::MoneyAsked => (
            format!("[SIPAS] Cảnh báo: người dân phản ánh bị yêu cầu chi thêm tiền tại {agency_name}"),
            "Một người trả lời phiếu khảo sát cho biết công chức đã yêu cầu chi thêm tiền, quà ngoài phí, lệ phí.".to_owned(),
            format!("money:{agency_code}:{hour}"),
        ),
        Cause::Alarm { problem, reason } => (
            format!("[SIPAS] Báo động: {agency_name}"),
            (*reason).to_owned(),
            format!("alarm:{agency_code}:{problem}:{hour}"),
        ),
    };
    let text = format!(
        "{what}\n\nCơ quan: {agency_name} ({agency_code})\nXem và mở hồ sơ theo dõi: {link}\n"
    );
    let body = html! {
        p { (what) }
        p { "Cơ quan: " strong { (agency_name) } " (" (agency_code) ")" }
        p { a href=(link) { "Xem và mở hồ sơ theo dõi" } }
    }
    .into_string();
    let mut to_list = settings.mail.reform_office.clone();
    if settings.mail.alert_agency_heads {
        use crate::db::schema::{agencies, users};
        use diesel::prelude::*;
        let heads: Vec<String> = users::table
            .inner_join(agencies::table.on(agencies::id.nullable().eq(users::agency_id)))
            .filter(agencies::code.eq(agency_code))
            .filter(users::role.eq(crate::accounts::Role::AgencyHead.as_str()))
            .filter(users::disabled.eq(false))
            .select(users::email)
            .load(conn)?;
        to_list.extend(heads);
    }
    let domain = super::message_domain(settings);
    let mut queued = 0;
    for to in &to_list {
        let email = Email {
            to: to.clone(),
            subject: subject.clone(),
            text: text.clone(),
            html: body.clone(),
        };
        if enqueue(conn, &email, "alert", &key, now, &domain)? {
            queued += 1;
        }
    }
    Ok(queued)
}
