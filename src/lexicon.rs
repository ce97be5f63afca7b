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

/// Lower-cases and strips Vietnamese diacritics (đ → d).
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(base_letter)
        .collect()
}

fn base_letter(c: char) -> char {
    const GROUPS: [(&str, char); 7] = [
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ìíỉĩị", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("đ", 'd'),
    ];
    GROUPS
        .iter()
        .find(|(group, _)| group.contains(c))
        .map(|(_, base)| *base)
        .unwrap_or(c)
}

/// True when the comment contains a lexicon phrase as whole words.
pub fn matches(comment: &str) -> bool {
    let folded = fold(comment);
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
    fn folding_strips_vietnamese_diacritics() {
        assert_eq!(fold("Đường BỒI DƯỠNG Phong Bì"), "duong boi duong phong bi");
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
