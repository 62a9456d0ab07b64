"""CSV/TSV spreadsheets -> Record, through a documented column mapping (docs/import-formats.md)."""
from __future__ import annotations

import csv
import io
import re
from typing import Any

from review.errors import InputError
from review.models import AbstractSection, Record
from review.parse.fields import (
    ENTRY_TYPES,
    Parsed,
    Problem,
    RecordError,
    check_year,
    clean,
    clean_doi,
    digits,
    fallback_id,
    iso_date,
    join_pages,
    kind_from_types,
    parse_author,
    pmcid_in_text,
    require_content,
    split_author_list,
    split_keywords,
    year_of,
)

# Record field -> accepted column names, best first. Names are compared lower-cased with
# everything but letters and digits removed, so "Source title", "source_title" and
# "SourceTitle" are one name. Covers our own sheets, bib-dedupe/CoLRev, Rayyan, Covidence,
# ASReview, Zotero, and the CSV exports of PubMed, Scopus and Embase.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "recordid", "key", "accessionnumber", "eid", "ut", "utuniquewosid"),
    "title": ("title", "articletitle", "documenttitle", "primarytitle", "ti", "t1"),
    "abstract": ("abstract", "abstractnote", "ab", "n2"),
    "authors": ("authors", "author", "af", "au", "authorfullnames", "authornames"),
    "journal": ("journal", "journaltitle", "sourcetitle", "journalbook", "publicationtitle",
                "secondarytitle", "journalname", "publicationname", "so", "t2", "jf"),
    "journal_iso": ("journaliso", "journalabbreviation", "abbreviatedsourcetitle",
                    "isoabbreviation", "ji", "j2", "j9", "ta"),
    "year": ("year", "publicationyear", "publishedyear", "pubyear", "py", "yr"),
    "date": ("date", "publicationdate", "pubdate", "pd", "da", "dp"),
    "entry_date": ("createdate", "entrydate", "edat"),
    "volume": ("volume", "vol", "vl", "vi"),
    "issue": ("issue", "number", "is", "ip"),  # not "no": in our sheets that is a row number
    "pages": ("pages", "page", "pagination", "pp", "pg"),
    "page_start": ("pagestart", "startpage", "firstpage", "bp", "sp"),
    "page_end": ("pageend", "endpage", "lastpage", "ep"),
    "article_number": ("artno", "articlenumber", "ar", "c7"),
    "doi": ("doi", "di"),
    "pmid": ("pmid", "pubmedid", "pm"),
    "pmcid": ("pmcid", "pmc"),
    "language": ("language", "languageoforiginaldocument", "lang", "la"),
    "publication_types": ("publicationtype", "publicationtypes", "documenttype", "entrytype",
                          "typeofwork", "type", "dt", "m3"),
}
# Every matching column contributes (author keywords and index keywords both count).
KEYWORD_COLUMNS: tuple[str, ...] = ("keywords", "authorkeywords", "indexkeywords", "meshterms",
                                    "kw", "de")

# Web of Science tab-delimited exports use two-letter field tags as headers, where ID means
# Keywords Plus (not an identifier), SP a conference sponsor and UT the accession number.
_WOS_HEADER = {"pt", "ut", "ti", "so"}
_WOS_OVERRIDES: dict[str, tuple[str, ...]] = {
    "id": ("ut",),
    "page_start": ("bp",),
    "article_number": ("ar",),
}
_WOS_KEYWORDS = ("de", "id")

_DELIMITERS = (",", "\t", ";", "|")
HEAD_CHARS = 64 * 1024


def norm(column: str) -> str:
    """'Source title', 'source_title' and 'SourceTitle' -> 'sourcetitle'."""
    return re.sub(r"[^a-z0-9]", "", column.lower())


def _delimiter(first_line: str) -> str:
    counts = {d: len(next(csv.reader([first_line], delimiter=d))) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: counts[d])  # ties keep the comma (listed first)


def _dialect(text: str) -> tuple[str, bool] | None:
    """(delimiter, has Excel's 'sep=;' line) from the first lines; None for an empty text."""
    lines = (ln for ln in text.splitlines() if ln.strip())
    first = next(lines, None)
    if first is None:
        return None
    m = re.fullmatch(r"sep=(.)", first.strip())
    if m:
        return m.group(1), True
    return _delimiter(first), False


def header_of(text: str) -> list[str]:
    """Column names of the header line (delimiter guessed); ValueError when there is none."""
    dialect = _dialect(text)
    if dialect is None:
        raise ValueError("no header line")
    rows = (r for r in csv.reader(io.StringIO(text[:HEAD_CHARS]), delimiter=dialect[0]) if any(r))
    if dialect[1]:
        next(rows, None)
    header = next(rows, None)
    if header is None:
        raise ValueError("no header line")
    return header


def mapping_for(columns: list[str]) -> tuple[dict[str, int], list[int]]:
    """(record field -> column index, keyword column indexes) for a header."""
    normed = [norm(c) for c in columns]
    table = dict(COLUMNS)
    keyword_names = KEYWORD_COLUMNS
    if _WOS_HEADER <= set(normed):
        table.update(_WOS_OVERRIDES)
        keyword_names = _WOS_KEYWORDS
    found: dict[str, int] = {}
    for fld, names in table.items():
        for n in names:
            if n in normed:
                found[fld] = normed.index(n)
                break
    used = set(found.values())
    keywords = [i for i, n in enumerate(normed) if n in keyword_names and i not in used]
    return found, keywords


def title_column(columns: list[str]) -> int | None:
    """Index of the title column of a header, if it has one (used by format detection)."""
    return mapping_for(columns)[0].get("title")


def parse(text: str, source: str, name: str) -> Parsed:
    """Rows of a CSV/TSV file -> Records; rows with a bad value become Problems."""
    out = Parsed(unit="row")
    out.lines = len(text.splitlines())
    dialect = _dialect(text)
    if dialect is None:
        return out
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect[0])
    rows = (row for row in reader if any(cell.strip() for cell in row))
    if dialect[1]:
        next(rows)  # Excel's 'sep=;' line
    header = next(rows, None)
    if header is None:
        return out
    header_line = reader.line_num
    fields, keyword_cols = mapping_for(header)
    if "title" not in fields:
        shown = ", ".join(repr(c) for c in header[:12]) + (" ..." if len(header) > 12 else "")
        raise InputError(
            f"{name}: line {header_line}: no title column (the header has {shown}); name the "
            "title column 'title' (accepted names are listed in docs/import-formats.md)")
    try:
        _rows(reader, header, header_line, fields, keyword_cols, source, out)
    except csv.Error as exc:  # e.g. a NUL byte or an unterminated quote
        raise InputError(f"{name}: line {reader.line_num}: unreadable CSV ({exc})") from exc
    return out


def _rows(reader: Any, header: list[str], header_line: int, fields: dict[str, int],
          keyword_cols: list[int], source: str, out: Parsed) -> None:
    """Data rows -> out; reader is a csv reader, whose line_num gives each row's lines."""
    prev_line, row_no = header_line, 0
    for row in reader:
        start, prev_line = prev_line + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        row_no += 1
        out.total += 1
        if len(row) != len(header):
            reason = (f"{len(row)} values but the header has {len(header)} columns "
                      "(a stray delimiter or quote?)")
            out.problems.append(Problem(row_no, start, reason, "row"))
            continue
        try:
            out.records.append(_record(row, header, fields, keyword_cols, source, row_no))
        except RecordError as exc:
            out.problems.append(Problem(row_no, start, str(exc), "row"))


def _record(row: list[str], header: list[str], fields: dict[str, int], keyword_cols: list[int],
            source: str, row_no: int) -> Record:
    def get(fld: str) -> str | None:
        return clean(row[fields[fld]]) if fld in fields else None

    try:
        year = check_year(get("year"))
    except RecordError as exc:
        raise RecordError(f"column {header[fields['year']]!r}: {exc}") from None
    date = get("date")
    if year is None:
        year = year_of(date)
    types = tuple(t.strip() for t in (get("publication_types") or "").split(";") if t.strip())
    kind = "journal-article"
    mapped = [ENTRY_TYPES[t.lower()] for t in types if t.lower() in ENTRY_TYPES]
    if mapped:  # BibTeX entry types as in bib-dedupe's ENTRYTYPE column
        kind = mapped[0][0]
        types = tuple(ENTRY_TYPES[t.lower()][1] if t.lower() in ENTRY_TYPES else t for t in types)
    authors = tuple(a for a in (parse_author(re.sub(r"\s*\(\d+\)$", "", s))
                                for s in split_author_list(get("authors") or "")) if a)
    pages = get("pages") or join_pages(get("page_start"), get("page_end")) or get("article_number")
    keywords = split_keywords([row[i] for i in keyword_cols])
    raw = "\x1f".join(row)
    abstract = get("abstract")
    return require_content(Record(
        source=source,
        source_id=get("id") or fallback_id(row_no, raw),
        pmid=digits(get("pmid")),
        doi=clean_doi(get("doi")),
        pmcid=pmcid_in_text(get("pmcid")),
        title=get("title"),
        abstract=(AbstractSection(text=abstract),) if abstract else (),
        authors=authors,
        journal=get("journal"),
        journal_iso=get("journal_iso"),
        year=year,
        volume=get("volume"),
        issue=get("issue"),
        pages=pages.replace("--", "-") if pages else None,
        language=tuple(x.strip() for x in (get("language") or "").split(";") if x.strip()),
        publication_types=types,
        keywords=keywords,
        entry_date=iso_date(get("entry_date")) if get("entry_date") else None,
        pub_date=iso_date(date, year) if date else (str(year) if year else None),
        kind=kind_from_types(types, kind),
    ))
