//! Agency flags for harassment and repeat visits, with their plain-language reasons (docs/
//! statistics.md): each agency is compared with its peers (province × level, partially pooled
//! toward the province) by a two-component beta-binomial mixture, and alarms and alerts are the
//! largest sets within a false-discovery budget across the province ([`crate::stats::flagging`]).
//! The exact one-sided p-value against the peer baseline and its Benjamini–Hochberg q-value are
//! supporting numbers. The early warning is a Bernoulli CUSUM over the last months whose limit is
//! calibrated to the agency's own volume and rate. Pure: no database.

use std::fmt::Write;

use serde::Serialize;

use super::indicators::{DISPLAY_MINIMUM, Share};
use super::numbers::{push_fixed, push_percent, push_probability};
use crate::domain::{Lang, Level};
use crate::stats::Severity;
use crate::stats::flagging::{
    FlagInput, FlagPolicy, INDICATORS, ProvinceFlags, flag_province, per_indicator,
};
use crate::stats::mixture::Observation;
use crate::stats::monitor::{EARLY_WARNING_YEARS, LatticeCusum, in_control_rate};
use crate::stats::testing::{benjamini_hochberg, binomial_upper_p_value};

/// Which problem a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Harassment,
    RepeatVisits,
}

impl Problem {
    /// Both problems, in the order of [`INDICATORS`].
    pub const ALL: [Problem; INDICATORS] = [Problem::Harassment, Problem::RepeatVisits];

    fn phrase(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Problem::Harassment, Lang::Vi) => {
                "phản ánh bị gây phiền hà, sách nhiễu hoặc gợi ý chi thêm tiền"
            }
            (Problem::Harassment, Lang::En) => "reported harassment or hints at extra payments",
            (Problem::RepeatVisits, Lang::Vi) => "phản ánh phải đi lại nhiều lần",
            (Problem::RepeatVisits, Lang::En) => "reported having to come back several times",
        }
    }
}

/// The peer group an agency is compared within (of its province): its own `peer_group` when
/// the catalog gives one, else its level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peers<'a> {
    Named(&'a str),
    Level(Option<Level>),
}

impl Peers<'_> {
    /// Who the peers are, in both languages.
    fn name(&self) -> (String, String) {
        match self {
            Peers::Named(group) => (
                format!("nhóm \u{201c}{group}\u{201d} của tỉnh"),
                format!("the province's \u{201c}{group}\u{201d} group"),
            ),
            Peers::Level(Some(Level::Tinh)) => (
                "các sở, ban, ngành cấp tỉnh của tỉnh".into(),
                "the province's departments".into(),
            ),
            Peers::Level(Some(Level::Huyen)) => (
                "các UBND cấp huyện của tỉnh".into(),
                "the province's districts".into(),
            ),
            Peers::Level(Some(Level::Xa)) => (
                "các UBND cấp xã của tỉnh".into(),
                "the province's communes".into(),
            ),
            Peers::Level(None) => (
                "các cơ quan khác của tỉnh".into(),
                "the province's other agencies".into(),
            ),
        }
    }
}

/// The early-warning CUSUM of one agency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EarlyWarning {
    /// The statistic after the most recent response, in log-likelihood-ratio units (null
    /// without a usable baseline).
    pub statistic: Option<f64>,
    /// The agency's own decision limit (same units).
    pub limit: Option<f64>,
    /// True when the statistic reached the limit within the window.
    pub signal: bool,
}

/// One agency's standing on one problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub count: u64,
    pub n: u64,
    pub rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// The peers' normal rate: the baseline the agency is compared with.
    pub baseline: Option<f64>,
    /// Who the peers are ("các UBND cấp xã của tỉnh").
    pub peers: String,
    pub peers_en: String,
    /// The province's pooled rate over the period (the funnel plots' centre line).
    pub province_rate: Option<f64>,
    /// The agency's own normal rate after shrinkage to its peers.
    pub posterior_mean: Option<f64>,
    /// The probability that the agency's rate is elevated (1 − local false discovery rate).
    pub problem_probability: Option<f64>,
    /// Exact one-sided binomial p-value against the peer baseline.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value across the province's agencies.
    pub q_value: Option<f64>,
    pub flag: Severity,
    /// What was seen, against whom, and how sure we are, in ordinary words.
    pub reason: String,
    pub reason_en: String,
    /// How it was computed (the model's numbers), for the "how this was computed" disclosure.
    pub details: String,
    pub details_en: String,
    pub early_warning: EarlyWarning,
}

impl Assessment {
    /// The count and its share, for display.
    pub fn share(&self) -> Share {
        Share::of(self.count as i64, self.n as i64)
    }
}

/// One agency's input: its level, its shares over the period and its recent (events, answers)
/// batches per problem, in time order.
pub struct AgencyInput<'a> {
    pub level: Option<Level>,
    /// The catalog's peer group, if any (else the level decides).
    pub peer_group: Option<&'a str>,
    pub shares: [Share; INDICATORS],
    pub recent: [&'a [(u64, u64)]; INDICATORS],
}

/// The flags of a province and what they cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlagSummary {
    pub alarms: usize,
    pub alerts: usize,
    /// How many of the alarms are expected to be false (the sum of their lfdr).
    pub expected_false_alarms: f64,
    pub expected_false_alerts: f64,
}

impl FlagSummary {
    /// "2 báo động (dự kiến nhầm: 0,1), 3 cảnh báo (dự kiến nhầm: 0,6)": the flags and how many
    /// of them are expected to be false.
    pub fn statement(&self, lang: Lang) -> String {
        let expected = |x: f64| match lang {
            Lang::Vi => format!("{x:.1}").replace('.', ","),
            Lang::En => format!("{x:.1}"),
        };
        match lang {
            Lang::Vi => format!(
                "{} báo động (dự kiến nhầm: {}), {} cảnh báo (dự kiến nhầm: {})",
                self.alarms,
                expected(self.expected_false_alarms),
                self.alerts,
                expected(self.expected_false_alerts)
            ),
            Lang::En => format!(
                "{} alarms (expected false: {}), {} alerts (expected false: {})",
                self.alarms,
                expected(self.expected_false_alarms),
                self.alerts,
                expected(self.expected_false_alerts)
            ),
        }
    }

    /// Adds another province's flags.
    pub fn add(&mut self, other: &FlagSummary) {
        self.alarms += other.alarms;
        self.alerts += other.alerts;
        self.expected_false_alarms += other.expected_false_alarms;
        self.expected_false_alerts += other.expected_false_alerts;
    }
}

/// Assesses every agency of one province (inputs in a fixed order, e.g. by code, so that the
/// result is reproducible to the bit): per agency, one assessment per problem.
pub fn assess(
    agencies: &[AgencyInput<'_>],
    policy: &FlagPolicy,
) -> (Vec<[Assessment; INDICATORS]>, FlagSummary) {
    fit(agencies, policy).finish(agencies)
}

/// A province's flags decided from the agencies' shares, before their recent months are read.
pub struct Fitted {
    /// Each agency's peer group as a number, and its counts.
    inputs: Vec<FlagInput>,
    /// Each agency's peer group as the texts name it.
    names: Vec<(String, String)>,
    flags: ProvinceFlags,
}

/// The peer mixtures and flags of one province from the agencies' shares (their `recent` is not
/// read): the longest part of [`assess`], which a report runs while it reads the recent months.
pub fn fit(agencies: &[AgencyInput<'_>], policy: &FlagPolicy) -> Fitted {
    let peers: Vec<Peers<'_>> = agencies
        .iter()
        .map(|a| match a.peer_group {
            Some(group) => Peers::Named(group),
            None => Peers::Level(a.level),
        })
        .collect();
    // Group indices in a fixed order (the groups sorted), so results do not depend on hashing.
    let mut groups: Vec<&Peers<'_>> = peers.iter().collect();
    groups.sort();
    groups.dedup();
    let inputs: Vec<FlagInput> = agencies
        .iter()
        .zip(&peers)
        .map(|(a, p)| FlagInput {
            group: groups.iter().position(|g| *g == p).unwrap_or(0),
            counts: std::array::from_fn(|ind| (a.shares[ind].count, a.shares[ind].n)),
        })
        .collect();
    let flags = flag_province(&inputs, groups.len(), policy);
    let names: Vec<(String, String)> = peers.iter().map(Peers::name).collect();
    Fitted {
        inputs,
        names,
        flags,
    }
}

impl Fitted {
    /// Every agency's assessments, with its early warning from its `recent` months: `agencies`
    /// are those the fit was made from, in the same order, recent months added.
    pub fn finish(
        self,
        agencies: &[AgencyInput<'_>],
    ) -> (Vec<[Assessment; INDICATORS]>, FlagSummary) {
        let Fitted {
            inputs,
            names,
            flags,
        } = self;
        debug_assert_eq!(agencies.len(), inputs.len(), "the agencies of the fit");
        let summary = FlagSummary {
            alarms: flags.alarms,
            alerts: flags.alerts,
            expected_false_alarms: flags.expected_false_alarms,
            expected_false_alerts: flags.expected_false_alerts,
        };
        // The problems are independent: each on a thread of its own, as their fits.
        let per_problem: [Vec<Assessment>; INDICATORS] =
            per_indicator(|ind| assess_problem(ind, agencies, &inputs, &names, &flags));
        let mut columns = per_problem.map(Vec::into_iter);
        let rows = agencies
            .iter()
            .map(|_| {
                std::array::from_fn(|ind| {
                    columns[ind]
                        .next()
                        .unwrap_or_else(|| empty_assessment(Problem::ALL[ind]))
                })
            })
            .collect();
        (rows, summary)
    }
}

fn empty_assessment(problem: Problem) -> Assessment {
    explained(
        problem,
        Assessment {
            count: 0,
            n: 0,
            rate: None,
            ci_low: None,
            ci_high: None,
            baseline: None,
            peers: String::new(),
            peers_en: String::new(),
            province_rate: None,
            posterior_mean: None,
            problem_probability: None,
            p_value: None,
            q_value: None,
            flag: Severity::None,
            reason: String::new(),
            reason_en: String::new(),
            details: String::new(),
            details_en: String::new(),
            early_warning: EarlyWarning {
                statistic: None,
                limit: None,
                signal: false,
            },
        },
        None,
    )
}

fn assess_problem(
    ind: usize,
    agencies: &[AgencyInput<'_>],
    inputs: &[FlagInput],
    peer_names: &[(String, String)],
    flags: &ProvinceFlags,
) -> Vec<Assessment> {
    let problem = Problem::ALL[ind];
    let fit = flags.fits[ind].as_ref();
    let (events, answers) = agencies.iter().fold((0u64, 0u64), |(k, n), a| {
        (k + a.shares[ind].count, n + a.shares[ind].n)
    });
    let province_rate = (answers > 0).then(|| events as f64 / answers as f64);
    // Without a fit (no events anywhere, or only events) the peers' rate is the province's.
    let baseline_of = |i: usize| fit.map(|f| f.peer_mean(inputs[i].group)).or(province_rate);
    let p_values: Vec<Option<f64>> = agencies
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let b = baseline_of(i)?;
            let s = a.shares[ind];
            (s.n > 0)
                .then(|| binomial_upper_p_value(s.count, s.n, b))
                .flatten()
        })
        .collect();
    let tested: Vec<f64> = p_values.iter().flatten().copied().collect();
    let mut q_values = benjamini_hochberg(&tested).into_iter();
    agencies
        .iter()
        .zip(&flags.decisions)
        .enumerate()
        .map(|(i, (a, decision))| {
            let share = a.shares[ind];
            let q_value = p_values[i].and_then(|_| q_values.next());
            let observation = Observation {
                k: share.count,
                n: share.n,
                group: inputs[i].group,
            };
            let own_rate = fit
                .filter(|_| share.n > 0)
                .map(|f| f.own_normal_rate(&observation));
            let (peers, peers_en) = peer_names[i].clone();
            let assessment = Assessment {
                count: share.count,
                n: share.n,
                rate: share.rate,
                ci_low: share.ci_low,
                ci_high: share.ci_high,
                baseline: baseline_of(i),
                peers,
                peers_en,
                province_rate,
                posterior_mean: own_rate,
                problem_probability: (fit.is_some() && share.n > 0)
                    .then(|| 1.0 - decision.lfdr[ind]),
                p_value: p_values[i],
                q_value,
                flag: decision.severity[ind],
                reason: String::new(),
                reason_en: String::new(),
                details: String::new(),
                details_en: String::new(),
                early_warning: early_warning(
                    fit.filter(|_| share.n > 0).map(|f| {
                        let (alpha, beta) = f.own_normal_posterior(&observation);
                        in_control_rate(alpha, beta)
                    }),
                    share.n,
                    a.recent[ind],
                ),
            };
            explained(problem, assessment, fit.map(|f| f.concentration))
        })
        .collect()
}

/// The CUSUM over the recent responses, given as (events, answers) batches in time order, against
/// the agency's own normal rate (`in_control`, see [`in_control_rate`]), with a limit that gives one false signal per
/// [`EARLY_WARNING_YEARS`] of its volume (`per_year` answers in the period). Within a batch the
/// order is not stored: events are spread evenly through it.
fn early_warning(in_control: Option<f64>, per_year: u64, batches: &[(u64, u64)]) -> EarlyWarning {
    let none = EarlyWarning {
        statistic: None,
        limit: None,
        signal: false,
    };
    let answers: u64 = batches.iter().map(|(_, n)| n).sum();
    let Some(chart) = in_control
        .filter(|_| answers > 0)
        .and_then(|p0| LatticeCusum::calibrated(p0, EARLY_WARNING_YEARS * per_year.max(1) as f64))
    else {
        return none;
    };
    let events = batches.iter().flat_map(|&(k, n)| {
        let k = k.min(n);
        // Event j of k falls at position ⌊(j + ½)·n/k⌋.
        (0..n).map(move |t| k > 0 && ((t + 1) * k / n) > (t * k / n))
    });
    let (statistic, signal) = chart.run(events);
    EarlyWarning {
        statistic: Some(statistic),
        limit: Some(chart.limit_llr()),
        signal,
    }
}

/// How sure the flag is, in ordinary words.
fn certainty(probability: f64, lang: Lang) -> &'static str {
    match lang {
        Lang::Vi if probability >= 0.99 => "Khó có thể do ngẫu nhiên.",
        Lang::Vi if probability >= 0.95 => "Rất ít khả năng do ngẫu nhiên.",
        Lang::Vi if probability >= 0.80 => "Có thể không do ngẫu nhiên; cần theo dõi thêm.",
        Lang::Vi => "Chưa đủ cơ sở để kết luận là khác thường.",
        Lang::En if probability >= 0.99 => "Very unlikely to be chance.",
        Lang::En if probability >= 0.95 => "Unlikely to be chance.",
        Lang::En if probability >= 0.80 => "Possibly not chance; worth watching.",
        Lang::En => "Not enough evidence that it is unusual.",
    }
}

/// Fills in the reason ("32 trên 100 người trả lời (32%) phản ánh bị gây phiền hà…, so với
/// khoảng 4 trên 100 ở các UBND cấp xã của tỉnh. Khó có thể do ngẫu nhiên.") and the details.
fn explained(problem: Problem, mut a: Assessment, concentration: Option<f64>) -> Assessment {
    if a.n == 0 {
        a.reason = "Chưa có phản hồi trong kỳ".into();
        a.reason_en = "No responses in the period".into();
        return a;
    }
    // Each text is written into one string: a province report writes four per agency and
    // problem, and building them from many small strings was most of the report's own time.
    let sentence = |lang: Lang| {
        let mut s = String::with_capacity(256);
        let _ = match lang {
            Lang::Vi => write!(s, "{} trên {} người trả lời", a.count, a.n),
            Lang::En => write!(s, "{} of {} respondents", a.count, a.n),
        };
        if let Some(rate) = a.rate.filter(|_| a.n >= DISPLAY_MINIMUM) {
            s.push_str(" (");
            push_percent(&mut s, rate, lang);
            s.push(')');
        }
        s.push(' ');
        s.push_str(problem.phrase(lang));
        if let Some(b) = a.baseline {
            let peers = lang.pick(&a.peers, &a.peers_en);
            let per_hundred = (b * 100.0).round();
            s.push_str(lang.pick(", so với khoảng ", ", against about "));
            push_fixed(&mut s, per_hundred, 0);
            s.push_str(lang.pick(" trên 100 ở ", " in 100 at "));
            s.push_str(peers);
        }
        s.push('.');
        if a.n < DISPLAY_MINIMUM {
            s.push_str(lang.pick(" Chưa đủ dữ liệu.", " Not enough data."));
        } else if let Some(p) = a.problem_probability {
            s.push(' ');
            s.push_str(certainty(p, lang));
        }
        s
    };
    let details = |lang: Lang| {
        let mut s = String::with_capacity(256);
        let separate = |s: &mut String| {
            if !s.is_empty() {
                s.push_str("; ");
            }
        };
        if let (Some(lo), Some(hi)) = (a.ci_low, a.ci_high) {
            s.push_str(lang.pick("KTC 95%: ", "95% CI: "));
            push_percent(&mut s, lo, lang);
            s.pop();
            s.push('–');
            push_percent(&mut s, hi, lang);
        }
        if let Some(b) = a.baseline {
            separate(&mut s);
            s.push_str(lang.pick("mức bình thường của nhóm so sánh ", "peer baseline "));
            push_percent(&mut s, b, lang);
        }
        if let Some(c) = concentration {
            separate(&mut s);
            s.push_str(lang.pick(
                "độ phân tán tự nhiên giữa các cơ quan φ = ",
                "natural spread between agencies φ = ",
            ));
            push_fixed(&mut s, c, 0);
        }
        if let Some(p) = a.problem_probability {
            separate(&mut s);
            s.push_str(lang.pick(
                "xác suất tỷ lệ cao bất thường ",
                "probability of an elevated rate ",
            ));
            push_probability(&mut s, p, lang);
        }
        if let Some(p) = a.p_value {
            separate(&mut s);
            s.push_str("p = ");
            push_probability(&mut s, p, lang);
        }
        if let Some(q) = a.q_value {
            separate(&mut s);
            s.push_str("q (BH) = ");
            push_probability(&mut s, q, lang);
        }
        s
    };
    a.reason = sentence(Lang::Vi);
    a.reason_en = sentence(Lang::En);
    a.details = details(Lang::Vi);
    a.details_en = details(Lang::En);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(k: i64, n: i64) -> Share {
        Share::of(k, n)
    }

    /// 60 communes at about 4% harassment and 9% repeat visits, one commune far above on each,
    /// and one department.
    fn province() -> Vec<(Option<Level>, [Share; 2])> {
        let mut list: Vec<(Option<Level>, [Share; 2])> = (0..60)
            .map(|i| {
                (
                    Some(Level::Xa),
                    [share(4 + i % 5, 120), share(9 + i % 4, 120)],
                )
            })
            .collect();
        list.push((Some(Level::Xa), [share(38, 120), share(10, 120)]));
        list.push((Some(Level::Xa), [share(5, 120), share(50, 120)]));
        list.push((Some(Level::Tinh), [share(2, 40), share(3, 40)]));
        list
    }

    fn run(list: &[(Option<Level>, [Share; 2])]) -> (Vec<[Assessment; 2]>, FlagSummary) {
        let empty: [(u64, u64); 0] = [];
        let inputs: Vec<AgencyInput<'_>> = list
            .iter()
            .map(|(level, shares)| AgencyInput {
                level: *level,
                peer_group: None,
                shares: *shares,
                recent: [&empty, &empty],
            })
            .collect();
        assess(&inputs, &FlagPolicy::default())
    }

    #[test]
    fn outliers_are_alarms_explained_against_their_peers() {
        let (rows, summary) = run(&province());
        assert_eq!(rows[60][0].flag, Severity::Alarm);
        assert_eq!(rows[61][1].flag, Severity::Alarm);
        assert!(
            rows[..60]
                .iter()
                .all(|r| r.iter().all(|a| a.flag == Severity::None))
        );
        assert_eq!(summary.alarms, 2);
        assert!(summary.expected_false_alarms < 0.1);
        let reason = &rows[60][0].reason;
        assert!(
            reason.starts_with("38 trên 120 người trả lời (31,7%) phản ánh bị gây phiền hà"),
            "{reason}"
        );
        assert!(
            reason.contains(
                "so với khoảng 5 trên 100 ở các UBND cấp xã của tỉnh. Khó có thể do ngẫu nhiên."
            ),
            "{reason}"
        );
        assert!(
            rows[60][0]
                .reason_en
                .contains("at the province's communes. Very unlikely to be chance.")
        );
        assert!(
            rows[60][0]
                .details
                .contains("xác suất tỷ lệ cao bất thường")
        );
        assert!(rows[60][0].problem_probability.is_some_and(|p| p > 0.99));
    }

    #[test]
    fn named_peer_groups_replace_the_level() {
        // Departments in two fields with very different normal rates: 2% and 12%.
        let mut list = Vec::new();
        let mut groups = Vec::new();
        for i in 0..40 {
            let (group, k) = if i < 20 {
                ("Đất đai", 24)
            } else {
                ("Tư pháp", 4)
            };
            list.push((Some(Level::Tinh), [share(k + i % 3, 200), share(10, 200)]));
            groups.push(group);
        }
        let empty: [(u64, u64); 0] = [];
        let inputs: Vec<AgencyInput<'_>> = list
            .iter()
            .zip(&groups)
            .map(|((level, shares), group)| AgencyInput {
                level: *level,
                peer_group: Some(group),
                shares: *shares,
                recent: [&empty, &empty],
            })
            .collect();
        let (rows, summary) = assess(&inputs, &FlagPolicy::default());
        assert_eq!(
            summary.alarms + summary.alerts,
            0,
            "no field is flagged as a whole"
        );
        assert_eq!(rows[0][0].peers, "nhóm \u{201c}Đất đai\u{201d} của tỉnh");
        assert!(
            rows[0][0]
                .baseline
                .is_some_and(|b| (b - 0.125).abs() < 0.01),
            "{:?}",
            rows[0][0].baseline
        );
        assert!(
            rows[30][0]
                .baseline
                .is_some_and(|b| (b - 0.025).abs() < 0.01),
            "{:?}",
            rows[30][0].baseline
        );
    }

    #[test]
    fn a_province_without_events_flags_nobody() {
        let list: Vec<(Option<Level>, [Share; 2])> = (0..5)
            .map(|i| (Some(Level::Xa), [share(0, 50 + i), share(0, 0)]))
            .collect();
        let (rows, summary) = run(&list);
        assert_eq!(summary, FlagSummary::default());
        assert!(
            rows.iter()
                .all(|r| r[0].flag == Severity::None && r[0].problem_probability.is_none())
        );
        assert_eq!(rows[0][1].reason, "Chưa có phản hồi trong kỳ");
    }

    #[test]
    fn the_early_warning_signals_a_recent_burst_only() {
        // A commune with 400 answers a year at 4%.
        let steady = [(1u64, 33u64); 3];
        assert!(!early_warning(Some(0.04), 400, &steady).signal);
        let burst = [(1, 33), (6, 33), (9, 33)];
        let warning = early_warning(Some(0.04), 400, &burst);
        assert!(warning.signal, "{warning:?}");
        assert!(warning.limit.is_some_and(|l| l > 0.0));
        assert_eq!(early_warning(None, 400, &burst).statistic, None);
    }
}
