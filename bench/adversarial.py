#!/usr/bin/env python3
"""Writes the hostile recipient files of issue 15 into a folder, to measure
what importing them costs (scripts/bench-adversarial.sh). Standard library
only; every file is made from scratch, so nothing here needs LibreOffice.

  far.xlsx       A1..B2 plus one value at XFD1048576 (the last cell a sheet has)
  wide.xlsx      A1..B2 plus one value at IV1048576
  badref.xlsx    a <dimension> of A1:ZZZZZZZZZZ99999999999
  rows3m.xlsx    3,000,000 one-cell rows (a few MB zipped; past the row limit)
  hugecell.xlsx  one shared string of 400 MB (about 400 KB zipped)
  repeat.ods     a 90-cell row repeated 2,000,000 times
  oneline.csv    a header, then one 100 MB value
  header.csv     a header of 100,000 columns all named "a"
  quote.csv      100,000 rows with a stray quote on row 11
"""

import sys
import zipfile
from pathlib import Path

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
</Relationships>"""
SHEET_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
HEADER_ROWS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>email</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>ann@example.com</t></is></c><c r="B2" t="inlineStr"><is><t>Ann</t></is></c></row>'
)


def xlsx(path, dimension, rows, shared_strings=None):
    """`rows` is an iterable of XML chunks for <sheetData>."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", ROOT_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                      b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for chunk in shared_strings or []:
                out.write(chunk)
            out.write(b"</sst>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(f'{SHEET_HEAD}<dimension ref="{dimension}"/><sheetData>'.encode())
            for chunk in rows:
                out.write(chunk.encode())
            out.write(b"</sheetData></worksheet>")


def many_rows(count):
    yield HEADER_ROWS
    row = "<row><c><v>1</v></c></row>"
    batch = row * 10_000
    for _ in range(count // 10_000):
        yield batch


def huge_string(megabytes):
    yield b'<si><t>'
    block = b"a" * (1 << 20)
    for _ in range(megabytes):
        yield block
    yield b"</t></si>"


def ods(path, width, repeats):
    cells = '<table:table-cell office:value-type="string"><text:p>x@example.com</text:p></table:table-cell>' * width
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>email</text:p></table:table-cell></table:table-row>'
        f'<table:table-row table:number-rows-repeated="{repeats}">{cells}</table:table-row>'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                   '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                   '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                   "</manifest:manifest>", zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)


def main(folder):
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    xlsx(out / "far.xlsx", "A1:XFD1048576", [HEADER_ROWS, far])
    wide = '<row r="1048576"><c r="IV1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    xlsx(out / "wide.xlsx", "A1:IV1048576", [HEADER_ROWS, wide])
    xlsx(out / "badref.xlsx", "A1:ZZZZZZZZZZ99999999999", [HEADER_ROWS])
    xlsx(out / "rows3m.xlsx", "A1:B3000002", many_rows(3_000_000))
    huge = HEADER_ROWS + '<row r="3"><c r="A3" t="s"><v>0</v></c></row>'
    xlsx(out / "hugecell.xlsx", "A1:B3", [huge], huge_string(400))
    ods(out / "repeat.ods", 90, 2_000_000)
    with open(out / "oneline.csv", "wb") as f:
        f.write(b"email,note\nann@example.com,")
        block = b"a" * (1 << 20)
        for _ in range(100):
            f.write(block)
        f.write(b"\n")
    with open(out / "header.csv", "w") as f:
        f.write(",".join(["a"] * 100_000) + "\n")
        f.write(",".join(["x@example.com"] * 3) + "\n")
    with open(out / "quote.csv", "w") as f:
        f.write("email,name\n")
        for i in range(2, 100_002):
            quote = '"' if i == 11 else ""
            f.write(f"{quote}user{i}@example.com,Name {i}\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/adversarial")
