//! Disclosure control for what leaves the reform office (an agency head's pages and digests, a
//! publication export): no group of fewer than [`MINIMUM`] responses may be read, directly or by
//! subtracting one shown figure from another.
//!
//! Within a table whose rows partition a shown total (the procedures of an agency-month, the
//! agencies of a province), a hidden row could be recovered as the total minus the shown rows.
//! So rows of fewer than five are hidden (primary suppression) and, while the hidden rows
//! together hold between one and four responses, the smallest shown row is hidden too
//! (complementary suppression): what subtraction recovers is then a pool of at least five, or
//! nothing. If the total itself is below five, everything is hidden. The design, and why fixed
//! released periods close the differencing across time, is in `docs/privacy.md`.

use super::{AgencyRow, GroupRow, Report};

/// The fewest responses a group shown outside the reform office may have.
pub const MINIMUM: u64 = 5;

/// Which of the rows of sizes `sizes` (a partition of their sum) to hide.
pub fn hidden(sizes: &[u64]) -> Vec<bool> {
    let total: u64 = sizes.iter().sum();
    if total < MINIMUM {
        return vec![true; sizes.len()];
    }
    let mut hide: Vec<bool> = sizes.iter().map(|n| *n > 0 && *n < MINIMUM).collect();
    loop {
        let pooled: u64 = sizes
            .iter()
            .zip(&hide)
            .filter(|(_, h)| **h)
            .map(|(n, _)| n)
            .sum();
        if pooled == 0 || pooled >= MINIMUM {
            return hide;
        }
        let smallest = sizes
            .iter()
            .enumerate()
            .filter(|(i, n)| !hide[*i] && **n > 0)
            .min_by_key(|(_, n)| **n)
            .map(|(i, _)| i);
        match smallest {
            Some(i) => hide[i] = true,
            None => return hide,
        }
    }
}

/// What was withheld from a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Withheld {
    /// Rows hidden.
    pub rows: usize,
}

/// The rows that may be shown, and what was withheld; rows with no response are dropped.
fn withhold<T>(rows: Vec<T>, size: impl Fn(&T) -> u64) -> (Vec<T>, Withheld) {
    let rows: Vec<T> = rows.into_iter().filter(|r| size(r) > 0).collect();
    let sizes: Vec<u64> = rows.iter().map(&size).collect();
    let hide = hidden(&sizes);
    let withheld = Withheld {
        rows: hide.iter().filter(|h| **h).count(),
    };
    let shown = rows
        .into_iter()
        .zip(hide)
        .filter(|(_, h)| !h)
        .map(|(r, _)| r)
        .collect();
    (shown, withheld)
}

/// Group rows (a partition of their total) that may be shown.
pub fn withhold_groups(rows: Vec<GroupRow>) -> (Vec<GroupRow>, Withheld) {
    withhold(rows, |r| r.indicators.responses)
}

/// Agency rows (a partition of their province's total) that may be shown.
pub fn withhold_agencies(rows: Vec<AgencyRow>) -> (Vec<AgencyRow>, Withheld) {
    withhold(rows, |r| r.responses)
}

/// The report as it may be published: every table withheld as above, and nothing at all when
/// the whole selection has fewer than [`MINIMUM`] responses.
pub fn for_publication(mut report: Report) -> (Report, Withheld) {
    let mut withheld = Withheld::default();
    if let Some(rows) = report.agencies.take() {
        let (rows, w) = withhold_agencies(rows);
        withheld.rows += w.rows;
        report.agencies = Some(rows);
    }
    if let Some(rows) = report.groups.take() {
        let (rows, w) = withhold_groups(rows);
        withheld.rows += w.rows;
        report.groups = Some(rows);
    }
    (report, withheld)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way to subtract shown rows from the total leaves 0 or at least 5 hidden responses.
    fn safe(sizes: &[u64], hide: &[bool]) -> bool {
        let total: u64 = sizes.iter().sum();
        let pooled: u64 = sizes
            .iter()
            .zip(hide)
            .filter(|(_, h)| **h)
            .map(|(n, _)| n)
            .sum();
        let small_shown = sizes
            .iter()
            .zip(hide)
            .any(|(n, h)| !h && *n > 0 && *n < MINIMUM);
        (total < MINIMUM && hide.iter().all(|h| *h))
            || (!small_shown && (pooled == 0 || pooled >= MINIMUM))
    }

    #[test]
    fn one_small_row_takes_the_next_smallest_with_it() {
        assert_eq!(hidden(&[10, 3, 7, 20]), [false, true, true, false]);
        assert_eq!(hidden(&[10, 2, 2, 20]), [true, true, true, false]);
        assert_eq!(hidden(&[10, 5, 20]), [false, false, false]);
        assert_eq!(hidden(&[4]), [true]);
        assert_eq!(hidden(&[3, 1]), [true, true]);
        assert_eq!(hidden(&[6, 0, 9]), [false, false, false]);
    }

    proptest::proptest! {
        #[test]
        fn no_subtraction_isolates_a_small_group(sizes in proptest::collection::vec(0u64..12, 1..9)) {
            let hide = hidden(&sizes);
            proptest::prop_assert!(safe(&sizes, &hide), "{sizes:?} → {hide:?}");
        }
    }
}
