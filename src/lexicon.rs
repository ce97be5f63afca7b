//! The harassment lexicon: comments that describe harassment or informal payment (bồi dưỡng,
//! phong bì, tiền cà phê…), matched without regard to case or Vietnamese diacritics. A match is a
//! soft signal for reviewers, never a flag by itself (domain.md §5).

/// Phrases, folded (lower case, no diacritics).
const PHRASES: [&str; 16] = [
    "boi duong",
    "phong bi",
    "tien ca phe",
    "tien che nuoc",
    "gay kho de",
    "gay kho khan",
    "hach sach",
    "nhung nhieu",
    "sach nhieu",
    "voi vinh",
    "lot tay",
    "bat chet",
    "boi tron",
    "chung chi",
    "tien ngoai",
    "doi tien",
];

/// True when the comment contains a lexicon phrase as whole words.
pub fn matches(comment: &str) -> bool {
    let folded = crate::text::fold(&crate::text::clean(comment));
    // Normalise every run of non-letters to one space so word boundaries are spaces.
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let padded = format!(" {} ", words.join(" "));
    PHRASES.iter().any(|p| padded.contains(&format!(" {p} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_or_hidden_spellings_match_too() {
        use unicode_normalization::UnicodeNormalization;
        let decomposed: String = "Cán bộ đòi bồi dưỡng".nfd().collect();
        assert!(matches(&decomposed), "NFD, as some keyboards type it");
        assert!(
            matches("bồi\u{200B} dưỡng"),
            "a zero-width space inside a word"
        );
        assert!(matches("SÁCH NHIỄU"));
    }

    #[test]
    fn phrases_match_with_or_without_diacritics_as_whole_words() {
        assert!(matches("Cán bộ gợi ý phải bồi dưỡng thì hồ sơ mới nhanh."));
        assert!(matches("phai gui TIEN CA PHE moi duoc"));
        assert!(matches("Bị hạch sách,   nhiều lần"));
        assert!(!matches("Cán bộ nhiệt tình, thủ tục nhanh gọn."));
        assert!(
            !matches("phong bìa hồ sơ bị rách"),
            "a longer word is not a match"
        );
        assert!(!matches(""));
    }
}
