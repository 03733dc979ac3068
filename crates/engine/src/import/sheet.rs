//! Spreadsheets (XLSX, XLSM, XLSB, XLS, ODS) as recipient sources, read with
//! calamine: the chosen sheet's cells become text the way an office suite
//! shows them — `42` not `42.0`, a date as `2024-03-01` not a serial number,
//! text such as `01234` untouched, formulas as their cached values.
//!
//! Memory follows the cells present, never the sheet's declared size. A
//! thread of its own reads the workbook and hands rows over a bounded
//! channel as it reads them: XLSX and XLSB cell by cell (calamine's
//! streaming readers), XLS and ODS from the sheet calamine reads whole,
//! after [`super::container`] has checked that its grid fits the limits.
//! Only rows with a value travel, as their valued cells; a row gets its
//! columns (up to the header's width) on arrival. Every read is inside
//! [`guard::contain`]: a damaged file that makes calamine panic is a
//! [`Error::DamagedFile`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{Cell, Data, DataRef, Dimensions, Ods, Reader, Xls, Xlsb, Xlsx};

use super::columns::{self, CONTENT_SAMPLE_ROWS};
use super::container::{self, Format};
use super::file::{Row, open_regular_file};
use super::guard;
use super::limits::{self, column_letters, excerpt, grouped};
use super::options::ImportChoices;
use crate::error::{Error, Result};
use crate::model::SourceFormat;

/// Rows on their way from the reading thread.
const ROWS_IN_FLIGHT: usize = 256;

/// Whether `path` names a spreadsheet, by its extension.
pub fn is_spreadsheet(path: &Path) -> bool {
    Format::of(path).is_some()
}

/// A row as the reading thread sends it: its number (1-based, as the sheet
/// shows it) and its cells with a value, by 0-based column, in order.
#[derive(Debug)]
struct SparseRow {
    row: u64,
    cells: Vec<(u32, String)>,
}

#[derive(Debug)]
enum Message {
    Opened {
        sheets: Vec<String>,
        sheet: String,
        /// Rows the sheet says it has (for progress only; it may be wrong).
        declared_rows: u64,
    },
    Row(SparseRow),
    Failed(Error),
}

/// One sheet of a workbook, its header read and its email column known.
#[derive(Debug)]
pub struct SheetSource {
    path: PathBuf,
    format: String,
    sheet: String,
    /// Every sheet in the workbook, in order, to choose from.
    sheets: Vec<String>,
    columns: Vec<String>,
    /// `None` when no column could be found (see [`columns::resolve_email_column`]).
    email_index: Option<usize>,
    /// The first column of the table (0-based): the leftmost column with a
    /// value in the header or the rows read ahead.
    origin: u32,
    /// Data rows read ahead to find the email column, in order.
    read_ahead: VecDeque<SparseRow>,
    rows: Receiver<Message>,
    declared_rows: u64,
}

impl SheetSource {
    /// Opens the workbook, picks the sheet (`choices.sheet`, or the first),
    /// reads the header row and finds the email column.
    pub async fn open(path: &Path, choices: &ImportChoices) -> Result<SheetSource> {
        let path = path.to_owned();
        let choices = choices.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, &choices))
            .await
            .map_err(|e| Error::Internal(format!("import thread: {e}")))?
    }

    fn open_blocking(path: PathBuf, choices: &ImportChoices) -> Result<SheetSource> {
        let file = open_regular_file(&path)?;
        let format = Format::of(&path).ok_or_else(|| Error::UnsupportedFormat { path: path.clone() })?;
        let not_for_sheets = [
            (choices.encoding.is_some(), "an encoding"),
            (choices.delimiter.is_some(), "a delimiter"),
            (choices.literal_quotes, "reading quotes literally"),
        ];
        if let Some((_, choice)) = not_for_sheets.iter().find(|(given, _)| *given) {
            return Err(Error::ChoiceNotApplicable {
                path,
                problem: format!("it is a spreadsheet, so {choice} does not apply (those are for CSV and text files)"),
            });
        }
        let (sender, rows) = sync_channel(ROWS_IN_FLIGHT);
        let thread_path = path.clone();
        let wanted = choices.sheet.clone();
        std::thread::Builder::new()
            .name("mailroom-sheet".to_owned())
            .spawn(move || {
                let failed = sender.clone();
                let result = guard::contain(&thread_path, || {
                    read_workbook(&thread_path, file, format, wanted.as_deref(), &sender)
                });
                if let Err(e) = result {
                    let _ = failed.send(Message::Failed(e));
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the sheet reader: {e}")))?;

        let (sheets, sheet, declared_rows) = match rows.recv() {
            Ok(Message::Opened {
                sheets,
                sheet,
                declared_rows,
            }) => (sheets, sheet, declared_rows),
            Ok(Message::Failed(e)) => return Err(e),
            Ok(Message::Row(_)) | Err(_) => return Err(Error::Internal("the sheet reader stopped".to_owned())),
        };
        let mut source = SheetSource {
            path,
            format: format_name(format).to_owned(),
            sheet,
            sheets,
            columns: Vec::new(),
            email_index: None,
            origin: 0,
            read_ahead: VecDeque::new(),
            rows,
            declared_rows,
        };
        // The header is the first row with anything in it.
        let Some(header) = source.receive()? else {
            return Err(Error::EmptyFile { path: source.path });
        };
        while source.read_ahead.len() < CONTENT_SAMPLE_ROWS {
            match source.receive()? {
                Some(row) => source.read_ahead.push_back(row),
                None => break,
            }
        }
        source.origin = std::iter::once(&header)
            .chain(&source.read_ahead)
            .filter_map(|r| r.cells.first().map(|&(c, _)| c))
            .min()
            .unwrap_or(0);
        // The header names the columns, as in a CSV; a value further right
        // makes its row one with more values than columns.
        let width = header.cells.last().map_or(1, |&(c, _)| c + 1 - source.origin) as usize;
        let (_, header_values) = dense(header, source.origin, width);
        source.columns =
            columns::name_blank_and_repeated(header_values.into_iter().map(|c| c.trim().to_owned()).collect());
        let sample: Vec<Vec<String>> = source.first_rows(CONTENT_SAMPLE_ROWS);
        let sample_refs: Vec<&Vec<String>> = sample.iter().collect();
        source.email_index = columns::resolve_email_column(
            &source.path,
            &source.columns,
            choices.email_column.as_deref(),
            &sample_refs,
        )?;
        Ok(source)
    }

    /// The next row from the reading thread; `None` at the end.
    fn receive(&self) -> Result<Option<SparseRow>> {
        match self.rows.recv() {
            Ok(Message::Row(row)) => Ok(Some(row)),
            Ok(Message::Failed(e)) => Err(e),
            Ok(Message::Opened { .. }) => Err(Error::Internal("the sheet reader opened twice".to_owned())),
            Err(_) => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> &str {
        &self.format
    }

    pub fn sheet(&self) -> &str {
        &self.sheet
    }

    /// How the workbook is read: its format and the sheet.
    pub fn source_format(&self) -> SourceFormat {
        SourceFormat {
            format: self.format.clone(),
            encoding: None,
            delimiter: None,
            literal_quotes: None,
            sheet: Some(self.sheet.clone()),
        }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// About how many rows the sheet has (what it declares, within the
    /// limit), to size the duplicate check.
    pub fn estimated_rows(&self) -> usize {
        self.declared_rows.min(256 * 1024) as usize
    }

    pub fn sheets(&self) -> &[String] {
        &self.sheets
    }

    pub fn email_index(&self) -> Option<usize> {
        self.email_index
    }

    /// The first `count` data rows read ahead that are not blank, for a preview.
    pub(super) fn first_rows(&self, count: usize) -> Vec<Vec<String>> {
        self.read_ahead
            .iter()
            .map(|r| {
                dense(
                    SparseRow {
                        row: r.row,
                        cells: r.cells.clone(),
                    },
                    self.origin,
                    self.columns.len(),
                )
                .1
            })
            // The preview shows the header's columns; a value further right
            // is reported when the row is imported.
            .map(|mut values| {
                values.truncate(self.columns.len());
                values
            })
            .filter(|values| !values.iter().all(|v| v.trim().is_empty()))
            .take(count)
            .collect()
    }

    /// The share of the sheet's rows up to the one numbered `row`.
    pub(super) fn progress_meter(&self) -> impl Fn(u64) -> f64 + Send + 'static {
        let height = self.declared_rows.max(1) as f64;
        move |row| row as f64 / height
    }

    /// The data rows below the header, numbered as the spreadsheet shows them.
    pub(super) fn into_rows(self) -> Box<dyn Iterator<Item = Result<Row>> + Send> {
        let SheetSource {
            origin,
            read_ahead,
            rows,
            columns,
            ..
        } = self;
        let width = columns.len();
        let mut read_ahead = read_ahead;
        Box::new(std::iter::from_fn(move || {
            if let Some(row) = read_ahead.pop_front() {
                return Some(Ok(dense(row, origin, width)));
            }
            match rows.recv() {
                Ok(Message::Row(row)) => Some(Ok(dense(row, origin, width))),
                Ok(Message::Failed(e)) => Some(Err(e)),
                Ok(Message::Opened { .. }) => Some(Err(Error::Internal("the sheet reader opened twice".to_owned()))),
                Err(_) => None,
            }
        }))
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Xlsx => "xlsx",
        Format::Xlsb => "xlsb",
        Format::Xls => "xls",
        Format::Ods => "ods",
    }
}

/// A row's values from column `origin` on: at least `width` of them, more
/// when a value lies further right. A value left of `origin` (the table's
/// first column, as the first rows showed it) is put after the others, so
/// the row is reported as having more values than columns, not cut.
fn dense(row: SparseRow, origin: u32, width: usize) -> Row {
    let mut values = vec![String::new(); width];
    let mut left = Vec::new();
    for (column, text) in row.cells {
        if column < origin {
            left.push(text);
            continue;
        }
        let index = (column - origin) as usize;
        if index >= values.len() {
            values.resize(index + 1, String::new());
        }
        values[index] = text;
    }
    values.extend(left);
    (row.row, values)
}

/// The thread's work: open the workbook, choose the sheet, send its rows.
fn read_workbook(
    path: &Path,
    file: File,
    format: Format,
    wanted: Option<&str>,
    sender: &SyncSender<Message>,
) -> Result<()> {
    container::check(path, &file, format)?;
    let bad = |e: &dyn std::fmt::Display| Error::BadSpreadsheet {
        path: path.to_owned(),
        reason: excerpt(&e.to_string()),
    };
    let reader = BufReader::new(file);
    let mut rows = RowSender::new(path, sender);
    match format {
        Format::Xlsx => {
            let mut workbook: Xlsx<_> = Xlsx::new(reader).map_err(|e| bad(&e))?;
            let (sheets, sheet) = choose_sheet(path, workbook.sheet_names(), wanted)?;
            let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(|e| bad(&e))?;
            let dimensions = cells.dimensions();
            if !send_streamed(&mut rows, (sheets, sheet, dimensions), || cells.next_cell(), &bad)? {
                return Ok(());
            }
        }
        Format::Xlsb => {
            let mut workbook: Xlsb<_> = Xlsb::new(reader).map_err(|e| bad(&e))?;
            let (sheets, sheet) = choose_sheet(path, workbook.sheet_names(), wanted)?;
            let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(|e| bad(&e))?;
            let dimensions = cells.dimensions();
            if !send_streamed(&mut rows, (sheets, sheet, dimensions), || cells.next_cell(), &bad)? {
                return Ok(());
            }
        }
        Format::Xls | Format::Ods => {
            let (sheets, sheet, range) = if format == Format::Xls {
                let mut workbook: Xls<_> = Xls::new(reader).map_err(|e| bad(&e))?;
                let (sheets, sheet) = choose_sheet(path, workbook.sheet_names(), wanted)?;
                let range = workbook.worksheet_range(&sheet).map_err(|e| bad(&e))?;
                (sheets, sheet, range)
            } else {
                let mut workbook: Ods<_> = Ods::new(reader).map_err(|e| bad(&e))?;
                let (sheets, sheet) = choose_sheet(path, workbook.sheet_names(), wanted)?;
                let range = workbook.worksheet_range(&sheet).map_err(|e| bad(&e))?;
                (sheets, sheet, range)
            };
            let (top, left) = range.start().unwrap_or((0, 0));
            let declared = u64::from(top) + range.height() as u64;
            if !rows.opened(sheets, sheet, declared) {
                return Ok(());
            }
            for (row, column, value) in range.used_cells() {
                let (Ok(row), Ok(column)) = (u32::try_from(row), u32::try_from(column)) else {
                    break;
                };
                if !rows.cell(top.saturating_add(row), left.saturating_add(column), value)? {
                    return Ok(());
                }
            }
        }
    }
    rows.finish();
    Ok(())
}

/// Sends the cells of a sheet calamine streams (XLSX and XLSB, whose cell
/// readers are alike but of two types) as they are read: the workbook's
/// sheets, the sheet chosen and its declared size, then `next_cell` until
/// the end. `false` when the receiver has gone (nothing more to send).
fn send_streamed<'a, E: std::fmt::Display>(
    rows: &mut RowSender<'_>,
    (sheets, sheet, dimensions): (Vec<String>, String, Dimensions),
    mut next_cell: impl FnMut() -> std::result::Result<Option<Cell<DataRef<'a>>>, E>,
    bad: &dyn Fn(&dyn std::fmt::Display) -> Error,
) -> Result<bool> {
    let declared = u64::from(dimensions.end.0) + 1;
    if !rows.opened(sheets, sheet, declared) {
        return Ok(false);
    }
    while let Some(cell) = next_cell().map_err(|e| bad(&e))? {
        let (row, column) = cell.get_position();
        if !rows.cell(row, column, &Data::from(cell.get_value().clone()))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The sheet named `wanted` (any case), or the first; and every sheet's name.
fn choose_sheet(path: &Path, sheets: Vec<String>, wanted: Option<&str>) -> Result<(Vec<String>, String)> {
    let sheet = match wanted {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.trim().eq_ignore_ascii_case(wanted.trim()))
            .cloned()
            .ok_or_else(|| Error::SheetNotFound {
                path: path.to_owned(),
                wanted: excerpt(wanted),
                sheets: sheets.clone(),
            })?,
        None => sheets.first().cloned().ok_or_else(|| Error::BadSpreadsheet {
            path: path.to_owned(),
            reason: "it has no sheets".to_owned(),
        })?,
    };
    Ok((sheets, sheet))
}

/// Gathers cells into rows, checks the limits, and sends each row with a
/// value when the next one starts. `false` from a method: the receiver is
/// gone (the preview is done, the import failed), so reading stops.
struct RowSender<'a> {
    path: &'a Path,
    sender: &'a SyncSender<Message>,
    current: Option<SparseRow>,
    bytes: usize,
}

impl<'a> RowSender<'a> {
    fn new(path: &'a Path, sender: &'a SyncSender<Message>) -> RowSender<'a> {
        RowSender {
            path,
            sender,
            current: None,
            bytes: 0,
        }
    }

    fn opened(&mut self, sheets: Vec<String>, sheet: String, declared_rows: u64) -> bool {
        let declared_rows = declared_rows.min(limits::SHEET_ROWS);
        self.sender
            .send(Message::Opened {
                sheets,
                sheet,
                declared_rows,
            })
            .is_ok()
    }

    fn too_large(&self, row: u64, column: Option<u32>, problem: String) -> Error {
        Error::FileTooLarge {
            path: self.path.to_owned(),
            place: match column {
                Some(column) => format!(", cell {}{}", column_letters(u64::from(column)), row),
                None => format!(", row {}", grouped(row)),
            },
            problem,
        }
    }

    /// The cell at 0-based `row` and `column`.
    fn cell(&mut self, row: u32, column: u32, value: &Data) -> Result<bool> {
        let text = cell_text(value);
        if text.is_empty() {
            return Ok(true);
        }
        let row = u64::from(row) + 1;
        if row > limits::SHEET_ROWS {
            return Err(self.too_large(
                row,
                None,
                format!(
                    "a value lies below row {}, the last a sheet has",
                    grouped(limits::SHEET_ROWS)
                ),
            ));
        }
        if column as usize >= limits::COLUMNS {
            return Err(self.too_large(
                row,
                None,
                "a value lies past column XFD, the last a sheet has".to_owned(),
            ));
        }
        if text.len() > limits::CELL_BYTES {
            return Err(self.too_large(
                row,
                Some(column),
                format!(
                    "a value is longer than {} KB (\"{}\"), more than a spreadsheet cell holds",
                    limits::CELL_BYTES / 1024,
                    excerpt(&text)
                ),
            ));
        }
        match &mut self.current {
            Some(current) if current.row == row => {}
            Some(current) if current.row > row => {
                return Err(Error::DamagedFile {
                    path: self.path.to_owned(),
                    detail: format!("row {row} comes after row {}", current.row),
                });
            }
            _ => {
                if !self.flush() {
                    return Ok(false);
                }
                self.current = Some(SparseRow { row, cells: Vec::new() });
            }
        }
        self.bytes += text.len();
        if self.bytes > limits::ROW_BYTES {
            return Err(self.too_large(
                row,
                None,
                format!("the row is longer than {} MB", limits::ROW_BYTES / (1024 * 1024)),
            ));
        }
        if let Some(current) = &mut self.current {
            match current.cells.last_mut() {
                Some(last) if last.0 == column => last.1 = text,
                Some(last) if last.0 > column => {
                    current.cells.push((column, text));
                    current.cells.sort_by_key(|&(c, _)| c);
                    current.cells.dedup_by_key(|&mut (c, _)| c);
                }
                _ => current.cells.push((column, text)),
            }
        }
        Ok(true)
    }

    fn flush(&mut self) -> bool {
        self.bytes = 0;
        match self.current.take() {
            Some(row) => self.sender.send(Message::Row(row)).is_ok(),
            None => true,
        }
    }

    fn finish(&mut self) {
        self.flush();
    }
}

/// A cell as a person sees it in their office suite.
pub(crate) fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => format_number(*f),
        Data::Bool(true) => "TRUE".to_owned(),
        Data::Bool(false) => "FALSE".to_owned(),
        Data::DateTime(dt) => {
            let (year, month, day, hour, minute, second, _) = dt.to_ymd_hms_milli();
            if dt.is_duration() {
                format!("{hour}:{minute:02}:{second:02}")
            } else if (hour, minute, second) == (0, 0, 0) {
                format!("{year:04}-{month:02}-{day:02}")
            } else if second == 0 {
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}")
            } else {
                format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
            }
        }
        // ODS stores dates as ISO text: a date alone needs no midnight.
        Data::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).replacen('T', " ", 1),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

/// Whole numbers without `.0`; others as the shortest text that reads back
/// the same (`0.1`, `1234.56`), never in exponent form for everyday sizes.
fn format_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_an_office_suite_shows_them() {
        assert_eq!(cell_text(&Data::Float(42.0)), "42");
        assert_eq!(cell_text(&Data::Float(-3.0)), "-3");
        assert_eq!(cell_text(&Data::Float(1234.56)), "1234.56");
        assert_eq!(cell_text(&Data::Float(0.1)), "0.1");
        assert_eq!(cell_text(&Data::Int(7)), "7");
        assert_eq!(cell_text(&Data::String("01234".into())), "01234");
        assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
        assert_eq!(
            cell_text(&Data::DateTimeIso("2024-03-01T00:00:00".into())),
            "2024-03-01"
        );
        assert_eq!(
            cell_text(&Data::DateTimeIso("2024-03-01T09:30:00".into())),
            "2024-03-01 09:30:00"
        );
        let date = calamine::ExcelDateTime::new(45_352.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)), "2024-03-01");
        let with_time = calamine::ExcelDateTime::new(45_352.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(with_time)), "2024-03-01 12:00");
    }

    #[test]
    fn rows_get_their_columns_from_the_tables_first_column() {
        let row = SparseRow {
            row: 7,
            cells: vec![(2, "a@example.com".into()), (4, "Ann".into())],
        };
        assert_eq!(
            dense(row, 2, 2),
            (7, vec!["a@example.com".into(), String::new(), "Ann".into()])
        );
        // A value left of the table is kept, after the others.
        let row = SparseRow {
            row: 8,
            cells: vec![(0, "stray".into()), (2, "b@example.com".into())],
        };
        assert_eq!(
            dense(row, 2, 2),
            (8, vec!["b@example.com".into(), String::new(), "stray".into()])
        );
    }

    #[test]
    fn spreadsheets_are_known_by_extension() {
        assert!(is_spreadsheet(Path::new("a.XLSX")));
        assert!(is_spreadsheet(Path::new("a.ods")));
        assert!(is_spreadsheet(Path::new("a.xls")));
        assert!(!is_spreadsheet(Path::new("a.csv")));
        assert!(!is_spreadsheet(Path::new("noext")));
    }

    #[test]
    fn every_workbook_extension_offered_opens_as_a_spreadsheet() {
        for extension in Format::EXTENSIONS {
            assert!(is_spreadsheet(Path::new(&format!("list.{extension}"))), "{extension}");
        }
        for extension in crate::import::csv::TEXT_EXTENSIONS {
            assert!(!is_spreadsheet(Path::new(&format!("list.{extension}"))), "{extension}");
        }
    }
}
