//! Writing a campaign's recipients out as CSV: the failed ones (to check, fix
//! or send elsewhere) and the skipped ones (invalid, duplicate, suppressed:
//! to correct in the source list), with the reason and every imported column.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{CampaignId, RecipientStatus};
use crate::store::Store;

/// Recipients read per query while writing.
const PAGE: u64 = 5000;

/// Writes `campaign`'s recipients in `statuses` (file order) to `path` as CSV
/// and returns how many. The file opens in Excel with non-ASCII intact (UTF-8
/// with a byte-order mark) and appears only when complete.
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
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(cannot)?;
    file.write_all("\u{feff}".as_bytes()).map_err(cannot)?;
    let mut out = csv::Writer::from_writer(file);
    let csv_error = |e: csv::Error| cannot(std::io::Error::other(e));
    let mut header: Vec<Cow<'_, str>> = ["row", "email", "status", "reason", "attempts"]
        .into_iter()
        .map(Cow::Borrowed)
        .collect();
    header.extend(summary.columns.iter().map(|c| spreadsheet_safe(c)));
    out.write_record(header.iter().map(|c| c.as_bytes()))
        .map_err(csv_error)?;
    let mut written = 0_u64;
    for &status in statuses {
        let mut offset = 0;
        loop {
            let page = store.recipients(campaign, Some(status), offset, PAGE).await?;
            for r in &page {
                let mut record: Vec<Cow<'_, str>> = vec![
                    Cow::Owned(r.row.to_string()),
                    spreadsheet_safe(&r.email),
                    Cow::Borrowed(r.status.as_str()),
                    spreadsheet_safe(r.reason.as_deref().unwrap_or_default()),
                    Cow::Owned(r.attempts.to_string()),
                ];
                record.extend(r.fields.values().map(|v| spreadsheet_safe(v)));
                out.write_record(record.iter().map(|c| c.as_bytes()))
                    .map_err(csv_error)?;
            }
            written += page.len() as u64;
            if (page.len() as u64) < PAGE {
                break;
            }
            offset += PAGE;
        }
    }
    let file = out.into_inner().map_err(|e| cannot(e.into_error()))?;
    file.persist(path).map_err(|e| cannot(e.error))?;
    Ok(written)
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
