//! How a text recipient file is written: its character encoding, its
//! delimiter and its line ending, detected from the first bytes of the file.
//! The person can override the encoding and the delimiter.

use encoding_rs::{Encoding, UTF_8};

/// Delimiters a spreadsheet program writes: comma, semicolon (Excel in
/// countries whose decimal mark is a comma), tab ("Unicode Text", TSV) and pipe.
pub const DELIMITERS: &[u8] = b",;\t|";

/// Rows looked at when choosing a delimiter.
const SNIFF_ROWS: usize = 200;

/// The encoding of a file that starts with `head`: its byte-order mark if it
/// has one, UTF-8 if `head` is valid UTF-8, otherwise chardetng's guess
/// (Windows-1252, GBK, Shift_JIS, ... as legacy office suites write them).
pub fn detect_encoding(head: &[u8]) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return encoding;
    }
    match std::str::from_utf8(head) {
        Ok(_) => return UTF_8,
        // Only a character cut off by the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => return UTF_8,
        Err(_) => {}
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, true);
    detector.guess(None, chardetng::Utf8Detection::Allow)
}

/// An encoding by one of its WHATWG labels ("gbk", "gb18030", "latin1",
/// "windows-1252", "utf-16le", "shift_jis", ...).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// The delimiter that splits the sample's rows into the same number of
/// fields most consistently, preferring more fields on a tie. A file whose
/// rows all have one field has no delimiter to find: it gets a comma.
///
/// Quoting is respected, so `"1,5"` in a semicolon file does not vote for a
/// comma, and neither do unquoted decimal commas (`1.234,56`): they split
/// rows into uneven numbers of fields.
pub fn detect_delimiter(sample: &str) -> u8 {
    // The last line of a sample may be cut short: leave it out.
    let complete = match sample.rfind('\n') {
        Some(end) if end + 1 < sample.len() => &sample[..=end],
        _ => sample,
    };
    let mut best = (b',', 0.0_f64, 0_usize);
    for &delimiter in DELIMITERS {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(complete.as_bytes());
        let widths: Vec<usize> = reader
            .byte_records()
            .take(SNIFF_ROWS)
            .filter_map(Result::ok)
            .filter(|r| r.iter().any(|f| !f.iter().all(u8::is_ascii_whitespace)))
            .map(|r| r.len())
            .collect();
        let Some((width, count)) = most_common(&widths) else {
            continue;
        };
        if width < 2 {
            continue;
        }
        #[allow(clippy::cast_precision_loss)] // counts of a few hundred rows
        let consistency = count as f64 / widths.len() as f64;
        if consistency > best.1 || (consistency == best.1 && width > best.2) {
            best = (delimiter, consistency, width);
        }
    }
    best.0
}

/// The byte rows end with: `\n` (with or without `\r` before it), or `\r` in
/// files that have no `\n` at all (old Mac spreadsheets).
pub fn line_terminator(sample: &str) -> u8 {
    if !sample.contains('\n') && sample.contains('\r') {
        b'\r'
    } else {
        b'\n'
    }
}

/// How a delimiter is named in reports.
pub fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_owned(),
        other => char::from(other).to_string(),
    }
}

/// Reads a delimiter the way a person types it: `,` `;` `|`, or `tab` / `\t`,
/// or another punctuation mark (`:`, `^`, ...). Never the quote `"` (it would
/// open every field), the backslash (read as an escape by some programs, so a
/// file using it is ambiguous), a space or a control character.
pub fn parse_delimiter(text: &str) -> Option<u8> {
    match text {
        "tab" | "TAB" | "\\t" | "\t" => Some(b'\t'),
        s if s.len() == 1 => {
            let byte = s.as_bytes()[0];
            (byte.is_ascii_punctuation() && byte != b'"' && byte != b'\\').then_some(byte)
        }
        _ => None,
    }
}

/// Rows of each kind a [`LineEncodings`] remembers, to name in its report.
const ROWS_NAMED: usize = 5;
/// Bytes of a line kept to classify it (a line is classified by its start
/// when it is longer).
const LINE_SAMPLE: usize = 64 * 1024;

/// Which lines of a text file are UTF-8 and which are not, as the raw bytes
/// stream past: a file written partly by one program and partly by another
/// reads, in any one encoding, as valid-looking garbage (`renÃ©@…`), so
/// mixing is found and reported instead.
///
/// A line of ASCII says nothing. A line is UTF-8 when its bytes are valid
/// UTF-8 — and, when the file is read in a multi-byte legacy encoding (GBK,
/// Shift_JIS, Big5, ...), when they are not also valid in that encoding
/// (short runs of those can be valid UTF-8 by chance). Single-byte encodings
/// (windows-1252, ...) almost never make valid UTF-8 sequences by chance.
#[derive(Debug)]
pub struct LineEncodings {
    /// Off for encodings whose bytes are not ASCII-compatible (UTF-16).
    off: bool,
    encoding: &'static Encoding,
    line_end: u8,
    line: u64,
    /// The current line's bytes while it has any non-ASCII byte.
    high: bool,
    current: Vec<u8>,
    truncated: bool,
    pub utf8_rows: Vec<u64>,
    pub other_rows: Vec<u64>,
}

impl LineEncodings {
    pub fn new(encoding: &'static Encoding, line_end: u8) -> LineEncodings {
        LineEncodings {
            off: false,
            encoding,
            line_end,
            line: 1,
            high: false,
            current: Vec::new(),
            truncated: false,
            utf8_rows: Vec::new(),
            other_rows: Vec::new(),
        }
    }

    /// One that looks at nothing.
    pub fn disabled() -> LineEncodings {
        LineEncodings {
            off: true,
            ..LineEncodings::new(UTF_8, b'\n')
        }
    }

    /// Looks at the next bytes of the file.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !self.off && !bytes.is_empty() {
            let (part, ended) = match memchr::memchr(self.line_end, bytes) {
                Some(at) => (&bytes[..at], true),
                None => (bytes, false),
            };
            if self.high || !part.is_ascii() {
                self.high = true;
                let room = LINE_SAMPLE.saturating_sub(self.current.len());
                self.current.extend_from_slice(&part[..part.len().min(room)]);
                self.truncated |= part.len() > room;
            }
            if ended {
                self.end_line();
                bytes = &bytes[part.len() + 1..];
            } else {
                bytes = &[];
            }
        }
    }

    /// The end of the file: the last line, if it has no line end.
    pub fn finish(&mut self) {
        if self.high && !self.off {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        if self.high {
            let utf8 = match std::str::from_utf8(&self.current) {
                Ok(_) => true,
                // Only a character cut off where the sample stops.
                Err(e) => self.truncated && e.error_len().is_none(),
            };
            let kind = if self.encoding == UTF_8 || self.encoding.is_single_byte() {
                Some(utf8)
            } else if !utf8 {
                Some(false)
            } else {
                let legacy_too = self
                    .encoding
                    .decode_without_bom_handling_and_without_replacement(&self.current)
                    .is_some();
                (!legacy_too).then_some(true)
            };
            let rows = match kind {
                Some(true) => Some(&mut self.utf8_rows),
                Some(false) => Some(&mut self.other_rows),
                None => None,
            };
            if let Some(rows) = rows
                && rows.len() < ROWS_NAMED
            {
                rows.push(self.line);
            }
        }
        self.line += 1;
        self.high = false;
        self.truncated = false;
        self.current.clear();
    }

    /// Both kinds of lines seen: the file mixes encodings.
    pub fn mixed(&self) -> bool {
        !self.utf8_rows.is_empty() && !self.other_rows.is_empty()
    }

    /// What the lines that are not UTF-8 are read as.
    pub fn other_name(&self) -> String {
        if self.encoding == UTF_8 {
            "not UTF-8".to_owned()
        } else {
            self.encoding.name().to_owned()
        }
    }
}

/// A reader that shows every byte it passes on to a [`LineEncodings`].
#[derive(Debug)]
pub struct Classified<R> {
    pub inner: R,
    pub lines: std::sync::Arc<std::sync::Mutex<LineEncodings>>,
}

impl<R: std::io::Read> std::io::Read for Classified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut lines) = self.lines.lock() {
            if n == 0 {
                lines.finish();
            } else {
                lines.feed(&buf[..n]);
            }
        }
        Ok(n)
    }
}

fn most_common(values: &[usize]) -> Option<(usize, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for &v in values {
        *counts.entry(v).or_insert(0_usize) += 1;
    }
    counts.into_iter().max_by_key(|&(value, count)| (count, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{GBK, UTF_16BE, UTF_16LE, WINDOWS_1252};

    #[test]
    fn byte_order_marks_decide() {
        assert_eq!(detect_encoding(b"\xef\xbb\xbfemail\n"), UTF_8);
        assert_eq!(detect_encoding(b"\xff\xfee\x00m\x00"), UTF_16LE);
        assert_eq!(detect_encoding(b"\xfe\xff\x00e\x00m"), UTF_16BE);
    }

    #[test]
    fn utf8_without_bom_and_legacy_encodings_are_recognised() {
        assert_eq!(detect_encoding("name,email\n李雷,li@example.cn\n".as_bytes()), UTF_8);
        // A sample that ends in the middle of a character is still UTF-8.
        let cut = "email\nZoë".as_bytes();
        assert_eq!(detect_encoding(&cut[..cut.len() - 1]), UTF_8);

        let (western, _, _) = WINDOWS_1252.encode(
            "name,email,city\nRené Müller,rene@example.fr,Zürich\nJosé Peña,jose@example.es,Málaga\nFrançoise Legrand,f@example.fr,Besançon\n",
        );
        assert_eq!(detect_encoding(&western), WINDOWS_1252);

        let (chinese, _, _) = GBK.encode(
            "姓名,邮箱,城市\n李雷,li@example.cn,北京\n韩梅梅,han@example.cn,上海\n王小明,wang@example.cn,广州市天河区\n",
        );
        assert_eq!(detect_encoding(&chinese), GBK);
    }

    #[test]
    fn labels_name_encodings() {
        assert_eq!(encoding_for_label("GB18030").map(Encoding::name), Some("gb18030"));
        assert_eq!(encoding_for_label(" latin1 "), Some(WINDOWS_1252));
        assert_eq!(encoding_for_label("klingon"), None);
    }

    #[test]
    fn delimiters_are_found() {
        assert_eq!(detect_delimiter("name,email\nAnn,ann@example.com\n"), b',');
        assert_eq!(detect_delimiter("name\temail\nAnn\tann@example.com\n"), b'\t');
        assert_eq!(detect_delimiter("name|email|note\nAnn|ann@example.com|x, y\n"), b'|');
        assert_eq!(detect_delimiter("email\nann@example.com\n"), b',', "one column");
    }

    #[test]
    fn decimal_commas_do_not_fool_the_semicolon() {
        let european = "Name;E-Mail;Betrag;Datum\n\
                        Anna;anna@example.de;1.234,56;01.03.2024\n\
                        Bernd;bernd@example.de;99,5;02.03.2024\n\
                        Clara;clara@example.de;12;03.03.2024\n\
                        Dieter;dieter@example.de;\"7,25\";04.03.2024\n";
        assert_eq!(detect_delimiter(european), b';');
    }

    #[test]
    fn a_cut_off_last_line_does_not_count() {
        let sample = "a;b;c\n1;2;3\n4;5;6\n7,8";
        assert_eq!(detect_delimiter(sample), b';');
    }

    fn classify(encoding: &'static Encoding, bytes: &[u8]) -> LineEncodings {
        let mut lines = LineEncodings::new(encoding, b'\n');
        // Fed in small pieces, as a reader hands them over.
        for piece in bytes.chunks(3) {
            lines.feed(piece);
        }
        lines.finish();
        lines
    }

    #[test]
    fn lines_in_another_encoding_are_found_by_row() {
        let mut file = b"email,name\n".to_vec();
        file.extend_from_slice(&WINDOWS_1252.encode("rene@example.fr,René\n").0);
        file.extend_from_slice(b"ann@example.com,Ann\n");
        file.extend_from_slice("zoe@example.com,Zoë\n".as_bytes());
        file.extend_from_slice(&WINDOWS_1252.encode("jose@example.es,José").0);
        let lines = classify(WINDOWS_1252, &file);
        assert!(lines.mixed());
        assert_eq!(lines.utf8_rows, vec![4]);
        assert_eq!(lines.other_rows, vec![2, 5]);
        let lines = classify(UTF_8, &file);
        assert!(lines.mixed());
        assert_eq!(lines.other_name(), "not UTF-8");

        // One encoding throughout: nothing to say.
        let western = WINDOWS_1252
            .encode("email,name\nrene@example.fr,René\nm@example.de,Müller\n")
            .0;
        assert!(!classify(WINDOWS_1252, &western).mixed());
        assert!(!classify(UTF_8, "email\nzoë@example.com\n李雷@example.cn\n".as_bytes()).mixed());
        // GBK text that happens to be valid UTF-8 too is not taken for UTF-8.
        let (gbk, _, _) = GBK.encode("姓名,邮箱\n李雷,li@example.cn\n韩梅梅,han@example.cn\n");
        assert!(!classify(GBK, &gbk).mixed());
        let mut gbk_and_utf8 = gbk.to_vec();
        gbk_and_utf8.extend_from_slice("王小明,wang@example.cn\n".as_bytes());
        let lines = classify(GBK, &gbk_and_utf8);
        assert!(lines.mixed(), "{lines:?}");
        assert_eq!(lines.utf8_rows, vec![4]);
    }

    #[test]
    fn delimiters_are_read_as_people_type_them() {
        assert_eq!(parse_delimiter("tab"), Some(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Some(b'\t'));
        assert_eq!(parse_delimiter(";"), Some(b';'));
        assert_eq!(parse_delimiter("a"), None);
        assert_eq!(parse_delimiter(";;"), None);
        assert_eq!(parse_delimiter(":"), Some(b':'));
        // The quote would open every field; the backslash reads as an escape.
        assert_eq!(parse_delimiter("\""), None);
        assert_eq!(parse_delimiter("\\"), None);
        assert_eq!(parse_delimiter(" "), None);
        assert_eq!(parse_delimiter("\n"), None);
        assert_eq!(parse_delimiter("\r"), None);
        assert_eq!(delimiter_name(b'\t'), "tab");
        assert_eq!(delimiter_name(b';'), ";");
    }
}
