//! Funnel-plot control limits around a target rate p0 (statistics.md §2): exact
//! binomial limits with Spiegelhalter's interpolation, and limits adjusted for
//! overdispersion (φ̂ and DerSimonian–Laird τ̂², by default on the Anscombe-arcsine
//! scale, estimated from agencies with n ≥ 30).
//!
//! Limits are identified by their cumulative probability `q` under the null: the
//! 95% funnel is `q` = 0.025 / 0.975, the 99.8% funnel 0.001 / 0.999 (constants
//! below). Draw these curves, but decide flags with the exact one-sided p-value
//! ([`super::testing::binomial_upper_p_value`]) combined with the adjusted limit (§2.5).

use super::{is_open_probability, normal_quantile};
use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};
use std::f64::consts::FRAC_PI_2;

/// Cumulative probability of the lower 99.8% limit.
pub const LOWER_998: f64 = 0.001;
/// Cumulative probability of the lower 95% limit.
pub const LOWER_95: f64 = 0.025;
/// Cumulative probability of the upper 95% limit ("alert" line).
pub const UPPER_95: f64 = 0.975;
/// Cumulative probability of the upper 99.8% limit ("alarm" line).
pub const UPPER_998: f64 = 0.999;

/// Agencies need at least this many responses to enter the overdispersion estimate…
pub const OVERDISPERSION_MIN_RESPONSES: u64 = 30;
/// …provided at least this many agencies qualify; otherwise all agencies with
/// n ≥ 1 are used (§2.4).
pub const OVERDISPERSION_MIN_AGENCIES: usize = 10;

/// Exact binomial funnel limit at sample size `n` around `p0`, for cumulative
/// probability `q` (Spiegelhalter 2005, Appendix A.1.1):
/// r = smallest integer with F(r) ≥ q, α = (F(r) − q) / (F(r) − F(r − 1)),
/// limit = (r − α) / n clamped to [0, 1], with F the Binomial(n, p0) CDF.
///
/// `None` if `n == 0` or `p0` or `q` is not strictly between 0 and 1 (with
/// p0 = 0 there is nothing to test: use a wider baseline, §2.1). Accuracy follows
/// statrs' binomial CDF (§6.3: ~1e-9 up to n = 10⁵, ~2e-3 at 10⁶).
pub fn exact_limit(n: u64, p0: f64, q: f64) -> Option<f64> {
    if n == 0 || !is_open_probability(p0) || !is_open_probability(q) {
        return None;
    }
    let null = Binomial::new(p0, n).ok()?;
    // statrs' generic discrete inverse is a bisection: settle r exactly (§6.2).
    let mut r = null.inverse_cdf(q).min(n);
    while r < n && null.cdf(r) < q {
        r += 1;
    }
    while r > 0 && null.cdf(r - 1) >= q {
        r -= 1;
    }
    // cdf(n) is exactly 1, so F(r) ≥ q > F(r − 1) and the denominator is positive.
    let at_r = null.cdf(r);
    let below_r = if r == 0 { 0.0 } else { null.cdf(r - 1) };
    let alpha = (at_r - q) / (at_r - below_r);
    Some(((r as f64 - alpha) / n as f64).clamp(0.0, 1.0))
}

/// The four standard exact funnel limits at one sample size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FunnelLimits {
    pub lower_998: f64,
    pub lower_95: f64,
    pub upper_95: f64,
    pub upper_998: f64,
}

/// Exact interpolated 95% and 99.8% limits at `n` around `p0` (see [`exact_limit`]).
pub fn exact_limits(n: u64, p0: f64) -> Option<FunnelLimits> {
    Some(FunnelLimits {
        lower_998: exact_limit(n, p0, LOWER_998)?,
        lower_95: exact_limit(n, p0, LOWER_95)?,
        upper_95: exact_limit(n, p0, UPPER_95)?,
        upper_998: exact_limit(n, p0, UPPER_998)?,
    })
}

/// Scale on which standardised residuals, φ̂ and τ̂² are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FunnelScale {
    /// Proportions y = k/n with s = √(p0(1 − p0)/n) (textbook; skewed at low rates).
    Raw,
    /// Anscombe arcsine Y = asin √((k + ⅜)/(n + ¾)), T = asin √p0, s = 1/√(4n + 2).
    #[default]
    Anscombe,
}

impl FunnelScale {
    fn transform(self, k: u64, n: u64) -> f64 {
        let (k, n) = (k as f64, n as f64);
        match self {
            Self::Raw => k / n,
            Self::Anscombe => ((k + 0.375) / (n + 0.75)).sqrt().asin(),
        }
    }

    fn target(self, p0: f64) -> f64 {
        match self {
            Self::Raw => p0,
            Self::Anscombe => p0.sqrt().asin(),
        }
    }

    fn standard_error(self, n: u64, p0: f64) -> f64 {
        let n = n as f64;
        match self {
            Self::Raw => (p0 * (1.0 - p0) / n).sqrt(),
            Self::Anscombe => 1.0 / (4.0 * n + 2.0).sqrt(),
        }
    }

    /// Maps a value on this scale back to a proportion at sample size `n`, clamped to [0, 1].
    fn to_proportion(self, value: f64, n: u64) -> f64 {
        let proportion = match self {
            Self::Raw => value,
            Self::Anscombe => {
                let n = n as f64;
                let angle = value.clamp(0.0, FRAC_PI_2);
                ((n + 0.75) * angle.sin().powi(2) - 0.375) / n
            }
        };
        proportion.clamp(0.0, 1.0)
    }
}

/// Between-agency spread beyond binomial noise, estimated as in §2.4.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overdispersion {
    /// Scale of the estimate and of the limits.
    pub scale: FunnelScale,
    /// Target rate the residuals were computed against.
    pub p0: f64,
    /// φ̂: mean squared 10%-winsorised standardised residual (≈ 1 without overdispersion).
    pub phi: f64,
    /// τ̂²: DerSimonian–Laird additive between-agency variance, on `scale`.
    pub tau2: f64,
    /// Number of agencies I the estimate used.
    pub agencies: usize,
    /// P(χ²_{I−1} > I·φ̂): small values mean real overdispersion. Uses I − 1 degrees
    /// of freedom, i.e. assumes p0 was estimated from the same agencies (pooled rate).
    pub p_value: f64,
}

/// Estimates φ̂ and τ̂² from `(k, n)` per agency against target `p0` on `scale`.
///
/// Agencies with n = 0 are skipped. If at least [`OVERDISPERSION_MIN_AGENCIES`]
/// agencies have n ≥ [`OVERDISPERSION_MIN_RESPONSES`], only those are used
/// (small agencies carry almost no information about the spread), else all.
/// Residuals z_i = (Y_i − T)/s_i are winsorised at their 10th/90th percentiles
/// (type-7 quantiles, as numpy/R), φ̂ = mean(z_w²), and
/// τ̂² = max(0, (I·φ̂ − (I − 1)) / (Σw − Σw²/Σw)) with w = 1/s².
///
/// `None` if fewer than two agencies have responses, any `k > n`, or `p0` is not
/// strictly between 0 and 1.
pub fn estimate_overdispersion(
    counts: &[(u64, u64)],
    p0: f64,
    scale: FunnelScale,
) -> Option<Overdispersion> {
    if !is_open_probability(p0) || counts.iter().any(|&(k, n)| k > n) {
        return None;
    }
    let responding: Vec<(u64, u64)> = counts.iter().copied().filter(|&(_, n)| n > 0).collect();
    let large: Vec<(u64, u64)> = responding
        .iter()
        .copied()
        .filter(|&(_, n)| n >= OVERDISPERSION_MIN_RESPONSES)
        .collect();
    let used = if large.len() >= OVERDISPERSION_MIN_AGENCIES {
        large
    } else {
        responding
    };
    if used.len() < 2 {
        return None;
    }

    let target = scale.target(p0);
    let residuals: Vec<f64> = used
        .iter()
        .map(|&(k, n)| (scale.transform(k, n) - target) / scale.standard_error(n, p0))
        .collect();
    let mut sorted = residuals.clone();
    sorted.sort_by(f64::total_cmp);
    let (low, high) = (quantile_type7(&sorted, 0.1), quantile_type7(&sorted, 0.9));
    let agencies = used.len();
    let count = agencies as f64;
    let phi = residuals
        .iter()
        .map(|z| z.clamp(low, high).powi(2))
        .sum::<f64>()
        / count;

    let weights: Vec<f64> = used
        .iter()
        .map(|&(_, n)| scale.standard_error(n, p0).powi(-2))
        .collect();
    let weight_sum: f64 = weights.iter().sum();
    let weight_square_sum: f64 = weights.iter().map(|w| w * w).sum();
    let tau2 =
        ((count * phi - (count - 1.0)) / (weight_sum - weight_square_sum / weight_sum)).max(0.0);
    let p_value = ChiSquared::new(count - 1.0).ok()?.sf(count * phi);

    Some(Overdispersion {
        scale,
        p0,
        phi,
        tau2,
        agencies,
        p_value,
    })
}

/// Type-7 (numpy/R default) quantile of non-empty ascending `sorted` at `prob` in [0, 1].
fn quantile_type7(sorted: &[f64], prob: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * prob;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (position - below as f64) * (sorted[above] - sorted[below])
}

impl Overdispersion {
    /// Additive random-effects limit (the default, §2.4) at sample size `n` for
    /// cumulative probability `q`: T + z_q·√(s² + τ̂²) mapped back to a proportion.
    /// As n grows it tends to the natural spread of agencies, not to p0.
    /// `None` if `n == 0` or `q` is not strictly between 0 and 1.
    pub fn additive_limit(&self, n: u64, q: f64) -> Option<f64> {
        let s = self.standard_error(n)?;
        self.limit(n, q, (s * s + self.tau2).sqrt())
    }

    /// Multiplicative limit T + z_q·√max(φ̂, 1)·s mapped back to a proportion
    /// (widens every binomial limit by the same factor). `None` as for
    /// [`Overdispersion::additive_limit`].
    pub fn multiplicative_limit(&self, n: u64, q: f64) -> Option<f64> {
        let s = self.standard_error(n)?;
        self.limit(n, q, self.phi.max(1.0).sqrt() * s)
    }

    fn standard_error(&self, n: u64) -> Option<f64> {
        (n > 0).then(|| self.scale.standard_error(n, self.p0))
    }

    fn limit(&self, n: u64, q: f64, spread: f64) -> Option<f64> {
        let z = normal_quantile(q)?;
        let value = self.scale.target(self.p0) + z * spread;
        Some(self.scale.to_proportion(value, n))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::testing::binomial_upper_p_value;
    use super::super::{assert_close, assert_within};
    use super::*;

    const SIZES: [u64; 4] = [10, 50, 200, 1000];
    const LEVELS: [f64; 4] = [LOWER_998, LOWER_95, UPPER_95, UPPER_998];

    /// The V4/V8 agencies.
    const V4: [(u64, u64); 14] = [
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

    fn pooled_rate(counts: &[(u64, u64)]) -> f64 {
        let events: u64 = counts.iter().map(|&(k, _)| k).sum();
        let responses: u64 = counts.iter().map(|&(_, n)| n).sum();
        events as f64 / responses as f64
    }

    /// V2 (first table): exact interpolated limits at p0 = 0.05.
    #[test]
    fn v2_exact_limits() {
        let expected = [
            [0.0, 0.0, 0.1819166891, 0.3029537415],
            [0.0, 0.0, 0.1098317107, 0.1579935909],
            [0.006542157943, 0.0195842152, 0.07970798542, 0.1011778762],
            [0.02950334737, 0.03640434768, 0.06344649322, 0.07201667962],
        ];
        for (n, [lower_998, lower_95, upper_95, upper_998]) in SIZES.into_iter().zip(expected) {
            let limits = exact_limits(n, 0.05).unwrap();
            assert_close(limits.lower_998, lower_998, 1e-9);
            assert_close(limits.lower_95, lower_95, 1e-9);
            assert_close(limits.upper_95, upper_95, 1e-9);
            assert_close(limits.upper_998, upper_998, 1e-9);
        }
    }

    /// V2 (second table): smallest k above the interpolated upper limit and the
    /// in-control probability of landing there, against the exact-test rule.
    #[test]
    fn v2_interpolated_limit_versus_exact_test() {
        #[rustfmt::skip]
        let rows: [(u64, f64, f64, f64, u64, u64); 8] = [
            (10, 0.025, 0.0861384, 0.0115036, 2, 3),
            (10, 0.001, 0.0010285, 6.36898e-05, 4, 5),
            (50, 0.025, 0.0377762, 0.0117864, 6, 7),
            (50, 0.001, 0.00318834, 0.000755985, 8, 9),
            (200, 0.025, 0.0443556, 0.0237995, 16, 17),
            (200, 0.001, 0.00115991, 0.000481109, 21, 22),
            (1000, 0.025, 0.0284284, 0.0207499, 64, 65),
            (1000, 0.001, 0.00100598, 0.000647617, 73, 74),
        ];
        let p_at_least = |k, n| binomial_upper_p_value(k, n, 0.05).unwrap();
        for (n, nominal, p_above_line, p_exact_rule, k_line, k_exact) in rows {
            let line = exact_limit(n, 0.05, 1.0 - nominal).unwrap();
            let first_above = (0..=n).find(|&k| k as f64 / n as f64 > line);
            let first_significant = (0..=n).find(|&k| p_at_least(k, n) <= nominal);
            assert_eq!(first_above, Some(k_line));
            assert_eq!(first_significant, Some(k_exact));
            assert_close(p_at_least(k_line, n), p_above_line, 1e-5);
            assert_close(p_at_least(k_exact, n), p_exact_rule, 1e-5);
        }
    }

    /// V8: raw scale on the V4 data (9 agencies have n ≥ 30, fewer than 10, so all 14
    /// are used), then X2: every limit at full precision.
    #[test]
    fn v8_raw_scale_overdispersion() {
        let p0 = pooled_rate(&V4);
        let fit = estimate_overdispersion(&V4, p0, FunnelScale::Raw).unwrap();
        assert_eq!(fit.agencies, 14);
        assert_close(fit.phi, 3.063066361, 1e-9);
        assert_close(fit.tau2, 0.003457873356, 1e-9);
        assert_close(fit.p_value, 4.693e-05, 1e-3);
        assert_within(14.0 * fit.phi, 42.8829, 5e-5);
        // V8 table: upper 99.8% × √φ̂ and + τ̂² (6 decimals)
        let v8 = [
            (10, 0.582199, 0.425246),
            (50, 0.310559, 0.311678),
            (200, 0.200678, 0.283055),
            (1000, 0.139938, 0.274671),
        ];
        for (n, multiplicative, additive) in v8 {
            let multiplicative_limit = fit.multiplicative_limit(n, UPPER_998).unwrap();
            assert_within(multiplicative_limit, multiplicative, 5e-7);
            assert_within(fit.additive_limit(n, UPPER_998).unwrap(), additive, 5e-7);
        }
        #[rustfmt::skip]
        let x2 = [
            [(0.0, 0.0), (0.0, 0.0), (0.3029196999469246, 0.40246657580079637), (0.4252459022643874, 0.582199282106161)],
            [(0.0, 0.0), (0.0, 0.0), (0.23088960188928184, 0.23018017342998034), (0.3116776235664509, 0.31055908324574044)],
            [(0.0, 0.0), (0.0, 0.021106232303414726), (0.2127356639521385, 0.16048885972112514), (0.28305470705368097, 0.20067831462900518)],
            [(0.0, 0.04165737240288083), (0.0, 0.059630643033417294), (0.20741831347336934, 0.12196444899112258), (0.2746709569632091, 0.13993771962165905)],
        ];
        check_limits(&fit, &x2);
    }

    /// X3: Anscombe scale on the V4 data (all 14 agencies used).
    #[test]
    fn anscombe_scale_overdispersion_all_agencies() {
        let p0 = pooled_rate(&V4);
        let fit = estimate_overdispersion(&V4, p0, FunnelScale::default()).unwrap();
        assert_eq!((fit.scale, fit.agencies), (FunnelScale::Anscombe, 14));
        assert_close(fit.phi, 2.5071408973922975, 1e-9);
        assert_close(fit.tau2, 0.007670458697559277, 1e-9);
        assert_close(fit.p_value, 0.0008172484377229238, 1e-9);
        #[rustfmt::skip]
        let x3 = [
            [(0.0, 0.0), (0.0, 0.0), (0.360192704117975, 0.49951607740177983), (0.573910701353571, 0.7815862058785017)],
            [(0.0, 0.0), (0.0, 0.0002918021515465707), (0.2486030519998598, 0.2469877186008272), (0.3674250760887081, 0.36459428987041514)],
            [(0.0, 0.015856025948840075), (0.012749473343129404, 0.03638520637306013), (0.2214170560276094, 0.16179189106924294), (0.31617787509076517, 0.21123069299768968)],
            [(0.0005903978118219662, 0.05107785035476202), (0.016870751341843734, 0.06429410599424201), (0.21344545912661028, 0.1206260668347136), (0.30119242733295676, 0.13968349761981377)],
        ];
        check_limits(&fit, &x3);
    }

    /// X4: V4 plus six larger agencies and one without responses: 15 have n ≥ 30,
    /// so the five small ones are left out of the estimate (target = pooled rate).
    #[test]
    fn anscombe_scale_overdispersion_large_agencies_only() {
        let mut counts = V4.to_vec();
        counts.extend([
            (12, 150),
            (5, 45),
            (30, 300),
            (2, 35),
            (9, 70),
            (20, 110),
            (0, 0),
        ]);
        let p0 = pooled_rate(&counts);
        assert_close(p0, 0.09967213114754099, 1e-12);
        let fit = estimate_overdispersion(&counts, p0, FunnelScale::Anscombe).unwrap();
        assert_eq!(fit.agencies, 15);
        assert_close(fit.phi, 2.100767842931623, 1e-9);
        assert_close(fit.tau2, 0.003370801517271337, 1e-9);
        assert_close(fit.p_value, 0.004697808661499151, 1e-9);
        #[rustfmt::skip]
        let x4 = [
            [(0.0, 0.0), (0.0, 0.0), (0.35035801792718924, 0.472220331734476), (0.5486045203814578, 0.735659281797397)],
            [(0.0, 0.0), (0.012947049750069049, 0.0073679605430024804), (0.2257913343649548, 0.24403924668887722), (0.3190379325358914, 0.350941289467835)],
            [(0.010488274336720725, 0.024572765552030126), (0.03319188587907749, 0.046310011249492015), (0.19149334333693463, 0.166151014307917), (0.25569522916066156, 0.21164058861834967)],
            [(0.01782208884132625, 0.061072806760130535), (0.04040776730572967, 0.0740985967537138), (0.1805216915129995, 0.12787446067800232), (0.23569414406832873, 0.14569067707313318)],
        ];
        check_limits(&fit, &x4);
    }

    /// `expected[size][level] = (additive, multiplicative)` for SIZES × LEVELS.
    fn check_limits(fit: &Overdispersion, expected: &[[(f64, f64); 4]; 4]) {
        for (n, row) in SIZES.into_iter().zip(expected) {
            for (q, &(additive, multiplicative)) in LEVELS.into_iter().zip(row) {
                assert_close(fit.additive_limit(n, q).unwrap(), additive, 1e-9);
                let multiplicative_limit = fit.multiplicative_limit(n, q).unwrap();
                assert_close(multiplicative_limit, multiplicative, 1e-9);
            }
        }
    }

    #[test]
    fn invalid_input_gives_none() {
        assert_eq!(exact_limit(0, 0.05, UPPER_95), None);
        assert_eq!(exact_limit(10, 0.0, UPPER_95), None);
        assert_eq!(exact_limit(10, 0.05, 1.0), None);
        assert_eq!(
            estimate_overdispersion(&[(1, 10)], 0.1, FunnelScale::Raw),
            None
        );
        assert_eq!(
            estimate_overdispersion(&[(1, 10), (0, 0)], 0.1, FunnelScale::Raw),
            None
        );
        assert_eq!(
            estimate_overdispersion(&[(1, 10), (3, 2)], 0.1, FunnelScale::Raw),
            None
        );
        assert_eq!(estimate_overdispersion(&V4, 0.0, FunnelScale::Raw), None);
        let fit = estimate_overdispersion(&V4, 0.09, FunnelScale::Anscombe);
        assert!(fit.is_some_and(|fit| fit.additive_limit(0, UPPER_998).is_none()));
    }
}
