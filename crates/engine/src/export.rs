//! Writing a campaign's recipients out as CSV or XLSX: the failed ones (to
//! check, fix or send elsewhere) and the skipped ones (invalid, duplicate,
//! suppressed: to correct in the source list), with the reason and every
//! imported column; and the suppression list, with each address's reason,
//! source and date.
//!
//! The file is written beside its target and renamed into place, and only
//! ever over a regular file of one name: a device, a FIFO, a folder, a
//! symbolic link (a rename would replace the link, and a write would follow
//! it wherever it leads) or a file with other names (hard links: a rename
//! would part them silently, a write in place would change what the other
//! names hold) is refused before anything is written.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::Workbook;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::model::{BounceKind, CampaignId, RecipientStatus};
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
    let mut out = Destination::open(path, "Recipients")?;
    // `bounce` is hard or soft for a bounced recipient (issue 20), whose
    // `reason` is the bounce's diagnostic; `account` the account that sent
    // it (a campaign may send on several, issue 19), else that of its last try.
    let mut header: Vec<Cell<'_>> = ["row", "email", "status", "reason", "attempts", "bounce", "account"]
        .into_iter()
        .map(|name| Cell::Text(name.into()))
        .collect();
    header.extend(summary.columns.iter().map(|c| Cell::Text(c.into())));
    out.write(&header)?;
    let mut written = 0_u64;
    for &status in statuses {
        let mut offset = 0;
        loop {
            let page = store.recipients(campaign, Some(status), offset, PAGE).await?;
            let accounts = match (page.first(), page.last()) {
                (Some(first), Some(last)) => store.accounts_by_row(campaign, first.row, last.row).await?,
                _ => std::collections::HashMap::new(),
            };
            for r in &page {
                let mut record = vec![
                    Cell::Number(r.row),
                    Cell::Text(r.email.as_str().into()),
                    Cell::Text(r.status.as_str().into()),
                    Cell::Text(r.reason.as_ref().map(ToString::to_string).unwrap_or_default().into()),
                    Cell::Number(u64::from(r.attempts)),
                    Cell::Text(r.bounce.map(BounceKind::as_str).unwrap_or_default().into()),
                    Cell::Text(accounts.get(&r.row).map(String::as_str).unwrap_or_default().into()),
                ];
                record.extend(r.fields.values().map(|v| Cell::Text(v.as_str().into())));
                out.write(&record)?;
            }
            written += page.len() as u64;
            if (page.len() as u64) < PAGE {
                break;
            }
            offset += PAGE;
        }
    }
    out.finish()?;
    Ok(written)
}

/// Writes the whole suppression list (newest first) to `path`, CSV or XLSX
/// as [`export_recipients`] does, and returns how many addresses: `email`,
/// `reason`, `source` (in English) and `added` (UTC). The recipient
/// importer reads it back as it is: its `email` and `reason` columns are
/// what a suppression import takes.
pub async fn export_suppressions(store: &Store, path: &Path) -> Result<u64> {
    let mut out = Destination::open(path, "Suppressed")?;
    let header: Vec<Cell<'_>> = ["email", "reason", "source", "added"]
        .into_iter()
        .map(|name| Cell::Text(name.into()))
        .collect();
    out.write(&header)?;
    let mut written = 0_u64;
    loop {
        let page = store.suppressions("", written, PAGE).await?;
        for s in &page.entries {
            out.write(&[
                Cell::Text(s.email.as_str().into()),
                Cell::Text(s.reason.as_str().into()),
                Cell::Text(s.source.to_string().into()),
                Cell::Text(utc_second(s.created_at).into()),
            ])?;
        }
        written += page.entries.len() as u64;
        if (page.entries.len() as u64) < PAGE {
            break;
        }
    }
    out.finish()?;
    Ok(written)
}

/// `ms` (Unix milliseconds) as `2026-03-14 09:26:53 UTC`.
pub fn utc_second(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => ms.to_string(),
    }
}

/// An export on its way to `path`: written into a file beside it, which
/// replaces (or becomes) `path` only when complete.
struct Destination<'p> {
    path: &'p Path,
    target: Target,
    table: Table,
}

impl<'p> Destination<'p> {
    /// Checks what is at `path` and starts the file beside it; `sheet` names
    /// a workbook's sheet. A path ending in `.xlsx` gets a workbook, anything
    /// else CSV.
    fn open(path: &'p Path, sheet: &str) -> Result<Destination<'p>> {
        let cannot = |source| cannot_write(path, source);
        let target = Target::of(path).map_err(cannot)?;
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = file_beside(folder).map_err(cannot)?;
        let xlsx = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("xlsx"));
        let table = if xlsx {
            Table::xlsx(file, sheet)
        } else {
            Table::csv(file)
        }
        .map_err(cannot)?;
        Ok(Destination { path, target, table })
    }

    fn write(&mut self, cells: &[Cell<'_>]) -> Result<()> {
        self.table.write(cells).map_err(|e| cannot_write(self.path, e))
    }

    /// Completes the file and puts it in place.
    fn finish(self) -> Result<()> {
        let path = self.path;
        let file = self.table.finish().map_err(|e| cannot_write(path, e))?;
        match self.target {
            // Something may have appeared there meanwhile: it is not replaced.
            Target::New => file.persist_noclobber(path),
            // Checked again right before the rename; a rename never writes
            // through a link that appears after this check, it replaces it.
            Target::Replace => match Target::of(path) {
                Ok(_) => file.persist(path),
                Err(error) => Err(tempfile::PersistError { error, file }),
            },
        }
        .map_err(|e| cannot_write(path, e.error))?;
        Ok(())
    }
}

fn cannot_write(path: &Path, source: std::io::Error) -> Error {
    Error::ExportFailed {
        path: path.to_owned(),
        source,
    }
}

/// What is at the export's path before it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Nothing: the export is a new file.
    New,
    /// A regular file with no other name, replaced whole.
    Replace,
}

impl Target {
    /// Refuses anything but nothing or a regular file of one name, with the
    /// reason (see the module's doc).
    fn of(path: &Path) -> std::io::Result<Target> {
        use std::io::{Error, ErrorKind};
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Target::New),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        let refuse = |what: &str| {
            Err(Error::new(
                ErrorKind::InvalidInput,
                format!("it is {what}, not a regular file; choose a file name"),
            ))
        };
        if kind.is_symlink() {
            return refuse("a symbolic link (an export does not follow links)");
        }
        if kind.is_dir() {
            return Err(Error::new(ErrorKind::IsADirectory, "a folder"));
        }
        if !kind.is_file() {
            return refuse(special_kind(&meta));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() > 1 {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "it has {} names (hard links), and an export would part them or change them all; \
                         choose another file name",
                        meta.nlink()
                    ),
                ));
            }
        }
        Ok(Target::Replace)
    }
}

/// What a file that is neither a regular file, a folder nor a link is.
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = meta;
    "a special file"
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

    fn xlsx(file: NamedTempFile, sheet: &str) -> std::io::Result<Table> {
        let mut book = Box::new(Workbook::new());
        book.add_worksheet_with_constant_memory()
            .and_then(|worksheet| worksheet.set_name(sheet))
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
    use super::*;
    use crate::ErrorKind;
    use crate::store::{NewCampaign, NewRecipient};

    /// A store with one campaign of two skipped recipients.
    async fn campaign_with_skipped(dir: &Path) -> (Store, CampaignId) {
        let store = Store::open(&dir.join("m.db")).await.expect("open");
        let columns = vec!["email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name: "list",
                source_file: "list.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("import");
        let rows: Vec<NewRecipient> = ["a-at-example.com", "b-at-example.com"]
            .iter()
            .enumerate()
            .map(|(i, email)| {
                NewRecipient::new(
                    i as u64 + 2,
                    (*email).to_owned(),
                    &[(*email).to_owned()],
                    RecipientStatus::Skipped,
                    Some(&crate::outcome::RecipientReason::InvalidAddress {
                        problem: crate::address::InvalidReason::MissingAt,
                    }),
                )
                .expect("row")
            })
            .collect();
        writer.write(&rows).await.expect("write");
        let id = writer.commit().await.expect("commit");
        (store, id)
    }

    async fn export_to(store: &Store, id: CampaignId, path: &Path) -> Result<u64> {
        export_recipients(store, id, &[RecipientStatus::Skipped], path).await
    }

    /// Nothing but the target's own entries in `dir`: no temporary file left.
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_new_file_is_written_and_a_regular_one_replaced_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, id) = campaign_with_skipped(dir.path()).await;
        let out = tempfile::tempdir().expect("temp dir");
        let path = out.path().join("skipped.csv");
        assert_eq!(export_to(&store, id, &path).await.expect("new file"), 2);
        std::fs::write(&path, "old contents, longer than the export will be: ".repeat(100)).expect("write");
        assert_eq!(export_to(&store, id, &path).await.expect("replaced"), 2);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("b-at-example.com") && !text.contains("old contents"),
            "{text}"
        );
        assert_eq!(entries(out.path()), ["skipped.csv"]);
    }

    #[tokio::test]
    async fn a_folder_a_link_and_special_files_are_refused_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, id) = campaign_with_skipped(dir.path()).await;
        let out = tempfile::tempdir().expect("temp dir");

        let folder = out.path().join("folder.csv");
        std::fs::create_dir(&folder).expect("mkdir");
        let err = export_to(&store, id, &folder).await.expect_err("a folder");
        assert_eq!(err.kind(), ErrorKind::ExportFailed);
        assert!(err.to_string().contains("folder"), "{err}");
        assert!(folder.is_dir());

        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            // A link, even to a file the export could write: not followed,
            // not replaced.
            let real = out.path().join("real.csv");
            std::fs::write(&real, "mine").expect("write");
            let link = out.path().join("link.csv");
            std::os::unix::fs::symlink(&real, &link).expect("symlink");
            let err = export_to(&store, id, &link).await.expect_err("a link");
            assert!(err.to_string().contains("symbolic link"), "{err}");
            assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
            assert_eq!(std::fs::read_to_string(&real).expect("read"), "mine");

            let to_stdout = out.path().join("stdout.csv");
            std::os::unix::fs::symlink("/proc/self/fd/1", &to_stdout).expect("symlink");
            let err = export_to(&store, id, &to_stdout).await.expect_err("a link to stdout");
            assert!(err.to_string().contains("symbolic link"), "{err}");

            // A second name for `real`: replacing would part the two.
            let second = out.path().join("second.csv");
            std::fs::hard_link(&real, &second).expect("hard link");
            let err = export_to(&store, id, &second).await.expect_err("a hard link");
            assert!(err.to_string().contains("2 names (hard links)"), "{err}");
            assert_eq!(std::fs::read_to_string(&second).expect("read"), "mine");

            let fifo = out.path().join("fifo.csv");
            let made = std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo");
            assert!(made.success());
            let err = export_to(&store, id, &fifo).await.expect_err("a FIFO");
            assert!(
                err.to_string().contains("a named pipe (FIFO), not a regular file"),
                "{err}"
            );
            assert!(std::fs::symlink_metadata(&fifo).expect("fifo").file_type().is_fifo());

            // A device: a null device made here, never the system's own
            // (a test of a broken export must not replace /dev/null).
            // Only root may make one.
            let device = out.path().join("null.csv");
            let made = std::process::Command::new("mknod")
                .arg(&device)
                .args(["c", "1", "3"])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if made {
                let err = export_to(&store, id, &device).await.expect_err("a device");
                assert!(err.to_string().contains("a device, not a regular file"), "{err}");
                assert!(
                    std::fs::symlink_metadata(&device)
                        .expect("device")
                        .file_type()
                        .is_char_device()
                );
                std::fs::remove_file(&device).expect("remove the device");
            }
        }
        // Nothing was written beside any of them.
        let mut expected = vec!["folder.csv"];
        if cfg!(unix) {
            expected.extend(["fifo.csv", "link.csv", "real.csv", "second.csv", "stdout.csv"]);
        }
        expected.sort_unstable();
        assert_eq!(entries(out.path()), expected);
    }

    /// Issue 20: a bounced recipient is exported as `bounced`, with hard or
    /// soft and the bounce's diagnostic; a sent one has an empty `bounce`.
    #[tokio::test]
    async fn bounced_recipients_are_exported_with_their_kind_and_diagnostic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, id) = campaign_with_skipped(dir.path()).await;
        sqlx::query(
            "UPDATE recipients SET status = 'sent', sent_at = 1,
                 bounce = CASE row_number WHEN 2 THEN 'hard' END,
                 reason = CASE row_number WHEN 2 THEN '550 5.1.1 <a@example.com>: Recipient address rejected' END
             WHERE campaign_id = ?1",
        )
        .bind(id)
        .execute(store.test_pool())
        .await
        .expect("sent and bounced");
        let path = dir.path().join("out.csv");
        let statuses = [RecipientStatus::Bounced, RecipientStatus::Sent];
        assert_eq!(
            export_recipients(&store, id, &statuses, &path).await.expect("export"),
            2
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "row,email,status,reason,attempts,bounce,account,email");
        assert_eq!(
            lines[1],
            "2,a-at-example.com,bounced,550 5.1.1 <a@example.com>: Recipient address rejected,0,hard,,a-at-example.com"
        );
        assert_eq!(lines[2], "3,b-at-example.com,sent,,0,,,b-at-example.com");
    }

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
