//! Exports for reports and conferences: the agency report as CSV (UTF-8 with BOM, Vietnamese or
//! English, see [`crate::report::sheet`]) or XLSX (title row, headings, percent formats, column
//! widths) — for agency heads their own agencies' released month, withheld like their pages —
//! and for admins the raw anonymous responses as CSV, streamed page by page from the database so
//! that a million rows never sit in memory.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use rust_xlsxwriter::{Format, Workbook};

use super::guard::{Admin, Viewer};
use super::period::PeriodQuery;
use crate::accounts::Role;
use crate::catalog::queries as catalog;
use crate::domain::Lang;
use crate::privacy::mask_personal_data;
use crate::report::map::MapMode;
use crate::report::sheet::{self, Cell};
use crate::report::{self, GroupBy, Query, Report};
use crate::responses::listing::{RawRow, raw_page};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// The UTF-8 byte-order mark Excel needs to read Vietnamese text in a CSV.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Rows fetched per page of the raw export.
const PAGE: i64 = 5_000;

/// What an export is asked for: a period, or for a publication one released month.
#[derive(Debug, serde::Deserialize)]
pub struct ExportQuery {
    #[serde(flatten)]
    period: PeriodQuery,
    /// Anything but empty: the report as it may leave the reform office
    /// ([`crate::report::disclosure::for_publication`]), for one released month.
    publish: Option<String>,
    /// `en` for English headings (and a CSV with `,` and decimal points).
    lang: Option<String>,
}

impl ExportQuery {
    pub(crate) fn lang(&self) -> Lang {
        match self.lang.as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    fn publication(&self) -> bool {
        self.publish
            .as_deref()
            .is_some_and(|p| !p.trim().is_empty())
    }
}

/// What an export covers: the query (period, province, agencies) and whether it is for
/// publication (whole released month, withheld).
pub(crate) async fn scope(
    viewer: &Viewer,
    state: &AppState,
    q: &ExportQuery,
) -> Result<(Query, bool), AppError> {
    // Agency heads export what they see: their agencies, one released month, withheld.
    let head = viewer.role() == Role::AgencyHead;
    let publish = head || q.publication();
    let (from, to) = if publish {
        // Published figures are whole ended months and nothing else: two publications of
        // overlapping windows could be subtracted from each other.
        q.period
            .released_month(crate::clock::today())
            .ok_or(AppError::BadRequest)?
    } else {
        q.period.period()
    };
    let own = viewer.0.user.agency_id;
    let province = q.period.province_code();
    // Published figures are on today's map only: the same month on two maps could be
    // subtracted from each other (a merged unit minus its successor's other members).
    let map = if publish {
        MapMode::Today
    } else {
        q.period.map_mode()
    };
    let query = state
        .read(move |conn| {
            let (province, agencies) = match (head, own) {
                (true, Some(root)) => {
                    let agency = catalog::all_agencies(conn)?
                        .into_iter()
                        .find(|a| a.id == root)
                        .ok_or(AppError::NotFound)?;
                    let province = catalog::province_code(conn, agency.province_id)?;
                    (Some(province), Some(catalog::subtree(conn, root)?))
                }
                (true, None) => return Err(AppError::Forbidden),
                (false, _) => (province, None),
            };
            Ok(Query {
                from,
                to,
                province,
                level: None,
                agencies,
                group_by: GroupBy::Agency,
                map,
            })
        })
        .await?;
    Ok((query, publish))
}

async fn agency_report(
    viewer: &Viewer,
    state: &AppState,
    q: &ExportQuery,
) -> Result<Report, AppError> {
    let (query, publish) = scope(viewer, state, q).await?;
    let report = state
        .read(move |conn| Ok(report::build(conn, &query)?))
        .await?;
    Ok(if publish {
        crate::report::disclosure::for_publication(report).0
    } else {
        report
    })
}

pub(crate) fn attachment(name: &str, content_type: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

/// `GET /admin/export/report.csv`: Vietnamese (`;`, decimal comma) or `?lang=en`.
pub async fn report_csv(
    viewer: Viewer,
    state: web::Data<AppState>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let report = agency_report(&viewer, &state, &q).await?;
    let lang = q.lang();
    let mut body = BOM.to_vec();
    sheet::write_csv(&report, lang, &mut body).map_err(AppError::internal)?;
    Ok(attachment(
        &sheet::file_name(&report, lang, "csv"),
        "text/csv; charset=utf-8",
        body,
    ))
}

/// `GET /admin/export/report.xlsx`.
pub async fn report_xlsx(
    viewer: Viewer,
    state: web::Data<AppState>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let report = agency_report(&viewer, &state, &q).await?;
    let lang = q.lang();
    let body = xlsx(&report, lang).map_err(AppError::internal)?;
    Ok(attachment(
        &sheet::file_name(&report, lang, "xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        body,
    ))
}

/// The agency report as a workbook: a title row (report, province, period), the headings, one
/// row per agency; rates formatted as percentages, column widths set, headings frozen.
pub fn xlsx(report: &Report, lang: Lang) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(lang.pick("Báo cáo", "Report"))?;
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_bold().set_text_wrap();
    let pct = Format::new().set_num_format("0.0%");
    for (c, text) in sheet::title(report, lang).iter().enumerate() {
        sheet.write_string_with_format(0, c as u16 * 2, text, &bold)?;
    }
    for (c, column) in sheet::COLUMNS.iter().enumerate() {
        let c = c as u16;
        sheet.set_column_width(c, column.width)?;
        sheet.write_string_with_format(2, c, column.heading(lang), &wrap)?;
    }
    for (i, a) in report.agencies.iter().flatten().enumerate() {
        let row = 3 + i as u32;
        for (c, column) in sheet::COLUMNS.iter().enumerate() {
            let c = c as u16;
            match (column.value)(a, lang) {
                Cell::Text(t) => {
                    sheet.write_string(row, c, t)?;
                }
                Cell::Count(n) => {
                    sheet.write_number(row, c, n as f64)?;
                }
                Cell::Rate(Some(r)) if r.is_finite() => {
                    sheet.write_number_with_format(row, c, r, &pct)?;
                }
                Cell::Rate(_) => {}
            }
        }
    }
    sheet.set_freeze_panes(3, 2)?;
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
