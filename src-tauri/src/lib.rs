//! Mailroom's desktop shell: builds the Tauri app, registers the commands
//! (each a one-line wrapper over the engine) and the plugins the UI uses.
//!
//! # Layout
//! - [`commands`]: the IPC commands the window may call (granted in
//!   `capabilities/main-window.json`, listed in `build.rs`).
//! - [`ipc`]: what crosses IPC besides engine types: the `{kind, message}` error.
//! - [`mailbox`]: the Mailbox screen's commands and the bounce scan timer.
//! - [`state`]: the engine handles the app keeps (the store, opened in the
//!   background as the app starts).
//! - [`launch`]: files the OS asks the app to open, and the single instance.
//! - [`settings`]: the Settings screen's commands (theme, language, log
//!   level, the database file, logs, diagnostics).
//! - [`menu`]: the native menu bar, labelled by the window, and Quit.
//! - [`background`]: closing while campaigns send or wait for their start:
//!   the question, the tray icon (or minimised window), quitting by itself.

pub mod background;
pub mod commands;
pub mod ipc;
pub mod launch;
pub mod mailbox;
pub mod menu;
pub mod results;
pub mod schedule;
pub mod settings;
pub mod state;
pub mod suppression;

use mailroom_engine::settings::SettingsFile;
use mailroom_engine::{logging, paths};
use tauri::Manager;

/// Runs the app until its last window closes.
pub fn run() {
    let settings_file = SettingsFile::default_location();
    let saved = settings_file.as_ref().map(SettingsFile::load).unwrap_or_default();
    let log = paths::log_dir().and_then(|dir| logging::init_file_logging(&dir, "mailroom-app", saved.log_level));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Mailroom starting");
    let opened = launch::OpenedFile::default();
    launch::offer_own_args(&opened);
    let result = tauri::Builder::default()
        // First, so a second launch hands over its file and exits before
        // anything else starts (a second window on the same database).
        .plugin(tauri_plugin_single_instance::init(launch::on_second_launch))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        // Size, position and maximised state: saved on exit, restored as
        // the window opens.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .manage(state::AppState::new(
            settings_file,
            log.as_ref().map(|l| l.control.clone()),
        ))
        .manage(opened)
        .manage(schedule::Schedules::default())
        .manage(background::Background::default())
        .setup(move |app| {
            app.handle().set_theme(settings::window_theme(saved.theme));
            // Bounce scans on a timer and after campaigns (the engine times them).
            let timer = mailbox::start_timer(app.handle());
            let _ = app.state::<state::AppState>().scan_timer.set(timer);
            state::open_store_in_background(app.handle().clone());
            // Scheduled campaigns start while the app is open (the engine times them).
            schedule::start_timer(app.handle());
            Ok(())
        })
        .on_menu_event(menu::on_event)
        // Closing the window while a campaign sends or waits for its
        // scheduled start asks first (background.rs): keep running in the
        // background, pause (or leave the schedule) and quit, or cancel.
        // With nothing of the kind, it quits.
        .on_window_event(|window, event| match event {
            tauri::WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                background::request_close(window.app_handle());
            }
            tauri::WindowEvent::Focused(true) => background::on_focus(window.app_handle()),
            _ => {}
        })
        .invoke_handler(tauri::generate_handler![
            commands::preview_import,
            commands::import_recipients,
            commands::resend_failed,
            commands::cancel_import,
            commands::import_extensions,
            commands::connection_warnings,
            commands::choose_import,
            commands::campaign_summary,
            commands::list_recipients,
            commands::list_campaigns,
            commands::database_location,
            commands::list_accounts,
            commands::account_rules,
            commands::smtp_presets,
            commands::preset_settings,
            commands::secret_store_notice,
            commands::save_account,
            commands::remove_account,
            commands::resume_account,
            commands::campaign_accounts,
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
            results::recipient_page,
            results::recipient_facets,
            results::recipient_history,
            results::campaign_runs,
            results::resend_plan,
            results::resend_chosen,
            results::settle_uncertain_rows,
            commands::list_templates,
            commands::save_template,
            commands::template_draft,
            commands::delete_template,
            commands::send_test_message,
            commands::find_recipient_row,
            commands::clean_pasted_html,
            commands::pause_all_and_quit,
            background::keep_running_in_background,
            background::run_settled,
            commands::export_recipients,
            commands::take_opened_file,
            settings::get_settings,
            settings::set_theme,
            settings::set_language,
            settings::set_log_level,
            settings::database_info,
            settings::choose_database,
            settings::diagnostics,
            settings::open_logs_folder,
            settings::show_database_folder,
            menu::set_menu,
            menu::quit,
            mailbox::list_mailboxes,
            schedule::get_schedule,
            schedule::set_schedule,
            schedule::clear_schedule,
            schedule::list_schedules,
            schedule::take_scheduled_start,
            schedule::plan_campaign,
            schedule::local_time_zone,
            schedule::time_zones,
            mailbox::suggested_mailbox,
            mailbox::save_mailbox,
            mailbox::remove_mailbox,
            mailbox::test_mailbox,
            mailbox::scan_bounces,
            suppression::list_suppressions,
            suppression::add_suppression,
            suppression::remove_suppression,
            suppression::import_suppressions,
            suppression::export_suppressions,
            suppression::delete_campaign,
            commands::merge_fields,
            commands::send_plan,
            commands::default_account,
        ])
        .build(tauri::generate_context!())
        .map(|app| app.run(launch::on_run_event));
    if let Err(e) = result {
        tracing::error!(error = %e, "the app could not start");
        eprintln!("Mailroom could not start: {e}");
        std::process::exit(1);
    }
    drop(log);
}
