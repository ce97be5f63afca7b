//! Reading CSV files with a header row: columns found by name, errors tied to line numbers.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The 1-based line in the file (the header is line 1).
    pub line: u64,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a file was not imported. Nothing is written when any line is bad.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", format_lines(.0))]
    Lines(Vec<LineError>),
    #[error("cannot read the file: {0}")]
    Read(String),
    #[error("database error, nothing was imported: {0}")]
    Database(#[from] diesel::result::Error),
}

/// At most this many line errors are collected; the rest are counted.
pub const MAX_REPORTED: usize = 100;

fn format_lines(errors: &[LineError]) -> String {
    let mut out = format!("{} problem(s) found, nothing was imported:", errors.len());
    for e in errors {
        out.push_str(&format!("\n  {e}"));
    }
    out
}

/// A CSV reader that yields records as `column name → value`.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    columns: HashMap<String, usize>,
    names: Vec<String>,
    record: csv::StringRecord,
}

/// One data row.
pub struct Row<'a> {
    pub line: u64,
    columns: &'a HashMap<String, usize>,
    names: &'a [String],
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The trimmed value of a column; empty when the column is absent.
    pub fn get(&self, column: &str) -> &str {
        self.columns
            .get(column)
            .and_then(|i| self.record.get(*i))
            .map(str::trim)
            .unwrap_or("")
    }

    /// Columns whose names satisfy `keep`, in header order, with their values.
    pub fn columns_where<'s>(
        &'s self,
        keep: impl Fn(&str) -> bool + 's,
    ) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        self.names
            .iter()
            .zip(self.record.iter())
            .filter(move |(name, _)| keep(name))
            .map(|(name, value)| (name.as_str(), value.trim()))
    }
}

impl<R: Read> CsvRows<R> {
    /// Opens a CSV with a header row that must contain every `required` column. A UTF-8 byte
    /// order mark (Excel) is ignored.
    pub fn open(input: R, required: &[&str]) -> Result<CsvRows<R>, ImportError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(input);
        let headers = reader.headers().map_err(|e| {
            ImportError::Lines(vec![LineError {
                line: 1,
                message: describe(&e),
            }])
        })?;
        let mut columns = HashMap::new();
        let mut names = Vec::new();
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}').trim().to_owned();
            names.push(name.clone());
            if columns.insert(name.clone(), i).is_some() {
                return Err(ImportError::Lines(vec![LineError {
                    line: 1,
                    message: format!("column {name} appears twice in the header"),
                }]));
            }
        }
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::Lines(vec![LineError {
                line: 1,
                message: format!(
                    "the header lacks column(s) {}; expected {}",
                    missing.join(", "),
                    required.join(",")
                ),
            }]));
        }
        Ok(CsvRows {
            reader,
            columns,
            names,
            record: csv::StringRecord::new(),
        })
    }

    /// The header's column names.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The next data row, skipping blank lines; `Err` for an unreadable line.
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, LineError>> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    // An unreadable record (bad UTF-8, broken quoting) ends the file.
                    return Some(Err(LineError {
                        line,
                        message: describe(&e),
                    }));
                }
                Ok(true) => {
                    if self.record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                    if self.record.len() != self.columns.len() {
                        return Some(Err(LineError {
                            line,
                            message: format!(
                                "expected {} fields, found {}",
                                self.columns.len(),
                                self.record.len()
                            ),
                        }));
                    }
                    return Some(Ok(Row {
                        line,
                        columns: &self.columns,
                        names: &self.names,
                        record: &self.record,
                    }));
                }
            }
        }
    }
}

fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the text is not valid UTF-8 (save the file as CSV UTF-8)".into()
        }
        csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
        _ => e.to_string(),
    }
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
        assert_eq!(seen, ["2:12", "3:34", "line 4: expected 2 fields, found 1"]);
        Ok(())
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
