//! Writing a campaign's recipients out as CSV: the failed ones (to check, fix
//! or send elsewhere) and the skipped ones (invalid, duplicate, suppressed:
//! to correct in the source list), with the reason and every imported column.

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
    let mut header = vec!["row", "email", "status", "reason", "attempts"];
    header.extend(summary.columns.iter().map(String::as_str));
    out.write_record(&header).map_err(csv_error)?;
    let mut written = 0_u64;
    for &status in statuses {
        let mut offset = 0;
        loop {
            let page = store.recipients(campaign, Some(status), offset, PAGE).await?;
            for r in &page {
                let mut record = vec![
                    r.row.to_string(),
                    r.email.clone(),
                    r.status.as_str().to_owned(),
                    r.reason.clone().unwrap_or_default(),
                    r.attempts.to_string(),
                ];
                record.extend(r.fields.values().cloned());
                out.write_record(&record).map_err(csv_error)?;
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
