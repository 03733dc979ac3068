//! The real app window, end to end: tauri-driver launches the desktop app
//! (WebKitGTK) under Xvfb, the test clicks "Choose file…", answers the native
//! GTK file dialog with xdotool as a person would type, and reads the result
//! on screen.
//!
//! Needs: `DISPLAY` (Xvfb), `tauri-driver` and `WebKitWebDriver` on `PATH`,
//! `xdotool`, and the UI built into `ui/dist`. `scripts/test.sh` provides all
//! of them and runs this with `--features window`. Set
//! `MAILROOM_SCREENSHOT_DIR` to also save screenshots (scripts/screenshots.sh).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mailroom_e2e::{Workspace, app_binary};

const DIALOG_TITLE: &str = "Choose a recipient list";
const WAIT: Duration = Duration::from_secs(60);

/// tauri-driver on a free port, stopped with SIGTERM (after SIGKILL its
/// WebKitWebDriver child lives on and keeps the test's pipes open).
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start(ws: &Workspace) -> Driver {
        let port = free_port();
        let native_port = free_port();
        let home = ws.dir.path().join("home");
        let child = Command::new(std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".to_owned()))
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            // The app inherits this environment: its own database and data
            // folders in the workspace, never the real user's.
            .env("MAILROOM_DB", ws.db())
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("LANG", "en_US.UTF-8")
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tauri-driver (is it on PATH?): {e}"));
        let driver = Driver { child, port };
        wait_until("tauri-driver to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Polls `ready` until it holds; these waits are for other processes (a
/// server starting, a dialog mapping), not for time-based logic.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn xdotool(args: &[&str]) -> String {
    let output = Command::new("xdotool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xdotool: {e}"));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Answers the open-file dialog the way a person at the keyboard would:
/// Ctrl+L for the location field, the path, Enter.
fn answer_file_dialog(path: &Path) {
    let mut window = String::new();
    wait_until("the file dialog", || {
        window = xdotool(&["search", "--onlyvisible", "--name", DIALOG_TITLE])
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        !window.is_empty()
    });
    xdotool(&["windowfocus", "--sync", &window]);
    // The dialog builds its widgets after mapping; give keys a focused entry.
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&["key", "--clearmodifiers", "ctrl+l"]);
    xdotool(&["type", "--delay", "20", &path.display().to_string()]);
    xdotool(&["key", "Return"]);
    wait_until("the file dialog to close", || {
        xdotool(&["search", "--onlyvisible", "--name", DIALOG_TITLE]).is_empty()
    });
}

async fn connect(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "wry".into());
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app_binary() }),
    );
    ClientBuilder::rustls()
        .unwrap_or_else(|e| panic!("WebDriver client: {e}"))
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("cannot open a WebDriver session: {e}"))
}

async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element {css}: {e}"))
}

async fn text(client: &Client, css: &str) -> String {
    let found = element(client, css).await;
    found.text().await.unwrap_or_else(|e| panic!("no text in {css}: {e}"))
}

async fn click(client: &Client, css: &str) {
    let found = element(client, css).await;
    found
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("MAILROOM_SCREENSHOT_DIR").map(PathBuf::from) else {
        return;
    };
    let png = client.screenshot().await.unwrap_or_else(|e| panic!("screenshot: {e}"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    std::fs::write(dir.join(name), png).unwrap_or_else(|e| panic!("write screenshot: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn import_a_csv_through_the_window() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the window test needs an X display: run it through scripts/test.sh (Xvfb)"
    );
    let ws = Workspace::new();
    let phones = ws.file("phones.csv", "name,phone\nAnn,555-0100\n");
    let list = ws.file(
        "spring.csv",
        "name,email,city\n\
         Ann Lee,ann@example.com,Oslo\n\
         李雷,li.lei@example.cn,北京\n\
         Bob,bob-at-example.com,Bergen\n\
         Ann again,ANN@example.com,Oslo\n\
         Zoë Brontë,zoe@example.fr,Paris\n",
    );
    let driver = Driver::start(&ws);
    let client = connect(&driver).await;

    assert_eq!(client.title().await.ok().as_deref(), Some("Mailroom"));
    assert_eq!(text(&client, "[data-screen=recipients]").await, "Recipients");
    screenshot(&client, "recipients-empty.png").await;

    // A file without addresses: the engine's typed error, translated, with its detail.
    click(&client, "[data-testid=choose-file]").await;
    answer_file_dialog(&phones);
    let banner = text(&client, "[data-testid=error]").await;
    assert!(banner.contains("No column with email addresses was found."), "{banner}");
    assert!(banner.contains("its columns are: name, phone"), "{banner}");

    // The real list: counts and the first rows, non-ASCII intact.
    click(&client, "[data-testid=choose-file]").await;
    answer_file_dialog(&list);
    assert_eq!(text(&client, "[data-testid=count-rows] dd").await, "5");
    assert_eq!(text(&client, "[data-testid=count-valid] dd").await, "3");
    assert_eq!(text(&client, "[data-testid=count-invalid] dd").await, "1");
    assert_eq!(text(&client, "[data-testid=count-duplicates] dd").await, "1");
    assert_eq!(text(&client, "[data-testid=count-suppressed] dd").await, "0");
    let preview = text(&client, "[data-testid=preview]").await;
    assert!(preview.contains("李雷"), "{preview}");
    assert!(preview.contains("北京"), "{preview}");
    assert!(preview.contains("Zoë Brontë"), "{preview}");
    let problems = text(&client, "[data-testid=problems]").await;
    assert!(problems.contains("The address has no @"), "{problems}");
    assert!(problems.contains("Duplicate of row 2"), "{problems}");
    let status = text(&client, ".statusbar").await;
    assert!(status.contains(&ws.db().display().to_string()), "{status}");
    screenshot(&client, "recipients-imported.png").await;

    // The same database the CLI reads: the window wrote what it showed.
    let run = ws.mailroom(&["--json", "status", "spring"]);
    assert!(run.success(), "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["counts"]["pending"], 3);
    assert_eq!(summary["counts"]["skipped"], 2);

    // The Results screen lists it.
    click(&client, "[data-screen=results]").await;
    let campaigns = text(&client, "[data-testid=campaigns]").await;
    assert!(campaigns.contains("spring"), "{campaigns}");

    // Switching language re-renders every string.
    click(&client, "[data-screen=recipients]").await;
    client
        .execute(
            "const s = document.querySelector('[data-testid=language]'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("switch language: {e}"));
    assert_eq!(text(&client, "[data-screen=recipients]").await, "收件人");
    screenshot(&client, "recipients-zh.png").await;

    let _ = client.close().await;
}
