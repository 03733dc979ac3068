//! Quoted-printable encoding (RFC 2045 §6.7) of a rendered text body.
//!
//! Why not the `quoted_printable` crate, which lettre uses: it pushes the
//! output one `char` at a time, and at thousands of messages a second that
//! was 6 % of all the CPU a campaign used (docs/BENCHMARKS.md). This copies
//! runs of plain characters whole. The crate stays the test oracle: every
//! output must decode with it to the input.

/// Characters on an encoded line before a soft line break's `=`, so that a
/// line is at most 76 characters (RFC 2045's limit).
const WIDTH: usize = 75;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Encodes `text`, whose line breaks are CRLF, appending to `out`. A CR or
/// LF that is not part of a CRLF is escaped (`=0D`, `=0A`), as are a space or
/// tab at the end of a line, `=`, and every byte outside printable ASCII.
pub(super) fn encode(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len() + text.len() / 16);
    let mut start = 0;
    for end in memchr::memmem::find_iter(text, b"\r\n") {
        encode_line(&text[start..end], out);
        out.extend_from_slice(b"\r\n");
        start = end + 2;
    }
    encode_line(&text[start..], out);
}

fn encode_line(line: &[u8], out: &mut Vec<u8>) {
    // Space and tab stand for themselves, except last on a line, where a
    // mail system may strip them: that one is escaped.
    let (body, last) = match line.split_last() {
        Some((&last, body)) if matches!(last, b' ' | b'\t') => (body, Some(last)),
        _ => (line, None),
    };
    let mut column = 0;
    let mut at = 0;
    while at < body.len() {
        if column == WIDTH {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if LITERAL[usize::from(body[at])] {
            // The run of literal characters that fits on this line, copied whole.
            let fits = body.len().min(at + (WIDTH - column));
            let mut run_end = at + 1;
            while run_end < fits && LITERAL[usize::from(body[run_end])] {
                run_end += 1;
            }
            out.extend_from_slice(&body[at..run_end]);
            column += run_end - at;
            at = run_end;
        } else {
            escape(body[at], &mut column, out);
            at += 1;
        }
    }
    if let Some(last) = last {
        escape(last, &mut column, out);
    }
}

/// Appends `=XX` for `byte`, after a soft line break if it does not fit.
fn escape(byte: u8, column: &mut usize, out: &mut Vec<u8>) {
    if *column + 3 > WIDTH {
        out.extend_from_slice(b"=\r\n");
        *column = 0;
    }
    out.extend_from_slice(&[b'=', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xF)]]);
    *column += 3;
}

/// Bytes that stand for themselves inside a line: printable ASCII but `=`,
/// space and tab.
const LITERAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = matches!(byte as u8, b' ' | b'\t' | b'!'..=b'<' | b'>'..=b'~');
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(text: &str) -> String {
        let mut out = Vec::new();
        encode(text.as_bytes(), &mut out);
        String::from_utf8(out).expect("quoted-printable is ASCII")
    }

    #[test]
    fn encodes_the_rfc_cases() {
        assert_eq!(encoded("plain text\r\nline two"), "plain text\r\nline two");
        assert_eq!(encoded("a=b"), "a=3Db");
        assert_eq!(encoded("Grüße"), "Gr=C3=BC=C3=9Fe");
        assert_eq!(encoded("trailing \r\ntab\t"), "trailing=20\r\ntab=09");
        assert_eq!(encoded("bare\rcr and\nlf"), "bare=0Dcr and=0Alf");
        let long = "x".repeat(160);
        assert_eq!(
            encoded(&long),
            format!("{}=\r\n{}=\r\n{}", "x".repeat(75), "x".repeat(75), "x".repeat(10))
        );
        // An escape is never split by a soft break.
        let near_end = format!("{}é", "x".repeat(73));
        assert_eq!(encoded(&near_end), format!("{}=\r\n=C3=A9", "x".repeat(73)));
    }

    proptest::proptest! {
        #[test]
        fn decodes_to_the_input_in_lines_of_at_most_76(text in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b' ', b'\t', b'=', b'\r', b'\n', b'.', 0xC3, 0xA9, b'~']), 0..400)) {
            let mut out = Vec::new();
            encode(&text, &mut out);
            let decoded = ::quoted_printable::decode(&out, ::quoted_printable::ParseMode::Strict)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            proptest::prop_assert_eq!(&decoded, &text);
            let out = String::from_utf8(out).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            for line in out.split("\r\n") {
                proptest::prop_assert!(line.len() <= 76, "{line:?}");
                proptest::prop_assert!(!line.ends_with([' ', '\t']), "{line:?}");
                proptest::prop_assert!(line.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)), "{line:?}");
            }
        }
    }
}
