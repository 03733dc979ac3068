//! Non-standard notices: servers that write their failure in prose instead
//! of (or as well as an unreadable) RFC 3464 report. Each form is read as the
//! server writes it (the corpus in `crates/engine/testdata/bounces` has a
//! sample of each, with its source):
//!
//! - Exim: "The following address(es) failed:" then each address, indented,
//!   with the remote server's words under it.
//! - qmail: "I'm afraid I wasn't able to deliver your message to the
//!   following addresses." then `<address>:` and the reason.
//! - Postfix (and others) without a report: `<address>: host … said: 550 …`.
//! - Gmail: "Your message wasn't delivered to ADDRESS because …" and "The
//!   response from the remote server was: …".
//! - Exchange / Office 365: "Delivery has failed to these recipients or
//!   groups:" and "Remote Server returned '550 5.1.1 …'".
//! - NetEase (163, 126; Coremail): 收件人：ADDRESS … 退信原因：… 英文说明:….
//! - QQ Mail (PostMaster@qq.com): the failed address and the server's reply
//!   in the text.
//! - `X-Failed-Recipients` (Exim, Gmail) names the addresses whatever the text.

use std::sync::LazyLock;

use mail_parser::Message;
use regex::Regex;

use super::FailedRecipient;
use super::classify::{self, Evidence};
use super::dsn::clean_address;
use super::unreachable_regex;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|_| unreachable_regex())
}

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| regex(r"[A-Za-z0-9._%+'=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"));

/// The notice comes from a mail system, not a person: by its From. (An
/// empty Return-Path is no proof: RFC 3834 asks automatic replies to use one
/// too.)
pub fn from_daemon(message: &Message<'_>) -> bool {
    let Some(from) = message.from().and_then(|f| f.first()) else {
        return false;
    };
    let local = from
        .address()
        .and_then(|a| a.split('@').next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let name = from.name().unwrap_or("").to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "mailerdaemon" | "mail-daemon" | "postmaster"
    ) || name.contains("mail delivery")
        || name.contains("mailer-daemon")
}

/// The subject is one servers give their failure notices.
pub fn has_bounce_subject(message: &Message<'_>) -> bool {
    let subject = message.subject().unwrap_or("").to_lowercase();
    [
        "undeliverable",
        "undelivered",
        "delivery status notification (failure)",
        "mail delivery failed",
        "returned mail",
        "failure notice",
        "delivery failure",
        "could not be delivered",
        "returned to sender",
        "退信",
        "投递失败",
        "无法送达",
    ]
    .iter()
    .any(|s| subject.contains(s))
}

/// A notice that delivery is delayed (still being tried): not a failure.
pub fn is_delay_warning(message: &Message<'_>) -> bool {
    let subject = message.subject().unwrap_or("").to_lowercase();
    subject.contains("delay") || subject.contains("warning") || subject.contains("延迟")
}

/// Reads the failed recipients from the notice's words, with the form's name.
pub fn read(message: &Message<'_>) -> Option<(Vec<FailedRecipient>, &'static str)> {
    let body = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    // Only the notice's own words: the returned copy of the message may
    // carry any text (and addresses) at all.
    let words = notice_part(&body);
    let failed_header: Vec<String> = message
        .header_raw("X-Failed-Recipients")
        .map(|v| v.split(',').map(clean_address).filter(|a| a.contains('@')).collect())
        .unwrap_or_default();

    let found = exim(words)
        .map(|r| (r, "exim"))
        .or_else(|| qmail(words).map(|r| (r, "qmail")))
        .or_else(|| exchange(words).map(|r| (r, "exchange")))
        .or_else(|| gmail(words).map(|r| (r, "gmail")))
        .or_else(|| coremail(words).map(|r| (r, "coremail")))
        .or_else(|| angle_colon(words).map(|r| (r, "postfix")));
    let (mut recipients, format) = match found {
        Some((found, format)) => (found, format),
        None if !failed_header.is_empty() => (
            failed_header
                .iter()
                .map(|a| (a.clone(), reply_line(words).unwrap_or_default()))
                .collect(),
            "x-failed-recipients",
        ),
        None => {
            // QQ and other daemons: the first address in the text that is not
            // the daemon's own, with the line holding a reply code.
            let own = message
                .from()
                .and_then(|f| f.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_ascii_lowercase();
            let to = message
                .to()
                .and_then(|t| t.first())
                .and_then(|a| a.address())
                .unwrap_or("")
                .to_ascii_lowercase();
            let address = ADDRESS.find_iter(words).map(|m| m.as_str().to_owned()).find(|a| {
                let a = a.to_ascii_lowercase();
                a != own && a != to
            })?;
            (vec![(address, reply_line(words).unwrap_or_default())], "text")
        }
    };
    // X-Failed-Recipients is authoritative about who failed.
    if !failed_header.is_empty() {
        recipients.retain(|(a, _)| failed_header.iter().any(|f| f.eq_ignore_ascii_case(a)));
        for address in &failed_header {
            if !recipients.iter().any(|(a, _)| a.eq_ignore_ascii_case(address)) {
                recipients.push((address.clone(), reply_line(words).unwrap_or_default()));
            }
        }
    }
    let recipients: Vec<FailedRecipient> = recipients
        .into_iter()
        .filter(|(address, _)| address.contains('@'))
        .map(|(address, diagnostic)| {
            let diagnostic = one_line(&diagnostic);
            let verdict = classify::judge(&Evidence {
                status: None,
                text: if diagnostic.is_empty() { words } else { &diagnostic },
            });
            FailedRecipient {
                address,
                kind: verdict.kind,
                status: verdict.status,
                diagnostic: if diagnostic.is_empty() {
                    summary(words)
                } else {
                    cut(&diagnostic, 500)
                },
                remote_mta: None,
            }
        })
        .collect();
    (!recipients.is_empty()).then_some((recipients, format))
}

/// The text before the returned copy of the message.
fn notice_part(body: &str) -> &str {
    const MARKERS: &[&str] = &[
        "------ This is a copy of the message",
        "--- Below this line is a copy of the message",
        "----- Original message -----",
        "Original message headers:",
        "------ Failed Recipients ------",
        "----- The header of the original message is following. -----",
    ];
    let end = MARKERS.iter().filter_map(|m| body.find(m)).min().unwrap_or(body.len());
    &body[..end]
}

/// Exim: the address on its own indented line after "address(es) failed:",
/// the remote server's words indented under it.
fn exim(text: &str) -> Option<Vec<(String, String)>> {
    let start = text.find("address(es) failed:")?;
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text[start..].lines().skip(1) {
        if line.trim().is_empty() {
            if out.is_empty() {
                continue;
            }
            // A blank line ends an entry; another address may follow.
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if indent <= 2
            && ADDRESS
                .find(trimmed)
                .is_some_and(|m| m.start() == 0 && m.end() == trimmed.len())
        {
            out.push((trimmed.to_owned(), String::new()));
        } else if indent <= 2 && !out.is_empty() {
            // Unindented text after the entries: the notice goes on.
            break;
        } else if let Some((_, detail)) = out.last_mut() {
            detail.push(' ');
            detail.push_str(trimmed);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// qmail: `<address>:` then the reason, up to a blank line.
fn qmail(text: &str) -> Option<Vec<(String, String)>> {
    if !(text.contains("qmail-send") || text.contains("wasn't able to deliver your message")) {
        return None;
    }
    angle_colon(text)
}

/// `<address>: reason` (qmail puts the reason on the lines below, Postfix's
/// prose on the same line and folded ones below), up to a blank line.
fn angle_colon(text: &str) -> Option<Vec<(String, String)>> {
    static ENTRY: LazyLock<Regex> = LazyLock::new(|| regex(r"^<([^<>\s]+@[^<>\s]+)>:\s*(.*)$"));
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if let Some(c) = ENTRY.captures(line.trim_end()) {
            out.push((
                c.get(1).map_or("", |m| m.as_str()).to_owned(),
                c.get(2).map_or("", |m| m.as_str()).to_owned(),
            ));
            open = true;
        } else if line.trim().is_empty() {
            open = false;
        } else if open && let Some((_, detail)) = out.last_mut() {
            detail.push(' ');
            detail.push_str(line.trim());
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Exchange / Office 365: "Delivery has failed to these recipients or
/// groups:" then `address (address)` or `Name (address)`; the code in
/// "Remote Server returned '…'" or in the diagnostic section.
fn exchange(text: &str) -> Option<Vec<(String, String)>> {
    let start = text.find("Delivery has failed to these recipients or groups")?;
    let rest = &text[start..];
    let address = ADDRESS.find(rest)?.as_str().to_owned();
    static RETURNED: LazyLock<Regex> = LazyLock::new(|| regex(r"Remote Server returned '([^']+)'"));
    let reason = RETURNED
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .or_else(|| reply_line(rest))
        .unwrap_or_default();
    Some(vec![(address, reason)])
}

/// Gmail: "Your message wasn't delivered to ADDRESS because …" (or "Delivery
/// to the following recipient failed permanently:" and the address below),
/// then "The response from the remote server was:" and the reply.
fn gmail(text: &str) -> Option<Vec<(String, String)>> {
    static DELIVERED_TO: LazyLock<Regex> = LazyLock::new(|| {
        regex(r"(?s)(?:wasn't delivered to|wasn.t delivered to|failed permanently:)\s*<?([^\s<>]+@[^\s<>]+?)>?[\s.]")
    });
    let address = DELIVERED_TO.captures(text)?.get(1)?.as_str().to_owned();
    static RESPONSE: LazyLock<Regex> =
        LazyLock::new(|| regex(r"(?s)The response (?:from the remote server )?was:\s*(.+?)(?:\n\s*\n|$)"));
    let reason = RESPONSE
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .or_else(|| {
            text.find("because")
                .map(|i| text[i..].lines().next().unwrap_or("").to_owned())
        })
        .unwrap_or_default();
    Some(vec![(address, reason)])
}

/// NetEase / Coremail: 收件人：ADDRESS and 退信原因：… with 英文说明:… (the
/// English gloss), as its HTML reads once made text.
fn coremail(text: &str) -> Option<Vec<(String, String)>> {
    static RECIPIENT: LazyLock<Regex> = LazyLock::new(|| regex(r"收件人[：:]\s*([^\s<>]+@[^\s<>]+)"));
    let address = RECIPIENT.captures(text)?.get(1)?.as_str().to_owned();
    let reason_at = text.find("退信原因").unwrap_or(0);
    let reason_text = &text[reason_at..];
    static GLOSS: LazyLock<Regex> = LazyLock::new(|| regex(r"英文说明[：:]\s*([^\n]+)"));
    // The gloss, up to the advice that follows it ("建议解决方案") once the
    // HTML is text; else the reason's own line.
    let reason = GLOSS
        .captures(reason_text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().split("建议").next().unwrap_or("").replace("&nbsp;", " "))
        .or_else(|| {
            reason_text.lines().next().map(|line| {
                line.trim_start_matches("退信原因")
                    .trim_start_matches(['：', ':'])
                    .to_owned()
            })
        })
        .unwrap_or_default();
    Some(vec![(address, reason)])
}

/// The first line carrying an SMTP reply (`550 5.1.1 …`), with the lines
/// folded under it.
fn reply_line(text: &str) -> Option<String> {
    static CODE: LazyLock<Regex> = LazyLock::new(|| regex(r"\b[45]\d\d[ -]"));
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| CODE.is_match(l))?;
    let mut out = lines[at].trim().to_owned();
    for next in &lines[at + 1..] {
        if next.starts_with([' ', '\t']) && !next.trim().is_empty() {
            out.push(' ');
            out.push_str(next.trim());
        } else {
            break;
        }
    }
    Some(out)
}

/// A short summary of a notice's words when no line says more.
fn summary(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 10)
        .unwrap_or("delivery failed");
    cut(line, 200)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
