//! The commands the window calls. Each is a thin wrapper over one engine call;
//! anything worth testing lives in the engine.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailroom_engine::campaign::coalesce::{CoalescingSink, EventBatch};
use mailroom_engine::campaign::{self, RunControl, RunOptions, RunReport};
use mailroom_engine::message::{self, MessageCheck, MessageDraft, RenderedMessage};
use serde::Serialize;

use mailroom_engine::import::{self, ImportOptions, RecipientSource};
use mailroom_engine::model::{
    CampaignId, CampaignSummary, ImportPreview, ImportProgress, ImportReport, Recipient, RecipientStatus,
};
use mailroom_engine::smtp::account::{self, Account, AccountSettings, Preset};
use mailroom_engine::smtp::diagnose::{Diagnosis, StageReport};
use mailroom_engine::smtp::manage::{self, PasswordChange};
use mailroom_engine::smtp::sandbox::{CapturedMessage, parse_captured};
use mailroom_engine::store::{CapturedSummary, TemplateSummary};
use tauri::State;
use tauri::ipc::Channel;
use tokio_util::sync::CancellationToken;

use crate::ipc::IpcResult;
use crate::launch::OpenedFile;
use crate::state::AppState;

/// A previewed message and its raw source.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Preview {
    pub message: RenderedMessage,
    pub source: String,
}

/// How a file would be imported, and its first rows; nothing is saved.
#[tauri::command]
pub async fn preview_import(
    path: PathBuf,
    email_column: Option<String>,
    encoding: Option<String>,
    delimiter: Option<String>,
    sheet: Option<String>,
    literal_quotes: Option<bool>,
) -> IpcResult<ImportPreview> {
    let options = ImportOptions {
        email_column,
        encoding,
        delimiter,
        sheet,
        literal_quotes: literal_quotes.unwrap_or(false),
        ..ImportOptions::default()
    };
    Ok(RecipientSource::preview(&path, &options).await?)
}

/// Imports a recipient file chosen in the window as a new draft campaign,
/// replacing the draft `replaces` (the same file imported with other
/// choices). Progress arrives on `on_progress`, at most ten times a second;
/// `cancel_import(import_id)` cancels it and nothing is saved.
#[tauri::command]
#[allow(clippy::too_many_arguments)] // one per choice the window offers
pub async fn import_recipients(
    state: State<'_, AppState>,
    path: PathBuf,
    email_column: Option<String>,
    encoding: Option<String>,
    delimiter: Option<String>,
    sheet: Option<String>,
    literal_quotes: Option<bool>,
    replaces: Option<CampaignId>,
    import_id: u32,
    on_progress: Channel<ImportProgress>,
) -> IpcResult<ImportReport> {
    let options = ImportOptions {
        name: None,
        email_column,
        encoding,
        delimiter,
        sheet,
        literal_quotes: literal_quotes.unwrap_or(false),
        replaces,
    };
    let cancel = CancellationToken::new();
    state.imports.lock().await.insert(import_id, cancel.clone());
    let mut last_sent: Option<Instant> = None;
    let progress = move |step: ImportProgress| {
        if last_sent.is_none_or(|at| at.elapsed() >= Duration::from_millis(100)) {
            last_sent = Some(Instant::now());
            let _ignored = on_progress.send(step);
        }
        if cancel.is_cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let result = async {
        let source = RecipientSource::open(&path, &options).await?;
        import::import_with_progress(&state.store().await?, source, &options, progress).await
    }
    .await;
    state.imports.lock().await.remove(&import_id);
    Ok(result?)
}

/// Resend failed: the campaign's failed recipients back to pending, ready for
/// `start_campaign`; how many.
#[tauri::command]
pub async fn resend_failed(
    state: State<'_, AppState>,
    campaign: CampaignId,
    include_bounced: Option<bool>,
) -> IpcResult<u64> {
    let store = state.store().await?;
    // Bounced recipients only when the person chooses them (issue 20): a
    // hard bounce is an address that takes no mail.
    let bounced = if include_bounced.unwrap_or(false) {
        store.requeue_bounced(campaign).await?
    } else {
        0
    };
    Ok(store.requeue_failed(campaign).await? + bounced)
}

/// Cancels an import in progress; nothing of it is saved.
#[tauri::command]
pub async fn cancel_import(state: State<'_, AppState>, import_id: u32) -> IpcResult<()> {
    if let Some(cancel) = state.imports.lock().await.get(&import_id) {
        cancel.cancel();
    }
    Ok(())
}

#[tauri::command]
pub async fn campaign_summary(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<CampaignSummary> {
    Ok(campaign::summary(&state.store().await?, campaign).await?)
}

/// A page of recipients in file order (those in `status`, or all), for the
/// paged recipient table.
#[tauri::command]
pub async fn list_recipients(
    state: State<'_, AppState>,
    campaign: CampaignId,
    status: Option<RecipientStatus>,
    offset: u64,
    limit: u64,
) -> IpcResult<Vec<Recipient>> {
    Ok(state.store().await?.recipients(campaign, status, offset, limit).await?)
}

#[tauri::command]
pub async fn list_campaigns(state: State<'_, AppState>) -> IpcResult<Vec<CampaignSummary>> {
    Ok(campaign::list(&state.store().await?).await?)
}

/// Where the database lives, for the status bar.
#[tauri::command]
pub async fn database_location(state: State<'_, AppState>) -> IpcResult<String> {
    Ok(state.store().await?.path().display().to_string())
}

/// The file the operating system asked the app to open ("Open with", a
/// second launch, macOS's open-file event), once; `None` when there is none.
#[tauri::command]
#[allow(clippy::needless_pass_by_value)] // Tauri hands state over by value
pub fn take_opened_file(opened: State<'_, OpenedFile>) -> Option<PathBuf> {
    opened.take()
}

/// Every SMTP account (never with its password).
#[tauri::command]
pub async fn list_accounts(state: State<'_, AppState>) -> IpcResult<Vec<Account>> {
    Ok(manage::list_accounts(&state.store().await?, &state.secrets().await?).await?)
}

/// The provider presets, for the SMTP screen's picker.
#[tauri::command]
pub fn smtp_presets() -> Vec<Preset> {
    account::presets().to_vec()
}

/// A new account's settings from a preset (the engine fills in host, port,
/// security and the provider's limits; `region` for Amazon SES).
#[tauri::command]
#[allow(clippy::needless_pass_by_value)] // IPC arguments arrive as owned values
pub fn preset_settings(preset: String, name: String, region: Option<String>) -> IpcResult<AccountSettings> {
    Ok(account::preset(&preset)?.settings(&name, region.as_deref()))
}

/// Where passwords are kept, when it is not the system keychain.
#[tauri::command]
pub async fn secret_store_notice(state: State<'_, AppState>) -> IpcResult<Option<String>> {
    Ok(state.secrets().await?.notice())
}

/// Adds (`id` empty) or updates an account. The password travels only this
/// way, window to engine; `clear_password` forgets the stored one.
#[tauri::command]
pub async fn save_account(
    state: State<'_, AppState>,
    id: Option<i64>,
    settings: AccountSettings,
    password: Option<String>,
    clear_password: bool,
) -> IpcResult<Account> {
    let (store, secrets) = (state.store().await?, state.secrets().await?);
    let change = match (password.filter(|p| !p.is_empty()), clear_password) {
        (Some(p), _) => PasswordChange::Set(p),
        (None, true) => PasswordChange::Clear,
        (None, false) => PasswordChange::Keep,
    };
    Ok(match id {
        None => manage::add_account(&store, &secrets, settings, change.into_new()).await?,
        Some(id) => manage::update_account(&store, &secrets, id, settings, change).await?,
    })
}

#[tauri::command]
pub async fn remove_account(state: State<'_, AppState>, name: String) -> IpcResult<()> {
    Ok(manage::remove_account(&state.store().await?, &state.secrets().await?, &name).await?)
}

/// Test connection (and optionally a test message). Each stage is sent on
/// `on_stage` as it completes; `test_id` lets [`cancel_test`] stop it.
#[tauri::command]
pub async fn test_account(
    state: State<'_, AppState>,
    name: String,
    send_to: Option<String>,
    test_id: u32,
    on_stage: Channel<StageReport>,
) -> IpcResult<Diagnosis> {
    let store = state.store().await?;
    state.keep_sandbox_for(&name).await?;
    let cancel = CancellationToken::new();
    state.tests.lock().await.insert(test_id, cancel.clone());
    let secrets = state.secrets().await?;
    let result = manage::test_account(&store, &secrets, &name, send_to.as_deref(), cancel, |stage| {
        let _ignored = on_stage.send(stage.clone());
    })
    .await;
    state.tests.lock().await.remove(&test_id);
    Ok(result?)
}

/// Cancels a running test; it ends with a "cancelled" stage at once.
#[tauri::command]
pub async fn cancel_test(state: State<'_, AppState>, test_id: u32) -> IpcResult<()> {
    if let Some(cancel) = state.tests.lock().await.get(&test_id) {
        cancel.cancel();
    }
    Ok(())
}

/// The sandbox's captured mail, newest first.
#[tauri::command]
pub async fn list_captured(state: State<'_, AppState>, offset: i64, limit: i64) -> IpcResult<Vec<CapturedSummary>> {
    Ok(state.store().await?.captured_messages(offset, limit).await?)
}

/// One captured message, taken apart for the viewer.
#[tauri::command]
pub async fn captured_message(state: State<'_, AppState>, id: i64) -> IpcResult<CapturedMessage> {
    let (summary, raw) = state.store().await?.captured_message(id).await?;
    Ok(parse_captured(summary, &raw))
}

#[tauri::command]
pub async fn clear_captured(state: State<'_, AppState>) -> IpcResult<u64> {
    Ok(state.store().await?.clear_captured().await?)
}

/// The campaign's saved message, if any.
#[tauri::command]
pub async fn get_message(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Option<MessageDraft>> {
    Ok(state.store().await?.message_draft(campaign).await?)
}

/// Checks and saves the campaign's message.
#[tauri::command]
pub async fn save_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    draft: MessageDraft,
) -> IpcResult<MessageCheck> {
    Ok(message::save_message(&state.store().await?, campaign, &draft).await?)
}

/// The message as the recipient on `row` gets it, with its raw source.
#[tauri::command]
pub async fn preview_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    row: Option<u64>,
    account: Option<String>,
) -> IpcResult<Preview> {
    let message = message::preview_message(&state.store().await?, campaign, row, account.as_deref()).await?;
    Ok(Preview {
        source: message.source(),
        message,
    })
}

/// The spreadsheet row of the first recipient whose address contains `query`.
#[tauri::command]
pub async fn find_recipient_row(state: State<'_, AppState>, campaign: CampaignId, query: String) -> IpcResult<u64> {
    Ok(message::find_recipient_row(&state.store().await?, campaign, &query).await?)
}

/// Writes the campaign's recipients in `statuses` to a CSV file at `path`.
#[tauri::command]
pub async fn export_recipients(
    state: State<'_, AppState>,
    campaign: CampaignId,
    statuses: Vec<RecipientStatus>,
    path: PathBuf,
) -> IpcResult<u64> {
    Ok(mailroom_engine::export::export_recipients(&state.store().await?, campaign, &statuses, &path).await?)
}

/// Clipboard HTML (from Word, Google Docs, a web page) cleaned for a mail body.
#[tauri::command]
pub fn clean_pasted_html(html: &str) -> String {
    message::clean_pasted_html(html)
}

/// Runs the campaign until it completes, pauses or stops; events arrive on
/// `on_events`, at most ten batches a second.
#[tauri::command]
pub async fn start_campaign(
    state: State<'_, AppState>,
    campaign: CampaignId,
    account: Option<String>,
    on_events: Channel<EventBatch>,
) -> IpcResult<RunReport> {
    let store = state.store().await?;
    let account_name = match &account {
        Some(name) => Some(name.clone()),
        None => store.campaign_profile(campaign).await?,
    };
    if let Some(name) = &account_name {
        state.keep_sandbox_for(name).await?;
    }
    let control = RunControl::default();
    state.runs.lock().await.insert(campaign, control.clone());
    let sink = CoalescingSink::start(Duration::from_millis(100), 20, move |batch| {
        let _ignored = on_events.send(batch);
    });
    let secrets = state.secrets().await?;
    let report = campaign::send(
        &store,
        &secrets,
        campaign,
        account.as_deref(),
        RunOptions::default(),
        control,
        Arc::new(sink),
    )
    .await;
    state.runs.lock().await.remove(&campaign);
    // Bounces come minutes to a day later: the timer scans the account's mailbox.
    if let (Ok(report), Some(timer), Some(name)) = (&report, state.scan_timer.get(), &account_name)
        && report.outcome == campaign::RunOutcome::Completed
    {
        timer.campaign_finished(name);
    }
    Ok(report?)
}

/// Pauses a running campaign (in-flight messages finish).
#[tauri::command]
pub async fn pause_campaign(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<()> {
    if let Some(control) = state.runs.lock().await.get(&campaign) {
        control.pause();
    }
    Ok(())
}

/// Pauses every running campaign, waits for their in-flight messages to
/// finish and quits: the window's answer to "a campaign is sending" on close.
#[tauri::command]
pub async fn pause_all_and_quit(app: tauri::AppHandle, state: State<'_, AppState>) -> IpcResult<()> {
    state.pause_all_runs().await;
    app.exit(0);
    Ok(())
}

/// Stops a running campaign: the recipients not yet sent are cancelled.
#[tauri::command]
pub async fn stop_campaign(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<()> {
    if let Some(control) = state.runs.lock().await.get(&campaign) {
        control.stop();
    }
    Ok(())
}

/// The person's decision about uncertain recipients: send again, or count as sent.
#[tauri::command]
pub async fn settle_uncertain(state: State<'_, AppState>, campaign: CampaignId, resend: bool) -> IpcResult<u64> {
    Ok(state.store().await?.settle_uncertain(campaign, resend).await?)
}

#[tauri::command]
pub async fn list_templates(state: State<'_, AppState>) -> IpcResult<Vec<TemplateSummary>> {
    Ok(state.store().await?.templates().await?)
}

/// Saves a message as a template (replacing one of that name).
#[tauri::command]
pub async fn save_template(state: State<'_, AppState>, name: String, draft: MessageDraft) -> IpcResult<()> {
    Ok(state.store().await?.save_template(&name, &draft).await?)
}

#[tauri::command]
pub async fn template_draft(state: State<'_, AppState>, name: String) -> IpcResult<MessageDraft> {
    Ok(state.store().await?.template(&name).await?)
}

#[tauri::command]
pub async fn delete_template(state: State<'_, AppState>, name: String) -> IpcResult<()> {
    Ok(state.store().await?.delete_template(&name).await?)
}

/// Sends row `row`'s message to `to` through `account`, as a test.
#[tauri::command]
pub async fn send_test_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    row: Option<u64>,
    account: String,
    to: String,
) -> IpcResult<RenderedMessage> {
    let store = state.store().await?;
    state.keep_sandbox_for(&account).await?;
    Ok(message::send_test_message(&store, &state.secrets().await?, campaign, row, &account, &to).await?)
}
