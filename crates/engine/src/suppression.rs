//! The suppression list as a person manages it: add an address by hand,
//! remove one, import a file of them (CSV, TSV, XLSX, XLS, XLSB or ODS,
//! read by the recipient importer, [`RecipientSource`]) and, in
//! [`crate::export::export_suppressions`], write it out. The list's SQL is
//! `store/suppressions.rs`; every import and run honours it there.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::address;
use crate::error::{Error, Result};
use crate::import::{ImportOptions, RecipientSource};
use crate::model::{InvalidRow, string_enum};
use crate::store::{Store, SuppressionSource};

/// Headers a suppression file's reason column may have (compared ignoring
/// case, spaces, `-` and `_`).
const REASON_HEADERS: &[&str] = &["reason", "why", "note", "原因", "备注"];

/// What importing a suppression file did (or, for a check, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SuppressionImport {
    /// The file's name.
    pub file: String,
    /// Data rows read (blank rows aside).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub rows: u64,
    /// Addresses new to the list: added, or to be added.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub added: u64,
    /// Addresses already on the list (their entry stays as it is).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub already: u64,
    /// Rows repeating an address of an earlier row.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub duplicates: u64,
    /// Rows whose value is not a usable address, with why; nothing is added for them.
    pub invalid: Vec<InvalidRow>,
    /// Whether the list was changed (false for a check).
    pub saved: bool,
}

/// Puts `email` on the list by hand, with `reason` (none is empty: the
/// source, "added by hand", says enough).
/// Whether it was new: an address already there keeps its entry.
pub async fn add(store: &Store, email: &str, reason: Option<&str>) -> Result<bool> {
    let email = email.trim();
    address::validate(email).map_err(|problem| Error::NotAnAddress {
        address: email.to_owned(),
        problem,
    })?;
    let reason = reason.map(str::trim).unwrap_or_default();
    let added = store
        .add_suppressions(&[(email.to_owned(), reason.to_owned())], &SuppressionSource::Manual)
        .await?;
    Ok(added > 0)
}

/// Takes `email` off the list; refused, with [`Error::NotSuppressed`], when
/// it is not there. Later imports and runs may write to it again.
pub async fn remove(store: &Store, email: &str) -> Result<()> {
    if store.remove_suppression(email).await? {
        Ok(())
    } else {
        Err(Error::NotSuppressed(email.trim().to_owned()))
    }
}

string_enum! {
    /// What a suppression import does: count what it would add, for a
    /// person to confirm, or add it to the list.
    ImportMode {
        Check => "check",
        Save => "save",
    }
}

/// Reads a file of addresses with the recipient importer (so everything it
/// reads, and every limit it keeps, holds here too: encodings, delimiters,
/// sheets, the email column found by its header or its content) and adds
/// them to the list as imported from the file. A column headed "reason"
/// gives each address its reason (none otherwise: the source names the file).
/// With [`ImportMode::Check`] nothing changes: the counts say what an
/// import would do, for a person to confirm.
pub async fn import(
    store: &Store,
    path: &Path,
    options: &ImportOptions,
    mode: ImportMode,
) -> Result<SuppressionImport> {
    let save = mode == ImportMode::Save;
    let source = RecipientSource::open(path, options).await?;
    let email_index = source.email_index()?;
    let reason_index = source.columns().iter().position(|c| {
        let name: String = c
            .chars()
            .filter(|ch| !matches!(ch, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        REASON_HEADERS.contains(&name.as_str())
    });
    let file = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let known = store.suppressed_addresses().await?;

    let read = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || read_rows(source, email_index, reason_index, &known, file))
    };
    let (mut report, entries) = read
        .await
        .map_err(|e| Error::Internal(format!("suppression import thread: {e}")))??;
    if report.rows == 0 {
        return Err(Error::NoRecipients { path: path.to_owned() });
    }
    if save {
        report.added = store
            .add_suppressions(&entries, &SuppressionSource::Imported { file: file.clone() })
            .await?;
        // Addresses that joined the list between the check and the write.
        report.already += entries.len() as u64 - report.added;
        report.saved = true;
    }
    tracing::info!(file = %file, added = report.added, save, "suppression import");
    Ok(report)
}

/// Every row of `source`, classified; the entries to add. On a blocking thread.
fn read_rows(
    source: RecipientSource,
    email_index: usize,
    reason_index: Option<usize>,
    known: &HashSet<String>,
    file: String,
) -> Result<(SuppressionImport, Vec<(String, String)>)> {
    let mut report = SuppressionImport {
        file,
        rows: 0,
        added: 0,
        already: 0,
        duplicates: 0,
        invalid: Vec::new(),
        saved: false,
    };
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for next in source.into_rows() {
        let (row, values) = next?;
        if values.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        report.rows += 1;
        let email = values.get(email_index).map_or("", |v| v.trim());
        if let Err(reason) = address::validate(email) {
            report.invalid.push(InvalidRow {
                row,
                value: crate::import::excerpt(email),
                reason,
            });
            continue;
        }
        let key = address::dedup_key(email);
        if !seen.insert(key.clone()) {
            report.duplicates += 1;
            continue;
        }
        if known.contains(&key) {
            report.already += 1;
            continue;
        }
        let reason = reason_index.and_then(|i| values.get(i)).map_or("", |r| r.trim());
        entries.push((key, reason.to_owned()));
    }
    report.added = entries.len() as u64;
    Ok((report, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::store::Suppression;

    async fn store_in(dir: &Path, name: &str) -> Store {
        Store::open(&dir.join(name)).await.expect("open")
    }

    /// (email, reason) of every entry, sorted.
    async fn entries(store: &Store) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = store
            .suppressions("", 0, 1000)
            .await
            .expect("list")
            .entries
            .into_iter()
            .map(|Suppression { email, reason, .. }| (email, reason))
            .collect();
        all.sort();
        all
    }

    /// A list with entries of every hand-made kind, reasons in two scripts
    /// and with a comma and quotes.
    async fn a_list(dir: &Path) -> Store {
        let store = store_in(dir, "a.db").await;
        assert!(
            add(&store, " Ann@Example.com ", Some("asked by phone, twice"))
                .await
                .expect("add")
        );
        assert!(
            add(&store, "li.lei@example.cn", Some("退订 \"不要再发\""))
                .await
                .expect("add")
        );
        assert!(add(&store, "zoe@example.fr", None).await.expect("add"));
        assert!(
            !add(&store, "ANN@example.com", Some("again")).await.expect("again"),
            "already there"
        );
        store
    }

    #[tokio::test]
    async fn the_list_exported_as_csv_imports_back_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = a_list(dir.path()).await;
        let file = dir.path().join("suppressed.csv");
        let written = crate::export::export_suppressions(&original, &file)
            .await
            .expect("export");
        assert_eq!(written, 3);
        let csv = std::fs::read_to_string(&file).expect("read");
        assert!(csv.starts_with("\u{feff}email,reason,source,added\n"), "{csv}");
        assert!(
            csv.contains("ann@example.com,\"asked by phone, twice\",added by hand,2"),
            "{csv}"
        );

        let copy = store_in(dir.path(), "b.db").await;
        let check = import(&copy, &file, &ImportOptions::default(), ImportMode::Check)
            .await
            .expect("check");
        assert_eq!((check.rows, check.added, check.saved), (3, 3, false));
        assert!(entries(&copy).await.is_empty(), "a check changes nothing");
        let report = import(&copy, &file, &ImportOptions::default(), ImportMode::Save)
            .await
            .expect("import");
        assert_eq!(
            (report.rows, report.added, report.already, report.saved),
            (3, 3, 0, true)
        );
        assert_eq!(entries(&copy).await, entries(&original).await);
        let listed = copy.suppressions("zoe", 0, 1).await.expect("list");
        assert_eq!(
            listed.entries[0].source,
            SuppressionSource::Imported {
                file: "suppressed.csv".to_owned()
            }
        );
        // Again: all already there.
        let again = import(&copy, &file, &ImportOptions::default(), ImportMode::Save)
            .await
            .expect("again");
        assert_eq!((again.added, again.already), (0, 3));
    }

    #[tokio::test]
    async fn the_list_exported_as_xlsx_imports_back_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = a_list(dir.path()).await;
        let file = dir.path().join("suppressed.xlsx");
        crate::export::export_suppressions(&original, &file)
            .await
            .expect("export");
        let copy = store_in(dir.path(), "b.db").await;
        let report = import(&copy, &file, &ImportOptions::default(), ImportMode::Save)
            .await
            .expect("import");
        assert_eq!((report.rows, report.added), (3, 3));
        assert_eq!(entries(&copy).await, entries(&original).await);
    }

    /// A workbook LibreOffice wrote (tests/fixtures/people.xlsx: a 邮箱
    /// column, a blank row, an invalid address, a repeat in other case).
    #[tokio::test]
    async fn a_workbook_is_read_by_the_recipient_importer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_in(dir.path(), "m.db").await;
        add(&store, "zoe@example.fr", Some("known")).await.expect("add");
        let workbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/people.xlsx");
        let report = import(&store, &workbook, &ImportOptions::default(), ImportMode::Save)
            .await
            .expect("import");
        assert_eq!(
            (report.rows, report.added, report.already, report.duplicates),
            (5, 2, 1, 1)
        );
        assert_eq!(report.invalid.len(), 1);
        assert_eq!(report.invalid[0].value, "bob-at-example.com");
        assert_eq!(
            entries(&store).await,
            vec![
                ("ann@example.com".to_owned(), String::new()),
                ("li.lei@example.cn".to_owned(), String::new()),
                ("zoe@example.fr".to_owned(), "known".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn an_address_is_checked_before_it_is_added_and_must_be_there_to_be_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_in(dir.path(), "m.db").await;
        let err = add(&store, "not an address", None).await.expect_err("invalid");
        assert_eq!(err.kind(), ErrorKind::NotAnAddress);
        let err = remove(&store, "ann@example.com").await.expect_err("not there");
        assert_eq!(err.kind(), ErrorKind::NotSuppressed);
        add(&store, "ann@example.com", Some("  ")).await.expect("add");
        assert_eq!(
            entries(&store).await,
            vec![("ann@example.com".to_owned(), String::new())]
        );
        remove(&store, "Ann@Example.com").await.expect("remove");
        assert!(entries(&store).await.is_empty());
    }

    /// A suppressed address is skipped at import with the list's reason.
    #[tokio::test]
    async fn an_import_skips_a_suppressed_address_with_its_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store_in(dir.path(), "m.db").await;
        add(&store, "li.lei@example.cn", Some("asked by phone"))
            .await
            .expect("add");
        let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/people.csv");
        let report = crate::import::import(
            &store,
            crate::import::RecipientSource::open(&list, &ImportOptions::default())
                .await
                .expect("open"),
            &ImportOptions::default(),
        )
        .await
        .expect("import");
        assert_eq!(report.suppressed.len(), 1);
        assert_eq!(report.suppressed[0].reason, "asked by phone");
        let skipped = store
            .recipients(report.campaign.id, Some(crate::model::RecipientStatus::Skipped), 0, 10)
            .await
            .expect("skipped");
        let reasons: Vec<String> = skipped
            .iter()
            .filter_map(|r| r.reason.as_ref().map(ToString::to_string))
            .collect();
        assert!(
            reasons.contains(&"on the suppression list: asked by phone".to_owned()),
            "{reasons:?}"
        );
    }
}
