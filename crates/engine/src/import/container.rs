//! Bounds on a workbook, checked before calamine reads it. calamine streams
//! the cells of an XLSX or XLSB sheet, but reads some parts whole (shared
//! strings, styles) and reads XLS and ODS workbooks whole, every sheet at
//! once as a dense grid of its used range. A small file can declare a huge
//! grid or unzip to gigabytes; these checks walk the file's structure first,
//! in bounded memory, and refuse what is past [`limits`] with where it is:
//!
//! - zipped workbooks (XLSX, XLSB, ODS): every part calamine reads is
//!   unzipped as a stream and measured; the parts read whole must fit
//!   [`limits::WHOLE_PART_BYTES`] together; no XML tag or text run (a cell's
//!   value) may pass [`limits::XML_RUN_BYTES`], nor an XLSB record
//!   [`limits::XLSB_RECORD_BYTES`];
//! - ODS: the rows and columns of every table, counting repeats, so that
//!   the grid calamine builds fits [`limits::WHOLE_WORKBOOK_CELLS`] and no
//!   value lies below row 1,048,576 (calamine would drop it without a word);
//! - XLS: the record stream of every sheet, so that its grid fits the same
//!   limit.
//!
//! A structure these walks cannot follow is a damaged file.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::limits::{self, column_letters, excerpt, grouped};
use crate::error::{Error, Result};

/// The spreadsheet formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
}

impl Format {
    /// The extensions of the workbooks Mailroom reads, lower-case: what
    /// [`Format::of`] knows a spreadsheet by.
    pub const EXTENSIONS: &'static [&'static str] = &["xlsx", "xlsm", "xlsb", "xls", "ods"];

    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "xlsb" => Some(Format::Xlsb),
            "xls" => Some(Format::Xls),
            "ods" => Some(Format::Ods),
            _ => None,
        }
    }
}

fn damaged(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::DamagedFile {
        path: path.to_owned(),
        detail: excerpt(&detail.to_string()),
    }
}

fn too_large(path: &Path, place: String, problem: String) -> Error {
    Error::FileTooLarge {
        path: path.to_owned(),
        place,
        problem,
    }
}

/// Checks `file`, a workbook in `format`, against the limits.
pub fn check(path: &Path, file: &File, format: Format) -> Result<()> {
    let file = file.try_clone().map_err(|e| Error::unreadable(path, e))?;
    match format {
        Format::Xls => check_xls(path, file),
        _ => check_zip(path, BufReader::new(file), format),
    }
}

/// Which parts of a zipped workbook calamine reads, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    /// Read as a stream of cells (a worksheet of XLSX/XLSB).
    Streamed,
    /// Read whole.
    Whole,
    /// Never read by calamine (images, printer settings, ...).
    Unread,
}

fn part_of(name: &str, format: Format) -> Part {
    // calamine finds parts by this name: a backslash read as `/`, any case.
    let name = name.replace('\\', "/").to_ascii_lowercase();
    let file = name.rsplit('/').next().unwrap_or_default();
    // What calamine's `new` reads whole: relationships, the workbook, shared
    // strings, styles. Anything else (themes, drawings, a VBA project, images)
    // it reads only on request, which the import never makes.
    let whole = name.ends_with(".rels")
        || matches!(
            file,
            "[content_types].xml"
                | "workbook.xml"
                | "workbook.bin"
                | "sharedstrings.xml"
                | "sharedstrings.bin"
                | "styles.xml"
                | "styles.bin"
        );
    match format {
        Format::Xlsx if name.contains("worksheets/") && name.ends_with(".xml") => Part::Streamed,
        Format::Xlsb if name.contains("worksheets/") && name.ends_with(".bin") => Part::Streamed,
        Format::Xlsx | Format::Xlsb if whole => Part::Whole,
        Format::Ods if matches!(name.as_str(), "content.xml" | "meta.xml" | "meta-inf/manifest.xml") => Part::Whole,
        _ => Part::Unread,
    }
}

fn check_zip<R: Read + Seek>(path: &Path, reader: R, format: Format) -> Result<()> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| damaged(path, e))?;
    let mut whole_bytes = 0_u64;
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(|e| damaged(path, e))?;
        let name = entry.name().map_err(|e| damaged(path, e))?.into_owned();
        let part = part_of(&name, format);
        if part == Part::Unread || entry.is_dir() {
            continue;
        }
        let budget = match part {
            Part::Whole => limits::WHOLE_PART_BYTES.saturating_sub(whole_bytes),
            // A streamed sheet costs time, not memory: bounded all the same,
            // far above any real sheet, so a zip bomb ends.
            _ => 16 * limits::WHOLE_PART_BYTES,
        };
        let mut body = BufReader::with_capacity(64 * 1024, entry.take(budget + 1));
        let read = if format == Format::Xlsb && name.to_ascii_lowercase().ends_with(".bin") {
            scan_xlsb_records(path, &name, &mut body)?
        } else if format == Format::Ods && name.eq_ignore_ascii_case("content.xml") {
            let mut tables = OdsTables::default();
            let read = scan_xml(path, &name, &mut body, &mut tables)?;
            tables.finish(path)?;
            read
        } else {
            scan_xml(path, &name, &mut body, &mut NoVisitor)?
        };
        if read > budget {
            let problem = match part {
                Part::Whole => format!(
                    "its parts read whole (shared text, styles, the workbook) unzip to more than {} MB, more than Mailroom reads from one workbook; save it as CSV",
                    limits::WHOLE_PART_BYTES / (1024 * 1024)
                ),
                _ => format!(
                    "its part {} unzips to more than {} MB",
                    excerpt(&name),
                    budget / (1024 * 1024)
                ),
            };
            return Err(too_large(path, String::new(), problem));
        }
        if part == Part::Whole {
            whole_bytes += read;
        }
        if format == Format::Xlsx && part_of_shared_strings(&name) {
            drop(body);
            let entry = zip.by_index(index).map_err(|e| damaged(path, e))?;
            check_declared_shared_strings(path, &name, entry, read)?;
        }
    }
    Ok(())
}

/// What [`scan_xml`] shows a visitor: each tag's first bytes (its name and
/// attributes, without `<` and `>`), and whether text between tags is blank.
trait XmlVisitor {
    fn tag(&mut self, path: &Path, tag: &[u8]) -> Result<()>;
    fn text(&mut self, _blank: bool, _bytes: u64) {}
}

struct NoVisitor;

impl XmlVisitor for NoVisitor {
    fn tag(&mut self, _: &Path, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Walks XML bytes in bounded memory: no tag and no text run longer than
/// [`limits::XML_RUN_BYTES`]. Returns the bytes read.
///
/// Tags are split as calamine's XML reader (quick-xml) splits them: a `>`
/// inside a quoted attribute value does not end a tag, so no attribute can
/// hide from a visitor behind one. A visitor sees every tag whole (a longer
/// one is refused before it is kept). Comments, CDATA and declarations end
/// at their first `>` here: at worst their text is read as tags too, which
/// can only count more, never less.
fn scan_xml(path: &Path, part: &str, body: &mut impl std::io::BufRead, visitor: &mut impl XmlVisitor) -> Result<u64> {
    #[derive(PartialEq)]
    enum Tag {
        /// Not in a tag, or its first byte is not read yet.
        Unknown,
        /// An element's tag, where quotes count.
        Element { quote: Option<u8> },
        /// `<!…>` or `<?…>`: ends at the first `>`.
        Other,
    }
    let mut total = 0_u64;
    let mut in_tag = false;
    let mut kind = Tag::Unknown;
    let mut run = 0_u64;
    let mut tag = Vec::with_capacity(256);
    let mut text_blank = true;
    loop {
        let chunk = body.fill_buf().map_err(|e| damaged(path, format!("{part}: {e}")))?;
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        let mut rest = chunk;
        while !rest.is_empty() {
            if in_tag && kind == Tag::Unknown {
                kind = match rest[0] {
                    b'!' | b'?' => Tag::Other,
                    _ => Tag::Element { quote: None },
                };
            }
            let at = match kind {
                _ if !in_tag => memchr::memchr(b'<', rest),
                Tag::Element { quote: Some(quote) } => memchr::memchr(quote, rest),
                Tag::Element { quote: None } => memchr::memchr3(b'>', b'"', b'\'', rest),
                _ => memchr::memchr(b'>', rest),
            };
            let (piece, found) = match at {
                Some(at) => (&rest[..at], true),
                None => (rest, false),
            };
            run += piece.len() as u64 + u64::from(found);
            if run > limits::XML_RUN_BYTES {
                let what = if in_tag { "a tag" } else { "a value" };
                return Err(too_large(
                    path,
                    String::new(),
                    format!(
                        "{what} in its part {} is longer than {} KB, more than a spreadsheet cell holds",
                        excerpt(part),
                        limits::XML_RUN_BYTES / 1024
                    ),
                ));
            }
            if in_tag {
                tag.extend_from_slice(piece);
            } else if text_blank && !piece.iter().all(u8::is_ascii_whitespace) {
                text_blank = false;
            }
            if !found {
                rest = &[];
                continue;
            }
            let byte = rest[piece.len()];
            rest = &rest[piece.len() + 1..];
            if !in_tag {
                visitor.text(text_blank, run - 1);
                text_blank = true;
                in_tag = true;
                run = 0;
                continue;
            }
            match (&mut kind, byte) {
                (Tag::Element { quote }, b'"' | b'\'') if quote.is_none_or(|q| q == byte) => {
                    *quote = if quote.is_some() { None } else { Some(byte) };
                    tag.push(byte);
                }
                _ => {
                    visitor.tag(path, &tag)?;
                    tag.clear();
                    in_tag = false;
                    kind = Tag::Unknown;
                    run = 0;
                }
            }
        }
        total += len as u64;
        body.consume(len);
    }
    Ok(total)
}

/// The fewest bytes one shared text takes in `sharedStrings.xml` (`<si/>`).
const SHARED_STRING_MIN_BYTES: u64 = 5;

fn part_of_shared_strings(name: &str) -> bool {
    name.replace('\\', "/")
        .to_ascii_lowercase()
        .ends_with("sharedstrings.xml")
}

/// An XLSX's shared strings part: calamine reserves room for the
/// `uniqueCount` texts its `<sst>` tag declares before it reads one, and a
/// refused allocation aborts the process (no panic that [`super::guard`]
/// could contain). The tag is read here as calamine reads it (quick-xml,
/// with calamine's settings: a `>` inside a quoted value does not end it),
/// and a count the part's `bytes` cannot hold is a damaged file.
fn check_declared_shared_strings(path: &Path, part: &str, body: impl Read, bytes: u64) -> Result<()> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(body));
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(tag) | Event::Empty(tag)) if tag.local_name().as_ref() == "sst" => {
                let declared = attribute_values(tag.attributes_raw().as_bytes(), b"uniqueCount")
                    .map(lenient_count)
                    .max()
                    .unwrap_or(0);
                let room = bytes / SHARED_STRING_MIN_BYTES + 1;
                if declared > room {
                    return Err(damaged(
                        path,
                        format!("{part} declares {declared} shared texts, more than its {bytes} bytes can hold"),
                    ));
                }
                return Ok(());
            }
            // No `<sst>`, or XML calamine cannot read either: it says so.
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// Every value given to attribute `name` in a tag's bytes, with the
/// spacing XML allows around `=`; over-inclusive on purpose (a name inside
/// another attribute's value counts too), as it only guards.
fn attribute_values<'t>(tag: &'t [u8], name: &'t [u8]) -> impl Iterator<Item = &'t [u8]> + 't {
    memchr::memmem::find_iter(tag, name).filter_map(move |at| {
        let rest = tag[at + name.len()..].trim_ascii_start();
        let rest = rest.strip_prefix(b"=")?.trim_ascii_start();
        let quote = *rest.first().filter(|q| matches!(q, b'"' | b'\''))?;
        let value = &rest[1..];
        let end = memchr::memchr(quote, value).unwrap_or(value.len());
        Some(&value[..end])
    })
}

/// A count as any integer parser might read it: blanks, a `+` and leading
/// zeros skipped, digits until the first other byte, saturating at
/// `u64::MAX` (so an overlong number reads as huge, not as nothing).
fn lenient_count(value: &[u8]) -> u64 {
    let value = value.trim_ascii();
    let value = value.strip_prefix(b"+").unwrap_or(value);
    value
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0_u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')))
}

/// The value of attribute `name` in a tag's bytes (`name="value"`).
fn attribute<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&tag[from..], name) {
        let start = from + at;
        from = start + name.len();
        let before_ok = start > 0 && tag[start - 1].is_ascii_whitespace();
        let rest = &tag[from..];
        if before_ok && rest.first() == Some(&b'=') && matches!(rest.get(1), Some(b'"' | b'\'')) {
            let quote = rest[1];
            let value = &rest[2..];
            let end = memchr::memchr(quote, value)?;
            return Some(&value[..end]);
        }
    }
    None
}

fn number(value: Option<&[u8]>) -> u64 {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

/// An ODS content.xml's tables: their rows and columns with content,
/// counting `number-rows-repeated` and `number-columns-repeated` as
/// calamine does.
#[derive(Debug, Default)]
struct OdsTables {
    table: String,
    /// Rows of this table so far, and the last one with a value.
    rows: u64,
    last_row: u64,
    /// The widest row with a value (its last valued column + 1).
    columns: u64,
    /// The current row: its repeat count, the next column, the last one with a value.
    row_repeats: u64,
    column: u64,
    row_columns: u64,
    /// The current cell (inside `<table:table-cell>`): its first column,
    /// repeat count, whether it has a value.
    cell: Option<(u64, u64, bool)>,
    /// Text bytes of the current cell, and of the current row (repeats counted).
    cell_text: u64,
    row_text: u64,
    /// Text bytes of every cell of the workbook, repeats counted.
    text: u64,
    /// Grid cells of the tables before this one.
    cells: u64,
}

impl OdsTables {
    fn end_table(&mut self, path: &Path) -> Result<()> {
        self.cells = self.cells.saturating_add(self.last_row.saturating_mul(self.columns));
        whole_workbook(path, "an ODS", self.cells, self.text)?;
        if self.cells > limits::WHOLE_WORKBOOK_CELLS {
            return Err(too_large(
                path,
                String::new(),
                format!(
                    "its sheets span more than {} cells, more than Mailroom reads from an ODS file (it is read whole); save it as XLSX or CSV",
                    grouped(limits::WHOLE_WORKBOOK_CELLS)
                ),
            ));
        }
        self.rows = 0;
        self.last_row = 0;
        self.columns = 0;
        Ok(())
    }

    fn end_cell(&mut self, path: &Path, first: u64, repeats: u64, valued: bool) -> Result<()> {
        self.row_text = self
            .row_text
            .saturating_add(repeats.saturating_mul(std::mem::take(&mut self.cell_text)));
        if valued {
            let end = first.saturating_add(repeats);
            if end > limits::COLUMNS as u64 {
                return Err(too_large(
                    path,
                    format!(", sheet \"{}\", row {}", excerpt(&self.table), grouped(self.rows + 1)),
                    format!(
                        "a value lies past column XFD, the last a sheet has ({})",
                        column_letters(end - 1)
                    ),
                ));
            }
            self.row_columns = end;
        }
        Ok(())
    }

    fn end_row(&mut self, path: &Path) -> Result<()> {
        let first = self.rows + 1;
        self.rows = self.rows.saturating_add(self.row_repeats);
        self.text = self
            .text
            .saturating_add(self.row_repeats.saturating_mul(std::mem::take(&mut self.row_text)));
        whole_workbook(path, "an ODS", self.cells, self.text)?;
        if self.row_columns > 0 {
            if self.rows > limits::SHEET_ROWS {
                let row = first.max(limits::SHEET_ROWS + 1);
                return Err(too_large(
                    path,
                    format!(", sheet \"{}\", row {}", excerpt(&self.table), grouped(row)),
                    format!(
                        "a value lies below row {}, the last a sheet has",
                        grouped(limits::SHEET_ROWS)
                    ),
                ));
            }
            self.last_row = self.rows;
            self.columns = self.columns.max(self.row_columns);
        }
        Ok(())
    }

    fn finish(&mut self, path: &Path) -> Result<()> {
        self.end_table(path)
    }
}

impl XmlVisitor for OdsTables {
    fn tag(&mut self, path: &Path, tag: &[u8]) -> Result<()> {
        // The name ends at a space, or at the `/` of `<name/>` (a closing
        // tag's own `/` comes first).
        let name_end = tag
            .iter()
            .skip(1)
            .position(|b| b.is_ascii_whitespace() || *b == b'/')
            .map_or(tag.len(), |at| at + 1);
        let name = &tag[..name_end];
        let self_closing = tag.ends_with(b"/");
        match name {
            b"table:table" => {
                self.table = String::from_utf8_lossy(attribute(tag, b"table:name").unwrap_or_default()).into_owned();
            }
            b"/table:table" => self.end_table(path)?,
            b"table:table-row" => {
                self.row_repeats = number(attribute(tag, b"table:number-rows-repeated"));
                self.column = 0;
                self.row_columns = 0;
                if self_closing {
                    self.end_row(path)?;
                }
            }
            b"/table:table-row" => self.end_row(path)?,
            b"table:table-cell" | b"table:covered-table-cell" => {
                let repeats = number(attribute(tag, b"table:number-columns-repeated"));
                let first = self.column;
                self.column = self.column.saturating_add(repeats);
                let valued = attribute(tag, b"office:value-type").is_some();
                if self_closing {
                    self.end_cell(path, first, repeats, valued)?;
                } else {
                    self.cell = Some((first, repeats, valued));
                }
            }
            b"/table:table-cell" | b"/table:covered-table-cell" => {
                if let Some((first, repeats, valued)) = self.cell.take() {
                    self.end_cell(path, first, repeats, valued)?;
                }
            }
            // Text inside a cell (`<text:p>`) makes it valued even without a type.
            b"text:p" | b"text:span" | b"text:s" if !self_closing || name == b"text:s" => {
                if let Some(cell) = &mut self.cell {
                    cell.2 = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, blank: bool, bytes: u64) {
        if let Some(cell) = &mut self.cell {
            self.cell_text = self.cell_text.saturating_add(bytes);
            if !blank {
                cell.2 = true;
            }
        }
    }
}

/// Refuses a workbook read whole (XLS, ODS) whose reading would take more
/// than [`limits::WHOLE_WORKBOOK_BYTES`]: `cells` of grid, `text` bytes of
/// cell text (repeats and shared strings counted once per cell).
fn whole_workbook(path: &Path, kind: &str, cells: u64, text: u64) -> Result<()> {
    let estimate = cells
        .saturating_mul(limits::WHOLE_CELL_COST)
        .saturating_add(text.saturating_mul(2));
    if estimate > limits::WHOLE_WORKBOOK_BYTES {
        return Err(too_large(
            path,
            String::new(),
            format!(
                "reading it would take about {} MB (it is {kind} file, read whole, and its cells repeat or share much text); the most Mailroom allows is {} MB: save it as XLSX or CSV",
                grouped(estimate / (1024 * 1024)),
                limits::WHOLE_WORKBOOK_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

/// Walks the records of an XLSB part (`type` and `size` as 7-bit varints,
/// then `size` bytes) without keeping them. Returns the bytes read.
fn scan_xlsb_records(path: &Path, part: &str, body: &mut impl Read) -> Result<u64> {
    let mut total = 0_u64;
    let mut byte = [0_u8; 1];
    let mut read_varint = |body: &mut dyn Read, max_bytes: u32, total: &mut u64| -> Result<Option<u64>> {
        let mut value = 0_u64;
        for i in 0..max_bytes {
            match body.read(&mut byte) {
                Ok(0) if i == 0 => return Ok(None),
                Ok(0) => return Err(damaged(path, format!("{part}: a record is cut short"))),
                Ok(_) => {}
                Err(e) => return Err(damaged(path, format!("{part}: {e}"))),
            }
            *total += 1;
            value |= u64::from(byte[0] & 0x7f) << (7 * i);
            if byte[0] & 0x80 == 0 {
                break;
            }
        }
        Ok(Some(value))
    };
    loop {
        let Some(_typ) = read_varint(body, 2, &mut total)? else {
            return Ok(total);
        };
        let Some(size) = read_varint(body, 4, &mut total)? else {
            return Err(damaged(path, format!("{part}: a record is cut short")));
        };
        if size > limits::XLSB_RECORD_BYTES {
            return Err(too_large(
                path,
                String::new(),
                format!(
                    "a record of its part {} is {} KB, more than a spreadsheet cell holds",
                    excerpt(part),
                    size / 1024
                ),
            ));
        }
        let skipped = std::io::copy(&mut body.take(size), &mut std::io::sink()).map_err(|e| damaged(path, e))?;
        total += skipped;
        if skipped < size {
            // The end of the part; calamine says what it makes of a cut record.
            return Ok(total);
        }
        if total > 16 * limits::WHOLE_PART_BYTES {
            return Ok(total);
        }
    }
}

/// An XLS workbook's sheets, as calamine reads them: each BoundSheet record
/// names where its sheet's records start; calamine keeps each sheet's cells
/// as a dense grid from the first used row and column to the last.
fn check_xls(path: &Path, file: File) -> Result<()> {
    let mut compound = cfb::CompoundFile::open(BufReader::new(file)).map_err(|e| damaged(path, e))?;
    let name = ["/Workbook", "/Book", "/WORKBOOK", "/BOOK"]
        .into_iter()
        .find(|n| compound.is_stream(n))
        .ok_or_else(|| damaged(path, "it has no workbook stream"))?;
    let length = compound.entry(name).map_err(|e| damaged(path, e))?.len();
    if length > limits::WHOLE_PART_BYTES {
        return Err(too_large(
            path,
            String::new(),
            format!(
                "its workbook is more than {} MB, more than Mailroom reads from an XLS file; save it as XLSX or CSV",
                limits::WHOLE_PART_BYTES / (1024 * 1024)
            ),
        ));
    }
    let mut stream = Vec::new();
    compound
        .open_stream(name)
        .and_then(|s| s.take(limits::WHOLE_PART_BYTES).read_to_end(&mut stream))
        .map_err(|e| damaged(path, e))?;
    let records = |from: usize| BiffRecords {
        stream: &stream,
        at: from,
    };
    let strings = sst_lengths(records(0));
    let mut text = 0_u64;
    let sheets: Vec<usize> = records(0)
        .filter(|(typ, data)| *typ == 0x0085 && data.len() >= 4)
        .map(|(_, data)| u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize)
        .collect();
    let mut cells = 0_u64;
    for start in sheets {
        if start >= stream.len() {
            continue;
        }
        let mut extent: Option<(u64, u64, u64, u64)> = None;
        let mut grow = |row: u64, first: u64, last: u64| {
            extent = Some(match extent {
                None => (row, row, first, last),
                Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(first), c1.max(last)),
            });
        };
        let mut depth = 0_usize;
        let mut seen_bof = false;
        for (typ, data) in records(start) {
            let u16_at = |i: usize| data.get(i..i + 2).map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])));
            match typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x000A if depth == 0 => break,
                0x000A => depth -= 1,
                _ if depth > 0 => {}
                // Number, Label, RString, BoolErr, RK, LabelSst, Formula, String
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 | 0x0207 => {
                    if typ != 0x0207
                        && let (Some(row), Some(col)) = (u16_at(0), u16_at(2))
                    {
                        grow(row, col, col);
                    }
                    // A shared string is a copy in every cell that uses it.
                    let bytes = if typ == 0x00FD {
                        data.get(6..10)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .and_then(|i| strings.get(i).copied())
                            .unwrap_or(0)
                    } else {
                        data.len() as u64
                    };
                    text = text.saturating_add(bytes.saturating_mul(2));
                }
                // MulRk: row, first column, ..., last column.
                0x00BD if data.len() >= 6 => {
                    if let (Some(row), Some(first), Some(last)) = (u16_at(0), u16_at(2), u16_at(data.len() - 2)) {
                        grow(row, first.min(last), first.max(last));
                    }
                }
                _ => {}
            }
        }
        if let Some((r0, r1, c0, c1)) = extent {
            cells = cells.saturating_add((r1 - r0 + 1).saturating_mul(c1 - c0 + 1));
        }
        whole_workbook(path, "an XLS", cells, text)?;
        if cells > limits::WHOLE_WORKBOOK_CELLS {
            return Err(too_large(
                path,
                String::new(),
                format!(
                    "its sheets span more than {} cells, more than Mailroom reads from an XLS file (it is read whole); save it as XLSX or CSV",
                    grouped(limits::WHOLE_WORKBOOK_CELLS)
                ),
            ));
        }
    }
    Ok(())
}

/// The UTF-8 size (at most) of each string of an XLS's shared string table
/// (the SST record and the CONTINUE records after it). A string's
/// characters may run on into a CONTINUE record, which then starts with a
/// byte saying whether they are one or two bytes each (MS-XLS 2.4.265).
fn sst_lengths<'s>(mut records: BiffRecords<'s>) -> Vec<u64> {
    let mut segments: Vec<&'s [u8]> = Vec::new();
    for (typ, data) in records.by_ref() {
        if typ == 0x00FC {
            segments.push(data);
        } else if !segments.is_empty() {
            if typ == 0x003C {
                segments.push(data);
            } else {
                break;
            }
        }
    }
    let mut lengths = Vec::new();
    let Some(first) = segments.first() else {
        return lengths;
    };
    let mut reader = Segments {
        segments: &segments,
        index: 0,
        at: 8.min(first.len()),
    };
    while let Some(cch) = reader.u16() {
        let Some(flags) = reader.byte() else { break };
        let runs = if flags & 0x8 != 0 { reader.u16() } else { Some(0) };
        let ext = if flags & 0x4 != 0 { reader.u32() } else { Some(0) };
        let (Some(runs), Some(ext)) = (runs, ext) else { break };
        if !reader.chars(u64::from(cch), flags & 0x1 != 0) {
            break;
        }
        lengths.push(u64::from(cch) * 3);
        if !reader.skip(u64::from(runs) * 4 + u64::from(ext)) {
            break;
        }
    }
    lengths
}

/// Bytes spread over a record and its CONTINUE records.
struct Segments<'a, 's> {
    segments: &'a [&'s [u8]],
    index: usize,
    at: usize,
}

impl Segments<'_, '_> {
    fn byte(&mut self) -> Option<u8> {
        loop {
            let segment = self.segments.get(self.index)?;
            if let Some(&b) = segment.get(self.at) {
                self.at += 1;
                return Some(b);
            }
            self.index += 1;
            self.at = 0;
        }
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn skip(&mut self, mut n: u64) -> bool {
        while n > 0 {
            let Some(segment) = self.segments.get(self.index) else {
                return false;
            };
            let left = (segment.len() - self.at.min(segment.len())) as u64;
            if left == 0 {
                self.index += 1;
                self.at = 0;
                continue;
            }
            let step = left.min(n);
            self.at += step as usize;
            n -= step;
        }
        true
    }

    /// `count` characters, one or two bytes each; a new segment starts with
    /// a byte whose low bit says which for the rest.
    fn chars(&mut self, mut count: u64, mut wide: bool) -> bool {
        while count > 0 {
            let Some(segment) = self.segments.get(self.index) else {
                return false;
            };
            let width = if wide { 2 } else { 1 };
            let fit = ((segment.len() - self.at.min(segment.len())) / width) as u64;
            let step = fit.min(count);
            self.at += step as usize * width;
            count -= step;
            if count > 0 {
                self.index += 1;
                self.at = 0;
                match self.byte() {
                    Some(flags) => wide = flags & 0x1 != 0,
                    None => return false,
                }
            }
        }
        true
    }
}

/// BIFF records: a 2-byte type, a 2-byte length, the data.
struct BiffRecords<'s> {
    stream: &'s [u8],
    at: usize,
}

impl<'s> Iterator for BiffRecords<'s> {
    type Item = (u16, &'s [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let header = self.stream.get(self.at..self.at + 4)?;
        let typ = u16::from_le_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        let data = self.stream.get(self.at + 4..self.at + 4 + len)?;
        self.at += 4 + len;
        Some((typ, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_from_tags() {
        let tag = br#"table:table-row table:style-name="ro1" table:number-rows-repeated="1048000""#;
        assert_eq!(attribute(tag, b"table:number-rows-repeated"), Some(&b"1048000"[..]));
        assert_eq!(number(attribute(tag, b"table:number-rows-repeated")), 1_048_000);
        assert_eq!(number(attribute(tag, b"table:number-columns-repeated")), 1);
        assert_eq!(attribute(tag, b"style-name"), None, "only whole names");
    }

    fn check_shared_strings(xml: &str) -> Result<()> {
        check_declared_shared_strings(
            Path::new("t.xlsx"),
            "xl/sharedStrings.xml",
            xml.as_bytes(),
            xml.len() as u64,
        )
    }

    #[test]
    fn a_shared_string_count_the_part_cannot_hold_is_refused_before_calamine_reserves_it() {
        let honest = r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>a</t></si><si><t>b</t></si></sst>"#;
        assert!(check_shared_strings(honest).is_ok());
        assert!(check_shared_strings(r#"<sst><si/></sst>"#).is_ok(), "no count declared");
        for lie in [
            r#"<sst uniqueCount="4294967296"><si><t>a</t></si></sst>"#,
            r#"<x:sst xmlns:x="m" uniqueCount = '+0004294967296'><x:si/></x:sst>"#,
            r#"<sst uniqueCount="99999999999999999999999999"><si/></sst>"#,
            // A `>` inside a quoted value does not end the tag for calamine.
            r#"<sst xmlns="m</t></si>" count="2" uniqueCount="4294967296"><si/></sst>"#,
        ] {
            let error = check_shared_strings(lie).expect_err(lie);
            assert_eq!(error.kind(), crate::error::ErrorKind::DamagedFile, "{lie}: {error}");
        }
    }

    #[test]
    fn counts_are_read_as_leniently_as_any_parser_would() {
        assert_eq!(lenient_count(b" +007 "), 7);
        assert_eq!(lenient_count(b"12x"), 12);
        assert_eq!(lenient_count(b"x"), 0);
        assert_eq!(lenient_count(b"184467440737095516150"), u64::MAX);
        let tag = br#"sst a="1" uniqueCount ="5" b='uniqueCount="9"'"#;
        let values: Vec<_> = attribute_values(tag, b"uniqueCount").collect();
        assert_eq!(values, [&b"5"[..], &b"9"[..]]);
    }

    fn ods_content(rows: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><office:document-content><office:body><office:spreadsheet><table:table table:name="People">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
        )
    }

    fn scan_ods(content: &str) -> Result<()> {
        let mut tables = OdsTables::default();
        scan_xml(Path::new("t.ods"), "content.xml", &mut content.as_bytes(), &mut tables)?;
        tables.finish(Path::new("t.ods"))
    }

    #[test]
    fn ods_rows_below_the_last_row_are_refused_not_dropped() {
        let cell = r#"<table:table-cell office:value-type="string"><text:p>a@example.com</text:p></table:table-cell>"#;
        // LibreOffice fills a sheet to its end with empty repeated rows: fine.
        let filled = format!(
            r#"<table:table-row>{cell}</table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell/></table:table-row>"#
        );
        scan_ods(&ods_content(&filled)).expect("an empty tail is no content");
        let past = format!(
            r#"<table:table-row>{cell}</table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell/></table:table-row><table:table-row>{cell}</table:table-row>"#
        );
        let err = scan_ods(&ods_content(&past)).expect_err("past the last row");
        assert_eq!(err.kind(), crate::ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "t.ods, sheet \"People\", row 1,048,577: a value lies below row 1,048,576, the last a sheet has"
        );
    }

    #[test]
    fn an_attribute_behind_a_quoted_gt_or_a_long_value_is_still_read() {
        // quick-xml (calamine) reads both rows' repeats: a `>` inside quotes
        // does not end a tag, and a tag may be longer than a few KB.
        let cell = r#"<table:table-cell office:value-type="string"><text:p>a@example.com</text:p></table:table-cell>"#;
        for style in ["a>b".to_owned(), "x".repeat(20_000)] {
            let past = format!(
                r#"<table:table-row table:style-name="{style}" table:number-rows-repeated="1048576">{cell}</table:table-row><table:table-row>{cell}</table:table-row>"#
            );
            let err = scan_ods(&ods_content(&past)).expect_err("past the last row");
            assert_eq!(err.kind(), crate::ErrorKind::FileTooLarge, "{err}");
        }
        // Quotes of the other kind inside a value, and quotes in text, are plain bytes.
        let quoted = format!(
            r#"<table:table-row table:style-name='say "hi">' table:number-rows-repeated="2">{cell}</table:table-row><table:table-row><table:table-cell office:value-type="string"><text:p>it's "x"</text:p></table:table-cell></table:table-row>"#
        );
        scan_ods(&ods_content(&quoted)).expect("three rows");
    }

    #[test]
    fn ods_grids_past_the_cell_limit_are_refused() {
        let row = r#"<table:table-row table:number-rows-repeated="200000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="30"/></table:table-row>"#;
        let err = scan_ods(&ods_content(row)).expect_err("6,000,000 cells");
        assert_eq!(err.kind(), crate::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("more than 5,000,000 cells"), "{err}");
        let small = r#"<table:table-row table:number-rows-repeated="1000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="30"/></table:table-row>"#;
        scan_ods(&ods_content(small)).expect("30,000 cells");
    }

    #[test]
    fn ods_text_repeated_over_many_cells_is_counted_in_each() {
        // 4,999 × 999 cells (under the cell limit) of a 600-byte text: 3 GB
        // once calamine has copied it into each.
        let text = "x".repeat(600);
        let row = format!(
            r#"<table:table-row table:number-rows-repeated="999"><table:table-cell office:value-type="string" table:number-columns-repeated="4999"><text:p>{text}</text:p></table:table-cell></table:table-row>"#
        );
        let err = scan_ods(&ods_content(&row)).expect_err("3 GB of copies");
        assert_eq!(err.kind(), crate::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("reading it would take about"), "{err}");
    }

    #[test]
    fn xls_shared_strings_are_measured_across_continue_records() {
        // SST: 2 strings; the second's characters run on into a CONTINUE
        // record that switches them to two bytes each.
        let mut sst = vec![0_u8; 8];
        sst.extend_from_slice(&[3, 0, 0, b'a', b'b', b'c']);
        sst.extend_from_slice(&[4, 0, 0, b'w', b'x']);
        let cont = [1_u8, b'y', 0, b'z', 0];
        let mut stream = Vec::new();
        for (typ, data) in [(0x00FC_u16, &sst[..]), (0x003C, &cont[..]), (0x000A, &[][..])] {
            stream.extend_from_slice(&typ.to_le_bytes());
            stream.extend_from_slice(&(data.len() as u16).to_le_bytes());
            stream.extend_from_slice(data);
        }
        let records = BiffRecords { stream: &stream, at: 0 };
        assert_eq!(sst_lengths(records), vec![9, 12]);
    }

    #[test]
    fn long_text_runs_are_refused_in_bounded_memory() {
        let mut xml = b"<sst><si><t>".to_vec();
        xml.extend(std::iter::repeat_n(b'a', limits::XML_RUN_BYTES as usize + 1));
        let err = scan_xml(
            Path::new("t.xlsx"),
            "xl/sharedStrings.xml",
            &mut &xml[..],
            &mut NoVisitor,
        )
        .expect_err("too long");
        assert_eq!(err.kind(), crate::ErrorKind::FileTooLarge);
        assert!(
            err.to_string()
                .contains("a value in its part xl/sharedStrings.xml is longer than"),
            "{err}"
        );
    }
}
