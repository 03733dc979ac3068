//! The Settings screen's commands: the person's settings (kept by the
//! engine's settings file), the database file and choosing another, the
//! log level, the logs folder and diagnostics. Each is one engine call, plus
//! applying the result to the window or the OS where that is the point.

// Tauri hands commands and menu handlers their arguments by value.
#![allow(clippy::needless_pass_by_value)]

use std::path::PathBuf;

use mailroom_engine::diagnostics::{DatabaseInfo, Program};
use mailroom_engine::logging::LogLevel;
use mailroom_engine::paths;
use mailroom_engine::settings::{Settings, SettingsFile, Theme};
use mailroom_engine::{Error, Result as EngineResult, Session};
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt as _;

use crate::ipc::IpcResult;
use crate::state::AppState;

/// The settings file, or why there is none.
fn settings_file(state: &AppState) -> EngineResult<&SettingsFile> {
    state.settings.as_ref().ok_or_else(|| Error::SettingsUnwritable {
        path: PathBuf::from("(no home folder)"),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "there is no home folder to keep settings in",
        ),
    })
}

/// The theme as the windowing toolkit takes it: none follows the OS.
pub fn window_theme(theme: Theme) -> Option<tauri::Theme> {
    match theme {
        Theme::System => None,
        Theme::Light => Some(tauri::Theme::Light),
        Theme::Dark => Some(tauri::Theme::Dark),
    }
}

/// The settings as saved (the defaults where none are).
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings.as_ref().map(SettingsFile::load).unwrap_or_default()
}

/// Saves the theme and gives the window's frame and menus the same one.
#[tauri::command]
pub fn set_theme(app: AppHandle, state: State<'_, AppState>, theme: Theme) -> IpcResult<Settings> {
    let settings = settings_file(&state)?.update(|s| s.theme = theme)?;
    app.set_theme(window_theme(theme));
    Ok(settings)
}

/// Saves the language (none follows the OS).
#[tauri::command]
pub fn set_language(state: State<'_, AppState>, language: Option<String>) -> IpcResult<Settings> {
    Ok(settings_file(&state)?.update(|s| s.language = language)?)
}

/// Saves the log level and applies it to the running log at once.
#[tauri::command]
pub fn set_log_level(state: State<'_, AppState>, level: LogLevel) -> IpcResult<Settings> {
    Ok(settings_file(&state)?.set_log_level(state.log.as_ref(), level)?)
}

/// The database in use: where it is and how big.
#[tauri::command]
pub async fn database_info(state: State<'_, AppState>) -> IpcResult<DatabaseInfo> {
    Ok(DatabaseInfo::of(state.session().await?.path()))
}

/// Uses the database at `path` from now on (an existing Mailroom database or
/// a new file); refused while a campaign sends.
#[tauri::command]
pub async fn choose_database(state: State<'_, AppState>, path: PathBuf) -> IpcResult<DatabaseInfo> {
    Ok(DatabaseInfo::of(state.choose_database(&path).await?.path()))
}

/// "Copy diagnostics": the report as text (the window puts it on the clipboard).
#[tauri::command]
pub async fn diagnostics(app: AppHandle, state: State<'_, AppState>) -> IpcResult<String> {
    let program = Program {
        name: format!("{} (desktop app)", app.package_info().name),
        version: app.package_info().version.to_string(),
        webview: tauri::webview_version().ok().map(|v| format!("{WEBVIEW} {v}")),
        toolkit: Some(format!("Tauri {}", tauri::VERSION)),
    };
    let level = state.settings.as_ref().map(|f| f.load().log_level).unwrap_or_default();
    // The report is made also when the database cannot be opened.
    let report = match state.session().await {
        Ok(session) => session.diagnostics(program, level).await,
        Err(_) => Session::diagnostics_without_session(&paths::database_path(None)?, program, level).await,
    };
    Ok(report.to_text())
}

/// The WebView the platform provides.
const WEBVIEW: &str = if cfg!(target_os = "linux") {
    "WebKitGTK"
} else if cfg!(target_os = "macos") {
    "WKWebView"
} else {
    "WebView2"
};

/// Opens the logs folder in the file manager.
#[tauri::command]
pub fn open_logs_folder(app: AppHandle) -> IpcResult<()> {
    let dir = paths::log_dir().ok_or_else(|| Error::Internal("there is no home folder, so no logs folder".into()))?;
    // The folder exists once the app has logged; make sure it does anyway.
    std::fs::create_dir_all(&dir).map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|e| Error::Internal(format!("cannot open {}: {e}", dir.display())))?;
    Ok(())
}

/// Shows the database file in its folder, in the file manager; where no
/// file manager offers to select a file (on Linux, one without the
/// FileManager1 D-Bus service), opens the folder instead.
#[tauri::command]
pub async fn show_database_folder(app: AppHandle, state: State<'_, AppState>) -> IpcResult<()> {
    let session = state.session().await?;
    let path = session.path();
    let folder = path.parent().unwrap_or(path);
    app.opener()
        .reveal_item_in_dir(path)
        .or_else(|e| {
            tracing::info!(error = %e, "cannot select the database in a file manager; opening its folder");
            app.opener().open_path(folder.display().to_string(), None::<&str>)
        })
        .map_err(|e| Error::Internal(format!("cannot show {}: {e}", folder.display())))?;
    Ok(())
}
