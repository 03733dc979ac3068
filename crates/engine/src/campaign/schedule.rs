//! When a campaign may send: a start time of its own and send windows (days
//! of the week and hours) read in an IANA time zone, with daylight saving
//! time handled by jiff's zone database. The types and the time arithmetic
//! are here; the store keeps them (`store/schedules.rs`, migration 0012), a
//! run waits for a window before each claim (`worker.rs`), and [`run_due`]
//! starts scheduled campaigns while a front end is open (the app's timer,
//! `mailroom schedule run`).
//!
//! A window's hours are wall-clock hours on the days it names: "Mon-Fri
//! 09:00-17:00" opens at 09:00 local time whatever the offset that day, so
//! across a DST change the gap between two openings is 23 or 25 hours. A
//! window whose end is not after its start runs past midnight into the next
//! day ("Fri 22:00-02:00" is Friday night). A local time the clocks skip
//! (02:30 on a spring-forward night) is read as the time after the gap, and
//! one that happens twice (an autumn night) as the first of the two
//! (jiff's "compatible" rule, as RFC 5545 calendars do).
//!
//! A scheduled start that passed while no Mailroom was open is *missed*: it
//! is offered to the person (send now, reschedule, leave), never run
//! silently. [`missed`] names them; [`run_due`] only starts those that come
//! due while it runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::model::{CampaignId, string_enum};
use crate::store::Store;

string_enum! {
    /// A day of the week.
    Weekday {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

impl Weekday {
    fn of(date: Date) -> Weekday {
        match date.weekday() {
            jiff::civil::Weekday::Monday => Weekday::Mon,
            jiff::civil::Weekday::Tuesday => Weekday::Tue,
            jiff::civil::Weekday::Wednesday => Weekday::Wed,
            jiff::civil::Weekday::Thursday => Weekday::Thu,
            jiff::civil::Weekday::Friday => Weekday::Fri,
            jiff::civil::Weekday::Saturday => Weekday::Sat,
            jiff::civil::Weekday::Sunday => Weekday::Sun,
        }
    }

    fn index(self) -> usize {
        Weekday::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }

    fn title(self) -> &'static str {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][self.index()]
    }
}

/// Minutes in a day; a window may end at 24:00.
const DAY_MINUTES: u16 = 24 * 60;

/// Hours on some days of the week when a campaign may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SendWindow {
    /// The days it opens on (a window past midnight closes the next day).
    pub days: Vec<Weekday>,
    /// Minutes after local midnight it opens at (09:00 is 540).
    pub start_minute: u16,
    /// Minutes after local midnight it closes at; not after `start_minute`:
    /// the next day (22:00-02:00); 1440 is midnight at the end of the day.
    pub end_minute: u16,
}

impl SendWindow {
    /// Reads "Mon-Fri 09:00-17:00", "Sat,Sun 10:00-12:00", "daily 08:00-20:00"
    /// or "Fri 22:00-02:00" (past midnight).
    pub fn parse(text: &str) -> Result<SendWindow> {
        let invalid = |problem: String| Error::InvalidSchedule { problem };
        let text = text.trim();
        let (days_text, hours_text) = text
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| invalid(format!("\"{text}\" is not a window like \"Mon-Fri 09:00-17:00\"")))?;
        let days = parse_days(days_text.trim()).map_err(invalid)?;
        let (start, end) = hours_text
            .split_once('-')
            .ok_or_else(|| invalid(format!("\"{hours_text}\" is not hours like 09:00-17:00")))?;
        let window = SendWindow {
            days,
            start_minute: parse_minute(start).map_err(invalid)?,
            end_minute: parse_minute(end).map_err(invalid)?,
        };
        window.check()?;
        Ok(window)
    }

    /// Whether it can be used: some day, times within the day, some length.
    pub fn check(&self) -> Result<()> {
        let problem = if self.days.is_empty() {
            Some("a send window needs at least one day".to_owned())
        } else if self.start_minute >= DAY_MINUTES || self.end_minute > DAY_MINUTES {
            Some("a send window's hours are between 00:00 and 24:00".to_owned())
        } else if self.start_minute == self.end_minute {
            Some(format!(
                "the window {self} is empty: it opens and closes at the same time"
            ))
        } else {
            None
        };
        problem.map_or(Ok(()), |problem| Err(Error::InvalidSchedule { problem }))
    }

    /// Its open spans that start on `date`, in `zone`, as Unix ms.
    fn span_from(&self, date: Date, zone: &TimeZone) -> Option<(i64, i64)> {
        if !self.days.contains(&Weekday::of(date)) {
            return None;
        }
        let open = at_minute(date, self.start_minute, zone)?;
        let close = if self.end_minute > self.start_minute {
            at_minute(date, self.end_minute, zone)?
        } else {
            at_minute(date.tomorrow().ok()?, self.end_minute, zone)?
        };
        (close > open).then_some((open, close))
    }
}

/// "Mon-Fri 09:00-17:00".
impl std::fmt::Display for SendWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut indices: Vec<usize> = self.days.iter().map(|d| d.index()).collect();
        indices.sort_unstable();
        indices.dedup();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < indices.len() {
            let mut j = i;
            while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
                j += 1;
            }
            let first = Weekday::ALL[indices[i]].title();
            match j - i {
                0 => parts.push(first.to_owned()),
                1 => parts.push(format!("{first},{}", Weekday::ALL[indices[j]].title())),
                _ => parts.push(format!("{first}-{}", Weekday::ALL[indices[j]].title())),
            }
            i = j + 1;
        }
        write!(
            f,
            "{} {}-{}",
            parts.join(","),
            hh_mm(self.start_minute),
            hh_mm(self.end_minute)
        )
    }
}

fn hh_mm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn parse_days(text: &str) -> std::result::Result<Vec<Weekday>, String> {
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), "daily" | "every day" | "mon-sun") {
        return Ok(Weekday::ALL.to_vec());
    }
    if matches!(lower.as_str(), "weekdays") {
        return Ok(Weekday::ALL[..5].to_vec());
    }
    if matches!(lower.as_str(), "weekends") {
        return Ok(Weekday::ALL[5..].to_vec());
    }
    let day = |name: &str| -> std::result::Result<Weekday, String> {
        let name = name.trim();
        let key: String = name.chars().take(3).collect::<String>().to_ascii_lowercase();
        key.parse()
            .map_err(|_| format!("\"{name}\" is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
    };
    let mut days = Vec::new();
    for part in lower.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?.index(), day(to)?.index());
                // A range may wrap past Sunday: "Sat-Mon".
                let mut i = from;
                loop {
                    days.push(Weekday::ALL[i]);
                    if i == to {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => days.push(day(part)?),
        }
    }
    days.sort_by_key(|d| d.index());
    days.dedup();
    if days.is_empty() {
        return Err("a send window needs at least one day".to_owned());
    }
    Ok(days)
}

fn parse_minute(text: &str) -> std::result::Result<u16, String> {
    let text = text.trim();
    let bad = || format!("\"{text}\" is not a time like 09:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `minute` after midnight on `date` in `zone`, as Unix ms; 1440 is the
/// next midnight. A skipped local time is read after the gap, a repeated one
/// as its first occurrence.
fn at_minute(date: Date, minute: u16, zone: &TimeZone) -> Option<i64> {
    let (date, minute) = if minute >= DAY_MINUTES {
        (date.tomorrow().ok()?, minute - DAY_MINUTES)
    } else {
        (date, minute)
    };
    let hour = i8::try_from(minute / 60).ok()?;
    let min = i8::try_from(minute % 60).ok()?;
    let time = Time::new(hour, min, 0, 0).ok()?;
    let zoned = date.to_datetime(time).to_zoned(zone.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// The IANA zone named `name`.
pub fn time_zone(name: &str) -> Result<TimeZone> {
    TimeZone::get(name).map_err(|_| Error::InvalidSchedule {
        problem: format!("\"{name}\" is not a time zone (use an IANA name such as Europe/Paris or Asia/Shanghai)"),
    })
}

/// This computer's time zone, by its IANA name (UTC when it has none).
pub fn local_time_zone() -> String {
    TimeZone::system()
        .iana_name()
        .map_or_else(|| "UTC".to_owned(), ToOwned::to_owned)
}

/// Every IANA zone name this build knows, sorted (the schedule form's list).
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .collect();
    names.sort();
    names
}

/// Reads "2026-12-03 09:00" (or with seconds, or a `T`) in `zone` as Unix ms.
pub fn parse_local_time(text: &str, zone: &str) -> Result<i64> {
    let tz = time_zone(zone)?;
    let civil: jiff::civil::DateTime = text
        .trim()
        .replace(' ', "T")
        .parse()
        .map_err(|_| Error::InvalidSchedule {
            problem: format!("\"{}\" is not a date and time like 2026-12-03 09:00", text.trim()),
        })?;
    let zoned = civil.to_zoned(tz).map_err(|e| Error::InvalidSchedule {
        problem: format!("\"{}\" in {zone}: {e}", text.trim()),
    })?;
    Ok(zoned.timestamp().as_millisecond())
}

/// Unix ms as "Mon 2026-12-03 09:00" in `zone`, for the CLI and the log.
pub fn describe_time(ms: i64, zone: &str) -> String {
    match (Timestamp::from_millisecond(ms), time_zone(zone)) {
        (Ok(at), Ok(tz)) => at.to_zoned(tz).strftime("%a %Y-%m-%d %H:%M").to_string(),
        _ => format!("{ms} ms"),
    }
}

/// Unix ms as "2026-12-03 09:00" in `zone`: digits only, so it reads the
/// same in every language (the app's tray status line).
pub fn local_time_text(ms: i64, zone: &str) -> String {
    match (Timestamp::from_millisecond(ms), time_zone(zone)) {
        (Ok(at), Ok(tz)) => at.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string(),
        _ => format!("{ms} ms"),
    }
}

/// A campaign's schedule: its own start time (if any), its send windows
/// (none: any time) and the zone both are read in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Schedule {
    /// When it starts by itself (Unix ms); `None` once the run it scheduled
    /// began, or when only the windows apply.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub start_at: Option<i64>,
    /// IANA name, as Europe/Paris.
    pub time_zone: String,
    pub windows: Vec<SendWindow>,
    /// The account a scheduled start sends on; `None`: the one it last ran on.
    pub account: Option<String>,
}

/// A change to a campaign's schedule as a person types it (`mailroom
/// schedule set`, `send --at`): what it leaves out is kept from the
/// schedule the campaign has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleChange {
    /// When to start, as "2026-12-03 09:00" in the zone; none: no start
    /// time (only the windows apply).
    pub at: Option<String>,
    /// The IANA zone of `at` and the windows; none: the current schedule's,
    /// else this computer's.
    pub time_zone: Option<String>,
    /// Send windows as "Mon-Fri 09:00-17:00"; empty: the current ones.
    pub windows: Vec<String>,
}

impl ScheduleChange {
    /// The schedule this change makes of `current`. The account a start
    /// sends on is `current`'s until the accounts are set with it.
    pub fn apply(&self, current: Option<&Schedule>) -> Result<Schedule> {
        let time_zone = self
            .time_zone
            .clone()
            .or_else(|| current.map(|c| c.time_zone.clone()))
            .unwrap_or_else(local_time_zone);
        let windows = if self.windows.is_empty() {
            current.map(|c| c.windows.clone()).unwrap_or_default()
        } else {
            self.windows
                .iter()
                .map(|w| SendWindow::parse(w))
                .collect::<Result<Vec<_>>>()?
        };
        let start_at = self
            .at
            .as_deref()
            .map(|at| parse_local_time(at, &time_zone))
            .transpose()?;
        Ok(Schedule {
            start_at,
            time_zone,
            windows,
            account: current.and_then(|c| c.account.clone()),
        })
    }
}

impl Schedule {
    /// Whether the zone and every window can be used.
    pub fn check(&self) -> Result<()> {
        time_zone(&self.time_zone)?;
        self.windows.iter().try_for_each(SendWindow::check)
    }

    /// The windows, read in the schedule's zone.
    pub fn windows(&self) -> Result<Windows> {
        Windows::new(&self.windows, &self.time_zone)
    }
}

/// Send windows in a zone, ready to ask "open now? until when? when next?".
#[derive(Debug, Clone)]
pub struct Windows {
    windows: Vec<SendWindow>,
    zone: TimeZone,
    name: String,
    /// The last open span found (Unix ms), so that the question asked
    /// before every claim does not read the zone database each time.
    open: Arc<std::sync::Mutex<Option<(i64, i64)>>>,
}

/// Open spans are looked for this many days around a time: a week of
/// windows, and one more day each side for windows past midnight.
const LOOK_DAYS: i64 = 8;

impl Windows {
    pub fn new(windows: &[SendWindow], zone: &str) -> Result<Windows> {
        windows.iter().try_for_each(SendWindow::check)?;
        Ok(Windows {
            windows: windows.to_vec(),
            zone: time_zone(zone)?,
            name: zone.to_owned(),
            open: Arc::default(),
        })
    }

    /// No windows: sending may go on at any time.
    pub fn always() -> Windows {
        Windows {
            windows: Vec::new(),
            zone: TimeZone::UTC,
            name: "UTC".to_owned(),
            open: Arc::default(),
        }
    }

    pub fn is_always(&self) -> bool {
        self.windows.is_empty()
    }

    /// The zone's IANA name.
    pub fn zone_name(&self) -> &str {
        &self.name
    }

    /// The local date of `ms` in the zone.
    pub fn local_date(&self, ms: i64) -> Option<Date> {
        Some(Timestamp::from_millisecond(ms).ok()?.to_zoned(self.zone.clone()).date())
    }

    /// Open spans starting from the day before `ms` over the next week, sorted.
    fn spans_around(&self, ms: i64) -> Vec<(i64, i64)> {
        let Some(today) = self.local_date(ms) else {
            return Vec::new();
        };
        let mut spans: Vec<(i64, i64)> = (-1..LOOK_DAYS)
            .filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok())
            .flat_map(|date| self.windows.iter().filter_map(move |w| w.span_from(date, &self.zone)))
            .collect();
        spans.sort_unstable();
        // Overlapping or touching windows are one open span.
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
        for (open, close) in spans {
            match merged.last_mut() {
                Some(last) if open <= last.1 => last.1 = last.1.max(close),
                _ => merged.push((open, close)),
            }
        }
        merged
    }

    /// `None` when sending may go on at `ms`; else when the next window
    /// opens (Unix ms). Windows that never open (cannot happen for a
    /// checked window) read as open, so a run is never held forever.
    pub fn closed_until(&self, ms: i64) -> Option<i64> {
        if self.is_always() {
            return None;
        }
        let mut cached = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.is_some_and(|(open, close)| open <= ms && ms < close) {
            return None;
        }
        let spans = self.spans_around(ms);
        if let Some(span) = spans.iter().find(|(open, close)| *open <= ms && ms < *close) {
            *cached = Some(*span);
            return None;
        }
        spans.iter().map(|(open, _)| *open).find(|open| *open > ms)
    }

    /// While open at `ms`: when this open span closes (`None`: never, no windows).
    pub fn open_until(&self, ms: i64) -> Option<i64> {
        if self.is_always() {
            return None;
        }
        self.spans_around(ms)
            .into_iter()
            .find(|(open, close)| *open <= ms && ms < *close)
            .map(|(_, close)| close)
    }
}

/// A campaign with a schedule, for lists and the start-up question.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ScheduledCampaign {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub campaign: CampaignId,
    pub name: String,
    pub schedule: Schedule,
    /// The accounts a scheduled start sends on, in order (see [`start_accounts`]).
    pub accounts: Vec<String>,
    /// Its start time passed while no Mailroom was there to start it.
    pub missed: bool,
}

/// Sets (replaces) campaign `campaign`'s schedule after checking it. A start
/// time must be in the future.
pub async fn set(store: &Store, campaign: CampaignId, schedule: &Schedule) -> Result<()> {
    schedule.check()?;
    let now = store.now_ms();
    if let Some(at) = schedule.start_at
        && at <= now
    {
        return Err(Error::InvalidSchedule {
            problem: format!("{} has already passed", describe_time(at, &schedule.time_zone)),
        });
    }
    let profile = match &schedule.account {
        Some(name) => Some(store.account(name).await?.0),
        None => None,
    };
    store.set_schedule(campaign, schedule, profile).await
}

/// Sets campaign `campaign`'s schedule to send on `accounts` in order, as
/// [`set`] does: one account is the schedule's own; several become the
/// campaign's accounts (`failover::set_accounts`, which a start then sends
/// on, each in turn); none keeps `schedule.account` as it is.
pub async fn set_on_accounts(
    store: &Store,
    campaign: CampaignId,
    schedule: &Schedule,
    accounts: &[&str],
) -> Result<()> {
    let names = super::plan::distinct(accounts);
    // Every account known before anything changes.
    for name in &names {
        store.account(name).await?;
    }
    let mut wanted = schedule.clone();
    match names.as_slice() {
        [] => {}
        [one] => wanted.account = Some(one.clone()),
        _ => wanted.account = None,
    }
    set(store, campaign, &wanted).await?;
    if names.len() > 1 {
        super::failover::set_accounts(store, campaign, accounts).await?;
    }
    Ok(())
}

/// The accounts a scheduled start of campaign `campaign` sends on, in
/// order: the schedule's own account, else the campaign's accounts (its
/// list, else the one it last ran on).
pub async fn start_accounts(store: &Store, campaign: CampaignId, schedule: Option<&Schedule>) -> Result<Vec<String>> {
    match schedule.and_then(|s| s.account.clone()) {
        Some(account) => Ok(vec![account]),
        None => super::failover::accounts(store, campaign).await,
    }
}

/// Campaign `campaign`'s schedule, if it has one.
pub async fn get(store: &Store, campaign: CampaignId) -> Result<Option<Schedule>> {
    store.schedule(campaign).await
}

/// Removes campaign `campaign`'s schedule (start time and windows).
pub async fn clear(store: &Store, campaign: CampaignId) -> Result<()> {
    store.clear_schedule(campaign).await
}

/// Every campaign with a schedule; `missed` for a start time before `since`
/// (Unix ms: when this Mailroom started looking).
pub async fn list(store: &Store, since: i64) -> Result<Vec<ScheduledCampaign>> {
    let mut all = store.schedules().await?;
    for scheduled in &mut all {
        scheduled.missed = scheduled.schedule.start_at.is_some_and(|at| at <= since);
        scheduled.accounts = start_accounts(store, scheduled.campaign, Some(&scheduled.schedule)).await?;
    }
    Ok(all)
}

/// Scheduled starts that passed while no Mailroom was open (before `since`,
/// when this one started): to be offered, never run silently.
pub async fn missed(store: &Store, since: i64) -> Result<Vec<ScheduledCampaign>> {
    Ok(list(store, since).await?.into_iter().filter(|s| s.missed).collect())
}

/// Takes campaign `campaign`'s scheduled start (it begins now, by the timer
/// or the person's "send now"): its start time is cleared so it is neither
/// started again nor offered as missed. Its windows stay. Returns the
/// account it was to send on.
pub async fn take_start(store: &Store, campaign: CampaignId) -> Result<Option<String>> {
    store.take_scheduled_start(campaign).await
}

/// Takes campaign `campaign`'s scheduled start if it is still set and due
/// now: `Some` with the account it was to send on, `None` when it is gone
/// (a person started, resent or stopped the campaign meanwhile, or another
/// process took it) or was moved later. Whoever gets `Some` starts the run.
pub async fn take_due(store: &Store, campaign: CampaignId) -> Result<Option<Option<String>>> {
    store.take_due_start(campaign, store.now_ms()).await
}

/// Starts scheduled campaigns on `store` as they come due, until `cancel`:
/// a start time after `since` (earlier ones are [`missed`], for the person)
/// and at or before now is taken ([`take_due`]) and handed to `start` with
/// its account; one already taken (a manual Start, Resend or Stop uses a
/// pending start up, see `campaign::send`) is not started again. `changed` wakes it when a schedule was set or cleared. With
/// `until_idle`, it returns once no start time after `since` is left (the
/// CLI's `schedule run`); else it waits for more (the app's timer).
pub async fn run_due<F, Fut>(
    store: &Store,
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
    let clock = StoreClock(store.clone());
    let list = || async {
        Ok(store
            .schedules()
            .await?
            .into_iter()
            .filter_map(|s| Some((s.campaign, s.schedule.start_at?)))
            .collect())
    };
    let start = |campaign| {
        let start = &start;
        async move {
            let Some(account) = take_due(store, campaign).await? else {
                return Ok(());
            };
            tracing::info!(campaign, "a scheduled campaign starts");
            start(campaign, account).await;
            Ok(())
        }
    };
    timer(&clock, since, until_idle, list, start, changed, cancel).await
}

struct StoreClock(Store);

impl std::fmt::Debug for StoreClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreClock")
    }
}

impl crate::clock::Clock for StoreClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

/// The timer behind [`run_due`], over any list of (campaign, start time):
/// wall time from `clock`, slept on tokio time (re-read at least every
/// minute: tokio's clock stands still while the computer sleeps, and the
/// system clock can change), so tests run it on tokio's paused clock.
pub async fn timer<L, LF, S, SF>(
    clock: &dyn crate::clock::Clock,
    since: i64,
    until_idle: bool,
    list: L,
    start: S,
    changed: Arc<tokio::sync::Notify>,
    cancel: CancellationToken,
) -> Result<()>
where
    L: Fn() -> LF,
    LF: Future<Output = Result<Vec<(CampaignId, i64)>>>,
    S: Fn(CampaignId) -> SF,
    SF: Future<Output = Result<()>>,
{
    const LOOK_AGAIN: Duration = Duration::from_secs(60);
    loop {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let now = clock.now_ms();
        let mut next: Option<i64> = None;
        for (campaign, at) in list().await? {
            if at <= since {
                continue;
            }
            if at <= now {
                start(campaign).await?;
                if cancel.is_cancelled() {
                    return Ok(());
                }
            } else {
                next = Some(next.map_or(at, |n: i64| n.min(at)));
            }
        }
        if until_idle && next.is_none() {
            return Ok(());
        }
        let wait = next.map_or(LOOK_AGAIN, |at| {
            Duration::from_millis(u64::try_from(at - clock.now_ms()).unwrap_or(0).max(1)).min(LOOK_AGAIN)
        });
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// A local date as the plan shows it, for `Zoned` users elsewhere.
pub(crate) fn zoned(ms: i64, zone: &str) -> Option<Zoned> {
    Some(Timestamp::from_millisecond(ms).ok()?.to_zoned(time_zone(zone).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock as _;

    fn ms(text: &str, zone: &str) -> i64 {
        parse_local_time(text, zone).expect("test step")
    }

    #[test]
    fn a_schedule_change_keeps_what_it_leaves_out() {
        let current = Schedule {
            start_at: Some(ms("2026-12-03 09:00", "Asia/Shanghai")),
            time_zone: "Asia/Shanghai".to_owned(),
            windows: vec![SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")],
            account: Some("A".to_owned()),
        };
        // Only a new start: the zone, windows and account stay, the time is read in that zone.
        let changed = ScheduleChange {
            at: Some("2026-12-04 10:30".to_owned()),
            ..ScheduleChange::default()
        }
        .apply(Some(&current))
        .expect("test step");
        assert_eq!(
            changed,
            Schedule {
                start_at: Some(ms("2026-12-04 10:30", "Asia/Shanghai")),
                ..current.clone()
            }
        );
        // Windows and zone given: they replace the current ones; no --at: no start time.
        let changed = ScheduleChange {
            at: None,
            time_zone: Some("Europe/Paris".to_owned()),
            windows: vec!["sat 10:00-12:00".to_owned()],
        }
        .apply(Some(&current))
        .expect("test step");
        assert_eq!(changed.start_at, None);
        assert_eq!(changed.time_zone, "Europe/Paris");
        assert_eq!(
            changed.windows,
            vec![SendWindow::parse("sat 10:00-12:00").expect("test step")]
        );
        assert_eq!(changed.account.as_deref(), Some("A"));
        // A window nobody can read is refused, as is a zone.
        let bad = ScheduleChange {
            windows: vec!["someday".to_owned()],
            ..ScheduleChange::default()
        };
        assert!(bad.apply(None).is_err());
    }

    #[test]
    fn windows_are_read_and_written_as_people_write_them() {
        let w = SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step");
        assert_eq!(w.days, Weekday::ALL[..5].to_vec());
        assert_eq!((w.start_minute, w.end_minute), (540, 1020));
        assert_eq!(w.to_string(), "Mon-Fri 09:00-17:00");
        let w = SendWindow::parse("sat, sun 10:00-24:00").expect("test step");
        assert_eq!(w.to_string(), "Sat,Sun 10:00-24:00");
        assert_eq!(
            SendWindow::parse("Fri-Mon 22:00-02:00").expect("test step").to_string(),
            "Mon,Fri-Sun 22:00-02:00"
        );
        assert_eq!(SendWindow::parse("daily 08:00-20:00").expect("test step").days.len(), 7);
        for bad in [
            "Mon-Fri",
            "Funday 09:00-10:00",
            "Mon 9-17",
            "Mon 09:00-09:00",
            "Mon 25:00-26:00",
            "",
        ] {
            assert!(
                matches!(SendWindow::parse(bad), Err(Error::InvalidSchedule { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_closed_window_says_when_it_opens_and_an_open_one_when_it_closes() {
        let zone = "Europe/Paris";
        let windows =
            Windows::new(&[SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")], zone).expect("test step");
        // 2026-12-04 is a Friday.
        assert_eq!(windows.closed_until(ms("2026-12-04 10:00", zone)), None);
        assert_eq!(
            windows.open_until(ms("2026-12-04 10:00", zone)),
            Some(ms("2026-12-04 17:00", zone))
        );
        // Friday evening: next Monday at 09:00.
        assert_eq!(
            windows.closed_until(ms("2026-12-04 17:00", zone)),
            Some(ms("2026-12-07 09:00", zone))
        );
        // Before the window on a weekday: the same day.
        assert_eq!(
            windows.closed_until(ms("2026-12-03 07:59", zone)),
            Some(ms("2026-12-03 09:00", zone))
        );
        assert_eq!(
            describe_time(ms("2026-12-07 09:00", zone), zone),
            "Mon 2026-12-07 09:00"
        );
    }

    #[test]
    fn a_window_past_midnight_stays_open_into_the_next_day() {
        let zone = "Asia/Shanghai";
        let windows =
            Windows::new(&[SendWindow::parse("Fri 22:00-02:00").expect("test step")], zone).expect("test step");
        // Saturday 01:00 belongs to Friday's window.
        assert_eq!(windows.closed_until(ms("2026-12-05 01:00", zone)), None);
        assert_eq!(
            windows.open_until(ms("2026-12-05 01:00", zone)),
            Some(ms("2026-12-05 02:00", zone))
        );
        // Saturday 02:00: closed until the next Friday 22:00.
        assert_eq!(
            windows.closed_until(ms("2026-12-05 02:00", zone)),
            Some(ms("2026-12-11 22:00", zone))
        );
        // Two windows that touch at midnight are one span.
        let windows = Windows::new(
            &[
                SendWindow::parse("Fri 20:00-24:00").expect("test step"),
                SendWindow::parse("Sat 00:00-03:00").expect("test step"),
            ],
            zone,
        )
        .expect("test step");
        assert_eq!(
            windows.open_until(ms("2026-12-04 21:00", zone)),
            Some(ms("2026-12-05 03:00", zone))
        );
    }

    #[test]
    fn windows_keep_wall_clock_hours_across_daylight_saving_changes() {
        let zone = "America/New_York";
        let windows =
            Windows::new(&[SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")], zone).expect("test step");
        // US clocks spring forward on Sunday 2026-03-08: Friday 17:00 EST to
        // Monday 09:00 EDT is 63 hours, not 64.
        let friday_close = ms("2026-03-06 17:00", zone);
        let monday_open = windows.closed_until(friday_close).expect("test step");
        assert_eq!(monday_open, ms("2026-03-09 09:00", zone));
        assert_eq!(monday_open - friday_close, 63 * 3_600_000);
        assert_eq!(describe_time(monday_open, zone), "Mon 2026-03-09 09:00");
        assert_eq!(local_time_text(monday_open, zone), "2026-03-09 09:00");
        // And fall back on 2026-11-01: 65 hours.
        let friday_close = ms("2026-10-30 17:00", zone);
        assert_eq!(
            windows.closed_until(friday_close).expect("test step") - friday_close,
            65 * 3_600_000
        );
    }

    #[test]
    fn a_window_in_the_hour_the_clocks_skip_opens_after_the_gap() {
        let zone = "Europe/Paris";
        // 2026-03-29 02:00 CET jumps to 03:00 CEST.
        let windows =
            Windows::new(&[SendWindow::parse("Sun 01:30-03:30").expect("test step")], zone).expect("test step");
        let open = ms("2026-03-29 01:30", zone);
        assert_eq!(windows.closed_until(open - 1), Some(open));
        // Only one real hour long: 01:30 CET to 03:30 CEST.
        assert_eq!(windows.open_until(open), Some(open + 3_600_000));
        // A window inside the gap opens when the clocks come back: 03:00 CEST.
        let windows =
            Windows::new(&[SendWindow::parse("Sun 02:15-02:45").expect("test step")], zone).expect("test step");
        let next = windows.closed_until(ms("2026-03-29 00:00", zone)).expect("test step");
        assert_eq!(describe_time(next, zone), "Sun 2026-03-29 03:15");
    }

    async fn store_with_campaigns(now: i64, names: &[&str]) -> (tempfile::TempDir, Store, Vec<CampaignId>) {
        use crate::model::RecipientStatus;
        use crate::store::{NewCampaign, NewRecipient};
        let dir = tempfile::tempdir().expect("test step");
        let clock = Arc::new(crate::clock::ManualClock::at(now));
        let store = Store::open_with_clock(&dir.path().join("m.db"), clock)
            .await
            .expect("test step");
        let columns = vec!["email".to_owned()];
        let mut ids = Vec::new();
        for name in names {
            let mut writer = store
                .begin_import(&NewCampaign {
                    name,
                    source_file: "/x.csv",
                    columns: &columns,
                    email_column: "email",
                })
                .await
                .expect("test step");
            let email = "a@example.com".to_owned();
            let row = NewRecipient::new(2, email.clone(), &[email], RecipientStatus::Pending, None).expect("test step");
            writer.write(&[row]).await.expect("test step");
            ids.push(writer.commit().await.expect("test step"));
        }
        (dir, store, ids)
    }

    fn starting_at(at: i64) -> Schedule {
        Schedule {
            start_at: Some(at),
            time_zone: "Europe/Paris".to_owned(),
            windows: vec![SendWindow::parse("Mon-Fri 09:00-17:00").expect("test step")],
            account: None,
        }
    }

    #[tokio::test]
    async fn schedules_are_kept_a_past_start_is_refused_and_a_missed_one_is_offered_until_taken() {
        let zone = "Europe/Paris";
        let now = ms("2026-12-07 08:00", zone);
        let (dir, store, ids) = store_with_campaigns(now, &["missed", "later"]).await;
        // Set while Mailroom was open yesterday; its time passed while it was closed.
        store
            .set_schedule(ids[0], &starting_at(now - 3_600_000), None)
            .await
            .expect("test step");
        set(&store, ids[1], &starting_at(now + 3 * 3_600_000))
            .await
            .expect("test step");
        let refused = set(&store, ids[1], &starting_at(now - 1)).await;
        assert!(matches!(refused, Err(Error::InvalidSchedule { .. })), "{refused:?}");
        // Both survive a restart.
        store.close().await;
        let store = Store::open_with_clock(&dir.path().join("m.db"), Arc::new(crate::clock::ManualClock::at(now)))
            .await
            .expect("test step");
        assert_eq!(
            get(&store, ids[1]).await.expect("test step"),
            Some(starting_at(now + 3 * 3_600_000))
        );

        let offered = missed(&store, now).await.expect("test step");
        assert_eq!(
            offered
                .iter()
                .map(|s| (s.campaign, s.name.as_str()))
                .collect::<Vec<_>>(),
            [(ids[0], "missed")]
        );
        // Leaving it: offered again next time. Taking it ("send now"): gone
        // from the offers, its windows kept.
        assert_eq!(missed(&store, now).await.expect("test step").len(), 1);
        take_start(&store, ids[0]).await.expect("test step");
        assert!(missed(&store, now).await.expect("test step").is_empty());
        let taken = get(&store, ids[0]).await.expect("test step").expect("test step");
        assert_eq!((taken.start_at, taken.windows.len()), (None, 1));
        clear(&store, ids[0]).await.expect("test step");
        assert_eq!(get(&store, ids[0]).await.expect("test step"), None);
    }

    /// Issue 19: a schedule set on several accounts keeps them, in order,
    /// as the campaign's list (the start sends on the list); on one, as the
    /// schedule's own; on none, as it was.
    #[tokio::test]
    async fn a_schedule_on_several_accounts_keeps_them_in_order() {
        let now = ms("2026-12-07 08:00", "Europe/Paris");
        let (_dir, store, ids) = store_with_campaigns(now, &["spring"]).await;
        for name in ["zeta", "alpha"] {
            crate::smtp::account::insert(
                &store,
                &crate::smtp::AccountSettings {
                    name: name.to_owned(),
                    host: "192.0.2.1".to_owned(),
                    ..crate::smtp::AccountSettings::default()
                },
            )
            .await
            .expect("test step");
        }
        let schedule = starting_at(now + 3_600_000);
        set_on_accounts(&store, ids[0], &schedule, &["zeta", "alpha", "zeta"])
            .await
            .expect("test step");
        let kept = get(&store, ids[0]).await.expect("test step").expect("test step");
        assert_eq!(kept.account, None, "several accounts are the campaign's list");
        assert_eq!(
            store.campaign_accounts(ids[0]).await.expect("test step"),
            ["zeta", "alpha"]
        );
        let listed = list(&store, now).await.expect("test step");
        assert_eq!(listed[0].accounts, ["zeta", "alpha"]);
        // None given: as the schedule has it.
        set_on_accounts(&store, ids[0], &kept, &[]).await.expect("test step");
        assert_eq!(
            list(&store, now).await.expect("test step")[0].accounts,
            ["zeta", "alpha"]
        );
        // One: the schedule's own, which the start sends on.
        set_on_accounts(&store, ids[0], &kept, &["alpha"])
            .await
            .expect("test step");
        let kept = get(&store, ids[0]).await.expect("test step").expect("test step");
        assert_eq!(kept.account.as_deref(), Some("alpha"));
        assert_eq!(
            start_accounts(&store, ids[0], Some(&kept)).await.expect("test step"),
            ["alpha"]
        );
        // An unknown account is refused, and nothing changes.
        let refused = set_on_accounts(&store, ids[0], &kept, &["zeta", "nobody"]).await;
        assert!(matches!(refused, Err(Error::AccountNotFound(_))), "{refused:?}");
        assert_eq!(get(&store, ids[0]).await.expect("test step"), Some(kept));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_starts_what_comes_due_while_it_runs_and_never_what_was_missed() {
        let now = ms("2026-12-07 08:00", "Europe/Paris");
        let clock = crate::clock::TokioClock::at(now);
        let starts = std::sync::Mutex::new(vec![
            (1, now - 60_000),
            (2, now + 3 * 3_600_000),
            (3, now + 5 * 3_600_000),
        ]);
        let started = std::sync::Mutex::new(Vec::new());
        let changed = Arc::new(tokio::sync::Notify::new());
        let list = || async { Ok(starts.lock().expect("test step").clone()) };
        let start = |campaign| {
            // Taken: its start time is gone.
            starts.lock().expect("test step").retain(|(c, _)| *c != campaign);
            started.lock().expect("test step").push((campaign, clock.now_ms()));
            async { Ok(()) }
        };
        timer(&clock, now, true, list, start, changed, CancellationToken::new())
            .await
            .expect("test step");
        let started = started.into_inner().expect("test step");
        assert_eq!(
            started,
            [(2, now + 3 * 3_600_000), (3, now + 5 * 3_600_000)],
            "each at its time, the missed one not at all"
        );
        assert_eq!(
            starts.into_inner().expect("test step"),
            [(1, now - 60_000)],
            "still there to offer"
        );
    }

    #[test]
    fn dates_times_and_zones_are_checked() {
        assert!(matches!(time_zone("Mars/Olympus"), Err(Error::InvalidSchedule { .. })));
        assert!(matches!(
            parse_local_time("tomorrow", "UTC"),
            Err(Error::InvalidSchedule { .. })
        ));
        assert_eq!(parse_local_time("1970-01-01 00:01", "UTC").expect("test step"), 60_000);
        assert_eq!(
            parse_local_time("1970-01-01T08:00", "Asia/Shanghai").expect("test step"),
            0
        );
    }
}
