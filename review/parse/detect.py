"""Tell what an export file is, and decode it: content first, file extension second."""
from __future__ import annotations

import codecs
import csv
import os
import re

from review.errors import InputError

HEAD_BYTES = 64 * 1024

# Magic numbers of files people save by mistake instead of the export itself.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an .xlsx/.docx file (save a spreadsheet as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.xls/.doc)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"{\\rtf", "an RTF document"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_EXTENSIONS = {
    ".ris": "ris",
    ".nbib": "medline",
    ".medline": "medline",
    ".xml": "pubmed-xml",
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".csv": "csv",
    ".tsv": "csv",
}
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_RIS = re.compile(r"^\ufeff?TY  -", re.MULTILINE)
_MEDLINE = re.compile(r"^(?:PMID|FAU |STAT|OWN |DCOM|EDAT|PHST)- ", re.MULTILINE)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_PUBMED_XML = re.compile(r"<(?:PubmedArticleSet|PubmedBookArticleSet|PubmedArticle)[\s>]")
_WOS_PLAIN = re.compile(r"^FN (?:Clarivate|Thomson)", re.MULTILINE)
_ENDNOTE_XML = re.compile(r"<xml>\s*<records>", re.IGNORECASE)


def _encoding_by_bom(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def _line_of(data: bytes, offset: int) -> int:
    """1-based line of a byte offset, counting CR, LF and CRLF breaks as the parsers do."""
    return len(re.findall(rb"\r\n|\r|\n", data[:offset])) + 1


def check_bytes(name: str, data: bytes) -> None:
    """InputError for files that cannot be an export at all: empty, binary, an HTML page."""
    if not data.strip(b" \t\r\n\x0b\x0c" + codecs.BOM_UTF8):
        raise InputError(f"{name}: the file is empty ({len(data)} bytes, no text); "
                         "export the records again")
    bom = _encoding_by_bom(data)
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise InputError(f"{name}: this is {what}, not a bibliographic export (line 1); "
                             "export RIS, MEDLINE (.nbib), PubMed XML, BibTeX or CSV")
    if bom not in ("utf-16", "utf-32"):
        # A NUL near the start, or control bytes by the hundred: binary. A few stray ones in
        # an otherwise textual export are left for the parser to report by record and line.
        head = data[:HEAD_BYTES]
        m = _CONTROL.search(head)
        if m and (b"\x00" in head[:512] or len(_CONTROL.findall(head)) > max(8, len(head) // 50)):
            raise InputError(
                f"{name}: binary content (byte 0x{m.group(0)[0]:02x} at line "
                f"{_line_of(head, m.start())}), not a text export; if it is a UTF-16 text file, "
                "save it as UTF-8")
    text = decode_head(data)
    tag = _HTML.search(text[:4096]) if text.lstrip().startswith("<") else None
    if tag:
        title = _HTML_TITLE.search(text)
        what = f" titled {' '.join(title.group(1).split())[:80]!r}" if title else ""
        line = len(re.findall(r"\r\n|\r|\n", text[:tag.start()])) + 1
        raise InputError(
            f"{name}: this is a web page{what} (HTML at line {line}), not an export; the "
            "download probably failed or needed a login. Download the export again and check "
            "it opens as text")


def decode_head(data: bytes) -> str:
    """Best-effort text of the first bytes, for sniffing only."""
    head = data[:HEAD_BYTES]
    enc = _encoding_by_bom(head) or "utf-8"
    return head.decode(enc, errors="replace").lstrip("\ufeff")


def decode(name: str, data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, warnings): UTF-8 with or without BOM, UTF-16/32 by BOM, else Latin-1."""
    bom = _encoding_by_bom(data)
    if bom:
        try:
            return data.decode(bom).lstrip("\ufeff"), bom, []
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: starts with a {bom} byte-order mark but is not valid "
                             f"{bom} (line {_line_of(data, exc.start)})") from exc
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as exc:
        bad_line, byte = _line_of(data, exc.start), data[exc.start]
    # Windows-1252 is what "ANSI" exports really are; pure Latin-1 when it has undefined bytes.
    for enc, label in (("cp1252", "Windows-1252 (Latin-1)"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return text, enc, [
            f"{name}: not valid UTF-8 (byte 0x{byte:02x} on line {bad_line}); read as {label}. "
            "Check accented characters, or export again as UTF-8"]
    raise AssertionError("latin-1 decodes every byte")


def sniff(text: str) -> str | None:
    """Format from the text alone, or None."""
    head = text[:HEAD_BYTES]
    if _PUBMED_XML.search(head):
        return "pubmed-xml"
    if _RIS.search(head):
        return "ris"
    if _MEDLINE.search(head):
        return "medline"
    if _BIBTEX.search(head):
        return "bibtex"
    if _looks_like_csv(head):
        return "csv"
    return None


def _looks_like_csv(head: str) -> bool:
    from review.parse.csvfile import header_of, title_column  # the mapping lives there

    try:
        columns = header_of(head)
    except (ValueError, csv.Error):
        return False
    return len(columns) >= 2 and title_column(columns) is not None


def detect_format(path: str | os.PathLike, head: bytes) -> str:
    """The file's format by content, then by extension; InputError naming the file if neither."""
    name = os.fspath(path)
    check_bytes(name, head)
    text = decode_head(head)
    fmt = sniff(text)
    if fmt:
        return fmt
    ext = os.path.splitext(name)[1].lower()
    if ext in _EXTENSIONS and ext != ".xml":
        return _EXTENSIONS[ext]
    hint = ""
    if _WOS_PLAIN.search(text):
        hint = (" It looks like Web of Science plain text; export as RIS "
                "('Other file formats' > RIS).")
    elif _ENDNOTE_XML.search(text):
        hint = " It looks like EndNote XML; export as RIS from EndNote instead."
    elif text.lstrip().startswith("<"):
        hint = " It is XML but not PubMed XML (no <PubmedArticleSet>)."
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
    raise InputError(
        f"{name}: cannot tell the format (line {first + 1} starts "
        f"{lines[first].strip()[:60]!r}).{hint} "
        "Supported: RIS, MEDLINE (.nbib), PubMed XML, BibTeX, CSV; name it with --format")
