//! The citizen's pages: the questionnaire form, thank-you, unknown and expired links, and the
//! page that holds answers the database could not take.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::catalog::Procedure;
use crate::domain::Lang;
use crate::questionnaire::{AnswerError, Condition, Form, Item, Kind, Questionnaire, Timeliness};
use crate::responses::submission::Rejected;
use crate::web::layout::{Switch, page};

pub use crate::responses::submission::CONTACT_MAX;

/// Everything the form page shows.
pub struct FormPage<'a> {
    pub lang: Lang,
    pub questionnaire: &'a Questionnaire,
    pub form: Form,
    pub timeliness: Timeliness,
    pub agency_name: &'a str,
    /// Who runs the survey (the province's name), shown so that citizens can trust the link.
    pub organiser: &'a str,
    pub procedure_name: Option<&'a str>,
    /// The path the form posts to and the page lives at (`/s/{token}` or `/k/{agency}`).
    pub path: &'a str,
    /// What the citizen sent, when the form is shown again with errors.
    pub entered: &'a Entered,
    /// Walk-in only: the procedures to pick from.
    pub procedures: Option<&'a [Procedure]>,
}

/// A rejected submission: the values to show again and what is wrong with them.
#[derive(Debug, Default)]
pub struct Entered {
    /// Submitted values, by field name.
    pub values: BTreeMap<String, String>,
    /// Problems with questionnaire items, by item id.
    pub errors: BTreeMap<String, AnswerError>,
    /// Problems with the procedure or contact fields.
    pub field_errors: BTreeMap<&'static str, String>,
    /// The answers were valid but could not be stored (database unavailable): send again later.
    pub unavailable: bool,
}

impl Entered {
    /// The values sent, shown again with what is wrong with them.
    pub fn rejected(values: BTreeMap<String, String>, rejected: Rejected) -> Entered {
        Entered {
            values,
            errors: rejected.errors,
            field_errors: rejected.field_errors,
            unavailable: false,
        }
    }
}

fn url(path: &str, lang: Lang, form: Form) -> String {
    match form {
        Form::Short => format!("{path}?lang={}", lang.tag()),
        Form::Long => format!("{path}?lang={}&form=long", lang.tag()),
    }
}

/// The form's id.
const FORM_ID: &str = "survey";

/// The id of the form's language button (the header's language link points to it).
const LANG_BUTTON: &str = "switch-lang";

/// The questions and fields the citizen must look at again, in page order, with their anchors.
fn problems(p: &FormPage<'_>) -> Vec<(String, String)> {
    let lang = p.lang;
    let mut out = Vec::new();
    if let Some(e) = p.entered.field_errors.get("procedure") {
        out.push(("q-procedure".to_owned(), e.clone()));
    }
    for section in &p.questionnaire.sections {
        for item in &section.items {
            if let Some(e) = p.entered.errors.get(&item.id) {
                let question = item.text.get(lang);
                out.push((
                    format!("q-{}", item.id),
                    format!("{question} — {}", e.message(lang)),
                ));
            }
        }
    }
    if let Some(e) = p.entered.field_errors.get("contact") {
        out.push(("q-contact".to_owned(), e.clone()));
    }
    out
}

/// The questionnaire form. The server validates (`novalidate`: no browser bubbles in the
/// phone's language); when answers come back with problems, a summary at the top takes the
/// focus, counts them and links to each question.
pub fn form_page(p: &FormPage<'_>) -> Markup {
    let lang = p.lang;
    let problems = problems(p);
    let body = html! {
        p.identity { (lang.pick("Khảo sát chính thức của ", "An official survey of ")) strong { (p.organiser) } }
        h1 { (p.questionnaire.title.get(lang)) }
        div.context {
            p { strong { (p.agency_name) } }
            @if let Some(name) = p.procedure_name { p { (name) } }
        }
        @if p.entered.unavailable {
            div.alert role="alert" id="unavailable" {
                (lang.pick("Hệ thống đang bận nên câu trả lời CHƯA được lưu. Các câu trả lời của Ông/Bà vẫn còn trên trang này; xin bấm \"Gửi ý kiến\" lại sau ít phút.",
                           "The service is busy, so your answers have NOT been saved yet. They are still on this page; please press \"Send my answers\" again in a few minutes."))
            }
        }
        @if !problems.is_empty() {
            div.alert role="alert" id="errors" tabindex="-1" autofocus {
                h2 { (lang.pick("Còn ", "")) (problems.len()) (lang.pick(" câu cần xem lại", if problems.len() == 1 { " question to check" } else { " questions to check" })) }
                ul { @for (anchor, text) in &problems { li { a href=(format!("#{anchor}")) { (text) } } } }
            }
        }
        @if problems.is_empty() { p { (p.questionnaire.intro.get(lang)) } }
        form id=(FORM_ID) method="post" action=(url(p.path, lang, p.form)) novalidate {
            input type="hidden" name="form" value=(p.form.as_str());
            @if let Some(procedures) = p.procedures { (procedure_picker(lang, procedures, &p.entered.values, p.entered.field_errors.get("procedure"))) }
            @for section in &p.questionnaire.sections {
                @let items: Vec<&Item> = section.items.iter().filter(|i| i.shown(p.form, p.timeliness)).collect();
                @if !items.is_empty() {
                    section aria-labelledby=(format!("s-{}", section.id)) {
                        h2 id=(format!("s-{}", section.id)) { (section.title.get(lang)) }
                        @if let Some(stem) = &section.stem {
                            @if items.iter().filter(|i| i.kind == Kind::Choice).count() > 1 { p.stem { (stem.get(lang)) } }
                        }
                        @for item in items { (item_field(p, item)) }
                    }
                }
            }
            (contact_field(lang, &p.entered.values, p.entered.field_errors.get("contact")))
            button type="submit" { (lang.pick("Gửi ý kiến", "Send my answers")) }
            @let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
            p.switch {
                button.link #(LANG_BUTTON) type="submit" name="switch_lang" value=(other.tag()) lang=(other.tag()) {
                    (lang.pick("Read in English (your answers are kept)", "Xem bằng tiếng Việt (giữ các câu đã trả lời)"))
                }
            }
        }
        @if p.form == Form::Short {
            p.muted { a href=(url(p.path, lang, Form::Long)) { (lang.pick("Trả lời phiếu đầy đủ (khoảng 5 phút)", "Answer the full questionnaire (about 5 minutes)")) } }
        }
    };
    let title = p.questionnaire.title.get(lang);
    let title = if problems.is_empty() {
        title.to_owned()
    } else {
        format!("{}{title}", lang.pick("Lỗi: ", "Error: "))
    };
    page(
        lang,
        &title,
        Some(Switch::Within {
            anchor: LANG_BUTTON,
            label: other_label(lang),
        }),
        body,
    )
}

fn other_label(lang: Lang) -> &'static str {
    lang.pick("English", "Tiếng Việt")
}

fn item_field(p: &FormPage<'_>, item: &Item) -> Markup {
    let lang = p.lang;
    let error = p.entered.errors.get(&item.id);
    let error_id = format!("e-{}", item.id);
    let value = p
        .entered
        .values
        .get(&item.id)
        .map(String::as_str)
        .unwrap_or("");
    let conditional = item.when == Some(Condition::Late) && p.timeliness == Timeliness::Unknown;
    match item.kind {
        Kind::Text => html! {
            div.field id=(format!("q-{}", item.id)) {
                label.block for=(format!("f-{}", item.id)) { (item.text.get(lang)) }
                @if let Some(hint) = &item.hint { p.hint id=(format!("h-{}", item.id)) { (hint.get(lang)) } }
                @if let Some(e) = error { p.error id=(error_id) { (e.message(lang)) } }
                textarea id=(format!("f-{}", item.id)) name=(item.id) maxlength=[item.max_length]
                    aria-describedby=[item.hint.as_ref().map(|_| format!("h-{}", item.id))] { (value) }
            }
        },
        Kind::Choice => html! {
            fieldset id=(format!("q-{}", item.id)) class=[error.map(|_| "invalid")]
                aria-describedby=[error.map(|_| error_id.clone())] {
                legend {
                    (item.text.get(lang))
                    @if item.required && !conditional { " " span.req aria-hidden="true" { "*" } }
                }
                @if conditional {
                    p.hint { (lang.pick("Chỉ trả lời nếu kết quả bị trễ hẹn.", "Answer only if the result was late.")) }
                }
                @if let Some(hint) = &item.hint { p.hint { (hint.get(lang)) } }
                @if let Some(e) = error { p.error id=(error_id) { (e.message(lang)) } }
                @for (i, option) in item.options.iter().enumerate() {
                    @let v = (i + 1).to_string();
                    label.opt {
                        input type="radio" name=(item.id) value=(v) checked[value == v]
                            required[item.required && !conditional];
                        span { (option.get(lang)) }
                    }
                }
                @if item.na {
                    label.opt {
                        input type="radio" name=(item.id) value="na" checked[value == "na"];
                        span { (p.questionnaire.not_applicable.get(lang)) }
                    }
                }
            }
        },
    }
}

fn procedure_picker(
    lang: Lang,
    procedures: &[Procedure],
    values: &BTreeMap<String, String>,
    error: Option<&String>,
) -> Markup {
    let chosen = values.get("procedure").map(String::as_str).unwrap_or("");
    let mut fields: Vec<&str> = procedures.iter().map(|p| p.field.as_str()).collect();
    fields.dedup();
    html! {
        div.field id="q-procedure" {
            label.block for="f-procedure" {
                (lang.pick("Ông/Bà đã làm thủ tục nào?", "Which procedure did you come for?"))
                " " span.req aria-hidden="true" { "*" }
            }
            @if let Some(e) = error { p.error { (e) } }
            select id="f-procedure" name="procedure" required {
                option value="" { (lang.pick("— Chọn thủ tục —", "— Choose a procedure —")) }
                @for field in fields {
                    optgroup label=(field) {
                        @for p in procedures.iter().filter(|p| p.field == field) {
                            option value=(p.code) selected[chosen == p.code] { (p.name) }
                        }
                    }
                }
            }
        }
    }
}

fn contact_field(lang: Lang, values: &BTreeMap<String, String>, error: Option<&String>) -> Markup {
    html! {
        div.field id="q-contact" {
            h2 { (lang.pick("Liên hệ lại (không bắt buộc)", "Contact (optional)")) }
            label.block for="f-contact" {
                (lang.pick("Nếu muốn cơ quan liên hệ lại, xin để lại số điện thoại hoặc email",
                           "If you would like to be contacted, leave a phone number or email"))
            }
            p.hint id="h-contact" {
                (lang.pick("Thông tin này được lưu riêng, không gắn với câu trả lời của Ông/Bà.",
                           "This is stored separately and is not linked to your answers."))
            }
            @if let Some(e) = error { p.error { (e) } }
            input type="text" id="f-contact" name="contact" maxlength=(CONTACT_MAX) autocomplete="off"
                aria-describedby="h-contact" value=(values.get("contact").map(String::as_str).unwrap_or(""));
        }
    }
}

/// Shown after a submission, and again for a link already used. After an answer that an
/// official asked for money, `complaint_route` says where to report it.
pub fn thanks_page(lang: Lang, path: &str, complaint_route: Option<&str>) -> Markup {
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let switch = format!("{path}?lang={}", other.tag());
    page(
        lang,
        lang.pick("Cảm ơn Ông/Bà", "Thank you"),
        Some(Switch::Link(&switch, other_label(lang))),
        html! {
            div.notice role="status" {
                p.big aria-hidden="true" { "✓" }
                h1 { (lang.pick("Cảm ơn Ông/Bà đã tham gia khảo sát!", "Thank you for taking part in the survey!")) }
                p { (lang.pick("Ý kiến của Ông/Bà đã được ghi nhận và giúp cơ quan phục vụ người dân tốt hơn.",
                               "Your answers have been recorded and will help the agency serve people better.")) }
            }
            h2 { (lang.pick("Điều gì xảy ra tiếp theo?", "What happens next?")) }
            ul {
                li { (lang.pick("Câu trả lời được lưu ẩn danh: không ai biết đó là ý kiến của Ông/Bà.", "Your answers are stored anonymously: nobody can tell they are yours.")) }
                li { (lang.pick("Văn phòng UBND tỉnh và Sở Nội vụ tổng hợp ý kiến hằng tháng và yêu cầu cơ quan khắc phục những điều người dân phản ánh.", "The provincial office and the Department of Home Affairs review the answers every month and ask the agency to fix what people report.")) }
                li { (lang.pick("Nếu Ông/Bà đã để lại số điện thoại hoặc email, cơ quan có thể liên hệ lại.", "If you left a phone number or email, the agency may contact you.")) }
            }
            @if let Some(route) = complaint_route {
                div.alert role="note" {
                    h2 { (lang.pick("Ông/Bà bị yêu cầu chi thêm tiền?", "Were you asked for money?")) }
                    p { (lang.pick("Việc này đã được báo ngay cho cơ quan theo dõi cải cách hành chính của tỉnh. Ông/Bà có thể phản ánh trực tiếp tại:", "This has been reported at once to the province's reform office. You can also report it directly:")) }
                    p { strong { (route) } }
                }
            }
        },
    )
}

/// The database could not be reached before the survey was even opened (503): the answers are
/// kept as hidden fields of a form that sends them again, unchanged, to the same address.
pub fn resend_page(lang: Lang, action: &str, fields: &BTreeMap<String, String>) -> Markup {
    page(
        lang,
        lang.pick("Chưa lưu được câu trả lời", "Answers not saved yet"),
        None,
        html! {
            div.notice {
                p.big aria-hidden="true" { "…" }
                h1 { (lang.pick("Hệ thống đang bận", "The service is busy")) }
                div.alert role="alert" id="unavailable" {
                    (lang.pick("Câu trả lời của Ông/Bà CHƯA được lưu, nhưng vẫn được giữ trên trang này. Xin bấm \"Gửi lại\" sau ít phút; không cần trả lời lại.",
                               "Your answers have NOT been saved yet, but they are kept on this page. Please press \"Send again\" in a few minutes; there is no need to answer again."))
                }
                form method="post" action=(action) {
                    @for (name, value) in fields {
                        input type="hidden" name=(name) value=(value);
                    }
                    button type="submit" { (lang.pick("Gửi lại", "Send again")) }
                }
            }
        },
    )
}

/// An unknown survey link (404).
pub fn unknown_link_page(lang: Lang) -> Markup {
    page(
        lang,
        lang.pick("Không tìm thấy phiếu khảo sát", "Survey not found"),
        None,
        html! {
            div.notice {
                p.big aria-hidden="true" { "?" }
                h1 { (lang.pick("Không tìm thấy phiếu khảo sát", "We could not find this survey")) }
                p { (lang.pick("Đường dẫn có thể bị gõ sai hoặc thiếu ký tự. Xin Ông/Bà kiểm tra lại đường dẫn, hoặc quét lại mã QR trên phiếu hẹn trả kết quả.",
                               "The link may be mistyped or incomplete. Please check it, or scan the QR code on your result slip again.")) }
                p { (lang.pick("Nếu vẫn không được, xin liên hệ Bộ phận một cửa nơi Ông/Bà đã nộp hồ sơ.",
                               "If it still does not work, please contact the one-stop desk where you submitted your application.")) }
            }
        },
    )
}

/// An expired survey link (410), pointing to the agency's general survey.
pub fn expired_page(lang: Lang, walk_in_path: &str) -> Markup {
    page(
        lang,
        lang.pick("Phiếu khảo sát đã hết hạn", "Survey expired"),
        None,
        html! {
            div.notice {
                p.big aria-hidden="true" { "⌛" }
                h1 { (lang.pick("Đường dẫn khảo sát này đã hết hạn", "This survey link has expired")) }
                p { (lang.pick("Mỗi đường dẫn chỉ dùng được trong một thời gian sau khi Ông/Bà nhận kết quả.",
                               "Each link can only be used for a while after you receive your result.")) }
                p { a href=(format!("{walk_in_path}?lang={}", lang.tag())) {
                    (lang.pick("Ông/Bà vẫn có thể góp ý qua phiếu khảo sát chung của cơ quan.",
                               "You can still give feedback through the agency's general survey."))
                } }
            }
        },
    )
}
