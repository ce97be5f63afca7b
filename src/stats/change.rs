//! Month-on-month change of a rate (statistics.md §4.3): Newcombe's hybrid-score
//! interval for the difference of two proportions and the one-sided Fisher test.

use super::Interval;
use super::intervals::wilson;
use statrs::stats_tests::{Alternative, fishers_exact};

/// Newcombe hybrid-score interval (Newcombe 1998, method 10) for p1 − p2, with
/// `k1/n1` the current period and `k2/n2` the previous one, built from the Wilson
/// limits (l1, u1), (l2, u2) at `confidence`:
/// [d − √((p̂1 − l1)² + (u2 − p̂2)²), d + √((u1 − p̂1)² + (p̂2 − l2)²)], d = p̂1 − p̂2.
///
/// `None` if either period has no responses, a count exceeds its size, or the
/// confidence is invalid (as for [`wilson`]). Show an "increase" badge only with
/// n ≥ 30 in both periods.
pub fn newcombe_difference(
    k1: u64,
    n1: u64,
    k2: u64,
    n2: u64,
    confidence: f64,
) -> Option<Interval> {
    let (current, previous) = (wilson(k1, n1, confidence)?, wilson(k2, n2, confidence)?);
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let difference = p1 - p2;
    Some(Interval {
        low: difference - (p1 - current.low).hypot(previous.high - p2),
        high: difference + (current.high - p1).hypot(p2 - previous.low),
    })
}

/// One-sided Fisher exact p-value that the current rate `k1/n1` exceeds the
/// previous `k2/n2` (table [[k1, n1 − k1], [k2, n2 − k2]], alternative "greater").
/// `None` if a count exceeds its size.
pub fn fisher_increase_p_value(k1: u64, n1: u64, k2: u64, n2: u64) -> Option<f64> {
    if k1 > n1 || k2 > n2 {
        return None;
    }
    fishers_exact(&[k1, n1 - k1, k2, n2 - k2], Alternative::Greater).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::assert_close;
    use super::*;

    /// V9 (12/80 vs 4/90, 95%) and X8 (99%, and boundary counts).
    #[test]
    fn v9_newcombe_and_fisher() {
        #[rustfmt::skip]
        let cases = [
            (12, 80, 4, 90, 0.95, 0.0161744394199395, 0.20349102857073065, 0.017604047829894172),
            (12, 80, 4, 90, 0.99, -0.014814502939602597, 0.23844337949544828, 0.017604047829894172),
            (0, 30, 3, 40, 0.95, -0.19864233524310543, 0.04870281642511205, 1.0),
            (30, 30, 0, 25, 0.95, 0.8249986681762722, 1.0, 3.2405971270246577e-16),
        ];
        for (k1, n1, k2, n2, confidence, low, high, fisher) in cases {
            let interval = newcombe_difference(k1, n1, k2, n2, confidence).unwrap();
            assert_close(interval.low, low, 1e-9);
            assert_close(interval.high, high, 1e-9);
            assert_close(
                fisher_increase_p_value(k1, n1, k2, n2).unwrap(),
                fisher,
                1e-9,
            );
        }
        // as printed in V9
        let interval = newcombe_difference(12, 80, 4, 90, 0.95).unwrap();
        assert_close(interval.low, 0.01617443942, 1e-9);
        assert_close(interval.high, 0.2034910286, 1e-9);
        assert_close(
            fisher_increase_p_value(12, 80, 4, 90).unwrap(),
            0.01760404783,
            1e-9,
        );
    }

    #[test]
    fn invalid_input_gives_none() {
        assert_eq!(newcombe_difference(0, 0, 1, 10, 0.95), None);
        assert_eq!(newcombe_difference(1, 10, 11, 10, 0.95), None);
        assert_eq!(newcombe_difference(1, 10, 1, 10, 1.0), None);
        assert_eq!(fisher_increase_p_value(3, 2, 1, 10), None);
    }
}
