//! The plan before Start (and while sending): how the recipients left will
//! spread over the days, from the rate, the account's quotas, what it
//! already sent (the `send_counts` the quotas are seeded from), the
//! campaign's start time and its send windows. "5,400 recipients on 2,000 a
//! day: Mon 2,000 · Tue 2,000 · Wed 1,400, finishing about Wed 11:20", as
//! data ([`Plan`]) each front end renders.
//!
//! It is worked out by sending on paper: the same [`Quotas`] the runner
//! uses take one message at a time at the paced rate, and the windows move
//! the time to the next opening, so the plan keeps exactly the runner's
//! rules. It says "about": a server that throttles, retries and the time a
//! message takes on the wire move the real finish.

use serde::Serialize;

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
    /// Messages planned that day.
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
    /// The rate planned with (messages a second): the live rate while
    /// sending, else the account's; `None`: no limit, so the finish depends
    /// on the server and is not worked out.
    pub rate_per_second: Option<f64>,
    pub per_day: Option<u32>,
    /// What the account sent in the last 24 hours, which its daily quota counts.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub sent_today: u64,
    /// The zone days and times are read in (the schedule's, else this computer's).
    pub time_zone: String,
    /// When the first message is planned to go (Unix ms): now, the scheduled
    /// start, or the next window's opening.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub starts_at: Option<i64>,
    /// The days with messages, in order.
    pub days: Vec<PlanDay>,
    /// About when the last message goes (Unix ms); `None` with no rate, or
    /// beyond a year.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub finishes_at: Option<i64>,
    /// From now to `finishes_at`, for a short "about 7 minutes".
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub duration_ms: Option<u64>,
}

/// What a plan is worked out from.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Unix ms.
    pub now: i64,
    pub remaining: u64,
    pub start_at: Option<i64>,
    pub rate_per_second: Option<f64>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    pub per_day: Option<u32>,
    /// (Unix minute, messages) the account sent, as `Store::send_counts`.
    pub sent: Vec<(i64, u64)>,
    pub windows: Windows,
}

/// Works a plan out on paper (see the module's doc).
pub fn work_out(input: &PlanInput) -> Plan {
    let now_second = input.now.div_euclid(1000);
    let sent_today = input
        .sent
        .iter()
        .filter(|(minute, _)| minute * 60 + 59 > now_second - 86_400)
        .map(|(_, n)| n)
        .sum();
    let zone = input.windows.zone_name().to_owned();
    let mut plan = Plan {
        remaining: input.remaining,
        rate_per_second: input.rate_per_second,
        per_day: input.per_day,
        sent_today,
        time_zone: zone.clone(),
        starts_at: None,
        days: Vec::new(),
        finishes_at: None,
        duration_ms: None,
    };
    // Without a rate, messages are planned as if instant: the days a quota
    // spreads them over still hold, the finish time does not.
    let period_ms = input
        .rate_per_second
        .filter(|r| *r > 0.0)
        .map(|r| 1000.0 * super::throttle::PERIOD_MARGIN / r);
    let mut quotas = Quotas::new(input.per_minute, input.per_hour, input.per_day, &input.sent);
    let horizon = input.now + HORIZON_DAYS * 86_400_000;
    let mut at = input.start_at.map_or(input.now, |s| s.max(input.now));
    // Fractional milliseconds of pacing carried over.
    let mut exact = at as f64;
    // The open span `at` is in, and the local day it falls on, kept so
    // each message does not ask the zone database again.
    let mut open_until: Option<i64> = None;
    let mut day_end = i64::MIN;
    let mut last = None;
    for _ in 0..input.remaining {
        loop {
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
            match quotas.take(at) {
                Ok(()) => break,
                Err(wait) => {
                    at = wait.until.max(at + 1);
                    exact = at as f64;
                }
            }
        }
        plan.starts_at.get_or_insert(at);
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
        last = Some(at);
        if let Some(period) = period_ms {
            exact += period;
            at = exact as i64;
        }
    }
    if period_ms.is_some() {
        plan.finishes_at = last;
        plan.duration_ms = last.map(|l| u64::try_from(l - input.now).unwrap_or(0));
    }
    plan
}

fn weekday_of(date: jiff::civil::Date) -> Weekday {
    Weekday::ALL[date.weekday().to_monday_zero_offset().rem_euclid(7) as usize]
}

/// The plan for campaign `campaign` on `account` (else the schedule's, else
/// the one it last ran on), now. `rate_hint`: the rate to plan with instead
/// of the account's (the live rate while it sends, or one the account held).
pub async fn plan_campaign(
    store: &Store,
    campaign: CampaignId,
    account: Option<&str>,
    rate_hint: Option<f64>,
) -> Result<Plan> {
    let summary = store.campaign_summary(campaign).await?;
    let scheduled = store.schedule(campaign).await?;
    let account = match account {
        Some(account) => Some(account.to_owned()),
        None => match scheduled.as_ref().and_then(|s| s.account.clone()) {
            Some(account) => Some(account),
            None => store.campaign_profile(campaign).await?,
        },
    }
    .ok_or_else(|| Error::CampaignState {
        campaign: summary.name.clone(),
        status: summary.status.as_str().to_owned(),
        action: "choose the SMTP account to plan with (--smtp NAME)".to_owned(),
    })?;
    let counts = &summary.counts;
    let remaining = counts.pending + counts.retry_wait + counts.sending;
    Ok(work_out(
        &input_for(store, scheduled, &account, remaining, rate_hint).await?,
    ))
}

/// What a plan of `remaining` recipients on `account` is
/// worked out from, now: the rate the run starts at (`rate_hint`, else the
/// account's rate or the lower one it held last time, see
/// [`starting_rate`](super::throttle::starting_rate)), its quotas and what
/// it already sent, and the campaign's `scheduled` start and send windows.
/// The day plan and the summary before Start (`send_plan`) both use it, so
/// they agree.
pub(crate) async fn input_for(
    store: &Store,
    scheduled: Option<schedule::Schedule>,
    account: &str,
    remaining: u64,
    rate_hint: Option<f64>,
) -> Result<PlanInput> {
    let (profile, settings) = store.account(account).await?;
    let now = store.now_ms();
    let sent = store
        .send_counts(profile, now.div_euclid(60_000) - Quotas::LOOKBACK_MINUTES)
        .await?;
    let held = store.held_rate(profile).await?.map(|held| held.rate);
    let (windows, start_at) = match &scheduled {
        Some(s) => (s.windows()?, s.start_at),
        None => (Windows::new(&[], &schedule::local_time_zone())?, None),
    };
    Ok(PlanInput {
        now,
        remaining,
        start_at,
        rate_per_second: rate_hint.or_else(|| super::throttle::starting_rate(settings.rate_per_second, held)),
        per_minute: settings.per_minute,
        per_hour: settings.per_hour,
        per_day: settings.per_day,
        sent,
        windows,
    })
}

/// "1,400".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// English, for the CLI: "5,400 recipients on 2,000 a day: Mon 2,000 · Tue
/// 2,000 · Wed 1,400, finishing about Wed 11:20".
impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} recipients", thousands(self.remaining))?;
        if let Some(per_day) = self.per_day {
            write!(f, " on {} a day", thousands(u64::from(per_day)))?;
            if self.sent_today > 0 {
                write!(f, " ({} sent in the last 24 hours)", thousands(self.sent_today))?;
            }
        }
        if self.remaining == 0 {
            return Ok(());
        }
        if let Some(rate) = self.rate_per_second {
            write!(f, " at {rate}/s")?;
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
            None if self.rate_per_second.is_none() => f.write_str(" (no rate limit: the finish depends on the server)"),
            None => f.write_str(" (more than a year)"),
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

    fn input(now: i64, remaining: u64) -> PlanInput {
        PlanInput {
            now,
            remaining,
            start_at: None,
            rate_per_second: Some(2.0),
            per_minute: None,
            per_hour: None,
            per_day: None,
            sent: Vec::new(),
            windows: Windows::new(&[], ZONE).expect("test step"),
        }
    }

    fn split(plan: &Plan) -> Vec<(String, u64)> {
        plan.days
            .iter()
            .map(|d| (d.weekday.as_str().to_owned(), d.count))
            .collect()
    }

    #[test]
    fn a_daily_quota_spreads_the_list_over_days() {
        // Monday 2026-12-07 09:00, 5,400 recipients, 2,000 a day at 2/s.
        let now = at("2026-12-07 09:00");
        let plan = work_out(&PlanInput {
            per_day: Some(2_000),
            ..input(now, 5_400)
        });
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
        let plan = work_out(&PlanInput {
            per_day: Some(2_000),
            sent: vec![(minute, 1_500)],
            ..input(now, 3_000)
        });
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
            rate_per_second: Some(0.5),
            windows: windows.clone(),
            ..input(now, 2_000)
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
        let plan = work_out(&PlanInput {
            rate_per_second: None,
            per_day: Some(100),
            ..input(now, 250)
        });
        assert_eq!(
            split(&plan),
            [("mon".into(), 100), ("tue".into(), 100), ("wed".into(), 50)]
        );
        assert_eq!((plan.finishes_at, plan.duration_ms), (None, None));
        // A short list at 2/s: about 50 s, for "about a minute".
        let plan = work_out(&input(now, 100));
        assert!((49_000..51_000).contains(&plan.duration_ms.expect("test step")));
    }
}
