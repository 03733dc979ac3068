//! "Copy diagnostics": what a person pastes into a bug report. Versions, the
//! OS, the WebView, the database (where, how big, which schema), the log
//! folder and level, where passwords are kept, and the latest warnings and
//! errors from the log — with every email address in them hidden, and never a
//! password (passwords are never logged, and nothing here reads them).

use std::fmt::Write as _;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::logging::LogLevel;
use crate::secrets::SecretStore;
use crate::store::Store;

/// How many warnings and errors the report carries.
pub const RECENT_PROBLEMS: usize = 20;

/// How much of the end of each log file is searched: enough for a day of
/// problems, little enough that a debug-level log does not stall the window.
const TAIL_BYTES: u64 = 512 * 1024;

/// A line longer than this is cut (a server's multi-kilobyte reply, say).
const MAX_LINE: usize = 400;

/// What the front end knows about itself.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// "Mailroom (desktop app)", "mailroom (CLI)".
    pub name: String,
    pub version: String,
    /// The WebView and its version, where there is one.
    pub webview: Option<String>,
    /// The toolkit around it ("Tauri 2.12.5").
    pub toolkit: Option<String>,
}

/// The database as diagnostics describe it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct DatabaseInfo {
    #[cfg_attr(feature = "ts-bindings", ts(type = "string"))]
    pub path: PathBuf,
    /// The file with its write-ahead log, in bytes; none if it cannot be read.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub bytes: Option<u64>,
}

impl DatabaseInfo {
    /// The database at `path` and its size on disk (with `-wal` and `-shm`).
    pub fn of(path: &Path) -> DatabaseInfo {
        let size = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
        };
        let bytes = size("").map(|main| main + size("-wal").unwrap_or(0) + size("-shm").unwrap_or(0));
        DatabaseInfo {
            path: path.to_owned(),
            bytes,
        }
    }
}

/// The report, as `mailroom --json diagnostics` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostics {
    pub program: String,
    pub version: String,
    pub engine_version: String,
    pub os: String,
    pub arch: String,
    pub webview: Option<String>,
    pub toolkit: Option<String>,
    pub database: DatabaseInfo,
    /// The schema version (the newest migration applied), if the database opened.
    pub schema_version: Option<i64>,
    pub campaigns: Option<u64>,
    pub accounts: Option<u64>,
    /// Why the database could not be asked, if it could not.
    pub database_problem: Option<String>,
    pub log_dir: Option<PathBuf>,
    pub log_level: LogLevel,
    /// `keychain` or `encrypted_file`.
    pub passwords: Option<String>,
    /// The latest warnings and errors in the log, oldest first, addresses hidden.
    pub recent_problems: Vec<String>,
}

/// Everything the report is made from.
#[derive(Debug)]
pub struct Sources<'a> {
    pub program: Program,
    pub database: &'a Path,
    /// The open store, to ask for its schema and counts; none if it did not open.
    pub store: Option<&'a Store>,
    pub log_dir: Option<&'a Path>,
    pub log_level: LogLevel,
    pub secrets: Option<&'a SecretStore>,
}

/// Gathers the report. Nothing here fails: what cannot be found is left out
/// and, for the database, said why.
pub async fn collect(sources: Sources<'_>) -> Diagnostics {
    let (schema_version, campaigns, accounts, database_problem) = match sources.store {
        Some(store) => match store.stats().await {
            Ok(stats) => (
                Some(stats.schema_version),
                Some(stats.campaigns),
                Some(stats.accounts),
                None,
            ),
            Err(e) => (None, None, None, Some(redact(&e.to_string()))),
        },
        None => (None, None, None, Some("the database is not open".to_owned())),
    };
    let log_dir = sources.log_dir.map(Path::to_owned);
    let recent_problems = match &log_dir {
        Some(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || recent_problems(&dir, RECENT_PROBLEMS))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let info = os_info::get();
    Diagnostics {
        program: sources.program.name,
        version: sources.program.version,
        engine_version: env!("CARGO_PKG_VERSION").to_owned(),
        os: info.to_string(),
        arch: std::env::consts::ARCH.to_owned(),
        webview: sources.program.webview,
        toolkit: sources.program.toolkit,
        database: DatabaseInfo::of(sources.database),
        schema_version,
        campaigns,
        accounts,
        database_problem,
        log_dir,
        log_level: sources.log_level,
        passwords: sources.secrets.map(|s| s.kind().to_owned()),
        recent_problems,
    }
}

impl Diagnostics {
    /// The report as plain text, for the clipboard and the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let unknown = || "unknown".to_owned();
        let _ = writeln!(out, "Mailroom diagnostics");
        let _ = writeln!(out, "Program:    {} {}", self.program, self.version);
        let _ = writeln!(out, "Engine:     mailroom-engine {}", self.engine_version);
        let _ = writeln!(out, "OS:         {} ({})", self.os, self.arch);
        if let Some(webview) = &self.webview {
            let _ = writeln!(out, "WebView:    {webview}");
        }
        if let Some(toolkit) = &self.toolkit {
            let _ = writeln!(out, "Toolkit:    {toolkit}");
        }
        let size = self.database.bytes.map_or_else(unknown, format_bytes);
        let _ = write!(out, "Database:   {} ({size}", self.database.path.display());
        if let (Some(schema), Some(campaigns), Some(accounts)) = (self.schema_version, self.campaigns, self.accounts) {
            let _ = write!(
                out,
                "; schema {schema}; {campaigns} campaigns, {accounts} SMTP accounts"
            );
        }
        let _ = writeln!(out, ")");
        if let Some(problem) = &self.database_problem {
            let _ = writeln!(out, "            {problem}");
        }
        let logs = self.log_dir.as_ref().map_or_else(unknown, |d| d.display().to_string());
        let _ = writeln!(out, "Logs:       {logs} (level {})", self.log_level);
        let passwords = match self.passwords.as_deref() {
            Some("keychain") => "the system keychain",
            Some(_) => "an encrypted file beside the database",
            None => "unknown",
        };
        let _ = writeln!(out, "Passwords:  {passwords}");
        let _ = writeln!(out, "Recent warnings and errors (email addresses hidden):");
        if self.recent_problems.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for line in &self.recent_problems {
            let _ = writeln!(out, "  {line}");
        }
        out
    }
}

fn format_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    #[allow(clippy::cast_precision_loss)] // a size shown to one decimal
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    }
}

/// The last `max` warnings and errors in the `*.log` files of `dir` (the
/// app's and the CLI's), oldest first, each with its addresses hidden.
pub fn recent_problems(dir: &Path, max: usize) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "log"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    // Newest first; stop once enough problems are found.
    files.sort_by(|a, b| b.cmp(a));
    let mut problems: Vec<String> = Vec::new();
    for (_, path) in files {
        let mut found: Vec<String> = tail(&path).lines().filter(|l| is_problem(l)).map(clip).collect();
        problems.append(&mut found);
        if problems.len() >= max * 2 {
            break;
        }
    }
    // Lines start with their RFC 3339 time, so text order is time order
    // across the app's and the CLI's files.
    problems.sort();
    let skip = problems.len().saturating_sub(max);
    problems.into_iter().skip(skip).map(|line| redact(&line)).collect()
}

/// The last [`TAIL_BYTES`] of a file, from its first whole line.
fn tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start == 0 {
        text
    } else {
        text.split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default()
    }
}

/// tracing's format: `2026-03-01T10:00:00.123456Z  WARN target: message`.
fn is_problem(line: &str) -> bool {
    matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR"))
}

fn clip(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// Anything shaped like an email address (`ann@example.com`, `李雷@例子.中国`,
/// `<bob@x>`), whatever the script.
static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"[^\s<>()\[\]"',;:@=]+@[^\s<>()\[\]"',;:@]+"#).expect("a valid pattern"));

/// A `password`, `passwd` or `secret` key and its value, as tracing writes
/// fields (`password=…`, `"password": "…"`). Passwords are never logged; this
/// is the second lock on that door.
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((?:password|passwd|secret|授权码)"?\s*[=:]\s*"?)[^\s",}]+"#).expect("a valid pattern")
});

/// `line` with every email address and secret-looking field value hidden.
pub fn redact(line: &str) -> String {
    let line = ADDRESS.replace_all(line, "<address>");
    SECRET_FIELD.replace_all(&line, "${1}<hidden>").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_any_script_are_hidden() {
        let cases = [
            ("RCPT TO:<ann@example.com> refused", "RCPT TO:<<address>> refused"),
            (
                "550 5.1.1 李雷@example.cn: no such user",
                "550 5.1.1 <address>: no such user",
            ),
            ("to=\"bob.smith+news@mail.example.org\"", "to=\"<address>\""),
            (
                "from=news@example.com, to=zoë@例子.中国",
                "from=<address>, to=<address>",
            ),
            ("no address here; port 587", "no address here; port 587"),
        ];
        for (line, hidden) in cases {
            assert_eq!(redact(line), hidden, "{line}");
        }
    }

    #[test]
    fn secret_looking_fields_are_hidden() {
        assert_eq!(
            redact("login password=hunter2 user=x"),
            "login password=<hidden> user=x"
        );
        assert_eq!(redact(r#"{"password": "s3cr3t!"}"#), r#"{"password": "<hidden>"}"#);
    }

    #[test]
    fn only_warnings_and_errors_are_kept_newest_last_across_files() {
        let dir = tempfile::tempdir().expect("test step");
        std::fs::write(
            dir.path().join("mailroom-app.2026-03-01.log"),
            "2026-03-01T10:00:00.000001Z  INFO mailroom_app: Mailroom starting\n\
             2026-03-01T10:00:01.000000Z  WARN mailroom_app::ipc: the test message was not sent: 550 ann@example.com unknown\n\
             2026-03-01T10:00:03.000000Z ERROR mailroom_engine::campaign: the campaign paused: 535 authentication failed\n",
        )
        .expect("test step");
        std::fs::write(
            dir.path().join("mailroom-cli.2026-03-01.log"),
            "2026-03-01T10:00:02.000000Z  WARN mailroom_engine::import: row 4 of list.csv: bad\n\
             2026-03-01T10:00:04.000000Z DEBUG mailroom_engine::smtp: EHLO\n",
        )
        .expect("test step");
        std::fs::write(
            dir.path().join("notes.txt"),
            "2026-03-01T10:00:05.000000Z ERROR not a log\n",
        )
        .expect("test step");
        let problems = recent_problems(dir.path(), 20);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("550 <address> unknown"), "{problems:#?}");
        assert!(problems[1].contains("row 4 of list.csv"), "{problems:#?}");
        assert!(problems[2].contains("535 authentication failed"), "{problems:#?}");
        // Only the last `max`.
        let last = recent_problems(dir.path(), 1);
        assert_eq!(last.len(), 1);
        assert!(last[0].contains("535"), "{last:?}");
        assert!(recent_problems(&dir.path().join("missing"), 5).is_empty());
    }

    #[test]
    fn a_big_log_is_read_from_its_end() {
        let dir = tempfile::tempdir().expect("test step");
        let mut text = String::from("2026-03-01T00:00:00.000000Z ERROR mailroom_app: the very first line\n");
        let filler = "2026-03-01T00:00:01.000000Z  INFO mailroom_app: filler filler filler filler\n";
        while text.len() < 2 * usize::try_from(TAIL_BYTES).expect("test step") {
            text.push_str(filler);
        }
        text.push_str("2026-03-01T23:59:59.000000Z  WARN mailroom_app: the last line\n");
        std::fs::write(dir.path().join("mailroom-app.2026-03-01.log"), text).expect("test step");
        let problems = recent_problems(dir.path(), 20);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].ends_with("the last line"), "{problems:#?}");
    }

    /// The whole report, made from a database with recipients and an account
    /// with a password, and a log that mentions both: it names the database
    /// and its size, and holds neither an address nor the password.
    #[tokio::test]
    async fn the_report_never_holds_a_password_or_a_recipient() {
        use crate::import::{ImportOptions, RecipientSource};
        use crate::smtp::{account, manage};

        let dir = tempfile::tempdir().expect("test step");
        let db = dir.path().join("data").join("mailroom.db");
        let store = Store::open(&db).await.expect("test step");
        let secrets = SecretStore::EncryptedFile {
            dir: db.parent().expect("test step").to_owned(),
        };
        let password = "correct-horse-battery-staple";
        let settings = account::preset("gmail").expect("test step").settings("work", None);
        let mut settings = settings;
        settings.username = Some("sender.person@gmail.com".to_owned());
        manage::add_account(&store, &secrets, settings, Some(password.to_owned()))
            .await
            .expect("test step");
        let list = dir.path().join("list.csv");
        let addresses = ["ann.lee@example.com", "李雷@example.cn", "zoe+news@example.fr"];
        std::fs::write(
            &list,
            format!("email,name\n{}\n", addresses.map(|a| format!("{a},x")).join("\n")),
        )
        .expect("test step");
        let options = ImportOptions::default();
        let source = RecipientSource::open(&list, &options).await.expect("test step");
        crate::import::import(&store, source, &options)
            .await
            .expect("test step");

        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("test step");
        std::fs::write(
            logs.join("mailroom-app.2026-03-01.log"),
            format!(
                "2026-03-01T10:00:00.000000Z  WARN mailroom_app::ipc: 550 5.1.1 <{}>: no such user\n\
                 2026-03-01T10:00:01.000000Z ERROR mailroom_engine::smtp: AUTH as sender.person@gmail.com refused password={password}\n\
                 2026-03-01T10:00:02.000000Z  WARN mailroom_engine::campaign: {} and {} failed\n",
                addresses[0], addresses[1], addresses[2]
            ),
        )
        .expect("test step");

        let report = collect(Sources {
            program: Program {
                name: "Mailroom (desktop app)".into(),
                version: "9.9.9".into(),
                webview: Some("WebKitGTK 2.48.0".into()),
                toolkit: Some("Tauri 2".into()),
            },
            database: &db,
            store: Some(&store),
            log_dir: Some(&logs),
            log_level: LogLevel::Debug,
            secrets: Some(&secrets),
        })
        .await;
        let text = report.to_text();
        let json = serde_json::to_string(&report).expect("test step");
        for shown in [&text, &json] {
            assert!(!shown.contains(password), "the password is in the report:\n{shown}");
            for address in addresses.iter().chain(&["sender.person@gmail.com"]) {
                assert!(!shown.contains(address), "{address} is in the report:\n{shown}");
            }
            assert!(
                !shown.contains('@'),
                "something address-like is in the report:\n{shown}"
            );
        }
        assert!(text.contains(&db.display().to_string()), "{text}");
        // The newest migration the engine ships, so that adding one does not
        // break a test about addresses.
        let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .expect("test step")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.split('_').next()?.parse::<i64>().ok()
            })
            .max()
            .expect("test step");
        assert!(
            text.contains(&format!("schema {newest}; 1 campaigns, 2 SMTP accounts")),
            "{text}"
        );
        assert!(text.contains("Mailroom (desktop app) 9.9.9"), "{text}");
        assert!(text.contains("WebView:    WebKitGTK 2.48.0"), "{text}");
        assert!(text.contains("(level debug)"), "{text}");
        assert!(text.contains("an encrypted file beside the database"), "{text}");
        assert!(
            text.contains("no such user") && text.contains("password=<hidden>"),
            "{text}"
        );
        assert!(report.database.bytes.is_some_and(|b| b > 0), "{report:?}");
        assert_eq!(report.recent_problems.len(), 3);
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
