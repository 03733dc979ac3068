//! The import's limits: what no spreadsheet program writes, refused with the
//! row and column where it was met, before it can take the memory or the disk
//! it asks for. Memory follows the cells present, and these bound the cells.

/// Rows in a sheet, as in Excel and LibreOffice: a cell below this row is
/// not from an office suite.
pub const SHEET_ROWS: u64 = 1_048_576;
/// Columns in a row (Excel's XFD).
pub const COLUMNS: usize = 16_384;
/// Bytes in one value. Excel keeps 32,767 characters in a cell, which is at
/// most 131,068 bytes of UTF-8.
pub const CELL_BYTES: usize = 128 * 1024;
/// Bytes in one row, all its values together.
pub const ROW_BYTES: usize = 4 * 1024 * 1024;
/// Cells in a whole import (rows × the header's columns, as they are stored):
/// a million rows of 50 columns.
pub const TOTAL_CELLS: u64 = 50_000_000;
/// Lines a quoted value may run over. A postal address or a note takes a
/// few; a quote missing its partner takes every line after it.
pub const QUOTED_LINES: u64 = 1_000;
/// Cells of XLS and ODS workbooks, which are read whole (calamine has no
/// streaming reader for them; it keeps every sheet's used range at once).
pub const WHOLE_WORKBOOK_CELLS: u64 = 5_000_000;
/// Memory calamine may take to read an XLS or ODS workbook whole, as
/// estimated from its structure: about 100 bytes a grid cell while it reads
/// (the value, the formula, a copy), and twice the text of every cell (a
/// text repeated over many cells, or a shared string used by many, is a
/// copy in each).
pub const WHOLE_WORKBOOK_BYTES: u64 = 640 * 1024 * 1024;
/// Bytes a grid cell costs calamine while it reads a whole workbook.
pub const WHOLE_CELL_COST: u64 = 100;
/// Bytes of the parts of a zipped workbook read whole (shared strings,
/// styles, the workbook, an ODS's content), once unzipped.
pub const WHOLE_PART_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes of one XML tag or one run of text inside a zipped workbook (a
/// cell's value, escaped, is at most six times its text).
pub const XML_RUN_BYTES: u64 = 6 * CELL_BYTES as u64 + 64 * 1024;
/// Bytes of one XLSB record (a value of 32,767 UTF-16 characters and its
/// formatting runs fits many times).
pub const XLSB_RECORD_BYTES: u64 = 1024 * 1024;
/// Characters of file content quoted in a message.
pub const EXCERPT_CHARS: usize = 60;

/// `text` as it is quoted in a message: its first [`EXCERPT_CHARS`]
/// characters, with `…` when there was more, and line breaks and other
/// control characters written as `\n`, `\t`, ... so a message stays one line.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A 0-based column as a spreadsheet names it: 0 → A, 26 → AA, 16383 → XFD.
pub fn column_letters(column: u64) -> String {
    let mut n = column + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

/// Thousands separated: 1048576 → "1,048,576".
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt("ann@example.com"), "ann@example.com");
        let long = "b@example.com,B\nc@example.com,C\n".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.ends_with('…'));
        assert!(!cut.contains('\n'));
        assert!(cut.starts_with("b@example.com,B\\nc@example.com"));
        assert!(cut.chars().count() < 80);
    }

    #[test]
    fn columns_are_named_by_letters() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(255), "IV");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(grouped(1_048_576), "1,048,576");
        assert_eq!(grouped(999), "999");
    }
}
