//! Early-warning control charts for one agency over time (statistics.md §4.4–4.5):
//! the Bernoulli CUSUM over individual responses and the EWMA of monthly rates.

use super::is_open_probability;

/// Default CUSUM decision limit h (in-control ARL ≈ 5 000 responses at p0 = 0.04).
pub const DEFAULT_CUSUM_LIMIT: f64 = 4.0;
/// Default EWMA smoothing weight λ.
pub const DEFAULT_EWMA_LAMBDA: f64 = 0.2;
/// Default EWMA control-limit width L, in standard deviations of the statistic.
pub const DEFAULT_EWMA_LIMIT_SIGMAS: f64 = 3.0;

/// Parameters of a Bernoulli CUSUM: in-control rate `p0`, out-of-control rate
/// `p1` to detect, and decision limit `h`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CusumDesign {
    /// In-control event rate (province baseline or the agency's own earlier rate).
    pub p0: f64,
    /// Out-of-control rate the chart is tuned to detect (> p0).
    pub p1: f64,
    /// Decision limit: signal when S_t ≥ h.
    pub h: f64,
}

impl CusumDesign {
    /// The default design: detect a doubling (p1 = 2·p0) with h = 4.
    pub fn with_defaults(p0: f64) -> Self {
        Self {
            p0,
            p1: 2.0 * p0,
            h: DEFAULT_CUSUM_LIMIT,
        }
    }

    /// Increment for an event, ln(p1/p0) (positive).
    pub fn event_weight(&self) -> f64 {
        (self.p1 / self.p0).ln()
    }

    /// Increment for a non-event, ln((1 − p1)/(1 − p0)) (negative).
    pub fn non_event_weight(&self) -> f64 {
        ((1.0 - self.p1) / (1.0 - self.p0)).ln()
    }

    fn is_valid(&self) -> bool {
        0.0 < self.p0 && self.p0 < self.p1 && self.p1 < 1.0 && self.h > 0.0 && self.h.is_finite()
    }
}

/// Result of running a CUSUM over a sequence of responses.
#[derive(Clone, Debug, PartialEq)]
pub struct CusumRun {
    /// S_t after each response (same length as the input), never negative.
    pub path: Vec<f64>,
    /// 0-based index of the first response at which S_t ≥ h, if any
    /// (statistics.md counts from 1: its t = 188 is index 187).
    pub first_signal: Option<usize>,
}

/// Bernoulli CUSUM over responses in time order (`true` = event):
/// S_0 = 0, S_t = max(0, S_{t−1} + w), w = [`CusumDesign::event_weight`] for an
/// event and [`CusumDesign::non_event_weight`] otherwise; signal when S_t ≥ h.
///
/// The path is not reset after a signal (resetting once the case has been
/// reviewed is the caller's decision). `None` unless 0 < p0 < p1 < 1 and h is
/// positive and finite (so the doubling default needs p0 < 0.5).
pub fn bernoulli_cusum(events: &[bool], design: &CusumDesign) -> Option<CusumRun> {
    if !design.is_valid() {
        return None;
    }
    let (event_weight, non_event_weight) = (design.event_weight(), design.non_event_weight());
    let mut statistic = 0.0_f64;
    let path: Vec<f64> = events
        .iter()
        .map(|&event| {
            let weight = if event {
                event_weight
            } else {
                non_event_weight
            };
            statistic = (statistic + weight).max(0.0);
            statistic
        })
        .collect();
    let first_signal = path.iter().position(|&s| s >= design.h);
    Some(CusumRun { path, first_signal })
}

/// Parameters of an EWMA chart of monthly proportions around target `p0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EwmaDesign {
    /// Target rate the chart starts at and is centred on.
    pub p0: f64,
    /// Smoothing weight λ of the newest month, in (0, 1].
    pub lambda: f64,
    /// Control-limit width L in standard deviations.
    pub limit_sigmas: f64,
}

impl EwmaDesign {
    /// λ = 0.2, L = 3.
    pub fn with_defaults(p0: f64) -> Self {
        Self {
            p0,
            lambda: DEFAULT_EWMA_LAMBDA,
            limit_sigmas: DEFAULT_EWMA_LIMIT_SIGMAS,
        }
    }
}

/// One month of an EWMA chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EwmaPoint {
    /// Smoothed rate Z_t.
    pub statistic: f64,
    /// p0 − L·√Var(Z_t), at least 0.
    pub lower: f64,
    /// p0 + L·√Var(Z_t), at most 1.
    pub upper: f64,
}

impl EwmaPoint {
    /// Signal for indicators where high is bad (harassment, repeat visits, lateness).
    pub fn above_upper(&self) -> bool {
        self.statistic > self.upper
    }

    /// Signal for indicators where low is bad (satisfaction).
    pub fn below_lower(&self) -> bool {
        self.statistic < self.lower
    }
}

/// EWMA of monthly proportions `(k, n)` with exact time-varying limits:
/// Z_0 = p0, Z_t = λ·k_t/n_t + (1 − λ)·Z_{t−1};
/// Var(Z_0) = 0, Var(Z_t) = (1 − λ)²·Var(Z_{t−1}) + λ²·p0(1 − p0)/n_t.
///
/// A month with n = 0 carries Z and its variance over unchanged (no observation)
/// but still gets a point, so points align with months. `None` if any `k > n`,
/// `p0` is not strictly between 0 and 1, λ is not in (0, 1], or L is not positive.
pub fn ewma(monthly: &[(u64, u64)], design: &EwmaDesign) -> Option<Vec<EwmaPoint>> {
    let EwmaDesign {
        p0,
        lambda,
        limit_sigmas,
    } = *design;
    let valid = is_open_probability(p0) && 0.0 < lambda && lambda <= 1.0 && limit_sigmas > 0.0;
    if !valid || monthly.iter().any(|&(k, n)| k > n) {
        return None;
    }
    let (mut statistic, mut variance) = (p0, 0.0_f64);
    let points = monthly
        .iter()
        .map(|&(k, n)| {
            if n > 0 {
                statistic = lambda * (k as f64 / n as f64) + (1.0 - lambda) * statistic;
                variance = (1.0 - lambda).powi(2) * variance
                    + lambda * lambda * p0 * (1.0 - p0) / n as f64;
            }
            let half_width = limit_sigmas * variance.sqrt();
            EwmaPoint {
                statistic,
                lower: (p0 - half_width).max(0.0),
                upper: (p0 + half_width).min(1.0),
            }
        })
        .collect();
    Some(points)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::assert_close;
    use super::*;
    use proptest::prelude::*;
    use std::f64::consts::LN_2;

    /// V5 worked sequence: 150 responses at p = 0.04, then 150 at p = 0.15.
    const V5_RESPONSES: [&str; 5] = [
        "000000100000000000000000100000001000010000000000000000000000",
        "000000000000000000000000000000100000101000000000000000100000",
        "100000000000000000000000000000000000000100010000000000100001",
        "000001110000100010000000010001001000001000000100000000010000",
        "000010100000000010001011110000000000100000100000001000000000",
    ];

    fn v5_events() -> Vec<bool> {
        V5_RESPONSES.concat().chars().map(|c| c == '1').collect()
    }

    #[test]
    fn v5_weights() {
        let design = CusumDesign::with_defaults(0.04);
        assert_close(design.p1, 0.08, 1e-15);
        assert_close(design.event_weight(), LN_2, 1e-15); // V5: 0.6931471806
        assert_close(design.non_event_weight(), -0.04255961442, 1e-9);
    }

    /// V5 (S_t after each event up to the signal; full precision from X7) and the
    /// first signal at t = 188 with S = 4.657639327.
    #[test]
    fn v5_worked_sequence() {
        let events = v5_events();
        assert_eq!(events.len(), 300);
        let run = bernoulli_cusum(&events, &CusumDesign::with_defaults(0.04)).unwrap();
        assert_eq!(run.path.len(), 300);
        #[rustfmt::skip]
        let after_events = [
            (7, LN_2), (25, LN_2), (33, 1.0883770601883194),
            (38, 1.6112857830730811), (91, LN_2), (97, 1.1734962890259113),
            (99, 1.8240838551670606), (115, 1.878836819445068), (121, 2.359185927911034),
            (160, 1.435067760556735), (164, 2.0005360978602926), (175, 2.2680871342322795),
            (180, 2.7909958571170406), (186, 3.2713449655830056), (187, 3.964492146142951),
            (188, 4.657639326702896),
        ];
        let event_times: Vec<usize> = (1..=188).filter(|&t| events[t - 1]).collect();
        assert_eq!(event_times, after_events.map(|(t, _)| t).to_vec());
        for (t, expected) in after_events {
            assert_close(run.path[t - 1], expected, 1e-12);
        }
        assert_eq!(run.first_signal, Some(187));
        assert_close(run.path[187], 4.657639327, 1e-9);
        assert_close(run.path[299], 13.869391616393864, 1e-12);
    }

    /// V9 EWMA table (8 decimals) and X6 (full precision, with the lower limit).
    #[test]
    fn v9_ewma() {
        let monthly = [
            (2, 50),
            (1, 40),
            (3, 60),
            (2, 55),
            (0, 30),
            (2, 45),
            (5, 50),
            (6, 52),
            (4, 40),
            (7, 60),
            (6, 48),
            (8, 55),
        ];
        #[rustfmt::skip]
        let expected = [
            (0.04, 0.02337231224733878, 0.05662768775266122),
            (0.037, 0.017140708672401937, 0.06285929132759807),
            (0.0396, 0.016233843221925847, 0.06376615677807415),
            (0.03895272727272728, 0.015244459455195598, 0.0647555405448044),
            (0.031162181818181825, 0.010793570158167377, 0.06920642984183262),
            (0.03381863434343435, 0.01079161168041327, 0.06920838831958673),
            (0.047054907474747484, 0.011321032674348731, 0.06867896732565126),
            (0.060720849056721066, 0.011853323808302892, 0.0681466761916971),
            (0.06857667924537686, 0.010800160212601176, 0.06919983978739883),
            (0.07819467672963483, 0.012141722739726954, 0.06785827726027305),
            (0.08755574138370788, 0.011987618601365619, 0.06801238139863439),
            (0.0991355021978754, 0.012549147518084405, 0.0674508524819156),
        ];
        let points = ewma(&monthly, &EwmaDesign::with_defaults(0.04)).unwrap();
        assert_eq!(points.len(), 12);
        for (month, (point, (statistic, lower, upper))) in points.iter().zip(expected).enumerate() {
            assert_close(point.statistic, statistic, 1e-12);
            assert_close(point.lower, lower, 1e-12);
            assert_close(point.upper, upper, 1e-12);
            // V9 "signal" column: months 10, 11, 12
            assert_eq!(point.above_upper(), month >= 9, "month {}", month + 1);
            assert!(!point.below_lower());
        }
    }

    #[test]
    fn ewma_carries_over_months_without_responses() {
        let design = EwmaDesign::with_defaults(0.04);
        let points = ewma(&[(0, 0), (3, 50), (0, 0)], &design).unwrap();
        assert_eq!(
            points[0],
            EwmaPoint {
                statistic: 0.04,
                lower: 0.04,
                upper: 0.04
            }
        );
        assert_eq!(points[2], points[1]);
        assert!(ewma(&[(3, 2)], &design).is_none());
        assert!(ewma(&[(1, 2)], &EwmaDesign::with_defaults(0.0)).is_none());
    }

    #[test]
    fn invalid_cusum_designs_give_none() {
        let events = [true, false];
        assert!(bernoulli_cusum(&events, &CusumDesign::with_defaults(0.0)).is_none());
        assert!(bernoulli_cusum(&events, &CusumDesign::with_defaults(0.5)).is_none());
        let no_limit = CusumDesign {
            h: 0.0,
            ..CusumDesign::with_defaults(0.1)
        };
        assert!(bernoulli_cusum(&events, &no_limit).is_none());
    }

    proptest! {
        #[test]
        fn cusum_is_never_negative(
            events in prop::collection::vec(any::<bool>(), 0..400),
            p0 in 0.001..0.45_f64,
            h in 0.5..8.0_f64,
        ) {
            let design = CusumDesign { h, ..CusumDesign::with_defaults(p0) };
            let run = bernoulli_cusum(&events, &design).unwrap();
            prop_assert_eq!(run.path.len(), events.len());
            prop_assert!(run.path.iter().all(|&s| s >= 0.0));
            prop_assert_eq!(run.first_signal, run.path.iter().position(|&s| s >= h));
        }
    }
}
