//! RFC 3464 delivery status notifications: the `message/delivery-status`
//! part (RFC 6533's `message/global-delivery-status` alike) is a block of
//! per-message fields, then a block per recipient, separated by blank lines,
//! each field `Name: type; value` with folded continuation lines.

use mail_parser::{Message, MimeHeaders};

use super::FailedRecipient;
use super::classify::{self, Evidence};

/// What a report says.
#[derive(Debug)]
pub enum Report {
    /// Recipients whose `Action` is `failed`, and the Reporting-MTA.
    Failed(Vec<FailedRecipient>, Option<String>),
    /// Only delayed, relayed, delivered or expanded recipients.
    NotAFailure,
}

/// Reads the report's status part; `None` when there is none, or it names no
/// recipient (a damaged or truncated notice).
pub fn read(message: &Message<'_>) -> Option<Report> {
    let part = message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("delivery-status") || s.eq_ignore_ascii_case("global-delivery-status")
                })
        })
    })?;
    let text = String::from_utf8_lossy(part.contents());
    let blocks = blocks(&text);
    let (per_message, per_recipient) = blocks.split_first()?;
    let reporting_mta = field(per_message, "reporting-mta").map(|v| type_value(v).to_owned());
    let mut failed = Vec::new();
    let mut any = false;
    for block in per_recipient {
        let Some(recipient) = field(block, "final-recipient").or_else(|| field(block, "original-recipient")) else {
            continue;
        };
        any = true;
        let action = field(block, "action").unwrap_or("").trim().to_ascii_lowercase();
        let status = field(block, "status").map(str::trim).filter(|s| !s.is_empty());
        // RFC 3464 §2.3.3: failed is the only final failure; a missing Action
        // with a 5.x.x status is read as failed (some servers omit it).
        let is_failure =
            action.starts_with("failed") || (action.is_empty() && status.is_some_and(|s| s.starts_with('5')));
        if !is_failure {
            continue;
        }
        let diagnostic = field(block, "diagnostic-code").map(|v| one_line(type_value(v)));
        let address = clean_address(type_value(recipient));
        if address.is_empty() {
            continue;
        }
        let verdict = classify::judge(&Evidence {
            status,
            text: diagnostic.as_deref().unwrap_or(""),
        });
        failed.push(FailedRecipient {
            address,
            kind: verdict.kind,
            status: verdict.status,
            diagnostic: diagnostic
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| format!("delivery failed ({})", status.unwrap_or("no status given"))),
            remote_mta: field(block, "remote-mta").map(|v| type_value(v).to_owned()),
        });
    }
    if !any {
        return None;
    }
    Some(if failed.is_empty() {
        Report::NotAFailure
    } else {
        Report::Failed(failed, reporting_mta)
    })
}

/// The blocks of fields: lines joined with their continuations, split at
/// blank lines. Each field as (lower-case name, value).
fn blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `rfc822; bob@example.com` → `bob@example.com`; `smtp; 550 …` → `550 …`.
fn type_value(value: &str) -> &str {
    value.split_once(';').map_or(value, |(_, rest)| rest).trim()
}

/// An address from a field: without angle brackets, quotes or a comment.
pub(crate) fn clean_address(value: &str) -> String {
    let value = value.trim();
    let value = match (value.find('<'), value.rfind('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value,
    };
    value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_matches(['"', '\'', ';', ',', '.'])
        .to_owned()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
