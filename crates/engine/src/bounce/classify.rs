//! Hard or soft: the issue's rule, from the status code when there is one
//! (RFC 3463: class 5 permanent, class 4 transient), with mailbox full
//! (x.2.2, or words saying so) soft whatever its class; without a code, from
//! the words servers use ("user unknown", 用户不存在, "mailbox full", ...).

use std::sync::LazyLock;

use regex::Regex;

use super::unreachable_regex;
use crate::model::BounceKind;

/// What a notice says about one recipient.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The enhanced status code, when the notice gives one (`Status: 5.1.1`).
    pub status: Option<&'a str>,
    /// The server's words (Diagnostic-Code, or the notice's text about it).
    pub text: &'a str,
}

/// Hard or soft, and the enhanced code given or inferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: BounceKind,
    pub status: Option<String>,
}

static ENHANCED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b").unwrap_or_else(|_| unreachable_regex()));
static BASIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\d.#])([45][0-5]\d)(?:[ -]|$)").unwrap_or_else(|_| unreachable_regex()));

const MAILBOX_FULL: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "mailbox exceeded",
    "over quota",
    "overquota",
    "quota exceeded",
    "exceeded storage",
    "exceeds the quota",
    "insufficient storage",
    "user is over",
    "mailbox size limit",
    "space not enough",
    "空间不足",
    "邮箱已满",
    "容量已满",
    "收件容量满",
];

const NO_SUCH_USER: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "user not found",
    "user not exist",
    "does not exist",
    "doesn't exist",
    "no mailbox",
    "mailbox not found",
    "mailbox unavailable",
    "invalid recipient",
    "invalid mailbox",
    "recipient not found",
    "recipient address rejected",
    "address rejected",
    "not a valid mailbox",
    "unrouteable address",
    "no such recipient",
    "account has been disabled",
    "account is disabled",
    "用户不存在",
    "收件人不存在",
    "地址不存在",
    "帐号不存在",
    "账号不存在",
];

const NO_SUCH_DOMAIN: &[&str] = &[
    "domain not found",
    "host not found",
    "host or domain name not found",
    "couldn't find any host",
    "no mx",
    "name or service not known",
    "域名不存在",
];

const PERMANENT: &[&str] = &["permanent error", "permanent failure", "given up", "永久"];

/// Judges one recipient's failure.
pub fn judge(evidence: &Evidence<'_>) -> Verdict {
    let text = evidence.text.to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let full = says(MAILBOX_FULL);
    let enhanced = evidence
        .status
        .and_then(|s| ENHANCED.captures(s))
        .or_else(|| ENHANCED.captures(&text))
        .map(|c| {
            (
                c.get(1).map_or("", |m| m.as_str()).to_owned(),
                c.get(2).map_or("", |m| m.as_str()).to_owned(),
                c.get(3).map_or("", |m| m.as_str()).to_owned(),
            )
        });
    if let Some((class, subject, detail)) = enhanced {
        let status = format!("{class}.{subject}.{detail}");
        let mailbox_full = (subject == "2" && detail == "2") || full;
        let kind = if class == "5" && !mailbox_full {
            BounceKind::Hard
        } else {
            BounceKind::Soft
        };
        return Verdict {
            kind,
            status: Some(status),
        };
    }
    if full {
        return Verdict {
            kind: BounceKind::Soft,
            status: Some("5.2.2".to_owned()),
        };
    }
    if let Some(code) = BASIC
        .captures(&text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
    {
        let hard = code.starts_with('5');
        return Verdict {
            kind: if hard { BounceKind::Hard } else { BounceKind::Soft },
            status: Some(
                if hard {
                    if says(NO_SUCH_USER) { "5.1.1" } else { "5.0.0" }
                } else {
                    "4.0.0"
                }
                .to_owned(),
            ),
        };
    }
    if says(NO_SUCH_DOMAIN) {
        return Verdict {
            kind: BounceKind::Hard,
            status: Some("5.1.2".to_owned()),
        };
    }
    if says(NO_SUCH_USER) {
        return Verdict {
            kind: BounceKind::Hard,
            status: Some("5.1.1".to_owned()),
        };
    }
    if says(PERMANENT) {
        return Verdict {
            kind: BounceKind::Hard,
            status: Some("5.0.0".to_owned()),
        };
    }
    Verdict {
        kind: BounceKind::Soft,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: Option<&str>, text: &str) -> (BounceKind, Option<String>) {
        let v = judge(&Evidence { status, text });
        (v.kind, v.status)
    }

    #[test]
    fn the_status_code_decides_and_mailbox_full_is_soft() {
        assert_eq!(
            kind(Some("5.1.1"), "550 5.1.1 user unknown"),
            (BounceKind::Hard, Some("5.1.1".into()))
        );
        assert_eq!(
            kind(Some("4.4.7"), "timed out"),
            (BounceKind::Soft, Some("4.4.7".into()))
        );
        assert_eq!(
            kind(Some("5.2.2"), "552 5.2.2 mailbox full"),
            (BounceKind::Soft, Some("5.2.2".into()))
        );
        assert_eq!(
            kind(Some("5.0.0"), "552 user is over quota"),
            (BounceKind::Soft, Some("5.0.0".into()))
        );
        assert_eq!(
            kind(None, "host said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
            (BounceKind::Hard, Some("5.1.10".into()))
        );
    }

    #[test]
    fn without_a_code_the_words_decide() {
        assert_eq!(
            kind(None, "550 Unknown user kijitora@example.ne.jp").0,
            BounceKind::Hard
        );
        assert_eq!(kind(None, "451 try again later").0, BounceKind::Soft);
        assert_eq!(
            kind(None, "收件人不存在 user not exist"),
            (BounceKind::Hard, Some("5.1.1".into()))
        );
        assert_eq!(
            kind(None, "收件容量满 Quota exceeded"),
            (BounceKind::Soft, Some("5.2.2".into()))
        );
        assert_eq!(
            kind(None, "Sorry, I couldn't find any host named example.invalid. (#5.1.2)").0,
            BounceKind::Hard
        );
        assert_eq!(kind(None, "rcpt handle timeout"), (BounceKind::Soft, None));
        // A queue id or an address with digits is not a reply code.
        assert_eq!(kind(None, "queued as 4550ABC; rcpt handle timeout").0, BounceKind::Soft);
    }
}
