//! The summary a person reads before a run starts ("1,988 recipients through
//! Sandbox, from news@example.org, at 5/s: about 7 minutes"; with several
//! accounts "through "A", then "B" when "A" is suspended"): how many
//! recipients a run would send to, through which accounts in order, from
//! which sender, at what pace, and about how long that takes. Computed here
//! so the window and the CLI say the same thing. How long is the day plan's
//! finish (`plan::work_out` on `plan::input_for`'s inputs: every account's
//! starting rate, the held rate included, its quotas, what it already sent
//! and its kept suspension, the send windows), so the summary and the plan
//! never disagree. Start sends now: a scheduled start time is not waited for
//! here.

use std::fmt;

use serde::Serialize;

use super::plan::thousands;
use crate::error::{Error, Result};
use crate::model::CampaignId;
use crate::store::Store;

/// What starting (or resuming) a campaign now would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SendPlan {
    pub campaign: String,
    /// Recipients the run would send to: pending and waiting to retry.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub recipients: u64,
    /// The accounts it would send through, in order: the first that is not
    /// suspended sends, the next when it is.
    pub accounts: Vec<String>,
    /// The sender address of the account that sends first (none when it
    /// has none yet: the run will refuse to start until it is set).
    pub from: Option<String>,
    /// Messages per second at most on the account that sends first: its
    /// rate, or its tightest quota spread over its window; none when
    /// nothing limits it.
    pub per_second: Option<f64>,
    /// About how long the run takes, every account in turn; none when unthrottled.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub seconds: Option<u64>,
}

/// The plan for sending `campaign` through `accounts` in order, else the
/// campaign's accounts (its list, else the one it last ran on), else the
/// default account (the last used, the sandbox on a fresh install).
pub async fn send_plan(store: &Store, campaign: CampaignId, accounts: &[&str]) -> Result<SendPlan> {
    let summary = store.campaign_summary(campaign).await?;
    let mut names = super::plan::distinct(accounts);
    if names.is_empty() {
        names = super::failover::accounts(store, campaign).await?;
    }
    if names.is_empty()
        && let Some(name) = crate::smtp::manage::default_account(store).await?
    {
        names.push(name);
    }
    if names.is_empty() {
        return Err(Error::CampaignState {
            campaign: summary.name.clone(),
            status: summary.status.as_str().to_owned(),
            action: "add an SMTP account to send with".to_owned(),
        });
    }
    let counts = store.status_counts(campaign).await?;
    let recipients = counts.pending + counts.retry_wait;
    // Start sends now, within the campaign's windows.
    let scheduled = store
        .schedule(campaign)
        .await?
        .map(|s| super::schedule::Schedule { start_at: None, ..s });
    let input = super::plan::input_for(store, scheduled, &names, recipients, None).await?;
    let plan = super::plan::work_out(&input);
    // The pace and sender of the account the run starts on.
    let first = super::plan::sending_now(&input.accounts)
        .and_then(|i| input.accounts.get(i))
        .ok_or_else(|| Error::Internal("a plan without accounts".to_owned()))?;
    let (_, settings) = crate::smtp::account::load(store, &first.name).await?;
    let per_second = [
        first.rate_per_second,
        first.per_minute.map(|n| f64::from(n) / 60.0),
        first.per_hour.map(|n| f64::from(n) / 3600.0),
        first.per_day.map(|n| f64::from(n) / 86_400.0),
    ]
    .into_iter()
    .flatten()
    .filter(|rate| rate.is_finite() && *rate > 0.0)
    .reduce(f64::min);
    // The plan's finish; with no rate but a quota, the quota's pace.
    let seconds = match (plan.duration_ms, per_second) {
        (Some(ms), _) => Some(ms.div_ceil(1000)),
        (None, Some(rate)) if input.accounts.len() == 1 && first.rate_per_second.is_none() => {
            Some(estimate_seconds(recipients, rate))
        }
        (None, _) => None,
    };
    Ok(SendPlan {
        campaign: summary.name,
        recipients,
        from: settings.sender_address(),
        accounts: names,
        per_second,
        seconds,
    })
}

/// Seconds to send `recipients` at `rate` a second (rounded up).
fn estimate_seconds(recipients: u64, rate: f64) -> u64 {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let seconds = (recipients as f64 / rate).ceil().min(u64::MAX as f64) as u64;
    seconds
}

/// English, for the CLI: "1,988 recipients through "Sandbox", from X, at
/// 5/s: about 7 minutes"; "through "A", then "B" when "A" is suspended".
impl fmt::Display for SendPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.recipients == 1 {
            "recipient"
        } else {
            "recipients"
        };
        let names: Vec<String> = self.accounts.iter().map(|a| format!("\"{a}\"")).collect();
        let first = names.first().cloned().unwrap_or_default();
        write!(
            f,
            "{} {noun} through {}",
            thousands(self.recipients),
            super::plan::in_turn(&names, &first)
        )?;
        match &self.from {
            Some(from) => write!(f, ", from {from}")?,
            None => f.write_str(", no sender address set")?,
        }
        match (self.per_second, self.seconds) {
            (Some(rate), Some(seconds)) => write!(f, ", at {}/s: {}", rate_text(rate), about(seconds)),
            _ => f.write_str(", as fast as the server takes them"),
        }
    }
}

fn rate_text(rate: f64) -> String {
    if (rate - rate.round()).abs() < 0.05 {
        format!("{rate:.0}")
    } else if rate >= 0.1 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.3}")
    }
}

/// A duration as a person says it roughly: "under a minute", "about 7
/// minutes", "about 2.5 hours", "about 3 days".
fn about(seconds: u64) -> String {
    match seconds {
        0..60 => "under a minute".to_owned(),
        60..5_400 => {
            let minutes = seconds.div_ceil(60);
            format!("about {minutes} minute{}", if minutes == 1 { "" } else { "s" })
        }
        5_400..172_800 => format!("about {:.1} hours", seconds as f64 / 3600.0),
        _ => format!("about {} days", seconds.div_ceil(86_400)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::address::InvalidReason;
    use crate::message::{self, MessageDraft, RowPreview};
    use crate::model::{CampaignStatus, RecipientStatus};
    use crate::outcome::RecipientReason;
    use crate::smtp::account::AccountSettings;
    use crate::store::{NewCampaign, NewRecipient};

    /// A campaign of rows 2..=4 (`Name`, `email`): row 3 skipped as an
    /// invalid address; and an account "Black hole" that sorts before the
    /// sandbox every fresh database has.
    async fn campaign_and_accounts(store: &Store) -> CampaignId {
        let columns = vec!["Name".to_owned(), "email".to_owned()];
        let mut writer = store
            .begin_import(&NewCampaign {
                name: "spring",
                source_file: "/x.csv",
                columns: &columns,
                email_column: "email",
            })
            .await
            .expect("begin");
        let row = |n: u64, email: &str, status, reason: Option<&RecipientReason>| {
            NewRecipient::new(
                n,
                email.to_owned(),
                &[format!("P{n}"), email.to_owned()],
                status,
                reason,
            )
            .expect("row")
        };
        let invalid = RecipientReason::InvalidAddress {
            problem: InvalidReason::MissingAt,
        };
        writer
            .write(&[
                row(2, "a@example.com", RecipientStatus::Pending, None),
                row(3, "b-at-example.com", RecipientStatus::Skipped, Some(&invalid)),
                row(4, "c@example.com", RecipientStatus::Pending, None),
            ])
            .await
            .expect("write");
        let id = writer.commit().await.expect("commit");
        crate::smtp::account::insert(
            store,
            &AccountSettings {
                name: "Black hole".to_owned(),
                host: "192.0.2.1".to_owned(),
                from_address: Some("news@example.org".to_owned()),
                per_minute: Some(60),
                rate_per_second: Some(5.0),
                ..AccountSettings::default()
            },
        )
        .await
        .expect("account");
        id
    }

    #[tokio::test]
    async fn the_default_account_is_the_sandbox_on_a_fresh_install_then_the_last_one_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let campaign = campaign_and_accounts(&store).await;
        let sandbox = crate::smtp::manage::default_account(&store).await.expect("default");
        let (_, settings) = crate::smtp::account::load(&store, sandbox.as_deref().expect("one"))
            .await
            .expect("account");
        assert!(settings.is_sandbox(), "not the alphabetically first: {sandbox:?}");

        let (profile, _) = store.account("Black hole").await.expect("account");
        store.begin_run(campaign, profile, "Black hole").await.expect("run");
        assert_eq!(
            crate::smtp::manage::default_account(&store)
                .await
                .expect("default")
                .as_deref(),
            Some("Black hole")
        );
    }

    #[tokio::test]
    async fn the_plan_counts_who_would_be_sent_to_at_the_accounts_pace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let campaign = campaign_and_accounts(&store).await;
        let planned = send_plan(&store, campaign, &["Black hole"]).await.expect("plan");
        assert_eq!(
            planned,
            SendPlan {
                campaign: "spring".to_owned(),
                recipients: 2,
                accounts: vec!["Black hole".to_owned()],
                from: Some("news@example.org".to_owned()),
                // 60 a minute is tighter than 5 a second on average...
                per_second: Some(1.0),
                // ...but lets both go at 5 a second, as the run and the
                // day plan send them: the second 0.2 s after the first.
                seconds: Some(1),
            }
        );
        // No account named and none used yet: the sandbox, unthrottled.
        let planned = send_plan(&store, campaign, &[]).await.expect("plan");
        assert_eq!(
            (planned.recipients, planned.per_second, planned.seconds),
            (2, None, None)
        );
        assert!(
            crate::smtp::account::load(&store, &planned.accounts[0])
                .await
                .expect("account")
                .1
                .is_sandbox()
        );
    }

    /// Issue 19: the summary before Start and the day plan agree on the
    /// finish of a windowed campaign on an account that held a lower rate
    /// than its setting: both plan with the held rate and the windows.
    #[tokio::test]
    async fn the_summary_and_the_day_plan_agree_on_a_windowed_campaign_at_the_held_rate() {
        use crate::campaign::plan::plan_campaign;
        use crate::campaign::schedule::{self, Schedule, SendWindow, parse_local_time};
        let zone = "Europe/Paris";
        // Friday 2026-12-04, a second before the window closes at 17:00.
        let now = parse_local_time("2026-12-04 16:59:59", zone).expect("test step");
        let monday = parse_local_time("2026-12-07 09:00", zone).expect("test step");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with_clock(
            &dir.path().join("m.db"),
            std::sync::Arc::new(crate::clock::ManualClock::at(now)),
        )
        .await
        .expect("open");
        let campaign = campaign_and_accounts(&store).await;
        let (profile, _) = store.account("Black hole").await.expect("account");
        // Set to 5 a second; the server held it at 0.5 last time.
        store.set_held_rate(profile, 0.5).await.expect("held");
        schedule::set(
            &store,
            campaign,
            &Schedule {
                start_at: None,
                time_zone: zone.to_owned(),
                windows: vec![SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")],
                account: None,
            },
        )
        .await
        .expect("schedule");
        let plan = plan_campaign(&store, campaign, &["Black hole"], None)
            .await
            .expect("plan");
        let summary = send_plan(&store, campaign, &["Black hole"]).await.expect("summary");
        // The first goes now; the second, 2 s later at 0.5/s, finds the
        // window closed and goes on Monday at 09:00.
        assert_eq!(plan.rate_per_second, Some(0.5));
        assert_eq!(plan.finishes_at, Some(monday));
        assert_eq!(summary.per_second, Some(0.5));
        assert_eq!(
            summary.seconds,
            plan.duration_ms.map(|ms| ms.div_ceil(1000)),
            "{summary} / {plan}"
        );
        assert_eq!(
            summary
                .seconds
                .map(|s| now + i64::try_from(s).expect("test step") * 1000),
            Some(monday)
        );
    }

    #[tokio::test]
    async fn a_paused_campaign_stops_with_its_unsent_recipients_cancelled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let campaign = campaign_and_accounts(&store).await;
        let refused = crate::campaign::stop_idle(&store, campaign).await.expect_err("a draft");
        assert_eq!(refused.kind(), ErrorKind::CampaignState);

        store
            .set_campaign_status(campaign, CampaignStatus::Paused, None)
            .await
            .expect("pause");
        let counts = crate::campaign::stop_idle(&store, campaign).await.expect("stop");
        assert_eq!((counts.cancelled, counts.pending, counts.skipped), (2, 0, 1));
        let summary = store.campaign_summary(campaign).await.expect("summary");
        assert_eq!(summary.status, CampaignStatus::Stopped);
    }

    #[tokio::test]
    async fn a_skipped_row_previews_as_skipped_with_its_reason_and_fields_are_known_before_a_save() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("m.db")).await.expect("open");
        let campaign = campaign_and_accounts(&store).await;
        assert_eq!(
            message::merge_fields(&store, campaign).await.expect("fields"),
            ["name", "email"],
            "the imported columns, before any message is saved"
        );
        let draft = MessageDraft {
            subject: "Hi {{ name }}".to_owned(),
            text: Some("Hello".to_owned()),
            ..MessageDraft::default()
        };
        message::save_message(&store, campaign, &draft).await.expect("save");
        match message::preview_message(&store, campaign, Some(3), None)
            .await
            .expect("preview")
        {
            RowPreview::Skipped(skipped) => {
                assert_eq!((skipped.row, skipped.email.as_str()), (3, "b-at-example.com"));
                assert_eq!(
                    skipped.reason,
                    Some(RecipientReason::InvalidAddress {
                        problem: InvalidReason::MissingAt
                    })
                );
            }
            RowPreview::Message(m) => panic!("a skipped row rendered as a message to {}", m.to),
        }
        match message::preview_message(&store, campaign, Some(4), None)
            .await
            .expect("preview")
        {
            RowPreview::Message(m) => assert_eq!(m.subject, "Hi P4"),
            RowPreview::Skipped(s) => panic!("row 4 is not skipped: {s:?}"),
        }
    }

    #[test]
    fn the_plan_reads_as_one_sentence() {
        let plan = SendPlan {
            campaign: "spring".to_owned(),
            recipients: 1988,
            accounts: vec!["Sandbox".to_owned()],
            from: Some("news@example.org".to_owned()),
            per_second: Some(5.0),
            seconds: Some(estimate_seconds(1988, 5.0)),
        };
        assert_eq!(
            plan.to_string(),
            "1,988 recipients through \"Sandbox\", from news@example.org, at 5/s: about 7 minutes"
        );
        let unthrottled = SendPlan {
            per_second: None,
            seconds: None,
            recipients: 1,
            ..plan.clone()
        };
        assert_eq!(
            unthrottled.to_string(),
            "1 recipient through \"Sandbox\", from news@example.org, as fast as the server takes them"
        );
        let two = SendPlan {
            accounts: vec!["A".to_owned(), "B".to_owned()],
            ..plan.clone()
        };
        assert_eq!(
            two.to_string(),
            "1,988 recipients through \"A\", then \"B\" when \"A\" is suspended, from news@example.org, at 5/s: \
             about 7 minutes"
        );
        let three = SendPlan {
            accounts: vec!["A".to_owned(), "B".to_owned(), "C".to_owned()],
            ..plan
        };
        assert!(
            three
                .to_string()
                .contains("through \"A\", then \"B\", then \"C\", each when the ones before it are suspended, from"),
            "{three}"
        );
    }

    /// Issue 19: with accounts A then B, the summary names both in order,
    /// starts at the pace of the one that sends first (B while A is
    /// suspended), and its time is the day plan's over both accounts.
    #[tokio::test]
    async fn the_summary_names_every_account_in_order_and_agrees_with_the_plan_over_them() {
        use crate::campaign::plan::plan_campaign;
        use crate::outcome::{QuotaWindow, SuspensionReason};
        let dir = tempfile::tempdir().expect("temp dir");
        let now = 1_796_634_000_000; // 2026-12-07 09:00 UTC
        let store = Store::open_with_clock(
            &dir.path().join("m.db"),
            std::sync::Arc::new(crate::clock::ManualClock::at(now)),
        )
        .await
        .expect("open");
        let campaign = campaign_and_accounts(&store).await;
        crate::smtp::account::insert(
            &store,
            &AccountSettings {
                name: "Backup".to_owned(),
                host: "192.0.2.2".to_owned(),
                from_address: Some("backup@example.org".to_owned()),
                rate_per_second: Some(0.5),
                ..AccountSettings::default()
            },
        )
        .await
        .expect("account");
        let planned = send_plan(&store, campaign, &["Black hole", "Backup", "Black hole"])
            .await
            .expect("plan");
        assert_eq!(planned.accounts, ["Black hole", "Backup"], "in order, each once");
        assert_eq!(
            (planned.from.as_deref(), planned.per_second),
            (Some("news@example.org"), Some(1.0))
        );
        assert!(
            planned
                .to_string()
                .starts_with("2 recipients through \"Black hole\", then \"Backup\" when \"Black hole\" is suspended"),
            "{planned}"
        );
        // Black hole suspended for an hour: Backup sends first, at its pace.
        let (profile, _) = store.account("Black hole").await.expect("account");
        store
            .suspend_account(
                profile,
                now + 3_600_000,
                &SuspensionReason::Quota {
                    window: QuotaWindow::Day,
                    limit: 500,
                },
            )
            .await
            .expect("suspend");
        let planned = send_plan(&store, campaign, &["Black hole", "Backup"])
            .await
            .expect("plan");
        assert_eq!(
            (planned.from.as_deref(), planned.per_second),
            (Some("backup@example.org"), Some(0.5))
        );
        let plan = plan_campaign(&store, campaign, &["Black hole", "Backup"], None)
            .await
            .expect("plan");
        let counts: Vec<(&str, u64)> = plan.accounts.iter().map(|a| (a.name.as_str(), a.count)).collect();
        assert_eq!(counts, [("Black hole", 0), ("Backup", 2)]);
        assert_eq!(plan.accounts[0].suspended_until, Some(now + 3_600_000));
        // Two at 0.5/s: the second 2 s after the first.
        assert_eq!(planned.seconds, plan.duration_ms.map(|ms| ms.div_ceil(1000)));
        assert_eq!(planned.seconds, Some(3));
        // The live rate while sending is the sending account's.
        let plan = plan_campaign(&store, campaign, &["Black hole", "Backup"], Some(2.0))
            .await
            .expect("plan");
        assert_eq!(
            (plan.accounts[0].rate_per_second, plan.accounts[1].rate_per_second),
            (Some(5.0), Some(2.0))
        );
    }

    #[test]
    fn durations_are_rounded_as_people_say_them() {
        assert_eq!(about(0), "under a minute");
        assert_eq!(about(61), "about 2 minutes");
        assert_eq!(about(9_000), "about 2.5 hours");
        assert_eq!(about(3 * 86_400), "about 3 days");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
