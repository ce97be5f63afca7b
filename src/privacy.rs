//! Masking personal data in free text before anyone but the reform office's raw export reads it:
//! phone numbers, 12-digit citizen ID numbers and email addresses (domain.md §7).

/// The text with phone numbers, ID numbers and emails replaced by `***`.
pub fn mask_personal_data(text: &str) -> String {
    let masked_emails: Vec<String> = text
        .split(' ')
        .map(|word| {
            if looks_like_email(word) {
                "***".to_owned()
            } else {
                word.to_owned()
            }
        })
        .collect();
    mask_digit_runs(&masked_emails.join(" "))
}

fn looks_like_email(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_alphanumeric());
    w.split_once('@')
        .is_some_and(|(u, h)| !u.is_empty() && h.contains('.'))
}

/// Replaces runs of 9 or more digits (spaces, dots, dashes and a leading + allowed inside):
/// Vietnamese phone numbers have 10 digits (+84 and 9), citizen IDs 12. Shorter numbers
/// (dates, fees, dossier counts) stay.
fn mask_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || " .-+".contains(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                }
                j += 1;
            }
            if digits >= 9 {
                out.push_str("***");
                i = last_digit + 1;
                continue;
            }
            out.extend(&chars[i..=last_digit]);
            i = last_digit + 1;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mask_personal_data;

    #[test]
    fn phones_ids_and_emails_are_masked() {
        assert_eq!(
            mask_personal_data("Gọi tôi 0912 345 678 nhé"),
            "Gọi tôi *** nhé"
        );
        assert_eq!(mask_personal_data("SĐT +84 912.345.678."), "SĐT ***.");
        assert_eq!(mask_personal_data("CCCD 001203004567"), "CCCD ***");
        assert_eq!(
            mask_personal_data("email: an.nguyen@example.vn, cảm ơn"),
            "email: *** cảm ơn"
        );
        assert_eq!(
            mask_personal_data("Ngày 12/03/2026 nộp 50.000 đồng, lần 2"),
            "Ngày 12/03/2026 nộp 50.000 đồng, lần 2"
        );
        assert_eq!(mask_personal_data(""), "");
    }
}
