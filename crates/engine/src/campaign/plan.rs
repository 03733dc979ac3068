//! The plan before Start (and while sending): how the recipients left will
//! spread over the days, from the campaign's accounts in order (each with
//! its rate, its quotas, what it already sent: the `send_counts` the quotas
//! are seeded from, and a suspension kept on it), the campaign's start time
//! and its send windows. "5,400 recipients on 2,000 a day: Mon 2,000 · Tue
//! 2,000 · Wed 1,400, finishing about Wed 11:20", as data ([`Plan`]) each
//! front end renders.
//!
//! It is worked out by sending on paper: the same [`Quotas`] the runner
//! uses take one message at a time at the paced rate, and the windows move
//! the time to the next opening, so the plan keeps exactly the runner's
//! rules. With several accounts it keeps the failover's (`failover.rs`):
//! the first account that is not suspended sends; a quota wait that would
//! suspend the account (`QUOTA_SUSPENDS_AFTER_MS` or longer) moves to the
//! next one, a shorter one is waited out; when every account is suspended
//! the one that frees first sends; an earlier account that frees takes
//! over again. Accounts A at 2,000 a day and B at 1,000 plan 3,000 a day.
//! It says "about": a server that throttles, retries and the time a message
//! takes on the wire move the real finish.

use serde::Serialize;

use super::failover::QUOTA_SUSPENDS_AFTER_MS;
use super::schedule::{self, Weekday, Windows};
use super::throttle::Quotas;
use crate::error::{Error, Result};
use crate::model::CampaignId;
use crate::store::Store;

/// Days a plan looks ahead at most; a campaign that would take longer says
/// so (no finish time) instead of being worked out for ever.
const HORIZON_DAYS: i64 = 366;

/// One local day of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct PlanDay {
    /// The local date, as 2026-12-07.
    pub date: String,
    pub weekday: Weekday,
    /// Messages planned that day, all accounts together.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub count: u64,
}

/// One of the accounts a plan sends through, in the campaign's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct PlanAccount {
    pub name: String,
    /// The rate planned with on it (messages a second); `None`: no limit.
    pub rate_per_second: Option<f64>,
    pub per_day: Option<u32>,
    /// What it sent in the last 24 hours, which its daily quota counts.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sent_today: u64,
    /// It is suspended (a provider's rule, its quota) until then (Unix ms)
    /// as the plan starts: it sends nothing before.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub suspended_until: Option<i64>,
    /// Messages the plan sends through it.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub count: u64,
}

/// How the recipients left are planned to go out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Plan {
    /// Recipients still to send (pending, waiting to retry, in flight).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub remaining: u64,
    /// The accounts it sends through, in order: the first that is not
    /// suspended sends, the next when it is.
    pub accounts: Vec<PlanAccount>,
    /// The rate the first message goes at (messages a second): the live
    /// rate while sending, else that of the account that sends first;
    /// `None`: no limit, so the finish depends on the server.
    pub rate_per_second: Option<f64>,
    /// The accounts' daily quotas together (2,000 and 1,000: 3,000); `None`
    /// when one of them has none.
    pub per_day: Option<u32>,
    /// What the accounts sent in the last 24 hours, together.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sent_today: u64,
    /// The zone days and times are read in (the schedule's, else this computer's).
    pub time_zone: String,
    /// When the first message is planned to go (Unix ms): now, the scheduled
    /// start, the next window's opening, or when an account frees.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub starts_at: Option<i64>,
    /// The days with messages, in order.
    pub days: Vec<PlanDay>,
    /// About when the last message goes (Unix ms); `None` when an account
    /// that sends has no rate, or beyond a year.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub finishes_at: Option<i64>,
    /// From now to `finishes_at`, for a short "about 7 minutes".
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub duration_ms: Option<u64>,
}

/// One account as a plan is worked out from it.
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub name: String,
    pub rate_per_second: Option<f64>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    /// (Unix minute, messages) the account sent, as `Store::send_counts`.
    pub sent: Vec<(i64, u64)>,
    /// A suspension kept on it (Unix ms), as `Store::account_suspensions`.
    pub suspended_until: Option<i64>,
}

/// What a plan is worked out from.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Unix ms.
    pub now: i64,
    pub remaining: u64,
    pub start_at: Option<i64>,
    /// The campaign's accounts, in order.
    pub accounts: Vec<AccountInput>,
    pub windows: Windows,
}

/// Messages counted in the last 24 hours before `now` (Unix ms), as the daily quota counts them.
fn sent_in_last_day(sent: &[(i64, u64)], now: i64) -> u64 {
    let now_second = now.div_euclid(1000);
    sent.iter()
        .filter(|(minute, _)| minute * 60 + 59 > now_second - 86_400)
        .map(|(_, n)| n)
        .sum()
}

/// Works a plan out on paper (see the module's doc).
pub fn work_out(input: &PlanInput) -> Plan {
    let accounts: Vec<PlanAccount> = input
        .accounts
        .iter()
        .map(|a| PlanAccount {
            name: a.name.clone(),
            rate_per_second: a.rate_per_second,
            per_day: a.per_day,
            sent_today: sent_in_last_day(&a.sent, input.now),
            suspended_until: a.suspended_until.filter(|until| *until > input.now),
            count: 0,
        })
        .collect();
    let per_day = if accounts.is_empty() {
        None
    } else {
        accounts
            .iter()
            .try_fold(0u32, |sum, a| a.per_day.map(|d| sum.saturating_add(d)))
    };
    let zone = input.windows.zone_name().to_owned();
    let mut plan = Plan {
        remaining: input.remaining,
        rate_per_second: accounts.first().and_then(|a| a.rate_per_second),
        per_day,
        sent_today: accounts.iter().map(|a| a.sent_today).sum(),
        accounts,
        time_zone: zone.clone(),
        starts_at: None,
        days: Vec::new(),
        finishes_at: None,
        duration_ms: None,
    };
    // Without a rate, messages are planned as if instant: the days a quota
    // spreads them over still hold, the finish time does not.
    let periods: Vec<Option<f64>> = input
        .accounts
        .iter()
        .map(|a| {
            a.rate_per_second
                .filter(|r| *r > 0.0)
                .map(|r| 1000.0 * super::throttle::PERIOD_MARGIN / r)
        })
        .collect();
    let mut quotas: Vec<Quotas> = input
        .accounts
        .iter()
        .map(|a| Quotas::new(a.per_minute, a.per_hour, a.per_day, &a.sent))
        .collect();
    // When each account may send again (Unix ms): its kept suspension, then
    // the quota waits long enough to suspend it.
    let mut free_at: Vec<i64> = plan
        .accounts
        .iter()
        .map(|a| a.suspended_until.unwrap_or(i64::MIN))
        .collect();
    let horizon = input.now + HORIZON_DAYS * 86_400_000;
    let mut at = input.start_at.map_or(input.now, |s| s.max(input.now));
    // Fractional milliseconds of pacing carried over.
    let mut exact = at as f64;
    // The open span `at` is in, and the local day it falls on, kept so
    // each message does not ask the zone database again.
    let mut open_until: Option<i64> = None;
    let mut day_end = i64::MIN;
    let mut last = None;
    let mut sending: Option<usize> = None;
    // A message went through an account with no rate: no finish time.
    let mut unpaced = false;
    for _ in 0..input.remaining {
        let chosen = loop {
            if at > horizon {
                return plan;
            }
            if !input.windows.is_always() && open_until.is_none_or(|end| at >= end) {
                if let Some(opens) = input.windows.closed_until(at) {
                    at = opens;
                    exact = at as f64;
                }
                open_until = input.windows.open_until(at);
            }
            let Some(index) = (0..free_at.len()).find(|&i| free_at[i] <= at) else {
                // Every account is suspended: the one that frees first sends.
                let Some(&frees) = free_at.iter().min() else {
                    return plan;
                };
                at = frees.max(at + 1);
                exact = at as f64;
                continue;
            };
            if sending != Some(index) {
                // Another account's run starts: its own pace, from now.
                sending = Some(index);
                exact = at as f64;
            }
            match quotas[index].take(at) {
                Ok(()) => break index,
                // As the runner: a long wait suspends the account.
                Err(wait) if wait.until - at >= QUOTA_SUSPENDS_AFTER_MS => free_at[index] = wait.until,
                Err(wait) => {
                    at = wait.until.max(at + 1);
                    exact = at as f64;
                }
            }
        };
        if plan.starts_at.is_none() {
            plan.starts_at = Some(at);
            plan.rate_per_second = plan.accounts[chosen].rate_per_second;
        }
        if at >= day_end {
            let Some(zoned) = schedule::zoned(at, &zone) else {
                return plan;
            };
            let date = zoned.date();
            day_end = date
                .tomorrow()
                .ok()
                .and_then(|d| d.to_zoned(zoned.time_zone().clone()).ok())
                .map_or(i64::MAX, |z| z.timestamp().as_millisecond());
            plan.days.push(PlanDay {
                date: date.to_string(),
                weekday: weekday_of(date),
                count: 0,
            });
        }
        if let Some(day) = plan.days.last_mut() {
            day.count += 1;
        }
        plan.accounts[chosen].count += 1;
        last = Some(at);
        match periods[chosen] {
            Some(period) => {
                exact += period;
                at = exact as i64;
            }
            None => unpaced = true,
        }
    }
    if !unpaced {
        plan.finishes_at = last;
        plan.duration_ms = last.map(|l| u64::try_from(l - input.now).unwrap_or(0));
    }
    plan
}

fn weekday_of(date: jiff::civil::Date) -> Weekday {
    Weekday::ALL[date.weekday().to_monday_zero_offset().rem_euclid(7) as usize]
}

/// The plan for campaign `campaign` on `accounts` in order (none given: the
/// schedule's account, else the campaign's accounts, else the one it last
/// ran on), now. `rate_hint`: the rate to plan with instead of the account's
/// that sends now (the live rate while it sends).
pub async fn plan_campaign(
    store: &Store,
    campaign: CampaignId,
    accounts: &[&str],
    rate_hint: Option<f64>,
) -> Result<Plan> {
    let summary = store.campaign_summary(campaign).await?;
    let scheduled = store.schedule(campaign).await?;
    let names = if accounts.is_empty() {
        schedule::start_accounts(store, campaign, scheduled.as_ref()).await?
    } else {
        distinct(accounts)
    };
    if names.is_empty() {
        return Err(Error::CampaignState {
            campaign: summary.name.clone(),
            status: summary.status.as_str().to_owned(),
            action: "choose the SMTP account to plan with (--smtp NAME)".to_owned(),
        });
    }
    let counts = &summary.counts;
    let remaining = counts.pending + counts.retry_wait + counts.sending;
    Ok(work_out(
        &input_for(store, scheduled, &names, remaining, rate_hint).await?,
    ))
}

/// `names` in order, each once.
pub(crate) fn distinct(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.iter().any(|n| n.as_str() == *name) {
            out.push((*name).to_owned());
        }
    }
    out
}

/// What a plan of `remaining` recipients on `accounts` (in order) is
/// worked out from, now: each account's starting rate (its rate, or the
/// lower one it held last time, see
/// [`starting_rate`](super::throttle::starting_rate); `rate_hint` instead
/// for the account that sends now), its quotas, what it already sent and
/// the suspension kept on it, and the campaign's `scheduled` start and send
/// windows. The day plan and the summary before Start (`send_plan`) both
/// use it, so they agree.
pub(crate) async fn input_for(
    store: &Store,
    scheduled: Option<schedule::Schedule>,
    accounts: &[String],
    remaining: u64,
    rate_hint: Option<f64>,
) -> Result<PlanInput> {
    let now = store.now_ms();
    let suspensions = store.account_suspensions().await?;
    let mut inputs = Vec::with_capacity(accounts.len());
    for name in accounts {
        let (profile, settings) = crate::smtp::account::load(store, name).await?;
        let sent = store
            .send_counts(profile, now.div_euclid(60_000) - Quotas::LOOKBACK_MINUTES)
            .await?;
        let held = store.held_rate(profile).await?.map(|held| held.rate);
        inputs.push(AccountInput {
            name: name.clone(),
            rate_per_second: super::throttle::starting_rate(settings.rate_per_second, held),
            per_minute: settings.per_minute,
            per_hour: settings.per_hour,
            per_day: settings.per_day,
            sent,
            suspended_until: suspensions.get(&profile).map(|s| s.until).filter(|until| *until > now),
        });
    }
    if let Some(hint) = rate_hint
        && let Some(index) = sending_now(&inputs)
    {
        inputs[index].rate_per_second = Some(hint);
    }
    let (windows, start_at) = match &scheduled {
        Some(s) => (s.windows()?, s.start_at),
        None => (Windows::new(&[], &schedule::local_time_zone())?, None),
    };
    Ok(PlanInput {
        now,
        remaining,
        start_at,
        accounts: inputs,
        windows,
    })
}

/// The account a run sends on now, as the failover chooses it: the first
/// that is not suspended, else the one that frees first.
pub(crate) fn sending_now(accounts: &[AccountInput]) -> Option<usize> {
    accounts.iter().position(|a| a.suspended_until.is_none()).or_else(|| {
        accounts
            .iter()
            .enumerate()
            .min_by_key(|(i, a)| (a.suspended_until, *i))
            .map(|(i, _)| i)
    })
}

/// "1,400".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Accounts said in the order they send, for the CLI: `"A"`; `"A", then
/// "B" when "A" is suspended`; `"A", then "B", then "C", each when the ones
/// before it are suspended`. `items` are the accounts as said (a name,
/// quoted, perhaps with details), `first` the first one's quoted name.
pub fn in_turn(items: &[String], first: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [one, two] => format!("{one}, then {two} when {first} is suspended"),
        [one, rest @ ..] => format!(
            "{one}, then {}, each when the ones before it are suspended",
            rest.join(", then ")
        ),
    }
}

/// "2/s", "0.5/s".
fn rate_text(rate: f64) -> String {
    format!("{rate}/s")
}

/// English, for the CLI: "5,400 recipients on 2,000 a day: Mon 2,000 · Tue
/// 2,000 · Wed 1,400, finishing about Wed 11:20"; with several accounts,
/// each in turn with its quota, rate, what it sent today and its share:
/// "5,400 recipients on 3,000 a day through "A" (2,000 a day, at 2/s;
/// sends 3,400), then "B" (1,000 a day, at 1/s; sends 2,000) when "A" is
/// suspended: Mon 3,000 · Tue 2,400, ...".
impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if crate::english::is_one(&self.remaining) {
            "recipient"
        } else {
            "recipients"
        };
        write!(f, "{} {noun}", thousands(self.remaining))?;
        if let Some(per_day) = self.per_day {
            write!(f, " on {} a day", thousands(u64::from(per_day)))?;
        }
        if let [account] = self.accounts.as_slice() {
            if account.per_day.is_some() && self.sent_today > 0 {
                write!(f, " ({} sent in the last 24 hours)", thousands(self.sent_today))?;
            }
            if let Some(until) = account.suspended_until {
                write!(
                    f,
                    " (\"{}\" is suspended until {})",
                    account.name,
                    schedule::describe_time(until, &self.time_zone)
                )?;
            }
        } else if !self.accounts.is_empty() {
            let items: Vec<String> = self.accounts.iter().map(|a| self.account_text(a)).collect();
            let first = format!("\"{}\"", self.accounts[0].name);
            write!(f, " through {}", in_turn(&items, &first))?;
        }
        if self.remaining == 0 {
            return Ok(());
        }
        if self.accounts.len() <= 1
            && let Some(rate) = self.rate_per_second
        {
            write!(f, " at {}", rate_text(rate))?;
        }
        let days: Vec<String> = self
            .days
            .iter()
            .map(|d| {
                let title = d.weekday.as_str();
                let title = format!("{}{}", title[..1].to_ascii_uppercase(), &title[1..]);
                format!("{title} {}", thousands(d.count))
            })
            .collect();
        write!(f, ": {}", days.join(" · "))?;
        match self.finishes_at {
            Some(at) => {
                let when = schedule::zoned(at, &self.time_zone)
                    .map_or_else(String::new, |z| z.strftime("%a %H:%M").to_string());
                write!(f, ", finishing about {when} ({})", self.time_zone)
            }
            None if self.unpaced() => f.write_str(" (no rate limit: the finish depends on the server)"),
            None => f.write_str(" (more than a year)"),
        }
    }
}

impl Plan {
    /// An account that sends has no rate limit (so no finish is worked out).
    fn unpaced(&self) -> bool {
        self.accounts.iter().any(|a| a.rate_per_second.is_none() && a.count > 0)
    }

    /// One of several accounts, for the CLI: `"B" (suspended until Tue
    /// 2026-12-08 09:00, 1,000 a day, at 1/s, 200 sent in the last 24 hours;
    /// sends 1,400)`.
    fn account_text(&self, account: &PlanAccount) -> String {
        let mut details = Vec::new();
        if let Some(until) = account.suspended_until {
            details.push(format!(
                "suspended until {}",
                schedule::describe_time(until, &self.time_zone)
            ));
        }
        if let Some(per_day) = account.per_day {
            details.push(format!("{} a day", thousands(u64::from(per_day))));
        }
        if let Some(rate) = account.rate_per_second {
            details.push(format!("at {}", rate_text(rate)));
        }
        if account.sent_today > 0 {
            details.push(format!("{} sent in the last 24 hours", thousands(account.sent_today)));
        }
        let sends = format!("sends {}", thousands(account.count));
        if details.is_empty() {
            format!("\"{}\" ({sends})", account.name)
        } else {
            format!("\"{}\" ({}; {sends})", account.name, details.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::schedule::{SendWindow, parse_local_time};

    const ZONE: &str = "Europe/Paris";

    fn at(text: &str) -> i64 {
        parse_local_time(text, ZONE).expect("test step")
    }

    /// An account at `rate` a second, with no quota.
    fn account(name: &str, rate: Option<f64>) -> AccountInput {
        AccountInput {
            name: name.to_owned(),
            rate_per_second: rate,
            ..AccountInput::default()
        }
    }

    /// `remaining` recipients from `now` on one account "A" at 2/s.
    fn input(now: i64, remaining: u64) -> PlanInput {
        on(now, remaining, vec![account("A", Some(2.0))])
    }

    fn on(now: i64, remaining: u64, accounts: Vec<AccountInput>) -> PlanInput {
        PlanInput {
            now,
            remaining,
            start_at: None,
            accounts,
            windows: Windows::new(&[], ZONE).expect("test step"),
        }
    }

    fn split(plan: &Plan) -> Vec<(String, u64)> {
        plan.days
            .iter()
            .map(|d| (d.weekday.as_str().to_owned(), d.count))
            .collect()
    }

    fn shares(plan: &Plan) -> Vec<(&str, u64)> {
        plan.accounts.iter().map(|a| (a.name.as_str(), a.count)).collect()
    }

    #[test]
    fn one_recipient_is_one_recipient() {
        let plan = work_out(&input(at("2026-12-07 09:00"), 1));
        assert!(plan.to_string().starts_with("1 recipient at 2/s"), "{plan}");
    }

    #[test]
    fn a_daily_quota_spreads_the_list_over_days() {
        // Monday 2026-12-07 09:00, 5,400 recipients, 2,000 a day at 2/s.
        let now = at("2026-12-07 09:00");
        let plan = work_out(&on(
            now,
            5_400,
            vec![AccountInput {
                per_day: Some(2_000),
                ..account("A", Some(2.0))
            }],
        ));
        assert_eq!(
            split(&plan),
            [("mon".into(), 2_000), ("tue".into(), 2_000), ("wed".into(), 1_400)]
        );
        // Each day's 2,000 go from 09:00 at 2/s (1,005 s for every 2,000 at
        // the pacer's 0.5% margin); Wednesday's 1,400 end about 09:11:43.
        let finish = plan.finishes_at.expect("test step");
        let expected = at("2026-12-09 09:00") + (1_399.0 * 502.5) as i64;
        assert!((finish - expected).abs() < 5_000, "{finish} vs {expected}");
        assert_eq!(plan.starts_at, Some(now));
        assert_eq!(shares(&plan), [("A", 5_400)]);
        assert_eq!(
            plan.to_string(),
            "5,400 recipients on 2,000 a day at 2/s: Mon 2,000 · Tue 2,000 · Wed 1,400, finishing about Wed 09:11 \
             (Europe/Paris)"
        );
    }

    #[test]
    fn what_the_account_already_sent_today_comes_off_the_first_day() {
        let now = at("2026-12-07 09:00");
        // 1,500 sent at 08:00 today: 500 left for Monday, then the next 2,000
        // from Tuesday 08:00 (24 hours after those went).
        let minute = at("2026-12-07 08:00").div_euclid(60_000);
        let plan = work_out(&on(
            now,
            3_000,
            vec![AccountInput {
                per_day: Some(2_000),
                sent: vec![(minute, 1_500)],
                ..account("A", Some(2.0))
            }],
        ));
        assert_eq!(plan.sent_today, 1_500);
        assert_eq!(
            split(&plan),
            [("mon".into(), 500), ("tue".into(), 2_000), ("wed".into(), 500)]
        );
        let tuesday_first = at("2026-12-08 08:01");
        assert!(plan.finishes_at.expect("test step") > tuesday_first);
    }

    #[test]
    fn windows_and_a_start_time_move_the_messages_to_open_hours() {
        // Friday 16:00 with Mon-Fri 09:00-17:00 at 1 every 2 s: 1,800 by
        // 17:00 (the pacer's margin leaves 1,791), the rest on Monday.
        let now = at("2026-12-04 16:00");
        let windows =
            Windows::new(&[SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")], ZONE).expect("test step");
        let plan = work_out(&PlanInput {
            windows: windows.clone(),
            ..on(now, 2_000, vec![account("A", Some(0.5))])
        });
        let days = split(&plan);
        assert_eq!(days.len(), 2, "{days:?}");
        assert_eq!((days[0].0.as_str(), days[1].0.as_str()), ("fri", "mon"));
        assert_eq!(days[0].1 + days[1].1, 2_000);
        assert!((1_785..=1_800).contains(&days[0].1), "{days:?}");
        // A start on Saturday waits for Monday 09:00.
        let plan = work_out(&PlanInput {
            start_at: Some(at("2026-12-05 10:00")),
            windows,
            ..input(now, 10)
        });
        assert_eq!(plan.starts_at, Some(at("2026-12-07 09:00")));
        assert_eq!(split(&plan), [("mon".into(), 10)]);
    }

    #[test]
    fn without_a_rate_the_days_hold_and_the_finish_is_not_guessed() {
        let now = at("2026-12-07 09:00");
        let plan = work_out(&on(
            now,
            250,
            vec![AccountInput {
                per_day: Some(100),
                ..account("A", None)
            }],
        ));
        assert_eq!(
            split(&plan),
            [("mon".into(), 100), ("tue".into(), 100), ("wed".into(), 50)]
        );
        assert_eq!((plan.finishes_at, plan.duration_ms), (None, None));
        assert!(
            plan.to_string()
                .ends_with("(no rate limit: the finish depends on the server)"),
            "{plan}"
        );
        // A short list at 2/s: about 50 s, for "about a minute".
        let plan = work_out(&input(now, 100));
        assert!((49_000..51_000).contains(&plan.duration_ms.expect("test step")));
    }

    /// Issue 19: accounts A (2,000 a day at 2/s) then B (1,000 a day at
    /// 1/s) plan 3,000 a day. Monday: A's 2,000 from 09:00, then B's 1,000
    /// when A's quota suspends it; Tuesday 09:00 A is free again and sends
    /// 2,000, and B the last 400 once its own quota frees (09:16).
    #[test]
    fn two_accounts_add_their_daily_quotas_and_send_in_turn() {
        let now = at("2026-12-07 09:00");
        let plan = work_out(&on(
            now,
            5_400,
            vec![
                AccountInput {
                    per_day: Some(2_000),
                    ..account("A", Some(2.0))
                },
                AccountInput {
                    per_day: Some(1_000),
                    ..account("B", Some(1.0))
                },
            ],
        ));
        assert_eq!(plan.per_day, Some(3_000));
        assert_eq!(split(&plan), [("mon".into(), 3_000), ("tue".into(), 2_400)]);
        assert_eq!(shares(&plan), [("A", 4_000), ("B", 1_400)]);
        assert_eq!((plan.starts_at, plan.rate_per_second), (Some(now), Some(2.0)));
        // B's 400 on Tuesday from about 09:16:46 at 1/s: about 09:23:27.
        let finish = plan.finishes_at.expect("test step");
        let expected = at("2026-12-08 09:23:27");
        assert!((finish - expected).abs() < 5_000, "{finish} vs {expected}");
        assert_eq!(
            plan.to_string(),
            "5,400 recipients on 3,000 a day through \"A\" (2,000 a day, at 2/s; sends 4,000), then \"B\" (1,000 a \
             day, at 1/s; sends 1,400) when \"A\" is suspended: Mon 3,000 · Tue 2,400, finishing about Tue 09:23 \
             (Europe/Paris)"
        );
        // One account without a daily quota: no daily total.
        let plan = work_out(&on(
            now,
            10,
            vec![
                AccountInput {
                    per_day: Some(2_000),
                    ..account("A", Some(2.0))
                },
                account("B", Some(1.0)),
            ],
        ));
        assert_eq!(plan.per_day, None);
    }

    #[test]
    fn what_each_account_sent_today_is_its_own() {
        let now = at("2026-12-07 09:00");
        let minute = at("2026-12-07 08:00").div_euclid(60_000);
        // A sent 1,500 of its 2,000 an hour ago, B 200 of its 1,000.
        let plan = work_out(&on(
            now,
            2_000,
            vec![
                AccountInput {
                    per_day: Some(2_000),
                    sent: vec![(minute, 1_500)],
                    ..account("A", Some(2.0))
                },
                AccountInput {
                    per_day: Some(1_000),
                    sent: vec![(minute, 200)],
                    ..account("B", Some(2.0))
                },
            ],
        ));
        let sent: Vec<u64> = plan.accounts.iter().map(|a| a.sent_today).collect();
        assert_eq!((sent, plan.sent_today), (vec![1_500, 200], 1_700));
        // Monday: A's 500 left, then B's 800 left; Tuesday 08:00 A frees
        // (24 hours after its 1,500) and sends the last 700.
        assert_eq!(split(&plan), [("mon".into(), 1_300), ("tue".into(), 700)]);
        assert_eq!(shares(&plan), [("A", 1_200), ("B", 800)]);
        assert!(
            plan.to_string()
                .contains("(2,000 a day, at 2/s, 1,500 sent in the last 24 hours; sends 1,200)")
        );
    }

    /// While the first account is suspended the next sends; when it frees,
    /// it takes over again, as the failover moves back to it.
    #[test]
    fn a_suspended_first_account_takes_over_again_when_it_frees() {
        let now = at("2026-12-07 09:00");
        let plan = work_out(&on(
            now,
            1_000,
            vec![
                AccountInput {
                    suspended_until: Some(at("2026-12-07 09:05")),
                    ..account("A", Some(2.0))
                },
                account("B", Some(1.0)),
            ],
        ));
        // B sends for 5 minutes at 1/s (299 at the pacer's margin), A the rest.
        let b = plan.accounts[1].count;
        assert!((295..=300).contains(&b), "{:?}", shares(&plan));
        assert_eq!(plan.accounts[0].count, 1_000 - b);
        assert_eq!(plan.accounts[0].suspended_until, Some(at("2026-12-07 09:05")));
        assert_eq!((plan.starts_at, plan.rate_per_second), (Some(now), Some(1.0)));
        assert!(
            plan.to_string()
                .contains("through \"A\" (suspended until Mon 2026-12-07 09:05, at 2/s; sends "),
            "{plan}"
        );
        // Every account suspended: the first to free sends first.
        let plan = work_out(&on(
            now,
            10,
            vec![
                AccountInput {
                    suspended_until: Some(at("2026-12-07 12:00")),
                    ..account("A", Some(2.0))
                },
                AccountInput {
                    suspended_until: Some(at("2026-12-07 10:00")),
                    ..account("B", Some(2.0))
                },
            ],
        ));
        assert_eq!(plan.starts_at, Some(at("2026-12-07 10:00")));
        assert_eq!(shares(&plan), [("A", 0), ("B", 10)]);
        // A suspension that has ended by now is none.
        let plan = work_out(&on(
            now,
            10,
            vec![AccountInput {
                suspended_until: Some(now - 1),
                ..account("A", Some(2.0))
            }],
        ));
        assert_eq!(plan.accounts[0].suspended_until, None);
        assert_eq!(plan.starts_at, Some(now));
    }

    /// A short quota wait (a per-minute quota) is waited out on the same
    /// account, as the runner does; it does not move to the next one.
    #[test]
    fn a_short_quota_wait_stays_on_the_account() {
        let now = at("2026-12-07 09:00");
        let plan = work_out(&on(
            now,
            100,
            vec![
                AccountInput {
                    per_minute: Some(60),
                    ..account("A", Some(10.0))
                },
                account("B", Some(10.0)),
            ],
        ));
        assert_eq!(shares(&plan), [("A", 100), ("B", 0)]);
        // 60 in the first minute, 40 from 09:01.
        assert!(plan.finishes_at.expect("test step") >= at("2026-12-07 09:01"));
    }

    #[test]
    fn the_live_rate_is_the_sending_accounts() {
        let free = account("A", Some(2.0));
        let suspended = |until: i64| AccountInput {
            suspended_until: Some(until),
            ..account("S", Some(2.0))
        };
        assert_eq!(sending_now(&[free.clone(), suspended(5)]), Some(0));
        assert_eq!(sending_now(&[suspended(5), free]), Some(1));
        assert_eq!(sending_now(&[suspended(9), suspended(5), suspended(7)]), Some(1));
        assert_eq!(sending_now(&[]), None);
        assert_eq!(distinct(&["b", "a", "b"]), ["b", "a"]);
    }
}
