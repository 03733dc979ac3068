//! The commands the window calls. Each is a thin wrapper over one engine call;
//! anything worth testing lives in the engine.

use std::path::PathBuf;

use mailroom_engine::import::{self, CsvSource, ImportOptions};
use mailroom_engine::model::{CampaignId, CampaignSummary, ImportReport, Recipient};
use tauri::State;

use crate::ipc::IpcResult;
use crate::state::AppState;

/// Imports a recipient file chosen in the window as a new draft campaign.
#[tauri::command]
pub async fn import_recipients(
    state: State<'_, AppState>,
    path: PathBuf,
    email_column: Option<String>,
    encoding: Option<String>,
    delimiter: Option<String>,
) -> IpcResult<ImportReport> {
    let options = ImportOptions {
        name: None,
        email_column,
        encoding,
        delimiter,
    };
    let source = CsvSource::open(&path, &options).await?;
    Ok(import::import(state.store().await?, source, &options).await?)
}

#[tauri::command]
pub async fn campaign_summary(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<CampaignSummary> {
    Ok(state.store().await?.campaign_summary(campaign).await?)
}

/// A page of recipients in file order, for the virtualised table.
#[tauri::command]
pub async fn list_recipients(
    state: State<'_, AppState>,
    campaign: CampaignId,
    offset: u64,
    limit: u64,
) -> IpcResult<Vec<Recipient>> {
    Ok(state.store().await?.recipients(campaign, None, offset, limit).await?)
}

#[tauri::command]
pub async fn list_campaigns(state: State<'_, AppState>) -> IpcResult<Vec<CampaignSummary>> {
    Ok(state.store().await?.list_campaigns().await?)
}

/// Where the database lives, for the status bar.
#[tauri::command]
pub async fn database_location(state: State<'_, AppState>) -> IpcResult<String> {
    Ok(state.store().await?.path().display().to_string())
}
