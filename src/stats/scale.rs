//! Satisfaction-scale summaries (statistics.md §5, domain.md §4): top-2-box share
//! and mean score of a 1–5 question, Cronbach's α with Feldt's interval, and the
//! Slovin sample-size rule.
//!
//! A question's answers are given as counts by option, `counts[0]` = option 1
//! (Rất không hài lòng) … `counts[4]` = option 5 (Rất hài lòng); "không áp dụng"
//! and blanks are simply not counted.

use super::intervals::wilson;
use super::{Interval, beta_quantile, normal_quantile, tail_probability};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

/// Margin of error e of the adequacy rule in domain.md §4 (5%).
pub const SLOVIN_MARGIN: f64 = 0.05;

/// Degrees of freedom above which the mean-score interval uses the normal
/// quantile instead of Student's t (relative difference below 2e-6).
const MAX_T_DEGREES_OF_FREEDOM: f64 = 1.0e6;

fn valid_answers(counts: &[u64; 5]) -> u64 {
    counts.iter().sum()
}

fn top_two_answers(counts: &[u64; 5]) -> u64 {
    counts[3] + counts[4]
}

/// Top-2-box share (#4 + #5) / #valid as a fraction in [0, 1] — the item index
/// ("tỷ lệ hài lòng") before multiplying by 100. `None` without valid answers.
pub fn top_two_box(counts: &[u64; 5]) -> Option<f64> {
    let valid = valid_answers(counts);
    (valid > 0).then(|| top_two_answers(counts) as f64 / valid as f64)
}

/// Wilson interval for the top-2-box share (the interval shown next to an item index).
pub fn top_two_box_interval(counts: &[u64; 5], confidence: f64) -> Option<Interval> {
    wilson(top_two_answers(counts), valid_answers(counts), confidence)
}

/// Mean score on the 1–5 scale; `None` without valid answers.
pub fn mean_score(counts: &[u64; 5]) -> Option<f64> {
    let valid = valid_answers(counts);
    let total: f64 = (1..=5)
        .zip(counts)
        .map(|(score, &c)| score as f64 * c as f64)
        .sum();
    (valid > 0).then(|| total / valid as f64)
}

/// t interval for the mean score, x̄ ± t_{n−1}·s/√n (s with n − 1 denominator),
/// clamped to [1, 5]. The normal quantile replaces t beyond 10⁶ degrees of
/// freedom. `None` with fewer than two valid answers or an invalid confidence.
pub fn mean_score_interval(counts: &[u64; 5], confidence: f64) -> Option<Interval> {
    let valid = valid_answers(counts);
    if valid < 2 {
        return None;
    }
    let mean = mean_score(counts)?;
    let squares: f64 = (1..=5)
        .zip(counts)
        .map(|(score, &c)| c as f64 * (score as f64 - mean).powi(2))
        .sum();
    let n = valid as f64;
    let standard_error = (squares / (n - 1.0) / n).sqrt();
    let upper_tail = 1.0 - tail_probability(confidence)?;
    let quantile = if n - 1.0 > MAX_T_DEGREES_OF_FREEDOM {
        normal_quantile(upper_tail)?
    } else {
        StudentsT::new(0.0, 1.0, n - 1.0)
            .ok()?
            .try_inverse_cdf(upper_tail)
            .ok()?
    };
    Some(Interval {
        low: (mean - quantile * standard_error).max(1.0),
        high: (mean + quantile * standard_error).min(5.0),
    })
}

/// Cronbach's α for a respondents × items matrix (`responses[i][j]` = answer of
/// respondent i to item j; listwise-complete rows only):
/// α = K/(K − 1)·(1 − Σ s_j² / s_T²), variances with n − 1 denominators.
///
/// `None` with fewer than two respondents or items, rows of unequal length,
/// non-finite values, or a zero variance of the item sum.
pub fn cronbach_alpha(responses: &[Vec<f64>]) -> Option<f64> {
    let items = responses.first()?.len();
    let well_formed = responses
        .iter()
        .all(|row| row.len() == items && row.iter().all(|x| x.is_finite()));
    if responses.len() < 2 || items < 2 || !well_formed {
        return None;
    }
    let item_variances: f64 = (0..items)
        .map(|j| responses.iter().map(|row| row[j]).variance())
        .sum();
    let total_variance = responses
        .iter()
        .map(|row| row.iter().sum::<f64>())
        .variance();
    if total_variance <= 0.0 {
        return None;
    }
    let k = items as f64;
    Some(k / (k - 1.0) * (1.0 - item_variances / total_variance))
}

/// Feldt's interval for Cronbach's α from `respondents` × `items` answers, using
/// (1 − α)/(1 − α̂) ~ F(n − 1, (n − 1)(K − 1)):
/// [1 − (1 − α̂)·F_{1−tail}, 1 − (1 − α̂)·F_{tail}].
/// `None` with fewer than two respondents or items, an invalid confidence, or
/// (n − 1)·K/2 ≥ 2·10⁶ (beyond statrs' reliable Beta quantile).
pub fn feldt_interval(
    alpha: f64,
    respondents: usize,
    items: usize,
    confidence: f64,
) -> Option<Interval> {
    if respondents < 2 || items < 2 {
        return None;
    }
    let tail = tail_probability(confidence)?;
    let d1 = (respondents - 1) as f64;
    let d2 = d1 * (items - 1) as f64;
    // F(d1, d2) quantile through its Beta(d1/2, d2/2) relation, so the Beta guards apply
    let f_quantile =
        |p: f64| beta_quantile(d1 / 2.0, d2 / 2.0, p).map(|z| d2 * z / (d1 * (1.0 - z)));
    Some(Interval {
        low: 1.0 - (1.0 - alpha) * f_quantile(1.0 - tail)?,
        high: 1.0 - (1.0 - alpha) * f_quantile(tail)?,
    })
}

/// Slovin's sample size n = N / (1 + N·e²), rounded up, for `population` N
/// (e.g. completed dossiers in the period) and `margin_of_error` e (e.g. 0.05).
/// A margin that is not positive (or NaN) allows no sampling error: returns N.
pub fn slovin_sample_size(population: u64, margin_of_error: f64) -> u64 {
    if margin_of_error.is_nan() || margin_of_error <= 0.0 {
        return population;
    }
    let population = population as f64;
    let size = population / (1.0 + population * margin_of_error * margin_of_error);
    // the tolerance keeps rounding noise on an exact integer (200.00000000000003) from adding one
    (size - 1e-9).ceil() as u64
}

/// Whether `responses` reach Slovin's size at e = 5% for `population`
/// (below it the UI shows "chưa đủ mẫu").
pub fn sample_is_adequate(responses: u64, population: u64) -> bool {
    responses >= slovin_sample_size(population, SLOVIN_MARGIN)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::assert_close;
    use super::*;

    /// domain.md §6.1: answers {5, 4, 4, 3, 2, 1, không áp dụng} → 3/6 = 50.00%.
    #[test]
    fn domain_item_index_example() {
        let counts = [1, 1, 1, 2, 1];
        assert_eq!(top_two_box(&counts), Some(0.5));
        assert_eq!(top_two_box_interval(&counts, 0.95), wilson(3, 6, 0.95));
        assert_close(mean_score(&counts).unwrap(), 19.0 / 6.0, 1e-15);
    }

    #[test]
    fn no_valid_answers() {
        assert_eq!(top_two_box(&[0; 5]), None);
        assert_eq!(top_two_box_interval(&[0; 5], 0.95), None);
        assert_eq!(mean_score(&[0; 5]), None);
        assert_eq!(mean_score_interval(&[0, 0, 1, 0, 0], 0.95), None);
    }

    /// X5: mean score and its t interval (scipy), clamped to [1, 5].
    #[test]
    fn mean_score_t_interval() {
        #[rustfmt::skip]
        let cases = [
            ([3, 5, 10, 40, 42], 4.13, 3.933279194250513, 4.326720805749487),
            ([1, 1, 1, 2, 1], 3.1666666666666665, 1.6219392306394869, 4.711394102693847),
            ([0, 0, 2, 0, 0], 3.0, 3.0, 3.0),
            ([0, 1, 0, 0, 1], 3.5, 1.0, 5.0), // unclamped: [-15.56, 22.56]
        ];
        for (counts, mean, low, high) in cases {
            assert_close(mean_score(&counts).unwrap(), mean, 1e-12);
            let interval = mean_score_interval(&counts, 0.95).unwrap();
            assert_close(interval.low, low, 1e-9);
            assert_close(interval.high, high, 1e-9);
        }
    }

    /// V6: α = 0.9433433433, Feldt 95% CI [0.8509445182, 0.9841937757].
    #[test]
    fn v6_cronbach_alpha() {
        let responses: Vec<Vec<f64>> = [
            [4, 4, 5, 4],
            [5, 5, 5, 4],
            [3, 4, 3, 3],
            [4, 4, 4, 5],
            [2, 3, 2, 2],
            [5, 4, 5, 5],
            [3, 3, 4, 3],
            [4, 5, 4, 4],
            [1, 2, 2, 1],
            [4, 4, 3, 4],
        ]
        .iter()
        .map(|row| row.iter().map(|&x| f64::from(x)).collect())
        .collect();
        let alpha = cronbach_alpha(&responses).unwrap();
        assert_close(alpha, 0.9433433433, 1e-9);
        let interval = feldt_interval(alpha, 10, 4, 0.95).unwrap();
        assert_close(interval.low, 0.8509445182, 1e-9);
        assert_close(interval.high, 0.9841937757, 1e-9);
    }

    #[test]
    fn cronbach_alpha_rejects_unusable_matrices() {
        assert_eq!(cronbach_alpha(&[]), None);
        assert_eq!(cronbach_alpha(&[vec![1.0, 2.0]]), None);
        assert_eq!(cronbach_alpha(&[vec![1.0], vec![2.0]]), None);
        assert_eq!(cronbach_alpha(&[vec![1.0, 2.0], vec![2.0]]), None);
        assert_eq!(cronbach_alpha(&[vec![1.0, f64::NAN], vec![2.0, 3.0]]), None);
        assert_eq!(cronbach_alpha(&[vec![3.0, 3.0], vec![3.0, 3.0]]), None);
        assert_eq!(feldt_interval(0.9, 1, 4, 0.95), None);
    }

    /// domain.md §6.2: N = 1 000 → 286, N = 10 000 → 385.
    #[test]
    fn slovin_reference_figures() {
        assert_eq!(slovin_sample_size(1_000, SLOVIN_MARGIN), 286);
        assert_eq!(slovin_sample_size(10_000, SLOVIN_MARGIN), 385);
        assert_eq!(slovin_sample_size(400, SLOVIN_MARGIN), 200); // exactly 400 / 2
        assert_eq!(slovin_sample_size(0, SLOVIN_MARGIN), 0);
        assert_eq!(slovin_sample_size(50, 0.0), 50);
        assert!(sample_is_adequate(286, 1_000));
        assert!(!sample_is_adequate(285, 1_000));
        assert!(sample_is_adequate(385, 10_000));
        assert!(!sample_is_adequate(384, 10_000));
    }
}
