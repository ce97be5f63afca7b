//! The reach funnel, counted as it happens (like the response counts, so reports sum a few rows):
//! per agency, cohort day (the dossier's return day, as the response rate) or month, and channel.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::Medium;
use crate::db::DbConn;
use crate::report::Query;

/// One counter of the funnel: its column in `daily_outreach` and `monthly_outreach`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Dossiers with an address a configured channel can use (under the first channel planned).
    Contacts,
    /// Of those, not messaged: the citizen was invited within the fatigue window.
    Recent,
    /// Of those, not messaged: the citizen asked for no more messages.
    OptedOut,
    /// Invitations the channel accepted.
    Invited,
    /// Reminders the channel accepted.
    Reminded,
    /// Messages the channel refused or gave up on (the next channel, if any, was tried).
    Failed,
    /// Links answered whose invitation this channel delivered.
    Answered,
    /// SMS parts sent (what SMS costs are counted in).
    SmsParts,
}

impl Count {
    fn column(self) -> &'static str {
        match self {
            Count::Contacts => "contacts",
            Count::Recent => "recent",
            Count::OptedOut => "opted_out",
            Count::Invited => "invited",
            Count::Reminded => "reminded",
            Count::Failed => "failed",
            Count::Answered => "answered",
            Count::SmsParts => "sms_parts",
        }
    }
}

/// Adds `n` to `count` of (agency, cohort day, channel), in the caller's transaction.
pub fn add(
    conn: &mut DbConn,
    agency_id: i64,
    day: NaiveDate,
    medium: Medium,
    count: Count,
    n: i64,
) -> QueryResult<()> {
    let column = count.column();
    // An integer id, a formatted date, a closed set of names: inlined, as `aggregates::record_dossiers` does.
    for (table, key_column, key) in [
        ("daily_outreach", "day", day.format("%Y-%m-%d").to_string()),
        ("monthly_outreach", "month", day.format("%Y-%m").to_string()),
    ] {
        diesel::sql_query(format!(
            "INSERT INTO {table} (agency_id, {key_column}, medium, {column}) \
             VALUES ({agency_id}, '{key}', '{medium}', {n}) \
             ON CONFLICT (agency_id, {key_column}, medium) \
             DO UPDATE SET {column} = {table}.{column} + excluded.{column}",
            medium = medium.as_str(),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// The funnel of one channel over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Funnel {
    #[diesel(sql_type = BigInt)]
    pub contacts: i64,
    #[diesel(sql_type = BigInt)]
    pub recent: i64,
    #[diesel(sql_type = BigInt)]
    pub opted_out: i64,
    #[diesel(sql_type = BigInt)]
    pub invited: i64,
    #[diesel(sql_type = BigInt)]
    pub reminded: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = BigInt)]
    pub answered: i64,
    #[diesel(sql_type = BigInt)]
    pub sms_parts: i64,
}

impl Funnel {
    /// Adds another channel's or agency's funnel to this one.
    pub fn add(&mut self, o: &Funnel) {
        self.contacts += o.contacts;
        self.recent += o.recent;
        self.opted_out += o.opted_out;
        self.invited += o.invited;
        self.reminded += o.reminded;
        self.failed += o.failed;
        self.answered += o.answered;
        self.sms_parts += o.sms_parts;
    }

    /// Answered links per invitation delivered; `None` before any.
    pub fn response_rate(&self) -> Option<f64> {
        (self.invited > 0).then(|| self.answered as f64 / self.invited as f64)
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    agency_id: i64,
    #[diesel(sql_type = Text)]
    medium: String,
    #[diesel(embed)]
    funnel: Funnel,
}

const COLUMNS: &str = "contacts, recent, opted_out, invited, reminded, failed, answered, sms_parts";

/// The funnel per agency and channel over the query's period, for the agencies it selects
/// (province, level, agency list), in agency and channel order.
pub fn by_agency(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
) -> QueryResult<Vec<(i64, Medium, Funnel)>> {
    let sums: Vec<String> = COLUMNS
        .split(", ")
        .map(|c| format!("CAST(SUM(dc.{c}) AS BIGINT) AS {c}"))
        .collect();
    let sql = format!(
        "SELECT dc.agency_id AS agency_id, dc.medium AS medium, {sums} \
         FROM {source} dc JOIN agencies a ON a.id = dc.agency_id \
         WHERE {conditions} GROUP BY dc.agency_id, dc.medium ORDER BY dc.agency_id, dc.medium",
        sums = sums.join(", "),
        source = crate::report::counts::source(
            &crate::report::counts::Source {
                daily: "daily_outreach",
                monthly: "monthly_outreach",
                yearly: None,
                keys: "agency_id, medium",
                columns: &crate::report::counts::Source::plain(COLUMNS),
                complement: false,
            },
            query.from,
            query.to
        ),
        conditions = crate::report::counts::conditions(query, province_id),
    );
    let rows: Vec<Row> = diesel::sql_query(sql).load(conn)?;
    rows.into_iter()
        .map(|r| {
            let medium = Medium::parse(&r.medium).ok_or_else(|| {
                diesel::result::Error::DeserializationError(
                    format!("unknown outreach channel {:?} in the counts", r.medium).into(),
                )
            })?;
            Ok((r.agency_id, medium, r.funnel))
        })
        .collect()
}

/// The funnel per channel summed over the agencies of `rows`, every channel present.
pub fn per_medium(rows: &[(i64, Medium, Funnel)]) -> Vec<(Medium, Funnel)> {
    Medium::ALL
        .iter()
        .map(|m| {
            let mut total = Funnel::default();
            for (_, medium, f) in rows {
                if medium == m {
                    total.add(f);
                }
            }
            (*m, total)
        })
        .collect()
}

/// An agency's (or a group's) reach over a period: the funnel of each channel, and the dossiers
/// reported and links answered whatever the channel (`daily_dossiers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reached {
    pub channels: Vec<(Medium, Funnel)>,
    pub dossiers: i64,
    pub answered: i64,
}

impl Reached {
    /// Every channel together.
    pub fn total(&self) -> Funnel {
        let mut t = Funnel::default();
        for (_, f) in &self.channels {
            t.add(f);
        }
        t
    }

    /// Dossiers whose citizen got no invitation message (the link printed or shown only), and
    /// how many of their links were answered.
    pub fn unmessaged(&self) -> (i64, i64) {
        let t = self.total();
        (
            (self.dossiers - t.invited).max(0),
            (self.answered - t.answered).max(0),
        )
    }
}

/// Which answer counts may not be shown outside the reform office (an agency head's page and
/// exports, a publication): the links answered by channel and without a message partition the
/// agency's link answers, so they are withheld like any table of response counts
/// ([`crate::report::disclosure::hidden`]), with the response rates computed from them; the total
/// too when it is below the minimum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswersWithheld {
    /// One per channel of [`Reached::channels`].
    pub channels: Vec<bool>,
    pub unmessaged: bool,
    pub total: bool,
}

impl AnswersWithheld {
    /// True when anything is withheld.
    pub fn any(&self) -> bool {
        self.total || self.unmessaged || self.channels.iter().any(|h| *h)
    }
}

impl Reached {
    /// What of the answers an agency head may not read.
    pub fn answers_withheld(&self) -> AnswersWithheld {
        use crate::report::disclosure::{MINIMUM, hidden};
        let size = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut sizes: Vec<u64> = self
            .channels
            .iter()
            .map(|(_, f)| size(f.answered))
            .collect();
        sizes.push(size(self.unmessaged().1));
        let mut hide = hidden(&sizes);
        let unmessaged = hide.pop().unwrap_or(true);
        AnswersWithheld {
            channels: hide,
            unmessaged,
            total: size(self.answered) < MINIMUM,
        }
    }
}

/// The reach of each agency the query selects, in agency id order, each agency as it was
/// (messages are counted by the agency that issued the link, whatever the map).
pub fn reach(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
) -> QueryResult<Vec<(i64, Reached)>> {
    let by_agency = by_agency(conn, query, province_id)?;
    let query = Query {
        group_by: crate::report::GroupBy::Agency,
        map: crate::report::map::MapMode::AsItWas,
        ..query.clone()
    };
    let as_it_was = crate::report::map::UnitMap::load(conn, query.map, crate::clock::today())?;
    let dossiers = crate::report::counts::dossiers(conn, &query, province_id, &as_it_was)?;
    let mut out: std::collections::BTreeMap<i64, Reached> = std::collections::BTreeMap::new();
    for (key, d) in dossiers {
        if let Ok(id) = key.parse::<i64>() {
            let r = out.entry(id).or_default();
            r.dossiers = d.issued;
            r.answered = d.answered;
        }
    }
    for (id, _, _) in &by_agency {
        out.entry(*id).or_default();
    }
    for (id, r) in out.iter_mut() {
        let rows: Vec<(i64, Medium, Funnel)> = by_agency
            .iter()
            .filter(|(a, _, _)| a == id)
            .copied()
            .collect();
        r.channels = per_medium(&rows);
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reached(answered: [i64; 3], dossiers: i64, total: i64) -> Reached {
        Reached {
            channels: Medium::ALL
                .iter()
                .zip(answered)
                .map(|(m, a)| {
                    (
                        *m,
                        Funnel {
                            invited: 10,
                            answered: a,
                            ..Funnel::default()
                        },
                    )
                })
                .collect(),
            dossiers,
            answered: total,
        }
    }

    #[test]
    fn answers_below_the_minimum_are_withheld_even_by_subtraction() {
        // One answer in all: nothing shown, the total neither.
        let w = reached([0, 0, 1], 40, 1).answers_withheld();
        assert!(w.total && w.channels.iter().all(|h| *h) && w.unmessaged);
        // 12 by email, 2 by SMS, none without a message: SMS hidden, and email with it (the
        // total minus email would give SMS back); the zeros say nothing.
        let w = reached([0, 2, 12], 40, 14).answers_withheld();
        assert_eq!(w.channels, [false, true, true]);
        assert!(!w.total && !w.unmessaged);
        // Every group of five or more: all shown.
        let w = reached([5, 6, 7], 40, 23).answers_withheld();
        assert!(!w.any());
    }
}
