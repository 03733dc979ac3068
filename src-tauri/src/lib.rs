//! Mailroom's desktop shell: builds the Tauri app, registers the commands
//! (each a one-line wrapper over the engine) and the plugins the UI uses.
//!
//! # Layout
//! - [`commands`]: the IPC commands the window may call (granted in
//!   `capabilities/main-window.json`, listed in `build.rs`).
//! - [`ipc`]: what crosses IPC besides engine types: the `{kind, message}` error.
//! - [`mailbox`]: the Mailbox screen's commands and the bounce scan timer.
//! - [`state`]: the engine handles the app keeps (the store, opened lazily).

pub mod commands;
pub mod ipc;
pub mod mailbox;
pub mod state;

use mailroom_engine::{logging, paths};
use tauri::{Emitter, Manager};

/// Runs the app until its last window closes.
pub fn run() {
    let _log_guard = paths::log_dir().and_then(|dir| logging::init_file_logging(&dir, "mailroom-app"));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Mailroom starting");
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(state::AppState::default())
        // Bounce scans on a timer and after campaigns (the engine times them).
        .setup(|app| {
            let timer = mailbox::start_timer(app.handle());
            let _ = app.state::<state::AppState>().scan_timer.set(timer);
            Ok(())
        })
        // Closing the window while a campaign sends asks first: the window
        // offers "pause and quit" (pause_all_and_quit) or to keep sending.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && window.state::<state::AppState>().sending()
            {
                api.prevent_close();
                if let Err(e) = window.emit("close-requested", ()) {
                    tracing::warn!(error = %e, "could not ask the window about closing");
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::preview_import,
            commands::import_recipients,
            commands::resend_failed,
            commands::cancel_import,
            commands::campaign_summary,
            commands::list_recipients,
            commands::list_campaigns,
            commands::database_location,
            commands::list_accounts,
            commands::smtp_presets,
            commands::preset_settings,
            commands::secret_store_notice,
            commands::save_account,
            commands::remove_account,
            commands::test_account,
            commands::cancel_test,
            commands::list_captured,
            commands::captured_message,
            commands::clear_captured,
            commands::get_message,
            commands::save_message,
            commands::preview_message,
            commands::start_campaign,
            commands::pause_campaign,
            commands::stop_campaign,
            commands::settle_uncertain,
            commands::list_templates,
            commands::save_template,
            commands::template_draft,
            commands::delete_template,
            commands::send_test_message,
            commands::find_recipient_row,
            commands::clean_pasted_html,
            commands::pause_all_and_quit,
            commands::export_recipients,
            mailbox::list_mailboxes,
            mailbox::suggested_mailbox,
            mailbox::save_mailbox,
            mailbox::remove_mailbox,
            mailbox::test_mailbox,
            mailbox::scan_bounces,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app could not start");
        eprintln!("Mailroom could not start: {e}");
        std::process::exit(1);
    }
}
