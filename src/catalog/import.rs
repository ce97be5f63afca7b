//! `sipas import agencies|procedures|links`: validate every row, then write all or nothing.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use chrono::NaiveDate;

use super::queries;
use super::{NewAgency, NewProcedure};
use crate::csvfile::{CsvRows, ImportError, Problems};
use crate::db::DbConn;
use crate::domain::{Code, Level};

struct AgencyRow {
    line: u64,
    code: Code,
    name: String,
    level: Level,
    province: Code,
    parent: Option<Code>,
    /// The optional `peer_group` column: agencies flagged against each other instead of
    /// against their level (e.g. departments grouped by field).
    peer_group: Option<String>,
    /// The optional `valid_from` / `valid_to` columns: the agency's first and last day.
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// A `YYYY-MM-DD` date in an import column; empty is `None`.
pub(crate) fn optional_date(value: &str) -> Result<Option<NaiveDate>, String> {
    match value.trim() {
        "" => Ok(None),
        v => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                format!("ngày {v:?} không hợp lệ, cần YYYY-MM-DD (invalid date {v:?}: YYYY-MM-DD)")
            }),
    }
}

/// The message for a level that is not one of the catalog's.
fn invalid_level(value: &str) -> String {
    format!(
        "cấp {value:?} không hợp lệ: tinh (cấp tỉnh), xa (cấp xã) hoặc huyen (cấp huyện, trước 7/2025) \
         (invalid level {value:?}: tinh, xa or huyen)"
    )
}

/// The longest peer group name.
const PEER_GROUP_MAX: usize = 100;

/// Imports agencies (`code,name,level,province_code,parent_code[,peer_group][,valid_from,valid_to]`);
/// existing codes are updated. Without the optional columns an existing agency keeps its peer
/// group and its life span.
/// Returns the number of rows imported.
pub fn import_agencies(conn: &mut DbConn, input: impl Read) -> Result<usize, ImportError> {
    let mut rows = CsvRows::open(
        input,
        &["code", "name", "level", "province_code", "parent_code"],
    )?;
    let has_peer_groups = rows.column_names().any(|c| c == "peer_group");
    let has_validity = rows
        .column_names()
        .any(|c| c == "valid_from" || c == "valid_to");
    let mut problems = Problems::default();
    let mut parsed: Vec<AgencyRow> = Vec::new();
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
        let code = Code::parse(row.get("code"));
        let level = Level::parse(row.get("level"));
        let province = Code::parse(row.get("province_code"));
        let parent = match row.get("parent_code") {
            "" => Ok(None),
            p => Code::parse(p).map(Some).ok_or(()),
        };
        let name = row.get("name");
        let Some(code) = code else {
            problems.add(
                line,
                format!(
                    "mã {c:?} không hợp lệ: chỉ dùng chữ, số và - _ . / (invalid code {c:?}: letters, digits, - _ . / only)",
                    c = row.get("code")
                ),
            );
            continue;
        };
        if !seen.insert(code.clone()) {
            problems.add(
                line,
                format!("cơ quan {code} xuất hiện hai lần trong tệp (agency {code} appears twice in the file)"),
            );
        }
        if name.is_empty() || name.chars().count() > 300 {
            problems.add(
                line,
                "tên phải có từ 1 đến 300 ký tự (the name must have 1 to 300 characters)",
            );
        }
        let Some(level) = level else {
            problems.add(line, invalid_level(row.get("level")));
            continue;
        };
        let Some(province) = province else {
            problems.add(
                line,
                "province_code thiếu hoặc không hợp lệ (invalid or missing province_code)",
            );
            continue;
        };
        let Ok(parent) = parent else {
            problems.add(
                line,
                format!(
                    "parent_code {p:?} không hợp lệ (invalid parent_code {p:?})",
                    p = row.get("parent_code")
                ),
            );
            continue;
        };
        if parent.as_ref() == Some(&code) {
            problems.add(
                line,
                "một cơ quan không thể là cơ quan cấp trên của chính nó (an agency cannot be its own parent)",
            );
            continue;
        }
        let peer_group = Some(row.get("peer_group").to_owned()).filter(|g| !g.is_empty());
        if peer_group
            .as_ref()
            .is_some_and(|g| g.chars().count() > PEER_GROUP_MAX)
        {
            problems.add(
                line,
                format!(
                    "peer_group dài quá {PEER_GROUP_MAX} ký tự (peer_group is longer than {PEER_GROUP_MAX} characters)"
                ),
            );
        }
        let (valid_from, valid_to) = match (
            optional_date(row.get("valid_from")),
            optional_date(row.get("valid_to")),
        ) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) => {
                problems.add(line, format!("valid_from: {e}"));
                continue;
            }
            (_, Err(e)) => {
                problems.add(line, format!("valid_to: {e}"));
                continue;
            }
        };
        if let (Some(f), Some(t)) = (valid_from, valid_to)
            && t < f
        {
            problems.add(
                line,
                format!(
                    "valid_to {t} trước valid_from {f} (valid_to {t} is before valid_from {f})"
                ),
            );
        }
        parsed.push(AgencyRow {
            line,
            code,
            name: name.to_owned(),
            level,
            province,
            parent,
            peer_group,
            valid_from,
            valid_to,
        });
    }
    if !problems.is_empty() {
        return problems.into_result().map(|_| 0);
    }
    crate::db::write_transaction(conn, |conn| -> Result<usize, ImportError> {
        // Parents may be in the file (before or after the child) or already in the database.
        let existing = queries::all_agencies(conn)?;
        let mut parent_of: HashMap<String, Option<String>> = HashMap::new();
        let mut db_province: HashMap<String, i64> = HashMap::new();
        let by_id: HashMap<i64, String> = existing.iter().map(|a| (a.id, a.code.clone())).collect();
        for a in &existing {
            parent_of.insert(
                a.code.clone(),
                a.parent_id.and_then(|p| by_id.get(&p).cloned()),
            );
            db_province.insert(a.code.clone(), a.province_id);
        }
        let mut file_province: HashMap<String, String> = HashMap::new();
        for r in &parsed {
            parent_of.insert(
                r.code.to_string(),
                r.parent.as_ref().map(ToString::to_string),
            );
            file_province.insert(r.code.to_string(), r.province.to_string());
        }
        let mut province_ids: HashMap<String, i64> = HashMap::new();
        for r in &parsed {
            if !province_ids.contains_key(r.province.as_str()) {
                let p = queries::ensure_province(conn, r.province.as_str())?;
                province_ids.insert(r.province.to_string(), p.id);
            }
        }
        let mut check = Problems::default();
        for r in &parsed {
            let Some(parent) = &r.parent else { continue };
            let parent_province = match file_province.get(parent.as_str()) {
                Some(code) => province_ids.get(code).copied(),
                None => db_province.get(parent.as_str()).copied(),
            };
            match parent_province {
                None => check.add(
                    r.line,
                    format!("parent_code {parent} không phải là cơ quan đã biết (parent_code {parent} is not a known agency)"),
                ),
                Some(pid) if Some(&pid) != province_ids.get(r.province.as_str()) => check.add(
                    r.line,
                    format!("cơ quan cấp trên {parent} thuộc tỉnh khác (parent {parent} belongs to another province)"),
                ),
                Some(_) => {}
            }
            let mut cursor = Some(parent.to_string());
            let mut steps = 0;
            while let Some(c) = cursor {
                if c == r.code.as_str() || steps > parent_of.len() {
                    check.add(
                        r.line,
                        format!(
                            "chuỗi cơ quan cấp trên của {c} quay vòng về chính nó (the parent chain of {c} loops back to itself)",
                            c = r.code
                        ),
                    );
                    break;
                }
                steps += 1;
                cursor = parent_of.get(&c).cloned().flatten();
            }
        }
        if has_validity {
            keep_spans_of_successions(conn, &by_id, &mut parsed, &mut check)?;
        }
        // An error here rolls back the provinces created above.
        check.into_result()?;
        // Insert without parents first so that any order in the file works, then set parents.
        let mut ids: HashMap<String, i64> =
            existing.iter().map(|a| (a.code.clone(), a.id)).collect();
        for r in &parsed {
            let province_id = province_ids
                .get(r.province.as_str())
                .copied()
                .unwrap_or_default();
            let keep_parent = ids
                .get(r.code.as_str())
                .and_then(|id| existing.iter().find(|a| a.id == *id))
                .and_then(|a| a.parent_id);
            let id = queries::upsert_agency(
                conn,
                &NewAgency {
                    code: r.code.to_string(),
                    name: r.name.clone(),
                    level: r.level.as_str().to_owned(),
                    province_id,
                    parent_id: keep_parent,
                },
            )?;
            ids.insert(r.code.to_string(), id);
        }
        for r in &parsed {
            let parent_id = r.parent.as_ref().and_then(|p| ids.get(p.as_str()).copied());
            let province_id = province_ids
                .get(r.province.as_str())
                .copied()
                .unwrap_or_default();
            queries::upsert_agency(
                conn,
                &NewAgency {
                    code: r.code.to_string(),
                    name: r.name.clone(),
                    level: r.level.as_str().to_owned(),
                    province_id,
                    parent_id,
                },
            )?;
            // Without the column, an agency keeps the peer group it has.
            if has_peer_groups {
                queries::set_peer_group(conn, r.code.as_str(), r.peer_group.as_deref())?;
            }
            if has_validity {
                queries::set_validity(conn, r.code.as_str(), r.valid_from, r.valid_to)?;
            }
        }
        Ok(parsed.len())
    })
}

/// Life spans that agree with the stored successions: an agency that was succeeded keeps the
/// last day its succession gave it when the file leaves `valid_to` empty (a catalog imported
/// again must not reopen merged communes), and a file that states another last day, or a
/// successor beginning after it took over, is an error on that line.
fn keep_spans_of_successions(
    conn: &mut DbConn,
    code_of: &HashMap<i64, String>,
    parsed: &mut [AgencyRow],
    check: &mut Problems,
) -> Result<(), ImportError> {
    let mut ends: HashMap<&str, NaiveDate> = HashMap::new();
    let mut starts: HashMap<&str, NaiveDate> = HashMap::new();
    let stored = super::successions::agency_successions(conn)?;
    for s in &stored {
        if let Some(code) = code_of.get(&s.old_id) {
            let end = s.effective_date - chrono::Duration::days(1);
            ends.entry(code.as_str())
                .and_modify(|e| *e = (*e).max(end))
                .or_insert(end);
        }
        if let Some(code) = code_of.get(&s.new_id) {
            starts
                .entry(code.as_str())
                .and_modify(|d| *d = (*d).min(s.effective_date))
                .or_insert(s.effective_date);
        }
    }
    for r in parsed.iter_mut() {
        if let Some(&end) = ends.get(r.code.as_str()) {
            match r.valid_to {
                None => r.valid_to = Some(end),
                Some(t) if t != end => check.add(
                    r.line,
                    format!(
                        "valid_to {t} mâu thuẫn với việc kế thừa: {c} đã được kế thừa từ ngày {n}, nên kết thúc ngày {end} (valid_to {t} contradicts the succession: {c} was succeeded on {n}, so it ends on {end})",
                        c = r.code,
                        n = end + chrono::Duration::days(1)
                    ),
                ),
                Some(_) => {}
            }
            if let Some(f) = r.valid_from.filter(|f| *f > end) {
                check.add(
                    r.line,
                    format!(
                        "valid_from {f} sau ngày kết thúc {end} ({c} đã được kế thừa) (valid_from {f} is after {c}'s last day {end}: it was succeeded)",
                        c = r.code
                    ),
                );
            }
        }
        if let Some(&s) = starts.get(r.code.as_str())
            && let Some(f) = r.valid_from.filter(|f| *f > s)
        {
            check.add(
                r.line,
                format!(
                    "valid_from {f} sau ngày {c} bắt đầu kế thừa cơ quan khác ({s}) (valid_from {f} is after the day {c} took over from another agency, {s})",
                    c = r.code
                ),
            );
        }
    }
    Ok(())
}

/// Imports procedures (`code,name,field,level`); existing codes are updated.
pub fn import_procedures(conn: &mut DbConn, input: impl Read) -> Result<usize, ImportError> {
    let mut rows = CsvRows::open(input, &["code", "name", "field", "level"])?;
    let mut problems = Problems::default();
    let mut parsed = Vec::new();
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
        let Some(code) = Code::parse(row.get("code")) else {
            problems.add(
                line,
                format!(
                    "mã {c:?} không hợp lệ (invalid code {c:?})",
                    c = row.get("code")
                ),
            );
            continue;
        };
        if !seen.insert(code.clone()) {
            problems.add(
                line,
                format!("thủ tục {code} xuất hiện hai lần trong tệp (procedure {code} appears twice in the file)"),
            );
        }
        let (name, field) = (row.get("name"), row.get("field"));
        if name.is_empty() || name.chars().count() > 500 {
            problems.add(
                line,
                "tên phải có từ 1 đến 500 ký tự (the name must have 1 to 500 characters)",
            );
        }
        if field.is_empty() || field.chars().count() > 200 {
            problems.add(
                line,
                "lĩnh vực phải có từ 1 đến 200 ký tự (the field must have 1 to 200 characters)",
            );
        }
        let Some(level) = Level::parse(row.get("level")) else {
            problems.add(line, invalid_level(row.get("level")));
            continue;
        };
        parsed.push(NewProcedure {
            code: code.to_string(),
            name: name.to_owned(),
            field: field.to_owned(),
            level: level.as_str().to_owned(),
        });
    }
    problems.into_result()?;
    crate::db::write_transaction(conn, |conn| {
        for p in &parsed {
            queries::upsert_procedure(conn, p)?;
        }
        Ok::<_, ImportError>(parsed.len())
    })
}

/// Imports agency–procedure links (`agency_code,procedure_code`).
pub fn import_links(conn: &mut DbConn, input: impl Read) -> Result<usize, ImportError> {
    let mut rows = CsvRows::open(input, &["agency_code", "procedure_code"])?;
    let mut problems = Problems::default();
    let mut pairs = Vec::new();
    let agencies: HashMap<String, i64> = queries::all_agencies(conn)?
        .into_iter()
        .map(|a| (a.code, a.id))
        .collect();
    let procedures: HashMap<String, i64> = queries::all_procedures(conn)?
        .into_iter()
        .map(|p| (p.code, p.id))
        .collect();
    while let Some(row) = rows.next_row() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let (a, p) = (row.get("agency_code"), row.get("procedure_code"));
        match (agencies.get(a), procedures.get(p)) {
            (Some(a), Some(p)) => pairs.push((*a, *p)),
            (None, _) => problems.add(
                row.line,
                format!("không có cơ quan mã {a:?} (unknown agency_code {a:?})"),
            ),
            (_, None) => problems.add(
                row.line,
                format!("không có thủ tục mã {p:?} (unknown procedure_code {p:?})"),
            ),
        }
    }
    problems.into_result()?;
    crate::db::write_transaction(conn, |conn| {
        for (a, p) in &pairs {
            queries::link(conn, *a, *p)?;
        }
        Ok::<_, ImportError>(pairs.len())
    })
}
