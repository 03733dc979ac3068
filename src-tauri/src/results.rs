//! The commands of the Results screen: a campaign's recipients page by page
//! with their filters' counts, one recipient's history, the runs, Resend
//! failed with its choices, and the decision about uncertain recipients.
//! Each is one session call.

use mailroom_engine::model::{CampaignId, UncertainDecision};
use mailroom_engine::results::{
    RecipientFacets, RecipientHistory, RecipientPage, RecipientQuery, ResendChoice, ResendPlan, RunRecord, StateFilter,
};
use tauri::State;

use crate::ipc::IpcResult;
use crate::state::AppState;

/// A page of the campaign's recipients matching `query` (by cursor).
#[tauri::command]
pub async fn recipient_page(
    state: State<'_, AppState>,
    campaign: CampaignId,
    query: RecipientQuery,
) -> IpcResult<RecipientPage> {
    Ok(state.session().await?.recipient_page(campaign, &query).await?)
}

/// The counts by state, and by reason within `filter` (all when null).
#[tauri::command]
pub async fn recipient_facets(
    state: State<'_, AppState>,
    campaign: CampaignId,
    filter: Option<StateFilter>,
) -> IpcResult<RecipientFacets> {
    Ok(state.session().await?.recipient_facets(campaign, filter).await?)
}

/// Every attempt of the recipient on spreadsheet row `row`, its send and bounces.
#[tauri::command]
pub async fn recipient_history(
    state: State<'_, AppState>,
    campaign: CampaignId,
    row: u64,
) -> IpcResult<RecipientHistory> {
    Ok(state.session().await?.recipient_history(campaign, row).await?)
}

/// Each run of the campaign, oldest first.
#[tauri::command]
pub async fn campaign_runs(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Vec<RunRecord>> {
    Ok(state.session().await?.runs(campaign).await?)
}

/// What Resend failed with `choice` would send and leave out; nothing changes.
#[tauri::command]
pub async fn resend_plan(
    state: State<'_, AppState>,
    campaign: CampaignId,
    choice: ResendChoice,
) -> IpcResult<ResendPlan> {
    Ok(state.session().await?.resend_plan(campaign, &choice).await?)
}

/// Resend failed as chosen: those recipients back to pending, ready for
/// `start_campaign` (on the account the person chose); what it did.
#[tauri::command]
pub async fn resend_chosen(
    state: State<'_, AppState>,
    campaign: CampaignId,
    choice: ResendChoice,
) -> IpcResult<ResendPlan> {
    Ok(state.session().await?.requeue_for_resend(campaign, &choice).await?)
}

/// The person's decision about the uncertain recipients on `rows` (all
/// when null): send again with the same Message-ID, or count as sent.
#[tauri::command]
pub async fn settle_uncertain_rows(
    state: State<'_, AppState>,
    campaign: CampaignId,
    rows: Option<Vec<u64>>,
    decision: UncertainDecision,
) -> IpcResult<u64> {
    Ok(state
        .session()
        .await?
        .settle_uncertain(campaign, rows.as_deref(), decision)
        .await?)
}
