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

/// A fraction as a percentage with at most one decimal ("30%", "4,1%").
pub fn percent(fraction: f64, lang: Lang) -> String {
    let mut out = String::new();
    push_percent(&mut out, fraction, lang);
    out
}

/// [`percent`] written at the end of `out` (a report writes thousands of them).
pub fn push_percent(out: &mut String, fraction: f64, lang: Lang) {
    let start = out.len();
    let _ = write!(out, "{:.1}", fraction * 100.0);
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
    let _ = write!(out, "{p:.2}");
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
}
