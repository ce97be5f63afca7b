//! Successions: which agencies (or provinces) took over from which, from what date, and
//! `sipas import successions` (`old_code,new_code,effective_date[,share][,kind]`).
//!
//! A merger is several rows with the same `new_code`, a split one row per successor of an
//! `old_code` (with the share of the old unit that went to each, when known). The import checks
//! the whole graph (what is stored and what the file adds) and writes all or nothing: every code
//! must be known, a unit cannot succeed itself or be part of a cycle, dates follow the life
//! spans (a successor exists on the date; an old unit with a last day hands over the next day;
//! along a chain the dates increase) and the shares of one old unit are all given or all left
//! out and add up to at most 1. An old unit without a last day gets the day before its
//! succession as its last day.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use super::import::optional_date;
use crate::csvfile::{CsvRows, ImportError, Problems};
use crate::db::DbConn;
use crate::db::schema::{agencies, agency_successions, province_successions, provinces};
use crate::domain::Code;

/// One unit taking over (all or part of) another from a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Succession {
    pub old_id: i64,
    pub new_id: i64,
    /// The first day of the successor's responsibility.
    pub effective_date: NaiveDate,
    /// The share of the old unit that went to this successor (a split), when known.
    pub share: Option<f64>,
}

/// What a succession row links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Agency,
    Province,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "agency" => Some(Kind::Agency),
            "province" => Some(Kind::Province),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Agency => "agency",
            Kind::Province => "province",
        }
    }
}

/// Every agency succession, by old agency, then successor.
pub fn agency_successions(conn: &mut DbConn) -> QueryResult<Vec<Succession>> {
    let rows: Vec<(i64, i64, NaiveDate, Option<f64>)> = agency_successions::table
        .select((
            agency_successions::old_agency_id,
            agency_successions::new_agency_id,
            agency_successions::effective_date,
            agency_successions::share,
        ))
        .order((
            agency_successions::old_agency_id,
            agency_successions::new_agency_id,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(Succession::from).collect())
}

/// Every province succession, by old province, then successor.
pub fn province_successions(conn: &mut DbConn) -> QueryResult<Vec<Succession>> {
    let rows: Vec<(i64, i64, NaiveDate, Option<f64>)> = province_successions::table
        .select((
            province_successions::old_province_id,
            province_successions::new_province_id,
            province_successions::effective_date,
            province_successions::share,
        ))
        .order((
            province_successions::old_province_id,
            province_successions::new_province_id,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(Succession::from).collect())
}

impl From<(i64, i64, NaiveDate, Option<f64>)> for Succession {
    fn from((old_id, new_id, effective_date, share): (i64, i64, NaiveDate, Option<f64>)) -> Self {
        Succession {
            old_id,
            new_id,
            effective_date,
            share,
        }
    }
}

/// A unit of the map as the checks see it.
#[derive(Debug, Clone)]
struct Unit {
    id: i64,
    code: String,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// A parsed row of the file.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    kind: Kind,
    old: Code,
    new: Code,
    date: NaiveDate,
    share: Option<f64>,
}

/// A succession of the combined graph, with the file line it comes from (`None`: stored).
#[derive(Debug, Clone)]
struct Edge {
    line: Option<u64>,
    succession: Succession,
}

/// Imports successions; existing (old, new) pairs are updated. Returns the rows imported.
pub fn import_successions(conn: &mut DbConn, input: impl Read) -> Result<usize, ImportError> {
    let mut rows = CsvRows::open(input, &["old_code", "new_code", "effective_date"])?;
    let mut problems = Problems::default();
    let mut parsed: Vec<Row> = Vec::new();
    let mut seen = HashSet::new();
    while let Some(row) = rows.next_row() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let line = row.line;
        let Some(kind) = Kind::parse(row.get("kind")) else {
            problems.add(
                line,
                format!(
                    "kind {k:?} không hợp lệ: agency (cơ quan) hoặc province (tỉnh) (invalid kind {k:?}: agency or province)",
                    k = row.get("kind")
                ),
            );
            continue;
        };
        let (Some(old), Some(new)) = (
            Code::parse(row.get("old_code")),
            Code::parse(row.get("new_code")),
        ) else {
            problems.add(
                line,
                "old_code và new_code phải là mã: chỉ dùng chữ, số và - _ . / (old_code and new_code must be codes: letters, digits, - _ . / only)",
            );
            continue;
        };
        let date = match optional_date(row.get("effective_date")) {
            Ok(Some(d)) => d,
            Ok(None) => {
                problems.add(
                    line,
                    "thiếu effective_date, cần YYYY-MM-DD (effective_date is missing: YYYY-MM-DD)",
                );
                continue;
            }
            Err(e) => {
                problems.add(line, format!("effective_date: {e}"));
                continue;
            }
        };
        let share = match row.get("share").trim() {
            "" => None,
            s => match s.parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 1.0 => Some(v),
                _ => {
                    problems.add(
                        line,
                        format!(
                            "share {s:?} không hợp lệ: một số lớn hơn 0 và không quá 1, ví dụ 0.4 (invalid share {s:?}: a number above 0 and at most 1, e.g. 0.4)"
                        ),
                    );
                    continue;
                }
            },
        };
        if old == new {
            problems.add(
                line,
                format!("{old} không thể kế thừa chính nó ({old} cannot succeed itself)"),
            );
            continue;
        }
        if !seen.insert((kind, old.clone(), new.clone())) {
            problems.add(
                line,
                format!(
                    "việc kế thừa {old} → {new} xuất hiện hai lần trong tệp (the succession {old} → {new} appears twice in the file)"
                ),
            );
            continue;
        }
        parsed.push(Row {
            line,
            kind,
            old,
            new,
            date,
            share,
        });
    }
    problems.into_result()?;
    crate::db::write_transaction(conn, |conn| {
        // Two imports at once on PostgreSQL would each check the graph without the other's
        // rows (and could close a cycle together): the second waits for the first.
        if let DbConn::Pg(pg) = conn {
            diesel::sql_query(
                "LOCK TABLE agency_successions, province_successions IN SHARE ROW EXCLUSIVE MODE",
            )
            .execute(pg)?;
        }
        let mut problems = Problems::default();
        let mut plan = Vec::new();
        for kind in [Kind::Agency, Kind::Province] {
            let rows: Vec<&Row> = parsed.iter().filter(|r| r.kind == kind).collect();
            if rows.is_empty() {
                continue;
            }
            let (units, stored) = match kind {
                Kind::Agency => (agency_units(conn)?, agency_successions(conn)?),
                Kind::Province => (province_units(conn)?, province_successions(conn)?),
            };
            if let Some(edges) = check(kind, &rows, &units, stored.clone(), &mut problems) {
                plan.push((kind, edges, units, stored));
            }
        }
        problems.into_result()?;
        for (kind, edges, units, stored) in &plan {
            write(conn, *kind, edges, units, stored)?;
        }
        // A merged province's agencies go on under their own successors: one left open would
        // vanish from the successor province's reports on today's map.
        open_agencies_of_merged_provinces(conn, &parsed)?.into_result()?;
        Ok(parsed.len())
    })
}

fn agency_units(conn: &mut DbConn) -> QueryResult<Vec<Unit>> {
    let rows: Vec<(i64, String, Option<NaiveDate>, Option<NaiveDate>)> = agencies::table
        .select((
            agencies::id,
            agencies::code,
            agencies::valid_from,
            agencies::valid_to,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(Unit::from).collect())
}

fn province_units(conn: &mut DbConn) -> QueryResult<Vec<Unit>> {
    let rows: Vec<(i64, String, Option<NaiveDate>, Option<NaiveDate>)> = provinces::table
        .select((
            provinces::id,
            provinces::code,
            provinces::valid_from,
            provinces::valid_to,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(Unit::from).collect())
}

impl From<(i64, String, Option<NaiveDate>, Option<NaiveDate>)> for Unit {
    fn from(
        (id, code, valid_from, valid_to): (i64, String, Option<NaiveDate>, Option<NaiveDate>),
    ) -> Self {
        Unit {
            id,
            code,
            valid_from,
            valid_to,
        }
    }
}

/// Checks the file's rows of one kind against the stored map; returns the combined graph when
/// every row is sound.
fn check(
    kind: Kind,
    rows: &[&Row],
    units: &[Unit],
    stored: Vec<Succession>,
    problems: &mut Problems,
) -> Option<Vec<Edge>> {
    let by_code: HashMap<&str, &Unit> = units.iter().map(|u| (u.code.as_str(), u)).collect();
    let by_id: HashMap<i64, &Unit> = units.iter().map(|u| (u.id, u)).collect();
    let noun = kind.noun();
    // The last day each old unit's stored successions gave it: a file may correct the date
    // of such a succession (the last day then moves with it).
    let closed_by_succession: HashMap<i64, NaiveDate> = stored
        .iter()
        .map(|s| (s.old_id, s.effective_date - Duration::days(1)))
        .collect();
    let mut edges: BTreeMap<(i64, i64), Edge> = stored
        .into_iter()
        .map(|s| {
            (
                (s.old_id, s.new_id),
                Edge {
                    line: None,
                    succession: s,
                },
            )
        })
        .collect();
    let mut sound = true;
    for r in rows {
        let old = by_code.get(r.old.as_str());
        let new = by_code.get(r.new.as_str());
        for (code, unit) in [(&r.old, old), (&r.new, new)] {
            if unit.is_none() {
                problems.add(
                    r.line,
                    format!("không có mã {code} (unknown {noun} code {code})"),
                );
                sound = false;
            }
        }
        let (Some(old), Some(new)) = (old, new) else {
            continue;
        };
        edges.insert(
            (old.id, new.id),
            Edge {
                line: Some(r.line),
                succession: Succession {
                    old_id: old.id,
                    new_id: new.id,
                    effective_date: r.date,
                    share: r.share,
                },
            },
        );
    }
    if !sound {
        return None;
    }
    let edges: Vec<Edge> = edges.into_values().collect();
    let code = |id: i64| by_id.get(&id).map_or("?", |u| u.code.as_str());
    let before = problems.len();
    // Life spans and dates along chains, in the file's order.
    let mut in_file: Vec<(u64, &Edge)> = edges
        .iter()
        .filter_map(|e| e.line.map(|l| (l, e)))
        .collect();
    in_file.sort_by_key(|(line, _)| *line);
    for (line, e) in in_file {
        let s = &e.succession;
        let d = s.effective_date;
        if let Some(old) = by_id.get(&s.old_id) {
            if let Some(f) = old.valid_from.filter(|f| d <= *f) {
                problems.add(
                    line,
                    format!(
                        "effective_date {d} không sau ngày {c} bắt đầu ({f}) (effective_date {d} is not after {c} began on {f})",
                        c = old.code
                    ),
                );
            }
            let set_by_succession = closed_by_succession.get(&s.old_id) == old.valid_to.as_ref();
            if let Some(t) = old
                .valid_to
                .filter(|t| d != *t + Duration::days(1) && !set_by_succession)
            {
                problems.add(
                    line,
                    format!(
                        "{c} kết thúc ngày {t}: cơ quan kế thừa tiếp nhận từ ngày {n}, không phải {d} ({c} ends on {t}: its successors take over on {n}, not {d})",
                        c = old.code,
                        n = t + Duration::days(1)
                    ),
                );
            }
        }
        if let Some(new) = by_id.get(&s.new_id) {
            if let Some(f) = new.valid_from.filter(|f| d < *f) {
                problems.add(
                    line,
                    format!(
                        "cơ quan kế thừa {c} chỉ bắt đầu ngày {f}, sau {d} (the successor {c} only begins on {f}, after {d})",
                        c = new.code
                    ),
                );
            }
            if let Some(t) = new.valid_to.filter(|t| d > *t) {
                problems.add(
                    line,
                    format!(
                        "cơ quan kế thừa {c} không còn tồn tại ngày {d} (kết thúc ngày {t}) (the successor {c} no longer exists on {d}: it ended on {t})",
                        c = new.code
                    ),
                );
            }
        }
        // Along a chain the dates increase: what the old unit took over came to it earlier
        // (a stored succession; two of the file's are checked from the earlier one, below).
        for before in edges
            .iter()
            .filter(|p| p.line.is_none() && p.succession.new_id == s.old_id)
        {
            if before.succession.effective_date >= d {
                problems.add(
                    line,
                    format!(
                        "ngày không theo thứ tự: {a} → {b} ngày {d}, nhưng {c} → {e} chỉ từ ngày {f} (dates out of order: {a} → {b} on {d}, but {c} → {e} only on {f})",
                        a = code(s.old_id),
                        b = code(s.new_id),
                        c = code(before.succession.old_id),
                        e = code(before.succession.new_id),
                        f = before.succession.effective_date
                    ),
                );
            }
        }
        for next in edges.iter().filter(|n| n.succession.old_id == s.new_id) {
            if next.succession.effective_date <= d {
                problems.add(
                    line,
                    format!(
                        "ngày không theo thứ tự: {a} → {b} ngày {d}, nhưng {c} → {e} đã từ ngày {f} (dates out of order: {a} → {b} on {d}, but {c} → {e} already on {f})",
                        a = code(s.old_id),
                        b = code(s.new_id),
                        c = code(next.succession.old_id),
                        e = code(next.succession.new_id),
                        f = next.succession.effective_date
                    ),
                );
            }
        }
    }
    // One date per old unit (it ends once), shares of a split all or none, at most 1 in total.
    let mut of_old: BTreeMap<i64, Vec<&Edge>> = BTreeMap::new();
    for e in &edges {
        of_old.entry(e.succession.old_id).or_default().push(e);
    }
    for (old, list) in &of_old {
        let Some(line) = list.iter().filter_map(|e| e.line).min() else {
            continue;
        };
        let dates: BTreeSet<NaiveDate> = list.iter().map(|e| e.succession.effective_date).collect();
        if dates.len() > 1 {
            let dates: Vec<String> = dates.iter().map(ToString::to_string).collect();
            problems.add(
                line,
                format!(
                    "{c} kết thúc một lần: mọi cơ quan kế thừa của {c} phải có cùng effective_date, không phải {d} ({c} ends once: all of its successors need the same effective_date, not {d})",
                    c = code(*old),
                    d = dates.join(", ")
                ),
            );
        }
        let given = list.iter().filter(|e| e.succession.share.is_some()).count();
        if given != 0 && given != list.len() {
            problems.add(
                line,
                format!(
                    "ghi share cho mọi cơ quan kế thừa của {c} hoặc không ghi cho ai (give a share for every successor of {c} or for none)",
                    c = code(*old)
                ),
            );
        }
        let total: f64 = list.iter().filter_map(|e| e.succession.share).sum();
        if total > 1.0 + 1e-9 {
            problems.add(
                line,
                format!(
                    "tổng share của các cơ quan kế thừa {c} là {total}, lớn hơn 1 (the shares of {c}'s successors add up to {total}, more than 1)",
                    c = code(*old)
                ),
            );
        }
    }
    // Cycles (dates alone would catch most, but say what is wrong).
    for cycle in cycles(&edges) {
        let names: Vec<&str> = cycle.iter().map(|&id| code(id)).collect();
        let line = edges
            .iter()
            .filter(|e| {
                cycle.contains(&e.succession.old_id) && cycle.contains(&e.succession.new_id)
            })
            .find_map(|e| e.line)
            .unwrap_or(1);
        problems.add(
            line,
            format!(
                "các việc kế thừa tạo thành vòng (successions form a cycle): {} → {}",
                names.join(" → "),
                names[0]
            ),
        );
    }
    (problems.len() == before).then_some(edges)
}

/// The cycles of the graph, each once (as the ids along it, starting at the smallest).
fn cycles(edges: &[Edge]) -> Vec<Vec<i64>> {
    let mut next: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for e in edges {
        next.entry(e.succession.old_id)
            .or_default()
            .push(e.succession.new_id);
    }
    let mut found: Vec<Vec<i64>> = Vec::new();
    // 0 new, 1 on the path, 2 done.
    let mut state: HashMap<i64, u8> = HashMap::new();
    for &start in next.keys() {
        if state.contains_key(&start) {
            continue;
        }
        // Iterative depth-first search: (node, index of the next child).
        let mut path: Vec<(i64, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some(&mut (node, ref mut child)) = path.last_mut() {
            let children = next.get(&node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&c) = children.get(*child) {
                *child += 1;
                match state.get(&c).copied().unwrap_or(0) {
                    0 => {
                        state.insert(c, 1);
                        path.push((c, 0));
                    }
                    1 => {
                        let from = path.iter().position(|(n, _)| *n == c).unwrap_or(0);
                        let mut cycle: Vec<i64> = path[from..].iter().map(|(n, _)| *n).collect();
                        let min = cycle
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, id)| **id)
                            .map_or(0, |(i, _)| i);
                        cycle.rotate_left(min);
                        if !found.contains(&cycle) {
                            found.push(cycle);
                        }
                    }
                    _ => {}
                }
            } else {
                state.insert(node, 2);
                path.pop();
            }
        }
    }
    found
}

/// The file's province successions whose old province still has agencies without a last day
/// (each one needs a successor of its own, in this file or imported before).
fn open_agencies_of_merged_provinces(conn: &mut DbConn, parsed: &[Row]) -> QueryResult<Problems> {
    let mut problems = Problems::default();
    for r in parsed.iter().filter(|r| r.kind == Kind::Province) {
        let open: Vec<String> = agencies::table
            .inner_join(provinces::table)
            .filter(provinces::code.eq(r.old.as_str()))
            .filter(agencies::valid_to.is_null())
            .select(agencies::code)
            .order(agencies::code)
            .load(conn)?;
        if open.is_empty() {
            continue;
        }
        let mut named = open.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        if open.len() > 10 {
            named.push_str(&format!(", … ({} in all)", open.len()));
        }
        problems.add(
            r.line,
            format!(
                "tỉnh {old} sáp nhập vào {new} nhưng các cơ quan sau chưa có cơ quan kế thừa (thêm các dòng kế thừa của chúng vào tệp này hoặc nhập trước): {named} (province {old} merges into {new} but these agencies have no successor yet; add their rows to this file or import them first)",
                old = r.old,
                new = r.new,
            ),
        );
    }
    Ok(problems)
}

/// Stores the file's successions and closes the life span of each old unit that has none (or
/// moves the last day a stored succession gave it, when the file corrects that date).
fn write(
    conn: &mut DbConn,
    kind: Kind,
    edges: &[Edge],
    units: &[Unit],
    stored: &[Succession],
) -> QueryResult<()> {
    let mut last_day: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    for e in edges.iter().filter(|e| e.line.is_some()) {
        let s = &e.succession;
        match kind {
            Kind::Agency => {
                diesel::delete(
                    agency_successions::table
                        .filter(agency_successions::old_agency_id.eq(s.old_id))
                        .filter(agency_successions::new_agency_id.eq(s.new_id)),
                )
                .execute(conn)?;
                diesel::insert_into(agency_successions::table)
                    .values((
                        agency_successions::old_agency_id.eq(s.old_id),
                        agency_successions::new_agency_id.eq(s.new_id),
                        agency_successions::effective_date.eq(s.effective_date),
                        agency_successions::share.eq(s.share),
                    ))
                    .execute(conn)?;
            }
            Kind::Province => {
                diesel::delete(
                    province_successions::table
                        .filter(province_successions::old_province_id.eq(s.old_id))
                        .filter(province_successions::new_province_id.eq(s.new_id)),
                )
                .execute(conn)?;
                diesel::insert_into(province_successions::table)
                    .values((
                        province_successions::old_province_id.eq(s.old_id),
                        province_successions::new_province_id.eq(s.new_id),
                        province_successions::effective_date.eq(s.effective_date),
                        province_successions::share.eq(s.share),
                    ))
                    .execute(conn)?;
            }
        }
        let day = s.effective_date - Duration::days(1);
        let entry = last_day.entry(s.old_id).or_insert(day);
        *entry = (*entry).max(day);
    }
    for (id, day) in last_day {
        let closed_by_succession = |t: NaiveDate| {
            stored
                .iter()
                .any(|s| s.old_id == id && s.effective_date - Duration::days(1) == t)
        };
        if units
            .iter()
            .any(|u| u.id == id && u.valid_to.is_none_or(closed_by_succession))
        {
            match kind {
                Kind::Agency => diesel::update(agencies::table.find(id))
                    .set(agencies::valid_to.eq(Some(day)))
                    .execute(conn)?,
                Kind::Province => diesel::update(provinces::table.find(id))
                    .set(provinces::valid_to.eq(Some(day)))
                    .execute(conn)?,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(old: i64, new: i64) -> Edge {
        Edge {
            line: Some(2),
            succession: Succession {
                old_id: old,
                new_id: new,
                effective_date: NaiveDate::default(),
                share: None,
            },
        }
    }

    #[test]
    fn cycles_are_found_once_each() {
        let none = cycles(&[edge(1, 2), edge(2, 3), edge(4, 3)]);
        assert!(none.is_empty());
        let two = cycles(&[
            edge(3, 1),
            edge(1, 2),
            edge(2, 3),
            edge(5, 6),
            edge(6, 5),
            edge(7, 7),
        ]);
        assert_eq!(two, vec![vec![1, 2, 3], vec![5, 6], vec![7]]);
    }
}
