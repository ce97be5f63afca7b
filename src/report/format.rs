//! Writing a report as JSON, CSV or a terminal table.

use std::io::Write;

use super::indicators::{Index, Share};
use super::numbers::{index_text, not_enough, share_text};
use super::{AgencyRow, GroupRow, Report};
use crate::domain::Lang;
use crate::stats::Severity;

/// An output format of `sipas report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Table, Format::Csv, Format::Json];

    /// The format's name (`table`, `csv`, `json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// Writes `report` in `format`.
pub fn write(report: &Report, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(report, out)?,
        Format::Table => write_table(report, out)?,
    }
    Ok(())
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn flag_name(f: Severity) -> &'static str {
    match f {
        Severity::None => "none",
        Severity::Alert => "alert",
        Severity::Alarm => "alarm",
    }
}

fn write_csv(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    let mut w = crate::csvsafe::Writer::new(out);
    if let Some(rows) = &report.agencies {
        w.write_record([
            "code",
            "name",
            "level",
            "province",
            "responses",
            "dossiers",
            "response_rate",
            "sipas",
            "sipas_ci_low",
            "sipas_ci_high",
            "harassment_count",
            "harassment_n",
            "harassment_rate",
            "harassment_baseline",
            "harassment_problem_probability",
            "harassment_p_value",
            "harassment_flag",
            "repeat_visits_count",
            "repeat_visits_n",
            "repeat_visits_rate",
            "repeat_visits_baseline",
            "repeat_visits_problem_probability",
            "repeat_visits_p_value",
            "repeat_visits_flag",
            "late_rate",
            "money_asked",
            "flag",
            "reasons",
            "map_note",
        ])?;
        for r in rows {
            let (h, v) = (&r.harassment, &r.repeat_visits);
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.vi.as_str()).collect();
            w.write_record([
                r.code.clone(),
                r.name.clone(),
                r.level.clone(),
                r.province.clone(),
                r.responses.to_string(),
                r.dossiers.map(|d| d.to_string()).unwrap_or_default(),
                opt(r.response_rate),
                opt(r.sipas.index),
                opt(r.sipas.ci_low),
                opt(r.sipas.ci_high),
                h.count.to_string(),
                h.n.to_string(),
                opt(h.rate),
                opt(h.baseline),
                opt(h.problem_probability),
                opt(h.p_value),
                flag_name(h.flag).into(),
                v.count.to_string(),
                v.n.to_string(),
                opt(v.rate),
                opt(v.baseline),
                opt(v.problem_probability),
                opt(v.p_value),
                flag_name(v.flag).into(),
                opt(r.late.rate),
                r.money_asked.to_string(),
                flag_name(r.flag).into(),
                reasons.join(" | "),
                r.map_note
                    .as_ref()
                    .map(|n| n.vi.clone())
                    .unwrap_or_default(),
            ])?;
        }
    }
    if let Some(rows) = &report.groups {
        w.write_record([
            "key",
            "label",
            "responses",
            "dossiers",
            "response_rate",
            "sipas",
            "sipas_ci_low",
            "sipas_ci_high",
            "harassment_rate",
            "repeat_visits_rate",
            "late_rate",
            "apology_rate",
            "decision_766",
        ])?;
        for r in rows {
            let i = &r.indicators;
            w.write_record([
                r.key.clone(),
                r.label.clone(),
                i.responses.to_string(),
                i.dossiers.map(|d| d.to_string()).unwrap_or_default(),
                opt(i.response_rate),
                opt(i.sipas.index),
                opt(i.sipas.ci_low),
                opt(i.sipas.ci_high),
                opt(i.harassment.rate),
                opt(i.repeat_visits.rate),
                opt(i.late.rate),
                opt(i.apology.rate),
                opt(i.decision_766.rate),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn show_index(i: &Index) -> String {
    index_text(i, Lang::Vi)
}

/// A rate with its counts ("4,1% (3/73)").
fn show_share(s: &Share) -> String {
    match (s.rate, s.displayable) {
        (Some(_), true) => format!("{} ({}/{})", share_text(s, Lang::Vi), s.count, s.n),
        _ => not_enough(Lang::Vi).into(),
    }
}

/// `s` cut or padded to `width` characters.
fn cut(s: &str, width: usize) -> String {
    let count = s.chars().count();
    if count <= width {
        format!("{s}{}", " ".repeat(width - count))
    } else {
        format!("{}…", s.chars().take(width - 1).collect::<String>())
    }
}

fn write_table(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "Kỳ báo cáo {} – {}; SIPAS chung {} ({} phiếu)",
        report.period.from,
        report.period.to,
        show_index(&report.totals.sipas),
        report.totals.responses
    )?;
    writeln!(
        out,
        "Bản đồ hành chính: {}",
        match report.map {
            super::map::MapMode::Today =>
                "như hiện nay (số liệu của đơn vị đã sáp nhập tính vào đơn vị kế thừa)",
            super::map::MapMode::AsItWas => "như tại thời điểm đó (đơn vị cũ và mới riêng)",
        }
    )?;
    if let Some(flags) = &report.flags {
        writeln!(out, "Cờ: {}", flags.statement(Lang::Vi))?;
    }
    if let Some(rows) = &report.agencies {
        writeln!(
            out,
            "{} {} {} {} {} {} {} Cờ",
            cut("Mã", 14),
            cut("Cơ quan", 36),
            cut("Cấp", 5),
            cut("Phiếu", 6),
            cut("SIPAS", 16),
            cut("Phiền hà", 22),
            cut("Đi lại nhiều lần", 22),
        )?;
        for r in rows {
            write_agency(r, out)?;
        }
    }
    if let Some(rows) = &report.groups {
        writeln!(
            out,
            "{} {} {} {} {} Trễ hẹn",
            cut("Nhóm", 40),
            cut("Phiếu", 7),
            cut("SIPAS", 16),
            cut("Phiền hà", 22),
            cut("Đi lại nhiều lần", 22),
        )?;
        for r in rows {
            write_group(r, out)?;
        }
    }
    Ok(())
}

fn write_agency(r: &AgencyRow, out: &mut impl Write) -> anyhow::Result<()> {
    let flag = match r.flag {
        Severity::Alarm => "BÁO ĐỘNG",
        Severity::Alert => "cảnh báo",
        Severity::None if r.review => "xem xét",
        Severity::None => "",
    };
    writeln!(
        out,
        "{} {} {} {} {} {} {} {}",
        cut(&r.code, 14),
        cut(&r.name, 36),
        cut(&r.level, 5),
        cut(&r.responses.to_string(), 6),
        cut(&show_index(&r.sipas), 16),
        cut(&show_share(&r.harassment.share()), 22),
        cut(&show_share(&r.repeat_visits.share()), 22),
        flag
    )?;
    for reason in &r.reasons {
        writeln!(out, "    ↳ {}", reason.vi)?;
    }
    Ok(())
}

fn write_group(r: &GroupRow, out: &mut impl Write) -> anyhow::Result<()> {
    let i = &r.indicators;
    writeln!(
        out,
        "{} {} {} {} {} {}",
        cut(&r.label, 40),
        cut(&i.responses.to_string(), 7),
        cut(&show_index(&i.sipas), 16),
        cut(&show_share(&i.harassment), 22),
        cut(&show_share(&i.repeat_visits), 22),
        show_share(&i.late)
    )?;
    Ok(())
}
