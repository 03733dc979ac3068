//! The CSV reader: a text file (CSV, TSV, TXT) opened, how it is written
//! worked out ([`super::dialect`]) unless the person chose it, its header
//! read, and its records handed out as numbered rows of text, each checked
//! as it is read (UTF-8 that is not, lines in two encodings).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use encoding_rs::{Encoding, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::columns::{self, CONTENT_SAMPLE_ROWS};
use super::file::{Row, open_regular_file};
use super::limits::excerpt;
use super::options::ImportChoices;
use super::{dialect, guard, records};
use crate::error::{Error, Result};
use crate::model::SourceFormat;

/// The extensions of the text files Mailroom offers to import (any other
/// file that is not a spreadsheet is read as text too).
pub const TEXT_EXTENSIONS: &[&str] = &["csv", "tsv", "txt"];

/// Bytes read from the start of a file to detect its encoding and delimiter.
const SAMPLE_BYTES: usize = 64 * 1024;

/// A CSV file whose header has been read and whose email column is known: the
/// checks that can fail before anything is written.
pub struct CsvSource {
    path: PathBuf,
    columns: Vec<String>,
    /// `None` when no column could be found (see [`columns::resolve_email_column`]).
    email_index: Option<usize>,
    encoding: &'static Encoding,
    delimiter: u8,
    literal_quotes: bool,
    records: records::Records<Box<dyn BufRead + Send>>,
    record: records::Record,
    /// Which lines are UTF-8 and which are not (ASCII-compatible encodings).
    lines: Option<Arc<Mutex<dialect::LineEncodings>>>,
    /// Bytes of the file read so far, and its size: the import's progress.
    bytes_read: Arc<AtomicU64>,
    file_bytes: u64,
    /// The first data rows, read ahead to find the email column by content;
    /// handed out again before the rest.
    read_ahead: Vec<Row>,
    last_row: u64,
}

impl std::fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSource")
            .field("path", &self.path)
            .field("columns", &self.columns)
            .field("email_column", &self.email_index.map(|i| &self.columns[i]))
            .field("encoding", &self.encoding.name())
            .field("delimiter", &char::from(self.delimiter))
            .field("literal_quotes", &self.literal_quotes)
            .finish_non_exhaustive()
    }
}

impl CsvSource {
    /// Opens `path`, works out how it is written, reads its header row and
    /// finds the email column.
    pub async fn open(path: &Path, choices: &ImportChoices) -> Result<CsvSource> {
        let path = path.to_owned();
        let choices = choices.clone();
        tokio::task::spawn_blocking(move || {
            let guarded = path.clone();
            guard::contain(&guarded, || Self::open_blocking(path, &choices))
        })
        .await
        .map_err(|e| Error::Internal(format!("import thread: {e}")))?
    }

    fn open_blocking(path: PathBuf, choices: &ImportChoices) -> Result<CsvSource> {
        let file = open_regular_file(&path)?;
        if let Some(sheet) = &choices.sheet {
            return Err(Error::ChoiceNotApplicable {
                path,
                problem: format!(
                    "it is a text file, so it has no sheet \"{}\" to choose (sheets are for .xlsx, .xlsm, .xlsb, .xls and .ods files)",
                    excerpt(sheet)
                ),
            });
        }
        let file_bytes = file.metadata().map_or(0, |m| m.len());
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counted = CountingReader {
            inner: file,
            read: Arc::clone(&bytes_read),
        };
        // The encoding is known only from the first bytes; the line check
        // is put under them now and told the encoding once it is.
        let lines = Arc::new(Mutex::new(dialect::LineEncodings::new(UTF_8, b'\n')));
        let classified = dialect::Classified {
            inner: counted,
            lines: Arc::clone(&lines),
        };
        let mut file = BufReader::with_capacity(SAMPLE_BYTES, classified);
        let head = file.fill_buf().map_err(|e| Error::unreadable(&path, e))?;
        if head.is_empty() {
            return Err(Error::EmptyFile { path });
        }
        // NUL bytes outside UTF-16 text: a binary file (a spreadsheet with
        // the wrong extension, a PDF, an image), not a list to guess at.
        if head.contains(&0) && Encoding::for_bom(head).is_none() && choices.encoding.is_none() {
            let utf16 = dialect::detect_encoding(head).name().starts_with("UTF-16");
            if !utf16 {
                return Err(Error::UnsupportedFormat { path });
            }
        }
        let encoding = match (Encoding::for_bom(head), &choices.encoding) {
            (Some((from_bom, _)), _) => from_bom,
            (None, Some(label)) => {
                dialect::encoding_for_label(label).ok_or_else(|| Error::UnknownEncoding { label: excerpt(label) })?
            }
            (None, None) => dialect::detect_encoding(head),
        };
        // Malformed bytes in the sample only blur detection; rows are checked later.
        let (sample, _) = encoding.decode_with_bom_removal(head);
        let delimiter = match &choices.delimiter {
            Some(text) => dialect::parse_delimiter(text).ok_or_else(|| Error::BadDelimiter { given: excerpt(text) })?,
            None => dialect::detect_delimiter(&sample),
        };
        let line_end = dialect::line_terminator(&sample);
        // The sample is in the buffer already: classify it again with the
        // encoding now known (the reader below has seen it once as UTF-8).
        let lines = if encoding.is_ascii_compatible() {
            let mut check = dialect::LineEncodings::new(encoding, line_end);
            check.feed(head);
            if let Ok(mut shared) = lines.lock() {
                *shared = check;
                // The buffer is handed out from here; the reader feeds what comes after it.
            }
            Some(lines)
        } else {
            if let Ok(mut shared) = lines.lock() {
                *shared = dialect::LineEncodings::disabled();
            }
            None
        };
        // UTF-8 is read as it is, so that a stray byte of another encoding is
        // reported (decode_row) instead of quietly becoming U+FFFD; anything
        // else is decoded to UTF-8 as it streams.
        let decoded: Box<dyn BufRead + Send> = if encoding == UTF_8 {
            Box::new(file)
        } else {
            Box::new(BufReader::with_capacity(
                SAMPLE_BYTES,
                DecodeReaderBytesBuilder::new()
                    .encoding(Some(encoding))
                    .strip_bom(true)
                    .bom_override(true)
                    .build(file),
            ))
        };
        let records = records::Records::new(
            decoded,
            records::Dialect {
                delimiter,
                line_end,
                quoting: !choices.literal_quotes,
            },
        );
        let mut source = CsvSource {
            path,
            columns: Vec::new(),
            email_index: None,
            encoding,
            delimiter,
            literal_quotes: choices.literal_quotes,
            records,
            record: records::Record::default(),
            lines,
            bytes_read,
            file_bytes,
            read_ahead: Vec::new(),
            last_row: 0,
        };
        let Some((_, header)) = source.next_row()? else {
            return Err(Error::EmptyFile { path: source.path });
        };
        let names = columns::header_names(header);
        if names.iter().all(|c| c.is_empty()) {
            return Err(Error::EmptyFile { path: source.path });
        }
        source.columns = columns::name_blank_and_repeated(names);
        while source.read_ahead.len() < CONTENT_SAMPLE_ROWS {
            match source.next_row()? {
                Some(row) => source.read_ahead.push(row),
                None => break,
            }
        }
        source.read_ahead.reverse(); // popped from the end, in file order
        let sample: Vec<&Vec<String>> = source.read_ahead.iter().rev().map(|(_, values)| values).collect();
        source.email_index =
            columns::resolve_email_column(&source.path, &source.columns, choices.email_column.as_deref(), &sample)?;
        Ok(source)
    }

    /// The next record with the line it starts on, as text; `None` at the end.
    fn next_row(&mut self) -> Result<Option<Row>> {
        let more = self.records.read(&self.path, &mut self.record)?;
        self.check_encodings()?;
        if !more {
            return Ok(None);
        }
        // Never less than one past the last row (CR-only files).
        let row = self.record.row.max(self.last_row + 1);
        self.last_row = row;
        Ok(Some((row, decode_row(&self.path, row, &self.record, self.encoding)?)))
    }

    /// [`Error::MixedEncodings`] once lines of both kinds have gone past.
    fn check_encodings(&self) -> Result<()> {
        let Some(lines) = &self.lines else { return Ok(()) };
        let Ok(lines) = lines.lock() else { return Ok(()) };
        if lines.mixed() {
            return Err(Error::MixedEncodings {
                path: self.path.clone(),
                utf8_rows: lines.utf8_rows.clone(),
                other_rows: lines.other_rows.clone(),
                other: lines.other_name(),
            });
        }
        Ok(())
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The column holding addresses, if one was named or found.
    pub fn email_column(&self) -> Option<&str> {
        self.email_index.map(|i| self.columns[i].as_str())
    }

    pub(super) fn email_index(&self) -> Option<usize> {
        self.email_index
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size, to judge how long its import will take.
    pub(super) fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    /// How the file is read: its encoding, delimiter and reading of quotes.
    pub(super) fn source_format(&self) -> SourceFormat {
        SourceFormat {
            format: "csv".to_owned(),
            encoding: Some(self.encoding.name().to_owned()),
            delimiter: Some(dialect::delimiter_name(self.delimiter)),
            literal_quotes: Some(self.literal_quotes),
            sheet: None,
        }
    }

    /// The first `count` data rows read ahead that are not blank, for a preview.
    pub(super) fn first_rows(&self, count: usize) -> Vec<Vec<String>> {
        // read_ahead is in reverse file order.
        self.read_ahead
            .iter()
            .rev()
            .map(|(_, values)| values)
            .filter(|values| !values.iter().all(|v| v.trim().is_empty()))
            .take(count)
            .cloned()
            .collect()
    }

    /// The share of the file read so far (whatever the row).
    pub(super) fn progress_meter(&self) -> impl Fn(u64) -> f64 + Send + 'static {
        let read = Arc::clone(&self.bytes_read);
        let total = self.file_bytes.max(1) as f64;
        move |_| read.load(Ordering::Relaxed) as f64 / total
    }

    /// About how many data rows the file has: its size over the bytes the
    /// first rows took.
    pub(super) fn estimated_rows(&self) -> usize {
        /// An estimate is only a starting size; a wrong guess costs no more.
        const MOST: usize = 20_000_000;
        let consumed = self.records.consumed();
        if consumed == 0 || self.read_ahead.is_empty() {
            return 0;
        }
        let estimate = self.file_bytes as f64 * self.read_ahead.len() as f64 / consumed as f64;
        (estimate as usize).min(MOST)
    }

    /// Every data row in order: those read ahead, then the rest as they are read.
    pub(super) fn into_rows(mut self) -> impl Iterator<Item = Result<Row>> + Send {
        std::iter::from_fn(move || match self.read_ahead.pop() {
            Some(row) => Some(Ok(row)),
            None => self.next_row().transpose(),
        })
    }
}

/// Counts the bytes read from a file, for an import's progress.
struct CountingReader<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A record's fields as text. The decoder has already made every encoding but
/// UTF-8 into valid UTF-8; UTF-8 is checked here, so a file that is mostly
/// UTF-8 but not quite is reported with its row, not silently mangled.
fn decode_row(path: &Path, row: u64, record: &records::Record, encoding: &'static Encoding) -> Result<Vec<String>> {
    let last = record.len().saturating_sub(1);
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let field = if i == last {
                field.strip_suffix(b"\r").unwrap_or(field)
            } else {
                field
            };
            std::str::from_utf8(field)
                .map(str::to_owned)
                .map_err(|_| Error::MalformedFile {
                    path: path.to_owned(),
                    row,
                    problem: if encoding == UTF_8 {
                        format!(
                            "column {} is not UTF-8 text; choose the file's encoding when importing (e.g. windows-1252 or gbk), or save it as \"CSV UTF-8\"",
                            i + 1
                        )
                    } else {
                        format!("column {} could not be decoded as {}", i + 1, encoding.name())
                    },
                })
        })
        .collect()
}
