//! Generates the Tauri context and, from the command list below, a permission
//! per command (`allow-<command>`) that `capabilities/` grants to the window.

fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "import_extensions",
        "choose_import",
        "preview_import",
        "import_recipients",
        "resend_failed",
        "cancel_import",
        "campaign_summary",
        "list_recipients",
        "list_campaigns",
        "database_location",
        "list_accounts",
        "account_rules",
        "smtp_presets",
        "preset_settings",
        "secret_store_notice",
        "save_account",
        "remove_account",
        "resume_account",
        "campaign_accounts",
        "test_account",
        "cancel_test",
        "list_captured",
        "captured_message",
        "clear_captured",
        "get_message",
        "save_message",
        "preview_message",
        "start_campaign",
        "pause_campaign",
        "stop_campaign",
        "settle_uncertain",
        "list_templates",
        "save_template",
        "template_draft",
        "delete_template",
        "send_test_message",
        "find_recipient_row",
        "clean_pasted_html",
        "pause_all_and_quit",
        "keep_running_in_background",
        "run_settled",
        "export_recipients",
        "take_opened_file",
        "get_settings",
        "set_theme",
        "set_language",
        "set_log_level",
        "database_info",
        "choose_database",
        "diagnostics",
        "open_logs_folder",
        "show_database_folder",
        "set_menu",
        "quit",
        "list_mailboxes",
        "suggested_mailbox",
        "save_mailbox",
        "remove_mailbox",
        "test_mailbox",
        "scan_bounces",
        "list_suppressions",
        "add_suppression",
        "remove_suppression",
        "import_suppressions",
        "export_suppressions",
        "delete_campaign",
        "get_schedule",
        "set_schedule",
        "clear_schedule",
        "list_schedules",
        "take_scheduled_start",
        "plan_campaign",
        "local_time_zone",
        "time_zones",
        "recipient_page",
        "recipient_facets",
        "recipient_history",
        "campaign_runs",
        "resend_plan",
        "resend_chosen",
        "settle_uncertain_rows",
        // The window, finished (issue 18).
        "merge_fields",
        "send_plan",
        "default_account",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
    fold_identical_code();
}

/// Release builds of the app on x86-64 Linux, where rustc links with its own
/// lld, fold functions whose machine code is identical into one (lld's
/// `--icf=all`): Rust's generics leave many such copies, and the installed
/// size is a target (docs/BENCHMARKS.md, "The installed app"). Rust promises
/// no distinct addresses for distinct functions, so folding them is sound.
/// Only the final link changes; debug builds link as before.
fn fold_identical_code() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("PROFILE") == "release" && var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ARCH") == "x86_64"
    {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
    }
}
