//! The Suppression screen's commands and deleting a campaign: each one
//! session call.

use std::path::PathBuf;

use mailroom_engine::import::ImportOptions;
use mailroom_engine::model::CampaignId;
use mailroom_engine::store::SuppressionPage;
use mailroom_engine::suppression::SuppressionImport;
use tauri::State;

use crate::ipc::IpcResult;
use crate::state::AppState;

/// A page of the suppression list, newest first, with the addresses or
/// reasons containing `search` (all when empty), and how many match.
#[tauri::command]
pub async fn list_suppressions(
    state: State<'_, AppState>,
    search: String,
    offset: u64,
    limit: u64,
) -> IpcResult<SuppressionPage> {
    Ok(state.session().await?.suppressions(&search, offset, limit).await?)
}

/// Puts an address on the list by hand; whether it was new.
#[tauri::command]
pub async fn add_suppression(state: State<'_, AppState>, email: String, reason: Option<String>) -> IpcResult<bool> {
    Ok(state
        .session()
        .await?
        .add_suppression(&email, reason.as_deref())
        .await?)
}

/// Takes an address off the list.
#[tauri::command]
pub async fn remove_suppression(state: State<'_, AppState>, email: String) -> IpcResult<()> {
    Ok(state.session().await?.remove_suppression(&email).await?)
}

/// Reads a file of addresses with the recipient importer: `check` only
/// counts what it would add (for the person to confirm), `save` adds it.
#[tauri::command]
pub async fn import_suppressions(
    state: State<'_, AppState>,
    path: PathBuf,
    mode: mailroom_engine::suppression::ImportMode,
) -> IpcResult<SuppressionImport> {
    Ok(state
        .session()
        .await?
        .import_suppressions(&path, &ImportOptions::default(), mode)
        .await?)
}

/// Writes the whole list to `path` (CSV, or XLSX by its name); how many.
#[tauri::command]
pub async fn export_suppressions(state: State<'_, AppState>, path: PathBuf) -> IpcResult<u64> {
    Ok(state.session().await?.export_suppressions(&path).await?)
}

/// Deletes a campaign and all its data; refused while it is being sent.
/// The window calls it once its few seconds of Undo have passed.
#[tauri::command]
pub async fn delete_campaign(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<()> {
    state.session().await?.delete_campaign(campaign).await?;
    Ok(())
}
