//! Import tests on real files in a temporary directory and a real SQLite file.

use std::path::PathBuf;

use super::*;
use crate::ErrorKind;
use crate::model::{CampaignStatus, RecipientStatus};

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
        let source = CsvSource::open(path, options).await?;
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
            email: "blocked@example.com".into()
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
        email_column: Some("WHO".into()),
        name: Some("Spring".into()),
        ..ImportOptions::default()
    };
    let report = fx.import(&path, &options).await.expect("import");
    assert_eq!(report.email_column, "who");
    assert_eq!(report.campaign.name, "Spring");
    assert_eq!(report.rows, 3, "rows read ahead for detection are imported too");

    let options = ImportOptions {
        email_column: Some("mail".into()),
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
    let preview = RecipientSource::preview(&path, &ImportOptions::default())
        .await
        .expect("preview");
    assert_eq!(preview.format, "csv");
    assert_eq!(preview.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(preview.delimiter.as_deref(), Some(";"));
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
        delimiter: Some(",".into()),
        email_column: Some("Name;E-Mail;Betrag".into()),
        ..ImportOptions::default()
    };
    let preview = RecipientSource::preview(&path, &chosen).await.expect("preview");
    assert_eq!(preview.columns, ["Name;E-Mail;Betrag"]);
    assert_eq!(preview.rows[0], ["René;rene@example.com;\"1.234", "56\""]);
}

#[tokio::test]
async fn a_preview_without_an_email_column_asks_for_one() {
    let fx = Fixture::new().await;
    let path = fx.file("phones.csv", b"who,where\nAnn,Oslo\nBob,Rome\n");
    let preview = RecipientSource::preview(&path, &ImportOptions::default())
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
    let first = RecipientSource::preview(&fixture, &ImportOptions::default())
        .await
        .expect("preview");
    assert_eq!(first.format, "xlsx");
    assert_eq!(first.sheets, ["Notes", "Customers"]);
    assert_eq!(first.sheet.as_deref(), Some("Notes"));
    assert_eq!(first.encoding, None);
    assert_eq!(first.email_column, None, "the notes sheet has no addresses");

    let chosen = ImportOptions {
        sheet: Some("customers".into()),
        ..ImportOptions::default()
    };
    let second = RecipientSource::preview(&fixture, &chosen).await.expect("preview");
    assert_eq!(second.sheet.as_deref(), Some("Customers"));
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
    let mut steps = Vec::new();
    let report = import_with_progress(&fx.store, source, &options, |step| {
        steps.push(step);
        ControlFlow::Continue(())
    })
    .await
    .expect("import");
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
    let mut batches = 0;
    let err = import_with_progress(&fx.store, source, &options, |_| {
        batches += 1;
        if batches < 30 {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })
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
    assert_eq!(report.encoding.as_deref(), Some("UTF-16LE"));
    assert_eq!(report.delimiter.as_deref(), Some("tab"));
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
    assert_eq!(report.encoding.as_deref(), Some("GBK"));
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
    assert_eq!(report.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(report.delimiter.as_deref(), Some(";"));
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
        encoding: Some("latin1".into()),
        delimiter: Some("|".into()),
        ..ImportOptions::default()
    };
    let report = fx.import(&path, &options).await.expect("import");
    assert_eq!(report.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(report.delimiter.as_deref(), Some("|"));
    assert_eq!(report.preview[0], ["a@example.com", "René"]);

    let unknown = ImportOptions {
        encoding: Some("klingon".into()),
        ..ImportOptions::default()
    };
    let err = fx.import(&path, &unknown).await.expect_err("unknown label");
    assert_eq!(err.kind(), ErrorKind::UnknownEncoding);
    let bad = ImportOptions {
        delimiter: Some("ab".into()),
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
