"""PubMed MEDLINE text exports (.nbib, 'PubMed format') -> Record, through Bio.Medline.

Bio.Medline accepts any line as a tag line and reports no line numbers, so a scan first
cuts the file into records (blank-line separated) and checks every line is a tag line
('TAG - value', tag padded to four characters) or a continuation (six spaces).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from Bio import Medline

from review.models import AbstractSection, Author, Record
from review.parse.fields import (
    Parsed,
    Problem,
    RecordError,
    clean,
    clean_doi,
    digits,
    fallback_id,
    iso_date,
    kind_from_types,
    parse_author,
    parse_mesh,
    pmcid_in_text,
    require_content,
    split_lines,
    summarise,
    year_of,
)

_TAG = re.compile(r"([A-Z][A-Z0-9]{1,3}) *-(?: |$)")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


@dataclass
class _Block:
    number: int
    start: int
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _tag_of(line: str) -> str | None:
    m = _TAG.match(line)
    # The hyphen sits in column 5: 'PMID- ', 'TI  - ', 'FAU - '.
    return m.group(1) if m and line[4:5] == "-" else None


def scan(lines: list[str], ends_with_newline: bool) -> list[_Block]:
    """Blank-line separated records, each checked line by line."""
    blocks: list[_Block] = []
    cur: _Block | None = None
    for i, line in enumerate(lines, 1):
        if not line.strip() and len(line) < 6:
            cur = None
            continue
        if cur is None:
            cur = _Block(len(blocks) + 1, i)
            blocks.append(cur)
        tag = _tag_of(line)
        if tag:
            cur.tags.append(tag)
        elif not line.startswith("      "):
            cur.problems.append(f"line {i}: neither a tag line ('TAG - value') nor a continuation "
                                f"(six spaces): {line.strip()[:40]!r}")
        elif not cur.tags:
            cur.problems.append(f"line {i}: starts with a continuation line, not a tag")
        if _CONTROL.search(line):
            cur.problems.append(f"line {i}: unreadable control characters (binary data?)")
        cur.lines.append(line)
    # PubMed writes SO (the citation) last; a last record without it, cut mid-line, is truncated.
    if blocks and not ends_with_newline and "SO" not in blocks[-1].tags:
        blocks[-1].problems.append(f"the file ends mid-line on line {len(lines)} before this "
                                   "record's SO field: the file looks truncated")
    return blocks


def parse(text: str, source: str, name: str) -> Parsed:
    """MEDLINE text -> Records, and a Problem for each damaged record."""
    lines = split_lines(text)
    blocks = scan(lines, text.endswith(("\n", "\r")))
    out = Parsed(total=len(blocks), lines=len(lines))
    for b in blocks:
        if not b.problems:
            try:
                (fields,) = list(Medline.parse([ln + "\n" for ln in b.lines]))
                out.records.append(record_from_fields(fields, b.lines, source, b.number))
                continue
            except (RecordError, ValueError) as exc:
                b.problems.append(str(exc))
        out.problems.append(Problem(b.number, b.start, summarise(b.problems)))
    return out


# ---------------------------------------------------------------- fields -> Record


def _list(fields: dict, key: str) -> list[str]:
    value = fields.get(key)
    values = [value] if isinstance(value, str) else value or []
    return [v for v in (clean(x) for x in values) if v]


def _one(fields: dict, key: str) -> str | None:
    values = _list(fields, key)
    return " ".join(values) if values else None


def authors_in_order(lines: list[str]) -> tuple[Author, ...]:
    """FAU/AU pairs and CN collective names in file order (Bio.Medline keeps them apart)."""
    out: list[Author] = []
    pending: Author | None = None  # from FAU, waiting for its AU
    for line in lines:
        tag = _tag_of(line)
        value = clean(line[6:]) if tag else None
        if not value:
            continue
        if tag == "FAU":
            pending = parse_author(value)
            if pending:
                out.append(pending)
        elif tag == "AU":
            short = parse_author(value)
            if pending is not None and short is not None and pending.collective is None:
                out[-1] = Author(family=pending.family, given=pending.given,
                                 initials=short.initials or pending.initials)
            elif short is not None:
                out.append(short)
            pending = None
        elif tag == "CN":
            out.append(Author(collective=value))
            pending = None
    return tuple(out)


def _doi(fields: dict) -> str | None:
    for key in ("AID", "LID"):
        for v in _list(fields, key):
            if v.lower().endswith("[doi]"):
                doi = clean_doi(v)
                if doi:
                    return doi
    return None


def _entry_date(fields: dict) -> str | None:
    for v in _list(fields, "PHST"):
        if v.endswith("[entrez]"):
            return iso_date(v[:10])
    edat = _one(fields, "EDAT")
    return iso_date(edat[:10]) if edat else None


def record_from_fields(fields: dict, lines: list[str], source: str, number: int) -> Record:
    """One Bio.Medline record (tag -> value or list) -> Record."""
    pmid_text = _one(fields, "PMID")
    pmid = digits(pmid_text)
    if pmid_text and not pmid:
        raise RecordError(f"PMID {pmid_text!r} is not a number")
    types = tuple(_list(fields, "PT"))
    chapter, book = _one(fields, "TI"), _one(fields, "BTI")
    kind = "book-article" if book and chapter else "book" if book else "journal-article"
    abstract = _one(fields, "AB")
    dp = _one(fields, "DP")
    year = year_of(dp)
    record = Record(
        source=source,
        source_id=pmid or fallback_id(number, "\n".join(lines)),
        pmid=pmid,
        doi=_doi(fields),
        pmcid=pmcid_in_text(_one(fields, "PMC")),
        title=chapter or book,
        vernacular_title=_one(fields, "TT"),
        abstract=(AbstractSection(text=abstract),) if abstract else (),
        authors=authors_in_order(lines),
        journal=_one(fields, "JT") or (book if chapter else None),
        journal_iso=_one(fields, "TA"),
        year=year,
        volume=_one(fields, "VI"),
        issue=_one(fields, "IP"),
        pages=_one(fields, "PG"),
        language=tuple(_list(fields, "LA")),
        publication_types=types,
        mesh=tuple(m for m in map(parse_mesh, _list(fields, "MH")) if m),
        keywords=tuple(_list(fields, "OT")),
        entry_date=_entry_date(fields),
        pub_date=iso_date(dp) if dp else None,
        kind=kind_from_types(types, kind),
    )
    return require_content(record)
