//! Reports across a reorganisation of the administrative map: which reporting unit each
//! agency's counts are summed into.
//!
//! Counts stay with the agency that existed when a citizen answered. "As today's map"
//! ([`MapMode::Today`]) sums each predecessor's counts into its successor in force today, at
//! query time: the SQL of [`super::counts`] joins a small `unit_map (agency_id, unit_id)` table
//! of the mapped agencies only. "As it was" ([`MapMode::AsItWas`]) keeps every agency as it
//! was and marks those that have been succeeded.
//!
//! A split (one agency, several successors) is never apportioned: a respondent is one person,
//! and dividing their answers by shares would make fractional counts whose intervals claim more
//! certainty than the data holds. The whole history goes to the *principal successor*, the one
//! with the largest share, and the note names it; when the shares are unknown or tied, there is
//! no principal successor and the split agency stays a unit of its own (its history is shown
//! under its own name, marked as split), rather than being given to a successor by an arbitrary
//! rule.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::Reason;
use crate::catalog::successions::{self, Succession};
use crate::db::DbConn;
use crate::db::schema::agencies;

/// Which map a report uses for a period that spans a reorganisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapMode {
    /// Predecessors' history rolled up into today's agencies (the default: trends and flags
    /// continue across a merger).
    #[default]
    Today,
    /// Every agency as it was, succeeded ones marked.
    AsItWas,
}

impl MapMode {
    /// Parses `today` or `as-it-was` (`as_it_was`).
    pub fn parse(s: &str) -> Option<MapMode> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "today" | "" => Some(MapMode::Today),
            "as-it-was" => Some(MapMode::AsItWas),
            _ => None,
        }
    }

    /// `today` or `as-it-was`, as the command line and the dashboard's links write it.
    pub fn as_str(self) -> &'static str {
        match self {
            MapMode::Today => "today",
            MapMode::AsItWas => "as-it-was",
        }
    }
}

/// An agency's life span and name, as the notes need them.
#[derive(Debug, Clone)]
struct Known {
    name: String,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// The reporting units of one report.
#[derive(Debug, Default)]
pub struct UnitMap {
    mode: MapMode,
    /// Agency → the unit its counts go to, only for agencies mapped to another one.
    unit_of: BTreeMap<i64, i64>,
    /// Unit → the agencies mapped into it (the inverse of `unit_of`).
    members: BTreeMap<i64, Vec<i64>>,
    /// Successions in force on the day the map is read, by old agency.
    successors: BTreeMap<i64, Vec<Succession>>,
    known: BTreeMap<i64, Known>,
}

impl UnitMap {
    /// Reads the successions in force on `as_of` (today) for a report in `mode`.
    pub fn load(conn: &mut DbConn, mode: MapMode, as_of: NaiveDate) -> QueryResult<UnitMap> {
        let all: Vec<Succession> = successions::agency_successions(conn)?
            .into_iter()
            .filter(|s| s.effective_date <= as_of)
            .collect();
        if all.is_empty() {
            return Ok(UnitMap {
                mode,
                ..UnitMap::default()
            });
        }
        let known = agencies::table
            .select((
                agencies::id,
                agencies::name,
                agencies::valid_from,
                agencies::valid_to,
            ))
            .load::<(i64, String, Option<NaiveDate>, Option<NaiveDate>)>(conn)?
            .into_iter()
            .map(|(id, name, valid_from, valid_to)| {
                (
                    id,
                    Known {
                        name,
                        valid_from,
                        valid_to,
                    },
                )
            })
            .collect();
        let mut successors: BTreeMap<i64, Vec<Succession>> = BTreeMap::new();
        for s in all {
            successors.entry(s.old_id).or_default().push(s);
        }
        let unit_of = match mode {
            MapMode::Today => resolve(&successors),
            MapMode::AsItWas => BTreeMap::new(),
        };
        let mut members: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (a, u) in &unit_of {
            members.entry(*u).or_default().push(*a);
        }
        Ok(UnitMap {
            mode,
            unit_of,
            members,
            successors,
            known,
        })
    }

    /// Whether the agency is a row of its own in this report's map.
    pub fn is_unit(&self, agency: i64) -> bool {
        !self.unit_of.contains_key(&agency)
    }

    /// Whether the unit (with the predecessors rolled into it) has data that may fall in the
    /// period: it, or one of its predecessors, existed during it.
    pub fn covers(
        &self,
        unit: i64,
        own: (Option<NaiveDate>, Option<NaiveDate>),
        from: NaiveDate,
        to: NaiveDate,
    ) -> bool {
        let during = |(f, t): (Option<NaiveDate>, Option<NaiveDate>)| {
            f.is_none_or(|f| f <= to) && t.is_none_or(|t| t >= from)
        };
        during(own)
            || self.members.get(&unit).is_some_and(|list| {
                list.iter().any(|p| {
                    self.known
                        .get(p)
                        .is_some_and(|k| during((k.valid_from, k.valid_to)))
                })
            })
    }

    /// The SQL `WITH` clause naming the mapped agencies, or `None` when no agency is mapped
    /// (only integer ids are inlined).
    pub fn with_clause(&self) -> Option<String> {
        if self.unit_of.is_empty() {
            return None;
        }
        let values: Vec<String> = self
            .unit_of
            .iter()
            .map(|(a, u)| format!("({a}, {u})"))
            .collect();
        Some(format!(
            "WITH unit_map (agency_id, unit_id) AS (VALUES {}) ",
            values.join(", ")
        ))
    }

    /// The join from a counts row `dc` to its unit `a`.
    pub fn join(&self) -> &'static str {
        if self.unit_of.is_empty() {
            "JOIN agencies a ON a.id = dc.agency_id"
        } else {
            "LEFT JOIN unit_map um ON um.agency_id = dc.agency_id \
             JOIN agencies a ON a.id = COALESCE(um.unit_id, dc.agency_id)"
        }
    }

    /// The note for an agency's row: in today's map, whose history it includes; as it was,
    /// whom it was succeeded by.
    pub fn note(&self, agency: i64) -> Option<Reason> {
        match self.mode {
            MapMode::Today => self.rolled_up_note(agency),
            MapMode::AsItWas => self.succeeded_note(agency),
        }
        .or_else(|| self.split_note(agency))
    }

    fn name(&self, id: i64) -> &str {
        self.known.get(&id).map_or("?", |k| k.name.as_str())
    }

    fn rolled_up_note(&self, unit: i64) -> Option<Reason> {
        // Predecessors by the date they were rolled into this unit's line.
        let mut by_date: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for p in self.members.get(&unit).into_iter().flatten() {
            let list = self.successors.get(p);
            let date = list.and_then(|list| list.iter().map(|s| s.effective_date).max());
            // A split's principal successor holds its whole history: say which share it took.
            let share = list
                .filter(|list| list.len() > 1)
                .and_then(|list| list.iter().find(|s| s.new_id == unit))
                .and_then(|s| s.share);
            let name = match share {
                Some(share) => format!("{} ({:.0}%)", self.name(*p), share * 100.0),
                None => self.name(*p).to_owned(),
            };
            if let Some(date) = date {
                by_date.entry(date).or_default().push(name);
            }
        }
        if by_date.is_empty() {
            return None;
        }
        let (mut vi, mut en) = (Vec::new(), Vec::new());
        for (date, names) in by_date {
            let d = date.format("%d/%m/%Y");
            vi.push(format!("{} (từ ngày {d})", names.join(", ")));
            en.push(format!(
                "{} (from {})",
                names.join(", "),
                date.format("%Y-%m-%d")
            ));
        }
        Some(Reason {
            vi: format!(
                "Theo bản đồ hành chính hiện nay: gồm cả số liệu của {}",
                vi.join("; ")
            ),
            en: format!("On today's map: includes the history of {}", en.join("; ")),
        })
    }

    fn succeeded_note(&self, agency: i64) -> Option<Reason> {
        let list = self.successors.get(&agency)?;
        let date = list.iter().map(|s| s.effective_date).max()?;
        let names: Vec<&str> = list.iter().map(|s| self.name(s.new_id)).collect();
        let d = date.format("%d/%m/%Y");
        Some(if list.len() == 1 {
            Reason {
                vi: format!("Đã sáp nhập vào {} từ ngày {d}", names.join(", ")),
                en: format!(
                    "Merged into {} on {}",
                    names.join(", "),
                    date.format("%Y-%m-%d")
                ),
            }
        } else {
            Reason {
                vi: format!(
                    "Đã chia tách, sáp nhập vào {} từ ngày {d}",
                    names.join(", ")
                ),
                en: format!(
                    "Split and merged into {} on {}",
                    names.join(", "),
                    date.format("%Y-%m-%d")
                ),
            }
        })
    }

    /// A split agency kept on its own in today's map (no principal successor).
    fn split_note(&self, agency: i64) -> Option<Reason> {
        if self.mode != MapMode::Today || !self.is_unit(agency) {
            return None;
        }
        let list = self.successors.get(&agency)?;
        let names: Vec<&str> = list.iter().map(|s| self.name(s.new_id)).collect();
        let tied = list.iter().all(|s| s.share.is_some());
        Some(if tied {
            Reason {
                vi: format!(
                    "Đã chia tách vào {} với tỷ lệ ngang nhau nên số liệu cũ được giữ riêng",
                    names.join(", ")
                ),
                en: format!(
                    "Split into {} in equal shares, so its history is kept apart",
                    names.join(", ")
                ),
            }
        } else {
            Reason {
                vi: format!(
                    "Đã chia tách vào {}; không rõ tỷ lệ nên số liệu cũ được giữ riêng",
                    names.join(", ")
                ),
                en: format!(
                    "Split into {}; without known shares its history is kept apart",
                    names.join(", ")
                ),
            }
        })
    }
}

/// The principal successor of one agency: its only successor, or the one with the largest
/// share; `None` for a split with unknown or tied shares.
fn principal(list: &[Succession]) -> Option<i64> {
    let latest = list.iter().map(|s| s.effective_date).max()?;
    let current: Vec<&Succession> = list.iter().filter(|s| s.effective_date == latest).collect();
    if let [only] = current.as_slice() {
        return Some(only.new_id);
    }
    let mut shares: Vec<(f64, i64)> = current
        .iter()
        .map(|s| s.share.map(|share| (share, s.new_id)))
        .collect::<Option<Vec<_>>>()?;
    shares.sort_by(|a, b| b.0.total_cmp(&a.0));
    match shares.as_slice() {
        [first, second, ..] if first.0 > second.0 => Some(first.1),
        _ => None,
    }
}

/// Each agency's unit in today's map, following principal successors to the end of the chain
/// (successions are acyclic: the import refuses cycles; a step bound guards anyway).
fn resolve(successors: &BTreeMap<i64, Vec<Succession>>) -> BTreeMap<i64, i64> {
    let mut unit_of = BTreeMap::new();
    for &agency in successors.keys() {
        let mut at = agency;
        for _ in 0..=successors.len() {
            match successors.get(&at).and_then(|l| principal(l)) {
                Some(next) => at = next,
                None => break,
            }
        }
        if at != agency {
            unit_of.insert(agency, at);
        }
    }
    unit_of
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(old: i64, new: i64, date: &str, share: Option<f64>) -> Succession {
        Succession {
            old_id: old,
            new_id: new,
            effective_date: date.parse().unwrap_or_default(),
            share,
        }
    }

    fn map(list: Vec<Succession>) -> BTreeMap<i64, i64> {
        let mut by_old: BTreeMap<i64, Vec<Succession>> = BTreeMap::new();
        for x in list {
            by_old.entry(x.old_id).or_default().push(x);
        }
        resolve(&by_old)
    }

    #[test]
    fn chains_merges_and_splits_resolve_to_today_units() {
        let units = map(vec![
            // 1 and 2 merge into 3 (2024-12-01), 3 and 4 into 5 (2025-07-01).
            s(1, 3, "2024-12-01", None),
            s(2, 3, "2024-12-01", None),
            s(3, 5, "2025-07-01", None),
            s(4, 5, "2025-07-01", None),
            // 6 split 0.7 / 0.3 into 5 and 7: goes whole to 5.
            s(6, 5, "2025-07-01", Some(0.7)),
            s(6, 7, "2025-07-01", Some(0.3)),
            // 8 split without shares, 9 split with tied shares: no principal successor.
            s(8, 5, "2025-07-01", None),
            s(8, 7, "2025-07-01", None),
            s(9, 5, "2025-07-01", Some(0.5)),
            s(9, 7, "2025-07-01", Some(0.5)),
        ]);
        let expected: BTreeMap<i64, i64> = [(1, 5), (2, 5), (3, 5), (4, 5), (6, 5)].into();
        assert_eq!(units, expected);
    }

    #[test]
    fn modes_parse() {
        assert_eq!(MapMode::parse("as-it-was"), Some(MapMode::AsItWas));
        assert_eq!(MapMode::parse("AS_IT_WAS"), Some(MapMode::AsItWas));
        assert_eq!(MapMode::parse("today"), Some(MapMode::Today));
        assert_eq!(MapMode::parse("yesterday"), None);
    }
}
