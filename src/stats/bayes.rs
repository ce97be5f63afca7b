//! Beta-binomial empirical Bayes (statistics.md §3.4): a method-of-moments Beta
//! prior per comparison group, each agency's posterior (adjusted rate, credible
//! interval, probability of exceeding c·θ0) and the alert/alarm flag rule.

use super::{Interval, beta_quantile, tail_probability};
use statrs::distribution::{Beta, ContinuousCDF};

/// Smallest prior strength a + b the moment fit returns (caps the spread at ρ = 1/3).
pub const MIN_PRIOR_STRENGTH: f64 = 2.0;
/// Largest prior strength a + b the moment fit returns ("no detectable spread").
pub const MAX_PRIOR_STRENGTH: f64 = 1000.0;

/// A Beta(α, β) distribution for a rate: a group's prior or an agency's posterior.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BetaRate(Beta);

impl BetaRate {
    /// Beta(α, β); `None` unless both shapes are finite and positive.
    pub fn new(alpha: f64, beta: f64) -> Option<Self> {
        if !(alpha.is_finite() && beta.is_finite()) {
            return None;
        }
        Beta::new(alpha, beta).ok().map(Self)
    }

    /// First shape α (prior: a; posterior: a + k).
    pub fn alpha(&self) -> f64 {
        self.0.shape_a()
    }

    /// Second shape β (prior: b; posterior: b + n − k).
    pub fn beta(&self) -> f64 {
        self.0.shape_b()
    }

    /// α / (α + β): for a posterior, the "adjusted rate" to show in rankings.
    pub fn mean(&self) -> f64 {
        self.alpha() / (self.alpha() + self.beta())
    }

    /// Weight B = (α + β)/(α + β + n) that this prior puts on its own mean for an
    /// agency with `n` responses: posterior mean = B·prior mean + (1 − B)·k/n.
    pub fn shrinkage_weight(&self, n: u64) -> f64 {
        let strength = self.alpha() + self.beta();
        strength / (strength + n as f64)
    }

    /// Posterior Beta(α + k, β + n − k) after `k` events in `n` responses.
    /// With `n == 0` it is the prior itself (such an agency can never be flagged).
    /// `None` if `k > n`.
    pub fn posterior(&self, k: u64, n: u64) -> Option<Self> {
        if k > n {
            return None;
        }
        Self::new(self.alpha() + k as f64, self.beta() + (n - k) as f64)
    }

    /// Equal-tailed credible interval at `confidence` (e.g. 0.95). `None` for a
    /// confidence outside (0, 1) or α + β ≥ 2·10⁶ (statrs' Beta quantile limit).
    pub fn credible_interval(&self, confidence: f64) -> Option<Interval> {
        let tail = tail_probability(confidence)?;
        Some(Interval {
            low: beta_quantile(self.alpha(), self.beta(), tail)?,
            high: beta_quantile(self.alpha(), self.beta(), 1.0 - tail)?,
        })
    }

    /// P(rate > `threshold`) under this distribution; `None` if `threshold` is NaN.
    pub fn probability_above(&self, threshold: f64) -> Option<f64> {
        (!threshold.is_nan()).then(|| self.0.sf(threshold))
    }
}

/// Method-of-moments Beta prior from `(k, n)` per agency of one comparison group
/// (weighted, after Kleinman 1973):
/// μ̂ = Σk/Σn, S = Σ n_i (k_i/n_i − μ̂)²,
/// ρ̂ = (S/(μ̂(1 − μ̂)) − (I − 1)) / (N − Σn_i²/N − (I − 1)),
/// a + b = 1/ρ̂ − 1, a = μ̂(a + b), b = (1 − μ̂)(a + b).
///
/// Agencies with n = 0 are skipped. Fallbacks, following §3.4:
/// * a + b is clamped to [[`MIN_PRIOR_STRENGTH`], [`MAX_PRIOR_STRENGTH`]];
///   under-dispersion (ρ̂ ≤ 0, agencies closer together than binomial noise) means
///   "no detectable spread" and gives a + b = 1000 around μ̂, not a point mass;
/// * when the spread cannot be estimated at all (a single agency, or every agency
///   with one response: the denominator is 0) a + b = 1000 as well.
///
/// `None` if no agency has responses, any `k > n`, or the pooled rate is 0 or 1
/// (no events at all, or only events): there is nothing to estimate a spread
/// around, so fit the prior on a wider group (e.g. national), as §2.1 advises for θ0 = 0.
pub fn fit_prior_moments(counts: &[(u64, u64)]) -> Option<BetaRate> {
    if counts.iter().any(|&(k, n)| k > n) {
        return None;
    }
    let responding: Vec<(f64, f64)> = counts
        .iter()
        .filter(|&&(_, n)| n > 0)
        .map(|&(k, n)| (k as f64, n as f64))
        .collect();
    let total: f64 = responding.iter().map(|&(_, n)| n).sum();
    let events: f64 = responding.iter().map(|&(k, _)| k).sum();
    if responding.is_empty() || events == 0.0 || events == total {
        return None;
    }
    let mean = events / total;
    let agencies = responding.len() as f64;
    let spread: f64 = responding
        .iter()
        .map(|&(k, n)| n * (k / n - mean).powi(2))
        .sum();
    let size_squares: f64 = responding.iter().map(|&(_, n)| n * n).sum();
    let denominator = total - size_squares / total - (agencies - 1.0);
    let correlation = if denominator > 0.0 {
        (spread / (mean * (1.0 - mean)) - (agencies - 1.0)) / denominator
    } else {
        0.0
    };
    let strength = if correlation > 0.0 {
        (1.0 / correlation - 1.0).clamp(MIN_PRIOR_STRENGTH, MAX_PRIOR_STRENGTH)
    } else {
        MAX_PRIOR_STRENGTH
    };
    BetaRate::new(mean * strength, (1.0 - mean) * strength)
}

/// The severity of a flag, the one name used from statistics to charts, cases and mail;
/// serialised and stored as `"none"`, `"alert"` or `"alarm"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    None,
    /// "Higher than expected — watch" (amber).
    Alert,
    /// "Much higher than expected — investigate" (red).
    Alarm,
}

impl Severity {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Alert => "alert",
            Severity::Alarm => "alarm",
        }
    }
}

/// When an agency's posterior is flagged: P(rate > `threshold_multiplier`·θ0 | data)
/// above `alarm_above` gives [`Severity::Alarm`], above `alert_above` [`Severity::Alert`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlagRule {
    /// c in "rate above c·θ0" (2: double the group's rate).
    pub threshold_multiplier: f64,
    /// Alert when the exceedance probability is strictly above this (0.80).
    pub alert_above: f64,
    /// Alarm when the exceedance probability is strictly above this (0.95).
    pub alarm_above: f64,
}

impl Default for FlagRule {
    fn default() -> Self {
        Self {
            threshold_multiplier: 2.0,
            alert_above: 0.80,
            alarm_above: 0.95,
        }
    }
}

impl FlagRule {
    /// P(rate > c·θ0 | data) for an agency's `posterior`, θ0 being the group's
    /// baseline rate. `None` if the threshold c·θ0 is NaN.
    pub fn exceedance_probability(&self, posterior: &BetaRate, theta0: f64) -> Option<f64> {
        posterior.probability_above(self.threshold_multiplier * theta0)
    }

    /// Flag for an exceedance probability from [`FlagRule::exceedance_probability`].
    pub fn classify(&self, exceedance_probability: f64) -> Severity {
        if exceedance_probability > self.alarm_above {
            Severity::Alarm
        } else if exceedance_probability > self.alert_above {
            Severity::Alert
        } else {
            Severity::None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{assert_close, assert_within};
    use super::*;

    /// V4 per agency: k, n, posterior mean, shrink weight B, 95% credible lo/hi,
    /// P(p > 2μ̂ | data).
    #[rustfmt::skip]
    const V4: [(u64, u64, f64, f64, f64, f64, f64); 14] = [
        (0, 8, 0.0523958385, 0.5770622754, 0.001360085978, 0.1851944672, 0.0270590097),
        (1, 15, 0.07683039185, 0.4211916624, 0.009759368575, 0.2036067544, 0.04372816574),
        (2, 40, 0.05874624942, 0.2143817527, 0.01249150131, 0.1370963199, 0.00322245535),
        (3, 25, 0.1111248455, 0.3039181065, 0.031976067, 0.2307499488, 0.09878188908),
        (1, 60, 0.02807692208, 0.1539204109, 0.003443293984, 0.07692346565, 1.329746229e-05),
        (6, 50, 0.1147672606, 0.1791883444, 0.04818760231, 0.2051433009, 0.06356531736),
        (4, 120, 0.0381245218, 0.08337690956, 0.01257380591, 0.07686042046, 1.543460055e-07),
        (10, 80, 0.1208936452, 0.1200602385, 0.06260864079, 0.1949136441, 0.04911456958),
        (2, 30, 0.07310425947, 0.2667782101, 0.01567721864, 0.1692116161, 0.01595743735),
        (0, 12, 0.04324984333, 0.476332734, 0.001112031445, 0.154166255, 0.01212110234),
        (15, 200, 0.07581755647, 0.05175211841, 0.04416031091, 0.1150686562, 3.858963225e-06),
        (3, 90, 0.03954884133, 0.1081631108, 0.01096807898, 0.08511771002, 4.018987325e-06),
        (18, 60, 0.2677994723, 0.1539204109, 0.1721041626, 0.3758935347, 0.9589984635),
        (9, 25, 0.2781844999, 0.3039181065, 0.1465405914, 0.4331987906, 0.9118328264),
    ];

    fn v4_prior() -> BetaRate {
        let counts: Vec<(u64, u64)> = V4.iter().map(|&(k, n, ..)| (k, n)).collect();
        fit_prior_moments(&counts).unwrap()
    }

    #[test]
    fn v4_moment_fit() {
        let prior = v4_prior();
        assert_close(prior.alpha(), 0.9910837544, 1e-9);
        assert_close(prior.beta(), 9.924230567, 1e-9);
        assert_close(prior.mean(), 0.09079754601, 1e-9);
        assert_close(prior.alpha() + prior.beta(), 10.91531432, 1e-9);
    }

    #[test]
    fn v4_posteriors_and_flags() {
        let prior = v4_prior();
        let theta0 = prior.mean();
        let rule = FlagRule::default();
        for (k, n, mean, weight, low, high, exceedance) in V4 {
            let posterior = prior.posterior(k, n).unwrap();
            assert_close(posterior.mean(), mean, 1e-9);
            assert_close(prior.shrinkage_weight(n), weight, 1e-9);
            let interval = posterior.credible_interval(0.95).unwrap();
            assert_close(interval.low, low, 1e-9);
            assert_close(interval.high, high, 1e-9);
            let probability = rule.exceedance_probability(&posterior, theta0).unwrap();
            assert_close(probability, exceedance, 1e-9);
            let expected_flag = if exceedance > 0.95 {
                Severity::Alarm
            } else if exceedance > 0.80 {
                Severity::Alert
            } else {
                Severity::None
            };
            assert_eq!(rule.classify(exceedance), expected_flag);
        }
        // only 18/60 is an alarm (V4 "flag" column); 9/25 is an alert at 0.80
        assert_eq!(rule.classify(0.9589984635), Severity::Alarm);
        assert_eq!(rule.classify(0.9118328264), Severity::Alert);
    }

    /// V4: an agency with no responses keeps the prior and is never flagged.
    #[test]
    fn v4_agency_without_responses() {
        let prior = v4_prior();
        assert_eq!(prior.posterior(0, 0), Some(prior));
        let rule = FlagRule::default();
        let probability = rule.exceedance_probability(&prior, prior.mean()).unwrap();
        assert_within(probability, 0.134997, 5e-7);
        assert_eq!(rule.classify(probability), Severity::None);
    }

    /// X10: degenerate moment fits and their posteriors for 3/40.
    #[test]
    fn degenerate_moment_fits() {
        // counts, a, b, then for 3/40: posterior mean, 95% credible lo/hi, P(p > 2μ̂)
        type Case = (&'static [(u64, u64)], f64, f64, f64, f64, f64, f64);
        #[rustfmt::skip]
        let cases: [Case; 3] = [
            // identical rates (under-dispersed): a + b = 1000
            (&[(4, 100); 10], 40.0, 960.0, 0.041346153846153845, 0.030110322599364442, 0.054250428001370046, 1.951287682892592e-07),
            // extreme spread: a + b = 2
            (&[(0, 50), (50, 50), (0, 40), (40, 40)], 1.0, 1.0, 0.09523809523809523, 0.027227466798360835, 0.19924597837666294, 0.0),
            // single agency: spread not estimable, a + b = 1000
            (&[(3, 40)], 75.0, 925.0, 0.075, 0.0597906875366517, 0.09175650701843224, 6.045007047713928e-14),
        ];
        for (counts, a, b, mean, low, high, exceedance) in cases {
            let prior = fit_prior_moments(counts).unwrap();
            assert_close(prior.alpha(), a, 1e-12);
            assert_close(prior.beta(), b, 1e-12);
            let posterior = prior.posterior(3, 40).unwrap();
            assert_close(posterior.mean(), mean, 1e-12);
            let interval = posterior.credible_interval(0.95).unwrap();
            assert_close(interval.low, low, 1e-9);
            assert_close(interval.high, high, 1e-9);
            let probability = posterior.probability_above(2.0 * prior.mean()).unwrap();
            assert_close(probability, exceedance, 1e-9);
        }
    }

    #[test]
    fn unusable_input_gives_none() {
        assert_eq!(fit_prior_moments(&[]), None);
        assert_eq!(fit_prior_moments(&[(0, 0), (0, 0)]), None);
        assert_eq!(fit_prior_moments(&[(0, 10), (0, 30)]), None);
        assert_eq!(fit_prior_moments(&[(10, 10), (30, 30)]), None);
        assert_eq!(fit_prior_moments(&[(1, 10), (4, 3)]), None);
        assert_eq!(BetaRate::new(0.0, 1.0), None);
        assert_eq!(BetaRate::new(f64::INFINITY, 1.0), None);
        let prior = BetaRate::new(1.0, 9.0).unwrap();
        assert_eq!(prior.posterior(5, 4), None);
        assert_eq!(prior.probability_above(f64::NAN), None);
        assert_eq!(prior.credible_interval(1.0), None);
    }
}
