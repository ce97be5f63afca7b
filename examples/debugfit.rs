use sipas::stats::Severity;
use sipas::stats::flagging::{FlagInput, FlagPolicy, flag_province};
use sipas::stats::simulation::{Rng, Scenario, draw_province};
fn main() {
    let s = &Scenario::standard(12, 250)[2];
    let mut rng = Rng::new(3);
    for p in 0..12 {
        let ag = draw_province(s, &mut rng);
        let inputs: Vec<FlagInput> = ag
            .iter()
            .map(|a| FlagInput {
                group: a.level,
                counts: std::array::from_fn(|i| (a.k[i], a.n)),
            })
            .collect();
        let f = flag_province(&inputs, 3, &FlagPolicy::default());
        println!("province {p}: alarms {} alerts {}", f.alarms, f.alerts);
        for (ind, fit) in f.fits.iter().enumerate() {
            if let Some(fit) = fit {
                println!(
                    "  ind {ind}: peers {:?} prov {:.4} phi {:.1} m {:.2} pi {:.4} rounds {} true {:?}",
                    fit.peer_means
                        .iter()
                        .map(|x| format!("{x:.4}"))
                        .collect::<Vec<_>>(),
                    fit.province_mean,
                    fit.concentration,
                    fit.elevation,
                    fit.elevated_share,
                    fit.rounds,
                    [0, 1, 2].map(|l| ag.iter().find(|a| a.level == l).map(|a| a.peer_rate[ind]))
                );
            }
        }
        for (a, d) in ag.iter().zip(&f.decisions) {
            for ind in 0..2 {
                if d.severity[ind] == Severity::Alarm && !a.problem[ind] {
                    println!(
                        "    alarm ind{ind} level {} n {} k {} rate {:.3} peer {:.3} lfdr {:.2e}",
                        a.level,
                        a.n,
                        a.k[ind],
                        a.k[ind] as f64 / a.n as f64,
                        a.peer_rate[ind],
                        d.lfdr[ind]
                    );
                }
            }
        }
    }
}
