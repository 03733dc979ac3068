//! SMTP replies: parsing a (multi-line) reply, its enhanced status code
//! (RFC 3463), and what a reply means for retrying (SPEC "Error taxonomy").

use std::fmt;

/// One complete server reply: `250-first\r\n250 last\r\n` is one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

/// How one line of a reply parsed: its code, whether more lines follow, its text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ReplyLine<'a> {
    pub code: u16,
    pub more: bool,
    pub text: &'a str,
}

/// Parses one reply line (without its CRLF). `None` when it is not a reply
/// line at all: three digits, then `-`, ` ` or the end.
pub(crate) fn parse_line(line: &str) -> Option<ReplyLine<'_>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&digits.as_bytes()[0]) {
        return None;
    }
    let code = digits.parse().ok()?;
    match line.as_bytes().get(3) {
        None => Some(ReplyLine {
            code,
            more: false,
            text: "",
        }),
        Some(b' ') => Some(ReplyLine {
            code,
            more: false,
            text: &line[4..],
        }),
        Some(b'-') => Some(ReplyLine {
            code,
            more: true,
            text: &line[4..],
        }),
        Some(_) => None,
    }
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// 2xx and 3xx: the command was accepted (3xx asks for more, as after DATA).
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later (RFC 5321 §4.2.1).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The enhanced status code (`5.1.1`) at the start of the first line, if any.
    pub fn enhanced_code(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let candidate = first.split_whitespace().next()?;
        let mut parts = candidate.split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        let numeric = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
        (parts.next().is_none()
            && matches!(class, "2" | "4" | "5")
            && numeric(subject, 3)
            && numeric(detail, 3)
            && class.as_bytes()[0] == b'0' + u8::try_from(self.code / 100).unwrap_or(0))
        .then_some(candidate)
    }

    /// The server's words: every line joined, without the enhanced code.
    pub fn text(&self) -> String {
        let mut text = self.lines.join(" ");
        if let Some(code) = self.enhanced_code() {
            text = text[code.len()..].trim_start().to_owned();
        }
        text
    }

    /// A throttling reply: 421/450/451/452/454 that speaks of rates or limits,
    /// or any enhanced 4.7.x (policy). These also slow the campaign down.
    pub fn is_throttling(&self) -> bool {
        if !self.is_transient() {
            return false;
        }
        if self.enhanced_code().is_some_and(|c| c.starts_with("4.7.")) {
            return true;
        }
        let text = self.lines.join(" ").to_ascii_lowercase();
        matches!(self.code, 421 | 450 | 451 | 452 | 454)
            && ["rate", "throttl", "limit", "too many", "slow down", "try again later"]
                .iter()
                .any(|word| text.contains(word))
    }

    /// A permanent "no such mailbox": 5.1.x (bad destination) or 5.2.1
    /// (mailbox disabled), or a bare 550 that says the user is unknown.
    /// Such addresses join the suppression list.
    pub fn is_unknown_mailbox(&self) -> bool {
        if self.code < 500 {
            return false;
        }
        match self.enhanced_code() {
            Some(code) => code.starts_with("5.1.") || code == "5.2.1",
            None => {
                let text = self.lines.join(" ").to_ascii_lowercase();
                self.code == 550
                    && ["unknown", "no such", "does not exist", "not found"]
                        .iter()
                        .any(|w| text.contains(w))
            }
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    #[test]
    fn parses_single_and_continued_lines() {
        assert_eq!(
            parse_line("250-PIPELINING\r\n"),
            Some(ReplyLine {
                code: 250,
                more: true,
                text: "PIPELINING"
            })
        );
        assert_eq!(
            parse_line("220 ready"),
            Some(ReplyLine {
                code: 220,
                more: false,
                text: "ready"
            })
        );
        assert_eq!(
            parse_line("250"),
            Some(ReplyLine {
                code: 250,
                more: false,
                text: ""
            })
        );
        assert_eq!(parse_line("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_line("HTTP/1.1 400"), None);
        assert_eq!(parse_line("250xyz"), None);
        assert_eq!(parse_line("99"), None);
        assert_eq!(parse_line("600 nope"), None);
    }

    #[test]
    fn enhanced_codes_are_found_only_when_they_match_the_class() {
        assert_eq!(reply(550, "5.1.1 <x@y>: user unknown").enhanced_code(), Some("5.1.1"));
        assert_eq!(reply(454, "4.7.0 Throttling failure").enhanced_code(), Some("4.7.0"));
        assert_eq!(reply(550, "4.1.1 mismatched class").enhanced_code(), None);
        assert_eq!(reply(250, "2.0.0 Ok: queued as ABC").text(), "Ok: queued as ABC");
        assert_eq!(reply(250, "smtp.example.com").enhanced_code(), None);
        assert_eq!(reply(250, "1.2.3.4 greets you").enhanced_code(), None);
    }

    #[test]
    fn throttling_is_recognised_by_wording_or_enhanced_code() {
        assert!(reply(454, "Throttling failure: Maximum sending rate exceeded.").is_throttling());
        assert!(reply(421, "4.7.0 Try again later, closing connection.").is_throttling());
        assert!(reply(450, "4.7.1 Client host rejected").is_throttling());
        assert!(reply(421, "Too many messages on this connection").is_throttling());
        assert!(!reply(451, "4.3.0 Local error in processing").is_throttling());
        assert!(!reply(550, "5.7.1 rate limit").is_throttling());
    }

    #[test]
    fn unknown_mailboxes_are_recognised() {
        assert!(reply(550, "5.1.1 User unknown").is_unknown_mailbox());
        assert!(reply(550, "5.2.1 Mailbox disabled").is_unknown_mailbox());
        assert!(reply(550, "No such user here").is_unknown_mailbox());
        assert!(!reply(550, "5.7.1 Message rejected as spam").is_unknown_mailbox());
        assert!(!reply(450, "4.1.1 try later").is_unknown_mailbox());
    }
}
