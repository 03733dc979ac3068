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

/// Reads a delimiter the way a person types it: `,` `;` `|`, or `tab` / `\t`.
pub fn parse_delimiter(text: &str) -> Option<u8> {
    match text {
        "tab" | "TAB" | "\\t" | "\t" => Some(b'\t'),
        s if s.len() == 1 && s.is_ascii() && !s.as_bytes()[0].is_ascii_alphanumeric() => Some(s.as_bytes()[0]),
        _ => None,
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

    #[test]
    fn delimiters_are_read_as_people_type_them() {
        assert_eq!(parse_delimiter("tab"), Some(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Some(b'\t'));
        assert_eq!(parse_delimiter(";"), Some(b';'));
        assert_eq!(parse_delimiter("a"), None);
        assert_eq!(parse_delimiter(";;"), None);
        assert_eq!(delimiter_name(b'\t'), "tab");
        assert_eq!(delimiter_name(b';'), ";");
    }
}
