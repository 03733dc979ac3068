//! The session's calls for schedules and plans: a campaign's start time
//! and send windows, and how its recipients would go out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{CampaignRef, Session};
use crate::campaign::plan::{self, Plan};
use crate::campaign::schedule::{self, Schedule, ScheduleChange, ScheduledCampaign};
use crate::error::Result;
use crate::model::CampaignId;

impl Session {
    /// Now, by the database's clock (Unix ms): what schedules are compared with.
    pub fn now_ms(&self) -> i64 {
        self.store().now_ms()
    }

    /// Starts this database's scheduled campaigns as they come due, until
    /// `cancel` (see `schedule::run_due`): the app's timer (`until_idle`
    /// false) and `mailroom schedule run` (true).
    pub async fn run_due_schedules<F, Fut>(
        &self,
        since: i64,
        until_idle: bool,
        changed: Arc<tokio::sync::Notify>,
        cancel: CancellationToken,
        start: F,
    ) -> Result<()>
    where
        F: Fn(CampaignId, Option<String>) -> Fut,
        Fut: Future<Output = ()>,
    {
        schedule::run_due(self.store(), since, until_idle, changed, cancel, start).await
    }

    /// Waits until `at` (Unix ms, the database's clock), reading the clock
    /// again at least every 30 s: tokio's clock stands still while the
    /// computer sleeps, the wall clock does not. `false` if cancelled first.
    pub async fn wait_until(&self, at: i64, cancel: &CancellationToken) -> bool {
        loop {
            let left = at - self.now_ms();
            if left <= 0 {
                return true;
            }
            let nap = Duration::from_millis(u64::try_from(left).unwrap_or(0)).min(Duration::from_secs(30));
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// The campaign's schedule, if it has one.
    pub async fn schedule(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Option<Schedule>> {
        let id = self.resolve(campaign).await?;
        schedule::get(self.store(), id).await
    }

    /// Sets the campaign's schedule to send on `accounts` in order (see
    /// `schedule::set_on_accounts`).
    pub async fn set_schedule(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        schedule: &Schedule,
        accounts: &[&str],
    ) -> Result<()> {
        let id = self.resolve(campaign).await?;
        schedule::set_on_accounts(self.store(), id, schedule, accounts).await
    }

    /// Changes the campaign's schedule as `change` says (what it leaves out
    /// is kept), to send on `accounts` in order (none: as before); the
    /// schedule as the list shows it.
    pub async fn change_schedule(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        change: &ScheduleChange,
        accounts: &[&str],
    ) -> Result<ScheduledCampaign> {
        let id = self.resolve(campaign).await?;
        let current = schedule::get(self.store(), id).await?;
        let wanted = change.apply(current.as_ref())?;
        schedule::set_on_accounts(self.store(), id, &wanted, accounts).await?;
        self.scheduled_campaign(id, wanted).await
    }

    /// Removes the campaign's schedule.
    pub async fn clear_schedule(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<CampaignId> {
        let id = self.resolve(campaign).await?;
        schedule::clear(self.store(), id).await?;
        Ok(id)
    }

    /// Every schedule, each saying whether its start was missed before `since` (Unix ms).
    pub async fn schedules(&self, since: i64) -> Result<Vec<ScheduledCampaign>> {
        schedule::list(self.store(), since).await
    }

    /// Takes a scheduled start ("send now", for a missed one): the account it was to send on.
    pub async fn take_scheduled_start(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Option<String>> {
        let id = self.resolve(campaign).await?;
        schedule::take_start(self.store(), id).await
    }

    /// How the campaign's remaining recipients would go out on `accounts`
    /// in order (none: the schedule's, else the campaign's; see `campaign::plan`).
    pub async fn plan(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        accounts: &[&str],
        rate_hint: Option<f64>,
    ) -> Result<Plan> {
        let id = self.resolve(campaign).await?;
        plan::plan_campaign(self.store(), id, accounts, rate_hint).await
    }

    /// The campaign's schedule as the schedule list shows it (its name, the
    /// accounts its start sends on), `schedule` when none is kept.
    pub async fn scheduled_campaign(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        schedule: Schedule,
    ) -> Result<ScheduledCampaign> {
        let id = self.resolve(campaign).await?;
        let kept = schedule::get(self.store(), id).await?.unwrap_or(schedule);
        Ok(ScheduledCampaign {
            campaign: id,
            name: self.store().campaign_summary(id).await?.name,
            accounts: schedule::start_accounts(self.store(), id, Some(&kept)).await?,
            schedule: kept,
            missed: false,
        })
    }

    /// Takes the campaign's scheduled start if it is still set and due:
    /// `Some(account)` to start it now (see `schedule::take_due`).
    pub async fn take_due_start(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Option<Option<String>>> {
        let id = self.resolve(campaign).await?;
        schedule::take_due(self.store(), id).await
    }

    /// The schedules whose start passed before `since` (Unix ms) unsent.
    pub async fn missed_schedules(&self, since: i64) -> Result<Vec<ScheduledCampaign>> {
        schedule::missed(self.store(), since).await
    }
}
