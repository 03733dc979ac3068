//! Import tests on real files in a temporary directory and a real SQLite file.

use std::path::PathBuf;

use std::collections::HashSet;

use super::columns::{find_email_column, name_blank_and_repeated};
use super::*;
use crate::ErrorKind;
use crate::address::InvalidReason;
use crate::model::{CampaignStatus, DuplicateRow, InvalidRow, RecipientStatus, SuppressedRow};
use crate::progress::Cancellable;

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("mailroom.db")).await.expect("open store");
        Fixture { dir, store }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    }

    async fn import(&self, path: &Path, options: &ImportOptions) -> Result<ImportReport> {
        let source = CsvSource::open(path, &options.choices).await?;
        import(&self.store, source, options).await
    }
}

#[tokio::test]
async fn every_row_is_counted_once_with_its_reason() {
    let fx = Fixture::new().await;
    fx.store
        .suppress("blocked@example.com", "unsubscribed")
        .await
        .expect("suppress");
    let csv = "name,email,city\n\
               Ann,ann@example.com,Oslo\n\
               Bob,not-an-address,Bergen\n\
               ,,\n\
               Ann again, ANN@example.com ,Oslo\n\
               Blocked,blocked@example.com,Paris\n\
               Cleo,,Rome\n\
               Dan,dan@example.com,Lima\n";
    let path = fx.file("list.csv", csv.as_bytes());
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");

    assert_eq!(report.rows, 6, "the blank row is not a row");
    assert_eq!(report.valid, 2);
    assert_eq!(
        report.invalid,
        vec![
            InvalidRow {
                row: 3,
                value: "not-an-address".into(),
                reason: InvalidReason::MissingAt
            },
            InvalidRow {
                row: 7,
                value: String::new(),
                reason: InvalidReason::Empty
            },
        ]
    );
    assert_eq!(
        report.duplicates,
        vec![DuplicateRow {
            row: 5,
            email: "ANN@example.com".into(),
            first_row: 2
        }]
    );
    assert_eq!(
        report.suppressed,
        vec![SuppressedRow {
            row: 6,
            email: "blocked@example.com".into(),
            reason: "unsubscribed".into()
        }]
    );
    let accounted =
        report.valid + report.invalid.len() as u64 + report.duplicates.len() as u64 + report.suppressed.len() as u64;
    assert_eq!(accounted, report.rows);

    assert_eq!(report.email_column, "email");
    assert_eq!(report.columns, ["name", "email", "city"]);
    assert_eq!(report.campaign.name, "list");
    assert_eq!(report.campaign.counts.pending, 2);
    assert_eq!(report.campaign.counts.skipped, 4);
    assert_eq!(report.campaign.total, 6);
    assert_eq!(report.preview.len(), 6);
    assert_eq!(report.preview[0], ["Ann", "ann@example.com", "Oslo"]);
}

#[tokio::test]
async fn recipients_keep_every_column_as_imported() {
    let fx = Fixture::new().await;
    let csv = "\u{feff}E-Mail,名字,note\r\n\
               li@example.cn,李雷,\"line one\nline two, with comma \"\"quoted\"\"\"\r\n\
               x@example.com,X,short\r\n";
    let path = fx.file("chinese.csv", csv.as_bytes());
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.email_column, "E-Mail", "the BOM is not part of the header");

    let recipients = fx
        .store
        .recipients(report.campaign.id, None, 0, 100)
        .await
        .expect("recipients");
    assert_eq!(recipients.len(), 2);
    let li = &recipients[0];
    assert_eq!(li.row, 2);
    assert_eq!(li.email, "li@example.cn");
    assert_eq!(li.status, RecipientStatus::Pending);
    let fields: Vec<(&str, &str)> = li.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("E-Mail", "li@example.cn"),
            ("名字", "李雷"),
            ("note", "line one\nline two, with comma \"quoted\""),
        ]
    );
    assert_eq!(recipients[1].row, 4, "row numbers are the line a record starts on");
}

#[tokio::test]
async fn short_rows_are_padded_and_long_rows_are_reported() {
    let fx = Fixture::new().await;
    let csv = "email,name,city\na@example.com,A\nb@example.com,B,Oslo,,\nc@example.com,C,Rome,extra\n";
    let path = fx.file("ragged.csv", csv.as_bytes());
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.valid, 2);
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].row, 4);
    assert_eq!(report.invalid[0].reason, InvalidReason::TooManyValues);
    let recipients = fx
        .store
        .recipients(report.campaign.id, None, 0, 10)
        .await
        .expect("list");
    assert_eq!(recipients[0].fields["city"], "");
}

#[tokio::test]
async fn the_email_column_can_be_chosen() {
    let fx = Fixture::new().await;
    // No header says "email", but the values of "who" are mostly addresses.
    let path = fx.file(
        "contacts.csv",
        b"where,who\nhome,ann@example.com\nwork,bob@example.com\nshop,not yet\n",
    );
    let found = fx
        .import(&path, &ImportOptions::default())
        .await
        .expect("found by content");
    assert_eq!(found.email_column, "who");
    assert_eq!((found.valid, found.invalid.len()), (2, 1));

    // Nothing that looks like addresses anywhere: a clear error.
    let phones = fx.file("phones.csv", b"who,where\nAnn,home\nBob,work\n");
    let err = fx
        .import(&phones, &ImportOptions::default())
        .await
        .expect_err("no email column");
    assert_eq!(err.kind(), ErrorKind::NoEmailColumn);
    assert!(err.to_string().contains("who, where"), "{err}");

    let options = ImportOptions {
        name: Some("Spring".into()),
        choices: ImportChoices {
            email_column: Some("WHO".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let report = fx.import(&path, &options).await.expect("import");
    assert_eq!(report.email_column, "who");
    assert_eq!(report.campaign.name, "Spring");
    assert_eq!(report.rows, 3, "rows read ahead for detection are imported too");

    let options = ImportOptions {
        choices: ImportChoices {
            email_column: Some("mail".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &options).await.expect_err("unknown column");
    assert_eq!(err.kind(), ErrorKind::UnknownColumn);
}

#[tokio::test]
async fn unusable_files_get_one_clear_error_and_leave_nothing_behind() {
    let fx = Fixture::new().await;
    let missing = fx.dir.path().join("missing.csv");
    let err = fx
        .import(&missing, &ImportOptions::default())
        .await
        .expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::FileUnreadable);
    assert!(err.to_string().ends_with("no such file"), "{err}");

    let empty = fx.file("empty.csv", b"");
    let err = fx.import(&empty, &ImportOptions::default()).await.expect_err("empty");
    assert_eq!(err.kind(), ErrorKind::EmptyFile);

    let header_only = fx.file("header.csv", b"email,name\n\n");
    let err = fx
        .import(&header_only, &ImportOptions::default())
        .await
        .expect_err("no rows");
    assert_eq!(err.kind(), ErrorKind::NoRecipients);

    let err = fx
        .import(fx.dir.path(), &ImportOptions::default())
        .await
        .expect_err("a folder");
    assert_eq!(err.kind(), ErrorKind::FileUnreadable);

    assert!(fx.store.list_campaigns().await.expect("list").is_empty());
}

#[tokio::test]
async fn a_bad_row_deep_in_the_file_rolls_the_whole_import_back() {
    let fx = Fixture::new().await;
    let mut bytes = b"email,name\n".to_vec();
    for i in 0..(BATCH_ROWS * 3) {
        bytes.extend_from_slice(format!("user{i}@example.com,User {i}\n").as_bytes());
    }
    // Windows-1252 "é": not UTF-8.
    bytes.extend_from_slice(b"late@example.com,Ren\xe9\n");
    let path = fx.file("late-error.csv", &bytes);
    let err = fx
        .import(&path, &ImportOptions::default())
        .await
        .expect_err("bad utf-8");
    assert_eq!(err.kind(), ErrorKind::MalformedFile);
    let message = err.to_string();
    assert!(message.contains(&format!("row {}", BATCH_ROWS * 3 + 2)), "{message}");
    assert!(message.contains("column 2"), "{message}");
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());
}

#[tokio::test]
async fn large_imports_stream_in_batches() {
    let fx = Fixture::new().await;
    let rows = BATCH_ROWS * 5 + 17;
    let mut csv = String::from("email,n\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i}@example.com,{i}\n"));
    }
    let path = fx.file("big.csv", csv.as_bytes());
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.valid, rows as u64);
    assert_eq!(report.preview.len(), PREVIEW_ROWS);
    let page = fx
        .store
        .recipients(report.campaign.id, Some(RecipientStatus::Pending), rows as u64 - 2, 10)
        .await
        .expect("last page");
    assert_eq!(page.len(), 2);
    assert_eq!(page[1].email, format!("user{}@example.com", rows - 1));
}

#[tokio::test]
async fn a_preview_shows_the_choices_and_first_rows_and_saves_nothing() {
    let fx = Fixture::new().await;
    let (bytes, _, _) = encoding_rs::WINDOWS_1252
        .encode("Name;E-Mail;Betrag\n\nRen\u{e9};rene@example.com;\"1.234,56\"\nZo\u{eb};zoe@example.com;\"7,50\"\n");
    let path = fx.file("kunden.csv", &bytes);
    let preview = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect("preview");
    assert_eq!(preview.source.format, "csv");
    assert_eq!(preview.source.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(preview.source.delimiter.as_deref(), Some(";"));
    assert_eq!(preview.email_column.as_deref(), Some("E-Mail"));
    assert_eq!(preview.fields, ["name", "e_mail", "betrag"]);
    assert_eq!(
        preview.rows,
        [
            ["René", "rene@example.com", "1.234,56"],
            ["Zoë", "zoe@example.com", "7,50"]
        ],
        "the blank row is left out"
    );
    assert_eq!(preview.file_bytes, bytes.len() as u64);
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());

    // A choice changes what the preview shows: split on commas, the header
    // is one column and the decimal comma splits each row.
    let chosen = ImportOptions {
        choices: ImportChoices {
            delimiter: Some(",".into()),
            email_column: Some("Name;E-Mail;Betrag".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let preview = RecipientSource::preview(&path, &chosen.choices).await.expect("preview");
    assert_eq!(preview.columns, ["Name;E-Mail;Betrag"]);
    assert_eq!(preview.rows[0], ["René;rene@example.com;\"1.234", "56\""]);
}

#[tokio::test]
async fn a_preview_without_an_email_column_asks_for_one() {
    let fx = Fixture::new().await;
    let path = fx.file("phones.csv", b"who,where\nAnn,Oslo\nBob,Rome\n");
    let preview = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect("preview opens");
    assert_eq!(preview.email_column, None);
    assert_eq!(preview.columns, ["who", "where"]);
    assert_eq!(preview.rows.len(), 2);
    // Importing it is still refused with the sentence that names the columns.
    let err = RecipientSource::open(&path, &ImportOptions::default())
        .await
        .expect_err("no email column");
    assert_eq!(err.kind(), ErrorKind::NoEmailColumn);
}

#[tokio::test]
async fn a_spreadsheet_preview_lists_its_sheets_and_shows_the_chosen_one() {
    // Written by LibreOffice (tests/fixtures/make.sh): "Notes" first, then
    // "Customers" with the addresses.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sheets.xlsx");
    let first = RecipientSource::preview(&fixture, &ImportChoices::default())
        .await
        .expect("preview");
    assert_eq!(first.source.format, "xlsx");
    assert_eq!(first.sheets, ["Notes", "Customers"]);
    assert_eq!(first.source.sheet.as_deref(), Some("Notes"));
    assert_eq!(first.source.encoding, None);
    assert_eq!(first.email_column, None, "the notes sheet has no addresses");

    let chosen = ImportOptions {
        choices: ImportChoices {
            sheet: Some("customers".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let second = RecipientSource::preview(&fixture, &chosen.choices)
        .await
        .expect("preview");
    assert_eq!(second.source.sheet.as_deref(), Some("Customers"));
    assert_eq!(second.email_column.as_deref(), Some("电子邮件"));
    assert_eq!(second.rows[0], ["王芳", "wang.fang@example.com", "上海"]);
    assert_eq!(second.rows.len(), 3);
}

#[tokio::test]
async fn progress_is_reported_as_batches_are_written_and_reaches_the_end() {
    let fx = Fixture::new().await;
    let rows = BATCH_ROWS * 3 + 5;
    let mut csv = String::from("email\n");
    for i in 0..rows {
        csv.push_str(&format!("user{i}@example.com\n"));
    }
    let path = fx.file("big.csv", csv.as_bytes());
    let options = ImportOptions::default();
    let source = RecipientSource::open(&path, &options).await.expect("open");
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |step: &ImportProgress| steps.lock().expect("test step").push(*step);
    let report = import_with_progress(&fx.store, source, &options, &record)
        .await
        .expect("import");
    let steps = steps.into_inner().expect("test step");
    assert_eq!(report.valid, rows as u64);
    let counts: Vec<u64> = steps.iter().map(|s| s.rows).collect();
    assert_eq!(
        counts,
        [
            BATCH_ROWS as u64,
            2 * BATCH_ROWS as u64,
            3 * BATCH_ROWS as u64,
            rows as u64
        ]
    );
    assert!(steps.windows(2).all(|w| w[0].fraction <= w[1].fraction), "{steps:?}");
    assert!(steps.iter().all(|s| (0.0..=1.0).contains(&s.fraction)), "{steps:?}");
    assert!((steps[steps.len() - 1].fraction - 1.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn a_cancelled_import_saves_nothing() {
    let fx = Fixture::new().await;
    let mut csv = String::from("email\n");
    for i in 0..BATCH_ROWS * 40 {
        csv.push_str(&format!("user{i}@example.com\n"));
    }
    let path = fx.file("big.csv", csv.as_bytes());
    let options = ImportOptions::default();
    let source = RecipientSource::open(&path, &options).await.expect("open");
    // Cancelled deep enough that SQLite has spilled pages to the WAL.
    let err = import_with_progress(&fx.store, source, &options, &StopAfter::new(30))
        .await
        .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::ImportCancelled);
    assert!(err.to_string().contains("nothing was saved"), "{err}");
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());

    // The file is whole afterwards: another store on it (the CLI beside the
    // app) reads it, and the next import and reads work.
    let other = Store::open(fx.store.path()).await.expect("a second store");
    assert!(other.list_campaigns().await.expect("list").is_empty());
    other.close().await;
    let small = fx.file("small.csv", b"email\nann@example.com\n");
    let report = fx.import(&small, &options).await.expect("import after a cancel");
    assert_eq!(report.valid, 1);
    assert_eq!(fx.store.integrity_check().await.expect("integrity check"), ["ok"]);
}

#[tokio::test]
async fn importing_again_with_other_choices_replaces_the_draft_and_keeps_its_message() {
    let fx = Fixture::new().await;
    let path = fx.file("list.csv", b"email,name\nann@example.com,Ann\nbob@example.com,Bob\n");
    let first = fx.import(&path, &ImportOptions::default()).await.expect("first import");
    let draft = crate::message::MessageDraft {
        subject: "Hello {{ name }}".into(),
        text: Some("Hi".into()),
        ..crate::message::MessageDraft::default()
    };
    fx.store
        .save_message_draft(first.campaign.id, &draft)
        .await
        .expect("save draft");

    let again = ImportOptions {
        replaces: Some(first.campaign.id),
        ..ImportOptions::default()
    };
    let second = fx.import(&path, &again).await.expect("second import");
    let campaigns = fx.store.list_campaigns().await.expect("list");
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    assert_eq!(campaigns[0].id, second.campaign.id);
    assert_eq!(
        fx.store.message_draft(second.campaign.id).await.expect("draft"),
        Some(draft)
    );

    // A campaign that has started sending is never replaced.
    fx.store
        .set_campaign_status(second.campaign.id, CampaignStatus::Paused, None)
        .await
        .expect("status");
    let third = ImportOptions {
        replaces: Some(second.campaign.id),
        ..ImportOptions::default()
    };
    // Nor is it silently kept beside a new campaign: the import is refused,
    // naming its state, and saves nothing.
    let err = fx.import(&path, &third).await.expect_err("third import");
    assert_eq!(err.kind(), ErrorKind::CampaignState);
    assert!(err.to_string().contains("is paused"), "{err}");
    assert_eq!(fx.store.list_campaigns().await.expect("list").len(), 1);
    assert!(
        fx.store
            .message_draft(second.campaign.id)
            .await
            .expect("draft")
            .is_some()
    );
}

#[test]
fn blank_and_repeated_headers_get_names() {
    let names = name_blank_and_repeated(vec!["email".into(), String::new(), "Name".into(), "name".into()]);
    assert_eq!(names, ["email", "column 2", "Name", "name (2)"]);
}

#[test]
fn email_headers_are_found_in_several_languages() {
    for header in [
        "Email",
        "E-Mail",
        "Email Address",
        "email_address",
        "邮箱",
        "电子邮件",
        "Courriel",
    ] {
        let columns = vec!["name".to_owned(), header.to_owned()];
        assert_eq!(find_email_column(&columns), Some(1), "{header}");
    }
    assert_eq!(find_email_column(&["name".to_owned(), "phone".to_owned()]), None);
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

#[tokio::test]
async fn excel_unicode_text_is_utf16_with_tabs() {
    let fx = Fixture::new().await;
    let text = "Name\tE-Mail\tCity\r\n李雷\tli@example.cn\t北京\r\nZoë\tzoe@example.fr\tParis\r\n";
    let path = fx.file("unicode.txt", &utf16le_with_bom(text));
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.source.encoding.as_deref(), Some("UTF-16LE"));
    assert_eq!(report.source.delimiter.as_deref(), Some("tab"));
    assert_eq!(report.valid, 2);
    assert_eq!(report.preview[0], ["李雷", "li@example.cn", "北京"]);
    assert_eq!(report.columns, ["Name", "E-Mail", "City"]);
}

#[tokio::test]
async fn chinese_excel_csv_is_gbk() {
    let fx = Fixture::new().await;
    let (bytes, _, _) = encoding_rs::GBK.encode(
        "姓名,邮箱,城市\n李雷,li@example.cn,北京\n韩梅梅,han@example.cn,上海\n王小明,wang@example.cn,广州市天河区\n",
    );
    let path = fx.file("gbk.csv", &bytes);
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.source.encoding.as_deref(), Some("GBK"));
    assert_eq!(report.email_column, "邮箱");
    assert_eq!(report.preview[2], ["王小明", "wang@example.cn", "广州市天河区"]);
}

#[tokio::test]
async fn european_excel_csv_is_windows_1252_with_semicolons() {
    let fx = Fixture::new().await;
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(
        "Name;E-Mail;Betrag\n\
         René Müller;rene@example.de;1.234,56\n\
         José Peña;jose@example.es;99,5\n\
         Françoise Légère;f@example.fr;\"7,25\"\n",
    );
    let path = fx.file("europe.csv", &bytes);
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.source.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(report.source.delimiter.as_deref(), Some(";"));
    assert_eq!(report.valid, 3);
    assert_eq!(report.preview[0], ["René Müller", "rene@example.de", "1.234,56"]);
    assert_eq!(report.preview[2], ["Françoise Légère", "f@example.fr", "7,25"]);
}

#[tokio::test]
async fn the_person_can_choose_encoding_and_delimiter() {
    let fx = Fixture::new().await;
    // Too short for detection to be sure; the person knows better.
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("email|name\na@example.com|Ren\u{e9}\n");
    let path = fx.file("pipe.txt", &bytes);
    let options = ImportOptions {
        choices: ImportChoices {
            encoding: Some("latin1".into()),
            delimiter: Some("|".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let report = fx.import(&path, &options).await.expect("import");
    assert_eq!(report.source.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(report.source.delimiter.as_deref(), Some("|"));
    assert_eq!(report.preview[0], ["a@example.com", "René"]);

    let unknown = ImportOptions {
        choices: ImportChoices {
            encoding: Some("klingon".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &unknown).await.expect_err("unknown label");
    assert_eq!(err.kind(), ErrorKind::UnknownEncoding);
    let bad = ImportOptions {
        choices: ImportChoices {
            delimiter: Some("ab".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &bad).await.expect_err("bad delimiter");
    assert_eq!(err.kind(), ErrorKind::BadDelimiter);
}

#[tokio::test]
async fn old_mac_files_end_lines_with_cr() {
    let fx = Fixture::new().await;
    let path = fx.file("mac.csv", b"email,name\ra@example.com,A\rb@example.com,B\r");
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.valid, 2);
    assert_eq!(report.preview[1], ["b@example.com", "B"]);
}

/// Any bytes at all, biased toward the ones CSV parsing turns on: the import
/// either reports every row or fails with a message; it never panics, and a
/// report always adds up.
mod arbitrary_bytes {
    use proptest::prelude::*;

    use super::*;

    fn csvish_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            any::<u8>(),
            Just(b','),
            Just(b';'),
            Just(b'\t'),
            Just(b'"'),
            Just(b'\n'),
            Just(b'\r'),
            Just(b'@'),
            Just(b'.'),
            Just(b'a'),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn any_file_gives_a_report_or_an_error(
            header in prop::sample::select(vec!["", "email\n", "name,email\n", "email;name\r\n", "\u{feff}email\t\n"]),
            body in prop::collection::vec(csvish_byte(), 0..1500),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let fx = Fixture::new().await;
                let mut bytes = header.as_bytes().to_vec();
                bytes.extend(&body);
                let path = fx.file("any.csv", &bytes);
                match fx.import(&path, &ImportOptions::default()).await {
                    Ok(report) => {
                        let accounted = report.valid
                            + report.invalid.len() as u64
                            + report.duplicates.len() as u64
                            + report.suppressed.len() as u64;
                        assert_eq!(accounted, report.rows);
                        assert_eq!(report.campaign.total, report.rows);
                    }
                    Err(err) => {
                        assert!(!err.to_string().is_empty());
                        assert!(fx.store.list_campaigns().await.expect("list").is_empty());
                    }
                }
            });
        }
    }
}

// ---- Issue 15: hostile files ----

#[tokio::test]
async fn a_stray_quote_is_an_error_before_anything_is_saved_unless_quotes_are_literal() {
    let fx = Fixture::new().await;
    let path = fx.file(
        "q.csv",
        b"email,name\na@example.com,A\n\"b@example.com,B\nc@example.com,C\nd@example.com,D\n",
    );
    let err = fx
        .import(&path, &ImportOptions::default())
        .await
        .expect_err("stray quote");
    assert_eq!(err.kind(), ErrorKind::UnclosedQuote);
    let message = err.to_string();
    assert!(
        message.contains("q.csv, row 3, column 1: the quoted value starting \"b@example.com,B\\nc@example.com"),
        "{message}"
    );
    assert!(message.len() < 300, "the value is cut: {message}");
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());
    // The preview says the same.
    let err = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect_err("preview");
    assert_eq!(err.kind(), ErrorKind::UnclosedQuote);

    let literal = ImportOptions {
        choices: ImportChoices {
            literal_quotes: true,
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let preview = RecipientSource::preview(&path, &literal.choices)
        .await
        .expect("preview");
    assert_eq!(preview.source.literal_quotes, Some(true));
    assert_eq!(preview.rows.len(), 4);
    let report = fx.import(&path, &literal).await.expect("literal");
    assert_eq!(report.rows, 4);
    assert_eq!(report.valid, 3, "a, c and d");
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].row, 3);
}

#[tokio::test]
async fn a_stray_quote_deep_in_a_long_file_loses_no_row_silently() {
    let fx = Fixture::new().await;
    let mut csv = String::from("email,name\n");
    for i in 2..20_002 {
        let quote = if i == 11 { "\"" } else { "" };
        csv.push_str(&format!("{quote}user{i}@example.com,Name {i}\n"));
    }
    let path = fx.file("long.csv", csv.as_bytes());
    let err = fx
        .import(&path, &ImportOptions::default())
        .await
        .expect_err("stray quote");
    assert_eq!(err.kind(), ErrorKind::UnclosedQuote);
    assert!(err.to_string().contains("row 11, column 1"), "{err}");
    assert!(err.to_string().len() < 300, "{err}");
}

#[tokio::test]
async fn invalid_values_are_quoted_cut_short() {
    let fx = Fixture::new().await;
    let long = "x".repeat(5000);
    let path = fx.file("long-value.csv", format!("email\n{long}\nok@example.com\n").as_bytes());
    let report = fx.import(&path, &ImportOptions::default()).await.expect("import");
    assert_eq!(report.invalid.len(), 1);
    assert!(
        report.invalid[0].value.chars().count() <= 61,
        "{}",
        report.invalid[0].value
    );
    assert!(report.invalid[0].value.ends_with('…'));
    // The recipient keeps its whole value.
    let rows = fx
        .store
        .recipients(report.campaign.id, None, 0, 10)
        .await
        .expect("rows");
    assert_eq!(rows[0].email.len(), 5000);
}

#[test]
fn a_header_of_100000_repeated_names_is_named_in_linear_time() {
    // Quadratic naming took over two minutes for this; linear takes well
    // under a second, so the plain test run is the check.
    let names = name_blank_and_repeated(vec!["a".to_owned(); 100_000]);
    assert_eq!(names[0], "a");
    assert_eq!(names[1], "a (2)");
    assert_eq!(names[99_999], "a (100000)");
    let distinct: HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
    assert_eq!(distinct.len(), 100_000);
    // A name that is already a suffixed one is skipped, not repeated.
    let names = name_blank_and_repeated(vec!["a".into(), "a (2)".into(), "A".into(), "a".into()]);
    assert_eq!(names, ["a", "a (2)", "A (3)", "a (4)"]);
    let fields = crate::message::field_names(&vec!["a!".to_owned(); 100_000]);
    assert_eq!(fields[99_999], "a_100000");
}

#[cfg(unix)]
#[tokio::test]
async fn only_regular_files_are_read() {
    let fx = Fixture::new().await;
    let fifo = fx.dir.path().join("f.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // With nothing writing to it, opening the FIFO would block forever.
    let opened = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        fx.import(&fifo, &ImportOptions::default()),
    )
    .await
    .expect("no hang");
    let err = opened.expect_err("a FIFO");
    assert_eq!(err.kind(), ErrorKind::FileUnreadable);
    assert!(
        err.to_string().ends_with("it is a named pipe (FIFO), not a file"),
        "{err}"
    );
    let err = RecipientSource::preview(&fifo, &ImportChoices::default())
        .await
        .expect_err("preview");
    assert_eq!(err.kind(), ErrorKind::FileUnreadable);
    let fifo_sheet = fx.dir.path().join("f.xlsx");
    std::process::Command::new("mkfifo")
        .arg(&fifo_sheet)
        .status()
        .expect("mkfifo");
    let err = RecipientSource::preview(&fifo_sheet, &ImportChoices::default())
        .await
        .expect_err("a FIFO named like a sheet");
    assert!(err.to_string().contains("named pipe"), "{err}");
    let err = RecipientSource::preview(Path::new("/dev/zero"), &ImportChoices::default())
        .await
        .expect_err("a device");
    assert!(err.to_string().ends_with("it is a device, not a file"), "{err}");
    let err = RecipientSource::preview(fx.dir.path(), &ImportChoices::default())
        .await
        .expect_err("a folder");
    assert!(err.to_string().ends_with("it is a folder, not a file"), "{err}");
}

#[tokio::test]
async fn choices_that_do_not_apply_are_refused_not_ignored() {
    let fx = Fixture::new().await;
    let path = fx.file("list.csv", b"email\na@example.com\n");
    for delimiter in ["\"", "\\"] {
        let options = ImportOptions {
            choices: ImportChoices {
                delimiter: Some(delimiter.into()),
                ..ImportChoices::default()
            },
            ..ImportOptions::default()
        };
        let err = fx.import(&path, &options).await.expect_err("bad delimiter");
        assert_eq!(err.kind(), ErrorKind::BadDelimiter, "{delimiter}");
    }
    let sheet = ImportOptions {
        choices: ImportChoices {
            sheet: Some("Sheet1".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &sheet).await.expect_err("a sheet of a CSV");
    assert_eq!(err.kind(), ErrorKind::ChoiceNotApplicable);
    assert!(
        err.to_string()
            .contains("it is a text file, so it has no sheet \"Sheet1\""),
        "{err}"
    );
    let err = RecipientSource::preview(&path, &sheet.choices)
        .await
        .expect_err("preview too");
    assert_eq!(err.kind(), ErrorKind::ChoiceNotApplicable);

    let workbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/people.xlsx");
    let encoding = ImportOptions {
        choices: ImportChoices {
            encoding: Some("gbk".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = RecipientSource::preview(&workbook, &encoding.choices)
        .await
        .expect_err("encoding of a sheet");
    assert_eq!(err.kind(), ErrorKind::ChoiceNotApplicable);
}

#[tokio::test]
async fn a_file_mixing_encodings_is_reported_with_its_rows() {
    use encoding_rs::WINDOWS_1252;
    let fx = Fixture::new().await;
    let mut bytes = b"email,name\n".to_vec();
    bytes.extend_from_slice(&WINDOWS_1252.encode("rene@example.fr,Ren\u{e9}\n").0);
    bytes.extend_from_slice(b"ann@example.com,Ann\n");
    bytes.extend_from_slice("ren\u{e9}@example.fr,Ren\u{e9}\n".as_bytes());
    let path = fx.file("mixed.csv", &bytes);
    // Detected as windows-1252 (the first non-ASCII line), the UTF-8 row
    // would read "renÃ©@example.fr", a valid-looking address.
    let err = fx.import(&path, &ImportOptions::default()).await.expect_err("mixed");
    assert_eq!(err.kind(), ErrorKind::MixedEncodings);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{} mixes text encodings: row 4 is UTF-8 but row 2 is not (",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("); save the file in one encoding (\"CSV UTF-8\" in Excel) and import it again"),
        "{message}"
    );
    let utf8 = ImportOptions {
        choices: ImportChoices {
            encoding: Some("utf-8".into()),
            ..ImportChoices::default()
        },
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &utf8).await.expect_err("mixed");
    assert_eq!(err.kind(), ErrorKind::MixedEncodings);
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());
}

/// A one-sheet XLSX with `rows` as its `<sheetData>` and `strings` as its shared strings.
fn xlsx(dimension: &str, rows: &str, strings: &str) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let parts = [
        ("[Content_Types].xml", r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()),
        ("xl/workbook.xml", r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.to_owned()),
        ("xl/sharedStrings.xml", format!(r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>"#)),
        ("xl/worksheets/sheet1.xml", format!(r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>"#)),
    ];
    for (name, body) in parts {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

const HEADER_ROWS: &str = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>ann@example.com</t></is></c><c r="B2" t="inlineStr"><is><t>Ann</t></is></c></row>"#;

#[tokio::test]
async fn a_far_off_cell_costs_nothing_and_rows_past_the_last_are_refused() {
    let fx = Fixture::new().await;
    // A value in the last cell a sheet has: the old reader allocated the
    // whole 1,048,576 × 16,384 grid (512 GB) and the process aborted.
    let far = format!(r#"{HEADER_ROWS}<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>"#);
    let path = fx.file("far.xlsx", &xlsx("A1:XFD1048576", &far, ""));
    let preview = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect("preview");
    assert_eq!(preview.columns, ["email", "name"]);
    assert_eq!(preview.rows, [["ann@example.com", "Ann"]]);
    let source = RecipientSource::open(&path, &ImportOptions::default())
        .await
        .expect("open");
    let report = import(&fx.store, source, &ImportOptions::default())
        .await
        .expect("import");
    assert_eq!(report.valid, 1);
    assert_eq!(report.invalid.len(), 1, "the far row has a value past the header");
    assert_eq!(report.invalid[0].row, 1_048_576);

    // A reference no sheet has panicked in the dense reader.
    let path = fx.file("badref.xlsx", &xlsx("A1:ZZZZZZZZZZ99999999999", HEADER_ROWS, ""));
    let result = RecipientSource::preview(&path, &ImportChoices::default()).await;
    if let Err(err) = result {
        assert!(
            matches!(err.kind(), ErrorKind::BadSpreadsheet | ErrorKind::DamagedFile),
            "{err}"
        );
    }

    let mut past = HEADER_ROWS.to_owned();
    for row in 3..=100 {
        past.push_str(&format!(
            r#"<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>u{row}@example.com</t></is></c></row>"#
        ));
    }
    past.push_str(r#"<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>z@example.com</t></is></c></row>"#);
    let path = fx.file("past.xlsx", &xlsx("A1:B1048577", &past, ""));
    let source = RecipientSource::open(&path, &ImportOptions::default())
        .await
        .expect("open");
    let err = import(&fx.store, source, &ImportOptions::default())
        .await
        .expect_err("past the last row");
    assert_eq!(err.kind(), ErrorKind::FileTooLarge);
    assert!(
        err.to_string()
            .ends_with("past.xlsx, row 1,048,577: a value lies below row 1,048,576, the last a sheet has"),
        "{err}"
    );
    assert!(
        fx.store.list_campaigns().await.expect("list").len() == 1,
        "only the first import"
    );
}

#[tokio::test]
async fn a_huge_cell_in_a_small_workbook_is_refused_with_where_it_is() {
    let fx = Fixture::new().await;
    // 2 MB of one letter zips to a few KB.
    let huge = format!("<si><t>{}</t></si>", "a".repeat(2 << 20));
    let rows = format!(r#"{HEADER_ROWS}<row r="3"><c r="A3" t="s"><v>0</v></c></row>"#);
    let path = fx.file("huge.xlsx", &xlsx("A1:B3", &rows, &huge));
    assert!(std::fs::metadata(&path).expect("size").len() < 100_000);
    let err = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect_err("huge");
    assert_eq!(err.kind(), ErrorKind::FileTooLarge);
    assert!(
        err.to_string()
            .contains("a value in its part xl/sharedStrings.xml is longer than"),
        "{err}"
    );
    // In the sheet itself, a long value is named by its cell.
    let long = format!(
        r#"{HEADER_ROWS}<row r="3"><c r="B3" t="inlineStr"><is><t>{}</t></is></c></row>"#,
        "b".repeat(200_000)
    );
    let path = fx.file("long.xlsx", &xlsx("A1:B3", &long, ""));
    let err = RecipientSource::open(&path, &ImportOptions::default())
        .await
        .expect_err("long");
    assert_eq!(err.kind(), ErrorKind::FileTooLarge);
    assert!(
        err.to_string()
            .contains("long.xlsx, cell B3: a value is longer than 128 KB (\"bbbb"),
        "{err}"
    );
}

#[tokio::test]
async fn a_truncated_xls_is_damaged_not_a_panic() {
    let fx = Fixture::new().await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/people.xls");
    let bytes = std::fs::read(fixture).expect("fixture");
    let path = fx.file("t.xls", &bytes[..5240]);
    let err = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect_err("damaged");
    assert_eq!(err.kind(), ErrorKind::DamagedFile, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{} is damaged and cannot be read", path.display())),
        "{err}"
    );
    // The whole file still reads.
    let path = fx.file("people.xls", &bytes);
    RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect("whole");
}

#[tokio::test]
async fn a_header_too_wide_for_a_sheet_is_refused_at_once() {
    let fx = Fixture::new().await;
    let mut csv = vec!["a"; 100_000].join(",");
    csv.push_str("\nx@example.com\n");
    let path = fx.file("wide.csv", csv.as_bytes());
    let err = RecipientSource::preview(&path, &ImportChoices::default())
        .await
        .expect_err("wide");
    assert_eq!(err.kind(), ErrorKind::FileTooLarge);
    assert!(
        err.to_string()
            .ends_with("wide.csv, row 1: the row has more than 16,384 values"),
        "{err}"
    );
}

/// A sink that answers Stop at its `n`th step.
struct StopAfter {
    n: u32,
    seen: std::sync::atomic::AtomicU32,
}

impl StopAfter {
    fn new(n: u32) -> Self {
        StopAfter {
            n,
            seen: std::sync::atomic::AtomicU32::new(0),
        }
    }
}

impl Sink<ImportProgress> for StopAfter {
    fn event(&self, _step: &ImportProgress) -> Flow {
        let seen = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if seen < self.n { Flow::Go } else { Flow::Stop }
    }
}

#[tokio::test]
async fn an_import_whose_sink_signals_stop_is_cancelled_and_saves_nothing() {
    let fx = Fixture::new().await;
    let mut csv = String::from("email\n");
    for i in 0..BATCH_ROWS * 3 {
        csv.push_str(&format!("user{i}@example.com\n"));
    }
    let path = fx.file("big.csv", csv.as_bytes());
    let options = ImportOptions::default();
    let source = RecipientSource::open(&path, &options).await.expect("open");
    // The window's Cancel: a front end's sink that would go on, stopped by
    // the token the session registers.
    let quiet = |_: &ImportProgress| {};
    let sink = Cancellable::new(&quiet);
    sink.token().cancel();
    let err = import_with_progress(&fx.store, source, &options, &sink)
        .await
        .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::ImportCancelled);
    assert!(fx.store.list_campaigns().await.expect("list").is_empty());
}
