//! SMTP replies: reading them out of a byte stream, whole and within limits
//! ([`ReplyReader`]), their enhanced status codes (RFC 3463), and what a
//! reply means for retrying (SPEC "Error taxonomy").
//!
//! The reader is sans-IO: the connection feeds it what the socket gave and
//! asks for the next complete reply, so a reply split across reads parses as
//! it would in one. A reply is read whole or not at all: a line, a reply or a
//! line count past its limit is a [`Violation`], after which the reader
//! takes nothing more. It never re-synchronises by guessing where the next
//! reply starts; the connection is closed instead. Its memory is bounded by
//! [`BUFFER`] plus [`MAX_REPLY`] whatever the peer sends.

use std::fmt;

use super::redact::Redactor;

/// Longest reply line accepted, without its CRLF. RFC 5321 §4.5.3.1.5 allows
/// 512 octets; real servers' refusals run longer, so eight times that.
pub const MAX_LINE: usize = 4000;
/// Most lines in one reply (an EHLO lists a few dozen at most).
pub const MAX_LINES: usize = 500;
/// Most text in one reply, all its lines together.
pub const MAX_REPLY: usize = 64 * 1024;
/// The reader's byte buffer: one line at its limit and one read more.
pub const BUFFER: usize = 16 * 1024;

/// One complete server reply: `250-first\r\n250 last\r\n` is one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator; control
    /// characters are spaces, and credentials are redacted.
    pub lines: Vec<String>,
}

/// Why a byte stream is not (or no longer) a sequence of SMTP replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A line that is not three digits (2xx to 5xx) then `-`, a space or
    /// its end; the line as shown (cut, control characters replaced).
    NotAReply(String),
    /// A line longer than [`MAX_LINE`].
    LineTooLong,
    /// A reply of more than [`MAX_LINES`] lines.
    TooManyLines,
    /// A reply of more than [`MAX_REPLY`] bytes of text.
    TooLarge,
    /// A line of a multi-line reply with another code than the first
    /// (RFC 5321 §4.2.1: every line has the same code).
    CodeChanged { first: u16, then: u16 },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotAReply(line) => write!(f, "an answer that is not an SMTP reply: {line}"),
            Violation::LineTooLong => write!(f, "a reply line longer than {MAX_LINE} bytes"),
            Violation::TooManyLines => write!(f, "a reply of more than {MAX_LINES} lines"),
            Violation::TooLarge => write!(f, "a reply larger than {} KB", MAX_REPLY / 1024),
            Violation::CodeChanged { first, then } => {
                write!(f, "a reply whose lines change code ({first}, then {then})")
            }
        }
    }
}

/// Turns received bytes into complete replies, within the limits above.
#[derive(Debug, Clone)]
pub struct ReplyReader {
    /// Received bytes; `buf[start..]` is not parsed yet. Never longer than [`BUFFER`].
    buf: Vec<u8>,
    start: usize,
    /// The reply being read: its code, its lines so far and their size.
    code: Option<u16>,
    lines: Vec<String>,
    size: usize,
    /// Once the stream broke the grammar, it stays broken.
    broken: Option<Violation>,
    redactor: Redactor,
}

impl Default for ReplyReader {
    fn default() -> Self {
        ReplyReader::new(Redactor::default())
    }
}

impl ReplyReader {
    /// A reader that redacts `redactor`'s secrets from every line it returns.
    pub fn new(redactor: Redactor) -> ReplyReader {
        ReplyReader {
            buf: Vec::with_capacity(BUFFER),
            start: 0,
            code: None,
            lines: Vec::new(),
            size: 0,
            broken: None,
            redactor,
        }
    }

    /// How many bytes [`ReplyReader::feed`] takes now. Never 0 after
    /// [`ReplyReader::next_reply`] answered `Ok(None)`.
    pub fn room(&self) -> usize {
        BUFFER - (self.buf.len() - self.start)
    }

    /// Takes as much of `bytes` as there is room for; returns how many.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let taken = bytes.len().min(BUFFER - self.buf.len());
        self.buf.extend_from_slice(&bytes[..taken]);
        taken
    }

    /// Whether nothing was received beyond the replies already returned.
    pub fn is_idle(&self) -> bool {
        self.start == self.buf.len() && self.code.is_none()
    }

    /// The received bytes no returned reply accounts for, as a person may
    /// see them (cut, control characters replaced, secrets redacted).
    pub fn leftover(&self) -> String {
        let mut shown: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        let rest = String::from_utf8_lossy(&self.buf[self.start..]);
        shown.push(&rest);
        let code = self.code.map(|c| format!("{c} ")).unwrap_or_default();
        self.redactor
            .apply(&cut(&printable(&format!("{code}{}", shown.join(" "))), SHOWN))
    }

    /// Bytes this reader holds now, buffered and parsed: never more than
    /// [`BUFFER`] plus [`MAX_REPLY`].
    pub fn held(&self) -> usize {
        self.buf.len() + self.lines.iter().map(String::len).sum::<usize>()
    }

    /// The next complete reply: `Ok(None)` until one has arrived whole.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, Violation> {
        if let Some(broken) = &self.broken {
            return Err(broken.clone());
        }
        match self.parse() {
            Err(violation) => {
                self.broken = Some(violation.clone());
                Err(violation)
            }
            ok => ok,
        }
    }

    fn parse(&mut self) -> Result<Option<Reply>, Violation> {
        loop {
            let pending = &self.buf[self.start..];
            let Some(end) = memchr::memchr(b'\n', pending) else {
                // Room for the line and its CR, not more.
                return if pending.len() > MAX_LINE + 1 {
                    Err(Violation::LineTooLong)
                } else {
                    Ok(None)
                };
            };
            let raw = &pending[..end];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.len() > MAX_LINE {
                return Err(Violation::LineTooLong);
            }
            let Some((code, more, text)) = split_line(raw) else {
                let shown = String::from_utf8_lossy(raw);
                return Err(Violation::NotAReply(
                    self.redactor.apply(&cut(&printable(&shown), SHOWN)),
                ));
            };
            if let Some(first) = self.code
                && first != code
            {
                return Err(Violation::CodeChanged { first, then: code });
            }
            if self.lines.len() == MAX_LINES {
                return Err(Violation::TooManyLines);
            }
            let text = self.redactor.apply(&printable(&String::from_utf8_lossy(text)));
            self.size += text.len();
            if self.size > MAX_REPLY {
                return Err(Violation::TooLarge);
            }
            self.start += end + 1;
            self.code = Some(code);
            self.lines.push(text);
            if !more {
                self.code = None;
                self.size = 0;
                return Ok(Some(Reply {
                    code,
                    lines: std::mem::take(&mut self.lines),
                }));
            }
        }
    }
}

/// How a byte stream parsed: its complete replies, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub replies: Vec<Reply>,
    pub end: StreamEnd,
}

/// How a parsed byte stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// Right after a complete reply.
    Complete,
    /// Inside a reply that had not arrived whole.
    Incomplete,
    /// At a violation of the reply grammar or its limits; the stream is
    /// read no further.
    Broken(Violation),
}

/// Parses a whole byte stream (a server's side of a conversation) into
/// replies, as the client reads them: the entry point for fuzzing.
pub fn parse_replies(stream: &[u8]) -> Parsed {
    parse_chunks([stream])
}

/// [`parse_replies`] for a stream that arrives in `chunks` (as reads
/// return it): the result never depends on where the chunks split.
pub fn parse_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Parsed {
    let mut reader = ReplyReader::default();
    let mut replies = Vec::new();
    for chunk in chunks {
        let mut rest = chunk;
        while !rest.is_empty() {
            let taken = reader.feed(rest);
            rest = &rest[taken..];
            loop {
                match reader.next_reply() {
                    Ok(Some(reply)) => replies.push(reply),
                    Ok(None) => break,
                    Err(violation) => {
                        return Parsed {
                            replies,
                            end: StreamEnd::Broken(violation),
                        };
                    }
                }
            }
        }
    }
    let end = if reader.is_idle() {
        StreamEnd::Complete
    } else {
        StreamEnd::Incomplete
    };
    Parsed { replies, end }
}

/// How much of an offending line a failure shows.
const SHOWN: usize = 80;

/// A reply line's code, whether more lines follow, and its text: three
/// digits (2xx to 5xx), then `-`, a space or the end.
fn split_line(line: &[u8]) -> Option<(u16, bool, &[u8])> {
    let digits = line.get(..3)?;
    if !(b'2'..=b'5').contains(&digits[0]) || !digits[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Some((code, false, &[])),
        Some(b' ') => Some((code, false, &line[4..])),
        Some(b'-') => Some((code, true, &line[4..])),
        Some(_) => None,
    }
}

/// `text` with control characters and bidirectional overrides as spaces, so
/// a server's words cannot move a terminal's cursor or reorder what a
/// person reads.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || is_bidi_control(c) { ' ' } else { c })
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
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

    fn codes(parsed: &Parsed) -> Vec<u16> {
        parsed.replies.iter().map(|r| r.code).collect()
    }

    #[test]
    fn parses_single_and_continued_lines() {
        let parsed = parse_replies(b"220 ready\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n250\r\n354 go\n");
        assert_eq!(parsed.end, StreamEnd::Complete);
        assert_eq!(codes(&parsed), [220, 250, 250, 354]);
        assert_eq!(parsed.replies[1].lines, ["mx.example", "PIPELINING", "SIZE 10"]);
        assert_eq!(parsed.replies[2].lines, [""]);
        assert_eq!(parse_replies(b"250-first\r\n250 sec").end, StreamEnd::Incomplete);
        for garbage in [
            &b"SSH-2.0-OpenSSH\r\n"[..],
            b"HTTP/1.1 400\r\n",
            b"250xyz\r\n",
            b"99\r\n",
            b"600 nope\r\n",
            b"1xx\r\n",
        ] {
            assert!(
                matches!(parse_replies(garbage).end, StreamEnd::Broken(Violation::NotAReply(_))),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn limits_end_the_stream_instead_of_splitting_a_reply() {
        let long = format!("550 {}\r\n250 next\r\n", "x".repeat(20_000));
        let parsed = parse_replies(long.as_bytes());
        assert_eq!(
            (parsed.replies.len(), parsed.end),
            (0, StreamEnd::Broken(Violation::LineTooLong))
        );
        // A long line still arriving is refused before its end.
        let parsed = parse_replies(&[b'5'; MAX_LINE + 2]);
        assert_eq!(parsed.end, StreamEnd::Broken(Violation::LineTooLong));

        let mut many = "250-x\r\n".repeat(MAX_LINES);
        many.push_str("250 last\r\n");
        assert_eq!(
            parse_replies(many.as_bytes()).end,
            StreamEnd::Broken(Violation::TooManyLines)
        );
        let fits = format!("{}250 last\r\n", "250-x\r\n".repeat(MAX_LINES - 1));
        assert_eq!(parse_replies(fits.as_bytes()).replies[0].lines.len(), MAX_LINES);

        let big = format!("{}250 end\r\n", format!("250-{}\r\n", "y".repeat(3000)).repeat(30));
        assert_eq!(
            parse_replies(big.as_bytes()).end,
            StreamEnd::Broken(Violation::TooLarge)
        );

        assert_eq!(
            parse_replies(b"250-ok\r\n354 go\r\n").end,
            StreamEnd::Broken(Violation::CodeChanged { first: 250, then: 354 })
        );
    }

    #[test]
    fn a_broken_reader_stays_broken() {
        let mut reader = ReplyReader::default();
        reader.feed(b"garbage\r\n250 ok\r\n");
        assert!(reader.next_reply().is_err());
        assert!(reader.next_reply().is_err());
    }

    #[test]
    fn control_characters_never_reach_the_text() {
        let parsed = parse_replies(b"550 bad\x1b[2J\x00word\xe2\x80\xae here\r\n");
        assert_eq!(parsed.replies[0].lines, ["bad [2J word  here"]);
    }

    proptest::proptest! {
        /// Any bytes, split anywhere: no panic, memory within the limits,
        /// and the same replies and end as in one piece.
        #[test]
        fn any_bytes_in_any_chunks_parse_as_in_one_piece(
            stream in proptest::collection::vec(proptest::prop_oneof![
                proptest::num::u8::ANY,
                proptest::sample::select(b"0123456789 -\r\n250".to_vec()),
            ], 0..3000),
            cuts in proptest::collection::vec(0usize..3000, 0..12),
        ) {
            let whole = parse_replies(&stream);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([stream.len()]) {
                chunks.push(&stream[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(parse_chunks(chunks), whole);
        }

        /// Structured replies (codes, separators, long and many lines),
        /// fed a few bytes at a time: memory stays within the limits.
        #[test]
        fn memory_stays_within_the_limits(
            lines in proptest::collection::vec(
                (200u16..600, proptest::bool::ANY, 0usize..6000), 0..80),
            step in 1usize..9000,
        ) {
            let mut stream = Vec::new();
            for (code, more, len) in lines {
                stream.extend_from_slice(format!("{code}{}", if more { '-' } else { ' ' }).as_bytes());
                stream.extend(std::iter::repeat_n(b'z', len));
                stream.extend_from_slice(b"\r\n");
            }
            let mut reader = ReplyReader::default();
            let mut rest = &stream[..];
            'feed: while !rest.is_empty() {
                let taken = reader.feed(&rest[..step.min(rest.len())]);
                rest = &rest[taken..];
                proptest::prop_assert!(reader.held() <= BUFFER + MAX_REPLY);
                proptest::prop_assert!(reader.buf.capacity() <= BUFFER);
                loop {
                    match reader.next_reply() {
                        Ok(Some(reply)) => {
                            proptest::prop_assert!(reply.lines.len() <= MAX_LINES);
                            proptest::prop_assert!(reply.lines.iter().all(|l| l.len() <= MAX_LINE));
                        }
                        Ok(None) => {
                            proptest::prop_assert!(reader.room() > 0);
                            break;
                        }
                        Err(_) => break 'feed,
                    }
                }
            }
        }
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
