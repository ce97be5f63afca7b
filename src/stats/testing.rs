//! Hypothesis tests across agencies: the exact one-sided binomial test against a
//! baseline (and its mid-p variant), and Benjamini–Hochberg FDR adjustment
//! (statistics.md §3.1–3.2).

use statrs::distribution::{Binomial, Discrete, DiscreteCDF};

/// Binomial(n, p0) for a valid test: `None` if `n == 0` (not a test: agencies
/// without responses stay out of the family), `k > n`, or `p0` outside [0, 1].
fn null_distribution(k: u64, n: u64, p0: f64) -> Option<Binomial> {
    if n == 0 || k > n {
        return None;
    }
    Binomial::new(p0, n).ok()
}

/// Exact one-sided p-value P(X ≥ k) for X ~ Binomial(n, p0), testing
/// H0: p ≤ p0 against H1: p > p0. Equals 1 when `k == 0`.
/// `None` if `n == 0`, `k > n` or `p0` is not in [0, 1]. statrs' binomial tail is
/// accurate to ~1e-9 up to n = 10⁵ and ~2e-3 at 10⁶ (statistics.md §6.3).
pub fn binomial_upper_p_value(k: u64, n: u64, p0: f64) -> Option<f64> {
    let null = null_distribution(k, n, p0)?;
    Some(if k == 0 { 1.0 } else { null.sf(k - 1) })
}

/// Mid-p variant P(X > k) + ½·P(X = k): less conservative than
/// [`binomial_upper_p_value`], but not a valid p-value bound. Same `None` cases.
pub fn binomial_upper_mid_p(k: u64, n: u64, p0: f64) -> Option<f64> {
    let null = null_distribution(k, n, p0)?;
    Some(null.sf(k) + 0.5 * null.pmf(k))
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the order of the input:
/// p̃(i) = min over j ≥ i of min(1, m·p(j)/j) for the ascending order p(1) ≤ … ≤ p(m).
///
/// The family should be one indicator and period, agencies with n ≥ 1 only.
/// Input values are expected in [0, 1]; values outside are clamped and NaN is
/// treated as 1 (never significant).
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let sanitized: Vec<f64> = p_values
        .iter()
        .map(|&p| if p.is_nan() { 1.0 } else { p.clamp(0.0, 1.0) })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| sanitized[a].total_cmp(&sanitized[b]));

    let mut adjusted = vec![1.0; m];
    let mut running_min = 1.0_f64;
    for (rank0, &index) in order.iter().enumerate().rev() {
        // m / rank ≥ 1 is rounded first, so the product never falls below p
        let scaled = sanitized[index] * (m as f64 / (rank0 + 1) as f64);
        running_min = running_min.min(scaled);
        adjusted[index] = running_min;
    }
    adjusted
}

/// Which hypotheses Benjamini–Hochberg rejects at FDR level `q` (adjusted p ≤ q),
/// in the order of the input.
pub fn benjamini_hochberg_significant(p_values: &[f64], q: f64) -> Vec<bool> {
    benjamini_hochberg(p_values)
        .into_iter()
        .map(|adjusted| adjusted <= q)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{assert_close, assert_within};
    use super::*;
    use proptest::prelude::*;

    /// V3 agencies: (k, n, exact p, mid-p, BH-adjusted p, reject at 0.05, reject at 0.10).
    #[rustfmt::skip]
    const V3: [(u64, u64, f64, f64, f64, bool, bool); 10] = [
        (3, 10, 0.006213715992, 0.003328157676, 0.008876737131, true, true),
        (5, 20, 0.0009582755576, 0.0005279647873, 0.001916551115, true, true),
        (2, 50, 0.5995188033, 0.4614023996, 0.6661320037, false, false),
        (9, 60, 0.0006092439241, 0.0003676368872, 0.001916551115, true, true),
        (1, 5, 0.1846273024, 0.0996926464, 0.230784128, false, false),
        (12, 100, 0.0006683483363, 0.0004257310033, 0.001916551115, true, true),
        (30, 400, 0.0008759443963, 0.0006495259214, 0.001916551115, true, true),
        (4, 15, 0.00244969493, 0.001334563172, 0.004082824884, true, true),
        (0, 30, 1.0, 0.8530711784, 1.0, false, false),
        (25, 300, 0.0005126240262, 0.0003661299467, 0.001916551115, true, true),
    ];

    #[test]
    fn v3_exact_tests_and_benjamini_hochberg() {
        let mut p_values = Vec::new();
        for (k, n, exact, mid, ..) in V3 {
            let p = binomial_upper_p_value(k, n, 0.04).unwrap();
            assert_close(p, exact, 1e-9);
            assert_close(binomial_upper_mid_p(k, n, 0.04).unwrap(), mid, 1e-9);
            p_values.push(p);
        }
        let adjusted = benjamini_hochberg(&p_values);
        let significant_05 = benjamini_hochberg_significant(&p_values, 0.05);
        let significant_10 = benjamini_hochberg_significant(&p_values, 0.10);
        for (i, (.., expected, reject_05, reject_10)) in V3.into_iter().enumerate() {
            assert_close(adjusted[i], expected, 1e-9);
            assert_eq!(significant_05[i], reject_05);
            assert_eq!(significant_10[i], reject_10);
        }
        assert_eq!(significant_05.iter().filter(|&&s| s).count(), 7);
    }

    /// X9: ties and unsorted input (scipy `false_discovery_control`).
    #[test]
    fn benjamini_hochberg_with_ties() {
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.04, 0.03, 0.5, 0.0001, 1.0]);
        let expected = [0.035, 0.056, 0.056, 0.056, 0.5833333333333334, 0.0007, 1.0];
        assert_eq!(adjusted.len(), expected.len());
        for (a, e) in adjusted.into_iter().zip(expected) {
            assert_close(a, e, 1e-12);
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(
            benjamini_hochberg(&[f64::NAN, -0.1, 2.0]),
            vec![1.0, 0.0, 1.0]
        );
    }

    /// V7: smallest k with exact p ≤ 0.001 / 0.025 at p0 = 0.04, and the power
    /// P(X ≥ k*) at true rates 0.12 and 0.20 (printed to 3 decimals).
    #[test]
    fn v7_detectability() {
        // n, then per level: (level, k*, power at 0.12, power at 0.20)
        type Row = (u64, [(f64, u64, f64, f64); 2]);
        #[rustfmt::skip]
        let rows: [Row; 8] = [
            (5, [(0.001, 3, 0.014, 0.058), (0.025, 2, 0.112, 0.263)]),
            (10, [(0.001, 4, 0.024, 0.121), (0.025, 3, 0.109, 0.322)]),
            (20, [(0.001, 5, 0.083, 0.370), (0.025, 4, 0.213, 0.589)]),
            (30, [(0.001, 7, 0.061, 0.393), (0.025, 5, 0.288, 0.745)]),
            (50, [(0.001, 8, 0.247, 0.810), (0.025, 6, 0.565, 0.952)]),
            (100, [(0.001, 12, 0.546, 0.987), (0.025, 9, 0.861, 0.999)]),
            (200, [(0.001, 19, 0.887, 1.000), (0.025, 15, 0.985, 1.000)]),
            (500, [(0.001, 36, 1.000, 1.000), (0.025, 30, 1.000, 1.000)]),
        ];
        for (n, cells) in rows {
            for (level, smallest_k, power_12, power_20) in cells {
                let k = (0..=n)
                    .find(|&k| binomial_upper_p_value(k, n, 0.04).is_some_and(|p| p <= level));
                assert_eq!(k, Some(smallest_k), "n = {n}, level = {level}");
                let power = |rate| binomial_upper_p_value(smallest_k, n, rate).unwrap();
                assert_within(power(0.12), power_12, 5.1e-4);
                assert_within(power(0.20), power_20, 5.1e-4);
            }
        }
    }

    #[test]
    fn invalid_tests_give_none() {
        assert_eq!(binomial_upper_p_value(0, 0, 0.04), None);
        assert_eq!(binomial_upper_p_value(5, 4, 0.04), None);
        assert_eq!(binomial_upper_p_value(1, 4, 1.5), None);
        assert_eq!(binomial_upper_mid_p(0, 0, 0.04), None);
        assert_eq!(binomial_upper_mid_p(1, 4, -0.1), None);
    }

    proptest! {
        #[test]
        fn q_values_lie_in_unit_interval_and_follow_p(p_values in prop::collection::vec(0.0..=1.0_f64, 0..60)) {
            let adjusted = benjamini_hochberg(&p_values);
            prop_assert_eq!(adjusted.len(), p_values.len());
            for (i, &q) in adjusted.iter().enumerate() {
                prop_assert!((0.0..=1.0).contains(&q));
                prop_assert!(q >= p_values[i]);
                for (j, &other) in adjusted.iter().enumerate() {
                    if p_values[i] <= p_values[j] {
                        prop_assert!(q <= other, "p {} -> q {}, p {} -> q {}", p_values[i], q, p_values[j], other);
                    }
                }
            }
        }
    }
}
