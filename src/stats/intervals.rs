//! Two-sided interval estimates for a single proportion k/n: Wilson score,
//! Clopper–Pearson and Jeffreys (statistics.md §1), and the [`Interval`] type.
//!
//! All three return `None` when `n == 0` (no data: show "no responses", never 0%),
//! when `k > n`, or when `confidence` is not in (0, 1) (tails below 1e-10 are
//! refused too); the two Beta-based ones also for n ≥ 2·10⁶. Use [`wilson`] next to every displayed rate, [`clopper_pearson`]
//! for "at least 95%" statements, [`jeffreys`] in Bayesian views.

use super::{beta_quantile, normal_quantile, tail_probability};

/// A closed interval `[low, high]` (confidence, credible or difference interval).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies in `[low, high]`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Wilson score interval for `k` events out of `n` at `confidence` (e.g. 0.95).
///
/// Closed form, stays inside [0, 1] and has non-zero width at k = 0 and k = n,
/// where the bound at the boundary is exactly 0 (resp. 1). Accurate for any n.
pub fn wilson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let z = normal_quantile(1.0 - tail_probability(confidence)?)?;
    let (events, size, z2) = (k as f64, n as f64, z * z);
    let centre = (events + z2 / 2.0) / (size + z2);
    let half = z / (size + z2) * (events * (size - events) / size + z2 / 4.0).sqrt();
    let low = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Some(Interval { low, high })
}

/// Clopper–Pearson ("exact") interval: never covers less than `confidence`,
/// but is conservative. Bounds are Beta quantiles; the bound is 0 at k = 0 and 1
/// at k = n. Also `None` for n ≥ 2·10⁶, where statrs' Beta quantile loses accuracy
/// and, near n = 10⁷, never returns — use [`wilson`] for such aggregates.
pub fn clopper_pearson(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let tail = tail_probability(confidence)?;
    let (events, size) = (k as f64, n as f64);
    let low = if k == 0 {
        0.0
    } else {
        beta_quantile(events, size - events + 1.0, tail)?
    };
    let high = if k == n {
        1.0
    } else {
        beta_quantile(events + 1.0, size - events, 1.0 - tail)?
    };
    Some(Interval { low, high })
}

/// Jeffreys interval: the equal-tailed posterior interval of Beta(k + ½, n − k + ½),
/// with the bound set to 0 at k = 0 and 1 at k = n. `None` for n ≥ 2·10⁶ as
/// for [`clopper_pearson`].
pub fn jeffreys(k: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || k > n {
        return None;
    }
    let tail = tail_probability(confidence)?;
    let (a, b) = (k as f64 + 0.5, (n - k) as f64 + 0.5);
    let low = if k == 0 {
        0.0
    } else {
        beta_quantile(a, b, tail)?
    };
    let high = if k == n {
        1.0
    } else {
        beta_quantile(a, b, 1.0 - tail)?
    };
    Some(Interval { low, high })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{assert_close, assert_within};
    use super::*;
    use proptest::prelude::*;
    use statrs::distribution::{Binomial, Discrete};

    type Method = fn(u64, u64, f64) -> Option<Interval>;
    const METHODS: [(&str, Method); 3] = [
        ("wilson", wilson),
        ("clopper_pearson", clopper_pearson),
        ("jeffreys", jeffreys),
    ];

    #[track_caller]
    fn check(method: Method, k: u64, n: u64, confidence: f64, low: f64, high: f64, tol: f64) {
        let interval = method(k, n, confidence).unwrap();
        assert_close(interval.low, low, tol);
        assert_close(interval.high, high, tol);
    }

    /// V1: 95% intervals, columns Wilson lo/hi, Clopper–Pearson lo/hi, Jeffreys lo/hi.
    #[test]
    fn v1_95_percent_intervals() {
        #[rustfmt::skip]
        let rows: [(u64, u64, [f64; 6]); 6] = [
            (0, 10, [0.0, 0.2775327999, 0.0, 0.3084971078, 0.0, 0.2171962675]),
            (1, 10, [0.0178762131, 0.4041500268, 0.002528578544, 0.445016117, 0.01101167376, 0.3813147711]),
            (7, 50, [0.06950833427, 0.2618619371, 0.05819170034, 0.2673960025, 0.06487170115, 0.2553250282]),
            (20, 100, [0.1333669333, 0.2888291656, 0.1266555521, 0.2918426891, 0.1307904154, 0.2862795728]),
            (0, 1, [0.0, 0.7934506856, 0.0, 0.975, 0.0, 0.8532536837]),
            (300, 1000, [0.2724068425, 0.3291238609, 0.2717211121, 0.3294616787, 0.2722061579, 0.3289496539]),
        ];
        for (k, n, expected) in rows {
            for (i, (_, method)) in METHODS.iter().enumerate() {
                // printed to 10 significant digits
                check(
                    *method,
                    k,
                    n,
                    0.95,
                    expected[2 * i],
                    expected[2 * i + 1],
                    1e-9,
                );
            }
        }
    }

    /// V1 extra rows (Wilson and Clopper–Pearson 99.8%) and X1 (Jeffreys 99.8%).
    #[test]
    fn v1_998_percent_intervals() {
        check(wilson, 0, 10, 0.998, 0.0, 0.4884789005, 1e-9);
        check(wilson, 3, 30, 0.998, 0.02034607612, 0.3728199985, 1e-9);
        check(wilson, 12, 100, 0.998, 0.05162365717, 0.2546262552, 1e-9);
        check(clopper_pearson, 0, 10, 0.998, 0.0, 0.4988127664, 1e-9);
        check(
            clopper_pearson,
            3,
            30,
            0.998,
            0.006551292907,
            0.3684652233,
            1e-9,
        );
        check(
            clopper_pearson,
            12,
            100,
            0.998,
            0.04191102897,
            0.2503736001,
            1e-9,
        );
        check(jeffreys, 0, 10, 0.998, 0.0, 0.40989485039849777, 1e-9);
        check(
            jeffreys,
            3,
            30,
            0.998,
            0.01036084285218866,
            0.3454971863539348,
            1e-9,
        );
        check(
            jeffreys,
            12,
            100,
            0.998,
            0.044890529010010026,
            0.2440279114076075,
            1e-9,
        );
    }

    /// X1: n = 10⁶, where statrs' Beta quantile is only good to ~1e-3 (§6.3).
    #[test]
    fn large_n_intervals() {
        check(
            wilson,
            12345,
            1_000_000,
            0.95,
            0.012130446166424584,
            0.01256330043238542,
            1e-9,
        );
        check(
            wilson,
            1,
            1_000_000,
            0.95,
            1.765245767453709e-07,
            5.664911804311442e-06,
            1e-9,
        );
        check(
            clopper_pearson,
            12345,
            1_000_000,
            0.95,
            0.01212949382560612,
            0.012563337660712826,
            1e-3,
        );
        check(
            clopper_pearson,
            1,
            1_000_000,
            0.95,
            2.53178076637942e-08,
            5.571630655166939e-06,
            1e-3,
        );
        check(
            jeffreys,
            12345,
            1_000_000,
            0.95,
            0.012129989496225745,
            0.012562833334317292,
            1e-3,
        );
        check(
            jeffreys,
            1,
            1_000_000,
            0.95,
            1.0789766246541877e-07,
            4.6741920467298275e-06,
            1e-3,
        );
        // beyond the Beta-quantile limit only Wilson answers (k = 1, n = 10⁷ would hang statrs)
        assert!(clopper_pearson(1, 10_000_000, 0.95).is_none());
        assert!(jeffreys(1, 10_000_000, 0.95).is_none());
        assert!(wilson(1, 10_000_000, 0.95).is_some());
    }

    /// V1b: exact coverage of the nominal-95% intervals (printed to 4 decimals).
    #[test]
    fn v1b_exact_coverage() {
        let rows: [(u64, f64, [f64; 3]); 6] = [
            (10, 0.04, [0.9418, 0.9938, 0.9418]),
            (30, 0.04, [0.9694, 0.9937, 0.9694]),
            (30, 0.1, [0.9742, 0.9922, 0.9318]),
            (100, 0.04, [0.9356, 0.9641, 0.9641]),
            (100, 0.5, [0.9431, 0.9648, 0.9431]),
            (500, 0.04, [0.9491, 0.9609, 0.9491]),
        ];
        for (n, p, expected) in rows {
            let binomial = Binomial::new(p, n).unwrap();
            for ((_, method), expected) in METHODS.iter().zip(expected) {
                let coverage: f64 = (0..=n)
                    .filter(|&k| method(k, n, 0.95).is_some_and(|i| i.contains(p)))
                    .map(|k| binomial.pmf(k))
                    .sum();
                assert_within(coverage, expected, 5.1e-5);
            }
        }
    }

    /// V7 (last table): Wilson 95% half-width at p̂ ≈ 0.5 / 0.9 / 0.04
    /// (k = round-half-even(p̂·n), as the reference script does), 3 decimals.
    #[test]
    fn v7_wilson_half_widths() {
        let rows: [(u64, [(u64, f64); 3]); 8] = [
            (5, [(2, 0.326), (4, 0.294), (0, 0.217)]),
            (10, [(5, 0.263), (9, 0.193), (0, 0.139)]),
            (20, [(10, 0.201), (18, 0.137), (1, 0.114)]),
            (30, [(15, 0.168), (27, 0.111), (1, 0.080)]),
            (50, [(25, 0.134), (45, 0.085), (2, 0.062)]),
            (100, [(50, 0.096), (90, 0.060), (4, 0.041)]),
            (400, [(200, 0.049), (360, 0.030), (16, 0.020)]),
            (1000, [(500, 0.031), (900, 0.019), (40, 0.012)]),
        ];
        for (n, cells) in rows {
            for (k, half_width) in cells {
                let interval = wilson(k, n, 0.95).unwrap();
                assert_within((interval.high - interval.low) / 2.0, half_width, 5.1e-4);
            }
        }
    }

    #[test]
    fn invalid_input_gives_none() {
        for (_, method) in METHODS {
            assert_eq!(method(0, 0, 0.95), None);
            assert_eq!(method(11, 10, 0.95), None);
            for confidence in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
                assert_eq!(method(3, 10, confidence), None);
            }
        }
    }

    fn counts_and_confidence() -> impl Strategy<Value = (u64, u64, f64)> {
        (
            1u64..2000,
            prop::sample::select(vec![0.8, 0.9, 0.95, 0.99, 0.998]),
        )
            .prop_flat_map(|(n, confidence)| (0..=n, Just(n), Just(confidence)))
    }

    proptest! {
        #[test]
        fn intervals_are_valid_and_contain_the_estimate((k, n, confidence) in counts_and_confidence()) {
            for (name, method) in METHODS {
                let interval = method(k, n, confidence).unwrap();
                prop_assert!(0.0 <= interval.low && interval.high <= 1.0, "{name}: {interval:?}");
                prop_assert!(interval.low <= interval.high, "{name}: {interval:?}");
                prop_assert!(interval.contains(k as f64 / n as f64), "{name}: {interval:?} for {k}/{n}");
            }
        }

        #[test]
        fn bounds_do_not_decrease_with_k((k, n, confidence) in counts_and_confidence()) {
            prop_assume!(k < n);
            for (name, method) in METHODS {
                let this = method(k, n, confidence).unwrap();
                let next = method(k + 1, n, confidence).unwrap();
                prop_assert!(this.low <= next.low, "{name}: {this:?} then {next:?} at k = {k}, n = {n}");
                prop_assert!(this.high <= next.high, "{name}: {this:?} then {next:?} at k = {k}, n = {n}");
            }
        }
    }
}
