//! The `mailroom` CLI end to end: a real binary, a real CSV file, a real
//! SQLite database in a temporary directory.

use mailroom_e2e::{Run, Workspace};

const LIST: &str = "name,email,city\n\
                    Ann,ann@example.com,Oslo\n\
                    李雷,li@example.cn,北京\n\
                    Bob,bob-at-example.com,Bergen\n\
                    Ann twice,ANN@example.com,Oslo\n";

#[test]
fn import_then_status_and_recipients_as_json() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);

    let run = ws.mailroom(&["--json", "import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "import failed: {}", run.stderr);
    let report = run.json();
    assert_eq!(report["rows"], 4);
    assert_eq!(report["valid"], 2);
    assert_eq!(report["invalid"][0]["row"], 4);
    assert_eq!(report["invalid"][0]["value"], "bob-at-example.com");
    assert_eq!(report["invalid"][0]["reason"], "missing_at");
    assert_eq!(report["duplicates"][0]["row"], 5);
    assert_eq!(report["duplicates"][0]["first_row"], 2);
    assert_eq!(report["email_column"], "email");
    assert_eq!(report["encoding"], "UTF-8");
    let id = report["campaign"]["id"].as_i64().expect("campaign id");

    let run = ws.mailroom(&["--json", "status", &id.to_string()]);
    assert!(run.success(), "status failed: {}", run.stderr);
    let status = run.json();
    assert_eq!(status["name"], "spring");
    assert_eq!(status["status"], "draft");
    assert_eq!(status["total"], 4);
    assert_eq!(status["counts"]["pending"], 2);
    assert_eq!(status["counts"]["skipped"], 2);
    assert_eq!(status["counts"]["sent"], 0);

    // By name works as well as by id.
    let by_name = ws.mailroom(&["--json", "status", "spring"]).json();
    assert_eq!(by_name["id"], id);

    let run = ws.mailroom(&["--json", "recipients", "spring"]);
    assert!(run.success(), "recipients failed: {}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("an array");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["email"], "li@example.cn");
    assert_eq!(rows[1]["fields"]["name"], "李雷");
    assert_eq!(rows[1]["fields"]["city"], "北京");
    assert_eq!(rows[2]["status"], "skipped");
    assert_eq!(
        rows[2]["reason"],
        serde_json::json!({"kind": "invalid_address", "problem": "missing_at"}),
        "a reason is data, not a sentence"
    );

    let pending = ws
        .mailroom(&["--json", "recipients", "spring", "--status", "pending"])
        .json();
    assert_eq!(pending.as_array().map(Vec::len), Some(2));
}

#[test]
fn human_output_is_readable() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", LIST);
    let run = ws.mailroom(&["import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("Imported 4 rows into campaign 1 \"list\" (draft)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("row      4  invalid"), "{}", run.stdout);

    let run = ws.mailroom(&["status", "1"]);
    assert!(run.stdout.contains("pending     2"), "{}", run.stdout);
}

#[test]
fn a_missing_file_is_one_line_and_creates_nothing() {
    let ws = Workspace::new();
    let run = ws.mailroom(&["import", "no-such-list.csv"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr, "mailroom: cannot read no-such-list.csv: no such file\n");
    assert!(run.stdout.is_empty());
    assert!(!ws.db().exists(), "a failed import must not create the database");
}

#[test]
fn a_file_without_an_email_column_is_refused() {
    let ws = Workspace::new();
    let list = ws.file("phones.csv", "name,phone\nAnn,123\n");
    let run = ws.mailroom(&["--json", "import", list.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let error: serde_json::Value = serde_json::from_str(&run.stderr).expect("JSON error");
    assert_eq!(error["error"]["kind"], "no_email_column");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("name, phone")),
        "{error}"
    );
    assert!(!ws.db().exists());
}

#[test]
fn an_unwritable_database_path_is_one_line() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", LIST);
    let blocker = ws.file("not-a-folder", "x");
    let db = blocker.join("mailroom.db");
    let run = ws.mailroom_raw(&[
        "--db",
        db.to_str().expect("utf-8 path"),
        "import",
        list.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("mailroom: cannot open the database"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn an_unknown_campaign_is_one_line() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", LIST);
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let run = ws.mailroom(&["status", "42"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr, "mailroom: no campaign \"42\"\n");
}

#[test]
fn the_default_database_is_in_the_data_folder() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", LIST);
    let run = ws.mailroom_raw(&["--json", "import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    let expected = ws.dir.path().join("home/data/org.mailroom.desktop/mailroom.db");
    assert!(expected.exists(), "no database at {}", expected.display());
}

#[test]
fn legacy_encodings_and_delimiters_are_detected_and_reported() {
    let ws = Workspace::new();
    // What Excel on a Chinese Windows writes for "CSV", with semicolons as a
    // European-locale Excel would.
    let (bytes, _, _) = encoding_rs::GBK
        .encode("姓名;邮箱;金额\n李雷;li@example.cn;1.234,56\n韩梅梅;han@example.cn;99,5\n王小明;wang@example.cn;7\n");
    let list = ws.file("gbk.csv", &bytes);
    let report = ws
        .mailroom(&["--json", "import", list.to_str().expect("utf-8 path")])
        .json();
    assert_eq!(report["encoding"], "GBK");
    assert_eq!(report["delimiter"], ";");
    assert_eq!(report["email_column"], "邮箱");
    assert_eq!(report["valid"], 3);
    let rows = ws.mailroom(&["--json", "recipients", "gbk"]).json();
    assert_eq!(rows[0]["fields"]["姓名"], "李雷");
    assert_eq!(rows[0]["fields"]["金额"], "1.234,56");

    let run = ws.mailroom(&["import", list.to_str().expect("utf-8 path"), "--encoding", "klingon"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.starts_with("mailroom: \"klingon\" is not an encoding"),
        "{}",
        run.stderr
    );
}

/// The same list written by LibreOffice as XLSX, XLS and ODS (tests/fixtures/
/// make.sh): cells read as the office suite shows them, rows numbered as it
/// numbers them, the email column found by its Chinese header.
#[test]
fn spreadsheets_written_by_libreoffice_import_as_the_office_suite_shows_them() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for format in ["xlsx", "xls", "ods"] {
        let ws = Workspace::new();
        let file = fixtures.join(format!("people.{format}"));
        let run = ws.mailroom(&["--json", "import", &file.display().to_string()]);
        assert!(run.success(), "{format}: {}", run.stderr);
        let report = run.json();
        assert_eq!(report["format"], format);
        assert_eq!(report["sheet"], "people");
        assert_eq!(report["encoding"], serde_json::Value::Null);
        assert_eq!(report["email_column"], "邮箱");
        assert_eq!(report["rows"], 5, "{format}: the blank row is not a row");
        assert_eq!(report["valid"], 3);
        assert_eq!(report["invalid"][0]["row"], 5);
        assert_eq!(report["invalid"][0]["value"], "bob-at-example.com");
        assert_eq!(report["duplicates"][0]["row"], 6);
        assert_eq!(report["duplicates"][0]["first_row"], 2);
        assert_eq!(
            report["preview"][0],
            serde_json::json!(["ann@example.com", "Ann Lee", "01234", "42", "2024-03-01", "84"]),
            "{format}: whole numbers, dates, leading zeros and formula results"
        );
        assert_eq!(report["preview"][1][1], "李雷");
        assert_eq!(report["preview"][1][3], "1234.56");

        let recipients = ws.mailroom(&["--json", "recipients", "people"]).json();
        assert_eq!(recipients[4]["fields"]["姓名"], "Zoë Brontë");
        assert_eq!(recipients[4]["fields"]["编号"], "09999");
        assert_eq!(recipients[4]["fields"]["合计"], "1");
    }
}

#[test]
fn a_preview_saves_nothing_and_a_second_import_replaces_the_draft() {
    let ws = Workspace::new();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let workbook = fixtures.join("sheets.xlsx").display().to_string();

    let preview = ws.mailroom(&["--json", "import", &workbook, "--preview"]).json();
    assert_eq!(preview["sheets"], serde_json::json!(["Notes", "Customers"]));
    assert_eq!(preview["sheet"], "Notes");
    assert_eq!(
        preview["email_column"],
        serde_json::Value::Null,
        "no addresses on Notes"
    );
    let preview = ws
        .mailroom(&["--json", "import", &workbook, "--preview", "--sheet", "Customers"])
        .json();
    assert_eq!(preview["email_column"], "电子邮件");
    assert_eq!(preview["rows"][1][0], "Søren Kierkegaard");
    assert!(!ws.db().exists(), "a preview does not even make the database");

    let first = ws
        .mailroom(&["--json", "import", &workbook, "--sheet", "Customers"])
        .json();
    assert_eq!(first["valid"], 2);
    assert_eq!(first["invalid"][0]["value"], "not-an-address");
    let id = first["campaign"]["id"].to_string();
    let second = ws
        .mailroom(&[
            "--json",
            "import",
            &workbook,
            "--sheet",
            "Customers",
            "--email-column",
            "城市",
            "--replace",
            &id,
        ])
        .json();
    assert_eq!(second["valid"], 0, "a city is not an address");
    let campaigns = ws.mailroom(&["--json", "campaigns"]).json();
    assert_eq!(campaigns.as_array().map(Vec::len), Some(1), "{campaigns}");
    assert_eq!(campaigns[0]["id"], second["campaign"]["id"]);
}

#[test]
fn a_missing_sheet_and_a_binary_file_are_one_line_each() {
    let ws = Workspace::new();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let ods = fixtures.join("people.ods").display().to_string();
    let run = ws.mailroom(&["import", &ods, "--sheet", "Summer"]);
    assert!(!run.success());
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no sheet named \"Summer\" (its sheets are: people)"),
        "{}",
        run.stderr
    );

    let disguised = ws.file(
        "list.csv",
        std::fs::read(fixtures.join("people.xlsx")).unwrap_or_else(|e| panic!("fixture: {e}")),
    );
    let run = ws.mailroom(&["--json", "import", &disguised.display().to_string()]);
    assert!(!run.success());
    let error: serde_json::Value =
        serde_json::from_str(run.stderr.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    assert_eq!(error["error"]["kind"], "unsupported_format");
    assert!(!ws.db().exists(), "a refused file creates no database");
}

#[test]
fn skipped_and_failed_rows_export_to_a_csv_excel_opens() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let out = ws.db().with_file_name("skipped.csv");
    let run = ws.mailroom(&[
        "--json",
        "export",
        "spring",
        "--status",
        "skipped",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(run.success(), "export failed: {}", run.stderr);
    assert_eq!(run.json()["written"], 2);
    let bytes = std::fs::read(&out).expect("the export exists");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark, so Excel reads UTF-8");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rows.headers().expect("a header").iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "row", "email", "status", "reason", "attempts", "bounce", "account", "name", "email", "city"
        ]
    );
    let records: Vec<Vec<String>> = rows
        .records()
        .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0][..3], ["4", "bob-at-example.com", "skipped"]);
    assert!(
        records[0][3].contains('@'),
        "the reason says what is wrong: {:?}",
        records[0][3]
    );
    assert_eq!(records[1][..3], ["5", "ANN@example.com", "skipped"]);
    assert!(
        records[1][3].contains("row 2"),
        "a duplicate names the row it repeats: {:?}",
        records[1][3]
    );
    assert_eq!(records[1][7..], ["Ann twice", "ANN@example.com", "Oslo"]);

    // Nothing failed yet: the default export is a header only, not an error.
    let failed = ws.db().with_file_name("failed.csv");
    let run = ws.mailroom(&["export", "spring", "-o", failed.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    assert!(run.stdout.contains("Wrote 0 recipients"), "{}", run.stdout);

    // A folder that does not exist is one sentence, and no file appears.
    let nowhere = ws.db().with_file_name("no/such/folder/x.csv");
    let run = ws.mailroom(&["export", "spring", "-o", nowhere.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("cannot write"), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}

#[test]
fn the_import_report_names_each_columns_merge_field() {
    let ws = Workspace::new();
    let list = ws.file(
        "odd.csv",
        "E-Mail Address,First Name,邮箱 备注\nann@example.com,Ann,x\n",
    );
    let run = ws.mailroom(&["--json", "import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        report["fields"],
        serde_json::json!(["e_mail_address", "first_name", "邮箱_备注"])
    );
}

/// `-o FILE.xlsx` writes a workbook: numbers as numbers, every other value
/// as text (a text cell is never a formula, so nothing needs a guard), and
/// non-ASCII intact. Read back with calamine, as an office suite reads it.
#[test]
fn an_export_to_xlsx_is_a_workbook_with_typed_cells() {
    use calamine::{Data, Reader, Xlsx};
    let ws = Workspace::new();
    let list = ws.file(
        "mixed.csv",
        "name,email,code\n李雷,li-at-example.cn,01234\n\"=HYPERLINK(\"\"http://evil.example\"\")\",bad,-3.5\n",
    );
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let out = ws.db().with_file_name("skipped.XLSX");
    let run = ws.mailroom(&[
        "--json",
        "export",
        "mixed",
        "--status",
        "skipped",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert_eq!(run.json()["written"], 2);
    let mut book: Xlsx<_> = calamine::open_workbook(&out).expect("an XLSX workbook");
    assert_eq!(book.sheet_names(), ["Recipients"]);
    let sheet = book.worksheet_range("Recipients").expect("the sheet");
    let rows: Vec<&[Data]> = sheet.rows().collect();
    assert_eq!(rows.len(), 3, "a header and two rows");
    let text = |cell: &Data| match cell {
        Data::String(s) => s.clone(),
        other => panic!("expected text, found {other:?}"),
    };
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(
        header,
        [
            "row", "email", "status", "reason", "attempts", "bounce", "account", "name", "email", "code"
        ]
    );
    assert_eq!(rows[1][0], Data::Float(2.0), "the row number is a number");
    assert_eq!(text(&rows[1][2]), "skipped");
    assert_eq!(rows[1][4], Data::Float(0.0), "attempts are a number");
    assert_eq!(text(&rows[1][7]), "李雷");
    assert_eq!(text(&rows[1][9]), "01234", "an imported code keeps its leading zero");
    assert_eq!(
        text(&rows[2][7]),
        "=HYPERLINK(\"http://evil.example\")",
        "text, not a formula"
    );
    assert_eq!(text(&rows[2][9]), "-3.5", "imported values stay as imported");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let umask = std::process::Command::new("sh")
            .args(["-c", "umask"])
            .output()
            .expect("sh");
        let umask = u32::from_str_radix(String::from_utf8_lossy(&umask.stdout).trim(), 8).expect("a umask");
        let mode = std::fs::metadata(&out).expect("the export").permissions().mode() & 0o777;
        assert_eq!(
            mode,
            0o666 & !umask,
            "a saved export has a saved file's permissions: {mode:o}"
        );
    }
    let formulas = book.worksheet_formula("Recipients").expect("the sheet's formulas");
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell is a formula"
    );
}

#[test]
fn an_export_never_hands_a_spreadsheet_a_formula() {
    let ws = Workspace::new();
    let list = ws.file(
        "risky.csv",
        "name,email,balance\n\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\",not-an-address,-3.5\n@SUM(A1),also-not,+cmd\n",
    );
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let out = ws.db().with_file_name("risky-skipped.csv");
    let run = ws.mailroom(&[
        "export",
        "risky",
        "--status",
        "skipped",
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(run.success(), "{}", run.stderr);
    let text = std::fs::read_to_string(&out).expect("the export exists");
    let mut rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let records: Vec<Vec<String>> = rows
        .records()
        .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        records[0][7..],
        [
            "'=HYPERLINK(\"http://evil.example\",\"Click\")",
            "not-an-address",
            "-3.5"
        ],
        "a formula becomes text; a negative number stays a number"
    );
    assert_eq!(records[1][7..], ["'@SUM(A1)", "also-not", "'+cmd"]);
}

#[test]
fn a_damaged_spreadsheet_is_one_line_never_a_backtrace() {
    // A truncated XLS made calamine panic: a backtrace on stderr, then
    // "internal error: import thread: task 3 panicked".
    let ws = Workspace::new();
    let whole =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/people.xls")).expect("fixture");
    let cut = ws.file("t.xls", &whole[..5240]);
    for preview in [false, true] {
        let mut args = vec!["import", cut.to_str().expect("utf-8 path")];
        if preview {
            args.push("--preview");
        }
        // The default panic hook prints "panicked at" with or without RUST_BACKTRACE.
        let run = ws.mailroom(&args);
        assert_eq!(run.code, Some(1));
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.starts_with("mailroom: "), "{}", run.stderr);
        assert!(
            run.stderr.contains("t.xls is damaged and cannot be read"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(!ws.db().exists());
}

#[test]
fn a_stray_quote_stops_the_import_and_literal_quotes_reads_every_row() {
    let ws = Workspace::new();
    let list = ws.file(
        "q.csv",
        "email,name\na@example.com,A\n\"b@example.com,B\nc@example.com,C\nd@example.com,D\n",
    );
    let path = list.to_str().expect("utf-8 path");
    let run = ws.mailroom(&["import", path]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(
        run.stderr.contains("q.csv, row 3, column 1: the quoted value starting"),
        "{}",
        run.stderr
    );
    assert!(!ws.db().exists(), "nothing saved");
    assert_eq!(ws.mailroom(&["import", path, "--preview"]).code, Some(1));
    let report = ws.mailroom(&["--json", "import", path, "--literal-quotes"]).json();
    assert_eq!(report["valid"], 3);
    assert_eq!(report["rows"], 4);
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let ws = Workspace::new();
    let fifo = ws.file("placeholder", "").with_file_name("f.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let run = ws.mailroom(&["import", fifo.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.ends_with("it is a named pipe (FIFO), not a file\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_sheet_or_a_quote_delimiter_for_a_csv_is_refused() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", "email\na@example.com\n");
    let path = list.to_str().expect("utf-8 path");
    let run = ws.mailroom(&["import", path, "--sheet", "Sheet1"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("it is a text file, so it has no sheet"),
        "{}",
        run.stderr
    );
    for delimiter in ["\"", "\\"] {
        let run = ws.mailroom(&["import", path, "--delimiter", delimiter]);
        assert_eq!(run.code, Some(1), "{delimiter}");
        assert!(run.stderr.contains("cannot be a delimiter"), "{}", run.stderr);
    }
    assert!(!ws.db().exists());
}

/// Runs `mailroom --db <workspace db> args` as a person without root's
/// privilege to write anywhere: under root (a container, CI), through
/// `setpriv` without the capabilities that override file permissions, so
/// that a read-only folder is read-only to it. `None` where that cannot be
/// arranged.
fn mailroom_unprivileged(ws: &Workspace, args: &[&str]) -> Option<Run> {
    let uid = std::process::Command::new("id").arg("-u").output().ok()?;
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut command = if root {
        let mut setpriv = std::process::Command::new("setpriv");
        setpriv
            .arg("--bounding-set=-dac_override,-dac_read_search,-fowner")
            .arg(mailroom_e2e::mailroom_binary());
        setpriv
    } else {
        std::process::Command::new(mailroom_e2e::mailroom_binary())
    };
    command.arg("--db").arg(ws.db()).args(args);
    ws.isolate(&mut command);
    let run: Run = command.output().ok()?.into();
    // setpriv itself refused (no CAP_SETPCAP here): nothing was tested.
    if root && run.code != Some(0) && run.stderr.starts_with("setpriv:") {
        eprintln!("cannot drop root's file privileges here: {}", run.stderr);
        return None;
    }
    Some(run)
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_database_path_that_is_not_there_is_refused_except_by_what_starts_one() {
    let ws = Workspace::new();
    for args in [
        &["status", "1"][..],
        &["campaigns"],
        &["recipients", "1"],
        &["export", "1", "-o", "x.csv"],
        &["smtp", "list"],
        &["captured"],
    ] {
        let run = ws.mailroom(args);
        assert_eq!(run.code, Some(1), "{args:?}");
        assert!(
            run.stderr.contains("there is no such file; check the path"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!ws.db().exists(), "{args:?} made a database");
    }
    // Presets need no database, and make none.
    assert!(ws.mailroom(&["smtp", "presets"]).success());
    assert!(!ws.db().exists());
    // An import starts one.
    let list = ws.file("list.csv", LIST);
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    assert!(ws.mailroom(&["status", "1"]).success());
}

#[test]
fn a_name_more_than_one_campaign_answers_to_is_refused_with_the_candidates() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);
    let named_one = ws.file("1.csv", LIST);
    for file in [&list, &named_one, &list] {
        assert!(ws.mailroom(&["import", file.to_str().expect("utf-8 path")]).success());
    }
    let run = ws.mailroom(&["--json", "status", "spring"]);
    assert_eq!(run.code, Some(1));
    let error: serde_json::Value = serde_json::from_str(&run.stderr).expect("JSON error");
    assert_eq!(error["error"]["kind"], "ambiguous_campaign");
    let message = error["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("#3 \"spring\" (draft, made ") && message.contains("#1 \"spring\" (draft, made "),
        "{message}"
    );
    let run = ws.mailroom(&["status", "1"]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("#2 \"1\"") && run.stderr.contains("#1 \"spring\""),
        "{}",
        run.stderr
    );
    let by_number = ws.mailroom(&["--json", "status", "#1"]).json();
    assert_eq!(
        (by_number["id"].as_i64(), by_number["name"].as_str()),
        (Some(1), Some("spring"))
    );
    let by_name = ws.mailroom(&["--json", "status", "#2"]).json();
    assert_eq!(by_name["name"], "1");
}

#[test]
fn replacing_a_campaign_that_is_no_longer_a_draft_is_refused_naming_its_state() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);
    let list = list.to_str().expect("utf-8 path");
    assert!(ws.mailroom(&["import", list]).success());
    // As a finished run leaves it.
    let db = rusqlite::Connection::open(ws.db()).expect("open");
    db.execute("UPDATE campaigns SET status = 'completed' WHERE id = 1", [])
        .expect("complete it");
    drop(db);
    let run = ws.mailroom(&["import", list, "--replace", "1"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "mailroom: campaign spring is completed; --replace replaces only a draft; import without it to make a new campaign\n"
    );
    let campaigns = ws.mailroom(&["--json", "campaigns"]).json();
    assert_eq!(campaigns.as_array().map(Vec::len), Some(1), "{campaigns}");
    assert_eq!(campaigns[0]["status"], "completed");
}

#[test]
fn a_read_only_folder_or_file_can_still_be_looked_at_but_not_changed() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    // Closed cleanly, as a quit app leaves it: no -wal or -shm beside it,
    // and none can be made in a read-only folder. The CLI's own close may
    // still be finishing on SQLite's thread as its process exits; the last
    // connection to close after reading checkpoints the log and removes it.
    let db = rusqlite::Connection::open(ws.db()).expect("open");
    let campaigns: i64 = db
        .query_row("SELECT count(*) FROM campaigns", [], |row| row.get(0))
        .expect("read");
    assert_eq!(campaigns, 1);
    drop(db);
    let folder = ws.db().parent().expect("a folder").to_owned();
    let mut wal = ws.db().into_os_string();
    wal.push("-wal");
    assert!(!std::path::Path::new(&wal).exists());
    let export = ws.dir.path().join("skipped.csv");
    let export = export.to_str().expect("utf-8 path");
    let reads: [&[&str]; 5] = [
        &["--json", "status", "spring"],
        &["--json", "recipients", "spring"],
        &["--json", "campaigns"],
        &["--json", "smtp", "list"],
        &["--json", "export", "spring", "--status", "skipped", "-o", export],
    ];

    for (what, path, mode) in [("folder", &folder, 0o555), ("file", &ws.db(), 0o444)] {
        set_mode(path, mode);
        let Some(status) = mailroom_unprivileged(&ws, reads[0]) else {
            set_mode(path, if what == "folder" { 0o755 } else { 0o644 });
            return;
        };
        assert!(status.success(), "status with a read-only {what}: {}", status.stderr);
        assert_eq!(status.json()["counts"]["pending"], 2);
        for args in &reads[1..] {
            let run = mailroom_unprivileged(&ws, args).expect("ran before");
            assert!(run.success(), "{args:?} with a read-only {what}: {}", run.stderr);
        }
        // A change is refused at once, saying why.
        let run = mailroom_unprivileged(&ws, &["import", list.to_str().expect("utf-8 path")]).expect("ran");
        assert_eq!(run.code, Some(1), "an import into a read-only {what}");
        assert!(run.stderr.contains("it is read-only"), "{}", run.stderr);
        set_mode(path, if what == "folder" { 0o755 } else { 0o644 });
    }
    let written = std::fs::read_to_string(ws.dir.path().join("skipped.csv")).expect("the export");
    assert!(written.contains("bob-at-example.com"), "{written}");
    let campaigns = ws.mailroom(&["--json", "campaigns"]).json();
    assert_eq!(campaigns.as_array().map(Vec::len), Some(1), "nothing was imported");
}

/// A read-only folder whose database has changes still in its `-wal` (a
/// process has it open): read through the `-wal`, not the file alone.
#[test]
fn a_read_only_folder_reads_what_is_still_in_the_wal() {
    let ws = Workspace::new();
    let list = ws.file("spring.csv", LIST);
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let writer = rusqlite::Connection::open(ws.db()).expect("open");
    writer
        .pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoint");
    writer
        .execute("UPDATE campaigns SET name = 'renamed' WHERE id = 1", [])
        .expect("rename");
    let folder = ws.db().parent().expect("a folder").to_owned();
    set_mode(&folder, 0o555);
    let run = mailroom_unprivileged(&ws, &["--json", "status", "#1"]);
    set_mode(&folder, 0o755);
    drop(writer);
    let Some(run) = run else { return };
    assert!(run.success(), "{}", run.stderr);
    assert_eq!(run.json()["name"], "renamed");
}

/// Runs `mailroom --db <workspace db> args` under a 2 GB address-space limit
/// and a minute's timeout (where `prlimit` and `timeout` exist), so a memory
/// bomb ends in an abort of this one process, never the machine's memory.
fn mailroom_bounded(ws: &Workspace, args: &[&str]) -> Run {
    let have = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        have("prlimit") && have("timeout"),
        "these tests run the CLI under prlimit and timeout (util-linux, coreutils)"
    );
    let mut command = std::process::Command::new("prlimit");
    command
        .args(["--as=2000000000", "timeout", "60"])
        .arg(mailroom_e2e::mailroom_binary())
        .arg("--db")
        .arg(ws.db())
        .args(args);
    ws.isolate(&mut command);
    command.output().expect("run mailroom").into()
}

#[test]
fn template_memory_bombs_end_in_one_line_errors_under_a_memory_limit() {
    let ws = Workspace::new();
    let list = ws.file(
        "widths.csv",
        "email,name,width\nann@example.com,Ann,2\nbob@example.com,Bob,2000000000\n",
    );
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let body = ws.file("body.txt", "Hello {{ name }}");
    let body = body.to_str().expect("utf-8 path");

    // The subject: refused when saved, before anything is evaluated.
    let bomb = "{% set a = \"x\" * 100000000 %}{% for i in range(30) %}{{ a }}{% endfor %}";
    let run = mailroom_bounded(&ws, &["message", "1", "--subject", bomb, "--text", body]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "mailroom: subject, line 1: * is not available in a message (it repeats text)\n"
    );
    let run = mailroom_bounded(
        &ws,
        &[
            "message",
            "1",
            "--subject",
            "{{ name | indent(2000000000) }}",
            "--text",
            body,
        ],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "mailroom: row 2, subject, line 1: a value would be 1907.4 MB, \
         more than the 1 MB a message allows\n"
    );

    // A message that is fine for the first recipient but not for another:
    // saved, and that recipient's preview is the error, not an abort.
    let subject = "Hi {{ 'x' | indent(width | int) }}";
    let run = mailroom_bounded(&ws, &["message", "1", "--subject", subject, "--text", body]);
    assert!(run.success(), "{}", run.stderr);
    let run = mailroom_bounded(&ws, &["preview", "1", "--row", "3"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("mailroom: row 3, subject, line 1: a value would be 1907.4 MB"),
        "{}",
        run.stderr
    );
    assert!(mailroom_bounded(&ws, &["preview", "1", "--row", "2"]).success());
}

#[test]
fn a_crafted_list_cannot_attach_files_from_outside_the_folder_or_mailroom_s_own() {
    let ws = Workspace::new();
    let root = ws.dir.path();
    std::fs::create_dir_all(root.join("files")).expect("mkdir");
    std::fs::write(root.join("secret.txt"), "the sender's secret").expect("write");
    std::fs::write(root.join("files/invoice.txt"), "your invoice").expect("write");
    std::os::unix::fs::symlink(root.join("secret.txt"), root.join("files/link.txt")).expect("symlink");
    let list = ws.file(
        "list.csv",
        "email,code\n\
         ann@example.com,invoice.txt\n\
         bob@example.com,../secret.txt\n\
         cat@example.com,/etc/hostname\n\
         dan@example.com,link.txt\n",
    );
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let body = ws.file("body.txt", "Hello");
    let body = body.to_str().expect("utf-8 path");
    let folder = root.join("files");
    let folder = folder.to_str().expect("utf-8 path");

    // Saved, with every row that cannot be attached listed with its reason.
    let run = ws.mailroom(&[
        "--json",
        "message",
        "1",
        "--subject",
        "Hi",
        "--text",
        body,
        "--attach-column",
        "code",
        "--attach-folder",
        folder,
    ]);
    assert!(run.success(), "{}", run.stderr);
    let check = run.json();
    assert_eq!(check["missing_attachment_count"], 3, "{check}");
    let listed = check["missing_attachments"].as_array().expect("a list");
    // Each with its reason as data: the problem its message would fail with.
    let reason = |row: u64| {
        let listed = listed
            .iter()
            .find(|m| m["row"] == row)
            .unwrap_or_else(|| panic!("row {row} is not listed: {check}"));
        assert_eq!(listed["problem"]["part"], "recipient", "{listed}");
        assert_eq!(listed["problem"]["problem"]["kind"], "attachment", "{listed}");
        listed["problem"]["problem"]["problem"].clone()
    };
    assert_eq!(
        reason(3),
        serde_json::json!({ "kind": "outside_folder", "name": "../secret.txt", "folder": folder })
    );
    assert_eq!(
        reason(4),
        serde_json::json!({ "kind": "outside_folder", "name": "/etc/hostname", "folder": folder })
    );
    assert_eq!(
        reason(5),
        serde_json::json!({ "kind": "link_outside_folder", "path": format!("{folder}/link.txt"), "folder": folder })
    );

    // Each of them fails on its own, as it would when sent; Ann's is attached.
    let ann = ws.mailroom(&["--json", "preview", "1", "--row", "2"]);
    assert!(ann.success(), "{}", ann.stderr);
    assert_eq!(ann.json()["message"]["attachments"], serde_json::json!(["invoice.txt"]));
    for row in ["3", "4", "5"] {
        let run = ws.mailroom(&["preview", "1", "--row", row]);
        assert_eq!(run.code, Some(1), "row {row}: {}", run.stdout);
        assert!(!run.stdout.contains("secret"), "row {row}: {}", run.stdout);
    }

    // `{{ code }}` = `../secret` in a file name template.
    let list = ws.file("names.csv", "email,code\nbob@example.com,../secret\n");
    assert!(ws.mailroom(&["import", list.to_str().expect("utf-8 path")]).success());
    let run = ws.mailroom(&[
        "message",
        "2",
        "--subject",
        "Hi",
        "--text",
        body,
        "--attach-name",
        "{{ code }}.txt",
        "--attach-folder",
        folder,
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("\"../secret.txt\" leads out of the folder"),
        "{}",
        run.stdout
    );
    let run = ws.mailroom(&["preview", "2"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("leads out of the folder"), "{}", run.stderr);

    // The database and the password key beside it are never attached, even
    // as a file for everyone.
    std::fs::write(ws.db().with_file_name("secrets.key"), [7u8; 32]).expect("write");
    for own in [ws.db(), ws.db().with_file_name("secrets.key")] {
        let run = ws.mailroom(&[
            "message",
            "1",
            "--subject",
            "Hi",
            "--text",
            body,
            "--attach",
            own.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        assert!(run.stderr.contains("one of Mailroom's own files"), "{}", run.stderr);
    }
}
