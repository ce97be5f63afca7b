//! The flag decision for one province: a mixture fit per indicator ([`super::mixture`]), then
//! one false-discovery budget across the province's agencies and both indicators. Alarms are
//! the largest set whose expected share of false flags is at most [`FlagPolicy::alarm_budget`];
//! alerts extend it up to [`FlagPolicy::alert_budget`]. An agency with fewer than
//! [`FlagPolicy::small_n`] answers is flagged only on overwhelming evidence.

use super::Severity;
use super::mixture::{self, MixtureFit, Observation};

/// The indicators flagged together (harassment, repeat visits).
pub const INDICATORS: usize = 2;

/// How strict the flags are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagPolicy {
    /// Largest expected share of false flags among alarms.
    pub alarm_budget: f64,
    /// Largest expected share of false flags among alarms and alerts together.
    pub alert_budget: f64,
    /// Agencies with fewer answers than this need `small_n_lfdr` to be flagged at all.
    pub small_n: u64,
    /// The largest lfdr a small agency may have to be flagged.
    pub small_n_lfdr: f64,
    /// What "elevated" means: at least this many times the peers' rate.
    pub min_elevation: f64,
    /// The largest lfdr a single alarm may have, whatever the set's mean (Efron's individual
    /// threshold: the budget alone would let a doubtful agency ride on many clear ones).
    pub max_alarm_lfdr: f64,
    /// The largest lfdr a single alert may have.
    pub max_alert_lfdr: f64,
}

impl Default for FlagPolicy {
    fn default() -> Self {
        FlagPolicy {
            alarm_budget: 0.05,
            alert_budget: 0.20,
            small_n: 30,
            small_n_lfdr: 0.001,
            min_elevation: 3.0,
            max_alarm_lfdr: 0.1,
            max_alert_lfdr: 0.5,
        }
    }
}

/// One agency's counts: its peer group and (events, answers) per indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagInput {
    pub group: usize,
    pub counts: [(u64, u64); INDICATORS],
}

/// One agency's flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagDecision {
    pub severity: [Severity; INDICATORS],
    /// Local false discovery rate per indicator (1 without answers or without a fit).
    pub lfdr: [f64; INDICATORS],
}

/// The flags of a province, with what they cost in expected false flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvinceFlags {
    pub decisions: Vec<FlagDecision>,
    pub fits: [Option<MixtureFit>; INDICATORS],
    pub alarms: usize,
    pub alerts: usize,
    /// Σ lfdr over the alarms: how many of them are expected to be false.
    pub expected_false_alarms: f64,
    /// Σ lfdr over the alerts.
    pub expected_false_alerts: f64,
}

/// `work` for every indicator, each on a thread of its own (the first on the caller's), in
/// indicator order: for work that does not depend on the others, so the results are the same as
/// one after the other.
pub fn per_indicator<T: Send + Default>(work: impl Fn(usize) -> T + Sync) -> [T; INDICATORS] {
    std::thread::scope(|scope| {
        let work = &work;
        let others: Vec<_> = (1..INDICATORS)
            .map(|ind| scope.spawn(move || work(ind)))
            .collect();
        let first = work(0);
        let mut results = std::iter::once(first).chain(others.into_iter().map(|handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        std::array::from_fn(|_| results.next().unwrap_or_default())
    })
}

/// Flags the agencies of one province (inputs in a fixed order for reproducible results).
pub fn flag_province(inputs: &[FlagInput], groups: usize, policy: &FlagPolicy) -> ProvinceFlags {
    let fit = |ind: usize| {
        let observations: Vec<Observation> = inputs
            .iter()
            .map(|a| Observation {
                k: a.counts[ind].0,
                n: a.counts[ind].1,
                group: a.group,
            })
            .collect();
        mixture::fit(&observations, groups, policy.min_elevation)
    };
    // The indicators' fits are independent (the same numbers as one after the other; most of a
    // large province's report time).
    let fits: [Option<MixtureFit>; INDICATORS] = per_indicator(fit);
    let mut decisions: Vec<FlagDecision> = inputs
        .iter()
        .map(|a| FlagDecision {
            severity: [Severity::None; INDICATORS],
            lfdr: std::array::from_fn(|ind| match &fits[ind] {
                Some(fit) => fit.lfdr(&Observation {
                    k: a.counts[ind].0,
                    n: a.counts[ind].1,
                    group: a.group,
                }),
                None => 1.0,
            }),
        })
        .collect();
    // One family: every (agency, indicator) that may be flagged at all.
    let mut family: Vec<(usize, usize)> = Vec::new();
    let mut lfdr: Vec<f64> = Vec::new();
    for (i, (a, d)) in inputs.iter().zip(&decisions).enumerate() {
        for ind in 0..INDICATORS {
            let n = a.counts[ind].1;
            let eligible = n > 0 && (n >= policy.small_n || d.lfdr[ind] <= policy.small_n_lfdr);
            if eligible {
                family.push((i, ind));
                lfdr.push(d.lfdr[ind]);
            }
        }
    }
    let alarms: Vec<usize> = mixture::select_by_fdr(&lfdr, policy.alarm_budget)
        .into_iter()
        .filter(|&f| lfdr[f] <= policy.max_alarm_lfdr)
        .collect();
    let flagged: Vec<usize> = mixture::select_by_fdr(&lfdr, policy.alert_budget)
        .into_iter()
        .filter(|&f| lfdr[f] <= policy.max_alert_lfdr)
        .collect();
    let (mut expected_false_alarms, mut expected_false_alerts) = (0.0, 0.0);
    let (mut alarm_count, mut alert_count) = (0, 0);
    for &f in &flagged {
        let (i, ind) = family[f];
        decisions[i].severity[ind] = Severity::Alert;
    }
    for &f in &alarms {
        let (i, ind) = family[f];
        decisions[i].severity[ind] = Severity::Alarm;
    }
    // The alarms are a prefix of the same order as the alerts, so `flagged` holds them all.
    for &f in &flagged {
        let (i, ind) = family[f];
        match decisions[i].severity[ind] {
            Severity::Alarm => {
                alarm_count += 1;
                expected_false_alarms += lfdr[f];
            }
            Severity::Alert => {
                alert_count += 1;
                expected_false_alerts += lfdr[f];
            }
            Severity::None => {}
        }
    }
    ProvinceFlags {
        decisions,
        fits,
        alarms: alarm_count,
        alerts: alert_count,
        expected_false_alarms,
        expected_false_alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(group: usize, h: (u64, u64), r: (u64, u64)) -> FlagInput {
        FlagInput {
            group,
            counts: [h, r],
        }
    }

    #[test]
    fn outliers_are_alarms_and_the_cost_is_stated() {
        let mut inputs: Vec<FlagInput> = (0..60)
            .map(|i| input(0, (4 + i % 5, 150), (9 + i % 4, 150)))
            .collect();
        inputs.push(input(0, (50, 150), (10, 150)));
        inputs.push(input(0, (5, 150), (60, 150)));
        // A small agency with a high rate but little evidence is not flagged.
        inputs.push(input(0, (3, 8), (1, 8)));
        let flags = flag_province(&inputs, 1, &FlagPolicy::default());
        assert_eq!(flags.decisions[60].severity[0], Severity::Alarm);
        assert_eq!(flags.decisions[61].severity[1], Severity::Alarm);
        assert_eq!(flags.decisions[62].severity, [Severity::None; 2]);
        assert_eq!(flags.alarms, 2);
        assert!(flags.expected_false_alarms <= 0.05 * 2.0);
        assert!(
            flags.decisions[..60]
                .iter()
                .all(|d| d.severity == [Severity::None; 2])
        );
    }

    #[test]
    fn a_province_without_events_flags_nobody() {
        let inputs: Vec<FlagInput> = (0..10).map(|_| input(0, (0, 50), (0, 50))).collect();
        let flags = flag_province(&inputs, 1, &FlagPolicy::default());
        assert!(flags.fits.iter().all(Option::is_none));
        assert_eq!(flags.alarms + flags.alerts, 0);
    }
}
