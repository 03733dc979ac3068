//! Schedules in the app: the Campaign screen's commands (each one engine
//! call) and the schedule timer. The timer is the engine's
//! (`campaign::schedule::run_due`); when a start comes due it tells the
//! window (`schedule-due`), which starts the run as its Start button does, so
//! the run's figures and controls are the usual ones. Starts that passed
//! while the app was closed are never run here: the window asks about them
//! (`missed_schedules`).

use std::sync::{Arc, OnceLock};

use mailroom_engine::campaign::plan::Plan;
use mailroom_engine::campaign::schedule::{self, Schedule, ScheduledCampaign};
use mailroom_engine::model::CampaignId;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio_util::sync::CancellationToken;

use crate::ipc::IpcResult;
use crate::state::AppState;

/// The schedule timer's state: since when it has been looking (a start
/// before that was missed) and how to wake it after a change.
#[derive(Debug, Default)]
pub struct Schedules {
    since: OnceLock<i64>,
    changed: Arc<tokio::sync::Notify>,
}

impl Schedules {
    pub(crate) fn since(&self, session: &mailroom_engine::Session) -> i64 {
        *self.since.get_or_init(|| session.now_ms())
    }
}

/// What the window hears when a scheduled start comes due.
#[derive(Debug, Clone, Serialize)]
struct Due {
    campaign: CampaignId,
    account: Option<String>,
}

/// Starts the timer once the database is open; it runs for the app's life.
pub fn start_timer(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let Ok(session) = state.session().await else {
            return;
        };
        let schedules = app.state::<Schedules>();
        let since = schedules.since(&session);
        let changed = schedules.changed.clone();
        let notify = app.clone();
        let result = session
            .run_due_schedules(
                since,
                false,
                changed,
                CancellationToken::new(),
                move |campaign, account| {
                    let notify = notify.clone();
                    // Claimed until the window's run of it ends, so Mailroom in
                    // the background does not quit before the run begins.
                    notify.state::<crate::background::Background>().hand_over(campaign);
                    async move {
                        if let Err(e) = notify.emit("schedule-due", Due { campaign, account }) {
                            tracing::warn!(error = %e, "could not tell the window a scheduled campaign starts");
                        }
                    }
                },
            )
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "the schedule timer stopped");
        }
    });
}

#[tauri::command]
pub async fn get_schedule(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Option<Schedule>> {
    Ok(state.session().await?.schedule(campaign).await?)
}

/// Sets a campaign's schedule to send on `accounts` in order (the Campaign
/// screen's; see `schedule::set_on_accounts`) and wakes the timer. `start`
/// is the local date and time the person chose ("2026-12-03 09:00"), read
/// in the schedule's zone by the engine; `None`: no start time.
#[tauri::command]
pub async fn set_schedule(
    state: State<'_, AppState>,
    schedules: State<'_, Schedules>,
    campaign: CampaignId,
    start: Option<String>,
    mut schedule: Schedule,
    accounts: Vec<String>,
) -> IpcResult<()> {
    schedule.start_at = start
        .map(|text| schedule::parse_local_time(&text, &schedule.time_zone))
        .transpose()?;
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    state
        .session()
        .await?
        .set_schedule(campaign, &schedule, &accounts)
        .await?;
    schedules.changed.notify_one();
    Ok(())
}

#[tauri::command]
pub async fn clear_schedule(
    state: State<'_, AppState>,
    schedules: State<'_, Schedules>,
    campaign: CampaignId,
) -> IpcResult<()> {
    state.session().await?.clear_schedule(campaign).await?;
    schedules.changed.notify_one();
    Ok(())
}

/// Every schedule, each saying whether it was missed while the app was closed.
#[tauri::command]
pub async fn list_schedules(
    state: State<'_, AppState>,
    schedules: State<'_, Schedules>,
) -> IpcResult<Vec<ScheduledCampaign>> {
    let session = state.session().await?;
    Ok(session.schedules(schedules.since(&session)).await?)
}

/// Takes a scheduled start ("send now", for a missed one): returns the account it was to send on.
#[tauri::command]
pub async fn take_scheduled_start(state: State<'_, AppState>, campaign: CampaignId) -> IpcResult<Option<String>> {
    Ok(state.session().await?.take_scheduled_start(campaign).await?)
}

/// How the campaign's remaining recipients would go out on `accounts` in
/// order (none: the schedule's, else the campaign's; see `campaign::plan`).
#[tauri::command]
pub async fn plan_campaign(
    state: State<'_, AppState>,
    campaign: CampaignId,
    accounts: Vec<String>,
    rate_hint: Option<f64>,
) -> IpcResult<Plan> {
    let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
    Ok(state.session().await?.plan(campaign, &accounts, rate_hint).await?)
}

/// This computer's time zone, the schedule form's default.
#[tauri::command]
pub fn local_time_zone() -> String {
    schedule::local_time_zone()
}

/// Every IANA zone name, for the schedule form's list.
#[tauri::command]
pub fn time_zones() -> Vec<String> {
    schedule::time_zone_names()
}
