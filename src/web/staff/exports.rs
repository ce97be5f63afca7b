//! Exports for reports and conferences: the agency report as CSV (UTF-8 with BOM, for Excel) or
//! XLSX (header row, number formats), and for admins the raw anonymous responses as CSV, streamed
//! page by page from the database so that a million rows never sit in memory.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use rust_xlsxwriter::{Format, Workbook};

use super::guard::{Admin, Staff};
use super::period::PeriodQuery;
use crate::privacy::mask_personal_data;
use crate::report::format::{Format as ReportFormat, write};
use crate::report::{self, GroupBy, Query, Report};
use crate::responses::listing::{RawRow, raw_page};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The UTF-8 byte-order mark Excel needs to read Vietnamese text in a CSV.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Rows fetched per page of the raw export.
const PAGE: i64 = 5_000;

async fn agency_report(state: &AppState, q: &PeriodQuery) -> Result<Report, AppError> {
    let (from, to) = q.period();
    let query = Query {
        from,
        to,
        province: q.province_code(),
        level: None,
        agencies: None,
        group_by: GroupBy::Agency,
    };
    state
        .read(move |conn| Ok(report::build(conn, &query)?))
        .await
}

fn attachment(name: &str, content_type: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

/// `GET /admin/export/report.csv` (admins and reviewers).
pub async fn report_csv(
    _: Staff,
    state: web::Data<AppState>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let report = agency_report(&state, &q).await?;
    let mut body = BOM.to_vec();
    write(&report, ReportFormat::Csv, &mut body).map_err(AppError::internal)?;
    Ok(attachment(
        "sipas-bao-cao.csv",
        "text/csv; charset=utf-8",
        body,
    ))
}

/// `GET /admin/export/report.xlsx` (admins and reviewers).
pub async fn report_xlsx(
    _: Staff,
    state: web::Data<AppState>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let report = agency_report(&state, &q).await?;
    let body = xlsx(&report).map_err(AppError::internal)?;
    Ok(attachment(
        "sipas-bao-cao.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        body,
    ))
}

/// The agency report as a workbook: one row per agency, rates formatted as percentages.
pub fn xlsx(report: &Report) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Báo cáo")?;
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.0%");
    let headers = [
        "Mã",
        "Cơ quan",
        "Cấp",
        "Tỉnh",
        "Số phiếu",
        "Hồ sơ",
        "Tỷ lệ phản hồi",
        "SIPAS",
        "SIPAS KTC thấp",
        "SIPAS KTC cao",
        "Phiền hà",
        "Phiền hà (cờ)",
        "Đi lại nhiều lần",
        "Đi lại (cờ)",
        "Trễ hẹn",
        "Bị yêu cầu tiền",
        "Lý do",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let flag = |f: crate::stats::Severity| match f {
        crate::stats::Severity::Alarm => "báo động",
        crate::stats::Severity::Alert => "cảnh báo",
        crate::stats::Severity::None => "",
    };
    for (i, a) in report.agencies.iter().flatten().enumerate() {
        let row = (i + 1) as u32;
        sheet.write_string(row, 0, &a.code)?;
        sheet.write_string(row, 1, &a.name)?;
        sheet.write_string(row, 2, &a.level)?;
        sheet.write_string(row, 3, &a.province)?;
        sheet.write_number(row, 4, a.responses as f64)?;
        sheet.write_number(row, 5, a.dossiers.unwrap_or(0) as f64)?;
        for (col, value) in [
            (6, a.response_rate),
            (7, a.sipas.index),
            (8, a.sipas.ci_low),
            (9, a.sipas.ci_high),
            (10, a.harassment.rate),
            (12, a.repeat_visits.rate),
            (14, a.late.rate),
        ] {
            if let Some(v) = value {
                sheet.write_number_with_format(row, col, v, &pct)?;
            }
        }
        sheet.write_string(row, 11, flag(a.harassment.flag))?;
        sheet.write_string(row, 13, flag(a.repeat_visits.flag))?;
        sheet.write_number(row, 15, a.money_asked as f64)?;
        let reasons: Vec<&str> = a.reasons.iter().map(|r| r.vi.as_str()).collect();
        sheet.write_string(row, 16, reasons.join(" | "))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

/// A stream of CSV chunks produced on the blocking pool.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

fn csv_chunk(rows: &[RawRow], header: bool) -> Result<Bytes, csv::Error> {
    let mut w = crate::csvsafe::Writer::new(Vec::new());
    if header {
        w.write_record([
            "agency_code",
            "submitted_at",
            "procedure_code",
            "channel",
            "questionnaire",
            "late",
            "TC0",
            "TT0",
            "CC0",
            "KQ0",
            "PA0",
            "HL0",
            "E1",
            "E2",
            "E3",
            "E4",
            "E5",
            "E6",
            "E7",
            "C1",
        ])?;
    }
    let opt = |v: Option<i32>| match v {
        Some(0) => "NA".to_owned(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    for r in rows {
        let mut record = vec![
            r.agency.clone(),
            r.day.to_string(),
            r.procedure.clone().unwrap_or_default(),
            r.channel.as_str().to_owned(),
            r.questionnaire.clone(),
            r.late
                .map(|l| if l { "1" } else { "0" }.to_owned())
                .unwrap_or_default(),
        ];
        record.extend(r.answers.iter().map(|a| opt(*a)));
        record.push(
            r.comment
                .as_deref()
                .map(mask_personal_data)
                .unwrap_or_default(),
        );
        w.write_record(&record)?;
    }
    w.into_inner().map(Bytes::from).map_err(csv::Error::from)
}

/// `GET /admin/export/responses.csv` (admins): every response, anonymous fields only (comments
/// masked), in the format `sipas import responses` reads back.
pub async fn responses_csv(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    // A thread of the blocking pool pages through the table; the channel's small buffer keeps
    // memory flat whatever the table's size.
    actix_web::rt::task::spawn_blocking(move || {
        let send = |chunk: Result<Bytes, String>| {
            tx.blocking_send(chunk.map_err(std::io::Error::other))
                .is_ok()
        };
        if !send(Ok(Bytes::from_static(BOM))) {
            return;
        }
        let mut conn = match db.conn() {
            Ok(c) => c,
            Err(e) => {
                send(Err(e.to_string()));
                return;
            }
        };
        let mut after = 0;
        let mut first = true;
        loop {
            let page = match raw_page(&mut conn, after, PAGE) {
                Ok(p) => p,
                Err(e) => {
                    send(Err(e.to_string()));
                    return;
                }
            };
            let Some(last) = page.last().map(|r| r.id) else {
                if first {
                    send(csv_chunk(&[], true).map_err(|e| e.to_string()));
                }
                return;
            };
            if !send(csv_chunk(&page, first).map_err(|e| e.to_string())) {
                return;
            }
            first = false;
            after = last;
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"sipas-phieu-tra-loi.csv\"",
        ))
        .streaming(Chunks(rx)))
}
