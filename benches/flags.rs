//! The simulation study of the flag rule: per scenario, alarm precision and recall, the recall of
//! the ideal classifier that knows the generator, false flags on agencies with fewer than 30
//! answers, and the expected false alarms the product states, over several seeds.
//!
//! ```sh
//! cargo bench --bench flags                     # 12 provinces × 250 agencies, seeds 1–5
//! cargo bench --bench flags -- --seeds 10 --provinces 12 --agencies 250
//! ```

use sipas::stats::flagging::FlagPolicy;
use sipas::stats::simulation::{Scenario, early_warning_study, run};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seeds = arg("--seeds", 5) as u64;
    let provinces = arg("--provinces", 12);
    let agencies = arg("--agencies", 250);
    let policy = FlagPolicy::default();
    println!(
        "{provinces} provinces × {agencies} agencies, both indicators, seeds 1–{seeds}; alarm budget {}, alert budget {}",
        policy.alarm_budget, policy.alert_budget
    );
    println!(
        "{:<38} {:>4} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>8}",
        "scenario",
        "seed",
        "problems",
        "alarms",
        "precision",
        "recall",
        "ideal",
        "of ideal",
        "small FP",
        "E[false]"
    );
    let mut pooled_rows = Vec::new();
    for scenario in Scenario::standard(provinces, agencies) {
        let (mut alarms, mut true_alarms, mut problems, mut ideal, mut small, mut worst) =
            (0, 0, 0, 0.0, 0, 1.0_f64);
        for seed in 1..=seeds {
            let s = run(&scenario, seed, &policy);
            alarms += s.alarms;
            true_alarms += s.true_alarms;
            problems += s.problems;
            ideal += s.ideal_recall * s.problems as f64;
            small += s.small_false_flags;
            worst = worst.min(s.precision());
            let of_ideal = if s.ideal_recall > 0.0 {
                s.recall() / s.ideal_recall
            } else {
                f64::NAN
            };
            println!(
                "{:<38} {:>4} {:>9} {:>9} {:>9.3} {:>9.3} {:>7.3} {:>8.2} {:>9} {:>8.1}",
                scenario.name,
                seed,
                s.problems,
                s.alarms,
                s.precision(),
                s.recall(),
                s.ideal_recall,
                of_ideal,
                s.small_false_flags,
                s.expected_false_alarms
            );
        }
        let precision = if alarms == 0 {
            1.0
        } else {
            true_alarms as f64 / alarms as f64
        };
        let recall = if problems == 0 {
            1.0
        } else {
            true_alarms as f64 / problems as f64
        };
        let ideal = if problems == 0 {
            1.0
        } else {
            ideal / problems as f64
        };
        pooled_rows.push((
            scenario.name,
            alarms,
            precision,
            worst,
            recall,
            ideal,
            small,
        ));
    }
    println!();
    println!("pooled over the seeds:");
    println!(
        "{:<38} {:>7} {:>9} {:>13} {:>7} {:>7} {:>8} {:>9}",
        "scenario", "alarms", "precision", "worst seed", "recall", "ideal", "of ideal", "small FP"
    );
    for (name, alarms, precision, worst, recall, ideal, small) in pooled_rows {
        println!(
            "{:<38} {:>7} {:>9.3} {:>13.3} {:>7.3} {:>7.3} {:>8.2} {:>9}",
            name,
            alarms,
            precision,
            worst,
            recall,
            ideal,
            if ideal > 0.0 {
                recall / ideal
            } else {
                f64::NAN
            },
            small
        );
    }
    println!();
    println!(
        "early warning (rate 4%, spread φ 150; target: at most about 1 false signal per 100 agency-years):"
    );
    println!(
        "{:>10} {:>13} {:>14} {:>18} {:>22}",
        "answers/yr",
        "agency-years",
        "false signals",
        "per 100 agency-yrs",
        "days to detect 2× (median)"
    );
    for (per_year, agencies) in [(100, 2_000), (1_000, 1_000), (10_000, 300), (50_000, 100)] {
        let w = early_warning_study(seeds, 0.04, per_year, agencies);
        println!(
            "{:>10} {:>13.0} {:>14} {:>18.2} {:>22.0}",
            w.per_year,
            w.agency_years,
            w.false_signals,
            100.0 * w.false_signals as f64 / w.agency_years.max(1.0),
            w.median_days_to_detect
        );
    }
}
