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

/// A Bernoulli CUSUM on an integer lattice with its decision limit calibrated to a target
/// in-control run length (statistics.md §0.1, §4.4): a non-event moves the statistic one step
/// down (one step = |ln((1 − p1)/(1 − p0))|), an event `up` steps up (≈ ln(p1/p0), rounded), and
/// the chart signals at `limit` steps. On the lattice the in-control average run length is
/// exact (Markov chain, Brook & Evans 1972), so the limit can be set from an agency's own volume
/// and baseline: a quiet commune and a busy department get the same false-signal rate per year.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatticeCusum {
    /// The in-control rate the chart was designed for.
    pub p0: f64,
    /// The size of one step in log-likelihood-ratio units.
    pub step: f64,
    /// Steps up for an event.
    pub up: u32,
    /// The decision limit in steps.
    pub limit: u32,
}

/// Years of an agency's own volume per false early-warning signal the chart is designed for
/// (with the margin of [`in_control_rate`] the real rate is lower: see the simulation study).
pub const EARLY_WARNING_YEARS: f64 = 100.0;

/// The in-control rate an early warning is designed for: the agency's own rate, Beta(α, β) after
/// its history, taken one standard deviation above its mean. An underestimated in-control rate
/// makes a CUSUM signal far more often than designed; this margin keeps that rare.
pub fn in_control_rate(alpha: f64, beta: f64) -> f64 {
    let total = alpha + beta;
    let mean = alpha / total;
    mean + (mean * (1.0 - mean) / (total + 1.0)).sqrt()
}

/// The smallest in-control rate a chart is designed for: a rarer baseline is treated as this,
/// which only lengthens its in-control run (fewer false signals).
pub const MIN_CUSUM_P0: f64 = 0.002;
/// The largest in-control rate (p1 = 2·p0 must stay below 1).
pub const MAX_CUSUM_P0: f64 = 0.45;

/// Designs are computed on a grid (p0 in 2% steps, run lengths in 5% steps, rounded up) and
/// cached for the life of the process.
static DESIGNS: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<(i32, i32), LatticeCusum>>,
> = std::sync::OnceLock::new();

impl LatticeCusum {
    /// The chart detecting a doubling of `p0` whose in-control average run length is at least
    /// `in_control_arl` responses. `None` for a p0 that is not a probability or a run length
    /// below 1.
    pub fn calibrated(p0: f64, in_control_arl: f64) -> Option<LatticeCusum> {
        if !(p0 > 0.0 && p0 < 1.0 && in_control_arl.is_finite() && in_control_arl >= 1.0) {
            return None;
        }
        let p0_key = (p0.clamp(MIN_CUSUM_P0, MAX_CUSUM_P0).ln() / 1.02_f64.ln()).round() as i32;
        let arl_key = (in_control_arl.ln() / 1.05_f64.ln()).ceil() as i32;
        let cache = DESIGNS.get_or_init(Default::default);
        if let Some(found) = cache
            .lock()
            .ok()
            .and_then(|c| c.get(&(p0_key, arl_key)).copied())
        {
            return Some(found);
        }
        let design = Self::design(
            1.02_f64.powi(p0_key).min(MAX_CUSUM_P0),
            1.05_f64.powi(arl_key),
        )?;
        if let Ok(mut c) = cache.lock() {
            c.insert((p0_key, arl_key), design);
        }
        Some(design)
    }

    fn design(p0: f64, target: f64) -> Option<LatticeCusum> {
        let p1 = 2.0 * p0;
        let step = ((1.0 - p1) / (1.0 - p0)).ln().abs();
        let up = ((p1 / p0).ln() / step).round().max(1.0) as u32;
        let mut chart = LatticeCusum {
            p0,
            step,
            up,
            limit: up,
        };
        // Grow the limit until the run length is long enough, then bisect.
        let mut high = up;
        while chart.with_limit(high).in_control_arl()? < target {
            high = high.checked_mul(2)?;
            if high > 20_000_000 {
                return None;
            }
        }
        let mut low = 1;
        while low < high {
            let mid = low + (high - low) / 2;
            if chart.with_limit(mid).in_control_arl()? >= target {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        chart.limit = high;
        Some(chart)
    }

    fn with_limit(&self, limit: u32) -> LatticeCusum {
        LatticeCusum { limit, ..*self }
    }

    /// The average run length from 0 when events occur at `p0`: the solution of
    /// L(s) = 1 + q·L(max(s − 1, 0)) + p·L(s + up) (L = 0 at or above the limit), by banded
    /// elimination (each row after elimination spans `up` + 1 columns).
    pub fn in_control_arl(&self) -> Option<f64> {
        self.average_run_length(self.p0)
    }

    /// The average run length from 0 when events occur at `p`.
    pub fn average_run_length(&self, p: f64) -> Option<f64> {
        let h = self.limit as usize;
        let up = self.up as usize;
        if h == 0 || !(0.0..=1.0).contains(&p) {
            return None;
        }
        let q = 1.0 - p;
        // Row s: coefficients for columns s..=s+up (index 0 is the diagonal), and the right side.
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(h);
        let mut rhs: Vec<f64> = Vec::with_capacity(h);
        for s in 0..h {
            let mut row = vec![0.0; up + 1];
            row[0] = if s == 0 { 1.0 - q } else { 1.0 };
            if s + up < h {
                row[up] -= p;
            }
            let mut b = 1.0;
            if s > 0 {
                // Eliminate −q·L(s − 1) with the already reduced row s − 1.
                let previous = &rows[s - 1];
                let factor = -q / previous[0];
                // previous covers columns s−1 ..= s−1+up; row covers s ..= s+up.
                for j in 1..=up {
                    row[j - 1] -= factor * previous[j];
                }
                b -= factor * rhs[s - 1];
            }
            if row[0].abs() < f64::MIN_POSITIVE {
                return None;
            }
            rows.push(row);
            rhs.push(b);
        }
        let mut value = vec![0.0; h];
        for s in (0..h).rev() {
            let row = &rows[s];
            let mut b = rhs[s];
            for (j, coefficient) in row.iter().enumerate().skip(1) {
                if s + j < h {
                    b -= coefficient * value[s + j];
                }
            }
            value[s] = b / row[0];
        }
        value.first().copied().filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Runs the chart from 0 over responses in time order: the final statistic (in
    /// log-likelihood-ratio units) and whether it reached the limit.
    pub fn run(&self, events: impl IntoIterator<Item = bool>) -> (f64, bool) {
        let mut steps: u64 = 0;
        let mut signalled = false;
        for event in events {
            steps = self.next(steps, event);
            signalled |= self.signals(steps);
        }
        (steps as f64 * self.step, signalled)
    }

    /// The statistic (in steps) after one more response.
    pub fn next(&self, steps: u64, event: bool) -> u64 {
        if event {
            steps + u64::from(self.up)
        } else {
            steps.saturating_sub(1)
        }
    }

    /// True when the statistic (in steps) is at or above the limit.
    pub fn signals(&self, steps: u64) -> bool {
        steps >= u64::from(self.limit)
    }

    /// The decision limit in log-likelihood-ratio units.
    pub fn limit_llr(&self) -> f64 {
        f64::from(self.limit) * self.step
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::assert_close;
    use super::*;
    use proptest::prelude::*;
    use std::f64::consts::LN_2;

    /// Run lengths of the lattice chart against an independent dense solve of the same Markov
    /// chain (numpy.linalg.solve, `A = I − P`, in Python; values printed with repr()).
    #[test]
    fn lattice_run_lengths_match_a_dense_solve() {
        for (p0, limit, in_control, doubled) in [
            (
                0.04_f64,
                150_u32,
                76996.92466120828_f64,
                365.0136080931881_f64,
            ),
            (0.04, 60, 1059.4983272985917, 119.59197377349712),
            (0.1, 40, 3037.178080328262, 85.34325585584796),
            (0.01, 400, 22677.808561003443, 858.1514044348019),
        ] {
            let step: f64 = ((1.0 - 2.0 * p0) / (1.0_f64 - p0)).ln().abs();
            let chart = LatticeCusum {
                p0,
                step,
                up: (LN_2 / step).round() as u32,
                limit,
            };
            assert_close(chart.in_control_arl().unwrap(), in_control, 1e-9);
            assert_close(chart.average_run_length(2.0 * p0).unwrap(), doubled, 1e-9);
        }
    }

    #[test]
    fn calibrated_limits_follow_volume_and_baseline() {
        // A commune with 200 answers a year and a department with 50,000, one false signal per
        // 100 years each.
        for (p0, per_year) in [
            (0.04, 200.0),
            (0.04, 50_000.0),
            (0.01, 2_000.0),
            (0.2, 500.0),
        ] {
            let target = 100.0 * per_year;
            let chart = LatticeCusum::calibrated(p0, target).unwrap();
            let arl = chart.in_control_arl().unwrap();
            assert!(arl >= target, "{p0} {per_year}: {arl} < {target}");
            let tighter = LatticeCusum {
                limit: chart.limit - 1,
                ..chart
            };
            assert!(
                tighter.in_control_arl().unwrap() < target * 1.05,
                "smallest limit"
            );
        }
        let quiet = LatticeCusum::calibrated(0.04, 20_000.0).map(|c| c.limit_llr());
        let busy = LatticeCusum::calibrated(0.04, 5_000_000.0).map(|c| c.limit_llr());
        assert!(quiet < busy, "{quiet:?} {busy:?}");
        assert!(LatticeCusum::calibrated(0.0, 100.0).is_none());
        assert!(LatticeCusum::calibrated(0.04, 0.5).is_none());
    }

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
