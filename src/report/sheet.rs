//! The agency report as people open it in a spreadsheet: one list of columns (Vietnamese and
//! English headings, values as text, counts or rates) that the CSV and XLSX downloads both
//! render, with a title row naming the report, the province and the period.
//!
//! The Vietnamese CSV uses `;` between fields and a decimal comma (`4,4`), as Excel expects
//! on a computer set to Vietnamese; the English one (`?lang=en`) uses `,` and a decimal point.
//! Rates are percentages with one decimal in CSV, and fractions formatted as percent in XLSX.

use super::{AgencyRow, Report};
use crate::domain::{Lang, Level};
use crate::stats::Severity;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A fraction in [0, 1], shown as a percentage; `None` when there is too little data.
    Rate(Option<f64>),
}

/// A column: its headings and how to read it from an agency row.
pub struct Column {
    pub vi: &'static str,
    pub en: &'static str,
    /// The width in characters a spreadsheet should give it.
    pub width: f64,
    pub value: fn(&AgencyRow, Lang) -> Cell,
}

impl Column {
    /// The heading in `lang`.
    pub fn heading(&self, lang: Lang) -> &'static str {
        lang.pick(self.vi, self.en)
    }
}

fn flag_word(flag: Severity, lang: Lang) -> String {
    match flag {
        Severity::Alarm => lang.pick("báo động", "alarm"),
        Severity::Alert => lang.pick("cảnh báo", "alert"),
        Severity::None => lang.pick("không", "none"),
    }
    .to_owned()
}

/// Every column of the agency report, in order.
pub const COLUMNS: [Column; 20] = [
    Column {
        vi: "Mã",
        en: "Code",
        width: 12.0,
        value: |a, _| Cell::Text(a.code.clone()),
    },
    Column {
        vi: "Cơ quan",
        en: "Agency",
        width: 40.0,
        value: |a, _| Cell::Text(a.name.clone()),
    },
    Column {
        vi: "Cấp",
        en: "Level",
        width: 12.0,
        value: |a, l| Cell::Text(Level::text_of(&a.level, l)),
    },
    Column {
        vi: "Tỉnh",
        en: "Province",
        width: 8.0,
        value: |a, _| Cell::Text(a.province.clone()),
    },
    Column {
        vi: "Số phiếu",
        en: "Responses",
        width: 10.0,
        value: |a, _| Cell::Count(a.responses),
    },
    Column {
        vi: "Hồ sơ đã báo",
        en: "Dossiers reported",
        width: 12.0,
        value: |a, _| Cell::Count(a.dossiers.unwrap_or(0)),
    },
    Column {
        vi: "Tỷ lệ phản hồi (%)",
        en: "Response rate (%)",
        width: 12.0,
        value: |a, _| Cell::Rate(a.response_rate),
    },
    Column {
        vi: "Chỉ số SIPAS (%)",
        en: "SIPAS index (%)",
        width: 12.0,
        value: |a, _| Cell::Rate(a.sipas.index),
    },
    Column {
        vi: "SIPAS – cận dưới KTC 95% (%)",
        en: "SIPAS – 95% CI low (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.sipas.ci_low),
    },
    Column {
        vi: "SIPAS – cận trên KTC 95% (%)",
        en: "SIPAS – 95% CI high (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.sipas.ci_high),
    },
    Column {
        vi: "Phiền hà, sách nhiễu (%)",
        en: "Harassment (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.harassment.rate),
    },
    Column {
        vi: "Phiền hà – mức chung nhóm (%)",
        en: "Harassment – peer level (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.harassment.baseline),
    },
    Column {
        vi: "Phiền hà – cờ",
        en: "Harassment – flag",
        width: 12.0,
        value: |a, l| Cell::Text(flag_word(a.harassment.flag, l)),
    },
    Column {
        vi: "Đi lại nhiều lần (%)",
        en: "Repeated visits (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.repeat_visits.rate),
    },
    Column {
        vi: "Đi lại – mức chung nhóm (%)",
        en: "Repeated visits – peer level (%)",
        width: 14.0,
        value: |a, _| Cell::Rate(a.repeat_visits.baseline),
    },
    Column {
        vi: "Đi lại – cờ",
        en: "Repeated visits – flag",
        width: 12.0,
        value: |a, l| Cell::Text(flag_word(a.repeat_visits.flag, l)),
    },
    Column {
        vi: "Trễ hẹn (%)",
        en: "Late (%)",
        width: 10.0,
        value: |a, _| Cell::Rate(a.late.rate),
    },
    Column {
        vi: "Bị yêu cầu chi thêm tiền (phiếu)",
        en: "Asked for money (responses)",
        width: 14.0,
        value: |a, _| Cell::Count(a.money_asked),
    },
    Column {
        vi: "Cờ chung",
        en: "Overall flag",
        width: 12.0,
        value: |a, l| Cell::Text(flag_word(a.flag, l)),
    },
    Column {
        vi: "Lý do",
        en: "Reasons",
        width: 60.0,
        value: |a, l| {
            Cell::Text(
                a.reasons
                    .iter()
                    .map(|r| l.pick(&r.vi, &r.en))
                    .collect::<Vec<_>>()
                    .join(" | "),
            )
        },
    },
];

/// The title row: what the report is, for which province and period.
pub fn title(report: &Report, lang: Lang) -> Vec<String> {
    let province = report
        .province
        .as_deref()
        .unwrap_or(lang.pick("tất cả", "all"));
    vec![
        lang.pick(
            "Báo cáo chỉ số hài lòng về sự phục vụ hành chính (SIPAS)",
            "Satisfaction with administrative services (SIPAS) report",
        )
        .to_owned(),
        format!("{}: {province}", lang.pick("Tỉnh", "Province")),
        format!(
            "{}: {} – {}",
            lang.pick("Kỳ", "Period"),
            crate::clock::day_text(report.period.from),
            crate::clock::day_text(report.period.to)
        ),
    ]
}

/// The download's file name: `sipas-bao-cao-TT-2025-12-01-2026-11-30.csv`.
pub fn file_name(report: &Report, lang: Lang, extension: &str) -> String {
    let province: String = report
        .province
        .as_deref()
        .unwrap_or("all")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!(
        "sipas-{}-{province}-{}-{}.{extension}",
        lang.pick("bao-cao", "report"),
        report.period.from,
        report.period.to
    )
}

/// A rate as a CSV cell: a percentage with one decimal, with a decimal comma in Vietnamese.
pub(crate) fn percent_cell(rate: Option<f64>, lang: Lang) -> String {
    match rate {
        Some(r) if r.is_finite() => {
            let text = format!("{:.1}", r * 100.0);
            match lang {
                Lang::Vi => text.replace('.', ","),
                Lang::En => text,
            }
        }
        _ => String::new(),
    }
}

/// The report as CSV (UTF-8, after the byte-order mark the caller writes), formula-safe.
pub fn write_csv(report: &Report, lang: Lang, out: impl std::io::Write) -> std::io::Result<()> {
    let delimiter = match lang {
        Lang::Vi => b';',
        Lang::En => b',',
    };
    let mut w = crate::csvsafe::Writer::with_delimiter(out, delimiter);
    w.write_record(title(report, lang))?;
    w.write_record(COLUMNS.iter().map(|c| c.heading(lang)))?;
    for row in report.agencies.iter().flatten() {
        w.write_record(COLUMNS.iter().map(|c| match (c.value)(row, lang) {
            Cell::Text(t) => t,
            Cell::Count(n) => n.to_string(),
            Cell::Rate(r) => percent_cell(r, lang),
        }))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_follow_the_language() {
        assert_eq!(percent_cell(Some(0.0444), Lang::Vi), "4,4");
        assert_eq!(percent_cell(Some(0.0444), Lang::En), "4.4");
        assert_eq!(percent_cell(None, Lang::Vi), "");
        assert_eq!(percent_cell(Some(f64::NAN), Lang::En), "");
    }
}
