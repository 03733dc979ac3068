//! How inputs are made: arbitrary bytes, byte-level mutations of a seed,
//! and mutations that know the formats — the XML inside a zipped workbook
//! (numbers, cell references, repeat counts, duplicated and cut elements),
//! the BIFF records inside an XLS, quotes and delimiters in CSV, tokens in a
//! template, reply lines for SMTP.

use std::io::{Cursor, Read, Write};

use fastrand::Rng;

use super::Target;

/// Inputs are kept under this size (a mutation that would grow past it is cut).
pub const MAX_INPUT: usize = 2 * 1024 * 1024;

/// Numbers that sit on the limits the parsers have to respect.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "1048575",
    "1048576",
    "1048577",
    "16384",
    "16385",
    "2147483647",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999",
    "1e308",
    "NaN",
];
const INTERESTING_REFS: &[&str] = &[
    "A1",
    "XFD1048576",
    "IV1048576",
    "XFE1",
    "A1048577",
    "ZZZZZZZZZZ9999999999",
    "A0",
    "$A$1",
    "",
    "A",
    "1",
];
const CSV_TOKENS: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b";",
    b"\t",
    b"|",
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\0",
    b"\xe9",
    b"\xc3\xa9",
    b"\xe4\xbd\xa0",
    b"@",
    b"a@example.com",
];

/// A new input for `target`, from `seeds`.
pub fn input(target: Target, rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = &seeds[rng.usize(..seeds.len())];
    let mut out = match rng.u8(..100) {
        // Arbitrary bytes now and then.
        0..=4 => (0..rng.usize(..4096)).map(|_| rng.u8(..)).collect(),
        _ => match target {
            Target::Xlsx | Target::Xlsb | Target::Ods if rng.u8(..100) < 80 => {
                zip_entries(rng, seed).unwrap_or_else(|| bytes(rng, seed.clone(), &[]))
            }
            Target::Xls if rng.u8(..100) < 70 => {
                biff_records(rng, seed).unwrap_or_else(|| bytes(rng, seed.clone(), &[]))
            }
            Target::Csv => bytes(rng, seed.clone(), CSV_TOKENS),
            Target::Template => bytes(rng, seed.clone(), super::template::TOKENS),
            Target::Reply => bytes(rng, seed.clone(), super::reply::TOKENS),
            _ => bytes(rng, seed.clone(), &[]),
        },
    };
    out.truncate(MAX_INPUT);
    out
}

/// One to eight byte-level mutations, some inserting `tokens`.
pub fn bytes(rng: &mut Rng, mut data: Vec<u8>, tokens: &[&[u8]]) -> Vec<u8> {
    for _ in 0..rng.usize(1..=8) {
        let len = data.len();
        let at = if len == 0 { 0 } else { rng.usize(..=len) };
        match rng.u8(..10) {
            0 if len > 0 => {
                let i = rng.usize(..len);
                data[i] ^= 1 << rng.u8(..8);
            }
            1 if len > 0 => {
                let i = rng.usize(..len);
                data[i] = rng.u8(..);
            }
            2 if len > 0 => {
                let end = (at + rng.usize(..64)).min(len);
                data.drain(at.min(end)..end);
            }
            3 if len > 0 => {
                // Repeat a piece, sometimes many times (long lines, many rows).
                let start = rng.usize(..len);
                let end = (start + rng.usize(1..256)).min(len);
                let piece = data[start..end].to_vec();
                let times = if rng.u8(..10) == 0 {
                    rng.usize(1..2000)
                } else {
                    rng.usize(1..4)
                };
                let at = rng.usize(..=data.len());
                let repeated: Vec<u8> = piece.iter().copied().cycle().take(piece.len() * times).collect();
                data.splice(at..at, repeated);
            }
            4 => data.truncate(at),
            5 | 6 if !tokens.is_empty() => {
                let token = tokens[rng.usize(..tokens.len())];
                data.splice(at..at, token.iter().copied());
            }
            _ => {
                let text = INTERESTING_NUMBERS[rng.usize(..INTERESTING_NUMBERS.len())];
                data.splice(at..at, text.bytes());
            }
        }
        if data.len() > MAX_INPUT {
            data.truncate(MAX_INPUT);
        }
    }
    data
}

/// Mutates XML text where it matters to a spreadsheet reader: the value of
/// an attribute (a number, a cell reference), an element repeated or cut.
pub fn xml(rng: &mut Rng, mut text: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.usize(1..=4) {
        let len = text.len();
        if len == 0 {
            break;
        }
        match rng.u8(..6) {
            // An attribute's value: a number or a reference on a limit.
            0..=2 => {
                let quotes: Vec<usize> = memchr::memchr_iter(b'"', &text).collect();
                if quotes.len() < 2 {
                    continue;
                }
                let i = rng.usize(..quotes.len() - 1);
                let (start, end) = (quotes[i] + 1, quotes[i + 1]);
                let value: &str = if rng.bool() {
                    INTERESTING_NUMBERS[rng.usize(..INTERESTING_NUMBERS.len())]
                } else {
                    INTERESTING_REFS[rng.usize(..INTERESTING_REFS.len())]
                };
                text.splice(start..end, value.bytes());
            }
            // An element (from a `<` to the matching depth's `>`) repeated.
            3 => {
                let starts: Vec<usize> = memchr::memchr_iter(b'<', &text).collect();
                if starts.is_empty() {
                    continue;
                }
                let start = starts[rng.usize(..starts.len())];
                let end = (start + rng.usize(1..2048)).min(len);
                let piece = text[start..end].to_vec();
                let most = if rng.u8(..8) == 0 { 5000 } else { 4 };
                let times = rng.usize(1..most);
                let repeated: Vec<u8> = piece.iter().copied().cycle().take(piece.len() * times).collect();
                text.splice(end..end, repeated);
            }
            // Cut from somewhere to somewhere.
            4 => {
                let start = rng.usize(..len);
                let end = (start + rng.usize(..4096)).min(len);
                text.drain(start..end);
            }
            _ => {
                text = bytes(
                    rng,
                    text,
                    &[b"<", b">", b"/>", b"</", b"&amp;", b"&#0;", b"\"", b"<![CDATA["],
                );
            }
        }
        if text.len() > 8 * MAX_INPUT {
            text.truncate(8 * MAX_INPUT);
        }
    }
    text
}

/// A zipped workbook with one or two of its entries mutated (the XML as XML,
/// anything else as bytes), written back as a zip; sometimes an entry is
/// dropped or duplicated.
fn zip_entries(rng: &mut Rng, seed: &[u8]) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(seed)).ok()?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).ok()?;
        let name = entry.name().ok()?.into_owned();
        let mut body = Vec::new();
        entry.by_ref().take(64 * 1024 * 1024).read_to_end(&mut body).ok()?;
        entries.push((name, body));
    }
    if entries.is_empty() {
        return None;
    }
    for _ in 0..rng.usize(1..=2) {
        let i = rng.usize(..entries.len());
        match rng.u8(..20) {
            0 => {
                entries.remove(i);
                if entries.is_empty() {
                    return None;
                }
            }
            1 => {
                let copy = entries[i].clone();
                entries.push(copy);
            }
            _ => {
                let (name, body) = &mut entries[i];
                let is_xml = name.ends_with(".xml") || name.ends_with(".rels");
                let taken = std::mem::take(body);
                *body = if is_xml {
                    xml(rng, taken)
                } else {
                    bytes(rng, taken, &[])
                };
            }
        }
    }
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, body) in entries {
        out.start_file(name, options).ok()?;
        out.write_all(&body).ok()?;
    }
    let zipped = out.finish().ok()?.into_inner();
    // Now and then, the zip's own bytes too.
    Some(if rng.u8(..10) == 0 {
        bytes(rng, zipped, &[])
    } else {
        zipped
    })
}

/// An XLS with its Workbook stream's BIFF records mutated: a row or column
/// set on a limit, a length changed, records repeated or dropped; written
/// back into a fresh compound file.
fn biff_records(rng: &mut Rng, seed: &[u8]) -> Option<Vec<u8>> {
    let mut compound = cfb::CompoundFile::open(Cursor::new(seed)).ok()?;
    let name = ["/Workbook", "/Book"].into_iter().find(|n| compound.is_stream(n))?;
    let mut stream = Vec::new();
    compound.open_stream(name).ok()?.read_to_end(&mut stream).ok()?;
    let mut records = Vec::new();
    let mut at = 0;
    while at + 4 <= stream.len() {
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let end = (at + 4 + len).min(stream.len());
        records.push(stream[at..end].to_vec());
        at = end;
    }
    if records.is_empty() {
        return None;
    }
    for _ in 0..rng.usize(1..=4) {
        let i = rng.usize(..records.len());
        let record = &mut records[i];
        match rng.u8(..6) {
            // A row or column field (the data's first u16s) on a limit.
            0..=2 if record.len() >= 8 => {
                let field = 4 + 2 * rng.usize(..((record.len() - 4) / 2).min(4));
                let value: u16 = [0, 1, 255, 256, 0x3fff, 0x4000, 0x7fff, 0xfffe, 0xffff][rng.usize(..9)];
                record[field..field + 2].copy_from_slice(&value.to_le_bytes());
            }
            3 if record.len() >= 4 => {
                let value: u16 = [0, 1, 8, 0x2020, 0xffff][rng.usize(..5)];
                record[2..4].copy_from_slice(&value.to_le_bytes());
            }
            4 => {
                let copy = records[i].clone();
                let times = rng.usize(1..50);
                for _ in 0..times {
                    records.insert(i, copy.clone());
                }
            }
            _ => {
                let taken = std::mem::take(record);
                *record = bytes(rng, taken, &[]);
            }
        }
    }
    let stream: Vec<u8> = records.concat();
    let mut out = cfb::CompoundFile::create(Cursor::new(Vec::new())).ok()?;
    out.create_stream(name).ok()?.write_all(&stream).ok()?;
    out.flush().ok()?;
    Some(out.into_inner().into_inner())
}
