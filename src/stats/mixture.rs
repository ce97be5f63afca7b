//! Flagging agencies against their peers with a two-component beta-binomial mixture and a
//! Bayesian false-discovery budget (statistics.md §0.1; Efron 2010 ch. 5; Newton et al. 2004).
//!
//! Model, for one indicator in one province: agency i has k_i events in n_i answers and belongs
//! to peer group g(i). A *normal* agency's rate is p_i ~ Beta(μ_g φ, (1 − μ_g) φ): its peers'
//! typical rate μ_g with the natural spread between agencies (concentration φ). An *elevated*
//! agency's rate is a multiple m of a normal rate; its component is Beta(mμ_g ψ, (1 − mμ_g) ψ)
//! with ψ = (φ + 1)/m − 1, the spread a multiple of a normal rate has. A share π of agencies is
//! elevated.
//!
//! The fit is expectation–maximisation: the E-step gives each agency its local false discovery
//! rate (lfdr, the posterior probability that it is normal); the M-step re-estimates the peer
//! means from the agencies weighted by how normal they look (so problem agencies do not drag
//! the baseline or widen the spread), partially pooled toward the province (DerSimonian–Laird
//! across peer groups: a small or noisy group borrows from the province, a group that really
//! differs keeps its own mean), then φ, m and π by maximum likelihood. Everything is
//! deterministic: the same inputs in the same order give the same numbers to the bit.

use super::likelihood::{BetaPrior, LikelihoodTable};

/// Smallest and largest concentration φ the fit considers.
const CONCENTRATION_RANGE: (f64, f64) = (2.0, 20_000.0);
/// Largest elevation m ("how many times the peers' rate"); the smallest is the caller's.
const MAX_ELEVATION: f64 = 20.0;
/// Smallest and largest elevated share π: problem agencies are a minority.
const SHARE_RANGE: (f64, f64) = (0.002, 0.2);
/// The largest rate the elevated component may centre on.
const MAX_ELEVATED_MEAN: f64 = 0.95;
/// EM stops after this many rounds or when the log-likelihood gains less than [`TOLERANCE`].
const MAX_ROUNDS: usize = 300;
const TOLERANCE: f64 = 1e-9;

/// One agency's counts for one indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub k: u64,
    pub n: u64,
    /// Index of its peer group (0-based).
    pub group: usize,
}

/// The fitted mixture of one indicator in one province.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureFit {
    /// Each peer group's normal rate μ_g after partial pooling (the peer baseline).
    pub peer_means: Vec<f64>,
    /// The province's normal rate (the mean peer groups are pooled toward).
    pub province_mean: f64,
    /// Concentration φ of normal agencies' rates around their peers' mean.
    pub concentration: f64,
    /// How many times the peers' rate the elevated component centres on.
    pub elevation: f64,
    /// Share π of elevated agencies.
    pub elevated_share: f64,
    /// EM rounds used.
    pub rounds: usize,
}

/// ln P(k | n, Beta(mean·c, (1 − mean)·c)) without the binomial coefficient (it cancels in
/// every ratio and does not depend on the parameters).
fn ln_beta_binomial(k: u64, n: u64, mean: f64, concentration: f64) -> f64 {
    BetaPrior::new(mean, concentration).ln_likelihood(k, n)
}

impl MixtureFit {
    /// The normal component's Beta prior (a, b) for peer group `group`.
    pub fn normal_prior(&self, group: usize) -> (f64, f64) {
        let mean = self.peer_mean(group);
        (mean * self.concentration, (1.0 - mean) * self.concentration)
    }

    /// The peer baseline μ_g (the province mean for an unknown group).
    pub fn peer_mean(&self, group: usize) -> f64 {
        self.peer_means
            .get(group)
            .copied()
            .unwrap_or(self.province_mean)
    }

    fn elevated_mean(&self, group: usize) -> f64 {
        (self.elevation * self.peer_mean(group)).min(MAX_ELEVATED_MEAN)
    }

    fn elevated_concentration(&self) -> f64 {
        elevated_concentration(self.concentration, self.elevation)
    }

    /// (ln f0, ln f1): the log-likelihood of `o` under the normal and elevated components.
    fn component_likelihoods(&self, o: &Observation) -> (f64, f64) {
        let normal = ln_beta_binomial(o.k, o.n, self.peer_mean(o.group), self.concentration);
        let elevated = ln_beta_binomial(
            o.k,
            o.n,
            self.elevated_mean(o.group),
            self.elevated_concentration(),
        );
        (normal, elevated)
    }

    /// Local false discovery rate of `o`: the posterior probability that the agency is normal.
    /// 1 for an agency without answers.
    pub fn lfdr(&self, o: &Observation) -> f64 {
        if o.n == 0 || o.k > o.n {
            return 1.0;
        }
        let (normal, elevated) = self.component_likelihoods(o);
        let log_odds_elevated =
            (self.elevated_share / (1.0 - self.elevated_share)).ln() + (elevated - normal);
        // P(normal) = 1 / (1 + odds of elevated), computed without overflow.
        if log_odds_elevated > 0.0 {
            let inverse = (-log_odds_elevated).exp();
            inverse / (1.0 + inverse)
        } else {
            1.0 / (1.0 + log_odds_elevated.exp())
        }
    }

    /// The agency's own normal rate after shrinkage to its peers (posterior mean under the
    /// normal component): the in-control rate its early warning compares recent answers with.
    pub fn own_normal_rate(&self, o: &Observation) -> f64 {
        let (a, b) = self.own_normal_posterior(o);
        a / (a + b)
    }

    /// The Beta(α, β) of the agency's own normal rate after its answers.
    pub fn own_normal_posterior(&self, o: &Observation) -> (f64, f64) {
        let (a, b) = self.normal_prior(o.group);
        (a + o.k as f64, b + o.n.saturating_sub(o.k) as f64)
    }
}

/// ψ = (φ + 1)/m − 1 (at least 1): the spread of m times a normal rate.
fn elevated_concentration(concentration: f64, elevation: f64) -> f64 {
    ((concentration + 1.0) / elevation - 1.0).max(1.0)
}

/// Fits the mixture to the observations of `groups` peer groups; the elevated component sits at
/// least `min_elevation` times the peers' rate (below that, a second component would only split
/// the natural spread in two). `None` when no agency has answers, or the pooled rate is 0 or 1
/// (nothing to compare: nobody can be flagged).
pub fn fit(observations: &[Observation], groups: usize, min_elevation: f64) -> Option<MixtureFit> {
    let data: Vec<Observation> = observations
        .iter()
        .copied()
        .filter(|o| o.n > 0 && o.k <= o.n && o.group < groups.max(1))
        .collect();
    let events: u64 = data.iter().map(|o| o.k).sum();
    let answers: u64 = data.iter().map(|o| o.n).sum();
    if data.is_empty() || events == 0 || events == answers {
        return None;
    }
    let pooled = events as f64 / answers as f64;
    let table = LikelihoodTable::new(&data, groups.max(1));
    // Start: every agency normal except clear outliers against the pooled rate.
    let mut normal_weight: Vec<f64> = data
        .iter()
        .map(|o| {
            let expected = pooled * o.n as f64;
            let sd = (pooled * (1.0 - pooled) * o.n as f64).sqrt().max(1.0);
            if (o.k as f64 - expected) / sd > 4.0 {
                0.0
            } else {
                1.0
            }
        })
        .collect();
    let mut model = MixtureFit {
        peer_means: vec![pooled; groups.max(1)],
        province_mean: pooled,
        concentration: 100.0,
        elevation: min_elevation.max(1.0) + 1.0,
        elevated_share: 0.05,
        rounds: 0,
    };
    let mut previous = f64::NEG_INFINITY;
    for round in 1..=MAX_ROUNDS {
        maximise(
            &mut model,
            &data,
            &table,
            &normal_weight,
            groups.max(1),
            min_elevation,
        );
        let mut loglik = 0.0;
        for (w, o) in normal_weight.iter_mut().zip(&data) {
            let (normal, elevated) = model.component_likelihoods(o);
            let a = (1.0 - model.elevated_share).ln() + normal;
            let b = model.elevated_share.ln() + elevated;
            let top = a.max(b);
            let total = top + ((a - top).exp() + (b - top).exp()).ln();
            loglik += total;
            *w = (a - total).exp();
        }
        model.rounds = round;
        if (loglik - previous).abs() < TOLERANCE * loglik.abs().max(1.0) {
            break;
        }
        previous = loglik;
    }
    refit_normal_spread(&mut model, &data, &table, groups.max(1));
    Some(model)
}

/// Below this lfdr an agency is a clear problem and left out of the final spread fit.
const CLEAR_PROBLEM_LFDR: f64 = 0.01;

/// The trimmed refit: EM tends to give the upper tail of the natural spread to the elevated
/// component, which then makes the normal component too narrow (and its tail agencies look
/// elevated). So once EM has converged, the peer means and φ are fitted again from every agency
/// except the clear problems (lfdr below [`CLEAR_PROBLEM_LFDR`]), each counted in full.
fn refit_normal_spread(
    model: &mut MixtureFit,
    data: &[Observation],
    table: &LikelihoodTable,
    groups: usize,
) {
    let keep: Vec<f64> = data
        .iter()
        .map(|o| {
            if model.lfdr(o) < CLEAR_PROBLEM_LFDR {
                0.0
            } else {
                1.0
            }
        })
        .collect();
    for _ in 0..3 {
        let (peer_means, province_mean) = pooled_peer_means(model, data, &keep, groups);
        model.peer_means = peer_means;
        model.province_mean = province_mean;
        let fit = |c: f64| -> f64 {
            let priors = BetaPrior::per_group(groups, |g| model.peer_mean(g), c);
            table.weighted_sum(&priors, |i| keep[i])
        };
        model.concentration = brent_max(fit, CONCENTRATION_RANGE, true);
    }
}

/// The M-step: peer means (partially pooled), concentration, elevation and share from the
/// current normal weights.
fn maximise(
    model: &mut MixtureFit,
    data: &[Observation],
    table: &LikelihoodTable,
    normal_weight: &[f64],
    groups: usize,
    min_elevation: f64,
) {
    let (peer_means, province_mean) = pooled_peer_means(model, data, normal_weight, groups);
    model.peer_means = peer_means;
    model.province_mean = province_mean;
    let normal_fit = |c: f64| -> f64 {
        let priors = BetaPrior::per_group(groups, |g| model.peer_mean(g), c);
        table.weighted_sum(&priors, |i| normal_weight[i])
    };
    model.concentration = brent_max(normal_fit, CONCENTRATION_RANGE, true);
    maximise_elevated(model, table, normal_weight, min_elevation);
}

/// The M-step of the elevated component alone: elevation and share.
fn maximise_elevated(
    model: &mut MixtureFit,
    table: &LikelihoodTable,
    normal_weight: &[f64],
    min_elevation: f64,
) {
    let concentration = model.concentration;
    let groups = model.peer_means.len();
    let elevated_fit = |m: f64| -> f64 {
        let psi = elevated_concentration(concentration, m);
        let priors = BetaPrior::per_group(
            groups,
            |g| (m * model.peer_mean(g)).min(MAX_ELEVATED_MEAN),
            psi,
        );
        table.weighted_sum(&priors, |i| 1.0 - normal_weight[i])
    };
    let lowest = min_elevation.clamp(1.0, MAX_ELEVATION);
    let elevated: f64 = normal_weight.iter().map(|w| 1.0 - w).sum();
    // With every agency wholly normal the likelihood does not depend on m: the elevated
    // component starts at its lowest multiple (a search would take either end of a flat range,
    // and at 20 times the peers' rate EM could never move an agency into it).
    model.elevation = if elevated > 0.0 {
        brent_max(elevated_fit, (lowest, MAX_ELEVATION), true)
    } else {
        lowest
    };
    model.elevated_share =
        (elevated / normal_weight.len() as f64).clamp(SHARE_RANGE.0, SHARE_RANGE.1);
}

/// Peer means and the province mean. Within a group, agency rates are averaged with weights
/// w_i / Var(p̂_i), Var(p̂_i) = μ(1 − μ)(1/n_i + (n_i − 1)/(n_i(φ + 1))) (so one very large agency
/// does not stand for its whole group), w_i its normal weight. Across groups, DerSimonian–Laird:
/// τ² = max(0, (Q − (G − 1)) / (Σw − Σw²/Σw)), and each group mean moves toward the province
/// mean by v_g / (v_g + τ²).
fn pooled_peer_means(
    model: &MixtureFit,
    data: &[Observation],
    normal_weight: &[f64],
    groups: usize,
) -> (Vec<f64>, f64) {
    let spread = 1.0 / (model.concentration + 1.0);
    let variance = |mean: f64, n: u64| -> f64 {
        let n = n as f64;
        let m = mean.clamp(1e-6, 1.0 - 1e-6);
        m * (1.0 - m) * (1.0 / n + (n - 1.0) / n * spread)
    };
    let mut sums = vec![(0.0_f64, 0.0_f64); groups];
    for (o, w) in data.iter().zip(normal_weight) {
        let weight = w / variance(model.peer_mean(o.group), o.n);
        let slot = &mut sums[o.group];
        slot.0 += weight * o.k as f64 / o.n as f64;
        slot.1 += weight;
    }
    // (group, mean, sampling variance) of the groups with information.
    let estimates: Vec<(usize, f64, f64)> = sums
        .iter()
        .enumerate()
        .filter(|(_, (_, w))| *w > 0.0)
        .map(|(g, (s, w))| (g, s / w, 1.0 / w))
        .collect();
    if estimates.is_empty() {
        return (vec![model.province_mean; groups], model.province_mean);
    }
    let fixed_weights: Vec<f64> = estimates.iter().map(|(_, _, v)| 1.0 / v).collect();
    let total: f64 = fixed_weights.iter().sum();
    let fixed_mean: f64 = estimates
        .iter()
        .zip(&fixed_weights)
        .map(|((_, m, _), w)| m * w)
        .sum::<f64>()
        / total;
    let q: f64 = estimates
        .iter()
        .zip(&fixed_weights)
        .map(|((_, m, _), w)| w * (m - fixed_mean).powi(2))
        .sum();
    let squares: f64 = fixed_weights.iter().map(|w| w * w).sum();
    let between = if estimates.len() > 1 {
        ((q - (estimates.len() - 1) as f64) / (total - squares / total)).max(0.0)
    } else {
        0.0
    };
    let random_weights: Vec<f64> = estimates
        .iter()
        .map(|(_, _, v)| 1.0 / (v + between))
        .collect();
    let province = estimates
        .iter()
        .zip(&random_weights)
        .map(|((_, m, _), w)| m * w)
        .sum::<f64>()
        / random_weights.iter().sum::<f64>();
    let mut means = vec![province; groups];
    for (g, m, v) in estimates {
        let keep = if between > 0.0 {
            between / (between + v)
        } else {
            0.0
        };
        means[g] = (province + keep * (m - province)).clamp(1e-6, 1.0 - 1e-6);
    }
    (means, province.clamp(1e-6, 1.0 - 1e-6))
}

/// The argument in `range` maximising the unimodal `f`, on the log scale when `log_scale`:
/// Brent's method (golden-section steps, parabolic ones where the function allows; scipy's
/// `fminbound`), to within [`SEARCH_TOLERANCE`] of the scale. About 15–25 evaluations where a
/// plain golden-section search to the same precision takes 50: each is a pass over every agency.
fn brent_max(f: impl Fn(f64) -> f64, range: (f64, f64), log_scale: bool) -> f64 {
    type Map = fn(f64) -> f64;
    let (to, from): (Map, Map) = if log_scale {
        (f64::ln, f64::exp)
    } else {
        (|x| x, |x| x)
    };
    // Minimise the negative.
    let g = |x: f64| -f(from(x));
    let (mut a, mut b) = (to(range.0), to(range.1));
    let golden = 0.5 * (3.0 - 5.0_f64.sqrt());
    let mut fulc = a + golden * (b - a);
    let (mut nfc, mut xf) = (fulc, fulc);
    let (mut rat, mut e) = (0.0_f64, 0.0_f64);
    let mut fx = g(xf);
    let (mut ffulc, mut fnfc) = (fx, fx);
    let tolerance = |x: f64| RELATIVE_TOLERANCE * x.abs() + SEARCH_TOLERANCE / 3.0;
    let mut xm = 0.5 * (a + b);
    let mut tol1 = tolerance(xf);
    let mut tol2 = 2.0 * tol1;
    for _ in 0..MAX_EVALUATIONS {
        if (xf - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden_step = true;
        if e.abs() > tol1 {
            // A parabola through the three best points.
            let r = (xf - nfc) * (fx - ffulc);
            let q = (xf - fulc) * (fx - fnfc);
            let mut p = (xf - fulc) * q - (xf - nfc) * r;
            let mut q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let previous = e;
            e = rat;
            if p.abs() < (0.5 * q * previous).abs() && p > q * (a - xf) && p < q * (b - xf) {
                rat = p / q;
                let x = xf + rat;
                if (x - a) < tol2 || (b - x) < tol2 {
                    rat = if xm >= xf { tol1 } else { -tol1 };
                }
                golden_step = false;
            }
        }
        if golden_step {
            e = if xf >= xm { a - xf } else { b - xf };
            rat = golden * e;
        }
        let step = if rat >= 0.0 { 1.0 } else { -1.0 };
        let x = xf + step * rat.abs().max(tol1);
        let fu = g(x);
        if fu <= fx {
            if x >= xf {
                a = xf;
            } else {
                b = xf;
            }
            (fulc, ffulc) = (nfc, fnfc);
            (nfc, fnfc) = (xf, fx);
            (xf, fx) = (x, fu);
        } else {
            if x < xf {
                a = x;
            } else {
                b = x;
            }
            if fu <= fnfc || nfc == xf {
                (fulc, ffulc) = (nfc, fnfc);
                (nfc, fnfc) = (x, fu);
            } else if fu <= ffulc || fulc == xf || fulc == nfc {
                (fulc, ffulc) = (x, fu);
            }
        }
        xm = 0.5 * (a + b);
        tol1 = tolerance(xf);
        tol2 = 2.0 * tol1;
    }
    from(xf)
}

/// Absolute precision of [`brent_max`] on its (log) scale, and the relative part added to it.
const SEARCH_TOLERANCE: f64 = 1e-9;
const RELATIVE_TOLERANCE: f64 = 1e-10;
/// A bound on [`brent_max`]'s evaluations (it needs far fewer).
const MAX_EVALUATIONS: usize = 200;

/// Bayesian FDR selection (Newton et al. 2004): the indices of the largest set, taken in
/// increasing lfdr, whose mean lfdr is at most `budget`. Ties keep input order.
pub fn select_by_fdr(lfdr: &[f64], budget: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lfdr.len()).filter(|&i| lfdr[i].is_finite()).collect();
    order.sort_by(|&a, &b| lfdr[a].total_cmp(&lfdr[b]).then(a.cmp(&b)));
    let mut sum = 0.0;
    let mut keep = 0;
    for (taken, &i) in order.iter().enumerate() {
        sum += lfdr[i];
        if sum / (taken + 1) as f64 <= budget {
            keep = taken + 1;
        }
    }
    order.truncate(keep);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::assert_close;

    #[test]
    fn beta_binomial_likelihood_matches_scipy() {
        // scipy 1.x: betabinom.logpmf(7, 40, 2, 48) = -4.871070116311126 and
        // log(comb(40, 7)) = 16.741011336110464 (see ../shared/data/stats_vectors.py).
        let expected = -4.871070116311126 - 16.741011336110464;
        assert_close(ln_beta_binomial(7, 40, 0.04, 50.0), expected, 1e-9);
        // k = 0 and k = n are finite.
        assert!(ln_beta_binomial(0, 40, 0.04, 50.0).is_finite());
        assert!(ln_beta_binomial(40, 40, 0.04, 50.0).is_finite());
    }

    #[test]
    fn fdr_selection_takes_the_largest_set_within_budget() {
        let lfdr = [0.30, 0.001, 0.02, 0.9, 0.08, 0.002];
        // Sorted: 0.001, 0.002, 0.02, 0.08, 0.30, 0.9 → running means 0.001, 0.0015, 0.0077,
        // 0.0258, 0.0806, 0.2238.
        assert_eq!(select_by_fdr(&lfdr, 0.05), vec![1, 5, 2, 4]);
        assert_eq!(select_by_fdr(&lfdr, 0.10), vec![1, 5, 2, 4, 0]);
        assert_eq!(select_by_fdr(&lfdr, 0.0005), Vec::<usize>::new());
        assert_eq!(select_by_fdr(&[], 0.05), Vec::<usize>::new());
    }

    #[test]
    fn brent_search_finds_a_maximum() {
        let calls = std::cell::Cell::new(0);
        let at = brent_max(
            |x| {
                calls.set(calls.get() + 1);
                -(x.ln() - 3.0).powi(2)
            },
            (1.0, 1000.0),
            true,
        );
        assert_close(at, 3.0_f64.exp(), 1e-6);
        assert!(calls.get() < 30, "{} evaluations", calls.get());
        // A maximum at either end of the range.
        assert!((brent_max(|x| x, (2.0, 5.0), false) - 5.0).abs() < 1e-6);
        assert!((brent_max(|x| -x, (2.0, 5.0), false) - 2.0).abs() < 1e-6);
        // A skewed function: ln-likelihood-like, maximum at 7.
        let at = brent_max(|x| 7.0 * x.ln() - x, (0.5, 200.0), true);
        assert_close(at, 7.0, 1e-7);
    }

    /// With every agency wholly normal the elevated component's likelihood is flat in m: it
    /// stays at the lowest multiple (a search over a flat range could end at 20×, from where EM
    /// never moves an agency into it).
    #[test]
    fn a_flat_elevated_likelihood_keeps_the_lowest_elevation() {
        let data: Vec<Observation> = (0..40)
            .map(|i| Observation {
                k: 5 + i % 4,
                n: 300,
                group: 0,
            })
            .collect();
        let mut model = MixtureFit {
            peer_means: vec![0.02],
            province_mean: 0.02,
            concentration: 200.0,
            elevation: 7.0,
            elevated_share: 0.05,
            rounds: 0,
        };
        let table = LikelihoodTable::new(&data, 1);
        maximise_elevated(&mut model, &table, &[1.0; 40], 3.0);
        assert_eq!(model.elevation, 3.0);
        assert_eq!(model.elevated_share, SHARE_RANGE.0);
    }

    #[test]
    fn a_clear_outlier_is_elevated_and_its_peers_are_not() {
        // 40 agencies at about 4% (200 answers each) and one at 30%.
        let mut data: Vec<Observation> = (0..40)
            .map(|i| Observation {
                k: 6 + (i % 5),
                n: 200,
                group: 0,
            })
            .collect();
        data.push(Observation {
            k: 60,
            n: 200,
            group: 0,
        });
        let model = fit(&data, 1, 3.0).unwrap_or_else(unreachable_fit);
        assert!(model.lfdr(&data[40]) < 1e-6, "{model:?}");
        assert!(data[..40].iter().all(|o| model.lfdr(o) > 0.5));
        // The baseline is the normal agencies' rate, not pulled up by the outlier.
        assert!((model.peer_mean(0) - 0.04).abs() < 0.004, "{model:?}");
    }

    #[test]
    fn peer_groups_that_differ_keep_their_own_baseline() {
        // Communes at 2%, departments at 8%, 30 agencies each, 300 answers each.
        let data: Vec<Observation> = (0..60)
            .map(|i| Observation {
                k: if i < 30 { 6 } else { 24 },
                n: 300,
                group: usize::from(i >= 30),
            })
            .collect();
        let model = fit(&data, 2, 3.0).unwrap_or_else(unreachable_fit);
        assert!((model.peer_mean(0) - 0.02).abs() < 0.002, "{model:?}");
        assert!((model.peer_mean(1) - 0.08).abs() < 0.005, "{model:?}");
        assert!(
            data.iter().all(|o| model.lfdr(o) > 0.9),
            "no level is flagged"
        );
    }

    #[test]
    fn nothing_to_fit_gives_none() {
        assert!(fit(&[], 1, 3.0).is_none());
        let none = [Observation {
            k: 0,
            n: 50,
            group: 0,
        }];
        assert!(fit(&none, 1, 3.0).is_none());
    }

    fn unreachable_fit() -> MixtureFit {
        MixtureFit {
            peer_means: vec![],
            province_mean: f64::NAN,
            concentration: f64::NAN,
            elevation: f64::NAN,
            elevated_share: f64::NAN,
            rounds: 0,
        }
    }
}
