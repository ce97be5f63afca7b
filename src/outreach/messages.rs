//! What the citizen reads: the invitation and the reminder, by email (Vietnamese first, then
//! English; plain text and HTML; no image, no remote resource, no tracking link), and the short
//! text of an SMS or a Zalo notification.
//!
//! SMS go without diacritics by default (`[outreach] sms_unaccented`): text in the GSM 7-bit
//! alphabet takes 160 characters a part, text with Vietnamese letters needs UCS-2 and takes 70,
//! and brand-name SMS contracts in Vietnam are priced per part and often accept unaccented text
//! only. The SMS is fitted into one part (two with diacritics, which the link alone nearly fills),
//! shortening the procedure's name first, then the agency's.

use maud::{DOCTYPE, html};
use unicode_normalization::UnicodeNormalization;

use crate::mail::Email;

/// Which message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invitation,
    Reminder,
}

impl Kind {
    /// The outbox kind (and the gateway's `{{kind}}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Invitation => super::enroll::INVITATION,
            Kind::Reminder => super::enroll::REMINDER,
        }
    }

    /// Parses an outbox kind.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            super::enroll::INVITATION => Some(Kind::Invitation),
            super::enroll::REMINDER => Some(Kind::Reminder),
            _ => None,
        }
    }
}

/// What a message names.
#[derive(Debug, Clone)]
pub struct Facts {
    pub kind: Kind,
    pub agency: String,
    pub procedure: String,
    /// The survey link.
    pub link: String,
    /// When the link stops working, as `dd/mm/yyyy HH:MM` Vietnam time.
    pub expires: String,
    /// The day the link stops working, `dd/mm/yyyy`.
    pub expires_day: String,
    /// The opt-out link.
    pub unsubscribe: String,
}

/// The email to `to`.
pub fn email(to: &str, f: &Facts) -> Email {
    let (subject, lead, lead_en) = match f.kind {
        Kind::Invitation => (
            format!(
                "Xin ý kiến của ông/bà về hồ sơ {} – {}",
                f.procedure, f.agency
            ),
            format!(
                "{} đã giải quyết xong hồ sơ «{}» của ông/bà. Xin ông/bà dành khoảng 3 phút cho biết mức độ hài lòng của mình, để cơ quan phục vụ người dân tốt hơn.",
                f.agency, f.procedure
            ),
            format!(
                "{} has completed your dossier “{}”. Please take about 3 minutes to tell us how satisfied you are, so that the office can serve citizens better.",
                f.agency, f.procedure
            ),
        ),
        Kind::Reminder => (
            format!(
                "Nhắc lại: xin ý kiến của ông/bà về hồ sơ {} – {}",
                f.procedure, f.agency
            ),
            format!(
                "Cách đây ít ngày, {} đã mời ông/bà đánh giá việc giải quyết hồ sơ «{}». Nếu ông/bà chưa trả lời, xin dành khoảng 3 phút. Đây là lời nhắc duy nhất.",
                f.agency, f.procedure
            ),
            format!(
                "A few days ago {} asked you about your dossier “{}”. If you have not answered yet, please take about 3 minutes. This is the only reminder.",
                f.agency, f.procedure
            ),
        ),
    };
    let anonymous = format!(
        "Phiếu khảo sát ẩn danh: câu trả lời không gắn với tên, số điện thoại hay địa chỉ email của ông/bà. Đường dẫn dùng được một lần, đến {} (giờ Việt Nam).",
        f.expires
    );
    let anonymous_en = format!(
        "The survey is anonymous: your answers are not linked to your name, phone number or email address. The link works once, until {} (Vietnam time).",
        f.expires
    );
    let text = format!(
        "Kính gửi ông/bà,\n\n{lead}\n\n{link}\n\n{anonymous}\n\nKhông muốn nhận thêm thư mời khảo sát: {unsub}\n\n-- English --\n\nDear citizen,\n\n{lead_en}\n\n{link}\n\n{anonymous_en}\n\nTo receive no more survey invitations: {unsub}\n",
        link = f.link,
        unsub = f.unsubscribe,
    );
    let html = html! {
        (DOCTYPE)
        html lang="vi" {
            head { meta charset="utf-8"; title { (subject) } }
            body {
                p { "Kính gửi ông/bà," }
                p { (lead) }
                p { a href=(f.link) { "Trả lời phiếu khảo sát" } br; (f.link) }
                p { (anonymous) }
                p { small { "Không muốn nhận thêm thư mời khảo sát: " a href=(f.unsubscribe) { "hủy nhận" } } }
                hr;
                div lang="en" {
                    p { "Dear citizen," }
                    p { (lead_en) }
                    p { a href=(f.link) { "Answer the survey" } }
                    p { (anonymous_en) }
                    p { small { "To receive no more survey invitations: " a href=(f.unsubscribe) { "unsubscribe" } } }
                }
            }
        }
    };
    Email {
        to: to.to_owned(),
        subject,
        text,
        html: html.into_string(),
    }
}

/// The short text of an SMS (`unaccented`: without diacritics, in one GSM part) or, with
/// diacritics and no length limit, of a Zalo notification.
pub fn short(f: &Facts, unaccented: bool, limit: Option<usize>) -> String {
    let convert = |s: &str| {
        if unaccented {
            gsm_text(s)
        } else {
            s.to_owned()
        }
    };
    let build = |agency: &str, procedure: &str| {
        let text = match f.kind {
            Kind::Invitation => format!(
                "{agency} mời Ông/Bà đánh giá hồ sơ {procedure}: {} (hạn {})",
                f.link, f.expires_day
            ),
            Kind::Reminder => format!(
                "Nhắc lại: {agency} mời Ông/Bà đánh giá hồ sơ {procedure}: {} (hạn {})",
                f.link, f.expires_day
            ),
        };
        convert(&text)
    };
    let Some(limit) = limit else {
        return build(&f.agency, &f.procedure);
    };
    let fits = |t: &str| units(t) <= limit;
    let full = build(&f.agency, &f.procedure);
    if fits(&full) {
        return full;
    }
    // Shorten the procedure, then the agency, a word at a time.
    let words = |s: &str, keep: usize| {
        let kept: Vec<&str> = s.split_whitespace().take(keep).collect();
        format!(
            "{}…",
            kept.join(" ").trim_end_matches([',', ';', ':', '.', '-'])
        )
    };
    let procedure_words = f.procedure.split_whitespace().count();
    for keep in (0..procedure_words).rev() {
        let t = build(&f.agency, &words(&f.procedure, keep));
        if fits(&t) {
            return t;
        }
    }
    let agency_words = f.agency.split_whitespace().count();
    for keep in (1..agency_words).rev() {
        let t = build(&words(&f.agency, keep), "…");
        if fits(&t) {
            return t;
        }
    }
    build("", "…")
}

/// The characters an SMS counts for `text`: GSM 7-bit septets (the extension characters take
/// two) when every character is in the GSM alphabet, UCS-2 code units otherwise.
pub fn units(text: &str) -> usize {
    if is_gsm(text) {
        text.chars()
            .map(|c| if GSM_EXTENSION.contains(c) { 2 } else { 1 })
            .sum()
    } else {
        text.encode_utf16().count()
    }
}

/// How many SMS parts `text` takes: 160 septets in one part (153 each when split), or 70 UCS-2
/// units (67 each when split).
pub fn sms_parts(text: &str) -> usize {
    let n = units(text);
    let (single, each) = if is_gsm(text) { (160, 153) } else { (70, 67) };
    if n <= single { 1 } else { n.div_ceil(each) }
}

/// The longest SMS sent: one GSM part unaccented, two UCS-2 parts with diacritics.
pub fn sms_limit(unaccented: bool) -> usize {
    if unaccented { 160 } else { 2 * 67 }
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

fn is_gsm(text: &str) -> bool {
    text.chars()
        .all(|c| GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c))
}

/// `text` without Vietnamese diacritics (`Sở Tư pháp` → `So Tu phap`, `Đ` → `D`), and with every
/// other character outside the GSM alphabet replaced by its nearest ASCII (dashes, quotes) or
/// dropped, so that the SMS stays in 7-bit parts.
pub fn gsm_text(text: &str) -> String {
    text.replace('…', "...")
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .filter_map(|c| match c {
            'đ' => Some('d'),
            'Đ' => Some('D'),
            '–' | '—' | '‐' => Some('-'),
            '“' | '”' | '«' | '»' => Some('"'),
            '‘' | '’' => Some('\''),
            c if c.is_ascii() && (GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c)) => Some(c),
            c if c.is_whitespace() => Some(' '),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: Kind, agency: &str, procedure: &str) -> Facts {
        Facts {
            kind,
            agency: agency.into(),
            procedure: procedure.into(),
            link: "https://khaosat.thainguyen.gov.vn/s/AbCdEfGhIjKlMnOpQrStUv".into(),
            expires: "30/12/2026 09:15".into(),
            expires_day: "30/12/2026".into(),
            unsubscribe: "https://khaosat.thainguyen.gov.vn/u/xyz".into(),
        }
    }

    #[test]
    fn diacritics_go_and_the_gsm_alphabet_stays() {
        assert_eq!(
            gsm_text("Sở Tư pháp – Đăng ký khai sinh"),
            "So Tu phap - Dang ky khai sinh"
        );
        assert_eq!(gsm_text("“Hộ tịch”"), "\"Ho tich\"");
        assert!(is_gsm(&gsm_text("Ủy ban nhân dân xã Hùng Sơn ☺ ⟨x⟩")));
    }

    #[test]
    fn parts_are_counted_as_networks_count_them() {
        assert_eq!(sms_parts(&"a".repeat(160)), 1);
        assert_eq!(sms_parts(&"a".repeat(161)), 2);
        assert_eq!(sms_parts(&"a".repeat(306)), 2);
        assert_eq!(sms_parts(&"a".repeat(307)), 3);
        // Extension characters take two septets.
        assert_eq!(units("[]"), 4);
        assert_eq!(sms_parts(&format!("{}€", "a".repeat(159))), 2);
        // One Vietnamese letter makes the whole message UCS-2.
        assert_eq!(units("Sở"), 2);
        assert_eq!(sms_parts(&"ở".repeat(70)), 1);
        assert_eq!(sms_parts(&"ở".repeat(71)), 2);
    }

    #[test]
    fn a_short_invitation_fits_one_unaccented_part_whole() {
        let f = facts(Kind::Invitation, "UBND xã Hùng Sơn", "Đăng ký khai sinh");
        let sms = short(&f, true, Some(sms_limit(true)));
        assert_eq!(
            sms,
            "UBND xa Hung Son moi Ong/Ba danh gia ho so Dang ky khai sinh: \
             https://khaosat.thainguyen.gov.vn/s/AbCdEfGhIjKlMnOpQrStUv (han 30/12/2026)"
        );
        assert_eq!(units(&sms), 137);
        assert_eq!(sms_parts(&sms), 1);
    }

    #[test]
    fn long_names_are_shortened_by_words_to_one_part_with_the_link_whole() {
        let procedure = "Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất lần đầu";
        let f = facts(Kind::Invitation, "UBND xã Hùng Sơn", procedure);
        let sms = short(&f, true, Some(sms_limit(true)));
        assert_eq!(
            sms,
            "UBND xa Hung Son moi Ong/Ba danh gia ho so Cap Giay chung nhan quyen su dung dat...: \
             https://khaosat.thainguyen.gov.vn/s/AbCdEfGhIjKlMnOpQrStUv (han 30/12/2026)"
        );
        assert_eq!(units(&sms), 160);
        // A long agency name too: the procedure goes, then the agency's last words.
        let f = facts(
            Kind::Reminder,
            "Trung tâm Phục vụ hành chính công tỉnh Thái Nguyên",
            procedure,
        );
        let sms = short(&f, true, Some(sms_limit(true)));
        assert_eq!(
            sms,
            "Nhac lai: Trung tam Phuc vu hanh chinh cong tinh... moi Ong/Ba danh gia ho so ...: \
             https://khaosat.thainguyen.gov.vn/s/AbCdEfGhIjKlMnOpQrStUv (han 30/12/2026)"
        );
        assert_eq!((units(&sms), sms_parts(&sms)), (158, 1));
        // With diacritics: two UCS-2 parts at most, the link whole.
        let accented = short(&f, false, Some(sms_limit(false)));
        assert!(accented.starts_with("Nhắc lại: ") && accented.contains(&f.link));
        assert!(
            units(&accented) <= 134 && sms_parts(&accented) == 2,
            "{accented}"
        );
    }

    #[test]
    fn the_email_names_agency_procedure_link_and_expiry_in_both_languages() {
        let f = facts(Kind::Invitation, "Sở Tư pháp", "Cấp Phiếu lý lịch tư pháp");
        let e = email("dan@example.vn", &f);
        assert_eq!(
            e.subject,
            "Xin ý kiến của ông/bà về hồ sơ Cấp Phiếu lý lịch tư pháp – Sở Tư pháp"
        );
        for part in [&e.text, &e.html] {
            assert!(part.contains("Sở Tư pháp") && part.contains("Cấp Phiếu lý lịch tư pháp"));
            assert!(part.contains(&f.link) && part.contains("30/12/2026 09:15"));
            assert!(part.contains(&f.unsubscribe));
        }
        assert!(e.text.find("Kính gửi") < e.text.find("Dear citizen"));
        // Nothing that loads from elsewhere or counts an opening.
        for banned in ["<img", "src=", "<link", "<script", "url("] {
            assert!(!e.html.contains(banned), "{banned}");
        }
        let hrefs: Vec<&str> = e
            .html
            .split("href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        assert!(
            hrefs.iter().all(|h| *h == f.link || *h == f.unsubscribe),
            "{hrefs:?}"
        );
    }
}
