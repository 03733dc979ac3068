//! The native menu bar, with the platform's shortcuts. Its labels come from
//! the window's message catalog (`set_menu`, called again whenever the
//! language or the theme changes), so menus are in the window's language and
//! translations live in one place. Choosing an item tells the window
//! (a `menu` event carrying the item's id), except Quit, which the shell
//! answers itself, and, on Linux, the Edit items, which are WebKit's own
//! editing commands.

// Tauri hands commands and menu handlers their arguments by value.
#![allow(clippy::needless_pass_by_value)]

use serde::Deserialize;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use mailroom_engine::settings::Theme;

use crate::ipc::IpcResult;

/// Every label the menus show, in the window's language.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct MenuLabels {
    pub file: String,
    pub import: String,
    pub export_failed: String,
    pub settings: String,
    pub quit: String,
    pub edit: String,
    pub undo: String,
    pub redo: String,
    pub cut: String,
    pub copy: String,
    pub paste: String,
    pub select_all: String,
    pub view: String,
    pub language: String,
    pub theme: String,
    pub theme_system: String,
    pub theme_light: String,
    pub theme_dark: String,
    pub help: String,
    pub open_logs: String,
    pub copy_diagnostics: String,
    pub about: String,
    /// macOS's application and Window menus.
    pub services: String,
    pub hide: String,
    pub hide_others: String,
    pub show_all: String,
    pub window: String,
    pub minimize: String,
    pub zoom: String,
}

/// A language the View menu offers: its code and its own name.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct MenuLanguage {
    pub code: String,
    pub name: String,
}

/// The event the window receives with a chosen item's id.
pub const MENU_EVENT: &str = "menu";

/// Ids the shell answers itself.
const QUIT: &str = "quit";
const EDIT_PREFIX: &str = "edit:";

/// Builds the menus from `labels`, with `language` and `theme` checked, and
/// sets them as the app's menu bar.
#[tauri::command]
pub fn set_menu(
    app: AppHandle,
    labels: MenuLabels,
    languages: Vec<MenuLanguage>,
    language: String,
    theme: Theme,
) -> IpcResult<()> {
    let menu = build(&app, &labels, &languages, &language, theme).map_err(internal)?;
    app.set_menu(menu).map_err(internal)?;
    Ok(())
}

/// Quit from the menu: asks the window first while a campaign sends or
/// waits for its scheduled start, the same question as closing the window
/// (`background::request_close`); otherwise quits.
#[tauri::command]
pub fn quit(app: AppHandle) {
    crate::background::request_close(&app);
}

/// What a menu choice does.
pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    if id == QUIT {
        crate::background::request_close(app);
    } else if let Some(command) = id.strip_prefix(EDIT_PREFIX) {
        edit(app, command);
    } else if let Err(e) = app.emit(MENU_EVENT, id) {
        tracing::warn!(error = %e, id, "could not tell the window about a menu choice");
    }
}

fn internal(e: tauri::Error) -> crate::ipc::IpcError {
    mailroom_engine::Error::Internal(format!("the menu could not be built: {e}")).into()
}

/// On Linux, GTK's stock Edit items do nothing in a WebView (they need
/// libxdo to fake keystrokes), so the items are plain ones that run
/// WebKit's own editing commands on the focused field.
#[cfg(target_os = "linux")]
fn edit<R: Runtime>(app: &AppHandle<R>, command: &str) {
    use webkit2gtk::WebViewExt as _;
    let command = match command {
        "undo" => "Undo",
        "redo" => "Redo",
        "cut" => "Cut",
        "copy" => "Copy",
        "paste" => "Paste",
        "select_all" => "SelectAll",
        _ => return,
    };
    for webview in app.webview_windows().into_values() {
        if let Err(e) = webview.with_webview(move |platform| platform.inner().execute_editing_command(command)) {
            tracing::warn!(error = %e, command, "could not run an Edit command");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn edit<R: Runtime>(_app: &AppHandle<R>, _command: &str) {}

fn build<R: Runtime>(
    app: &AppHandle<R>,
    labels: &MenuLabels,
    languages: &[MenuLanguage],
    language: &str,
    theme: Theme,
) -> tauri::Result<Menu<R>> {
    let separator = || PredefinedMenuItem::separator(app);
    let item = |id: &str, label: &str, accelerator: Option<&str>| MenuItem::with_id(app, id, label, true, accelerator);
    let check =
        |id: &str, label: &str, checked: bool| CheckMenuItem::with_id(app, id, label, true, checked, None::<&str>);
    let about = MenuItem::with_id(app, "about", &labels.about, true, None::<&str>)?;
    let settings = item("settings", &labels.settings, Some("CmdOrCtrl+,"))?;
    let quit = item(QUIT, &labels.quit, Some("CmdOrCtrl+Q"))?;

    let mut file: Items<R> = vec![
        item("import", &labels.import, Some("CmdOrCtrl+O"))?.boxed(),
        item("export_failed", &labels.export_failed, Some("CmdOrCtrl+E"))?.boxed(),
    ];
    if !cfg!(target_os = "macos") {
        file.extend([
            separator()?.boxed(),
            settings.clone().boxed(),
            separator()?.boxed(),
            quit.clone().boxed(),
        ]);
    }

    let edit: Items<R> = if cfg!(target_os = "linux") {
        let edit_item =
            |id: &str, label: &str| MenuItem::with_id(app, format!("{EDIT_PREFIX}{id}"), label, true, None::<&str>);
        vec![
            edit_item("undo", &labels.undo)?.boxed(),
            edit_item("redo", &labels.redo)?.boxed(),
            separator()?.boxed(),
            edit_item("cut", &labels.cut)?.boxed(),
            edit_item("copy", &labels.copy)?.boxed(),
            edit_item("paste", &labels.paste)?.boxed(),
            edit_item("select_all", &labels.select_all)?.boxed(),
        ]
    } else {
        vec![
            PredefinedMenuItem::undo(app, Some(&labels.undo))?.boxed(),
            PredefinedMenuItem::redo(app, Some(&labels.redo))?.boxed(),
            separator()?.boxed(),
            PredefinedMenuItem::cut(app, Some(&labels.cut))?.boxed(),
            PredefinedMenuItem::copy(app, Some(&labels.copy))?.boxed(),
            PredefinedMenuItem::paste(app, Some(&labels.paste))?.boxed(),
            PredefinedMenuItem::select_all(app, Some(&labels.select_all))?.boxed(),
        ]
    };

    let language_items = languages
        .iter()
        .map(|l| check(&format!("language:{}", l.code), &l.name, l.code == language).map(Boxed::boxed))
        .collect::<tauri::Result<Vec<_>>>()?;
    let theme_items: Items<R> = vec![
        check("theme:system", &labels.theme_system, theme == Theme::System)?.boxed(),
        check("theme:light", &labels.theme_light, theme == Theme::Light)?.boxed(),
        check("theme:dark", &labels.theme_dark, theme == Theme::Dark)?.boxed(),
    ];
    let view = Submenu::with_items(
        app,
        &labels.view,
        true,
        &[
            &Submenu::with_items(app, &labels.language, true, &refs(&language_items))?,
            &Submenu::with_items(app, &labels.theme, true, &refs(&theme_items))?,
        ],
    )?;

    let mut help: Items<R> = vec![
        item("open_logs", &labels.open_logs, None)?.boxed(),
        item("copy_diagnostics", &labels.copy_diagnostics, None)?.boxed(),
    ];
    if !cfg!(target_os = "macos") {
        help.extend([separator()?.boxed(), about.clone().boxed()]);
    }

    let mut menus: Vec<Submenu<R>> = Vec::new();
    if cfg!(target_os = "macos") {
        // The application menu: About (the app's own window, with version
        // and licences), Settings, the system's items, Quit.
        let name = app.package_info().name.clone();
        menus.push(Submenu::with_items(
            app,
            &name,
            true,
            &[
                &about,
                &separator()?,
                &settings,
                &separator()?,
                &PredefinedMenuItem::services(app, Some(&labels.services))?,
                &separator()?,
                &PredefinedMenuItem::hide(app, Some(&labels.hide))?,
                &PredefinedMenuItem::hide_others(app, Some(&labels.hide_others))?,
                &PredefinedMenuItem::show_all(app, Some(&labels.show_all))?,
                &separator()?,
                &quit,
            ],
        )?);
    }
    menus.push(Submenu::with_items(app, &labels.file, true, &refs(&file))?);
    menus.push(Submenu::with_items(app, &labels.edit, true, &refs(&edit))?);
    menus.push(view);
    if cfg!(target_os = "macos") {
        menus.push(Submenu::with_items(
            app,
            &labels.window,
            true,
            &[
                &PredefinedMenuItem::minimize(app, Some(&labels.minimize))?,
                &PredefinedMenuItem::maximize(app, Some(&labels.zoom))?,
            ],
        )?);
    }
    menus.push(Submenu::with_items(app, &labels.help, true, &refs(&help))?);
    let menu = Menu::new(app)?;
    for submenu in &menus {
        menu.append(submenu)?;
    }
    Ok(menu)
}

/// Menu entries of different kinds, in order.
type Items<R> = Vec<Box<dyn IsMenuItem<R>>>;

/// Boxes an item for an [`Items`] list.
trait Boxed<R: Runtime> {
    fn boxed(self) -> Box<dyn IsMenuItem<R>>;
}

impl<R: Runtime, T: IsMenuItem<R> + 'static> Boxed<R> for T {
    fn boxed(self) -> Box<dyn IsMenuItem<R>> {
        Box::new(self)
    }
}

/// The items as the menu API takes them.
fn refs<R: Runtime>(items: &Items<R>) -> Vec<&dyn IsMenuItem<R>> {
    items.iter().map(AsRef::as_ref).collect()
}
