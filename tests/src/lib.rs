//! Helpers for Mailroom's end-to-end tests: the real `mailroom` binary, run
//! against a database and files in a temporary directory.
//!
//! [`smtp_server`] is the scripted SMTP test server (fault injection);
//! [`fuzz`] the fuzz harness (docs/FUZZING.md); [`mailserver`] starts real
//! Dovecot and Postfix servers for the bounce tests.

pub mod fixtures;
pub mod fuzz;
pub mod mailserver;
pub mod raw_peer;
pub mod smtp_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `mailroom` CLI binary: `$MAILROOM_CLI` if set (scripts/test.sh passes
/// the one the workspace build made), else built once per test process with
/// the tests' profile, so `cargo test` alone is enough.
pub fn mailroom_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| binary("MAILROOM_CLI", "mailroom-cli", "mailroom"))
}

/// The desktop app's binary: `$MAILROOM_APP` if set, else built like
/// [`mailroom_binary`] (the UI must be in `ui/dist` first: `npm --prefix ui run build`).
pub fn app_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| binary("MAILROOM_APP", "mailroom-app", "mailroom-app"))
}

fn binary(env: &str, package: &str, bin: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    escargot::CargoBuild::new()
        .package(package)
        .bin(bin)
        .current_release()
        .current_target()
        .run()
        .unwrap_or_else(|e| panic!("cannot build {bin}: {e}"))
        .path()
        .to_owned()
}

/// The `smtp add` arguments of account `name` for a server on
/// 127.0.0.1:`port` without encryption; a test adds the login, the sender and
/// what it is about.
pub fn smtp_add_local<'a>(name: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "smtp",
        "add",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--security",
        "none",
    ]
}

/// The `message` arguments that give campaign `campaign` the subject
/// `subject` and the text in file `body`.
pub fn message_args<'a>(campaign: &'a str, subject: &'a str, body: &'a Path) -> Vec<&'a str> {
    vec![
        "message",
        campaign,
        "--subject",
        subject,
        "--text",
        body.to_str().unwrap_or_default(),
    ]
}

/// A scratch directory with its own database, and a way to run the CLI on it.
#[derive(Debug)]
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// What one CLI run did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// [`Workspace::mailroom`] from an async test: the CLI is a child process
/// waited on, so it runs on tokio's blocking threads, and the test's own
/// servers (on the runtime) keep answering it meanwhile.
pub async fn mailroom_async(ws: &std::sync::Arc<Workspace>, args: &[&str]) -> Run {
    let ws = ws.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ws.mailroom(&args)
    })
    .await
    .unwrap_or_else(|e| panic!("the CLI's thread: {e}"))
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
        }
    }

    /// The database, in a folder of its own: a file dialog browsing the
    /// workspace's files must not open it. (Any close() of the file in the
    /// app's process drops SQLite's POSIX locks, after which another process,
    /// such as the CLI, may checkpoint and reset the WAL under the app.)
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data").join("mailroom.db")
    }

    /// Writes a file into the workspace and returns its path.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {name}: {e}"));
        path
    }

    /// Runs `mailroom --db <workspace db> ARGS...` with logs kept in the workspace.
    pub fn mailroom(&self, args: &[&str]) -> Run {
        let mut command = Command::new(mailroom_binary());
        command.arg("--db").arg(self.db()).args(args);
        self.isolate(&mut command);
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run mailroom: {e}"))
            .into()
    }

    /// Adds SMTP account `name` for a server on 127.0.0.1:`port`: no TLS, no
    /// login, sending as news@example.com; `options` adds more `smtp add`
    /// options. Panics if the CLI refuses.
    pub fn add_local_account(&self, name: &str, port: u16, options: &[&str]) {
        let port = port.to_string();
        let mut args = smtp_add_local(name, &port);
        args.extend_from_slice(&["--auth", "none", "--from", "news@example.com"]);
        args.extend_from_slice(options);
        let run = self.mailroom(&args);
        assert!(run.success(), "{args:?}: {}", run.stderr);
    }

    /// Runs the CLI like [`Workspace::mailroom`] with `input` on its stdin.
    pub fn mailroom_with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut command = Command::new(mailroom_binary());
        command.arg("--db").arg(self.db()).args(args);
        self.isolate(&mut command);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run mailroom: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .unwrap_or_else(|e| panic!("cannot write to mailroom's stdin: {e}"));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("cannot run mailroom: {e}"))
            .into()
    }

    /// Runs the CLI with exactly `args` (no `--db`), in this workspace's home.
    pub fn mailroom_raw(&self, args: &[&str]) -> Run {
        let mut command = Command::new(mailroom_binary());
        command.args(args);
        self.isolate(&mut command);
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run mailroom: {e}"))
            .into()
    }

    /// Points every per-user folder at the workspace, so a program under test
    /// never touches the real user's database, settings or logs, nor their
    /// session bus: there a running Mailroom would take a test app's launch
    /// as a second instance's (a test that wants a bus starts its own).
    pub fn isolate(&self, command: &mut Command) {
        use std::os::unix::fs::PermissionsExt as _;
        let home = self.dir.path().join("home");
        // XDG_RUNTIME_DIR must exist and be private, or libraries ignore it.
        let runtime = home.join("runtime");
        std::fs::create_dir_all(&runtime)
            .and_then(|()| std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)))
            .unwrap_or_else(|e| panic!("create {}: {e}", runtime.display()));
        command
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            // Never the developer's real keychain: the encrypted-file store.
            .env("MAILROOM_SECRETS", "file")
            .env_remove("MAILROOM_DB");
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}
