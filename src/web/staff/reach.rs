//! Reach and response rate: the funnel of each outreach channel (dossiers with an address, not
//! messaged because of the fatigue window or an opt-out, invitations delivered, failures,
//! reminders, answers, response rate) beside the dossiers that got no message, with what SMS
//! cost — on the agency page and as a CSV or XLSX export per agency and channel. For an agency
//! head (and in a publication) answer counts of small groups and their rates are withheld
//! ([`crate::outreach::counts::AnswersWithheld`]).

use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::exports::{ExportQuery, attachment, scope};
use super::guard::Viewer;
use crate::catalog::queries as catalog;
use crate::config::Settings;
use crate::domain::Lang;
use crate::outreach::counts::{Funnel, Reached};
use crate::report::numbers::{count, percent};
use crate::report::sheet::Cell;
use crate::web::error::AppError;
use crate::web::state::AppState;
use rust_xlsxwriter::{Format, Workbook};

fn rate(answered: i64, of: i64, lang: Lang) -> String {
    if of > 0 {
        percent(answered as f64 / of as f64, lang)
    } else {
        "–".to_owned()
    }
}

fn n(v: i64, lang: Lang) -> String {
    count(u64::try_from(v).unwrap_or(0), lang)
}

/// What SMS cost: parts × the configured price, in đồng.
pub fn sms_cost(parts: i64, settings: &Settings) -> i64 {
    parts.saturating_mul(i64::try_from(settings.outreach.sms_cost).unwrap_or(i64::MAX))
}

/// What a withheld cell shows.
fn withheld_text(lang: Lang) -> &'static str {
    lang.pick("ẩn", "hidden")
}

/// The funnel table of `r` (the agency page's section); `withhold` for an agency head.
pub fn funnel_section(r: &Reached, settings: &Settings, withhold: bool, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let hidden = withhold.then(|| r.answers_withheld());
    let channel_hidden = |i: usize| {
        hidden
            .as_ref()
            .is_some_and(|h| h.channels.get(i).copied().unwrap_or(true))
    };
    let unmessaged_hidden = hidden.as_ref().is_some_and(|h| h.unmessaged);
    let total_hidden = hidden.as_ref().is_some_and(|h| h.total);
    let shown = |hide: bool, text: String| {
        if hide {
            withheld_text(lang).to_owned()
        } else {
            text
        }
    };
    let total = r.total();
    let (unmessaged, unmessaged_answered) = r.unmessaged();
    let row = |label: String, get: fn(&Funnel) -> i64, none: Option<i64>, all: Option<i64>| {
        html! { tr {
            th scope="row" { (label) }
            @for (_, f) in &r.channels { td.num { (n(get(f), lang)) } }
            td.num { (none.map_or_else(String::new, |v| n(v, lang))) }
            td.num { (all.map_or_else(String::new, |v| n(v, lang))) }
        } }
    };
    let parts: i64 = r.channels.iter().map(|(_, f)| f.sms_parts).sum();
    html! {
        h2 { (t("Tiếp cận người dân và tỷ lệ phản hồi", "Reaching citizens and the response rate")) }
        p.muted { (t("Theo ngày trả kết quả của hồ sơ. Mỗi hồ sơ được gửi một tin mời và nhiều nhất một tin nhắc, qua kênh đầu tiên gửi được theo thứ tự đã cấu hình.",
                     "By the day each dossier was returned. Each dossier gets one invitation and at most one reminder, by the first channel in the configured order that delivers.")) }
        div.scroll role="region" tabindex="0" aria-label=(t("Tiếp cận người dân theo kênh", "Reach by channel")) { table {
            thead { tr {
                th { span.sr-only { (t("Chỉ tiêu", "Measure")) } }
                @for (m, _) in &r.channels { th.num { (m.label()) } }
                th.num { (t("Không nhắn tin (chỉ in đường dẫn, mã QR)", "No message (printed link, QR code)")) }
                th.num { (t("Tổng", "Total")) }
            } }
            tbody {
                (row(t("Hồ sơ có email hoặc số điện thoại", "Dossiers with an email or phone").to_owned(), |f| f.contacts, None, Some(total.contacts)))
                (row(format!("{} {} {}", t("Không gửi: đã mời trong", "Not sent: invited within"), settings.outreach.fatigue_days, t("ngày qua", "days")), |f| f.recent, None, Some(total.recent)))
                (row(t("Không gửi: người dân đã hủy nhận", "Not sent: the citizen opted out").to_owned(), |f| f.opted_out, None, Some(total.opted_out)))
                (row(t("Tin mời đã gửi được", "Invitations delivered").to_owned(), |f| f.invited, Some(unmessaged), Some(r.dossiers)))
                (row(t("Gửi không được (chuyển kênh sau hoặc bỏ)", "Not delivered (next channel, or given up)").to_owned(), |f| f.failed, None, Some(total.failed)))
                (row(t("Tin nhắc đã gửi được", "Reminders delivered").to_owned(), |f| f.reminded, None, Some(total.reminded)))
                tr {
                    th scope="row" { (t("Phiếu trả lời qua đường dẫn", "Links answered")) }
                    @for (i, (_, f)) in r.channels.iter().enumerate() { td.num { (shown(channel_hidden(i), n(f.answered, lang))) } }
                    td.num { (shown(unmessaged_hidden, n(unmessaged_answered, lang))) }
                    td.num { (shown(total_hidden, n(r.answered, lang))) }
                }
                tr {
                    th scope="row" { (t("Tỷ lệ phản hồi", "Response rate")) }
                    @for (i, (_, f)) in r.channels.iter().enumerate() { td.num { (shown(channel_hidden(i), rate(f.answered, f.invited, lang))) } }
                    td.num { (shown(unmessaged_hidden, rate(unmessaged_answered, unmessaged, lang))) }
                    td.num { (shown(total_hidden, rate(r.answered, r.dossiers, lang))) }
                }
            }
        } }
        @if hidden.as_ref().is_some_and(|h| h.any()) {
            p.muted { (t("Số phiếu trả lời của nhóm dưới 5 phiếu (và khi cần một nhóm nhỏ khác, để không suy ra được bằng phép trừ) được ẩn cùng tỷ lệ phản hồi của nhóm đó, để bảo vệ người trả lời.",
                         "Answer counts of groups of fewer than 5 responses (and, when needed, another small group, so that none can be worked out by subtraction) are hidden with their response rates, to protect respondents.")) }
        }
        p { (t("SMS đã gửi: ", "SMS sent: ")) (n(parts, lang)) (t(" tin (phần 160 ký tự)", " parts (of 160 characters)"))
            @if settings.outreach.sms_cost > 0 {
                " · " (t("chi phí: ", "cost: ")) (n(sms_cost(parts, settings), lang)) " đ"
            }
        }
    }
}

/// One row's cells: an agency's funnel on one channel (its answers and rate withheld when
/// `hide`).
fn cells(
    code: &str,
    name: &str,
    channel: &str,
    f: &Funnel,
    parts: i64,
    cost: i64,
    hide: Option<&str>,
) -> Vec<Cell> {
    let n = |v: i64| Cell::Count(u64::try_from(v).unwrap_or(0));
    let (answered, rate) = match hide {
        Some(text) => (Cell::Text(text.to_owned()), Cell::Text(text.to_owned())),
        None => (n(f.answered), Cell::Rate(f.response_rate())),
    };
    vec![
        Cell::Text(code.to_owned()),
        Cell::Text(name.to_owned()),
        Cell::Text(channel.to_owned()),
        n(f.contacts),
        n(f.recent),
        n(f.opted_out),
        n(f.invited),
        n(f.failed),
        n(f.reminded),
        answered,
        rate,
        n(parts),
        n(cost),
    ]
}

/// The export: title, headings and one row per agency and channel (and one for the dossiers
/// that got no message), over the period (for an agency head, and in a publication: their
/// agencies' released month, answers of small groups withheld).
struct Sheet {
    title: Vec<String>,
    headings: Vec<String>,
    rows: Vec<Vec<Cell>>,
    file: String,
}

async fn sheet(
    viewer: &Viewer,
    state: &AppState,
    q: &ExportQuery,
    extension: &str,
) -> Result<Sheet, AppError> {
    let lang = q.lang();
    let (query, publish) = scope(viewer, state, q).await?;
    let (from, to) = (query.from, query.to);
    let reached = state
        .read(move |conn| {
            let province_id = crate::report::province_id(conn, &query)?;
            let reach = crate::outreach::counts::reach(conn, &query, province_id)?;
            let agencies = catalog::all_agencies(conn)?;
            Ok(reach
                .into_iter()
                .filter_map(|(id, r)| {
                    agencies
                        .iter()
                        .find(|a| a.id == id)
                        .map(|a| (a.code.clone(), a.name.clone(), r))
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en).to_owned();
    let mut rows = Vec::new();
    let hidden_text = withheld_text(lang);
    for (code, name, r) in &reached {
        let hidden = publish.then(|| r.answers_withheld());
        let hide = |h: fn(&crate::outreach::counts::AnswersWithheld, usize) -> bool, i: usize| {
            hidden
                .as_ref()
                .is_some_and(|w| h(w, i))
                .then_some(hidden_text)
        };
        for (i, (m, f)) in r.channels.iter().enumerate() {
            rows.push(cells(
                code,
                name,
                m.label(),
                f,
                f.sms_parts,
                sms_cost(f.sms_parts, &state.settings),
                hide(|w, i| w.channels.get(i).copied().unwrap_or(true), i),
            ));
        }
        let (none, answered) = r.unmessaged();
        let f = Funnel {
            invited: none,
            answered,
            ..Funnel::default()
        };
        rows.push(cells(
            code,
            name,
            &t("không nhắn tin", "no message"),
            &f,
            0,
            0,
            hide(|w, _| w.unmessaged, 0),
        ));
    }
    Ok(Sheet {
        title: vec![
            t(
                "Tiếp cận người dân và tỷ lệ phản hồi",
                "Reaching citizens and the response rate",
            ),
            format!(
                "{}: {} – {}",
                t("Kỳ", "Period"),
                crate::clock::day_text(from),
                crate::clock::day_text(to)
            ),
        ],
        headings: vec![
            t("Mã", "Code"),
            t("Cơ quan", "Agency"),
            t("Kênh", "Channel"),
            t("Hồ sơ có email/số điện thoại", "Dossiers with an address"),
            t("Không gửi: mời gần đây", "Not sent: invited recently"),
            t("Không gửi: đã hủy nhận", "Not sent: opted out"),
            t("Tin mời đã gửi được", "Invitations delivered"),
            t("Gửi không được", "Not delivered"),
            t("Tin nhắc đã gửi được", "Reminders delivered"),
            t("Phiếu trả lời", "Links answered"),
            t("Tỷ lệ phản hồi (%)", "Response rate (%)"),
            t("Số tin SMS", "SMS parts"),
            t("Chi phí SMS (đ)", "SMS cost (VND)"),
        ],
        rows,
        file: format!(
            "sipas-{}-{from}-{to}.{extension}",
            lang.pick("tiep-can", "reach")
        ),
    })
}

/// `GET /admin/export/reach.csv`: Vietnamese (`;`, decimal comma) or `?lang=en`.
pub async fn reach_csv(
    viewer: Viewer,
    state: web::Data<AppState>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let lang = q.lang();
    let sheet = sheet(&viewer, &state, &q, "csv").await?;
    let delimiter = match lang {
        Lang::Vi => b';',
        Lang::En => b',',
    };
    let mut body = b"\xEF\xBB\xBF".to_vec();
    {
        let io = |e: std::io::Error| AppError::internal(e);
        let mut w = crate::csvsafe::Writer::with_delimiter(&mut body, delimiter);
        w.write_record(&sheet.title).map_err(io)?;
        w.write_record(&sheet.headings).map_err(io)?;
        for row in &sheet.rows {
            w.write_record(row.iter().map(|c| match c {
                Cell::Text(t) => t.clone(),
                Cell::Count(n) => n.to_string(),
                Cell::Rate(r) => crate::report::sheet::percent_cell(*r, lang),
            }))
            .map_err(io)?;
        }
        w.flush().map_err(io)?;
    }
    Ok(attachment(&sheet.file, "text/csv; charset=utf-8", body))
}

/// `GET /admin/export/reach.xlsx`: the same as a workbook (rates as percentages).
pub async fn reach_xlsx(
    viewer: Viewer,
    state: web::Data<AppState>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let s = sheet(&viewer, &state, &q, "xlsx").await?;
    let body = workbook(&s).map_err(AppError::internal)?;
    Ok(attachment(
        &s.file,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        body,
    ))
}

fn workbook(s: &Sheet) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_bold().set_text_wrap();
    let pct = Format::new().set_num_format("0.0%");
    for (c, text) in s.title.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16 * 2, text, &bold)?;
    }
    for (c, heading) in s.headings.iter().enumerate() {
        let c = c as u16;
        sheet.set_column_width(c, if c == 1 { 40.0 } else { 14.0 })?;
        sheet.write_string_with_format(2, c, heading, &wrap)?;
    }
    for (i, row) in s.rows.iter().enumerate() {
        let r = 3 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) => {
                    sheet.write_string(r, c, t)?;
                }
                Cell::Count(n) => {
                    sheet.write_number(r, c, *n as f64)?;
                }
                Cell::Rate(Some(v)) if v.is_finite() => {
                    sheet.write_number_with_format(r, c, *v, &pct)?;
                }
                Cell::Rate(_) => {}
            }
        }
    }
    sheet.set_freeze_panes(3, 3)?;
    book.save_to_buffer()
}
