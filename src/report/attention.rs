//! Which agencies need the reform office's attention, most severe first — an alarm, then a
//! citizen saying an official asked for money, then an alert, then comments worth reading — each
//! with one short plain-language reason; and the early warnings, kept apart. Pure: from the
//! rows of a report by agency.

use std::cmp::Ordering;

use super::numbers::percent;
use super::{AgencyRow, Reason};
use crate::domain::Lang;
use crate::report::flags::Assessment;
use crate::stats::Severity;

/// How urgent an agency is, most urgent first (the derived order is the watch list's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// A harassment or repeat-visit alarm.
    Alarm,
    /// At least one citizen said an official asked for money or gifts.
    MoneyAsked,
    /// A harassment or repeat-visit alert.
    Alert,
    /// Comments matching the harassment lexicon, nothing else.
    Comments,
}

impl Tier {
    /// The badge text.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Tier::Alarm => lang.pick("Báo động", "Alarm"),
            Tier::MoneyAsked => lang.pick("Bị đòi tiền", "Money asked"),
            Tier::Alert => lang.pick("Cảnh báo", "Alert"),
            Tier::Comments => lang.pick("Cần xem xét", "Review"),
        }
    }

    /// The tier's name in URLs and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Alarm => "alarm",
            Tier::MoneyAsked => "money",
            Tier::Alert => "alert",
            Tier::Comments => "review",
        }
    }
}

/// One agency on the watch list.
#[derive(Debug, Clone)]
pub struct Attention<'a> {
    pub row: &'a AgencyRow,
    /// Its most urgent concern.
    pub tier: Tier,
    /// That concern in one sentence.
    pub reason: Reason,
    /// How many other concerns the agency has (shown on its page).
    pub more: usize,
}

/// One agency whose reports are rising above its own usual rate, not (yet) flagged.
#[derive(Debug, Clone)]
pub struct Rising<'a> {
    pub row: &'a AgencyRow,
    pub reason: Reason,
}

/// The agency's tier, or `None` when nothing needs attention.
pub fn tier(row: &AgencyRow) -> Option<Tier> {
    concerns(row).first().map(|(tier, _)| *tier)
}

/// Every agency that needs attention, most urgent first: by tier, then within a tier by how
/// many more citizens reported the problem than its peers' usual rate would give (alarms and
/// alerts), by the number of money reports, or by the number of comments; then by code.
pub fn watch_list(rows: &[AgencyRow]) -> Vec<Attention<'_>> {
    let mut list: Vec<(Attention<'_>, f64)> = rows
        .iter()
        .filter_map(|row| {
            let mut all = concerns(row);
            let more = all.len().checked_sub(1)?;
            let (tier, reason) = all.swap_remove(0);
            Some((
                Attention {
                    row,
                    tier,
                    reason,
                    more,
                },
                weight(row, tier),
            ))
        })
        .collect();
    list.sort_by(|(a, wa), (b, wb)| {
        a.tier
            .cmp(&b.tier)
            .then(wb.partial_cmp(wa).unwrap_or(Ordering::Equal))
            .then_with(|| a.row.code.cmp(&b.row.code))
    });
    list.into_iter().map(|(a, _)| a).collect()
}

/// The agencies whose early warning signalled and that are not on the watch list, the
/// strongest signal (its statistic over its own limit) first.
pub fn early_warnings(rows: &[AgencyRow]) -> Vec<Rising<'_>> {
    let mut list: Vec<(Rising<'_>, f64)> = rows
        .iter()
        .filter(|row| row.early_warning && tier(row).is_none())
        .map(|row| {
            let rising: Vec<(&Assessment, &str, &str)> = [
                (
                    &row.harassment,
                    "phản ánh phiền hà, sách nhiễu",
                    "harassment reports",
                ),
                (
                    &row.repeat_visits,
                    "phản ánh phải đi lại nhiều lần",
                    "reports of repeated visits",
                ),
            ]
            .into_iter()
            .filter(|(a, _, _)| a.early_warning.signal)
            .collect();
            let strength = rising
                .iter()
                .filter_map(|(a, _, _)| {
                    let w = a.early_warning;
                    Some(w.statistic? / w.limit.filter(|l| *l > 0.0)?)
                })
                .fold(0.0, f64::max);
            let (vi, en): (Vec<&str>, Vec<&str>) =
                rising.iter().map(|(_, vi, en)| (*vi, *en)).unzip();
            let reason = Reason {
                vi: format!(
                    "{} tăng rõ trong 90 ngày gần nhất so với mức thường của chính cơ quan",
                    capitalised(&vi.join(" và "))
                ),
                en: format!(
                    "{} rose clearly above the agency's own usual rate over the last 90 days",
                    capitalised(&en.join(" and "))
                ),
            };
            (Rising { row, reason }, strength)
        })
        .collect();
    list.sort_by(|(a, sa), (b, sb)| {
        sb.partial_cmp(sa)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.row.code.cmp(&b.row.code))
    });
    list.into_iter().map(|(r, _)| r).collect()
}

/// The agency's concerns, most urgent first, each in one sentence.
fn concerns(row: &AgencyRow) -> Vec<(Tier, Reason)> {
    let problems = [
        (&row.harassment, "Phiền hà, sách nhiễu", "Harassment"),
        (&row.repeat_visits, "Đi lại nhiều lần", "Repeated visits"),
    ];
    let mut out = Vec::new();
    for (severity, tier) in [
        (Severity::Alarm, Tier::Alarm),
        (Severity::Alert, Tier::Alert),
    ] {
        if tier == Tier::Alert && row.money_asked > 0 {
            out.push((Tier::MoneyAsked, money(row.money_asked)));
        }
        for (a, vi, en) in problems {
            if a.flag == severity {
                out.push((tier, flagged(a, vi, en)));
            }
        }
    }
    if row.comment_signals > 0 {
        out.push((
            Tier::Comments,
            Reason {
                vi: format!(
                    "{} ý kiến có từ ngữ liên quan đến nhũng nhiễu, tiêu cực",
                    row.comment_signals
                ),
                en: format!(
                    "{} comment(s) use words associated with harassment or informal payment",
                    row.comment_signals
                ),
            },
        ));
    }
    out
}

/// "Phiền hà, sách nhiễu: 31,1% người trả lời phản ánh (56/180); mức thường của nhóm 4,2%".
fn flagged(a: &Assessment, vi: &str, en: &str) -> Reason {
    let rate = |lang| a.rate.map(|r| percent(r, lang)).unwrap_or_default();
    let baseline = |lang| a.baseline.map(|b| percent(b, lang));
    Reason {
        vi: format!(
            "{vi}: {} người trả lời phản ánh ({}/{}){}",
            rate(Lang::Vi),
            a.count,
            a.n,
            baseline(Lang::Vi)
                .map(|b| format!("; mức thường của nhóm {b}"))
                .unwrap_or_default()
        ),
        en: format!(
            "{en}: {} of respondents reported it ({}/{}){}",
            rate(Lang::En),
            a.count,
            a.n,
            baseline(Lang::En)
                .map(|b| format!("; peers' usual rate {b}"))
                .unwrap_or_default()
        ),
    }
}

fn money(asked: u64) -> Reason {
    Reason {
        vi: format!("{asked} người trả lời cho biết bị công chức yêu cầu chi thêm tiền, quà"),
        en: format!("{asked} respondent(s) said an official asked for extra money or gifts"),
    }
}

/// How urgent within its tier: citizens reporting the flagged problem beyond the peers' usual
/// rate (alarms, alerts), money reports, or comments.
fn weight(row: &AgencyRow, tier: Tier) -> f64 {
    let excess = |severity: Severity| {
        [&row.harassment, &row.repeat_visits]
            .into_iter()
            .filter(|a| a.flag == severity)
            .map(|a| a.count as f64 - a.n as f64 * a.baseline.unwrap_or(0.0))
            .fold(f64::MIN, f64::max)
    };
    match tier {
        Tier::Alarm => excess(Severity::Alarm),
        Tier::Alert => excess(Severity::Alert),
        Tier::MoneyAsked => row.money_asked as f64,
        Tier::Comments => row.comment_signals as f64,
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::report::counts::Counts;
    use crate::report::indicators::Indicators;

    fn assessment() -> Assessment {
        Assessment {
            count: 5,
            n: 100,
            rate: Some(0.05),
            ci_low: None,
            ci_high: None,
            baseline: Some(0.04),
            peers: String::new(),
            peers_en: String::new(),
            province_rate: Some(0.04),
            posterior_mean: None,
            problem_probability: None,
            p_value: None,
            q_value: None,
            flag: Severity::None,
            reason: String::new(),
            reason_en: String::new(),
            details: String::new(),
            details_en: String::new(),
            early_warning: crate::report::flags::EarlyWarning {
                statistic: None,
                limit: None,
                signal: false,
            },
        }
    }

    /// An unflagged agency with 100 responses.
    fn row(code: &str) -> AgencyRow {
        let i = Indicators::from_counts(&Counts::default(), None);
        AgencyRow {
            code: code.into(),
            name: code.into(),
            level: "xa".into(),
            province: "TT".into(),
            responses: 100,
            dossiers: None,
            response_rate: None,
            sample_needed: None,
            sample_adequate: None,
            sipas: i.sipas,
            factors: i.factors,
            harassment: assessment(),
            repeat_visits: assessment(),
            money_hinted: 0,
            money_asked: 0,
            late: i.late,
            notified: i.notified,
            apology: i.apology,
            late_without_apology: 0,
            decision_766: i.decision_766,
            comment_signals: 0,
            flag: Severity::None,
            review: false,
            early_warning: false,
            reasons: Vec::new(),
            map_note: None,
        }
    }

    fn flag(mut r: AgencyRow, severity: Severity, count: u64) -> AgencyRow {
        r.harassment.flag = severity;
        r.harassment.count = count;
        r.harassment.rate = Some(count as f64 / 100.0);
        r.flag = severity;
        r
    }

    #[test]
    fn alarms_then_money_then_alerts_then_comments() {
        let mut money = row("M");
        money.money_asked = 2;
        let mut comments = row("C");
        comments.comment_signals = 3;
        let mut both = flag(row("B"), Severity::Alert, 20);
        both.money_asked = 1;
        let rows = vec![
            row("OK"),
            comments,
            flag(row("A1"), Severity::Alert, 15),
            money,
            flag(row("X1"), Severity::Alarm, 20),
            flag(row("X2"), Severity::Alarm, 40),
            both,
        ];
        let list = watch_list(&rows);
        let order: Vec<(&str, Tier)> = list.iter().map(|a| (a.row.code.as_str(), a.tier)).collect();
        assert_eq!(
            order,
            [
                ("X2", Tier::Alarm),
                ("X1", Tier::Alarm),
                ("M", Tier::MoneyAsked),
                ("B", Tier::MoneyAsked),
                ("A1", Tier::Alert),
                ("C", Tier::Comments),
            ]
        );
        assert_eq!(list[3].more, 1, "B also has an alert");
        assert_eq!(
            list[0].reason.vi,
            "Phiền hà, sách nhiễu: 40% người trả lời phản ánh (40/100); mức thường của nhóm 4%"
        );
        assert_eq!(
            list[0].reason.en,
            "Harassment: 40% of respondents reported it (40/100); peers' usual rate 4%"
        );
        assert!(list[2].reason.vi.starts_with("2 người trả lời"));
    }

    #[test]
    fn early_warnings_exclude_the_watch_list() {
        let mut rising = row("R");
        rising.early_warning = true;
        rising.repeat_visits.early_warning.signal = true;
        let mut flagged = flag(row("F"), Severity::Alarm, 30);
        flagged.early_warning = true;
        let rows = vec![rising, flagged];
        let list = early_warnings(&rows);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].row.code, "R");
        assert!(
            list[0]
                .reason
                .vi
                .starts_with("Phản ánh phải đi lại nhiều lần tăng rõ"),
            "{}",
            list[0].reason.vi
        );
    }
}
