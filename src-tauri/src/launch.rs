//! Files the operating system hands the app to open: on the command line at
//! launch ("Open with", a double-click on a `.csv`: the `.desktop` file's
//! `%F`, Windows' `"%1"`), on a second launch (which the single-instance
//! plugin forwards here before that process exits), and macOS's open-file
//! events. The newest one is kept until the window takes it
//! (`take_opened_file`), and an `open-file` event tells a window already
//! running to take it; a window that starts later asks on its own, so a file
//! given before the page has loaded is not lost.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The event that tells the window a file is waiting (no payload: the window
/// takes the file with `take_opened_file`, so it is taken exactly once).
pub const OPEN_FILE_EVENT: &str = "open-file";

/// The file waiting for the window, if any.
#[derive(Debug, Default)]
pub struct OpenedFile(Mutex<Option<PathBuf>>);

impl OpenedFile {
    /// Keeps `path` as the file to open, replacing one not yet taken (the
    /// newest request is the one the person wants to see).
    pub fn offer(&self, path: PathBuf) {
        if let Ok(mut waiting) = self.0.lock() {
            *waiting = Some(path);
        }
    }

    /// The waiting file, once.
    pub fn take(&self) -> Option<PathBuf> {
        self.0.lock().ok().and_then(|mut waiting| waiting.take())
    }
}

/// The file to open among a launch's arguments (`args` without the program
/// itself): the first that is not an option, as a path (a `file://` URL is
/// turned into one), a relative path taken from `cwd`, the folder the launch
/// was made in. Several files at once (a selection opened together) open the
/// first: the window imports one list at a time.
pub fn file_in_args<S: AsRef<str>>(args: &[S], cwd: &Path) -> Option<PathBuf> {
    args.iter().map(AsRef::as_ref).find_map(|arg| {
        if arg.is_empty() || arg.starts_with('-') {
            // Options, such as macOS's old `-psn_…` process serial number.
            return None;
        }
        if arg.starts_with("file:") {
            return tauri::Url::parse(arg).ok()?.to_file_path().ok();
        }
        Some(cwd.join(arg))
    })
}

/// Offers the file among this process's own arguments, if any (a launch
/// through "Open with", or `mailroom-app list.csv`).
pub fn offer_own_args(opened: &OpenedFile) {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(path) = file_in_args(&args, &cwd) {
        tracing::info!(file = %path.display(), "opening the file given at launch");
        opened.offer(path);
    }
}

/// A second launch: its arguments (with its program first) and the folder it
/// was started in. Brings the running window forward and opens its file there.
#[allow(clippy::needless_pass_by_value)] // the plugin's callback type
pub fn on_second_launch<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>, cwd: String) {
    tracing::info!("a second launch handed over to this window");
    if let Some(window) = app.get_webview_window("main") {
        // Each may fail on a platform without the notion; the file still opens.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    if let Some(path) = file_in_args(argv.get(1..).unwrap_or_default(), Path::new(&cwd)) {
        offer(app, path);
    }
}

/// Keeps `path` for the window and tells it so.
pub fn offer<R: Runtime>(app: &AppHandle<R>, path: PathBuf) {
    tracing::info!(file = %path.display(), "a file to open");
    app.state::<OpenedFile>().offer(path);
    if let Err(e) = app.emit(OPEN_FILE_EVENT, ()) {
        tracing::warn!(error = %e, "could not tell the window about a file to open");
    }
}

/// The app's run loop events: macOS delivers files opened from Finder (and
/// dropped on the Dock icon) as `Opened` events, not arguments.
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: tauri::RunEvent) {
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    if let tauri::RunEvent::Opened { urls } = event {
        if let Some(path) = urls.iter().find_map(|url| url.to_file_path().ok()) {
            offer(app, path);
        }
    }
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    let _ = (app, event);
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{OpenedFile, file_in_args};

    #[test]
    fn the_first_argument_that_is_not_an_option_is_the_file_relative_to_the_launch_folder() {
        let cwd = Path::new("/home/ann/Documents");
        assert_eq!(file_in_args::<&str>(&[], cwd), None);
        assert_eq!(file_in_args(&["-psn_0_12345"], cwd), None);
        assert_eq!(
            file_in_args(&["--flag", "list.csv", "other.csv"], cwd),
            Some(cwd.join("list.csv"))
        );
        assert_eq!(
            file_in_args(&["/tmp/春季名单.xlsx"], cwd),
            Some(PathBuf::from("/tmp/春季名单.xlsx"))
        );
    }

    #[test]
    fn a_file_url_becomes_its_path() {
        assert_eq!(
            file_in_args(&["file:///tmp/spring%20list.csv"], Path::new("/")),
            Some(PathBuf::from("/tmp/spring list.csv"))
        );
    }

    #[test]
    fn the_newest_offer_is_taken_once() {
        let opened = OpenedFile::default();
        assert_eq!(opened.take(), None);
        opened.offer(PathBuf::from("/a.csv"));
        opened.offer(PathBuf::from("/b.csv"));
        assert_eq!(opened.take(), Some(PathBuf::from("/b.csv")));
        assert_eq!(opened.take(), None);
    }
}
