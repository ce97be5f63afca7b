//! Reading CSV files with a header row: columns found by name, errors tied to line numbers.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The 1-based line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dòng {} (line {}): {}",
            self.line, self.line, self.message
        )
    }
}

/// Why a file was not imported. Nothing is written when any line is bad.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", format_lines(.0))]
    Lines(Vec<LineError>),
    #[error("không đọc được tệp (cannot read the file): {0}")]
    Read(String),
    #[error(
        "lỗi cơ sở dữ liệu, không dòng nào được nhập (database error, nothing was imported): {0}"
    )]
    Database(#[from] diesel::result::Error),
    #[error(
        "lỗi cơ sở dữ liệu, không dòng nào được nhập (database error, nothing was imported): {0}"
    )]
    Store(#[from] crate::db::StoreError),
    /// A staged import stopped because recovery took it for abandoned.
    #[error("{0}; không dòng nào được nhập (nothing was imported)")]
    Abandoned(String),
    /// Every row is stored, but adding them to the report counts stopped: they are completed at
    /// the next start (or import), and until then the rows are not shown.
    #[error(
        "đã lưu cả {rows} phiếu nhưng việc cộng vào số liệu báo cáo bị dừng ({reason}); số liệu được \
         cộng nốt khi sipas khởi động hoặc nhập lần sau, và các phiếu hiện ra từ lúc đó \
         (all {rows} responses were stored, but adding them to the report counts stopped; the counts \
         are completed when sipas next starts or imports, and the responses are shown from then)"
    )]
    Unpublished { rows: u64, reason: String },
}

/// At most this many line errors are collected; the rest are counted.
pub const MAX_REPORTED: usize = 100;

fn format_lines(errors: &[LineError]) -> String {
    let mut out = format!(
        "có {n} lỗi, không dòng nào được nhập ({n} problem(s) found, nothing was imported):",
        n = errors.len()
    );
    for e in errors {
        out.push_str(&format!("\n  {e}"));
    }
    out
}

/// A strict RFC 4180 reader that yields records as `column name → value`:
/// - a quote may only open a field and must close it (a doubled quote inside is one quote); a
///   stray quote, or text after the closing quote, is an error on that line;
/// - a quote never closed is an error naming the line where it opened;
/// - a line break inside a quoted field is accepted only in the columns named multi-line (a
///   comment); elsewhere it is the sign of a quote left open, and is reported with the line
///   where the field started;
/// - every field is normalised ([`crate::text::clean`]): NFC, no invisible characters.
pub struct CsvRows<R: Read> {
    input: BufReader<R>,
    /// The 1-based line of the next byte.
    line: u64,
    at_start: bool,
    columns: HashMap<String, usize>,
    names: Vec<String>,
    multiline: Vec<bool>,
    fields: Vec<String>,
    buffer: Vec<u8>,
}

/// One data row.
pub struct Row<'a> {
    pub line: u64,
    columns: &'a HashMap<String, usize>,
    names: &'a [String],
    fields: &'a [String],
}

impl Row<'_> {
    /// The trimmed value of a column; empty when the column is absent.
    pub fn get(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|i| self.fields.get(*i))
            .map(|v| v.trim())
            .unwrap_or("")
    }

    /// Columns whose names satisfy `keep`, in header order, with their values.
    pub fn columns_where<'s>(
        &'s self,
        keep: impl Fn(&str) -> bool + 's,
    ) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        self.names
            .iter()
            .zip(self.fields.iter())
            .filter(move |(name, _)| keep(name))
            .map(|(name, value)| (name.as_str(), value.trim()))
    }
}

/// A raw record: its fields and the line each started on.
struct Record {
    line: u64,
    fields: Vec<(u64, Vec<u8>)>,
}

impl<R: Read> CsvRows<R> {
    /// Opens a CSV with a header row that must contain every `required` column. A UTF-8 byte
    /// order mark (Excel) is ignored. No column may hold a line break.
    pub fn open(input: R, required: &[&str]) -> Result<CsvRows<R>, ImportError> {
        CsvRows::open_with(input, required, &[])
    }

    /// Like [`CsvRows::open`], where the columns named in `multiline` may hold line breaks.
    pub fn open_with(
        input: R,
        required: &[&str],
        multiline: &[&str],
    ) -> Result<CsvRows<R>, ImportError> {
        let mut rows = CsvRows {
            input: BufReader::with_capacity(1 << 16, input),
            line: 1,
            at_start: true,
            columns: HashMap::new(),
            names: Vec::new(),
            multiline: Vec::new(),
            fields: Vec::new(),
            buffer: Vec::new(),
        };
        let header = match rows.read_record() {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(ImportError::Lines(vec![LineError {
                    line: 1,
                    message: "tệp trống: dòng đầu phải ghi tên các cột (the file is empty: the first line must name the columns)".into(),
                }]));
            }
            Err(e) => return Err(ImportError::Lines(vec![e])),
        };
        for (i, (line, raw)) in header.fields.iter().enumerate() {
            let name = text_of(raw, *line)
                .map_err(|e| ImportError::Lines(vec![e]))?
                .trim()
                .to_owned();
            if line_break(&name) || *line != 1 {
                return Err(ImportError::Lines(vec![LineError {
                    line: 1,
                    message: "một tên cột có dấu xuống dòng (a column name holds a line break)"
                        .into(),
                }]));
            }
            rows.names.push(name.clone());
            rows.multiline.push(multiline.contains(&name.as_str()));
            if rows.columns.insert(name.clone(), i).is_some() {
                return Err(ImportError::Lines(vec![LineError {
                    line: 1,
                    message: format!(
                        "cột {name} xuất hiện hai lần ở dòng tiêu đề (column {name} appears twice in the header)"
                    ),
                }]));
            }
        }
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !rows.columns.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::Lines(vec![LineError {
                line: 1,
                message: format!(
                    "dòng tiêu đề thiếu cột {m}; cần có {r} (the header lacks column(s) {m}; expected {r})",
                    m = missing.join(", "),
                    r = required.join(",")
                ),
            }]));
        }
        Ok(rows)
    }

    /// The header's column names.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The next data row, skipping blank lines; `Err` for a bad line (reading goes on after it,
    /// except after a quote that never closes).
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, LineError>> {
        loop {
            let record = match self.read_record() {
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
                Ok(Some(r)) => r,
            };
            if record.fields.iter().all(|(_, f)| f.trim_ascii().is_empty()) {
                continue;
            }
            // A line break where none belongs comes first: it explains a wrong field count.
            for (i, (start, raw)) in record.fields.iter().enumerate() {
                let may_break = self.multiline.get(i).copied().unwrap_or(false);
                if !may_break && raw.contains(&b'\n') {
                    let column = self.names.get(i).map_or("?", String::as_str);
                    return Some(Err(LineError {
                        line: *start,
                        message: format!(
                            "cột {column} có dấu xuống dòng: dấu ngoặc kép mở ở dòng {start} có lẽ chỉ \
                             đóng ở một dòng sau (column {column} holds a line break: a quote opened \
                             on line {start} is probably closed only on a later line)"
                        ),
                    }));
                }
            }
            if record.fields.len() != self.columns.len() {
                return Some(Err(LineError {
                    line: record.line,
                    message: format!(
                        "cần {e} trường, có {f} (expected {e} fields, found {f})",
                        e = self.columns.len(),
                        f = record.fields.len()
                    ),
                }));
            }
            self.fields.clear();
            for (i, (start, raw)) in record.fields.iter().enumerate() {
                let value = match text_of(raw, *start) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                };
                if !self.multiline[i] && line_break(&value) {
                    return Some(Err(LineError {
                        line: *start,
                        message: format!(
                            "cột {c} có dấu xuống dòng (column {c} holds a line break: U+2028, U+2029 or U+0085)",
                            c = self.names[i]
                        ),
                    }));
                }
                self.fields.push(value);
            }
            return Some(Ok(Row {
                line: record.line,
                columns: &self.columns,
                names: &self.names,
                fields: &self.fields,
            }));
        }
    }

    /// Reads one record (which may span lines inside quotes); `None` at the end of the input.
    /// After an error the rest of the physical line is dropped and reading goes on.
    fn read_record(&mut self) -> Result<Option<Record>, LineError> {
        let mut record = Record {
            line: self.line,
            fields: vec![(self.line, Vec::new())],
        };
        // The current field: whether it was quoted, is inside its quotes, or past them.
        let (mut quoted, mut in_quotes, mut after_quote) = (false, false, false);
        let mut opened_on = self.line;
        let mut any = false;
        loop {
            self.buffer.clear();
            let read = self
                .input
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| LineError {
                    line: self.line,
                    message: format!("không đọc được (cannot read): {e}"),
                })?;
            if read == 0 {
                if in_quotes {
                    return Err(LineError {
                        line: opened_on,
                        message: format!(
                            "dấu ngoặc kép mở ở dòng {opened_on} không bao giờ đóng (the quote opened on line {opened_on} is never closed)"
                        ),
                    });
                }
                return Ok(any.then_some(record));
            }
            any = true;
            let mut bytes: &[u8] = &self.buffer;
            if self.at_start {
                self.at_start = false;
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            let line = self.line;
            self.line += 1;
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                let next = bytes.get(i + 1).copied();
                i += 1;
                let last = record.fields.len() - 1;
                let field = &mut record.fields[last];
                if in_quotes {
                    match b {
                        b'"' if next == Some(b'"') => {
                            field.1.push(b'"');
                            i += 1;
                        }
                        b'"' => {
                            in_quotes = false;
                            after_quote = true;
                        }
                        // \r\n inside a quoted field is a line break like \n.
                        b'\r' if next == Some(b'\n') => {}
                        _ => field.1.push(b),
                    }
                    continue;
                }
                match b {
                    b',' => {
                        record.fields.push((line, Vec::new()));
                        (quoted, after_quote) = (false, false);
                    }
                    b'\n' => return Ok(Some(record)),
                    b'\r' if next == Some(b'\n') => {}
                    b'"' if field.1.is_empty() && !quoted => {
                        (quoted, in_quotes, opened_on) = (true, true, line);
                        field.0 = line;
                    }
                    b'"' => {
                        return Err(LineError {
                            line,
                            message: "dấu ngoặc kép lạc trong một trường: đặt cả trường trong ngoặc \
                                      kép và viết dấu ngoặc kép bên trong thành hai dấu (\"\") (a stray \
                                      quote inside a field: put the whole field in quotes and write a \
                                      quote inside it as two quotes)"
                                .into(),
                        });
                    }
                    _ if after_quote => {
                        return Err(LineError {
                            line,
                            message: "có chữ sau dấu ngoặc kép đóng: trường trong ngoặc kép phải \
                                      kết thúc ở dấu đóng (text after a closing quote: a quoted field \
                                      must end where its quote closes)"
                                .into(),
                        });
                    }
                    _ => field.1.push(b),
                }
            }
            if !in_quotes {
                // The last line of a file that does not end with a line break.
                return Ok(Some(record));
            }
        }
    }
}

/// The field's bytes as normalised text.
fn text_of(raw: &[u8], line: u64) -> Result<String, LineError> {
    std::str::from_utf8(raw)
        .map(crate::text::clean)
        .map_err(|_| LineError {
            line,
            message: "văn bản không phải UTF-8 hợp lệ: hãy lưu tệp dạng CSV UTF-8 (the text is not valid UTF-8: save the file as CSV UTF-8)".into(),
        })
}

fn line_break(value: &str) -> bool {
    crate::text::has_line_break(value)
}

/// Collects line errors up to [`MAX_REPORTED`].
#[derive(Debug, Default)]
pub struct Problems(Vec<LineError>);

impl Problems {
    /// Records a problem on a line.
    pub fn add(&mut self, line: u64, message: impl Into<String>) {
        if self.0.len() < MAX_REPORTED {
            self.0.push(LineError {
                line,
                message: message.into(),
            });
        }
    }

    /// Records an unreadable line.
    pub fn push(&mut self, error: LineError) {
        self.add(error.line, error.message);
    }

    /// How many problems were recorded (at most [`MAX_REPORTED`]).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is wrong so far.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok when no problem was found, otherwise the error listing them.
    pub fn into_result(self) -> Result<(), ImportError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Lines(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_with_line_numbers() -> Result<(), ImportError> {
        let data = "\u{feff}b,a\n 2 ,1\n4,3\n5\n,\n";
        let mut rows = CsvRows::open(data.as_bytes(), &["a", "b"])?;
        let mut seen = vec![];
        while let Some(row) = rows.next_row() {
            match row {
                Ok(r) => seen.push(format!("{}:{}{}", r.line, r.get("a"), r.get("b"))),
                Err(e) => seen.push(e.to_string()),
            }
        }
        assert_eq!(
            seen,
            [
                "2:12",
                "3:34",
                "dòng 4 (line 4): cần 2 trường, có 1 (expected 2 fields, found 1)"
            ]
        );
        Ok(())
    }

    fn read_all(data: &str, multiline: &[&str]) -> Vec<String> {
        let mut seen = vec![];
        let Ok(mut rows) = CsvRows::open_with(data.as_bytes(), &["a", "b"], multiline) else {
            return vec!["header".into()];
        };
        while let Some(row) = rows.next_row() {
            match row {
                Ok(r) => seen.push(format!("{}:{}|{}", r.line, r.get("a"), r.get("b"))),
                Err(e) => seen.push(e.to_string()),
            }
        }
        seen
    }

    #[test]
    fn quoting_is_strict_and_errors_name_their_lines() {
        // A quote left open on line 3 and closed on line 5 would swallow two rows.
        let swallowing = "a,b\nA1,x\nA2,\"Sở Q2, nhánh\nA3,y\nA4,z\"\nA5,w\n";
        assert_eq!(
            read_all(swallowing, &[]),
            [
                "2:A1|x",
                "dòng 3 (line 3): cột b có dấu xuống dòng: dấu ngoặc kép mở ở dòng 3 có lẽ chỉ \
                 đóng ở một dòng sau (column b holds a line break: a quote opened on line 3 is \
                 probably closed only on a later line)",
                "6:A5|w"
            ]
        );
        assert_eq!(
            read_all("a,b\n1,x\"y\n2,\"ok\"\"q\"\n", &[]),
            [
                "dòng 2 (line 2): dấu ngoặc kép lạc trong một trường: đặt cả trường trong ngoặc \
                 kép và viết dấu ngoặc kép bên trong thành hai dấu (\"\") (a stray quote inside a \
                 field: put the whole field in quotes and write a quote inside it as two quotes)",
                "3:2|ok\"q"
            ]
        );
        assert_eq!(
            read_all("a,b\n\"1\"x,2\n", &[])[0],
            "dòng 2 (line 2): có chữ sau dấu ngoặc kép đóng: trường trong ngoặc kép phải kết thúc \
             ở dấu đóng (text after a closing quote: a quoted field must end where its quote closes)"
        );
        assert_eq!(
            read_all("a,b\n1,2\n3,\"open\n4,5\n", &[]),
            [
                "2:1|2",
                "dòng 3 (line 3): dấu ngoặc kép mở ở dòng 3 không bao giờ đóng (the quote opened on \
                 line 3 is never closed)"
            ]
        );
    }

    #[test]
    fn multiline_columns_crlf_and_normalisation() {
        use unicode_normalization::UnicodeNormalization;
        let nfd: String = "Sách".nfd().collect();
        let data = format!("a,b\r\n1,\"two\r\nlines\"\r\n{nfd}\u{200B},\"\"\r\n");
        assert_eq!(read_all(&data, &["b"]), ["2:1|two\nlines", "4:Sách|"]);
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header() {
        let err = CsvRows::open("a\n1\n".as_bytes(), &["a", "b"]).err();
        assert!(
            matches!(err, Some(ImportError::Lines(l)) if l[0].line == 1 && l[0].message.contains('b'))
        );
    }

    proptest::proptest! {
        /// Arbitrary bytes after a valid header: every line is a row or a line error, no panic.
        #[test]
        fn arbitrary_input_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut input = b"a,b\n".to_vec();
            input.extend(body);
            if let Ok(mut rows) = CsvRows::open(input.as_slice(), &["a", "b"]) {
                let mut guard = 0;
                while let Some(row) = rows.next_row() {
                    if let Ok(r) = row {
                        let _ = (r.get("a"), r.get("b"));
                    }
                    guard += 1;
                    proptest::prop_assert!(guard < 1000);
                }
            }
        }
    }
}
