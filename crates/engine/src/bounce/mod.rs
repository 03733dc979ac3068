//! Reading a message from the sender's mailbox: is it a delivery status
//! notification (a bounce), an automatic reply, an unsubscribe request, or
//! anything else; and for a bounce, who it is about, how bad it is (hard or
//! soft), the status code, the server's words and which Mailroom message it
//! returns. Pure functions over bytes (mail-parser parses); the scan in
//! [`crate::mailbox::scan`] fetches the messages and records what this finds.
//!
//! # Layout
//! - [`dsn`]: RFC 3464 `message/delivery-status` fields (and RFC 6533's
//!   `message/global-delivery-status`).
//! - [`text`]: the common non-standard forms, read from the notice's words:
//!   Exim, qmail, Gmail's and Exchange's prose, NetEase/Coremail (163, 126)
//!   and QQ's Chinese notices, and `X-Failed-Recipients`.
//! - [`classify`]: hard or soft, from the status code and the words.
//! - this file: [`analyse`], which decides what a message is, and the
//!   Mailroom Message-ID a notice returns.

pub mod classify;
pub mod dsn;
pub mod text;

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser, MimeHeaders};
use regex::Regex;
use serde::Serialize;

use crate::model::BounceKind;

/// What a message in the mailbox turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analysis {
    /// A delivery failure: one or more recipients did not get the message.
    Bounce(Notice),
    /// A delivery status notification that is not a failure (delayed, relayed,
    /// delivered): nothing to record.
    NotAFailure,
    /// An automatic reply (out of office, vacation, RFC 3834): not a bounce.
    AutoReply,
    /// A request to stop receiving mail, by reply to List-Unsubscribe's mailto.
    Unsubscribe { address: String },
    /// Anything else, a message that cannot be parsed included.
    Other,
}

/// A delivery failure notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The recipients it reports as failed (one for Mailroom's messages, which
    /// go to one recipient each; may be empty when only the returned message
    /// says who it was for).
    pub recipients: Vec<FailedRecipient>,
    /// The server that wrote the notice (Reporting-MTA, or the sender's domain).
    pub reporting_mta: Option<String>,
    /// The Mailroom Message-ID of the returned message, when it comes back.
    pub returned: Option<MailroomMessageId>,
    /// The returned message's recipient (its To), when it comes back.
    pub returned_to: Option<String>,
    /// When the notice was written (Unix ms), from its Date.
    pub date_ms: Option<i64>,
    /// The notice's own Message-ID, or a hash of its header block: the same
    /// notice read twice is recognised by it.
    pub fingerprint: String,
    /// How it was recognised: `rfc3464`, `exim`, `qmail`, `coremail`, ...
    pub format: &'static str,
}

/// One failed recipient of a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// The address as the notice gives it (final or original recipient).
    pub address: String,
    pub kind: BounceKind,
    /// The enhanced status code (`5.1.1`), given or inferred.
    pub status: Option<String>,
    /// The server's words (Diagnostic-Code, or the notice's sentence), one line.
    pub diagnostic: String,
    /// The server that refused it (Remote-MTA), when known.
    pub remote_mta: Option<String>,
}

/// The parts of a Mailroom Message-ID, `<mailroom.{campaign}.{row}.{created:x}@domain>`
/// (message.rs `CompiledMessage::message_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MailroomMessageId {
    pub campaign: i64,
    pub row: u64,
    /// The campaign's creation time (Unix ms): campaign 7 of another
    /// database has another, so a notice for it is not taken for ours.
    pub created_at: i64,
}

impl MailroomMessageId {
    /// Parses `<mailroom.7.42.18c3…@example.com>` (angle brackets optional).
    pub fn parse(id: &str) -> Option<MailroomMessageId> {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, _domain) = id.split_once('@')?;
        let mut parts = local.strip_prefix("mailroom.")?.split('.');
        let campaign = parts.next()?.parse().ok()?;
        let row = parts.next()?.parse().ok()?;
        let created_at = i64::from_str_radix(parts.next()?, 16).ok()?;
        parts.next().is_none().then_some(MailroomMessageId {
            campaign,
            row,
            created_at,
        })
    }
}

/// Most bytes of a message [`analyse`] looks at; the scan fetches no more
/// (a returned message's attachments come after everything needed).
pub const READ_LIMIT: usize = 256 * 1024;

/// Decides what `raw` (a whole message, or its first [`READ_LIMIT`] bytes) is.
/// `own_addresses` are the account's own addresses: a message from one of
/// them is never an unsubscribe request.
pub fn analyse(raw: &[u8], own_addresses: &[String]) -> Analysis {
    let raw = &raw[..raw.len().min(READ_LIMIT)];
    let Some(message) = MessageParser::default().parse(raw) else {
        return Analysis::Other;
    };
    let report_type = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    if let Some(report_type) = &report_type {
        if report_type == "delivery-status" || report_type == "global-delivery-status" {
            match dsn::read(&message) {
                Some(dsn::Report::Failed(recipients, reporting_mta)) => {
                    return Analysis::Bounce(notice(&message, raw, recipients, reporting_mta, "rfc3464"));
                }
                Some(dsn::Report::NotAFailure) => return Analysis::NotAFailure,
                // A report whose status part is missing or unreadable: the
                // words may still say what happened.
                None => {}
            }
        } else {
            // Read receipts (disposition-notification), abuse reports (feedback-report).
            return Analysis::Other;
        }
    }
    let looks_like_notice = report_type.is_some() || text::from_daemon(&message) || text::has_bounce_subject(&message);
    if looks_like_notice || message.header_raw("X-Failed-Recipients").is_some() {
        if let Some((recipients, format)) = text::read(&message) {
            let reporting = sender_domain(&message);
            return Analysis::Bounce(notice(&message, raw, recipients, reporting, format));
        }
        // A daemon's notice we cannot read (a warning, a delay): not a failure
        // we can act on, and not a person's reply either.
        if looks_like_notice {
            return if text::is_delay_warning(&message) {
                Analysis::NotAFailure
            } else {
                Analysis::Other
            };
        }
    }
    if is_auto_reply(&message) {
        return Analysis::AutoReply;
    }
    if let Some(address) = unsubscribe_request(&message, own_addresses) {
        return Analysis::Unsubscribe { address };
    }
    Analysis::Other
}

fn notice(
    message: &Message<'_>,
    raw: &[u8],
    recipients: Vec<FailedRecipient>,
    reporting_mta: Option<String>,
    format: &'static str,
) -> Notice {
    let (returned, returned_to) = returned_message(message, raw);
    Notice {
        recipients,
        reporting_mta,
        returned,
        returned_to,
        date_ms: message.date().map(|d| d.to_timestamp().saturating_mul(1000)),
        fingerprint: fingerprint(message, raw),
        format,
    }
}

/// The returned message's Mailroom Message-ID and recipient: from a
/// `message/rfc822` or `text/rfc822-headers` part, else from a copy of the
/// message quoted in the text (Exim, qmail), found by its `Message-ID:` line
/// (so an `In-Reply-To` or `References` naming ours does not count).
fn returned_message(message: &Message<'_>, raw: &[u8]) -> (Option<MailroomMessageId>, Option<String>) {
    for part in message.parts.iter().skip(1) {
        let headers = match part.message() {
            Some(nested) => Some(nested.clone()),
            None => {
                let is_headers = part.content_type().is_some_and(|ct| {
                    let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
                    sub == "rfc822-headers"
                        || sub == "global-headers"
                        || (ct.ctype().eq_ignore_ascii_case("message") && sub == "rfc822")
                });
                if is_headers {
                    MessageParser::default().parse_headers(part.contents())
                } else {
                    None
                }
            }
        };
        if let Some(headers) = headers
            && let Some(id) = headers.message_id().and_then(MailroomMessageId::parse)
        {
            let to = headers
                .to()
                .and_then(|to| to.first())
                .and_then(|a| a.address())
                .map(str::to_owned);
            return (Some(id), to);
        }
    }
    static QUOTED_ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?im)^message-id:[ \t]*(<mailroom\.[0-9]+\.[0-9]+\.[0-9a-f]+@[^>\s]+>)")
            .unwrap_or_else(|_| unreachable_regex())
    });
    let text = String::from_utf8_lossy(raw);
    let id = QUOTED_ID
        .captures(&text)
        .and_then(|c| c.get(1))
        .and_then(|m| MailroomMessageId::parse(m.as_str()));
    (id, None)
}

/// A regex that matches nothing, for the impossible case that a literal
/// pattern above does not compile (clippy forbids unwrap on it; tests cover
/// every pattern).
pub(crate) fn unreachable_regex() -> Regex {
    #[allow(clippy::unwrap_used)] // a valid literal
    Regex::new(r"[^\s\S]").unwrap()
}

/// The notice's Message-ID, else a hash of its header block.
fn fingerprint(message: &Message<'_>, raw: &[u8]) -> String {
    use siphasher::sip128::Hasher128 as _;
    use std::hash::Hasher as _;
    if let Some(id) = message.message_id().filter(|id| !id.trim().is_empty()) {
        return format!("<{}>", id.trim());
    }
    let end = usize::try_from(message.root_part().raw_body_offset()).unwrap_or(raw.len());
    let mut hasher = siphasher::sip128::SipHasher13::new_with_keys(0x6d61_696c, 0x726f_6f6d);
    hasher.write(&raw[..end.min(raw.len())]);
    format!("sip:{:032x}", hasher.finish128().as_u128())
}

fn sender_domain(message: &Message<'_>) -> Option<String> {
    message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .and_then(|a| a.rsplit_once('@'))
        .map(|(_, domain)| domain.to_ascii_lowercase())
}

/// RFC 3834's `Auto-Submitted` (anything but `no`), and the common
/// non-standard marks of vacation and out-of-office replies.
pub fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if header("Auto-Submitted").is_some_and(|v| !v.is_empty() && !v.starts_with("no")) {
        return true;
    }
    if [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Response-Suppress",
    ]
    .iter()
    .any(|name| header(name).is_some_and(|v| !v.is_empty() && v != "no" && *name != "X-Auto-Response-Suppress"))
    {
        return true;
    }
    if header("Precedence").is_some_and(|v| v == "auto_reply" || v == "auto-reply") {
        return true;
    }
    let subject = message.subject().unwrap_or("").to_lowercase();
    [
        "out of office",
        "out of the office",
        "automatic reply",
        "auto reply",
        "autoreply",
        "auto-reply",
        "vacation",
        "自动回复",
        "自動回覆",
    ]
    .iter()
    .any(|mark| subject.contains(mark))
}

/// A person asking to be taken off the list by mail (RFC 2369's mailto, as
/// Mailroom's `List-Unsubscribe: <mailto:…?subject=unsubscribe>` fills it in):
/// the subject, less `Re:`-style prefixes, is "unsubscribe" (or 退订), or the
/// first line of the text is. The sender's address.
fn unsubscribe_request(message: &Message<'_>, own_addresses: &[String]) -> Option<String> {
    let from = message.from()?.first()?.address()?.trim().to_owned();
    if from.is_empty() || own_addresses.iter().any(|own| own.eq_ignore_ascii_case(&from)) {
        return None;
    }
    let subject = strip_reply_prefixes(message.subject().unwrap_or(""));
    let first_line = message
        .body_text(0)
        .and_then(|body| {
            body.lines()
                .map(str::trim)
                .find(|line| !line.is_empty() && !line.starts_with('>'))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (is_unsubscribe_word(&subject) || is_unsubscribe_word(&first_line)).then_some(from)
}

fn strip_reply_prefixes(subject: &str) -> String {
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_lowercase();
        let Some(prefix) = [
            "re:",
            "aw:",
            "fw:",
            "fwd:",
            "sv:",
            "回复:",
            "回复：",
            "答复:",
            "答复：",
            "转发:",
            "转发：",
        ]
        .iter()
        .find(|p| lower.starts_with(**p)) else {
            return rest.to_owned();
        };
        rest = rest[prefix.len()..].trim_start();
    }
}

fn is_unsubscribe_word(text: &str) -> bool {
    let word = text
        .trim()
        .trim_end_matches(['.', '!', '。', '！'])
        .trim()
        .to_lowercase();
    matches!(word.as_str(), "unsubscribe" | "unsubscribe me" | "退订" | "取消订阅")
}

#[cfg(test)]
mod tests;
