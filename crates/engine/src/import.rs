//! Recipient import, its orchestration and public API: a recipient file (a
//! CSV/TSV/TXT file through [`csv`], a workbook through [`sheet`]) becomes a
//! draft campaign whose every data row is a recipient, either `pending` or
//! `skipped` with the reason why ([`classify`]). The email column is found
//! by [`columns`] unless the person chose it ([`options`]).
//!
//! The file is parsed on a blocking thread that hands batches over a bounded
//! channel to the store's writer, so rows are never all in memory at once and
//! the async runtime never waits on disk reads. (The duplicate check still
//! remembers every address, and the report lists every skipped row: memory
//! grows with those; see docs/BENCHMARKS.md.) The whole import is one
//! transaction: a file that turns out to be unreadable on row 900,000 leaves
//! nothing behind (SPEC invariant 7).

use std::collections::HashMap;
use std::path::Path;

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::model::{ImportPreview, ImportProgress, ImportReport, SourceFormat};
use crate::progress::{Coalesce, Flow, Ignore, Kind, Sink};
use crate::store::{NewCampaign, NewRecipient, Store};

/// Rows per insert statement: big enough to amortise the statement, small
/// enough that a batch is a few hundred kilobytes for usual rows.
const BATCH_ROWS: usize = 2_000;
/// Bytes of values in a batch: wide or long rows go in smaller batches, so
/// the batches in flight stay a few megabytes whatever the rows.
const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches in flight between the parser and the writer.
const BATCHES_IN_FLIGHT: usize = 4;

pub mod classify;
pub mod columns;
pub mod container;
pub mod csv;
pub mod dialect;
pub mod file;
pub mod guard;
pub mod limits;
pub mod options;
pub mod records;
pub mod sheet;

pub use csv::CsvSource;
pub use limits::excerpt;
pub use options::{ImportChoice, ImportChoices, ImportOptions};

use classify::{Classifier, PREVIEW_ROWS, Tally};
use file::Row;

/// The extensions of the files Mailroom offers to import, lower-case and
/// without the dot: text files, then workbooks. A file chooser's filter and
/// a drop of several files use them; a file of another name is still read
/// as text if it is opened.
pub fn accepted_extensions() -> Vec<&'static str> {
    csv::TEXT_EXTENSIONS
        .iter()
        .chain(container::Format::EXTENSIONS)
        .copied()
        .collect()
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

impl RecipientSource {
    /// Opens a spreadsheet (by its extension: xlsx, xlsm, xlsb, xls, ods) or a
    /// text file (anything else), reads its header and finds the email column.
    pub async fn open(path: &Path, options: &ImportOptions) -> Result<RecipientSource> {
        let source = Self::open_for_preview(path, &options.choices).await?;
        source.email_index()?;
        Ok(source)
    }

    /// Like [`RecipientSource::open`], but a file whose email column cannot
    /// be found still opens, so that its preview can ask which one it is.
    async fn open_for_preview(path: &Path, choices: &ImportChoices) -> Result<RecipientSource> {
        if sheet::is_spreadsheet(path) {
            Ok(RecipientSource::Sheet(sheet::SheetSource::open(path, choices).await?))
        } else {
            Ok(RecipientSource::Csv(CsvSource::open(path, choices).await?))
        }
    }

    /// How the file would be imported, and its first rows, without saving
    /// anything: what the Recipients screen shows while the person checks
    /// the detected encoding, delimiter, sheet and email column.
    pub async fn preview(path: &Path, choices: &ImportChoices) -> Result<ImportPreview> {
        let source = Self::open_for_preview(path, choices).await?;
        let columns = source.columns().to_vec();
        let (sheets, rows, file_bytes) = match &source {
            RecipientSource::Csv(s) => (Vec::new(), s.first_rows(PREVIEW_ROWS), s.file_bytes()),
            RecipientSource::Sheet(s) => (
                s.sheets().to_vec(),
                s.first_rows(PREVIEW_ROWS),
                std::fs::metadata(path).map_or(0, |m| m.len()),
            ),
        };
        Ok(ImportPreview {
            source: source.source_format(),
            sheets,
            fields: crate::message::field_names(&columns),
            email_column: source.email_index_if_found().map(|i| columns[i].clone()),
            rows,
            file_bytes,
            columns,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            RecipientSource::Csv(s) => s.path(),
            RecipientSource::Sheet(s) => s.path(),
        }
    }

    pub fn columns(&self) -> &[String] {
        match self {
            RecipientSource::Csv(s) => s.columns(),
            RecipientSource::Sheet(s) => s.columns(),
        }
    }

    /// How the file is read: what a preview shows and an import reports.
    pub fn source_format(&self) -> SourceFormat {
        match self {
            RecipientSource::Csv(s) => s.source_format(),
            RecipientSource::Sheet(s) => s.source_format(),
        }
    }

    /// The email column's index, if one was named or found.
    fn email_index_if_found(&self) -> Option<usize> {
        match self {
            RecipientSource::Csv(s) => s.email_index(),
            RecipientSource::Sheet(s) => s.email_index(),
        }
    }

    /// The email column's index; a file without one cannot be imported.
    pub(crate) fn email_index(&self) -> Result<usize> {
        self.email_index_if_found().ok_or_else(|| Error::NoEmailColumn {
            path: self.path().to_owned(),
            columns: self.columns().to_vec(),
        })
    }

    /// Turns the number of the row just read into the share of the file read.
    fn progress_meter(&self) -> Box<dyn Fn(u64) -> f64 + Send> {
        match self {
            RecipientSource::Csv(s) => Box::new(s.progress_meter()),
            RecipientSource::Sheet(s) => Box::new(s.progress_meter()),
        }
    }

    /// About how many data rows the file has, to size the duplicate check
    /// once instead of growing it.
    fn estimated_rows(&self) -> usize {
        match self {
            RecipientSource::Csv(s) => s.estimated_rows(),
            RecipientSource::Sheet(s) => s.estimated_rows(),
        }
    }

    /// Every data row in order, read as it is consumed.
    pub(crate) fn into_rows(self) -> Box<dyn Iterator<Item = Result<Row>> + Send> {
        match self {
            RecipientSource::Csv(s) => Box::new(s.into_rows()),
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
    import_with_progress(store, source, options, &Ignore).await
}

/// [`import`], telling `progress` how far it has got after each batch of
/// rows is written. `progress` answering [`Flow::Stop`] (or its stop signal
/// cancelled) cancels the import: nothing of it is saved, and the result is
/// [`Error::ImportCancelled`].
pub async fn import_with_progress(
    store: &Store,
    source: impl Into<RecipientSource>,
    options: &ImportOptions,
    progress: &dyn Sink<ImportProgress>,
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
    let source_format = source.source_format();
    let suppressed = store.suppression_reasons().await?;

    let mut writer = store
        .begin_import(&NewCampaign {
            name: &name,
            source_file: &source_file,
            columns: &columns,
            email_column: &email_column,
        })
        .await?;

    let path = source.path().to_owned();
    let stop = progress.stop_signal();
    let (batches, mut received) = mpsc::channel::<Batch>(BATCHES_IN_FLIGHT);
    let parser = tokio::task::spawn_blocking(move || parse_rows(source, email_index, &suppressed, &batches));
    let mut write_result = Ok(());
    while let Some(batch) = received.recv().await {
        if let Err(e) = writer.write(&batch.rows).await {
            write_result = Err(e);
            break;
        }
        if progress.event(&batch.progress) == Flow::Stop || stop.is_cancelled() {
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
        source: source_format,
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

/// Reads every data row, classifies it and sends it on in batches. Runs on a
/// blocking thread.
fn parse_rows(
    source: RecipientSource,
    email_index: usize,
    suppressed: &HashMap<String, String>,
    batches: &mpsc::Sender<Batch>,
) -> Result<Tally> {
    let mut rows = Classifier::new(
        source.path().to_owned(),
        email_index,
        source.columns().len(),
        suppressed,
        source.estimated_rows(),
    );
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut batch_bytes = 0_usize;
    let meter = source.progress_meter();

    for next in source.into_rows() {
        let (row, values) = next?;
        let Some(recipient) = rows.classify(row, values)? else {
            continue;
        };
        batch_bytes += recipient.fields.len();
        batch.push(recipient);
        if batch.len() == BATCH_ROWS || batch_bytes >= BATCH_BYTES {
            batch_bytes = 0;
            let full = Batch {
                rows: std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS)),
                progress: ImportProgress {
                    rows: rows.rows(),
                    fraction: meter(row).min(1.0),
                },
            };
            if batches.blocking_send(full).is_err() {
                return Ok(rows.finish()); // the writer stopped; it reports why
            }
        }
    }
    // The last batch, even when empty: it reports the whole file read. A
    // closed channel means the writer failed and reports that itself.
    let _ = batches.blocking_send(Batch {
        rows: batch,
        progress: ImportProgress {
            rows: rows.rows(),
            fraction: 1.0,
        },
    });
    Ok(rows.finish())
}

#[cfg(test)]
mod tests;

/// Each step is a snapshot: a window needs only the newest.
impl Coalesce for ImportProgress {
    fn kind(&self) -> Kind {
        Kind::Snapshot
    }
}
