//! The simulation study of the flags, small: every scenario on fixed seeds, with the targets of
//! docs/statistics.md asserted (the full study: `cargo bench --bench flags`).

use sipas::stats::flagging::FlagPolicy;
use sipas::stats::simulation::{Scenario, run};

#[test]
fn flags_meet_their_targets_on_synthetic_provinces() {
    let policy = FlagPolicy::default();
    for scenario in Scenario::standard(4, 200) {
        for seed in [11, 12] {
            let s = run(&scenario, seed, &policy);
            let name = scenario.name;
            assert_eq!(
                s.small_false_flags, 0,
                "{name} seed {seed}: false flags under 30 answers"
            );
            if scenario.problem_share == 0.0 {
                assert_eq!(s.alarms, 0, "{name} seed {seed}: alarms on null data");
                continue;
            }
            assert!(s.precision() >= 0.95, "{name} seed {seed}: precision {s:?}");
            assert!(
                s.recall() >= 0.4 * s.ideal_recall,
                "{name} seed {seed}: recall {} against the ideal {}",
                s.recall(),
                s.ideal_recall
            );
            // The stated cost is honest: no more false alarms than expected, give or take chance.
            let false_alarms = (s.alarms - s.true_alarms) as f64;
            assert!(
                false_alarms
                    <= s.expected_false_alarms + 3.0 * s.expected_false_alarms.sqrt() + 2.0,
                "{name} seed {seed}: {false_alarms} false alarms, {} expected",
                s.expected_false_alarms
            );
        }
    }
}
