//! What a server's reply means and what a campaign does about it, as data
//! (issue 19): the rules shipped in `crates/engine/rules/smtp.json` (each
//! citing the provider's page its reply text comes from), the account's own
//! edits, and the first rule that matches a failure.
//!
//! A rule matches the stage, the reply code (or its class), the enhanced
//! status code (a prefix) and a pattern on the server's words; it says what
//! the reply means and what to do ([`RuleAction`]). Order: the account's
//! added rules, then its provider's (by preset id), then the generic RFC
//! 3463 classes; a rule the account removed is skipped. Rules act on the
//! replies to a message and on those that refuse a connection as it opens
//! (its greeting, EHLO, AUTH other than a login refused: "too many
//! connections", "try again later"; see `campaign::worker`). Failures without a
//! reply (the network, TLS, a login refused) keep the taxonomy of
//! [`Failure::class`]: rules are about what servers say.
//!
//! Written by hand: the matching is a few comparisons and one `regex`; the
//! idea (rules as data with a duration) is KumoMTA's traffic-shaping
//! automation, the rules and their actions are Mailroom's own.

use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::failure::{Failure, Problem, Stage};
use crate::error::{Error, Result};

/// What to do when a rule matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum RuleAction {
    /// Send more slowly; the recipient is retried. Without a `factor` the
    /// throttle finds the rate the server allows (campaign::throttle: just
    /// below the rate that drew the reply, or what the server accepted
    /// lately); with one, the rate is multiplied by it first.
    SlowDown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts-bindings", ts(optional))]
        factor: Option<f64>,
    },
    /// One connection fewer from now on; the recipient goes back to the
    /// queue without using an attempt.
    FewerConnections,
    /// The account sends nothing for `for_s` seconds; the recipient waits
    /// without using an attempt.
    Suspend {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        for_s: u64,
    },
    /// The account sends nothing until the next `time` ("HH:MM") in
    /// `time_zone` (an IANA name): a daily quota that resets at a clock time.
    SuspendUntil { time: String, time_zone: String },
    /// The account sends nothing until its sends of the last `window_s`
    /// seconds have left the window (a rolling daily quota): until the
    /// oldest of them is `window_s` old.
    SuspendWindow {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        window_s: u64,
    },
    /// The account waits `after_s` seconds, then tries again; the recipient
    /// does not use an attempt.
    RetryLater {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        after_s: u64,
    },
    /// Retry the recipient later, using an attempt (a plain transient failure).
    Retry,
    /// Pause the campaign: every message would get the same answer.
    /// `advice` says what to do (empty: the failure's own advice).
    Pause { advice: String },
    /// Fail the recipient; `suppress` adds the address to the suppression
    /// list (the mailbox does not exist).
    Fail { suppress: bool },
}

/// One rule: what it matches, what it means, what to do, and where that is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Rule {
    /// A stable name, shown wherever the rule acts ("gmail.daily_limit").
    pub id: String,
    /// The presets it is for; empty: any server.
    #[serde(default)]
    pub providers: Vec<String>,
    /// The stages it matches; empty: any.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Reply codes it matches; empty: any (see `class`).
    #[serde(default)]
    pub codes: Vec<u16>,
    /// The reply code's first digit (4 or 5), when `codes` is empty.
    #[serde(default)]
    pub class: Option<u8>,
    /// A prefix of the enhanced status code ("5.4.5", "4.7.").
    #[serde(default)]
    pub enhanced: Option<String>,
    /// Matches only replies without an enhanced code.
    #[serde(default)]
    pub no_enhanced: bool,
    /// A regular expression on the server's words, case-insensitive.
    #[serde(default)]
    pub pattern: Option<String>,
    /// What the reply means.
    pub means: String,
    pub action: RuleAction,
    /// A reply the rule is for, as the provider documents it.
    #[serde(default)]
    pub example: Option<String>,
    /// Where the reply text and its meaning are written.
    #[serde(default)]
    pub source: String,
}

/// An account's changes to the shipped rules: its own rules (tried first)
/// and the ids of shipped rules it does not want.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct RuleEdits {
    pub added: Vec<Rule>,
    pub removed: Vec<String>,
}

impl RuleEdits {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Where an applicable rule comes from, for the list a person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum RuleOrigin {
    Account,
    Provider,
    Generic,
}

/// A rule that applies to an account, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct AppliedRule {
    pub origin: RuleOrigin,
    #[serde(flatten)]
    pub rule: Rule,
}

#[derive(Debug, Deserialize)]
struct Shipped {
    rules: Vec<Rule>,
}

/// The shipped rules, parsed once (a test proves they parse and check).
static SHIPPED: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    serde_json::from_str::<Shipped>(include_str!("../../rules/smtp.json"))
        .map(|s| s.rules)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the shipped SMTP rules do not parse; none apply");
            Vec::new()
        })
});

/// The shipped rules, as data.
pub fn shipped() -> &'static [Rule] {
    &SHIPPED
}

impl Rule {
    /// Checks a rule a person adds (or the shipped ones, in a test).
    pub fn validate(&self) -> Result<()> {
        let invalid = |problem: String| Error::InvalidAccount {
            field: "rules".to_owned(),
            problem: format!("rule {:?}: {problem}", self.id),
        };
        if self.id.trim().is_empty() || self.id.len() > 100 || self.id.chars().any(char::is_whitespace) {
            return Err(invalid("give it a name without spaces, at most 100 characters".into()));
        }
        if let Some(pattern) = &self.pattern {
            compile(pattern).map_err(|e| invalid(format!("the pattern is not a regular expression: {e}")))?;
        }
        if self.codes.iter().any(|c| !(400..600).contains(c)) || self.class.is_some_and(|c| c != 4 && c != 5) {
            return Err(invalid("codes are 4xx or 5xx, and the class 4 or 5".into()));
        }
        if self.codes.is_empty() && self.class.is_none() && self.enhanced.is_none() && self.pattern.is_none() {
            return Err(invalid(
                "match at least a code, a class, an enhanced code or a pattern".into(),
            ));
        }
        match &self.action {
            RuleAction::SlowDown { factor: Some(factor) } if !(*factor > 0.0 && *factor < 1.0) => {
                Err(invalid("slow down by a factor between 0 and 1".into()))
            }
            RuleAction::SuspendUntil { time, time_zone } => {
                parse_time(time).ok_or_else(|| invalid(format!("{time:?} is not a time of day (HH:MM)")))?;
                jiff::tz::TimeZone::get(time_zone).map_err(|e| invalid(format!("time zone {time_zone:?}: {e}")))?;
                Ok(())
            }
            RuleAction::Suspend { for_s: 0 }
            | RuleAction::SuspendWindow { window_s: 0 }
            | RuleAction::RetryLater { after_s: 0 } => Err(invalid("a wait must be at least a second".into())),
            _ => Ok(()),
        }
    }

    /// Whether it applies to an account made from `preset`.
    fn for_provider(&self, preset: Option<&str>) -> bool {
        self.providers.is_empty() || preset.is_some_and(|p| self.providers.iter().any(|q| q == p))
    }
}

fn compile(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// "HH:MM" as (hour, minute).
fn parse_time(time: &str) -> Option<(i8, i8)> {
    let (h, m) = time.split_once(':')?;
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some((h, m))
}

/// A rule ready to match.
#[derive(Debug)]
struct Compiled {
    rule: Rule,
    origin: RuleOrigin,
    pattern: Option<Regex>,
}

/// The rules of one account, in order, compiled once per run.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Arc<Vec<Compiled>>,
}

impl RuleSet {
    /// The rules for an account made from `preset` with `edits`.
    pub fn new(preset: Option<&str>, edits: &RuleEdits) -> RuleSet {
        let applied = applicable(preset, edits);
        let rules = applied
            .into_iter()
            .filter_map(|AppliedRule { origin, rule }| {
                let pattern = match rule.pattern.as_deref().map(compile) {
                    Some(Ok(regex)) => Some(regex),
                    Some(Err(e)) => {
                        tracing::warn!(rule = %rule.id, error = %e, "a rule's pattern does not compile; skipped");
                        return None;
                    }
                    None => None,
                };
                Some(Compiled { rule, origin, pattern })
            })
            .collect();
        RuleSet { rules: Arc::new(rules) }
    }

    /// The first rule that matches `failure`, if it is a server's reply
    /// rules are about (see the module's doc).
    pub fn decide(&self, failure: &Failure) -> Option<&Rule> {
        let code = failure.code?;
        if matches!(
            failure.problem,
            Problem::AuthFailed | Problem::AuthRequired | Problem::MessageTooBig | Problem::ProtocolError
        ) || matches!(failure.stage, Stage::Tls | Stage::Quit)
        {
            return None;
        }
        let enhanced = failure.enhanced_code.as_deref();
        self.rules
            .iter()
            .find(|c| {
                let rule = &c.rule;
                (rule.stages.is_empty() || rule.stages.contains(&failure.stage))
                    && (if rule.codes.is_empty() {
                        rule.class.is_none_or(|class| u16::from(class) == code / 100)
                    } else {
                        rule.codes.contains(&code)
                    })
                    && rule
                        .enhanced
                        .as_deref()
                        .is_none_or(|prefix| enhanced.is_some_and(|e| e.starts_with(prefix)))
                    && (!rule.no_enhanced || enhanced.is_none())
                    && c.pattern.as_ref().is_none_or(|p| p.is_match(&failure.text))
            })
            .map(|c| &c.rule)
    }

    /// The rules that apply, in order, with where each comes from.
    pub fn applied(&self) -> Vec<AppliedRule> {
        self.rules
            .iter()
            .map(|c| AppliedRule {
                origin: c.origin,
                rule: c.rule.clone(),
            })
            .collect()
    }
}

/// The rules for `preset` with `edits`, in the order they are tried.
pub fn applicable(preset: Option<&str>, edits: &RuleEdits) -> Vec<AppliedRule> {
    let mut out: Vec<AppliedRule> = edits
        .added
        .iter()
        .map(|rule| AppliedRule {
            origin: RuleOrigin::Account,
            rule: rule.clone(),
        })
        .collect();
    let shipped = shipped()
        .iter()
        .filter(|r| r.for_provider(preset) && !edits.removed.contains(&r.id));
    // The provider's own rules before the generic ones, each in file order.
    let (provider, generic): (Vec<&Rule>, Vec<&Rule>) = shipped.partition(|r| !r.providers.is_empty());
    out.extend(provider.into_iter().map(|rule| AppliedRule {
        origin: RuleOrigin::Provider,
        rule: rule.clone(),
    }));
    out.extend(generic.into_iter().map(|rule| AppliedRule {
        origin: RuleOrigin::Generic,
        rule: rule.clone(),
    }));
    out
}

/// When a `SuspendUntil { time, time_zone }` ends, after `now_ms` (Unix ms):
/// the next such clock time in that zone.
pub fn next_clock_time(time: &str, time_zone: &str, now_ms: i64) -> Option<i64> {
    let (hour, minute) = parse_time(time)?;
    let tz = jiff::tz::TimeZone::get(time_zone).ok()?;
    let now = jiff::Timestamp::from_millisecond(now_ms).ok()?.to_zoned(tz.clone());
    let today = now.date().at(hour, minute, 0, 0).to_zoned(tz.clone()).ok()?;
    let next = if today.timestamp() > now.timestamp() {
        today
    } else {
        now.date().tomorrow().ok()?.at(hour, minute, 0, 0).to_zoned(tz).ok()?
    };
    Some(next.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::Reply;

    /// A failure as the client makes it from a reply written "CODE TEXT".
    fn failure(stage: Stage, reply: &str) -> Failure {
        let (code, text) = reply.split_once(' ').unwrap_or((reply, ""));
        Failure::from_reply(stage, &Reply::new(code.parse().expect("a code"), text))
    }

    #[test]
    fn the_shipped_rules_parse_check_cite_their_source_and_each_matches_its_own_example() {
        let raw: Shipped = serde_json::from_str(include_str!("../../rules/smtp.json")).expect("the rules parse");
        assert_eq!(raw.rules.len(), shipped().len());
        let presets: Vec<String> = crate::smtp::account::presets().iter().map(|p| p.id.clone()).collect();
        let mut ids = std::collections::HashSet::new();
        for rule in shipped() {
            rule.validate().unwrap_or_else(|e| panic!("{e}"));
            assert!(ids.insert(rule.id.clone()), "{} twice", rule.id);
            assert!(rule.source.starts_with("http"), "{} cites no page", rule.id);
            for provider in &rule.providers {
                assert!(presets.contains(provider), "{}: no preset {provider}", rule.id);
            }
            // The rule's own example, as the provider's server says it, is
            // decided by that rule for an account of its provider.
            let example = rule
                .example
                .as_deref()
                .unwrap_or_else(|| panic!("{} has no example", rule.id));
            let stage = rule.stages.first().copied().unwrap_or(Stage::Mail);
            let set = RuleSet::new(rule.providers.first().map(String::as_str), &RuleEdits::default());
            let decided = set.decide(&failure(stage, example)).map(|r| r.id.as_str());
            assert_eq!(decided, Some(rule.id.as_str()), "{example:?}");
        }
        for preset in ["amazon_ses", "gmail", "office365", "qq", "netease_163", "netease_126"] {
            assert!(
                shipped().iter().any(|r| r.providers.iter().any(|p| p == preset)),
                "no rules for {preset}"
            );
        }
    }

    #[test]
    fn ses_tells_its_sending_rate_from_its_daily_quota() {
        let ses = RuleSet::new(Some("amazon_ses"), &RuleEdits::default());
        let rate = failure(Stage::Mail, "454 Throttling failure: Maximum sending rate exceeded");
        let daily = failure(Stage::Mail, "454 Throttling failure: Daily message quota exceeded");
        assert_eq!(
            ses.decide(&rate).map(|r| &r.action),
            Some(&RuleAction::SlowDown { factor: None })
        );
        assert_eq!(
            ses.decide(&daily).map(|r| &r.action),
            Some(&RuleAction::SuspendWindow { window_s: 86_400 })
        );
        // Another provider's rules do not apply; the generic throttle does.
        let other = RuleSet::new(Some("gmail"), &RuleEdits::default());
        assert_eq!(
            other.decide(&daily).map(|r| r.id.as_str()),
            Some("generic.rate_limited_words")
        );
    }

    #[test]
    fn the_generic_classes_keep_the_taxonomy() {
        let any = RuleSet::new(None, &RuleEdits::default());
        let id = |stage, reply| any.decide(&failure(stage, reply)).map(|r| r.id.clone());
        assert_eq!(
            id(Stage::Rcpt, "550 5.1.1 user unknown").as_deref(),
            Some("generic.mailbox_unknown")
        );
        assert_eq!(
            id(Stage::Rcpt, "550 No such user here").as_deref(),
            Some("generic.mailbox_unknown_words")
        );
        assert_eq!(
            id(Stage::Rcpt, "554 5.7.1 rejected").as_deref(),
            Some("generic.recipient_refused")
        );
        assert_eq!(
            id(Stage::Mail, "550 5.7.1 sender refused").as_deref(),
            Some("generic.sender_refused")
        );
        assert_eq!(
            id(Stage::Data, "451 4.3.0 try later").as_deref(),
            Some("generic.transient")
        );
        assert_eq!(
            id(Stage::Mail, "450 4.7.1 slow down").as_deref(),
            Some("generic.rate_limited")
        );
        // A login refused is not a rule's business.
        assert_eq!(id(Stage::Auth, "535 5.7.8 bad credentials"), None);
        // A limit said at connection open is: at the greeting, EHLO or AUTH.
        let office = RuleSet::new(Some("office365"), &RuleEdits::default());
        for (stage, reply) in [
            (
                Stage::Auth,
                "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded",
            ),
            (
                Stage::Greeting,
                "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel",
            ),
        ] {
            assert_eq!(
                office.decide(&failure(stage, reply)).map(|r| r.id.as_str()),
                Some("office365.concurrent_connections"),
                "{reply}"
            );
        }
        let gmail = RuleSet::new(Some("gmail"), &RuleEdits::default());
        assert_eq!(
            gmail
                .decide(&failure(
                    Stage::Ehlo,
                    "421 4.7.0 Try again later, closing connection. (EHLO)"
                ))
                .map(|r| r.id.as_str()),
            Some("gmail.try_again_later")
        );
        // A Gmail daily limit is the Gmail rule's, not "the recipient failed".
        let gmail = RuleSet::new(Some("gmail"), &RuleEdits::default());
        let daily = failure(Stage::Data, "550 5.4.5 Daily user sending limit exceeded.");
        assert_eq!(gmail.decide(&daily).map(|r| r.id.as_str()), Some("gmail.daily_limit"));
        assert_eq!(
            any.decide(&daily).map(|r| r.id.as_str()),
            Some("generic.recipient_refused")
        );
    }

    #[test]
    fn an_accounts_rules_come_first_and_removed_ones_are_skipped() {
        let mine = Rule {
            id: "mine.busy".to_owned(),
            providers: Vec::new(),
            stages: Vec::new(),
            codes: vec![451],
            class: None,
            enhanced: None,
            no_enhanced: false,
            pattern: Some("busy".to_owned()),
            means: "my relay is busy at night".to_owned(),
            action: RuleAction::RetryLater { after_s: 600 },
            example: None,
            source: String::new(),
        };
        let edits = RuleEdits {
            added: vec![mine],
            removed: vec!["generic.transient".to_owned()],
        };
        let set = RuleSet::new(None, &edits);
        assert_eq!(
            set.decide(&failure(Stage::Mail, "451 4.3.0 server busy"))
                .map(|r| r.id.as_str()),
            Some("mine.busy")
        );
        assert_eq!(set.decide(&failure(Stage::Mail, "451 4.3.0 local error")), None);
        assert_eq!(set.applied()[0].origin, RuleOrigin::Account);
    }

    #[test]
    fn a_clock_time_in_a_zone_is_the_next_one() {
        // 2025-12-01 15:00 UTC is 23:00 in Shanghai: the next 00:05 there is
        // 16:05 UTC the same day.
        let now = 1_764_601_200_000; // 2025-12-01T15:00:00Z
        assert_eq!(
            next_clock_time("00:05", "Asia/Shanghai", now),
            Some(now + 65 * 60 * 1000)
        );
        assert_eq!(next_clock_time("25:00", "Asia/Shanghai", now), None);
        assert_eq!(next_clock_time("00:05", "Nowhere/Else", now), None);
    }
}
