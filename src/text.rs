//! Normalising text typed by people before it is validated or stored: Unicode NFC (some
//! Vietnamese keyboards send decomposed letters, `a` + U+0301, where others send `á`), no
//! zero-width or other invisible format characters, no control characters but the line break,
//! and `\r\n` as `\n`. Two spellings that look the same are then the same text.

use unicode_normalization::UnicodeNormalization;

/// `text` normalised (see the module documentation).
pub fn clean(text: &str) -> String {
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_control() && b != b'\n') {
        return text.to_owned();
    }
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| keep(*c))
        .nfc()
        .collect()
}

/// True when `c` is visible text (or a line break).
fn keep(c: char) -> bool {
    if c == '\n' {
        return true;
    }
    if c == '\t' {
        return false;
    }
    !(c.is_control()
        || matches!(c,
            '\u{00AD}'              // soft hyphen
            | '\u{061C}'            // Arabic letter mark
            | '\u{180E}'            // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, joiners, direction marks
            | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidirectional isolates
            | '\u{FEFF}'            // byte order mark / zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'))
}

/// True when `text` has a line break (one-line fields must not).
pub fn has_line_break(text: &str) -> bool {
    text.contains(['\n', '\r', '\u{2028}', '\u{2029}', '\u{0085}'])
}

/// Lower-case letters without diacritics (`Sách nhiễu` → `sach nhieu`, `Đ` → `d`), whatever
/// form (composed or decomposed) the text came in: for matching words, never for storage.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_and_composed_text_become_the_same() {
        let composed = "Sách nhiễu, đòi tiền";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        assert_eq!(clean(&decomposed), composed);
        assert_eq!(fold(&decomposed), "sach nhieu, doi tien");
        assert_eq!(fold(composed), "sach nhieu, doi tien");
        assert_eq!(fold("ĐỒNG Ý"), "dong y");
    }

    #[test]
    fn invisible_and_control_characters_go() {
        assert_eq!(clean("Sở\u{200B} Tư\u{200D} pháp\u{FEFF}"), "Sở Tư pháp");
        assert_eq!(clean("a\u{0007}b\tc\r\nd\u{202E}e"), "abc\nde");
        assert_eq!(clean("plain ascii"), "plain ascii");
        assert!(has_line_break("a\nb") && !has_line_break("a b"));
    }

    proptest::proptest! {
        /// Cleaning is idempotent, leaves no control or invisible character but the line break,
        /// and folding a cleaned text equals folding the raw one with those characters dropped.
        #[test]
        fn cleaning_is_idempotent_and_leaves_only_visible_text(text in "\\PC{0,40}|[\\x00-\\x1f\\x{200b}-\\x{200f}\\x{feff}a-zđáạ\\x{301}\\x{323}]{0,40}") {
            let once = clean(&text);
            proptest::prop_assert_eq!(clean(&once), once.clone());
            proptest::prop_assert!(once.chars().all(|c| c == '\n' || keep(c)));
            proptest::prop_assert!(!fold(&once).chars().any(unicode_normalization::char::is_combining_mark));
        }
    }
}
