//! Pure statistical functions for agency rates, flags and satisfaction indices
//! (formulas and reference vectors: `shared/docs/statistics.md`).
//!
//! Everything here is a pure function of its arguments: no I/O, no state. Invalid
//! input (n = 0, k > n, a probability outside its range, …) gives `None` rather
//! than a panic; each function documents when.
//!
//! | topic | module |
//! |---|---|
//! | Wilson, Clopper–Pearson, Jeffreys intervals | [`intervals`] |
//! | exact one-sided binomial test, Benjamini–Hochberg | [`testing`] |
//! | funnel limits and overdispersion | [`funnel`] |
//! | peer comparison: two-component beta-binomial mixture, local fdr | [`mixture`] |
//! | the mixture's summed likelihoods, ln Γ once per distinct count | [`likelihood`] |
//! | the flag decision: one false-discovery budget per province | [`flagging`] |
//! | flag severity | [`severity`] |
//! | Bernoulli CUSUM (calibrated lattice chart) and EWMA | [`monitor`] |
//! | the simulation study of the flags | [`simulation`] |
//! | month-on-month change (Newcombe, Fisher) | [`change`] |
//! | top-2-box, mean score, Cronbach's α, Slovin | [`scale`] |

pub mod change;
pub mod flagging;
pub mod funnel;
pub mod intervals;
pub mod likelihood;
pub mod mixture;
pub mod monitor;
pub mod scale;
pub mod severity;
pub mod simulation;
pub mod special;
pub mod testing;

pub use intervals::Interval;
pub use severity::Severity;

use statrs::distribution::{Beta, ContinuousCDF, Normal};

/// Largest `a + b` for which Beta quantiles are computed (so n < 2·10⁶ for the
/// Clopper–Pearson and Jeffreys intervals). statrs 0.19.1's `inv_beta_reg` never
/// returns for a small first shape once `a + b` nears 10⁷ (checked: k = 1 with
/// n = 10⁷ hangs; n ≤ 4·10⁶ was fine), and its relative accuracy is already ~1e-3
/// at 10⁶ (§6.3). Use the Wilson interval beyond this.
const MAX_BETA_QUANTILE_SHAPE_SUM: f64 = 2.0e6;

/// Smallest tail probability passed to a quantile function (statrs issue #435:
/// `inv_beta_reg` misbehaves for tiny probabilities).
const MIN_TAIL_PROBABILITY: f64 = 1.0e-10;

/// Probability in each tail of a two-sided interval at `confidence`,
/// `(1 − confidence) / 2`; `None` unless it is at least [`MIN_TAIL_PROBABILITY`]
/// and `confidence` is positive.
fn tail_probability(confidence: f64) -> Option<f64> {
    let tail = (1.0 - confidence) / 2.0;
    (confidence > 0.0 && tail >= MIN_TAIL_PROBABILITY).then_some(tail)
}

/// Whether `p` is a probability strictly between 0 and 1 (false for NaN).
fn is_open_probability(p: f64) -> bool {
    p > 0.0 && p < 1.0
}

/// Standard-normal quantile Φ⁻¹(p) for p in (0, 1); `None` otherwise.
fn normal_quantile(p: f64) -> Option<f64> {
    is_open_probability(p).then(|| Normal::standard().inverse_cdf(p))
}

/// Quantile of Beta(a, b) at `p`, guarded against the statrs failure modes above:
/// `None` for invalid shapes, `a + b` above [`MAX_BETA_QUANTILE_SHAPE_SUM`], or `p`
/// closer than [`MIN_TAIL_PROBABILITY`] to 0 or 1.
fn beta_quantile(a: f64, b: f64, p: f64) -> Option<f64> {
    if a + b > MAX_BETA_QUANTILE_SHAPE_SUM
        || !(MIN_TAIL_PROBABILITY..=1.0 - MIN_TAIL_PROBABILITY).contains(&p)
    {
        return None;
    }
    Beta::new(a, b).ok()?.try_inverse_cdf(p).ok()
}

/// Asserts `|actual − expected| ≤ rel_tol · |expected|` (so an expected 0 must be
/// exactly 0). Shared by the unit tests of every submodule.
#[cfg(test)]
#[track_caller]
fn assert_close(actual: f64, expected: f64, rel_tol: f64) {
    assert!(
        (actual - expected).abs() <= rel_tol * expected.abs(),
        "actual {actual:.17e} vs expected {expected:.17e} (relative tolerance {rel_tol:e})"
    );
}

/// Asserts `|actual − expected| ≤ abs_tol`, for reference values printed with few digits.
#[cfg(test)]
#[track_caller]
fn assert_within(actual: f64, expected: f64, abs_tol: f64) {
    assert!(
        (actual - expected).abs() <= abs_tol,
        "actual {actual:.17e} vs expected {expected:.17e} (absolute tolerance {abs_tol:e})"
    );
}
