//! Writing a campaign's recipients out as CSV or XLSX: the failed ones (to
//! check, fix or send elsewhere) and the skipped ones (invalid, duplicate,
//! suppressed: to correct in the source list), with the reason and every
//! imported column.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::Workbook;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::model::{CampaignId, RecipientStatus};
use crate::store::Store;

/// Recipients read per query while writing.
const PAGE: u64 = 5000;
/// Rows an XLSX sheet holds, the header included.
const XLSX_MAX_ROWS: u64 = 1_048_576;

/// Writes `campaign`'s recipients in `statuses` (file order) to `path` and
/// returns how many. A path ending in `.xlsx` gets a workbook; anything else
/// CSV, which opens in Excel with non-ASCII intact (UTF-8 with a byte-order
/// mark). Either way the file appears only when complete.
pub async fn export_recipients(
    store: &Store,
    campaign: CampaignId,
    statuses: &[RecipientStatus],
    path: &Path,
) -> Result<u64> {
    let summary = store.campaign_summary(campaign).await?;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let cannot = |source: std::io::Error| Error::ExportFailed {
        path: path.to_owned(),
        source,
    };
    let file = file_beside(folder).map_err(cannot)?;
    let xlsx = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("xlsx"));
    let mut out = if xlsx { Table::xlsx(file) } else { Table::csv(file) }.map_err(cannot)?;
    let mut header: Vec<Cell<'_>> = ["row", "email", "status", "reason", "attempts"]
        .into_iter()
        .map(|name| Cell::Text(name.into()))
        .collect();
    header.extend(summary.columns.iter().map(|c| Cell::Text(c.into())));
    out.write(&header).map_err(cannot)?;
    let mut written = 0_u64;
    for &status in statuses {
        let mut offset = 0;
        loop {
            let page = store.recipients(campaign, Some(status), offset, PAGE).await?;
            for r in &page {
                let mut record = vec![
                    Cell::Number(r.row),
                    Cell::Text(r.email.as_str().into()),
                    Cell::Text(r.status.as_str().into()),
                    Cell::Text(r.reason.as_deref().unwrap_or_default().into()),
                    Cell::Number(u64::from(r.attempts)),
                ];
                record.extend(r.fields.values().map(|v| Cell::Text(v.as_str().into())));
                out.write(&record).map_err(cannot)?;
            }
            written += page.len() as u64;
            if (page.len() as u64) < PAGE {
                break;
            }
            offset += PAGE;
        }
    }
    out.finish()
        .map_err(cannot)?
        .persist(path)
        .map_err(|e| cannot(e.error))?;
    Ok(written)
}

/// The temporary file an export is written into, in the target's folder so
/// the rename is atomic. A temporary file is private (0600) by default; an
/// export is a file like any other the person saves, so it gets the usual
/// permissions (0666 less the umask).
fn file_beside(folder: &Path) -> std::io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(folder)
}

/// One value of an exported row.
enum Cell<'a> {
    Number(u64),
    Text(Cow<'a, str>),
}

/// The file being written, row by row.
enum Table {
    // Both boxed: each is several hundred bytes, and only one is ever made.
    Csv(Box<csv::Writer<NamedTempFile>>),
    /// The sheet streams its rows to a temporary file (constant memory), so
    /// a long list costs no more memory than a short one.
    Xlsx {
        book: Box<Workbook>,
        file: NamedTempFile,
        rows: u32,
    },
}

impl Table {
    fn csv(mut file: NamedTempFile) -> std::io::Result<Table> {
        file.write_all("\u{feff}".as_bytes())?;
        Ok(Table::Csv(Box::new(csv::Writer::from_writer(file))))
    }

    fn xlsx(file: NamedTempFile) -> std::io::Result<Table> {
        let mut book = Box::new(Workbook::new());
        book.add_worksheet_with_constant_memory()
            .and_then(|sheet| sheet.set_name("Recipients"))
            .map_err(std::io::Error::other)?;
        Ok(Table::Xlsx { book, file, rows: 0 })
    }

    fn write(&mut self, cells: &[Cell<'_>]) -> std::io::Result<()> {
        match self {
            Table::Csv(out) => {
                // Text a spreadsheet would run as a formula is made inert;
                // numbers are written as they are.
                let record: Vec<Cow<'_, str>> = cells
                    .iter()
                    .map(|cell| match cell {
                        Cell::Number(n) => Cow::Owned(n.to_string()),
                        Cell::Text(text) => spreadsheet_safe(text),
                    })
                    .collect();
                out.write_record(record.iter().map(|c| c.as_bytes()))
                    .map_err(std::io::Error::other)
            }
            Table::Xlsx { book, rows, .. } => {
                if u64::from(*rows) >= XLSX_MAX_ROWS {
                    return Err(std::io::Error::other(format!(
                        "an XLSX sheet holds at most {XLSX_MAX_ROWS} rows; export this list as CSV"
                    )));
                }
                let sheet = book.worksheet_from_index(0).map_err(std::io::Error::other)?;
                for (column, cell) in cells.iter().enumerate() {
                    let column = u16::try_from(column)
                        .map_err(|_| std::io::Error::other("too many columns for an XLSX sheet"))?;
                    // A text cell is text to Excel whatever it starts with:
                    // no formula guard is needed here.
                    match cell {
                        Cell::Number(n) => sheet.write_number(*rows, column, *n as f64),
                        Cell::Text(text) => sheet.write_string(*rows, column, text.as_ref()),
                    }
                    .map_err(std::io::Error::other)?;
                }
                *rows += 1;
                Ok(())
            }
        }
    }

    /// Completes the file and hands back the temporary file it is in.
    fn finish(self) -> std::io::Result<NamedTempFile> {
        match self {
            Table::Csv(out) => out.into_inner().map_err(|e| e.into_error()),
            Table::Xlsx { mut book, mut file, .. } => {
                book.save_to_writer(&mut file).map_err(std::io::Error::other)?;
                file.flush()?;
                Ok(file)
            }
        }
    }
}

/// A value as text a spreadsheet will not run: one that starts like a
/// formula (`=`, `+`, `-`, `@`, or a tab or carriage return before one) gets a
/// leading `'`, which Excel and LibreOffice read as "this is text" (OWASP's
/// advice against CSV injection). Plain numbers such as `-12.5` stay as they
/// are.
fn spreadsheet_safe(value: &str) -> Cow<'_, str> {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn values_that_start_like_formulas_are_kept_as_text() {
        for risky in [
            "=1+1",
            "=HYPERLINK(\"http://x\")",
            "+cmd|' /C calc'!A0",
            "@SUM(A1)",
            "-2+3",
            "\t=1",
            "\r=1",
            "-inf",
        ] {
            assert_eq!(spreadsheet_safe(risky), format!("'{risky}"), "{risky:?}");
        }
        for plain in ["ann@example.com", "-12.5", "+44", "42", "O'Brien", "a=b", ""] {
            assert_eq!(spreadsheet_safe(plain), plain, "{plain:?}");
        }
    }
}
