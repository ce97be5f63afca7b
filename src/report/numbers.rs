//! Numbers as a reform-office reader expects them: "4,1%" and "0,98" in Vietnamese, "4.1%" and
//! "0.98" in English.

use super::indicators::{Index, Share};
use crate::domain::Lang;

use std::fmt::Write;

fn localise(s: String, lang: Lang) -> String {
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// Makes the decimal point of the number written from `start` on a comma in Vietnamese.
fn localise_from(out: &mut String, start: usize, lang: Lang) {
    if lang == Lang::Vi
        && let Some(at) = out[start..].find('.')
    {
        out.replace_range(start + at..start + at + 1, ",");
    }
}

/// `v` with `decimals` (0 to 3) digits after the point, as `format!("{v:.decimals$}")` writes it
/// (the exact decimal value rounded to nearest, ties to even), without its general algorithm
/// where `v` is a non-negative number below 10¹²: `v · 10^decimals` rounded, its exact
/// remainder (a fused multiply-add) deciding the ties. A report writes hundreds of thousands of
/// these; `format!` was a tenth of a province-year report's time.
pub fn push_fixed(out: &mut String, v: f64, decimals: usize) {
    const SCALES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
    let fast = v.is_finite() && v.is_sign_positive() && v < 1e12;
    let Some(&scale) = SCALES.get(decimals).filter(|_| fast) else {
        let _ = write!(out, "{v:.decimals$}");
        return;
    };
    let scaled = v * scale;
    // The product's rounding error, exactly: the scaled value is scaled + error.
    let error = v.mul_add(scale, -scaled);
    let floor = scaled.floor();
    let fraction = scaled - floor;
    let up = if fraction != 0.5 {
        fraction > 0.5
    } else if error != 0.0 {
        error > 0.0
    } else {
        floor % 2.0 != 0.0
    };
    // Below 10¹⁵: exact as an integer.
    let rounded = (floor as u64) + u64::from(up);
    let unit = scale as u64;
    let _ = write!(out, "{}", rounded / unit);
    if decimals > 0 {
        let _ = write!(out, ".{:0decimals$}", rounded % unit);
    }
}

/// A fraction as a percentage with at most one decimal ("30%", "4,1%").
pub fn percent(fraction: f64, lang: Lang) -> String {
    let mut out = String::new();
    push_percent(&mut out, fraction, lang);
    out
}

/// [`percent`] written at the end of `out` (a report writes thousands of them).
pub fn push_percent(out: &mut String, fraction: f64, lang: Lang) {
    let start = out.len();
    push_fixed(out, fraction * 100.0, 1);
    if out[start..].ends_with(".0") {
        out.truncate(out.len() - 2);
    }
    localise_from(out, start, lang);
    out.push('%');
}

/// What a figure below the display minimum shows instead.
pub fn not_enough(lang: Lang) -> &'static str {
    lang.pick("chưa đủ dữ liệu", "not enough data")
}

/// An index as a percentage, or "chưa đủ dữ liệu" below the display minimum.
pub fn index_text(i: &Index, lang: Lang) -> String {
    match (i.index, i.displayable) {
        (Some(v), true) => percent(v, lang),
        _ => not_enough(lang).into(),
    }
}

/// A rate as a percentage, or "chưa đủ dữ liệu" below the display minimum.
pub fn share_text(s: &Share, lang: Lang) -> String {
    match (s.rate, s.displayable) {
        (Some(r), true) => percent(r, lang),
        _ => not_enough(lang).into(),
    }
}

/// A difference of two fractions in percentage points with its sign ("+3,1", "-0.4").
pub fn points(difference: f64, lang: Lang) -> String {
    localise(format!("{:+.1}", difference * 100.0), lang)
}

/// A probability with two decimals ("0,98").
pub fn probability(p: f64, lang: Lang) -> String {
    let mut out = String::new();
    push_probability(&mut out, p, lang);
    out
}

/// [`probability`] written at the end of `out`.
pub fn push_probability(out: &mut String, p: f64, lang: Lang) {
    let start = out.len();
    push_fixed(out, p, 2);
    localise_from(out, start, lang);
}

/// A whole number with thousands separated ("37.078" in Vietnamese, "37,078" in English).
pub fn count(n: u64, lang: Lang) -> String {
    let digits = n.to_string();
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_uses_a_decimal_comma() {
        assert_eq!(percent(0.3, Lang::Vi), "30%");
        assert_eq!(percent(0.041, Lang::Vi), "4,1%");
        assert_eq!(percent(0.041, Lang::En), "4.1%");
        assert_eq!(probability(0.9812, Lang::Vi), "0,98");
        assert_eq!(count(37078, Lang::Vi), "37.078");
        assert_eq!(count(1234567, Lang::En), "1,234,567");
        assert_eq!(count(999, Lang::Vi), "999");
        assert_eq!(percent(0.125, Lang::Vi), "12,5%");
        // Only the number written is localised, not what was already there.
        let mut out = String::from("v1.2 p = ");
        push_probability(&mut out, 0.5, Lang::Vi);
        out.push(' ');
        push_percent(&mut out, 0.041, Lang::Vi);
        assert_eq!(out, "v1.2 p = 0,50 4,1%");
    }

    /// Fixed decimals are what `format!` writes: exact ties (which go to the even digit), values
    /// just either side of a tie, whole numbers, and random values over many magnitudes; outside
    /// the fast range (negative, huge, not finite) it is `format!` itself.
    #[test]
    fn fixed_decimals_are_what_format_writes() {
        let check = |v: f64, decimals: usize| {
            let mut fast = String::new();
            push_fixed(&mut fast, v, decimals);
            assert_eq!(fast, format!("{v:.decimals$}"), "{v:e} to {decimals}");
        };
        let mut values = vec![
            0.0,
            0.5,
            1.5,
            2.5,
            0.125,
            0.375,
            99.95,
            999.5,
            1e12 - 0.5,
            0.045,
        ];
        for k in 0..20_000u32 {
            let tie = f64::from(k) / 2000.0;
            values.extend([tie, tie.next_up(), tie.next_down(), f64::from(k) / 8.0]);
        }
        // A fixed pseudo-random sequence (xorshift) over 10⁻⁶ to 10¹².
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            let exponent = (state % 19) as i32 - 6;
            values.push(mantissa * 10f64.powi(exponent));
        }
        for v in values {
            for decimals in 0..=3 {
                check(v, decimals);
            }
        }
        for v in [-0.0, -1.25, 2e12, f64::NAN, f64::INFINITY] {
            check(v, 1);
        }
        check(0.5, 7);
    }
}
