//! Recipient import: a CSV/TSV/TXT file becomes a draft campaign whose every
//! data row is a recipient, either `pending` or `skipped` with the reason why.
//! The file's encoding and delimiter are detected ([`dialect`]) unless the
//! person chose them.
//!
//! The file is parsed on a blocking thread that hands batches over a bounded
//! channel to the store's writer, so rows are never all in memory at once and
//! the async runtime never waits on disk reads. (The duplicate check still
//! remembers every address, and the report lists every skipped row: memory
//! grows with those; see docs/BENCHMARKS.md.) The whole import is one
//! transaction: a file that turns out to be unreadable on row 900,000 leaves
//! nothing behind (SPEC invariant 7).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use encoding_rs::{Encoding, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;
use tokio::sync::mpsc;

use crate::address::{self, InvalidReason};
use crate::error::{Error, Result};
use crate::model::{
    CampaignId, DuplicateRow, ImportPreview, ImportProgress, ImportReport, InvalidRow, RecipientStatus, SuppressedRow,
};
use crate::outcome::RecipientReason;
use crate::store::{NewCampaign, NewRecipient, Store};

/// Rows per insert statement: big enough to amortise the statement, small
/// enough that a batch is a few hundred kilobytes for usual rows.
const BATCH_ROWS: usize = 2_000;
/// Bytes of values in a batch: wide or long rows go in smaller batches, so
/// the batches in flight stay a few megabytes whatever the rows.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches in flight between the parser and the writer.
const BATCHES_IN_FLIGHT: usize = 4;
/// Rows read ahead to find the email column by its content.
const CONTENT_SAMPLE_ROWS: usize = 50;
/// Rows kept for the preview table.
const PREVIEW_ROWS: usize = 20;
/// Bytes read from the start of a file to detect its encoding and delimiter.
const SAMPLE_BYTES: usize = 64 * 1024;

pub mod container;
pub mod dialect;
pub mod guard;
pub mod limits;
pub mod records;
pub mod sheet;

pub use limits::excerpt;

/// Header names (lower-cased, without spaces, `-`, `_` or `.`) that name the
/// email column, in the languages Mailroom's users write headers in.
const EMAIL_HEADER_HINTS: &[&str] = &[
    "email",
    "emailaddress",
    "mail",
    "mailaddress",
    "emailadresse",
    "courriel",
    "correo",
    "correoelectronico",
    "邮箱",
    "邮件",
    "电子邮件",
    "电子邮箱",
    "邮箱地址",
    "電子郵件",
    "メール",
    "メールアドレス",
];

/// How to import a file.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The campaign's name; the file's name without extension by default.
    pub name: Option<String>,
    /// The header of the column holding addresses; found by its name otherwise.
    pub email_column: Option<String>,
    /// The file's encoding as a WHATWG label ("utf-8", "gbk", "windows-1252",
    /// "utf-16le", ...); detected otherwise. A byte-order mark always wins.
    pub encoding: Option<String>,
    /// The delimiter: `,` `;` `|` or `tab`; detected otherwise.
    pub delimiter: Option<String>,
    /// The sheet of a spreadsheet; the first one otherwise.
    pub sheet: Option<String>,
    /// Text files: read `"` as a character like any other, not as quoting
    /// (for a file whose quotes are not CSV quoting, such as a stray one).
    pub literal_quotes: bool,
    /// A draft campaign this import supersedes (the same file imported again
    /// with other choices): in the import's own transaction its message moves
    /// to the new campaign and it is deleted, if it is still a draft.
    pub replaces: Option<CampaignId>,
}

/// A CSV file whose header has been read and whose email column is known: the
/// checks that can fail before anything is written.
pub struct CsvSource {
    path: PathBuf,
    columns: Vec<String>,
    /// `None` when no column could be found (see [`resolve_email_column`]).
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
    read_ahead: Vec<(u64, Vec<String>)>,
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
    pub async fn open(path: &Path, options: &ImportOptions) -> Result<CsvSource> {
        let path = path.to_owned();
        let options = options.clone();
        tokio::task::spawn_blocking(move || {
            let guarded = path.clone();
            guard::contain(&guarded, || Self::open_blocking(path, &options))
        })
        .await
        .map_err(|e| Error::Internal(format!("import thread: {e}")))?
    }

    fn open_blocking(path: PathBuf, options: &ImportOptions) -> Result<CsvSource> {
        let file = open_regular_file(&path)?;
        if let Some(sheet) = &options.sheet {
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
        if head.contains(&0) && Encoding::for_bom(head).is_none() && options.encoding.is_none() {
            let utf16 = dialect::detect_encoding(head).name().starts_with("UTF-16");
            if !utf16 {
                return Err(Error::UnsupportedFormat { path });
            }
        }
        let encoding = match (Encoding::for_bom(head), &options.encoding) {
            (Some((from_bom, _)), _) => from_bom,
            (None, Some(label)) => {
                dialect::encoding_for_label(label).ok_or_else(|| Error::UnknownEncoding { label: excerpt(label) })?
            }
            (None, None) => dialect::detect_encoding(head),
        };
        // Malformed bytes in the sample only blur detection; rows are checked later.
        let (sample, _) = encoding.decode_with_bom_removal(head);
        let delimiter = match &options.delimiter {
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
                quoting: !options.literal_quotes,
            },
        );
        let mut source = CsvSource {
            path,
            columns: Vec::new(),
            email_index: None,
            encoding,
            delimiter,
            literal_quotes: options.literal_quotes,
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
        let columns = header_names(header);
        if columns.iter().all(|c| c.is_empty()) {
            return Err(Error::EmptyFile { path: source.path });
        }
        source.columns = name_blank_and_repeated(columns);
        while source.read_ahead.len() < CONTENT_SAMPLE_ROWS {
            match source.next_row()? {
                Some(row) => source.read_ahead.push(row),
                None => break,
            }
        }
        source.read_ahead.reverse(); // popped from the end, in file order
        let sample: Vec<&Vec<String>> = source.read_ahead.iter().rev().map(|(_, values)| values).collect();
        source.email_index =
            resolve_email_column(&source.path, &source.columns, options.email_column.as_deref(), &sample)?;
        Ok(source)
    }

    /// The next record with the line it starts on, as text; `None` at the end.
    fn next_row(&mut self) -> Result<Option<(u64, Vec<String>)>> {
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
}

/// Opens `path` for reading if it is a regular file (or a link to one).
/// A FIFO would block the import forever waiting for a writer, a device
/// never ends, and a folder is no list: each is refused before it is opened.
pub(crate) fn open_regular_file(path: &Path) -> Result<File> {
    use std::io::{Error as IoError, ErrorKind as IoKind};
    let not_a_file = |what: &str| Error::unreadable(path, IoError::other(format!("it is {what}, not a file")));
    let check = |meta: &std::fs::Metadata| -> Result<()> {
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(());
        }
        if kind.is_dir() {
            return Err(Error::unreadable(path, IoError::from(IoKind::IsADirectory)));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() {
                return Err(not_a_file("a named pipe (FIFO)"));
            }
            if kind.is_socket() {
                return Err(not_a_file("a socket"));
            }
            if kind.is_char_device() || kind.is_block_device() {
                return Err(not_a_file("a device"));
            }
        }
        Err(not_a_file("a special file"))
    };
    check(&std::fs::metadata(path).map_err(|e| Error::unreadable(path, e))?)?;
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    // Should a FIFO be put in its place after the check, opening it must
    // not wait for a writer; the handle is checked again below.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc::O_NONBLOCK);
    }
    let file = open.open(path).map_err(|e| Error::unreadable(path, e))?;
    check(&file.metadata().map_err(|e| Error::unreadable(path, e))?)?;
    Ok(file)
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

/// A file ready to import: its header read, its email column known.
#[derive(Debug)]
// One source per import, moved a few times: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RecipientSource {
    Csv(CsvSource),
    Sheet(sheet::SheetSource),
}

impl From<CsvSource> for RecipientSource {
    fn from(source: CsvSource) -> Self {
        RecipientSource::Csv(source)
    }
}

/// One data row: the row number a spreadsheet shows, and its values.
type Row = (u64, Vec<String>);

impl RecipientSource {
    /// Opens a spreadsheet (by its extension: xlsx, xlsm, xlsb, xls, ods) or a
    /// text file (anything else), reads its header and finds the email column.
    pub async fn open(path: &Path, options: &ImportOptions) -> Result<RecipientSource> {
        let source = Self::open_for_preview(path, options).await?;
        source.email_index()?;
        Ok(source)
    }

    /// Like [`RecipientSource::open`], but a file whose email column cannot
    /// be found still opens, so that its preview can ask which one it is.
    async fn open_for_preview(path: &Path, options: &ImportOptions) -> Result<RecipientSource> {
        if sheet::is_spreadsheet(path) {
            Ok(RecipientSource::Sheet(sheet::SheetSource::open(path, options).await?))
        } else {
            Ok(RecipientSource::Csv(CsvSource::open(path, options).await?))
        }
    }

    /// How the file would be imported, and its first rows, without saving
    /// anything: what the Recipients screen shows while the person checks
    /// the detected encoding, delimiter, sheet and email column.
    pub async fn preview(path: &Path, options: &ImportOptions) -> Result<ImportPreview> {
        let source = Self::open_for_preview(path, options).await?;
        let columns = source.columns().to_vec();
        let preview = match &source {
            RecipientSource::Csv(s) => ImportPreview {
                format: "csv".to_owned(),
                encoding: Some(s.encoding.name().to_owned()),
                delimiter: Some(dialect::delimiter_name(s.delimiter)),
                literal_quotes: Some(s.literal_quotes),
                sheet: None,
                sheets: Vec::new(),
                fields: crate::message::field_names(&columns),
                email_column: s.email_column().map(str::to_owned),
                // read_ahead is in reverse file order.
                rows: s
                    .read_ahead
                    .iter()
                    .rev()
                    .map(|(_, values)| values)
                    .filter(|values| !values.iter().all(|v| v.trim().is_empty()))
                    .take(PREVIEW_ROWS)
                    .cloned()
                    .collect(),
                file_bytes: s.file_bytes,
                columns,
            },
            RecipientSource::Sheet(s) => ImportPreview {
                format: s.format().to_owned(),
                encoding: None,
                delimiter: None,
                literal_quotes: None,
                sheet: Some(s.sheet().to_owned()),
                sheets: s.sheets().to_vec(),
                fields: crate::message::field_names(&columns),
                email_column: s.email_index().map(|i| columns[i].clone()),
                rows: s.first_rows(PREVIEW_ROWS),
                file_bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
                columns,
            },
        };
        Ok(preview)
    }

    fn path(&self) -> &Path {
        match self {
            RecipientSource::Csv(s) => &s.path,
            RecipientSource::Sheet(s) => s.path(),
        }
    }

    pub fn columns(&self) -> &[String] {
        match self {
            RecipientSource::Csv(s) => &s.columns,
            RecipientSource::Sheet(s) => s.columns(),
        }
    }

    /// The email column's index; a file without one cannot be imported.
    fn email_index(&self) -> Result<usize> {
        let index = match self {
            RecipientSource::Csv(s) => s.email_index,
            RecipientSource::Sheet(s) => s.email_index(),
        };
        index.ok_or_else(|| Error::NoEmailColumn {
            path: self.path().to_owned(),
            columns: self.columns().to_vec(),
        })
    }

    /// Turns the number of the row just read into the share of the file read.
    fn progress_meter(&self) -> Box<dyn Fn(u64) -> f64 + Send> {
        match self {
            RecipientSource::Csv(s) => {
                let read = Arc::clone(&s.bytes_read);
                let total = s.file_bytes.max(1) as f64;
                Box::new(move |_| read.load(Ordering::Relaxed) as f64 / total)
            }
            RecipientSource::Sheet(s) => Box::new(s.progress_meter()),
        }
    }

    /// About how many data rows the file has, to size the duplicate check
    /// once instead of growing it (growing holds the old and new tables at
    /// once). For text, the file's size over the bytes the first rows took.
    fn estimated_rows(&self) -> usize {
        /// An estimate is only a starting size; a wrong guess costs no more.
        const MOST: usize = 20_000_000;
        match self {
            RecipientSource::Csv(s) => {
                let consumed = s.records.consumed();
                if consumed == 0 || s.read_ahead.is_empty() {
                    return 0;
                }
                let estimate = s.file_bytes as f64 * s.read_ahead.len() as f64 / consumed as f64;
                (estimate as usize).min(MOST)
            }
            RecipientSource::Sheet(s) => s.estimated_rows(),
        }
    }

    /// Every data row in order, read as it is consumed.
    fn into_rows(self) -> Box<dyn Iterator<Item = Result<Row>> + Send> {
        match self {
            RecipientSource::Csv(mut s) => Box::new(std::iter::from_fn(move || match s.read_ahead.pop() {
                Some(row) => Some(Ok(row)),
                None => s.next_row().transpose(),
            })),
            RecipientSource::Sheet(s) => s.into_rows(),
        }
    }
}

/// Imports `source` into a new draft campaign and reports what became of
/// every row.
pub async fn import(
    store: &Store,
    source: impl Into<RecipientSource>,
    options: &ImportOptions,
) -> Result<ImportReport> {
    import_with_progress(store, source, options, |_| ControlFlow::Continue(())).await
}

/// [`import`], telling `progress` how far it has got after each batch of
/// rows is written. `progress` returning `Break` cancels the import: nothing
/// of it is saved, and the result is [`Error::ImportCancelled`].
pub async fn import_with_progress(
    store: &Store,
    source: impl Into<RecipientSource>,
    options: &ImportOptions,
    mut progress: impl FnMut(ImportProgress) -> ControlFlow<()> + Send,
) -> Result<ImportReport> {
    let source = source.into();
    let email_index = source.email_index()?;
    let name = options.name.clone().unwrap_or_else(|| {
        source
            .path()
            .file_stem()
            .map_or_else(|| "Recipients".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    let source_file = std::fs::canonicalize(source.path())
        .unwrap_or_else(|_| source.path().to_owned())
        .display()
        .to_string();
    let columns = source.columns().to_vec();
    let email_column = columns[email_index].clone();
    let (format, encoding, delimiter, sheet) = match &source {
        RecipientSource::Csv(s) => (
            "csv".to_owned(),
            Some(s.encoding.name().to_owned()),
            Some(dialect::delimiter_name(s.delimiter)),
            None,
        ),
        RecipientSource::Sheet(s) => (s.format().to_owned(), None, None, Some(s.sheet().to_owned())),
    };
    let suppressed = store.suppressed_addresses().await?;

    let mut writer = store
        .begin_import(&NewCampaign {
            name: &name,
            source_file: &source_file,
            columns: &columns,
            email_column: &email_column,
        })
        .await?;

    let path = source.path().to_owned();
    let (batches, mut received) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT);
    let parser = tokio::task::spawn_blocking(move || parse_rows(source, email_index, &suppressed, &batches));
    let mut write_result = Ok(());
    while let Some(batch) = received.recv().await {
        if let Err(e) = writer.write(&batch.rows).await {
            write_result = Err(e);
            break;
        }
        if progress(batch.progress).is_break() {
            write_result = Err(Error::ImportCancelled { path: path.clone() });
            break;
        }
    }
    // Dropping the receiver stops a parser still sending after a write error.
    drop(received);
    let tally = parser
        .await
        .map_err(|e| Error::Internal(format!("import thread: {e}")))??;
    write_result?;

    if tally.rows == 0 {
        // Dropping the writer rolls the campaign back.
        return Err(Error::NoRecipients { path: tally.path });
    }
    if let Some(old) = options.replaces {
        writer.supersede(old).await?;
    }
    let campaign_id = writer.commit().await?;
    tracing::info!(campaign_id, rows = tally.rows, valid = tally.valid, "import committed");
    let campaign = store.campaign_summary(campaign_id).await?;
    Ok(ImportReport {
        campaign,
        rows: tally.rows,
        valid: tally.valid,
        invalid: tally.invalid,
        duplicates: tally.duplicates,
        suppressed: tally.suppressed,
        format,
        encoding,
        delimiter,
        sheet,
        fields: crate::message::field_names(&columns),
        columns,
        email_column,
        preview: tally.preview,
    })
}

/// Rows on their way from the parser to the writer, with how far the parser
/// had got when it sent them.
struct Batch {
    rows: Vec<NewRecipient>,
    progress: ImportProgress,
}

/// What the parser saw, row by row.
#[derive(Debug, Default)]
struct Tally {
    path: PathBuf,
    rows: u64,
    valid: u64,
    invalid: Vec<InvalidRow>,
    duplicates: Vec<DuplicateRow>,
    suppressed: Vec<SuppressedRow>,
    preview: Vec<Vec<String>>,
}

/// Reads every data row, classifies it and sends it on in batches. Runs on a
/// blocking thread.
fn parse_rows(
    source: RecipientSource,
    email_index: usize,
    suppressed: &HashSet<String>,
    batches: &mpsc::Sender<Batch>,
) -> Result<Tally> {
    let mut tally = Tally {
        path: source.path().to_owned(),
        ..Tally::default()
    };
    // First row each address appeared on (the first occurrence wins), kept
    // as a 96-bit hash of its dedup key and the row: 17 bytes an address in
    // the table instead of the address itself. Two of a million different
    // addresses share a hash with odds near 10^-17, far below a disk's
    // undetected error rate. (Rows past 4,294,967,295 would need a file of
    // hundreds of gigabytes; their number is clamped.)
    let mut first_seen: HashMap<[u32; 3], u32> = HashMap::with_capacity(source.estimated_rows());
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut batch_bytes = 0_usize;
    let mut cells = 0_u64;
    let width = source.columns().len();
    let meter = source.progress_meter();

    for next in source.into_rows() {
        let (row, mut values) = next?;
        if values.iter().all(|v| v.trim().is_empty()) {
            continue; // a blank row is not a recipient and not an error
        }
        tally.rows += 1;
        // Trailing empty cells beyond the header are what spreadsheets write
        // for a ragged row; anything else beyond it is a misaligned row.
        while values.len() > width && values.last().is_some_and(|v| v.trim().is_empty()) {
            values.pop();
        }
        let too_many = values.len() > width;
        values.resize(width.max(values.len()), String::new());
        // Every row is stored with the header's columns at least: a header
        // of 16,000 columns over a million short rows is 16 billion cells.
        cells += values.len() as u64;
        if cells > limits::TOTAL_CELLS {
            return Err(Error::FileTooLarge {
                path: tally.path,
                place: format!(", row {row}"),
                problem: format!(
                    "the file has more than {} cells ({} columns a row); Mailroom imports at most that many",
                    limits::grouped(limits::TOTAL_CELLS),
                    limits::grouped(width as u64)
                ),
            });
        }
        let email = values[email_index].trim().to_owned();

        let (status, reason) = if too_many {
            invalid(&mut tally, row, &email, InvalidReason::TooManyValues)
        } else if let Err(why) = address::validate(&email) {
            invalid(&mut tally, row, &email, why)
        } else {
            let key = address::dedup_key(&email);
            let hash = dedup_hash(&key);
            let row_u32 = u32::try_from(row).unwrap_or(u32::MAX);
            if let Some(&first_row) = first_seen.get(&hash) {
                tally.duplicates.push(DuplicateRow {
                    row,
                    email: email.clone(),
                    first_row: u64::from(first_row),
                });
                (
                    RecipientStatus::Skipped,
                    Some(RecipientReason::Duplicate {
                        first_row: u64::from(first_row),
                    }),
                )
            } else if suppressed.contains(&key) {
                first_seen.insert(hash, row_u32);
                tally.suppressed.push(SuppressedRow {
                    row,
                    email: email.clone(),
                });
                (RecipientStatus::Skipped, Some(RecipientReason::Suppressed))
            } else {
                first_seen.insert(hash, row_u32);
                tally.valid += 1;
                (RecipientStatus::Pending, None)
            }
        };

        if tally.preview.len() < PREVIEW_ROWS {
            tally.preview.push(values.clone());
        }
        let recipient = NewRecipient::new(row, email, &values, status, reason.as_ref())?;
        batch_bytes += recipient.fields.len();
        batch.push(recipient);
        if batch.len() == BATCH_ROWS || batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            let full = Batch {
                rows: std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS)),
                progress: ImportProgress {
                    rows: tally.rows,
                    fraction: meter(row).min(1.0),
                },
            };
            if batches.blocking_send(full).is_err() {
                return Ok(tally); // the writer stopped; it reports why
            }
        }
    }
    // The last batch, even when empty: it reports the whole file read. A
    // closed channel means the writer failed and reports that itself.
    let _ = batches.blocking_send(Batch {
        rows: batch,
        progress: ImportProgress {
            rows: tally.rows,
            fraction: 1.0,
        },
    });
    Ok(tally)
}

/// 96 bits of a dedup key's 128-bit SipHash (fixed keys: the same address
/// always gives the same hash, so a run can be reproduced).
fn dedup_hash(key: &str) -> [u32; 3] {
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;
    let mut hasher = SipHasher13::new();
    hasher.write(key.as_bytes());
    let hash = hasher.finish128();
    [(hash.h1 >> 32) as u32, hash.h1 as u32, hash.h2 as u32]
}

fn invalid(
    tally: &mut Tally,
    row: u64,
    value: &str,
    reason: InvalidReason,
) -> (RecipientStatus, Option<RecipientReason>) {
    // The report quotes the value; the recipient keeps it whole.
    tally.invalid.push(InvalidRow {
        row,
        value: excerpt(value),
        reason,
    });
    (
        RecipientStatus::Skipped,
        Some(RecipientReason::InvalidAddress { problem: reason }),
    )
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

fn header_names(mut names: Vec<String>) -> Vec<String> {
    if let Some(first) = names.first_mut() {
        // Excel's "CSV UTF-8" starts with a byte-order mark.
        *first = first.trim_start_matches('\u{feff}').to_owned();
    }
    names.into_iter().map(|n| n.trim().to_owned()).collect()
}

/// Gives a blank header a name ("column 3") and a repeated one a suffix
/// ("name (2)"), so every column can be a merge field. Linear in the number
/// of columns: each name remembers the next suffix to try, so a header of
/// 16,000 columns all named `a` does not try 1, 2, 3, ... for each.
fn name_blank_and_repeated(columns: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(columns.len());
    let mut next_suffix: HashMap<String, usize> = HashMap::new();
    columns
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let base = if name.is_empty() {
                format!("column {}", i + 1)
            } else {
                name
            };
            let key = base.to_lowercase();
            if seen.insert(key.clone()) {
                return base;
            }
            // Every suffix tried and taken is a name in `seen` that no later
            // column of this name tries again: the loop is linear overall.
            let n = next_suffix.entry(key).or_insert(2);
            loop {
                let candidate = format!("{base} ({n})");
                *n += 1;
                if seen.insert(candidate.to_lowercase()) {
                    return candidate;
                }
            }
        })
        .collect()
}

/// The email column: the one the person named; else the one whose header
/// says so; else the one whose sampled values are mostly addresses.
/// `None` if there is none of those (importing then fails with
/// [`Error::NoEmailColumn`]; a preview asks the person).
pub(crate) fn resolve_email_column(
    path: &Path,
    columns: &[String],
    wanted: Option<&str>,
    sample: &[&Vec<String>],
) -> Result<Option<usize>> {
    if let Some(wanted) = wanted {
        return columns
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(wanted.trim()))
            .map(Some)
            .ok_or_else(|| Error::UnknownColumn {
                path: path.to_owned(),
                wanted: wanted.to_owned(),
                columns: columns.to_vec(),
            });
    }
    Ok(find_email_column(columns).or_else(|| find_email_column_by_content(columns.len(), sample)))
}

/// The column where most non-empty sampled values are valid addresses (at
/// least half of them, and at least one).
fn find_email_column_by_content(width: usize, sample: &[&Vec<String>]) -> Option<usize> {
    (0..width)
        .map(|column| {
            let values: Vec<&str> = sample
                .iter()
                .filter_map(|row| row.get(column).map(|v| v.trim()))
                .filter(|v| !v.is_empty())
                .collect();
            let good = values.iter().filter(|v| address::validate(v).is_ok()).count();
            (column, good, values.len())
        })
        .filter(|&(_, good, total)| good > 0 && good * 2 >= total)
        .max_by_key(|&(column, good, _)| (good, std::cmp::Reverse(column)))
        .map(|(column, _, _)| column)
}

fn find_email_column(columns: &[String]) -> Option<usize> {
    let normalise = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    columns
        .iter()
        .position(|c| EMAIL_HEADER_HINTS.contains(&normalise(c).as_str()))
}

#[cfg(test)]
mod tests;
