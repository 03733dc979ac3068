//! The Mailbox screen's commands (each one engine call): mailboxes, Test
//! connection, Scan now with its progress; and the
//! bounce scan timer: started here, timed by the engine (`mailbox::schedule`).

use mailroom_engine::mailbox::diagnose::{MailboxDiagnosis, MailboxStageReport};
use mailroom_engine::mailbox::manage::MailboxPassword;
use mailroom_engine::mailbox::scan::{ScanProgress, ScanReport};
use mailroom_engine::mailbox::schedule::{self, ScanTimer};
use mailroom_engine::mailbox::{Mailbox, MailboxSettings};
use mailroom_engine::progress::Batch;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio_util::sync::CancellationToken;

use crate::ipc::{IpcResult, forward_to};
use crate::state::AppState;

/// Every mailbox (never with its password).
#[tauri::command]
pub async fn list_mailboxes(state: State<'_, AppState>) -> IpcResult<Vec<Mailbox>> {
    Ok(state.session().await?.mailboxes().await?)
}

/// A new mailbox's settings for `account`, from its provider's preset.
#[tauri::command]
pub async fn suggested_mailbox(state: State<'_, AppState>, account: String) -> IpcResult<MailboxSettings> {
    Ok(state.session().await?.suggested_mailbox(&account).await?)
}

/// Adds or updates `account`'s mailbox. The password travels only this way.
#[tauri::command]
pub async fn save_mailbox(
    state: State<'_, AppState>,
    account: String,
    settings: MailboxSettings,
    password: Option<String>,
    same_as_smtp: bool,
) -> IpcResult<Mailbox> {
    let password = match (same_as_smtp, password.filter(|p| !p.is_empty())) {
        (true, _) => MailboxPassword::SameAsSmtp,
        (false, Some(p)) => MailboxPassword::Set(p),
        (false, None) => MailboxPassword::Keep,
    };
    Ok(state
        .session()
        .await?
        .save_mailbox(&account, settings, password)
        .await?)
}

#[tauri::command]
pub async fn remove_mailbox(state: State<'_, AppState>, account: String) -> IpcResult<()> {
    Ok(state.session().await?.remove_mailbox(&account).await?)
}

/// Test connection; each step arrives on `on_stage` (batched by the engine when
/// they come faster than ten a second); `cancel_test(test_id)` stops it.
#[tauri::command]
pub async fn test_mailbox(
    state: State<'_, AppState>,
    account: String,
    test_id: u32,
    on_stage: Channel<Batch<MailboxStageReport>>,
) -> IpcResult<MailboxDiagnosis> {
    let session = state.session().await?;
    let sink = forward_to(on_stage, 0);
    let diagnosis = session.test_mailbox(&account, test_id, &sink).await;
    sink.finish();
    Ok(diagnosis?)
}

/// Scans `account`'s mailbox now (every mailbox when `None`); how far it
/// has read arrives on `on_progress`.
#[tauri::command]
pub async fn scan_bounces(
    app: AppHandle,
    state: State<'_, AppState>,
    account: Option<String>,
    on_progress: Channel<ScanProgress>,
) -> IpcResult<Vec<ScanReport>> {
    let reports = state
        .session()
        .await?
        .scan_mailboxes(account.as_deref(), CancellationToken::new(), |_, progress| {
            let _ignored = on_progress.send(progress);
        })
        .await?;
    let _ignored = app.emit("bounces-scanned", ());
    Ok(reports)
}

/// Starts the scan timer for the app's life; returns its handle.
pub fn start_timer(app: &AppHandle) -> ScanTimer {
    let (timer, finished) = ScanTimer::new();
    let (list_app, scan_app) = (app.clone(), app.clone());
    let list: schedule::ListMailboxes = Box::new(move || {
        let app = list_app.clone();
        Box::pin(async move {
            let state = app.state::<AppState>();
            let session = state.session().await.ok()?;
            match session.scan_intervals().await {
                Ok(intervals) => Some(intervals),
                Err(e) => {
                    tracing::warn!(error = %e, "the mailboxes to scan could not be read; asking again in a minute");
                    None
                }
            }
        })
    });
    let scan: schedule::ScanOne = Box::new(move |account| {
        let app = scan_app.clone();
        Box::pin(async move {
            let state = app.state::<AppState>();
            let Ok(session) = state.session().await else {
                return;
            };
            match session
                .scan_mailboxes(Some(&account), CancellationToken::new(), |_, _| {})
                .await
            {
                Ok(_) => {
                    let _ignored = app.emit("bounces-scanned", ());
                }
                Err(e) => tracing::warn!(%account, error = %e, "scheduled bounce scan failed"),
            }
        })
    });
    tauri::async_runtime::spawn(schedule::run(finished, list, scan, CancellationToken::new()));
    timer
}
