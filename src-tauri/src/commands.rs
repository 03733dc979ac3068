//! The commands the window calls. Each is a thin wrapper over one call on the
//! engine `Session` (see `state.rs`), or a stateless engine call;
//! anything worth testing lives in the engine.

use std::path::PathBuf;
use std::sync::Arc;

use mailroom_engine::campaign::{self, CampaignEvent, RunControl, RunOptions, RunReport};
use mailroom_engine::message::{self, MessageCheck, MessageDraft, RenderedMessage, RowPreview, SkippedRow};
use serde::Serialize;

use mailroom_engine::import::{self, ImportChoice, ImportChoices, ImportOptions, RecipientSource};
use mailroom_engine::model::{
    CampaignId, CampaignSummary, ImportPreview, ImportProgress, ImportReport, Recipient, RecipientStatus,
    UncertainDecision,
};
use mailroom_engine::progress::Batch;
use mailroom_engine::smtp::Security;
use mailroom_engine::smtp::account::{self, Account, AccountSettings, ConnectionWarning, Preset};
use mailroom_engine::smtp::diagnose::{Diagnosis, StageReport};
use mailroom_engine::smtp::manage::PasswordChange;
use mailroom_engine::smtp::rules::AppliedRule;
use mailroom_engine::smtp::sandbox::CapturedMessage;
use mailroom_engine::store::{CapturedSummary, TemplateSummary};
use tauri::State;
use tauri::ipc::Channel;

use crate::ipc::{IpcResult, forward_to};
use crate::launch::OpenedFile;
use crate::state::AppState;

/// A previewed message and its raw source, or the row's reason for being skipped.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Preview {
    /// None when the row was skipped at import (`skipped` says why).
    pub message: Option<RenderedMessage>,
    pub source: Option<String>,
    pub skipped: Option<SkippedRow>,
}

/// The extensions of the files the window offers to import (its file
/// chooser's filter; which of several dropped files it reads).
#[tauri::command]
pub fn import_extensions() -> Vec<&'static str> {
    import::accepted_extensions()
}

/// The import choices after the person changed one on the preview (another
/// sheet or reading forgets the chosen email column).
#[tauri::command]
pub fn choose_import(choices: ImportChoices, change: ImportChoice) -> ImportChoices {
    choices.choose(change)
}

/// How a file would be imported with the window's choices (none: all
/// detected), and its first rows; nothing is saved.
#[tauri::command]
pub async fn preview_import(path: PathBuf, choices: Option<ImportChoices>) -> IpcResult<ImportPreview> {
    Ok(RecipientSource::preview(&path, &choices.unwrap_or_default()).await?)
}

/// Imports a recipient file chosen in the window as a new draft campaign,
/// replacing the draft `replaces` (the same file imported with other
/// choices). Progress arrives on `on_progress`, coalesced by the engine to
/// at most ten batches a second; `cancel_import(import_id)` cancels it and
/// nothing is saved.
#[tauri::command]
pub async fn import_recipients(
    state: State<'_, AppState>,
    path: PathBuf,
    choices: Option<ImportChoices>,
    replaces: Option<CampaignId>,
    import_id: u32,
    on_progress: Channel<Batch<ImportProgress>>,
) -> IpcResult<ImportReport> {
    let options = ImportOptions {
        choices: choices.unwrap_or_default(),
        replaces,
        ..ImportOptions::default()
    };
    let session = state.session().await?;
    let sink = forward_to(on_progress, 0);
    let report = session.import(&path, &options, import_id, &sink).await;
    // The last step reaches the window before the report.
    sink.finish();
    Ok(report?)
}

/// Resend failed with the defaults: the campaign's failed recipients back to
/// pending, ready for `start_campaign`, leaving out "no such user" failures
/// and suppressed addresses (`resend_chosen` takes other choices); bounced
/// ones too when `include_bounced`. How many.
#[tauri::command]
pub async fn resend_failed(
    state: State<'_, AppState>,
    campaign: CampaignId,
    include_bounced: Option<bool>,
) -> IpcResult<u64> {
    let choice = mailroom_engine::results::ResendChoice {
        include_bounced: include_bounced.unwrap_or(false),
        ..mailroom_engine::results::ResendChoice::default()
    };
    Ok(state
        .session()
        .await?
        .requeue_for_resend(campaign, &choice)
        .await?
        .to_send)
}

/// Cancels an import in progress; nothing of it is saved.
#[tauri::command]
pub async fn cancel_import(state: State<'_, AppState>, import_id: u32) -> IpcResult<()> {
    state.session().await?.cancel_import(import_id);
    Ok(())
}

#[tauri::command]
pub async fn campaign_summary(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<CampaignSummary> {
    Ok(state.session().await?.campaign_summary(campaign).await?)
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
    Ok(state
        .session()
        .await?
        .recipients(campaign, status, offset, limit)
        .await?)
}

#[tauri::command]
pub async fn list_campaigns(state: State<'_, AppState>) -> IpcResult<Vec<CampaignSummary>> {
    Ok(state.session().await?.campaigns().await?)
}

/// Where the database lives, for the status bar.
#[tauri::command]
pub async fn database_location(state: State<'_, AppState>) -> IpcResult<String> {
    Ok(state.session().await?.path().display().to_string())
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
    Ok(state.session().await?.accounts().await?)
}

/// The rules that apply to an account, in the order they are tried (issue 19).
#[tauri::command]
pub async fn account_rules(state: State<'_, AppState>, name: String) -> IpcResult<Vec<AppliedRule>> {
    Ok(state.session().await?.account_rules(&name).await?)
}

/// What a connection being set up would be warned of (unencrypted to
/// anything but this machine, certificates unchecked): the account and
/// mailbox forms ask as they are filled in, by the rule a saved one is
/// listed with.
#[tauri::command]
pub fn connection_warnings(security: Security, host: &str, accept_invalid_certs: bool) -> Vec<ConnectionWarning> {
    ConnectionWarning::for_connection(security, host.trim(), accept_invalid_certs)
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
    Ok(state.session().await?.secret_store_notice().await)
}

/// Adds (`id` empty) or updates an account. The password travels only this
/// way, window to engine, in `password` (keep, set or clear the stored one;
/// an empty one set keeps it).
#[tauri::command]
pub async fn save_account(
    state: State<'_, AppState>,
    id: Option<i64>,
    settings: AccountSettings,
    password: PasswordChange,
) -> IpcResult<Account> {
    Ok(state.session().await?.save_account(id, settings, password).await?)
}

/// Ends an account's suspension now ("Resume now"); whether it was suspended.
#[tauri::command]
pub async fn resume_account(state: State<'_, AppState>, name: String) -> IpcResult<bool> {
    Ok(state.session().await?.resume_account(&name).await?)
}

/// A campaign's accounts in order (its list, else the one it last ran on).
#[tauri::command]
pub async fn campaign_accounts(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Vec<String>> {
    Ok(state.session().await?.campaign_accounts(campaign).await?)
}

#[tauri::command]
pub async fn remove_account(state: State<'_, AppState>, name: String) -> IpcResult<()> {
    Ok(state.session().await?.remove_account(&name).await?)
}

/// Test connection (and optionally a test message). Each stage is sent on
/// `on_stage` as it completes (batched by the engine when they come faster
/// than ten a second); `test_id` lets [`cancel_test`] stop it.
#[tauri::command]
pub async fn test_account(
    state: State<'_, AppState>,
    name: String,
    send_to: Option<String>,
    test_id: u32,
    on_stage: Channel<Batch<StageReport>>,
) -> IpcResult<Diagnosis> {
    let session = state.session().await?;
    let sink = forward_to(on_stage, 0);
    let diagnosis = session.test_account(&name, send_to.as_deref(), test_id, &sink).await;
    sink.finish();
    Ok(diagnosis?)
}

/// Cancels a running test (Test connection, or a test message); a test
/// connection ends with a "cancelled" stage at once.
#[tauri::command]
pub async fn cancel_test(state: State<'_, AppState>, test_id: u32) -> IpcResult<()> {
    state.session().await?.cancel_test(test_id);
    Ok(())
}

/// The sandbox's captured mail, newest first.
#[tauri::command]
pub async fn list_captured(state: State<'_, AppState>, offset: i64, limit: i64) -> IpcResult<Vec<CapturedSummary>> {
    Ok(state.session().await?.captured_messages(offset, limit).await?)
}

/// One captured message, taken apart for the viewer.
#[tauri::command]
pub async fn captured_message(state: State<'_, AppState>, id: i64) -> IpcResult<CapturedMessage> {
    Ok(state.session().await?.captured_message(id).await?)
}

#[tauri::command]
pub async fn clear_captured(state: State<'_, AppState>) -> IpcResult<u64> {
    Ok(state.session().await?.clear_captured().await?)
}

/// The campaign's saved message, if any.
#[tauri::command]
pub async fn get_message(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Option<MessageDraft>> {
    Ok(state.session().await?.message_draft(campaign).await?)
}

/// Checks and saves the campaign's message.
#[tauri::command]
pub async fn save_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    draft: MessageDraft,
) -> IpcResult<MessageCheck> {
    Ok(state.session().await?.save_message(campaign, &draft).await?)
}

/// The message as the recipient on `row` gets it, with its raw source.
#[tauri::command]
pub async fn preview_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    row: Option<u64>,
    account: Option<String>,
) -> IpcResult<Preview> {
    Ok(
        match state
            .session()
            .await?
            .preview_message(campaign, row, account.as_deref())
            .await?
        {
            RowPreview::Message(message) => Preview {
                source: Some(message.source()),
                message: Some(message),
                skipped: None,
            },
            RowPreview::Skipped(skipped) => Preview {
                message: None,
                source: None,
                skipped: Some(skipped),
            },
        },
    )
}

/// The merge fields the campaign's message may use (`email` first).
#[tauri::command]
pub async fn merge_fields(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Vec<String>> {
    Ok(state.session().await?.merge_fields(campaign).await?)
}

/// The spreadsheet row of the first recipient whose address contains `query`.
#[tauri::command]
pub async fn find_recipient_row(state: State<'_, AppState>, campaign: CampaignId, query: String) -> IpcResult<u64> {
    Ok(state.session().await?.find_recipient_row(campaign, &query).await?)
}

/// Writes the campaign's recipients in `statuses` to a CSV file at `path`.
#[tauri::command]
pub async fn export_recipients(
    state: State<'_, AppState>,
    campaign: CampaignId,
    statuses: Vec<RecipientStatus>,
    path: PathBuf,
) -> IpcResult<u64> {
    Ok(state
        .session()
        .await?
        .export_recipients(campaign, &statuses, &path)
        .await?)
}

/// Clipboard HTML (from Word, Google Docs, a web page) cleaned for a mail body.
#[tauri::command]
pub fn clean_pasted_html(html: &str) -> String {
    message::clean_pasted_html(html)
}

/// Runs the campaign until it completes, pauses or stops; events arrive on
/// `on_events`, coalesced by the engine to at most ten batches a second.
#[tauri::command]
pub async fn start_campaign(
    state: State<'_, AppState>,
    background: State<'_, crate::background::Background>,
    campaign: CampaignId,
    accounts: Vec<String>,
    on_events: Channel<Batch<CampaignEvent>>,
) -> IpcResult<RunReport> {
    // Mailroom in the background stays until this run has ended and the
    // window has told its end (background.rs).
    let _claim = background.claim(campaign);
    let session = state.session().await?;
    let sink = forward_to(on_events, 20);
    let given: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let report = session
        .send(
            campaign,
            &given,
            RunOptions::default(),
            RunControl::default(),
            Arc::new(sink),
        )
        .await?;
    // Bounces come minutes to a day later: the timer scans the account's mailbox.
    if let Some(timer) = state.scan_timer.get()
        && report.outcome == campaign::RunOutcome::Completed
    {
        for name in &report.accounts {
            timer.campaign_finished(name);
        }
    }
    Ok(report)
}

/// Pauses a running campaign (in-flight messages finish).
#[tauri::command]
pub async fn pause_campaign(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<()> {
    state.session().await?.pause(campaign);
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

/// Stops a campaign, running here or paused: the recipients not yet sent
/// are cancelled.
#[tauri::command]
pub async fn stop_campaign(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<()> {
    state.session().await?.stop(campaign).await?;
    Ok(())
}

/// What starting `campaign` on `accounts` in order would do: how many,
/// through which accounts, from whom, at what pace, about how long.
#[tauri::command]
pub async fn send_plan(
    state: State<'_, AppState>,
    campaign: CampaignId,
    accounts: Vec<String>,
) -> IpcResult<campaign::SendPlan> {
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    Ok(state.session().await?.send_plan(campaign, &accounts).await?)
}

/// The account offered first: the last used, the sandbox on a fresh install.
#[tauri::command]
pub async fn default_account(state: State<'_, AppState>) -> IpcResult<Option<String>> {
    Ok(state.session().await?.default_account().await?)
}

/// The person's decision about uncertain recipients: send again, or count as sent.
#[tauri::command]
pub async fn settle_uncertain(
    state: State<'_, AppState>,
    campaign: CampaignId,
    decision: UncertainDecision,
) -> IpcResult<u64> {
    Ok(state
        .session()
        .await?
        .settle_uncertain(campaign, None, decision)
        .await?)
}

#[tauri::command]
pub async fn list_templates(state: State<'_, AppState>) -> IpcResult<Vec<TemplateSummary>> {
    Ok(state.session().await?.templates().await?)
}

/// Saves a message as a template (replacing one of that name).
#[tauri::command]
pub async fn save_template(state: State<'_, AppState>, name: String, draft: MessageDraft) -> IpcResult<()> {
    Ok(state.session().await?.save_template(&name, &draft).await?)
}

#[tauri::command]
pub async fn template_draft(state: State<'_, AppState>, name: String) -> IpcResult<MessageDraft> {
    Ok(state.session().await?.template(&name).await?)
}

#[tauri::command]
pub async fn delete_template(state: State<'_, AppState>, name: String) -> IpcResult<()> {
    Ok(state.session().await?.delete_template(&name).await?)
}

/// Sends row `row`'s message to `to` through `account`, as a test;
/// `test_id` lets [`cancel_test`] give up on it.
#[tauri::command]
pub async fn send_test_message(
    state: State<'_, AppState>,
    campaign: CampaignId,
    row: Option<u64>,
    account: String,
    to: String,
    test_id: u32,
) -> IpcResult<RenderedMessage> {
    Ok(state
        .session()
        .await?
        .send_test_message(campaign, row, &account, &to, test_id)
        .await?)
}
