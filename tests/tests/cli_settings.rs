//! `mailroom settings` and `mailroom diagnostics` end to end: the settings
//! file the desktop app shares, the database chosen there, and the report
//! "Copy diagnostics" makes, on a real database with a real log folder.

use mailroom_e2e::Workspace;

const LIST: &str = "name,email\n\
                    Ann,ann.lee@example.com\n\
                    李雷,li.lei@example.cn\n";

/// The isolated per-user folders Workspace::isolate points the CLI at.
fn settings_file(ws: &Workspace) -> std::path::PathBuf {
    ws.dir.path().join("home/config/org.mailroom.desktop/settings.json")
}

#[test]
fn settings_are_shown_changed_and_kept_in_the_shared_file() {
    let ws = Workspace::new();
    let run = ws.mailroom_raw(&["--json", "settings"]);
    assert!(run.success(), "{}", run.stderr);
    let shown = run.json();
    assert_eq!(shown["settings"]["theme"], "system");
    assert_eq!(shown["settings"]["log_level"], "info");
    assert_eq!(shown["settings"]["language"], serde_json::Value::Null);
    assert_eq!(shown["file"], settings_file(&ws).display().to_string());

    let run = ws.mailroom_raw(&[
        "settings",
        "--theme",
        "dark",
        "--log-level",
        "debug",
        "--language",
        "zh-CN",
    ]);
    assert!(run.success(), "{}", run.stderr);
    assert!(run.stdout.contains("Theme       dark"), "{}", run.stdout);
    assert!(run.stdout.contains("Log level   debug"), "{}", run.stdout);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(settings_file(&ws)).expect("the settings file")).expect("JSON");
    assert_eq!(kept["theme"], "dark");
    assert_eq!(kept["log_level"], "debug");
    assert_eq!(kept["language"], "zh-CN");

    // Back to following the OS; the other settings stay.
    let run = ws.mailroom_raw(&["--json", "settings", "--language", "system"]);
    assert!(run.success(), "{}", run.stderr);
    assert_eq!(run.json()["settings"]["language"], serde_json::Value::Null);
    assert_eq!(run.json()["settings"]["theme"], "dark");

    let run = ws.mailroom_raw(&["settings", "--theme", "purple"]);
    assert!(!run.success());
    assert!(run.stderr.contains("purple"), "{}", run.stderr);
}

#[test]
fn a_chosen_database_is_where_the_cli_works_until_the_default_is_chosen_again() {
    let ws = Workspace::new();
    let chosen = ws.dir.path().join("work files").join("clients.db");
    let run = ws.mailroom_raw(&["settings", "--database", chosen.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    assert!(chosen.exists(), "choosing a new file creates the database");

    // No --db: the CLI opens the chosen file.
    let list = ws.file("list.csv", LIST);
    let run = ws.mailroom_raw(&["--json", "import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    let run = ws.mailroom_raw(&["--json", "--db", chosen.to_str().expect("utf-8 path"), "campaigns"]);
    assert_eq!(run.json().as_array().map(Vec::len), Some(1), "{}", run.stdout);
    let default = ws.dir.path().join("home/data/org.mailroom.desktop/mailroom.db");
    assert!(!default.exists(), "the default database was used instead");

    // $MAILROOM_DB and --db still win over the choice.
    let run = ws.mailroom_raw(&["--json", "settings"]);
    assert_eq!(run.json()["database_in_use"], chosen.display().to_string());

    let run = ws.mailroom_raw(&["--json", "settings", "--default-database"]);
    assert!(run.success(), "{}", run.stderr);
    assert_eq!(run.json()["database_in_use"], default.display().to_string());
}

#[test]
fn another_programs_database_is_refused_and_not_remembered() {
    let ws = Workspace::new();
    let foreign = ws.dir.path().join("photos.db");
    {
        let conn = rusqlite::Connection::open(&foreign).expect("a SQLite file");
        conn.execute_batch("CREATE TABLE photos (name TEXT); INSERT INTO photos VALUES ('cat.jpg');")
            .expect("a table");
    }
    let before = std::fs::read(&foreign).expect("read");
    let run = ws.mailroom_raw(&["settings", "--database", foreign.to_str().expect("utf-8 path")]);
    assert!(!run.success());
    assert_eq!(
        run.stderr.trim(),
        format!(
            "mailroom: cannot open the database {}: it is not a Mailroom database",
            foreign.display()
        )
    );
    assert_eq!(std::fs::read(&foreign).expect("read"), before, "the file changed");
    let run = ws.mailroom_raw(&["--json", "settings"]);
    assert_eq!(run.json()["settings"]["database"], serde_json::Value::Null);
}

#[test]
fn diagnostics_name_the_database_and_the_latest_problems_but_no_address() {
    let ws = Workspace::new();
    let list = ws.file("list.csv", LIST);
    let run = ws.mailroom(&["import", list.to_str().expect("utf-8 path")]);
    assert!(run.success(), "{}", run.stderr);
    // A problem as the app logs it, naming a recipient.
    let logs = ws.dir.path().join("home/data/org.mailroom.desktop/logs");
    std::fs::create_dir_all(&logs).expect("log folder");
    std::fs::write(
        logs.join("mailroom-app.2026-03-01.log"),
        "2026-03-01T10:00:00.000000Z  WARN mailroom_app::ipc: 550 5.1.1 <li.lei@example.cn>: no such user\n",
    )
    .expect("a log");

    let run = ws.mailroom(&["diagnostics"]);
    assert!(run.success(), "{}", run.stderr);
    let text = &run.stdout;
    assert!(text.starts_with("Mailroom diagnostics\n"), "{text}");
    assert!(
        text.contains(&format!("Program:    mailroom (CLI) {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains(&ws.db().display().to_string()), "{text}");
    assert!(text.contains("1 campaigns, 1 SMTP accounts"), "{text}");
    assert!(text.contains(&logs.display().to_string()), "{text}");
    assert!(text.contains("550 5.1.1 <<address>>: no such user"), "{text}");
    assert!(!text.contains('@'), "an address is in the report:\n{text}");

    let run = ws.mailroom(&["--json", "diagnostics"]);
    assert!(run.success(), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["database"]["path"], ws.db().display().to_string());
    assert!(report["database"]["bytes"].as_u64().is_some_and(|b| b > 0), "{report}");
    assert_eq!(report["passwords"], "encrypted_file");
    assert_eq!(report["log_level"], "info");
}
