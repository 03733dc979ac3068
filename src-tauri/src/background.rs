//! Running in the background (issue 19): what closing the window (or Quit)
//! asks while a campaign sends or waits for its scheduled start, the tray or
//! menu bar icon that stands for the window while it is away (or, where no
//! tray can be shown, the minimised window), and quitting by itself once
//! nothing is left to send.
//!
//! The decisions are plain functions of an [`Activity`] ([`close_question`],
//! [`quits_by_itself`], [`status_line`]) so they are tested without a window;
//! the rest is Tauri plumbing around them.
//!
//! On Linux the tray is an AppIndicator (libayatana-appindicator, loaded at
//! run time) shown by a StatusNotifier host on the session bus. Either may be
//! missing (a minimal desktop, Xvfb): the library's loader panics then, so
//! [`tray_available`] looks for both before a tray is built, and without
//! them the window is minimised instead of hidden: a hidden window with no
//! tray could never be found again.

// Tauri hands commands their arguments by value.
#![allow(clippy::needless_pass_by_value)]

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mailroom_engine::campaign::schedule;
use mailroom_engine::model::CampaignId;
use serde::{Deserialize, Serialize};
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::ipc::IpcResult;
use crate::schedule::Schedules;
use crate::state::AppState;

/// The event that asks the window about closing; its payload is a [`CloseQuestion`].
pub const CLOSE_EVENT: &str = "close-requested";
const TRAY_ID: &str = "background";
const SHOW: &str = "background:show";
const QUIT: &str = "background:quit";
const STATUS: &str = "background:status";
/// How long after a run ends the app waits for the window to tell its end
/// (the completion notification, [`run_settled`]) before it may quit by itself.
const SETTLE: Duration = Duration::from_secs(30);
/// How often the app looks at what is left while the window is away.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// A scheduled start still to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Upcoming {
    #[ts(type = "number")]
    pub campaign: CampaignId,
    pub name: String,
    /// Unix ms.
    #[ts(type = "number")]
    pub start_at: i64,
    pub time_zone: String,
}

/// What is left for Mailroom to do without its window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// The campaigns sending (a run waiting for its send window included) or
    /// about to: handed to the window by the schedule timer, not yet started.
    pub sending: Vec<String>,
    /// The earliest scheduled start still to come (not a missed one: those
    /// wait for the person whatever happens).
    pub next: Option<Upcoming>,
}

impl Activity {
    pub fn is_idle(&self) -> bool {
        self.sending.is_empty() && self.next.is_none()
    }
}

/// Where the window goes when Mailroom keeps running without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Away {
    /// Hidden, with an icon in the tray or menu bar.
    Tray,
    /// Minimised: no tray can be shown here.
    Minimised,
}

/// What closing the window asks: what runs, what is next, and where the
/// window would go if Mailroom keeps running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct CloseQuestion {
    pub sending: Vec<String>,
    pub next: Option<Upcoming>,
    pub away: Away,
}

/// The question closing the window asks in `activity`, or `None`: nothing
/// sends or waits to start, so closing quits.
pub fn close_question(activity: Activity, tray: bool) -> Option<CloseQuestion> {
    if activity.is_idle() {
        return None;
    }
    Some(CloseQuestion {
        sending: activity.sending,
        next: activity.next,
        away: if tray { Away::Tray } else { Away::Minimised },
    })
}

/// Whether Mailroom, its window `away`, should quit now: nothing sends or
/// is scheduled, and the last run's end has been told (`settling`: not yet).
pub fn quits_by_itself(away: bool, activity: &Activity, settling: bool) -> bool {
    away && activity.is_idle() && !settling
}

/// The tray menu's words, in the window's language. `sending` holds
/// `{name}`; `next` holds `{name}` and `{time}`.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TrayLabels {
    pub tooltip: String,
    pub show: String,
    pub quit: String,
    pub sending: String,
    pub next: String,
    pub idle: String,
}

/// The tray menu's status line: what sends, else what starts next and when
/// (in its schedule's zone, in digits so it reads in any language).
pub fn status_line(labels: &TrayLabels, activity: &Activity) -> String {
    if let Some(name) = activity.sending.first() {
        labels.sending.replace("{name}", name)
    } else if let Some(next) = &activity.next {
        labels
            .next
            .replace("{name}", &next.name)
            .replace("{time}", &schedule::local_time_text(next.start_at, &next.time_zone))
    } else {
        labels.idle.clone()
    }
}

/// The background's state.
#[derive(Debug, Default)]
pub struct Background {
    /// The window is hidden (or minimised) and Mailroom runs on without it.
    away: AtomicBool,
    /// The look-out loop runs ([`watch`]).
    watching: AtomicBool,
    /// Campaigns the window was told to start or is sending (`start_campaign`
    /// holds a [`RunClaim`]), so the moment between the schedule timer's
    /// hand-over and the run's start never looks idle.
    claimed: Mutex<HashSet<CampaignId>>,
    /// When the last run here ended, until the window says it has told its end.
    ended_at: Mutex<Option<Instant>>,
    /// The tray menu's words and its status line as last shown.
    labels: Mutex<Option<TrayLabels>>,
    shown_status: Mutex<String>,
}

impl Background {
    /// Campaign `campaign` is on its way to sending from the window.
    pub fn claim(&self, campaign: CampaignId) -> RunClaim<'_> {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.insert(campaign);
        }
        RunClaim {
            background: self,
            campaign,
        }
    }

    /// The schedule timer told the window to start `campaign`: claimed
    /// until that run ends (`start_campaign`'s [`RunClaim`] releases it).
    pub fn hand_over(&self, campaign: CampaignId) {
        if let Ok(mut claimed) = self.claimed.lock() {
            claimed.insert(campaign);
        }
    }

    fn claimed(&self) -> Vec<CampaignId> {
        self.claimed
            .lock()
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }

    fn settling(&self) -> bool {
        self.ended_at
            .lock()
            .is_ok_and(|ended| ended.is_some_and(|at| at.elapsed() < SETTLE))
    }

    pub fn is_away(&self) -> bool {
        self.away.load(Ordering::SeqCst)
    }
}

/// A campaign claimed for a run; dropped when the run has ended (or could
/// not start), which starts the wait for the window to tell its end.
#[derive(Debug)]
pub struct RunClaim<'a> {
    background: &'a Background,
    campaign: CampaignId,
}

impl Drop for RunClaim<'_> {
    fn drop(&mut self) {
        if let Ok(mut ended) = self.background.ended_at.lock() {
            *ended = Some(Instant::now());
        }
        if let Ok(mut claimed) = self.background.claimed.lock() {
            claimed.remove(&self.campaign);
        }
    }
}

/// What is left to do: campaigns sending or claimed, and the next scheduled
/// start. A database that cannot be read leaves only what is known without it.
pub async fn activity<R: Runtime>(app: &AppHandle<R>) -> Activity {
    let state = app.state::<AppState>();
    let mut ids: Vec<CampaignId> = state.running().await;
    ids.extend(app.state::<Background>().claimed());
    ids.sort_unstable();
    ids.dedup();
    let session = match tokio::time::timeout(Duration::from_secs(5), state.session()).await {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "what is scheduled is not known");
            return Activity {
                sending: ids.iter().map(|id| format!("#{id}")).collect(),
                next: None,
            };
        }
        Err(_) => {
            tracing::warn!("what is scheduled is not known: the database did not open in time");
            return Activity {
                sending: ids.iter().map(|id| format!("#{id}")).collect(),
                next: None,
            };
        }
    };
    let mut sending = Vec::with_capacity(ids.len());
    for id in ids {
        let name = session
            .campaign_summary(id)
            .await
            .map_or_else(|_| format!("#{id}"), |summary| summary.name);
        sending.push(name);
    }
    let since = app.state::<Schedules>().since(&session);
    let next = match session.schedules(since).await {
        Ok(all) => all
            .into_iter()
            .filter(|s| !s.missed)
            .filter_map(|s| {
                s.schedule.start_at.map(|start_at| Upcoming {
                    campaign: s.campaign,
                    name: s.name,
                    start_at,
                    time_zone: s.schedule.time_zone,
                })
            })
            .min_by_key(|u| u.start_at),
        Err(e) => {
            tracing::warn!(error = %e, "the schedules could not be read");
            None
        }
    };
    Activity { sending, next }
}

/// Closing the window or Quit: quits when nothing sends or waits to start,
/// else asks the window ([`CLOSE_EVENT`] with a [`CloseQuestion`]).
pub fn request_close<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tracing::debug!("asked to close");
    tauri::async_runtime::spawn(async move {
        let tray = tray_available(&app).await;
        tracing::debug!(tray, "closing: the tray known");
        let activity = activity(&app).await;
        tracing::debug!(?activity, "closing: what is left known");
        match close_question(activity, tray) {
            None => app.exit(0),
            Some(question) => {
                if let Err(e) = app.emit(CLOSE_EVENT, question) {
                    tracing::warn!(error = %e, "could not ask the window about closing");
                }
            }
        }
    });
}

/// "Keep running in the background": the window hides behind a tray icon
/// with `labels`, or, where no tray can be shown, is minimised. Says which.
#[tauri::command]
pub async fn keep_running_in_background(app: AppHandle, labels: TrayLabels) -> IpcResult<Away> {
    let background = app.state::<Background>();
    if let Ok(mut slot) = background.labels.lock() {
        *slot = Some(labels.clone());
    }
    let status = status_line(&labels, &activity(&app).await);
    let tray = tray_available(&app).await;
    let away = if tray && show_tray(&app, &labels, &status) {
        Away::Tray
    } else {
        Away::Minimised
    };
    if let Ok(mut shown) = background.shown_status.lock() {
        *shown = status;
    }
    background.away.store(true, Ordering::SeqCst);
    if let Some(window) = app.get_webview_window("main") {
        let hidden = match away {
            Away::Tray => window.hide(),
            Away::Minimised => window.minimize(),
        };
        if let Err(e) = hidden {
            tracing::warn!(error = %e, ?away, "could not put the window away");
        }
    }
    tracing::info!(?away, "running in the background");
    watch(&app);
    Ok(away)
}

/// The window has told a run's end (its completion notification is out).
/// A run that could not start or paused by itself (`needs_attention`: the
/// server, a quota, a rule) brings the window back to say why, rather than
/// Mailroom quitting in silence; otherwise, with the window away and nothing
/// left, Mailroom quits now.
#[tauri::command]
pub async fn run_settled(app: AppHandle, background: State<'_, Background>, needs_attention: bool) -> IpcResult<()> {
    if let Ok(mut ended) = background.ended_at.lock() {
        *ended = None;
    }
    if comes_back_after_run(background.is_away(), needs_attention) {
        tracing::info!("a run needs the person: the window comes back");
        come_back(&app);
        return Ok(());
    }
    look(&app).await;
    Ok(())
}

/// Whether the window, `away`, comes back after a run that ended as it did.
pub fn comes_back_after_run(away: bool, needs_attention: bool) -> bool {
    away && needs_attention
}

/// Builds the tray icon with its menu (status, Show Mailroom, Quit), or
/// updates the one there. False when it could not be made.
fn show_tray<R: Runtime>(app: &AppHandle<R>, labels: &TrayLabels, status: &str) -> bool {
    let result = tray_menu(app, labels, status).and_then(|menu| {
        if let Some(tray) = app.tray_by_id(TRAY_ID) {
            tray.set_menu(Some(menu))?;
            return tray.set_visible(true);
        }
        let mut builder = TrayIconBuilder::with_id(TRAY_ID)
            .menu(&menu)
            .tooltip(&labels.tooltip)
            .show_menu_on_left_click(true)
            .on_menu_event(on_tray_menu);
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        builder.build(app).map(|_| ())
    });
    result
        .inspect_err(|e| tracing::warn!(error = %e, "the tray icon could not be made"))
        .is_ok()
}

fn tray_menu<R: Runtime>(app: &AppHandle<R>, labels: &TrayLabels, status: &str) -> tauri::Result<Menu<R>> {
    Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, STATUS, status, false, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, SHOW, &labels.show, true, None::<&str>)?,
            &MenuItem::with_id(app, QUIT, &labels.quit, true, None::<&str>)?,
        ],
    )
}

fn on_tray_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        SHOW => come_back(app),
        QUIT => {
            // Quit while sending pauses first: the mails on their way finish
            // and are recorded, as "Pause and quit" does.
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                app.state::<AppState>().pause_all_runs().await;
                app.exit(0);
            });
        }
        _ => {}
    }
}

/// Show Mailroom: the window comes back and the tray goes.
pub fn come_back<R: Runtime>(app: &AppHandle<R>) {
    app.state::<Background>().away.store(false, Ordering::SeqCst);
    if let Some(window) = app.get_webview_window("main") {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!(error = %e, "could not show the window");
        }
    }
    if let Some(tray) = app.remove_tray_by_id(TRAY_ID)
        && let Err(e) = tray.set_visible(false)
    {
        tracing::warn!(error = %e, "could not take the tray icon away");
    }
}

/// The window was brought back by the person (a minimised window restored).
pub fn on_focus<R: Runtime>(app: &AppHandle<R>) {
    let background = app.state::<Background>();
    if background.is_away() && app.tray_by_id(TRAY_ID).is_none() {
        background.away.store(false, Ordering::SeqCst);
        tracing::info!("the window is back: no longer in the background");
    }
}

/// Looks at what is left every [`LOOK_EVERY`] while the window is away.
fn watch<R: Runtime>(app: &AppHandle<R>) {
    let background = app.state::<Background>();
    if background.watching.swap(true, Ordering::SeqCst) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(LOOK_EVERY).await;
            let background = app.state::<Background>();
            if !background.is_away() {
                background.watching.store(false, Ordering::SeqCst);
                return;
            }
            look(&app).await;
        }
    });
}

/// Updates the tray's status line and quits when nothing is left.
async fn look<R: Runtime>(app: &AppHandle<R>) {
    let background = app.state::<Background>();
    if !background.is_away() {
        return;
    }
    let activity = activity(app).await;
    if quits_by_itself(background.is_away(), &activity, background.settling()) {
        tracing::info!("nothing left to send or scheduled: quitting");
        app.exit(0);
        return;
    }
    let labels = background.labels.lock().ok().and_then(|l| l.clone());
    if let (Some(labels), Some(tray)) = (labels, app.tray_by_id(TRAY_ID)) {
        let status = status_line(&labels, &activity);
        let changed = background.shown_status.lock().is_ok_and(|mut shown| {
            let changed = *shown != status;
            shown.clone_from(&status);
            changed
        });
        if changed && let Err(e) = tray_menu(app, &labels, &status).and_then(|menu| tray.set_menu(Some(menu))) {
            tracing::warn!(error = %e, "could not update the tray's status");
        }
    }
}

/// Whether a tray icon can be shown here. Linux: the AppIndicator library
/// loads and a StatusNotifier host listens on the session bus. Elsewhere
/// the tray (Windows) and the menu bar (macOS) are always there.
#[cfg(target_os = "linux")]
pub async fn tray_available<R: Runtime>(app: &AppHandle<R>) -> bool {
    // Loaded once, on the main thread, where GTK and the tray use it (a
    // library's constructors run under the loader's lock: not beside GTK).
    static LOADS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let loads = match LOADS.get() {
        Some(&loads) => loads,
        None => {
            let (sender, answer) = tokio::sync::oneshot::channel();
            let asked = app.run_on_main_thread(move || {
                let _ignored = sender.send(*LOADS.get_or_init(appindicator_loads));
            });
            asked.is_ok() && answer.await.unwrap_or(false)
        }
    };
    // The bus may gain or lose its host at any time: asked each time.
    loads && tokio::task::spawn_blocking(status_notifier_host).await.unwrap_or(false)
}

#[cfg(not(target_os = "linux"))]
pub async fn tray_available<R: Runtime>(_app: &AppHandle<R>) -> bool {
    true
}

/// The names libappindicator-sys tries, in its order.
#[cfg(target_os = "linux")]
const APPINDICATOR_NAMES: [&str; 4] = [
    "libayatana-appindicator3.so.1",
    "libappindicator3.so.1",
    "libayatana-appindicator3.so",
    "libappindicator3.so",
];

/// Whether libappindicator-sys's loader finds its library. Its loader
/// panics when none loads (and stays poisoned), so first the library is
/// looked for where the dynamic loader looks, which keeps that panic (and
/// its message) for the rare library that is there but does not load;
/// then the loader runs inside `catch_unwind`.
#[cfg(target_os = "linux")]
fn appindicator_loads() -> bool {
    let dirs = library_dirs();
    let present = APPINDICATOR_NAMES
        .iter()
        .any(|name| dirs.iter().any(|dir| dir.join(name).exists()));
    if !present {
        tracing::info!("no AppIndicator library: no tray icon");
        return false;
    }
    std::panic::catch_unwind(|| {
        let _loaded = &*libappindicator_sys::LIB;
    })
    .inspect_err(|_| tracing::warn!("the AppIndicator library did not load: no tray icon"))
    .is_ok()
}

/// The folders the dynamic loader searches: `LD_LIBRARY_PATH`, those
/// `/etc/ld.so.conf` names (with its includes), and the system's own.
#[cfg(target_os = "linux")]
fn library_dirs() -> Vec<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    fn read_conf(path: &Path, dirs: &mut Vec<PathBuf>, depth: u8) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        for line in text.lines().map(str::trim) {
            if let Some(pattern) = line.strip_prefix("include") {
                // "include /etc/ld.so.conf.d/*.conf": a folder's files.
                let pattern = Path::new(pattern.trim());
                let (Some(dir), Some(suffix)) = (
                    pattern.parent(),
                    pattern
                        .file_name()
                        .and_then(|n| n.to_str())
                        .map(|n| n.trim_start_matches('*')),
                ) else {
                    continue;
                };
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let file = entry.path();
                    if depth < 4 && file.to_string_lossy().ends_with(suffix) {
                        read_conf(&file, dirs, depth + 1);
                    }
                }
            } else if line.starts_with('/') {
                dirs.push(PathBuf::from(line));
            }
        }
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    read_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    dirs.extend(["/lib64", "/usr/lib64", "/lib", "/usr/lib"].map(PathBuf::from));
    dirs
}

/// Whether a StatusNotifier host (the panel that shows AppIndicators) is
/// registered on the session bus: without one an AppIndicator is invisible.
#[cfg(target_os = "linux")]
fn status_notifier_host() -> bool {
    use webkit2gtk::gio;
    use webkit2gtk::gio::prelude::*;
    // No session bus named: none to ask (and no dbus-launch started for it).
    let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|dir| std::path::Path::new(&dir).join("bus"))
        .is_some_and(|bus| bus.exists());
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !runtime_bus {
        tracing::info!("no session bus: no tray icon");
        return false;
    }
    let Ok(bus) = gio::bus_get_sync(gio::BusType::Session, gio::Cancellable::NONE) else {
        tracing::info!("the session bus did not answer: no tray icon");
        return false;
    };
    let reply = bus.call_sync(
        Some("org.kde.StatusNotifierWatcher"),
        "/StatusNotifierWatcher",
        "org.freedesktop.DBus.Properties",
        "Get",
        Some(&("org.kde.StatusNotifierWatcher", "IsStatusNotifierHostRegistered").to_variant()),
        None,
        gio::DBusCallFlags::NO_AUTO_START,
        1000,
        gio::Cancellable::NONE,
    );
    let registered = reply
        .ok()
        .and_then(|reply| reply.child_value(0).as_variant())
        .and_then(|value| value.get::<bool>())
        .unwrap_or(false);
    if !registered {
        tracing::info!("no StatusNotifier host on the session bus: no tray icon");
    }
    registered
}

#[cfg(test)]
mod tests {
    use super::{
        Activity, Away, TrayLabels, Upcoming, close_question, comes_back_after_run, quits_by_itself, status_line,
    };

    fn upcoming() -> Upcoming {
        Upcoming {
            campaign: 2,
            name: "autumn".to_owned(),
            // 2026-12-03 09:00 in Berlin.
            start_at: 1_796_284_800_000,
            time_zone: "Europe/Berlin".to_owned(),
        }
    }

    fn sending() -> Activity {
        Activity {
            sending: vec!["spring".to_owned()],
            next: None,
        }
    }

    fn scheduled() -> Activity {
        Activity {
            sending: Vec::new(),
            next: Some(upcoming()),
        }
    }

    #[test]
    fn closing_with_nothing_sending_or_scheduled_quits_without_asking() {
        assert_eq!(close_question(Activity::default(), true), None);
        assert_eq!(close_question(Activity::default(), false), None);
    }

    #[test]
    fn closing_while_sending_or_scheduled_asks_and_says_where_the_window_would_go() {
        let asked = close_question(sending(), true).expect("a sending campaign asks");
        assert_eq!(asked.sending, ["spring"]);
        assert_eq!(asked.next, None);
        assert_eq!(asked.away, Away::Tray);

        let asked = close_question(scheduled(), false).expect("a scheduled start asks");
        assert!(asked.sending.is_empty());
        assert_eq!(asked.next, Some(upcoming()));
        assert_eq!(asked.away, Away::Minimised, "no tray: the window is minimised");

        let both = Activity {
            sending: vec!["spring".to_owned()],
            next: Some(upcoming()),
        };
        let asked = close_question(both, true).expect("asks");
        assert_eq!((asked.sending.len(), asked.next.is_some()), (1, true));
    }

    #[test]
    fn away_it_quits_by_itself_only_once_nothing_is_left_and_the_end_was_told() {
        assert!(quits_by_itself(true, &Activity::default(), false));
        assert!(!quits_by_itself(true, &sending(), false), "still sending");
        assert!(!quits_by_itself(true, &scheduled(), false), "a start to come");
        assert!(
            !quits_by_itself(true, &Activity::default(), true),
            "the window has not yet told the run's end"
        );
        assert!(
            !quits_by_itself(false, &Activity::default(), false),
            "the window is open: closing it is the person's"
        );
    }

    #[test]
    fn a_run_that_needs_the_person_brings_the_window_back_instead_of_quitting() {
        assert!(comes_back_after_run(true, true));
        assert!(!comes_back_after_run(true, false), "completed: it may quit");
        assert!(!comes_back_after_run(false, true), "the window is already there");
    }

    #[test]
    fn the_tray_status_line_says_what_sends_else_what_is_next() {
        let labels = TrayLabels {
            tooltip: "Mailroom".to_owned(),
            show: "Show Mailroom".to_owned(),
            quit: "Quit".to_owned(),
            sending: "Sending “{name}”".to_owned(),
            next: "Next: “{name}” at {time}".to_owned(),
            idle: "Nothing scheduled".to_owned(),
        };
        assert_eq!(status_line(&labels, &sending()), "Sending “spring”");
        assert_eq!(status_line(&labels, &scheduled()), "Next: “autumn” at 2026-12-03 09:00");
        assert_eq!(status_line(&labels, &Activity::default()), "Nothing scheduled");
    }
}
