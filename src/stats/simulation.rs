//! The simulation study of the flag rule (statistics.md, docs/statistics.md): synthetic
//! provinces whose problem agencies are known, the product's flags on them, and the ideal
//! classifier that knows the generator's parameters, scored side by side.
//!
//! A scenario draws provinces with a province effect, three levels with their own rates,
//! heavy-tailed agency sizes (log-normal around a median, plus a few service centres with tens of
//! thousands of answers), natural spread between agencies (Beta concentration φ), and problem
//! agencies whose rate is 3–6 × their own normal rate, some only for the last part of the
//! period. The null scenario has no problem agencies.

use statrs::distribution::{Beta, ContinuousCDF};

use super::Severity;
use super::flagging::{FlagInput, FlagPolicy, INDICATORS, flag_province};

/// A deterministic random generator (SplitMix64): the same seed gives the same provinces.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Gamma(shape, 1) (Marsaglia–Tsang; boosted for shape < 1).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform().max(1e-300);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform().max(1e-300);
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    /// Beta(a, b).
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }

    /// Binomial(n, p): exact for n ≤ 2 000, else normal (or Poisson for a rare event).
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n <= 2_000 {
            return (0..n).filter(|_| self.uniform() < p).count() as u64;
        }
        let mean = n as f64 * p;
        let variance = mean * (1.0 - p);
        if variance >= 9.0 {
            let draw = (mean + variance.sqrt() * self.normal()).round();
            return draw.clamp(0.0, n as f64) as u64;
        }
        // Poisson(mean) by multiplication (mean < 10 here).
        let limit = (-mean).exp();
        let mut product = self.uniform();
        let mut k = 0;
        while product > limit {
            product *= self.uniform();
            k += 1;
        }
        k.min(n)
    }
}

/// What a scenario draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: &'static str,
    pub provinces: usize,
    pub agencies_per_province: usize,
    /// Median answers per agency and year (commune level).
    pub median_answers: f64,
    /// Natural spread: Beta concentration φ of normal agencies' rates.
    pub concentration: f64,
    /// Share of agencies with a problem, per indicator (0 for the null scenario).
    pub problem_share: f64,
    /// Problem agencies' rate is U(low, high) × their normal rate.
    pub elevation: (f64, f64),
    /// Share of problems that start during the period (active for 30–70% of it).
    pub late_onset_share: f64,
}

impl Scenario {
    /// The scenarios of docs/statistics.md, at `agencies_per_province` × `provinces`.
    pub fn standard(provinces: usize, agencies_per_province: usize) -> Vec<Scenario> {
        let base = Scenario {
            name: "moderate",
            provinces,
            agencies_per_province,
            median_answers: 60.0,
            concentration: 150.0,
            problem_share: 0.05,
            elevation: (3.0, 6.0),
            late_onset_share: 0.3,
        };
        vec![
            Scenario {
                name: "mild spread (φ 300), median 120",
                concentration: 300.0,
                median_answers: 120.0,
                ..base.clone()
            },
            Scenario {
                name: "moderate spread (φ 150), median 60",
                ..base.clone()
            },
            Scenario {
                name: "strong spread (φ 50), median 60",
                concentration: 50.0,
                ..base.clone()
            },
            Scenario {
                name: "strong spread (φ 50), median 25",
                concentration: 50.0,
                median_answers: 25.0,
                ..base.clone()
            },
            Scenario {
                name: "null (no problem agency), φ 50",
                concentration: 50.0,
                problem_share: 0.0,
                ..base
            },
        ]
    }
}

/// Normal rates of the two indicators (harassment, repeat visits) before province and level
/// effects.
const BASE_RATES: [f64; INDICATORS] = [0.04, 0.07];
/// Level multipliers (province departments, districts, communes) per indicator.
const LEVEL_EFFECTS: [[f64; INDICATORS]; 3] = [[1.5, 1.3], [1.0, 1.1], [0.75, 0.85]];
/// Level shares of agencies and their size multipliers.
const LEVEL_SHARES: [f64; 3] = [0.12, 0.08, 0.80];
const LEVEL_SIZES: [f64; 3] = [3.0, 2.0, 1.0];

/// One simulated agency.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAgency {
    pub level: usize,
    pub n: u64,
    pub k: [u64; INDICATORS],
    pub problem: [bool; INDICATORS],
    /// The normal rate of its peers (province × level), known to the generator.
    pub peer_rate: [f64; INDICATORS],
}

/// Draws the agencies of one province.
pub fn draw_province(s: &Scenario, rng: &mut Rng) -> Vec<SimAgency> {
    let province_effect = (0.25 * rng.normal()).exp();
    (0..s.agencies_per_province)
        .map(|_| {
            let u = rng.uniform();
            let level = if u < LEVEL_SHARES[0] {
                0
            } else if u < LEVEL_SHARES[0] + LEVEL_SHARES[1] {
                1
            } else {
                2
            };
            let n = if level == 0 && rng.uniform() < 0.08 {
                // A service centre: tens of thousands of answers.
                (10_000.0 + 40_000.0 * rng.uniform()).round() as u64
            } else {
                (s.median_answers * LEVEL_SIZES[level] * (1.1 * rng.normal()).exp())
                    .round()
                    .max(1.0) as u64
            };
            let mut agency = SimAgency {
                level,
                n,
                k: [0; INDICATORS],
                problem: [false; INDICATORS],
                peer_rate: [0.0; INDICATORS],
            };
            for ind in 0..INDICATORS {
                let mean =
                    (BASE_RATES[ind] * province_effect * LEVEL_EFFECTS[level][ind]).min(0.45);
                agency.peer_rate[ind] = mean;
                let p = rng.beta(mean * s.concentration, (1.0 - mean) * s.concentration);
                let problem = rng.uniform() < s.problem_share;
                let rate = if problem {
                    let r = s.elevation.0 + (s.elevation.1 - s.elevation.0) * rng.uniform();
                    let active = if rng.uniform() < s.late_onset_share {
                        0.3 + 0.4 * rng.uniform()
                    } else {
                        1.0
                    };
                    (p * (1.0 - active + r * active)).min(0.95)
                } else {
                    p
                };
                agency.problem[ind] = problem;
                agency.k[ind] = rng.binomial(n, rate);
            }
            agency
        })
        .collect()
}

/// ln Σ exp(x) over `terms`.
fn log_sum_exp(terms: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = terms.collect();
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return top;
    }
    top + values.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
}

/// The ideal classifier's posterior probability that each (agency, indicator) has a problem,
/// from the generator's own parameters (numerical integration over the normal rate, the
/// elevation and the onset).
pub fn ideal_posteriors(s: &Scenario, agencies: &[SimAgency]) -> Vec<[f64; INDICATORS]> {
    const GRID: usize = 160;
    let elevations: Vec<f64> = (0..6)
        .map(|i| s.elevation.0 + (s.elevation.1 - s.elevation.0) * (i as f64 + 0.5) / 6.0)
        .collect();
    let mut actives: Vec<(f64, f64)> = vec![(1.0, 1.0 - s.late_onset_share)];
    for i in 0..4 {
        actives.push((0.3 + 0.4 * (i as f64 + 0.5) / 4.0, s.late_onset_share / 4.0));
    }
    let (elevations, actives) = (&elevations, &actives);
    let mut grids: std::collections::HashMap<u64, Vec<f64>> = std::collections::HashMap::new();
    agencies
        .iter()
        .map(|a| {
            std::array::from_fn(|ind| {
                if s.problem_share <= 0.0 {
                    return 0.0;
                }
                let mean = a.peer_rate[ind];
                let grid = grids.entry(mean.to_bits()).or_insert_with(|| {
                    let dist = Beta::new(mean * s.concentration, (1.0 - mean) * s.concentration);
                    (0..GRID)
                        .map(|j| {
                            let q = (j as f64 + 0.5) / GRID as f64;
                            dist.as_ref().map(|d| d.inverse_cdf(q)).unwrap_or(mean)
                        })
                        .collect()
                });
                let (k, n) = (a.k[ind] as f64, a.n as f64);
                let ln_pmf = |q: f64| {
                    let q = q.clamp(1e-12, 1.0 - 1e-12);
                    k * q.ln() + (n - k) * (1.0 - q).ln()
                };
                let ln_normal = log_sum_exp(grid.iter().map(|&p| ln_pmf(p))) - (GRID as f64).ln();
                let ln_problem = log_sum_exp(grid.iter().flat_map(|&p| {
                    elevations.iter().flat_map(move |&r| {
                        actives.iter().map(move |&(active, weight)| {
                            ln_pmf((p * (1.0 - active + r * active)).min(0.95)) + weight.ln()
                        })
                    })
                })) - (GRID as f64).ln()
                    - (elevations.len() as f64).ln();
                let log_odds =
                    (s.problem_share / (1.0 - s.problem_share)).ln() + ln_problem - ln_normal;
                1.0 / (1.0 + (-log_odds).exp())
            })
        })
        .collect()
}

/// The figures of one scenario and seed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    pub problems: usize,
    pub alarms: usize,
    pub true_alarms: usize,
    pub alerts: usize,
    pub true_alerts: usize,
    /// Alerts or alarms on normal agencies with fewer than 30 answers.
    pub small_false_flags: usize,
    /// Recall of the ideal classifier at precision ≥ 0.95.
    pub ideal_recall: f64,
    /// The product's own statement: expected false alarms.
    pub expected_false_alarms: f64,
}

impl Score {
    /// Alarm precision (1 without alarms).
    pub fn precision(&self) -> f64 {
        if self.alarms == 0 {
            1.0
        } else {
            self.true_alarms as f64 / self.alarms as f64
        }
    }

    /// Alarm recall (1 without problems).
    pub fn recall(&self) -> f64 {
        if self.problems == 0 {
            1.0
        } else {
            self.true_alarms as f64 / self.problems as f64
        }
    }

    /// Adds another seed's or province's counts (the ideal recall is recomputed by the caller).
    fn add(&mut self, other: &Score) {
        self.problems += other.problems;
        self.alarms += other.alarms;
        self.true_alarms += other.true_alarms;
        self.alerts += other.alerts;
        self.true_alerts += other.true_alerts;
        self.small_false_flags += other.small_false_flags;
        self.expected_false_alarms += other.expected_false_alarms;
    }
}

/// Recall at precision ≥ `precision` when taking the highest scores first: the largest top set
/// whose share of true problems is at least `precision`.
pub fn recall_at_precision(scored: &[(f64, bool)], precision: f64) -> f64 {
    let positives = scored.iter().filter(|(_, truth)| *truth).count();
    if positives == 0 {
        return 1.0;
    }
    let mut order: Vec<&(f64, bool)> = scored.iter().collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut hits, mut best) = (0usize, 0usize);
    for (taken, (_, truth)) in order.iter().enumerate() {
        if *truth {
            hits += 1;
        }
        if hits as f64 >= precision * (taken + 1) as f64 {
            best = hits;
        }
    }
    best as f64 / positives as f64
}

/// Runs one scenario with one seed: draws its provinces, flags them with `policy` (each
/// province on its own, peer groups = levels) and scores the flags and the ideal classifier.
pub fn run(s: &Scenario, seed: u64, policy: &FlagPolicy) -> Score {
    let mut rng = Rng::new(seed);
    let mut total = Score::default();
    let mut ideal: Vec<(f64, bool)> = Vec::new();
    for _ in 0..s.provinces {
        let agencies = draw_province(s, &mut rng);
        let inputs: Vec<FlagInput> = agencies
            .iter()
            .map(|a| FlagInput {
                group: a.level,
                counts: std::array::from_fn(|ind| (a.k[ind], a.n)),
            })
            .collect();
        let flags = flag_province(&inputs, 3, policy);
        let posteriors = ideal_posteriors(s, &agencies);
        let mut score = Score {
            expected_false_alarms: flags.expected_false_alarms,
            ..Score::default()
        };
        for ((a, d), post) in agencies.iter().zip(&flags.decisions).zip(&posteriors) {
            for (ind, &probability) in post.iter().enumerate() {
                let truth = a.problem[ind];
                score.problems += usize::from(truth);
                ideal.push((probability, truth));
                match d.severity[ind] {
                    Severity::Alarm => {
                        score.alarms += 1;
                        score.true_alarms += usize::from(truth);
                    }
                    Severity::Alert => {
                        score.alerts += 1;
                        score.true_alerts += usize::from(truth);
                    }
                    Severity::None => {}
                }
                if d.severity[ind] != Severity::None && !truth && a.n < 30 {
                    score.small_false_flags += 1;
                }
            }
        }
        total.add(&score);
    }
    total.ideal_recall = recall_at_precision(&ideal, 0.95);
    total
}

/// The early warning on stable and on doubling data, for one volume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarningScore {
    /// Answers per year.
    pub per_year: u64,
    pub agency_years: f64,
    /// Signals on stable data (the chart restarts after each).
    pub false_signals: usize,
    /// Median days from a doubling of the rate to the first signal.
    pub median_days_to_detect: f64,
}

/// The early-warning study: agencies at rate `p` (spread φ = 150 around it) with `per_year`
/// answers; the product's chart (own rate from a year of history, shrunk to the peers; limit from
/// [`EARLY_WARNING_YEARS`](super::monitor::EARLY_WARNING_YEARS)) runs over a second year, stable or doubled from its first day.
pub fn early_warning_study(seed: u64, p: f64, per_year: u64, agencies: usize) -> WarningScore {
    use super::monitor::{EARLY_WARNING_YEARS, LatticeCusum, in_control_rate};
    let mut rng = Rng::new(seed);
    let concentration = 150.0;
    let (a, b) = (p * concentration, (1.0 - p) * concentration);
    let per_day = per_year as f64 / 365.0;
    let mut score = WarningScore {
        per_year,
        ..WarningScore::default()
    };
    let mut delays: Vec<f64> = Vec::new();
    for _ in 0..agencies {
        let own = rng.beta(a, b);
        let history = rng.binomial(per_year, own);
        let p0 = in_control_rate(a + history as f64, b + (per_year - history) as f64);
        let Some(chart) = LatticeCusum::calibrated(p0, EARLY_WARNING_YEARS * per_year as f64)
        else {
            continue;
        };
        for doubled in [false, true] {
            let rate = if doubled { (2.0 * own).min(0.95) } else { own };
            let mut steps = 0u64;
            let mut detected = None;
            for day in 0..365 {
                // Answers of the day: Poisson-like around the daily volume.
                let slots = (2.0 * per_day).ceil().max(1.0);
                let today = rng.binomial(slots as u64, per_day / slots);
                for _ in 0..today {
                    steps = chart.next(steps, rng.uniform() < rate);
                    if chart.signals(steps) {
                        steps = 0;
                        if doubled {
                            detected.get_or_insert(day);
                        } else {
                            score.false_signals += 1;
                        }
                    }
                }
                if doubled && detected.is_some() {
                    break;
                }
            }
            if doubled {
                delays.push(detected.map_or(365.0, f64::from));
            }
        }
        score.agency_years += 1.0;
    }
    delays.sort_by(f64::total_cmp);
    score.median_days_to_detect = delays.get(delays.len() / 2).copied().unwrap_or(f64::NAN);
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_plausible() {
        let s = &Scenario::standard(1, 400)[1];
        let a = draw_province(s, &mut Rng::new(7));
        let b = draw_province(s, &mut Rng::new(7));
        assert_eq!(a, b);
        let mut sizes: Vec<u64> = a.iter().filter(|x| x.level == 2).map(|x| x.n).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((30..=120).contains(&median), "median commune size {median}");
        let problems = a.iter().filter(|x| x.problem[0]).count();
        assert!((5..=40).contains(&problems), "{problems} problems in 400");
    }

    #[test]
    fn samplers_have_the_right_moments() {
        let mut rng = Rng::new(1);
        let draws: Vec<f64> = (0..20_000).map(|_| rng.beta(2.0, 48.0)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.04).abs() < 0.001, "Beta(2, 48) mean {mean}");
        let k: u64 = (0..200).map(|_| rng.binomial(5_000, 0.04)).sum();
        assert!((k as f64 / 200.0 - 200.0).abs() < 3.0);
        let rare: u64 = (0..2_000).map(|_| rng.binomial(10_000, 0.0003)).sum();
        assert!((rare as f64 / 2_000.0 - 3.0).abs() < 0.15);
    }

    #[test]
    fn recall_at_precision_takes_the_best_prefix() {
        let scored = [
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.6, true),
            (0.1, false),
        ];
        assert_eq!(recall_at_precision(&scored, 0.95), 2.0 / 3.0);
        assert_eq!(recall_at_precision(&scored, 0.7), 1.0);
        assert_eq!(recall_at_precision(&[], 0.95), 1.0);
    }
}
