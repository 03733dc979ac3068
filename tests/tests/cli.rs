//! The `mailroom` CLI end to end: a real binary, a real CSV file, a real
//! SQLite database in a temporary directory.

use mailroom_e2e::Workspace;

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
    assert_eq!(rows[2]["reason"], "invalid address: the address has no @");

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
