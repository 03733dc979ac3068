//! CSV records, read field by field with csv-core so that the import knows
//! the row and column of every value and can refuse, before it is in memory,
//! what no spreadsheet writes: a value over [`limits::CELL_BYTES`], a row
//! over [`limits::ROW_BYTES`] or [`limits::COLUMNS`] columns, and a quoted
//! value that runs to the end of the file or over many lines (a stray quote,
//! which would otherwise swallow every row after it into one value).
//!
//! The `csv` crate reads a whole record before it says anything, so a
//! 100 MB line is 100 MB (and more) before any check can run; csv-core
//! writes each field into a buffer this module grows, a step at a time.

use std::io::BufRead;
use std::path::Path;

use csv_core::{ReadFieldResult, Terminator};

use super::limits::{self, excerpt, grouped};
use crate::error::{Error, Result};

/// One record: its fields' bytes end to end, and where each one ends.
#[derive(Debug, Default)]
pub struct Record {
    /// The line the record starts on (its first non-empty line).
    pub row: u64,
    /// A buffer kept between records (so it is not zeroed again for each);
    /// the record is its first `filled` bytes.
    bytes: Vec<u8>,
    filled: usize,
    ends: Vec<usize>,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let field = &self.bytes[start..end.min(self.filled)];
            start = end;
            field
        })
    }

    fn clear(&mut self) {
        self.filled = 0;
        self.ends.clear();
    }

    /// Room for at least a few more bytes after `filled`, growing the
    /// buffer by doubling (csv-core writes into what it is given).
    fn spare(&mut self) -> &mut [u8] {
        if self.bytes.len() - self.filled < 1024 {
            let grown = (self.bytes.len() * 2).max(self.filled + 8192);
            self.bytes.resize(grown, 0);
        }
        &mut self.bytes[self.filled..]
    }
}

/// Where the field being read is in its quotes, when it started with one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quote {
    /// The field did not start with a quote (or quotes are read literally).
    None,
    /// The opening quote is still to be consumed.
    Opening,
    /// Inside the quotes.
    Open,
    /// A quote inside the quotes: the closing one, or the first of `""`.
    Closing,
    /// Closed; the rest of the field, if any, is not quoted.
    Closed,
}

/// How a file's records are read.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub delimiter: u8,
    /// The byte lines end with (`\n`, or `\r` in old Mac files).
    pub line_end: u8,
    /// `false`: a `"` is a character like any other.
    pub quoting: bool,
}

/// Records of a CSV stream, with their positions, within the limits.
pub struct Records<R> {
    input: R,
    core: csv_core::Reader,
    dialect: Dialect,
    /// The line of the next byte not yet consumed.
    line: u64,
    /// Bytes consumed so far.
    consumed: u64,
    at_start: bool,
    done: bool,
}

impl<R> std::fmt::Debug for Records<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("dialect", &self.dialect)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R, dialect: Dialect) -> Records<R> {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(dialect.delimiter)
            .terminator(Terminator::Any(dialect.line_end))
            .quoting(dialect.quoting)
            .build();
        Records {
            input,
            core,
            dialect,
            line: 1,
            consumed: 0,
            at_start: true,
            done: false,
        }
    }

    /// Reads the next record into `record`; `false` at the end of the file.
    pub fn read(&mut self, path: &Path, record: &mut Record) -> Result<bool> {
        record.clear();
        if self.done {
            return Ok(false);
        }
        let unreadable = |e: std::io::Error| Error::unreadable(path, e);
        // Blank lines between records are no record: skip them here, so the
        // record's row is the line its first value is on.
        loop {
            let input = self.input.fill_buf().map_err(unreadable)?;
            if self.at_start && input.starts_with(b"\xef\xbb\xbf") {
                self.input.consume(3);
                self.at_start = false;
                continue;
            }
            self.at_start = false;
            match input.first() {
                Some(&b) if b == self.dialect.line_end => {
                    self.line += 1;
                    self.input.consume(1);
                }
                _ => break,
            }
        }
        record.row = self.line;
        let mut field_begins = true;
        let mut quote = Quote::None;
        let mut quote_lines = 0_u64;
        let mut field_start = 0_usize;
        loop {
            let input = self.input.fill_buf().map_err(unreadable)?;
            if field_begins {
                field_begins = false;
                field_start = record.filled;
                quote_lines = 0;
                quote = if self.dialect.quoting && input.first() == Some(&b'"') {
                    Quote::Opening
                } else {
                    Quote::None
                };
            }
            let (result, nin, nout) = self.core.read_field(input, record.spare());
            record.filled += nout;
            let consumed = &input[..nin];
            let column = record.ends.len() as u64 + 1;
            if quote != Quote::None && quote != Quote::Closed {
                for &b in consumed {
                    quote = match (quote, b) {
                        (Quote::Opening, _) => Quote::Open,
                        (Quote::Open, b'"') => Quote::Closing,
                        (Quote::Open, b) => {
                            if b == self.dialect.line_end {
                                quote_lines += 1;
                            }
                            Quote::Open
                        }
                        (Quote::Closing, b'"') => Quote::Open,
                        (Quote::Closing, b) => {
                            // A value over several lines whose closing quote
                            // is followed by text: its "closing" quote was
                            // another value's opening one.
                            let ends_value = b == self.dialect.delimiter || b == b'\r' || b == b'\n';
                            if quote_lines > 0 && !ends_value {
                                let after = String::from_utf8_lossy(&[b]).into_owned();
                                return Err(unclosed(
                                    path,
                                    record,
                                    field_start,
                                    column,
                                    format!(
                                        "runs over {} lines, and its closing quote is followed by \"{}\"",
                                        quote_lines + 1,
                                        excerpt(&after)
                                    ),
                                ));
                            }
                            Quote::Closed
                        }
                        (state, _) => state,
                    };
                    if quote == Quote::Closed {
                        break;
                    }
                }
                if quote_lines >= limits::QUOTED_LINES {
                    return Err(unclosed(
                        path,
                        record,
                        field_start,
                        column,
                        format!("runs over more than {} lines", grouped(limits::QUOTED_LINES)),
                    ));
                }
            }
            self.line += memchr::memchr_iter(self.dialect.line_end, consumed).count() as u64;
            let at_eof = input.is_empty();
            self.input.consume(nin);
            self.consumed += nin as u64;

            let field_bytes = record.filled - field_start;
            if field_bytes > limits::CELL_BYTES {
                if quote == Quote::Open && quote_lines > 0 {
                    return Err(unclosed(
                        path,
                        record,
                        field_start,
                        column,
                        format!(
                            "runs over {} lines and past {} KB",
                            quote_lines + 1,
                            limits::CELL_BYTES / 1024
                        ),
                    ));
                }
                return Err(too_large(
                    path,
                    record.row,
                    Some(column),
                    format!(
                        "a value is longer than {} KB (\"{}\"), more than a spreadsheet cell holds",
                        limits::CELL_BYTES / 1024,
                        excerpt(&String::from_utf8_lossy(&record.bytes[field_start..field_start + 200]))
                    ),
                ));
            }
            if record.filled > limits::ROW_BYTES {
                return Err(too_large(
                    path,
                    record.row,
                    None,
                    format!("the row is longer than {} MB", limits::ROW_BYTES / (1024 * 1024)),
                ));
            }
            match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    if quote == Quote::Open && at_eof {
                        return Err(unclosed(
                            path,
                            record,
                            field_start,
                            column,
                            "never closes: it runs to the end of the file".to_owned(),
                        ));
                    }
                    record.ends.push(record.filled);
                    if record.ends.len() > limits::COLUMNS {
                        return Err(too_large(
                            path,
                            record.row,
                            None,
                            format!("the row has more than {} values", grouped(limits::COLUMNS as u64)),
                        ));
                    }
                    if record_end {
                        return Ok(true);
                    }
                    field_begins = true;
                }
                ReadFieldResult::End => {
                    self.done = true;
                    return Ok(!record.ends.is_empty());
                }
            }
        }
    }
}

impl<R> Records<R> {
    /// Bytes of the stream read into records so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }
}

/// [`Error::UnclosedQuote`] for the field of `record` starting at `field_start`.
fn unclosed(path: &Path, record: &Record, field_start: usize, column: u64, how: String) -> Error {
    let shown = &record.bytes[field_start..record.filled.min(field_start + 400)];
    Error::UnclosedQuote {
        path: path.to_owned(),
        row: record.row,
        column,
        start: excerpt(&String::from_utf8_lossy(shown)),
        how,
    }
}

/// [`Error::FileTooLarge`] at a row (and column, 1-based) of a text file.
pub fn too_large(path: &Path, row: u64, column: Option<u64>, problem: String) -> Error {
    Error::FileTooLarge {
        path: path.to_owned(),
        place: match column {
            Some(column) => format!(", row {row}, column {column}"),
            None => format!(", row {row}"),
        },
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn read_all(text: &[u8], quoting: bool) -> Result<Vec<(u64, Vec<String>)>> {
        let dialect = Dialect {
            delimiter: b',',
            line_end: b'\n',
            quoting,
        };
        let mut records = Records::new(text, dialect);
        let mut record = Record::default();
        let mut out = Vec::new();
        while records.read(Path::new("t.csv"), &mut record)? {
            out.push((
                record.row,
                record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect(),
            ));
        }
        Ok(out)
    }

    fn row(n: u64, values: &[&str]) -> (u64, Vec<String>) {
        (n, values.iter().map(|v| (*v).to_owned()).collect())
    }

    #[test]
    fn records_know_the_line_they_start_on() {
        let text = b"email,name\n\na@example.com,\"Ann\nSmith\"\nb@example.com,\"B, \"\"Bee\"\"\"\n";
        assert_eq!(
            read_all(text, true).expect("read"),
            vec![
                row(1, &["email", "name"]),
                row(3, &["a@example.com", "Ann\nSmith"]),
                row(5, &["b@example.com", "B, \"Bee\""]),
            ]
        );
        // The last line needs no line end.
        assert_eq!(
            read_all(b"a,b\nc,d", true).expect("read"),
            vec![row(1, &["a", "b"]), row(2, &["c", "d"])]
        );
        assert_eq!(
            read_all(b"\xef\xbb\xbf\"a\",b\n", true).expect("read"),
            vec![row(1, &["a", "b"])]
        );
    }

    #[test]
    fn a_quote_that_never_closes_is_reported_where_it_opens() {
        let text = b"email,name\na@example.com,A\n\"b@example.com,B\nc@example.com,C\nd@example.com,D\n";
        let err = read_all(text, true).expect_err("unclosed");
        assert_eq!(err.kind(), ErrorKind::UnclosedQuote);
        let message = err.to_string();
        assert!(message.starts_with("t.csv, row 3, column 1: the quoted value starting \"b@example.com,B\\nc@example.com,C\\nd@example.com,D"), "{message}");
        assert!(message.contains("runs to the end of the file"), "{message}");
        // Read literally, the quote is a character and every row is there.
        let rows = read_all(text, false).expect("literal");
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[2], row(3, &["\"b@example.com", "B"]));
    }

    #[test]
    fn a_stray_quote_closed_by_another_values_quote_is_reported() {
        let mut text = String::from("email,name\n\"a@example.com,A\n");
        for i in 0..50 {
            text.push_str(&format!("u{i}@example.com,U{i}\n"));
        }
        text.push_str("z@example.com,\"Smith, Z\"\n");
        let err = read_all(text.as_bytes(), true).expect_err("runaway");
        assert_eq!(err.kind(), ErrorKind::UnclosedQuote);
        assert!(err.to_string().contains("row 2, column 1"), "{err}");
        assert!(err.to_string().contains("closing quote is followed by \"S\""), "{err}");
    }

    #[test]
    fn a_quoted_value_over_too_many_lines_is_reported() {
        let mut text = String::from("email,note\na@example.com,\"");
        for _ in 0..limits::QUOTED_LINES + 5 {
            text.push_str("line\n");
        }
        text.push_str("\"\n");
        let err = read_all(text.as_bytes(), true).expect_err("too many lines");
        assert_eq!(err.kind(), ErrorKind::UnclosedQuote);
        assert!(err.to_string().contains("row 2, column 2"), "{err}");
        // A few lines are a postal address.
        let rows = read_all(
            b"email,address\na@example.com,\"1 Main St\nFlat 2\nSpringfield\"\n",
            true,
        )
        .expect("ok");
        assert_eq!(rows[1].1[1], "1 Main St\nFlat 2\nSpringfield");
    }

    #[test]
    fn values_and_rows_past_the_limits_are_refused_before_they_are_in_memory() {
        let mut text = b"email,note\na@example.com,".to_vec();
        text.extend(std::iter::repeat_n(b'x', limits::CELL_BYTES + 10));
        let err = read_all(&text, true).expect_err("cell");
        assert_eq!(err.kind(), ErrorKind::FileTooLarge);
        assert!(
            err.to_string()
                .starts_with("t.csv, row 2, column 2: a value is longer than 128 KB (\"xxxx"),
            "{err}"
        );
        assert!(err.to_string().len() < 200);

        let wide = ",".repeat(limits::COLUMNS + 1);
        let err = read_all(wide.as_bytes(), true).expect_err("columns");
        assert_eq!(err.kind(), ErrorKind::FileTooLarge);
        assert!(
            err.to_string().contains("row 1: the row has more than 16,384 values"),
            "{err}"
        );
    }
}
