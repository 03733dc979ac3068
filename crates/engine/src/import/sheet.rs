//! Spreadsheets (XLSX, XLSM, XLSB, XLS, ODS) as recipient sources, read with
//! calamine: the chosen sheet's cells become text the way an office suite
//! shows them — `42` not `42.0`, a date as `2024-03-01` not a serial number,
//! text such as `01234` untouched, formulas as their cached values.
//!
//! Unlike a CSV, a sheet is read whole before its rows are handed out: the
//! formats are zipped XML (or OLE for XLS) with shared strings, so memory
//! grows with the sheet. docs/BENCHMARKS.md gives the figures.

use std::path::{Path, PathBuf};

use calamine::{Data, Range, Reader, open_workbook_auto};

use super::{CONTENT_SAMPLE_ROWS, ImportOptions, Row, name_blank_and_repeated, resolve_email_column};
use crate::error::{Error, Result};

/// The extensions read as spreadsheets; everything else is read as text.
const EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xlsb", "xls", "ods"];

/// Whether `path` names a spreadsheet, by its extension.
pub fn is_spreadsheet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
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
    /// `None` when no column could be found (see [`super::resolve_email_column`]).
    email_index: Option<usize>,
    range: Range<Data>,
    /// The range's row index of the header (relative to the range).
    header: usize,
    /// The range's first row as a spreadsheet numbers it (1-based).
    first_row_number: u64,
}

impl SheetSource {
    /// Opens the workbook, picks the sheet (`options.sheet`, or the first),
    /// reads the header row and finds the email column.
    pub async fn open(path: &Path, options: &ImportOptions) -> Result<SheetSource> {
        let path = path.to_owned();
        let options = options.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(path, &options))
            .await
            .map_err(|e| Error::Internal(format!("import thread: {e}")))?
    }

    fn open_blocking(path: PathBuf, options: &ImportOptions) -> Result<SheetSource> {
        // A missing or unreadable file gets the same sentence as for CSV.
        std::fs::File::open(&path).map_err(|e| Error::unreadable(&path, e))?;
        let unreadable = |reason: String| Error::BadSpreadsheet {
            path: path.clone(),
            reason,
        };
        let mut workbook = open_workbook_auto(&path).map_err(|e| unreadable(e.to_string()))?;
        let sheets = workbook.sheet_names();
        let sheet = match &options.sheet {
            Some(wanted) => sheets
                .iter()
                .find(|s| s.trim().eq_ignore_ascii_case(wanted.trim()))
                .cloned()
                .ok_or_else(|| Error::SheetNotFound {
                    path: path.clone(),
                    wanted: wanted.clone(),
                    sheets: sheets.clone(),
                })?,
            None => sheets
                .first()
                .cloned()
                .ok_or_else(|| unreadable("it has no sheets".to_owned()))?,
        };
        let range = workbook
            .worksheet_range(&sheet)
            .map_err(|e| unreadable(format!("sheet \"{sheet}\": {e}")))?;
        let first_row_number = range.start().map_or(1, |(row, _)| u64::from(row) + 1);
        // The header is the first row with anything in it.
        let Some(header) = (0..range.height()).find(|&r| !row_text(&range, r).iter().all(String::is_empty)) else {
            return Err(Error::EmptyFile { path });
        };
        let columns = name_blank_and_repeated(
            row_text(&range, header)
                .into_iter()
                .map(|c| c.trim().to_owned())
                .collect(),
        );
        let sample: Vec<Vec<String>> = (header + 1..range.height())
            .take(CONTENT_SAMPLE_ROWS)
            .map(|r| row_text(&range, r))
            .collect();
        let sample_refs: Vec<&Vec<String>> = sample.iter().collect();
        let email_index = resolve_email_column(&path, &columns, options.email_column.as_deref(), &sample_refs)?;
        let format = path
            .extension()
            .and_then(|e| e.to_str())
            .map_or_else(|| "xlsx".to_owned(), str::to_ascii_lowercase);
        Ok(SheetSource {
            path,
            format,
            sheet,
            sheets,
            columns,
            email_index,
            range,
            header,
            first_row_number,
        })
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

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The sheet's rows, the header and anything above it included.
    pub fn height(&self) -> usize {
        self.range.height()
    }

    pub fn sheets(&self) -> &[String] {
        &self.sheets
    }

    pub fn email_index(&self) -> Option<usize> {
        self.email_index
    }

    /// The first `count` data rows that are not blank, for a preview.
    pub(super) fn first_rows(&self, count: usize) -> Vec<Vec<String>> {
        (self.header + 1..self.range.height())
            .map(|r| row_text(&self.range, r))
            .filter(|values| !values.iter().all(|v| v.trim().is_empty()))
            .take(count)
            .collect()
    }

    /// The share of the sheet's rows up to the one numbered `row`.
    pub(super) fn progress_meter(&self) -> impl Fn(u64) -> f64 + Send + 'static {
        let first = self.first_row_number;
        let height = self.range.height().max(1) as f64;
        move |row| (row.saturating_sub(first) as f64 + 1.0) / height
    }

    /// The data rows below the header, numbered as the spreadsheet shows them.
    pub(super) fn into_rows(self) -> Box<dyn Iterator<Item = Result<Row>> + Send> {
        let SheetSource {
            range,
            header,
            first_row_number,
            ..
        } = self;
        let mut next = header + 1;
        Box::new(std::iter::from_fn(move || {
            if next >= range.height() {
                return None;
            }
            let row = next;
            next += 1;
            Some(Ok((first_row_number + row as u64, row_text(&range, row))))
        }))
    }
}

/// One row of the range as text, one value per column of the range.
fn row_text(range: &Range<Data>, row: usize) -> Vec<String> {
    (0..range.width())
        .map(|column| range.get((row, column)).map(cell_text).unwrap_or_default())
        .collect()
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
    fn spreadsheets_are_known_by_extension() {
        assert!(is_spreadsheet(Path::new("a.XLSX")));
        assert!(is_spreadsheet(Path::new("a.ods")));
        assert!(is_spreadsheet(Path::new("a.xls")));
        assert!(!is_spreadsheet(Path::new("a.csv")));
        assert!(!is_spreadsheet(Path::new("noext")));
    }
}
