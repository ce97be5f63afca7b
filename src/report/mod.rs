//! Reports: indicators and flags per agency (or per procedure, field, level, month) for a period,
//! computed from the daily counts. [`build`] is the one Rust API the command line and the web
//! layer use; the same data gives byte-identical JSON on every run and on both databases.

pub mod attention;
pub mod cache;
pub mod counts;
pub mod disclosure;
pub mod flags;
pub mod format;
pub mod indicators;
pub mod map;
pub mod numbers;
pub mod sheet;

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

use self::counts::{Counts, Dossiers};
use self::flags::{AgencyInput, Assessment, FlagSummary};
use self::indicators::{Factors, Index, Indicators, Share};
use self::map::{MapMode, UnitMap};
use crate::db::schema::{agencies, procedures, provinces};
use crate::db::{DbConn, PooledConn};
use crate::domain::Level;
use crate::stats::Severity;
use crate::stats::flagging::FlagPolicy;

/// Days of most recent responses the early-warning CUSUM looks at.
pub const EARLY_WARNING_DAYS: i64 = 90;

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    Agency,
    Procedure,
    Field,
    Level,
    Month,
    Channel,
    Province,
}

impl GroupBy {
    /// Every grouping, in the order the command line lists them.
    pub const ALL: [GroupBy; 7] = [
        GroupBy::Agency,
        GroupBy::Procedure,
        GroupBy::Field,
        GroupBy::Level,
        GroupBy::Month,
        GroupBy::Channel,
        GroupBy::Province,
    ];

    /// The grouping's name (`agency`, `month`…).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Agency => "agency",
            GroupBy::Procedure => "procedure",
            GroupBy::Field => "field",
            GroupBy::Level => "level",
            GroupBy::Month => "month",
            GroupBy::Channel => "channel",
            GroupBy::Province => "province",
        }
    }
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub province: Option<String>,
    pub level: Option<Level>,
    /// Only these agencies (an agency and those under it, for an agency page).
    pub agencies: Option<Vec<i64>>,
    pub group_by: GroupBy,
    /// For a period across a reorganisation: today's map (predecessors rolled up) or as it was.
    pub map: MapMode,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("không có tỉnh mã {0} (there is no province with code {0})")]
    UnknownProvince(String),
    #[error(
        "kỳ báo cáo kết thúc ({to}) trước khi bắt đầu ({from}) (the period ends before it starts)"
    )]
    Period { from: NaiveDate, to: NaiveDate },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// The reporting period.
#[derive(Debug, Clone, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A sentence in both languages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub vi: String,
    pub en: String,
}

/// One agency's row.
#[derive(Debug, Clone, Serialize)]
pub struct AgencyRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub province: String,
    pub responses: u64,
    pub dossiers: Option<u64>,
    pub response_rate: Option<f64>,
    pub sample_needed: Option<u64>,
    pub sample_adequate: Option<bool>,
    pub sipas: Index,
    pub factors: Factors,
    pub harassment: Assessment,
    pub repeat_visits: Assessment,
    pub money_hinted: u64,
    pub money_asked: u64,
    pub late: Share,
    pub notified: Share,
    pub apology: Share,
    pub late_without_apology: u64,
    pub decision_766: Share,
    pub comment_signals: u64,
    /// The most severe of the two flags.
    pub flag: Severity,
    /// True when something needs a reviewer's eyes even without a statistical flag: a citizen
    /// reported being asked for money, or comments matching the lexicon.
    pub review: bool,
    /// True when either problem's calibrated early warning signalled (shown apart from flags).
    pub early_warning: bool,
    pub reasons: Vec<Reason>,
    /// The agency's place in a reorganisation: whose history it includes (today's map) or whom
    /// it was merged into (as it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_note: Option<Reason>,
}

/// One row of a grouping other than by agency.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub key: String,
    pub label: String,
    #[serde(flatten)]
    pub indicators: Indicators,
}

/// A complete report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: Period,
    pub province: Option<String>,
    pub level: Option<String>,
    pub group_by: &'static str,
    /// The map agencies are reported on.
    pub map: MapMode,
    /// Everything selected, pooled over respondents.
    pub totals: Indicators,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agencies: Option<Vec<AgencyRow>>,
    /// By agency: how many alarms and alerts, and how many of them are expected to be false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<FlagSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRow>>,
}

/// An agency's (events, answers) per month of the early-warning window, in time order.
#[derive(Default)]
struct Recent {
    harassment: Vec<(u64, u64)>,
    repeat_visits: Vec<(u64, u64)>,
}

#[derive(Queryable)]
struct AgencyInfo {
    id: i64,
    code: String,
    name: String,
    level: String,
    province: String,
    province_id: i64,
    peer_group: Option<String>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// The id of the province `query` names, if it names one.
pub fn province_id(conn: &mut DbConn, query: &Query) -> Result<Option<i64>, ReportError> {
    match &query.province {
        Some(code) => Ok(Some(
            provinces::table
                .filter(provinces::code.eq(code))
                .select(provinces::id)
                .first::<i64>(conn)
                .optional()?
                .ok_or_else(|| ReportError::UnknownProvince(code.clone()))?,
        )),
        None => Ok(None),
    }
}

/// Builds the report for `query`.
pub fn build(conn: &mut DbConn, query: &Query) -> Result<Report, ReportError> {
    build_with(conn, || None, query)
}

/// Builds the report for `query`. A report by agency asks `spare` for a second connection (one
/// that is idle: `Database::spare_conn`) and reads its early-warning months there while `conn`
/// reads the period's counts: two queries of about the same time on a province
/// (docs/benchmarks.md). The connection goes back to the pool as soon as its query is done.
/// Without one, or if its thread cannot start or its query fails, `conn` reads them too. The
/// two read separately, as the statements on one connection do.
pub fn build_with(
    conn: &mut DbConn,
    spare: impl FnOnce() -> Option<PooledConn>,
    query: &Query,
) -> Result<Report, ReportError> {
    if query.to < query.from {
        return Err(ReportError::Period {
            from: query.from,
            to: query.to,
        });
    }
    let province_id = province_id(conn, query)?;
    let map = UnitMap::load(conn, query.map, crate::clock::today())?;
    if query.group_by != GroupBy::Agency {
        return build_from(conn, query, province_id, &map, None);
    }
    let Some(mut spare) = spare() else {
        return build_from(conn, query, province_id, &map, Some(Early::Read));
    };
    let map = &map;
    std::thread::scope(|scope| {
        let reading = std::thread::Builder::new()
            .name("report-early-warning".into())
            .spawn_scoped(scope, move || {
                read_recent(&mut spare, query, province_id, map)
            });
        let early = match reading {
            Ok(handle) => Early::Reading(handle),
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the early-warning months: reading them after the counts");
                Early::Read
            }
        };
        // The counts first: the early-warning months are waited for only once they are needed.
        build_from(conn, query, province_id, map, Some(early))
    })
}

/// Where a report by agency gets its early-warning months: read on its own connection when
/// needed, or being read on another thread.
enum Early<'scope> {
    Read,
    Reading(std::thread::ScopedJoinHandle<'scope, QueryResult<HashMap<i64, Recent>>>),
}

impl Early<'_> {
    fn get(
        self,
        conn: &mut DbConn,
        query: &Query,
        province_id: Option<i64>,
        map: &UnitMap,
    ) -> QueryResult<HashMap<i64, Recent>> {
        match self {
            Early::Read => read_recent(conn, query, province_id, map),
            Early::Reading(handle) => match handle.join() {
                Ok(Ok(recent)) => Ok(recent),
                // The second connection failed (it may have died while idle): read them here.
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading the early-warning months on a second connection failed: reading them again");
                    read_recent(conn, query, province_id, map)
                }
                // A panic there is a panic here, as it would have been on this thread.
                Err(panic) => std::panic::resume_unwind(panic),
            },
        }
    }
}

/// Each agency's (events, answers) per month of the early-warning window ending with the period.
fn read_recent(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    map: &UnitMap,
) -> QueryResult<HashMap<i64, Recent>> {
    let recent_from = query.to - Duration::days(EARLY_WARNING_DAYS - 1);
    let mut recent: HashMap<i64, Recent> = HashMap::new();
    for day in counts::recent_events(conn, query, province_id, recent_from, map)? {
        let entry = recent.entry(day.agency_id).or_default();
        let count = |k: i64, n: i64| (k.max(0) as u64, n.max(0) as u64);
        entry
            .harassment
            .push(count(day.harassment_k, day.harassment_n));
        entry.repeat_visits.push(count(day.repeat_k, day.repeat_n));
    }
    Ok(recent)
}

/// The report from the counts, with the early-warning months where it is by agency.
fn build_from(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    map: &UnitMap,
    early: Option<Early<'_>>,
) -> Result<Report, ReportError> {
    let grouped = counts::grouped(conn, query, province_id, map)?;
    let dossiers: HashMap<String, Dossiers> = counts::dossiers(conn, query, province_id, map)?
        .into_iter()
        .collect();
    let mut total = Counts::default();
    for (_, c) in &grouped {
        total.add(c);
    }
    let has_dossiers = matches!(
        query.group_by,
        GroupBy::Agency | GroupBy::Level | GroupBy::Month | GroupBy::Province
    );
    let totals = Indicators::from_counts(
        &total,
        has_dossiers.then(|| dossiers.values().copied().sum()),
    );
    let mut report = Report {
        period: Period {
            from: query.from,
            to: query.to,
        },
        province: query.province.clone(),
        level: query.level.map(|l| l.as_str().to_owned()),
        group_by: query.group_by.as_str(),
        map: query.map,
        totals,
        agencies: None,
        flags: None,
        groups: None,
    };
    if let Some(early) = early {
        let (rows, flags) = agency_rows(conn, query, province_id, grouped, &dossiers, map, early)?;
        report.agencies = Some(rows);
        report.flags = Some(flags);
    } else {
        report.groups = Some(group_rows(conn, query, grouped, &dossiers)?);
    }
    Ok(report)
}

fn agency_rows(
    conn: &mut DbConn,
    query: &Query,
    province_id: Option<i64>,
    grouped: Vec<(String, Counts)>,
    dossiers: &HashMap<String, Dossiers>,
    map: &UnitMap,
    early: Early<'_>,
) -> Result<(Vec<AgencyRow>, FlagSummary), ReportError> {
    let mut selected = agencies::table
        .inner_join(provinces::table)
        .select((
            agencies::id,
            agencies::code,
            agencies::name,
            agencies::level,
            provinces::code,
            provinces::id,
            agencies::peer_group,
            agencies::valid_from,
            agencies::valid_to,
        ))
        .order(agencies::code)
        .into_boxed();
    if let Some(p) = province_id {
        selected = selected.filter(agencies::province_id.eq(p));
    }
    if let Some(level) = query.level {
        selected = selected.filter(agencies::level.eq(level.as_str()));
    }
    if let Some(ids) = &query.agencies {
        selected = selected.filter(agencies::id.eq_any(ids.clone()));
    }
    let counts: HashMap<String, Counts> = grouped.into_iter().collect();
    // The agencies of the map the report is on: as it was, those that existed during the
    // period; on today's map, the units (with their predecessors' span). A unit with answers in
    // the period is always a row (answers dated outside its life span still add up to the
    // total).
    let list: Vec<AgencyInfo> = selected
        .load::<AgencyInfo>(conn)?
        .into_iter()
        .filter(|a| {
            map.is_unit(a.id)
                && (map.covers(a.id, (a.valid_from, a.valid_to), query.from, query.to)
                    || counts.contains_key(&a.id.to_string()))
        })
        .collect();
    // Baselines, priors and FDR families are per province.
    let mut by_province: BTreeMap<i64, Vec<&AgencyInfo>> = BTreeMap::new();
    for a in &list {
        by_province.entry(a.province_id).or_default().push(a);
    }
    let policy = FlagPolicy::default();
    // The flags first, from the shares alone: meanwhile the recent months are still being read.
    let no_months: [(u64, u64); 0] = [];
    let provinces: Vec<(&Vec<&AgencyInfo>, Vec<Indicators>, flags::Fitted)> = by_province
        .values()
        .map(|members| {
            let indicators: Vec<Indicators> = members
                .iter()
                .map(|a| {
                    let key = a.id.to_string();
                    let c = counts.get(&key).cloned().unwrap_or_default();
                    let d = dossiers.get(&key).copied().unwrap_or_default();
                    Indicators::from_counts(&c, Some(d))
                })
                .collect();
            let shares: Vec<AgencyInput<'_>> = members
                .iter()
                .zip(&indicators)
                .map(|(a, i)| agency_input(a, i, [&no_months, &no_months]))
                .collect();
            let fitted = flags::fit(&shares, &policy);
            (members, indicators, fitted)
        })
        .collect();
    let recent = early.get(conn, query, province_id, map)?;
    let empty = Recent::default();
    let mut rows = Vec::with_capacity(list.len());
    let mut summary = FlagSummary::default();
    for (members, indicators, fitted) in provinces {
        let inputs: Vec<AgencyInput<'_>> = members
            .iter()
            .zip(&indicators)
            .map(|(a, i)| {
                let series = recent.get(&a.id).unwrap_or(&empty);
                agency_input(a, i, [&series.harassment, &series.repeat_visits])
            })
            .collect();
        let (assessed, flags) = fitted.finish(&inputs);
        summary.add(&flags);
        for ((a, i), [h, r]) in members.iter().zip(indicators).zip(assessed) {
            let mut row = agency_row(a, i, h, r);
            row.map_note = map.note(a.id);
            rows.push(row);
        }
    }
    // Sorted by position (the rows are large: moving them while sorting cost more than the
    // comparisons).
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&rows[i], &rows[j]);
        b.flag
            .cmp(&a.flag)
            .then(b.review.cmp(&a.review))
            .then(a.code.cmp(&b.code))
    });
    let mut slots: Vec<Option<AgencyRow>> = rows.into_iter().map(Some).collect();
    let rows = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok((rows, summary))
}

/// What the flags read of an agency: its peers, its shares and its recent months.
fn agency_input<'a>(
    a: &'a AgencyInfo,
    i: &Indicators,
    recent: [&'a [(u64, u64)]; 2],
) -> AgencyInput<'a> {
    AgencyInput {
        level: Level::parse(&a.level),
        peer_group: a.peer_group.as_deref(),
        shares: [i.harassment, i.repeat_visits],
        recent,
    }
}

fn agency_row(
    a: &AgencyInfo,
    i: Indicators,
    harassment: Assessment,
    repeat: Assessment,
) -> AgencyRow {
    let mut reasons = Vec::new();
    for (label_vi, label_en, assessment) in [
        ("Phiền hà, sách nhiễu", "Harassment", &harassment),
        ("Đi lại nhiều lần", "Repeat visits", &repeat),
    ] {
        let (vi_flag, en_flag) = match assessment.flag {
            Severity::Alarm => ("BÁO ĐỘNG", "ALARM"),
            Severity::Alert => ("Cảnh báo", "Alert"),
            Severity::None => continue,
        };
        reasons.push(Reason {
            vi: format!("{vi_flag} – {label_vi}: {}", assessment.reason),
            en: format!("{en_flag} – {label_en}: {}", assessment.reason_en),
        });
    }
    if i.money_asked > 0 {
        reasons.push(Reason {
            vi: format!("{} người trả lời cho biết bị công chức yêu cầu chi thêm tiền, quà (cần xem xét từng trường hợp)", i.money_asked),
            en: format!("{} respondent(s) said an official asked for extra money or gifts (review each case)", i.money_asked),
        });
    }
    if i.comment_signals > 0 {
        reasons.push(Reason {
            vi: format!(
                "{} ý kiến có từ ngữ liên quan đến nhũng nhiễu, tiêu cực",
                i.comment_signals
            ),
            en: format!(
                "{} comment(s) use words associated with harassment or informal payment",
                i.comment_signals
            ),
        });
    }
    let flag = harassment.flag.max(repeat.flag);
    let review = flag != Severity::None || !reasons.is_empty();
    let early_warning = harassment.early_warning.signal || repeat.early_warning.signal;
    AgencyRow {
        code: a.code.clone(),
        name: a.name.clone(),
        level: a.level.clone(),
        province: a.province.clone(),
        responses: i.responses,
        dossiers: i.dossiers,
        response_rate: i.response_rate,
        sample_needed: i.sample_needed,
        sample_adequate: i.sample_adequate,
        sipas: i.sipas,
        factors: i.factors,
        harassment,
        repeat_visits: repeat,
        money_hinted: i.money_hinted,
        money_asked: i.money_asked,
        late: i.late,
        notified: i.notified,
        apology: i.apology,
        late_without_apology: i.late_without_apology,
        decision_766: i.decision_766,
        comment_signals: i.comment_signals,
        flag,
        review,
        early_warning,
        reasons,
        map_note: None,
    }
}

fn group_rows(
    conn: &mut DbConn,
    query: &Query,
    grouped: Vec<(String, Counts)>,
    dossiers: &HashMap<String, Dossiers>,
) -> Result<Vec<GroupRow>, ReportError> {
    let with_dossiers = matches!(
        query.group_by,
        GroupBy::Level | GroupBy::Month | GroupBy::Province
    );
    let province_names: HashMap<String, (String, String)> = provinces::table
        .select((provinces::id, provinces::code, provinces::name))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, name)| (id.to_string(), (code, name)))
        .collect();
    let procedure_names: HashMap<String, (String, String)> = if query.group_by == GroupBy::Procedure
    {
        procedures::table
            .select((procedures::id, procedures::code, procedures::name))
            .load::<(i64, String, String)>(conn)?
            .into_iter()
            .map(|(id, code, name)| (id.to_string(), (code, name)))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(grouped
        .into_iter()
        .map(|(key, c)| {
            let d = with_dossiers.then(|| dossiers.get(&key).copied().unwrap_or_default());
            let (key, label) = match query.group_by {
                GroupBy::Procedure => procedure_names
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (String::new(), "(không rõ thủ tục)".into())),
                GroupBy::Level => {
                    let label = Level::parse(&key)
                        .map(|l| l.label().to_owned())
                        .unwrap_or_else(|| key.clone());
                    (key, label)
                }
                GroupBy::Field if key.is_empty() => (key, "(không rõ lĩnh vực)".into()),
                GroupBy::Province => province_names
                    .get(&key)
                    .cloned()
                    .unwrap_or((key.clone(), key)),
                GroupBy::Channel => {
                    let label = match crate::domain::Channel::parse(&key) {
                        Some(crate::domain::Channel::Counter) => "Trực tiếp tại Bộ phận một cửa",
                        Some(crate::domain::Channel::Online) => "Trực tuyến",
                        Some(crate::domain::Channel::Postal) => "Bưu chính công ích",
                        Some(crate::domain::Channel::WalkIn) => "Phiếu tại quầy (không xác thực)",
                        Some(crate::domain::Channel::Paper) => "Phiếu giấy, nguồn khác",
                        None => "(không rõ)",
                    };
                    (key, label.to_owned())
                }
                _ => (key.clone(), key),
            };
            GroupRow {
                label,
                indicators: Indicators::from_counts(&c, d),
                key,
            }
        })
        .collect())
}
