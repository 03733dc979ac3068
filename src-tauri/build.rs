//! Generates the Tauri context and, from the command list below, a permission
//! per command (`allow-<command>`) that `capabilities/` grants to the window.

fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "import_recipients",
        "campaign_summary",
        "list_recipients",
        "list_campaigns",
        "database_location",
    ]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
