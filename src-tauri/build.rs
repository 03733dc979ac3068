//! Generates the Tauri context and, from the command list below, a permission
//! per command (`allow-<command>`) that `capabilities/` grants to the window.

fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "preview_import",
        "import_recipients",
        "resend_failed",
        "cancel_import",
        "campaign_summary",
        "list_recipients",
        "list_campaigns",
        "database_location",
        "list_accounts",
        "smtp_presets",
        "preset_settings",
        "secret_store_notice",
        "save_account",
        "remove_account",
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
        "export_recipients",
        "list_mailboxes",
        "suggested_mailbox",
        "save_mailbox",
        "remove_mailbox",
        "test_mailbox",
        "scan_bounces",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
