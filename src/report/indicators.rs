//! Indicators of one group computed from its summed counts (pure): indices with Wilson 95%
//! intervals, rates, Decision 766 ratio, response rate and sample adequacy.

use serde::Serialize;

use super::counts::{Counts, Dossiers};
use crate::stats::intervals::wilson;
use crate::stats::scale::{SLOVIN_MARGIN, sample_is_adequate, slovin_sample_size};

/// Confidence of every interval shown.
pub const CONFIDENCE: f64 = 0.95;

/// Fewest answers for which a percentage is shown (statistics.md §0); below it the group shows
/// "chưa đủ dữ liệu", never 0%.
pub const DISPLAY_MINIMUM: u64 = 10;

/// A share `count / n` with its Wilson interval; `rate` and the interval are null when n = 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    pub count: u64,
    pub n: u64,
    pub rate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// False below [`DISPLAY_MINIMUM`]: show "chưa đủ dữ liệu" instead of the rate.
    pub displayable: bool,
}

impl Share {
    /// The share of `count` among `n` (both non-negative counts from the database).
    pub fn of(count: i64, n: i64) -> Share {
        let (count, n) = (count.max(0) as u64, n.max(0) as u64);
        let interval = wilson(count, n, CONFIDENCE);
        Share {
            count,
            n,
            rate: (n > 0).then(|| count as f64 / n as f64),
            ci_low: interval.map(|i| i.low),
            ci_high: interval.map(|i| i.high),
            displayable: n >= DISPLAY_MINIMUM,
        }
    }
}

/// A satisfaction index: the top-2-box share of an item, with its mean score (1–5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Index {
    /// Share answering Hài lòng or Rất hài lòng among valid answers (a fraction).
    pub index: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Answers in the top two boxes.
    pub count: u64,
    /// Valid answers (excluding "not applicable" and unanswered).
    pub n: u64,
    pub mean_score: Option<f64>,
    pub displayable: bool,
}

impl Index {
    fn of(valid: i64, top2: i64, sum: i64) -> Index {
        let share = Share::of(top2, valid);
        Index {
            index: share.rate,
            ci_low: share.ci_low,
            ci_high: share.ci_high,
            count: share.count,
            n: share.n,
            mean_score: (valid > 0).then(|| sum as f64 / valid as f64),
            displayable: share.displayable,
        }
    }
}

/// The five factor indices (TC0, TT0, CC0, KQ0, PA0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Factors {
    pub access: Index,
    pub procedure: Index,
    pub officials: Index,
    pub result: Index,
    pub feedback: Index,
    /// Mean of the factor indices that have answers (the Ministry-style alternative headline).
    pub mean: Option<f64>,
}

/// Everything shown for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicators {
    pub responses: u64,
    /// The SIPAS index: top-2-box share of the overall question HL0.
    pub sipas: Index,
    pub factors: Factors,
    pub harassment: Share,
    /// Responses reporting a hint (E7 = "Có, gợi ý") or a demand ("Có, yêu cầu") for extra money.
    pub money_hinted: u64,
    pub money_asked: u64,
    pub repeat_visits: Share,
    pub late: Share,
    /// Among late dossiers: the citizen was told in advance (E4) / received an apology (E5).
    pub notified: Share,
    pub apology: Share,
    pub late_without_apology: u64,
    /// Decision 766: share of responses not unsatisfied (HL0 1–2), not complaining, not late.
    pub decision_766: Share,
    /// Responses whose comment matches the harassment lexicon (a soft signal for reviewers).
    pub comment_signals: u64,
    /// Dossiers reported in the period (`None` when the grouping has no dossier count).
    pub dossiers: Option<u64>,
    /// Of the dossiers reported in the period, the share whose survey invitation has been
    /// answered: one population, so never above 100%. It grows after the period ends while
    /// its last invitations are still open (`survey.invitation_ttl_days`).
    pub response_rate: Option<f64>,
    /// Slovin (e = 5%) sample size for the dossiers reported, and whether it is reached.
    pub sample_needed: Option<u64>,
    pub sample_adequate: Option<bool>,
}

impl Indicators {
    /// Computes the indicators of a group; `dossiers` when the grouping has them.
    pub fn from_counts(c: &Counts, dossiers: Option<Dossiers>) -> Indicators {
        let factors = [
            Index::of(c.tc0_valid, c.tc0_top2, c.tc0_sum),
            Index::of(c.tt0_valid, c.tt0_top2, c.tt0_sum),
            Index::of(c.cc0_valid, c.cc0_top2, c.cc0_sum),
            Index::of(c.kq0_valid, c.kq0_top2, c.kq0_sum),
            Index::of(c.pa0_valid, c.pa0_top2, c.pa0_sum),
        ];
        let answered: Vec<f64> = factors.iter().filter_map(|f| f.index).collect();
        let mean =
            (!answered.is_empty()).then(|| answered.iter().sum::<f64>() / answered.len() as f64);
        let response_rate = dossiers
            .filter(|d| d.issued > 0)
            .map(|d| d.answered.clamp(0, d.issued) as f64 / d.issued as f64);
        let dossiers = dossiers.map(|d| d.issued.max(0) as u64);
        let sample_needed = dossiers
            .filter(|d| *d > 0)
            .map(|d| slovin_sample_size(d, SLOVIN_MARGIN));
        Indicators {
            responses: c.n_responses.max(0) as u64,
            sipas: Index::of(c.hl0_valid, c.hl0_top2, c.hl0_sum),
            factors: Factors {
                access: factors[0],
                procedure: factors[1],
                officials: factors[2],
                result: factors[3],
                feedback: factors[4],
                mean,
            },
            harassment: Share::of(c.harassment_k, c.harassment_n),
            money_hinted: c.money_hinted.max(0) as u64,
            money_asked: c.money_asked.max(0) as u64,
            repeat_visits: Share::of(c.repeat_k, c.repeat_n),
            late: Share::of(c.late_k, c.late_n),
            notified: Share::of(c.notified_k, c.notified_n),
            apology: Share::of(c.apology_k, c.apology_n),
            late_without_apology: c.late_no_apology.max(0) as u64,
            decision_766: Share::of(c.n_responses - c.unsatisfied_766, c.n_responses),
            comment_signals: c.comment_flags.max(0) as u64,
            dossiers,
            response_rate,
            sample_needed,
            sample_adequate: dossiers
                .filter(|d| *d > 0)
                .map(|d| sample_is_adequate(c.dossier_responses.max(0) as u64, d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_reference_figures() {
        // domain.md §6.1: {5,4,4,3,2,1, not applicable} → 3/6 = 50.00%.
        let c = Counts {
            hl0_valid: 6,
            hl0_top2: 3,
            hl0_sum: 19,
            n_responses: 7,
            ..Counts::default()
        };
        let i = Indicators::from_counts(&c, None);
        assert_eq!(i.sipas.index, Some(0.5));
        // §6.3: 200 dossiers, 6 unsatisfied + 3 overdue + 1 complained (distinct) → 95.00%.
        let c = Counts {
            n_responses: 200,
            unsatisfied_766: 10,
            ..Counts::default()
        };
        assert_eq!(
            Indicators::from_counts(&c, None).decision_766.rate,
            Some(0.95)
        );
        // §6.4: 1,000 late, 333 notified, 186 apologised → 33.30% / 18.60%.
        let c = Counts {
            late_k: 1000,
            notified_k: 333,
            notified_n: 1000,
            apology_k: 186,
            apology_n: 1000,
            ..Counts::default()
        };
        let i = Indicators::from_counts(&c, None);
        assert_eq!(i.notified.rate, Some(0.333));
        assert_eq!(i.apology.rate, Some(0.186));
        // §6.2: Slovin N = 1,000 → 286.
        let c = Counts {
            n_responses: 300,
            dossier_responses: 285,
            ..Counts::default()
        };
        let dossiers = Dossiers {
            issued: 1000,
            answered: 270,
        };
        let i = Indicators::from_counts(&c, Some(dossiers));
        assert_eq!(
            (i.sample_needed, i.sample_adequate),
            (Some(286), Some(false))
        );
        // Answered invitations among those issued: 285 responses came through dossiers in the
        // period, but only 270 of them answered this period's invitations.
        assert_eq!(i.response_rate, Some(0.27));
    }

    #[test]
    fn empty_groups_have_null_rates_not_zero() {
        let i = Indicators::from_counts(&Counts::default(), Some(Dossiers::default()));
        assert_eq!(i.responses, 0);
        assert_eq!(i.sipas.index, None);
        assert_eq!(i.harassment.rate, None);
        assert!(!i.harassment.displayable);
        assert_eq!(i.response_rate, None);
    }

    #[test]
    fn the_response_rate_never_exceeds_one() {
        // A small agency: 8 dossiers this month, 9 responses (some to last month's invitations).
        let c = Counts {
            n_responses: 9,
            dossier_responses: 9,
            ..Counts::default()
        };
        let d = Dossiers {
            issued: 8,
            answered: 6,
        };
        assert_eq!(
            Indicators::from_counts(&c, Some(d)).response_rate,
            Some(0.75)
        );
        let broken = Dossiers {
            issued: 8,
            answered: 9,
        };
        assert_eq!(
            Indicators::from_counts(&c, Some(broken)).response_rate,
            Some(1.0)
        );
    }

    #[test]
    fn small_groups_are_not_displayable() {
        let s = Share::of(1, 5);
        assert_eq!(s.rate, Some(0.2));
        assert!(!s.displayable);
        assert!(Share::of(1, 10).displayable);
    }
}
