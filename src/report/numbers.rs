//! Numbers as a reform-office reader expects them: "4,1%" and "0,98" in Vietnamese, "4.1%" and
//! "0.98" in English.

use super::indicators::{Index, Share};
use crate::domain::Lang;

fn localise(s: String, lang: Lang) -> String {
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A fraction as a percentage with at most one decimal ("30%", "4,1%").
pub fn percent(fraction: f64, lang: Lang) -> String {
    let s = format!("{:.1}", fraction * 100.0);
    let s = s.strip_suffix(".0").map(str::to_owned).unwrap_or(s);
    format!("{}%", localise(s, lang))
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
    localise(format!("{p:.2}"), lang)
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
    }
}
