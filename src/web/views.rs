//! View pieces shared by the dashboard's pages, each a plain function returning markup. A table
//! that may scroll sideways on a phone sits in a `div.scroll` that is a named region in the tab
//! order, so that a keyboard can scroll it.

use maud::{Markup, html};

use crate::domain::Lang;
use crate::report::GroupRow;
use crate::report::indicators::{Factors, Index};
use crate::report::numbers::{not_enough, percent, share_text};
use crate::stats::Severity;

/// An index with its 95% interval, or "chưa đủ dữ liệu" below the display minimum.
pub fn index_with_interval(i: &Index, lang: Lang) -> Markup {
    match (i.index, i.ci_low, i.ci_high, i.displayable) {
        (Some(v), Some(lo), Some(hi), true) => html! {
            (percent(v, lang)) " " span.muted { "(" (lang.pick("KTC 95%", "95% CI")) ": " (percent(lo, lang).trim_end_matches('%')) "–" (percent(hi, lang)) ")" }
        },
        _ => html! { (not_enough(lang)) },
    }
}

/// The flag badge of an agency row.
pub fn flag_badge(flag: Severity, review: bool, lang: Lang) -> Markup {
    html! {
        @match flag {
            Severity::Alarm => span.flag-alarm { (lang.pick("Báo động", "Alarm")) },
            Severity::Alert => span.flag-alert { (lang.pick("Cảnh báo", "Alert")) },
            Severity::None if review => span.flag-review { (lang.pick("Cần xem xét", "Review")) },
            Severity::None => {},
        }
    }
}

/// The five factor indices.
pub fn factors_table(f: &Factors, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        div.scroll role="region" tabindex="0" aria-label=(t("Năm chỉ số thành phần", "The five factors")) { table {
            thead { tr { th { (t("Yếu tố", "Factor")) } th { (t("Tỷ lệ hài lòng", "Satisfied")) } th.num { (t("Số trả lời", "Answers")) } } }
            tbody {
                @for (name, index) in [(t("Tiếp cận dịch vụ", "Access to the service"), &f.access), (t("Thủ tục hành chính", "Administrative procedure"), &f.procedure), (t("Công chức", "Officials"), &f.officials), (t("Kết quả", "Result"), &f.result), (t("Góp ý, phản ánh, kiến nghị", "Feedback and complaints"), &f.feedback)] {
                    tr { td { (name) } td { (index_with_interval(index, lang)) } td.num { (index.n) } }
                }
            }
        } }
    }
}

/// A breakdown table (month, level, field, procedure).
pub fn groups_table(rows: &[GroupRow], heading: &str, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let label = format!(
        "{}{}",
        t("Số liệu theo ", "Figures by "),
        heading.to_lowercase()
    );
    html! {
        div.scroll role="region" tabindex="0" aria-label=(label) { table {
            thead { tr { th { (heading) } th.num { (t("Phiếu", "Responses")) } th { "SIPAS" } th { (t("Phiền hà", "Harassment")) } th { (t("Đi lại nhiều lần", "Repeated visits")) } th { (t("Trễ hẹn", "Late")) } } }
            tbody {
                @for r in rows {
                    tr {
                        td { (r.label) }
                        td.num { (r.indicators.responses) }
                        td { (index_with_interval(&r.indicators.sipas, lang)) }
                        td { (share_text(&r.indicators.harassment, lang)) }
                        td { (share_text(&r.indicators.repeat_visits, lang)) }
                        td { (share_text(&r.indicators.late, lang)) }
                    }
                }
            }
        } }
    }
}
