//! Agency flags for harassment and repeat visits (statistics.md §0): the beta-binomial
//! empirical-Bayes posterior against the province baseline decides `none`/`alert`/`alarm`; the
//! exact one-sided p-value and its Benjamini–Hochberg q-value are supporting numbers; a
//! Bernoulli CUSUM over the most recent responses gives an early warning. Every flag carries an
//! explanation built from its numbers, in Vietnamese and English. Pure: no database.

use serde::Serialize;

use super::indicators::Share;
use super::numbers::{percent, probability};
use crate::domain::Lang;
use crate::stats::bayes::{FlagRule, Severity, fit_prior_moments};
use crate::stats::monitor::{CusumDesign, bernoulli_cusum};
use crate::stats::testing::{benjamini_hochberg, binomial_upper_p_value};

/// Which problem a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Harassment,
    RepeatVisits,
}

impl Problem {
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

/// The early-warning CUSUM of one agency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EarlyWarning {
    /// The CUSUM statistic after the most recent response (null without a usable baseline).
    pub statistic: Option<f64>,
    /// True when the statistic reached the decision limit (h = 4) within the window.
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
    /// The province's pooled rate for this problem over the period.
    pub baseline: Option<f64>,
    /// Empirical-Bayes adjusted rate.
    pub posterior_mean: Option<f64>,
    /// P(true rate > 2 × baseline | data).
    pub posterior_prob: Option<f64>,
    /// Exact one-sided binomial p-value against the baseline.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value across the province's agencies.
    pub q_value: Option<f64>,
    pub flag: Severity,
    pub reason: String,
    pub reason_en: String,
    pub early_warning: EarlyWarning,
}

impl Assessment {
    /// The count and its share, for display.
    pub fn share(&self) -> Share {
        Share::of(self.count as i64, self.n as i64)
    }
}

/// One agency's input: its share over the period and its recent (events, answers) batches.
pub struct AgencyInput<'a> {
    pub share: Share,
    pub recent: &'a [(u64, u64)],
}

/// Assesses every agency of one province (inputs in a fixed order, e.g. by code, so that the
/// result is reproducible to the bit).
pub fn assess(problem: Problem, agencies: &[AgencyInput<'_>], rule: &FlagRule) -> Vec<Assessment> {
    let answered: Vec<(u64, u64)> = agencies
        .iter()
        .filter(|a| a.share.n > 0)
        .map(|a| (a.share.count, a.share.n))
        .collect();
    let (events, total): (u64, u64) = answered
        .iter()
        .fold((0, 0), |(k, n), (ak, an)| (k + ak, n + an));
    let baseline = (total > 0).then(|| events as f64 / total as f64);
    // No event anywhere (or only events): nothing to compare against, nobody is flagged.
    let prior = baseline
        .filter(|b| *b > 0.0 && *b < 1.0)
        .and_then(|_| fit_prior_moments(&answered));
    let p_values: Vec<Option<f64>> = agencies
        .iter()
        .map(|a| {
            let b = baseline.filter(|b| *b > 0.0 && *b < 1.0)?;
            (a.share.n > 0)
                .then(|| binomial_upper_p_value(a.share.count, a.share.n, b))
                .flatten()
        })
        .collect();
    let tested: Vec<f64> = p_values.iter().flatten().copied().collect();
    let mut q_values = benjamini_hochberg(&tested).into_iter();
    agencies
        .iter()
        .zip(p_values)
        .map(|(a, p_value)| {
            let q_value = p_value.and_then(|_| q_values.next());
            let posterior = prior
                .and_then(|prior| prior.posterior(a.share.count, a.share.n))
                .filter(|_| a.share.n > 0);
            let posterior_prob = match (posterior, baseline) {
                (Some(post), Some(b)) => rule.exceedance_probability(&post, b),
                _ => None,
            };
            let flag = posterior_prob
                .map(|p| rule.classify(p))
                .unwrap_or(Severity::None);
            let early_warning = early_warning(baseline, a.recent);
            let (reason, reason_en) = explain(problem, &a.share, baseline, posterior_prob, rule);
            Assessment {
                count: a.share.count,
                n: a.share.n,
                rate: a.share.rate,
                ci_low: a.share.ci_low,
                ci_high: a.share.ci_high,
                baseline,
                posterior_mean: posterior.map(|p| p.mean()),
                posterior_prob,
                p_value,
                q_value,
                flag,
                reason,
                reason_en,
                early_warning,
            }
        })
        .collect()
}

/// Bernoulli CUSUM over the recent responses, given as (events, answers) batches in time order
/// (the report passes months). Within a batch the order is not stored; its non-events are taken
/// before its events, so a burst at the end of the window is not hidden.
fn early_warning(baseline: Option<f64>, batches: &[(u64, u64)]) -> EarlyWarning {
    let none = EarlyWarning {
        statistic: None,
        signal: false,
    };
    let Some(p0) = baseline.filter(|b| *b > 0.0 && *b < 0.5) else {
        return none;
    };
    let events: Vec<bool> = batches
        .iter()
        .flat_map(|(k, n)| {
            std::iter::repeat_n(false, n.saturating_sub(*k) as usize)
                .chain(std::iter::repeat_n(true, *k as usize))
        })
        .collect();
    if events.is_empty() {
        return none;
    }
    match bernoulli_cusum(&events, &CusumDesign::with_defaults(p0)) {
        Some(run) => EarlyWarning {
            statistic: run.path.last().copied(),
            signal: run.first_signal.is_some(),
        },
        None => none,
    }
}

/// "12/40 người trả lời (30%, KTC 95%: 18–45%) phản ánh …; mức chung của tỉnh 4,1%; xác suất vượt
/// gấp đôi mức chung 0,98", and the same in English.
fn explain(
    problem: Problem,
    share: &Share,
    baseline: Option<f64>,
    posterior_prob: Option<f64>,
    rule: &FlagRule,
) -> (String, String) {
    if share.n == 0 {
        return (
            "Chưa có phản hồi trong kỳ".into(),
            "No responses in the period".into(),
        );
    }
    let sentence = |lang: Lang| {
        let (people, ci, base, prob, twice) = match lang {
            Lang::Vi => (
                "người trả lời",
                "KTC 95%",
                "mức chung của tỉnh",
                "xác suất vượt",
                "gấp đôi mức chung",
            ),
            Lang::En => (
                "respondents",
                "95% CI",
                "province rate",
                "probability of exceeding",
                "twice the province rate",
            ),
        };
        let twice = if (rule.threshold_multiplier - 2.0).abs() < f64::EPSILON {
            twice.to_owned()
        } else {
            match lang {
                Lang::Vi => format!("{} lần mức chung", rule.threshold_multiplier),
                Lang::En => format!("{} times the province rate", rule.threshold_multiplier),
            }
        };
        let mut s = format!("{}/{} {people}", share.count, share.n);
        if let (Some(rate), Some(lo), Some(hi)) = (share.rate, share.ci_low, share.ci_high) {
            s.push_str(&format!(
                " ({}, {ci}: {}–{})",
                percent(rate, lang),
                percent(lo, lang).trim_end_matches('%'),
                percent(hi, lang)
            ));
        }
        s.push_str(&format!(" {}", problem.phrase(lang)));
        if let Some(b) = baseline {
            s.push_str(&format!("; {base} {}", percent(b, lang)));
        }
        if let Some(p) = posterior_prob {
            s.push_str(&format!("; {prob} {twice} {}", probability(p, lang)));
        }
        if share.n < super::indicators::DISPLAY_MINIMUM {
            s.push_str(match lang {
                Lang::Vi => " (chưa đủ dữ liệu)",
                Lang::En => " (not enough data)",
            });
        }
        s
    };
    (sentence(Lang::Vi), sentence(Lang::En))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assesses agencies given as (events, answers), each with one recent batch of the same.
    fn assess_counts(problem: Problem, data: &[(i64, i64)]) -> Vec<Assessment> {
        let batches: Vec<[(u64, u64); 1]> =
            data.iter().map(|(k, n)| [(*k as u64, *n as u64)]).collect();
        let agencies: Vec<AgencyInput<'_>> = data
            .iter()
            .zip(&batches)
            .map(|((k, n), b)| AgencyInput {
                share: Share::of(*k, *n),
                recent: b,
            })
            .collect();
        assess(problem, &agencies, &FlagRule::default())
    }

    /// statistics.md V4: fourteen agencies, baseline θ0 = pooled rate, prior by moments.
    #[test]
    fn v4_agencies_get_the_reference_posteriors_and_flags() {
        let data = [
            (0, 8),
            (1, 15),
            (2, 40),
            (3, 25),
            (1, 60),
            (6, 50),
            (4, 120),
            (10, 80),
            (2, 30),
            (0, 12),
            (15, 200),
            (3, 90),
            (18, 60),
            (9, 25),
        ];
        let expected = [
            0.0270590097,
            0.04372816574,
            0.00322245535,
            0.09878188908,
            1.329746229e-05,
            0.06356531736,
            1.543460055e-07,
            0.04911456958,
            0.01595743735,
            0.01212110234,
            3.858963225e-06,
            4.018987325e-06,
            0.9589984635,
            0.9118328264,
        ];
        let out = assess_counts(Problem::Harassment, &data);
        for (a, e) in out.iter().zip(expected) {
            let p = a.posterior_prob.unwrap_or(f64::NAN);
            assert!((p - e).abs() <= 1e-8 * e.max(1e-300) + 1e-15, "{p} vs {e}");
            assert!((a.baseline.unwrap_or(0.0) - 0.09079754601).abs() < 1e-10);
        }
        let flags: Vec<Severity> = out.iter().map(|a| a.flag).collect();
        let mut want = vec![Severity::None; 14];
        want[12] = Severity::Alarm;
        want[13] = Severity::Alert;
        assert_eq!(flags, want);
        assert!(
            out[12]
                .reason
                .starts_with("18/60 người trả lời (30%, KTC 95%: "),
            "{}",
            out[12].reason
        );
        assert!(
            out[12]
                .reason
                .contains("mức chung của tỉnh 9,1%; xác suất vượt gấp đôi mức chung 0,96"),
            "{}",
            out[12].reason
        );
        assert!(
            out[12].reason_en.contains(
                "province rate 9.1%; probability of exceeding twice the province rate 0.96"
            )
        );
    }

    #[test]
    fn a_province_without_events_flags_nobody() {
        let out = assess_counts(Problem::RepeatVisits, &[(0, 50), (0, 80), (0, 0)]);
        assert!(
            out.iter()
                .all(|a| a.flag == Severity::None && a.posterior_prob.is_none())
        );
        assert_eq!(out[2].reason, "Chưa có phản hồi trong kỳ");
        assert_eq!(out[0].baseline, Some(0.0));
    }

    #[test]
    fn the_cusum_signals_a_recent_burst() {
        let quiet = early_warning(Some(0.04), &[(1, 25); 8]);
        assert!(!quiet.signal);
        let burst = early_warning(Some(0.04), &[(1, 25), (1, 25), (6, 20), (5, 15)]);
        assert!(burst.signal, "{burst:?}");
        assert_eq!(early_warning(None, &[(5, 5)]).statistic, None);
    }
}
