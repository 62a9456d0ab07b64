"""RIS exports (Embase, Scopus, Web of Science, Ovid, EBSCO, Zotero, EndNote) -> Record.

A light line scan first cuts the file into records and checks their structure (TY start,
ER end, well-formed tag lines), because rispy skips such damage silently and reports no
line numbers. Each sound record then goes through rispy, told to keep every tag under its
own name as a list, so repeated and unknown tags all survive.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import rispy

from review.models import AbstractSection, Record
from review.parse.fields import (
    Parsed,
    Problem,
    RecordError,
    clean,
    clean_doi,
    digits,
    doi_in_text,
    fallback_id,
    iso_date,
    join_pages,
    kind_from_types,
    parse_author,
    pmcid_in_text,
    pmid_in_text,
    require_content,
    split_author_list,
    split_keywords,
    split_lines,
    summarise,
    year_of,
)

_TAG = re.compile(r"([A-Z][A-Z0-9])  -(.*)")
# Tag-like but malformed: wrong spacing or a tab ('TI - x', 'TI-  x'), or lower case ('ti  - x').
_LOOSE_TAG = re.compile(r"(?:[A-Z][A-Z0-9][ \t]*-(?:\s|$)|[a-z][a-z0-9]  - )")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
# Ovid numbers each record ('1.' or '<1>') on a line of its own before TY.
_OVID_NUMBER = re.compile(r"\s*(?:<\d+>|\d+\.?)\s*")

TY_KIND: dict[str, str] = {
    "JOUR": "journal-article", "JFULL": "journal-article", "EJOUR": "journal-article",
    "ABST": "journal-article", "INPR": "journal-article", "MGZN": "journal-article",
    "NEWS": "journal-article", "SER": "journal-article",
    "CONF": "conference", "CPAPER": "conference",
    "BOOK": "book", "EBOOK": "book", "EDBOOK": "book",
    "CHAP": "book-article", "ECHAP": "book-article",
}
# Where each vendor puts the PMID. Vendor is recognised from the DB / DP tags.
PMID_TAG_BY_VENDOR: tuple[tuple[str, str], ...] = (
    ("scopus", "C2"),   # Scopus: C2 = PubMed ID
    ("embase", "C5"),   # Embase: C5 = MEDLINE PMID
    ("pubmed", "AN"),   # PubMed/MEDLINE via Ovid, EBSCO, Zotero: AN = PMID
    ("medline", "AN"),
    ("nlm", "AN"),
)
# Free-text and link tags that may carry 'PMID: 123', a PubMed/PMC URL or a doi.org link.
_NOTE_TAGS = ("N1", "AN", "M1", "M2", "U1", "U2", "U3", "U4", "U5",
              "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8")
_LINK_TAGS = ("UR", "L1", "L2", "L3", "L4", "LK")


class _EveryTag(dict):
    """rispy mapping that keeps each tag under its own name (TI and T1 stay apart)."""

    def __missing__(self, key: str) -> str:
        return key


class _All:
    """rispy list_tags that makes every tag a list, so repeated tags are never overwritten."""

    def __contains__(self, tag: object) -> bool:
        return True


def tags_of(lines: list[str]) -> dict[str, list[str] | str]:
    """One scanned record -> {tag: [values]} through rispy (TY is a plain string).

    Continuation lines become further values of the tag above them, which is right for
    keywords spread over lines and harmless for text that is joined again.
    """
    parser = rispy.RisParser(mapping=_EveryTag(), list_tags=_All(), delimiter_tags_mapping={})
    records = parser.parse_lines(iter(lines))
    if len(records) != 1:
        raise RecordError("could not be read as one RIS record")
    return records[0]


@dataclass
class _Block:
    number: int
    start: int
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def scan(lines: list[str]) -> tuple[list[_Block], list[int]]:
    """Cut lines into records by TY/ER; note structural damage; return stray text line numbers.

    Between an ``ER`` and the next ``TY`` vendors write notes that are not RIS: Ovid's
    "Link to the Ovid Full Text or citation:" and its URL, ``NL  -`` lines, blank numbering.
    A tag-shaped line there opens a *tentative* record: if an ``ER`` closes it, it was a record
    whose ``TY`` line is missing or damaged (a problem); if the next ``TY`` or the end of the
    file comes first, its lines were vendor noise (stray, warned about, never fatal).
    """
    blocks: list[_Block] = []
    stray: list[int] = []
    cur: _Block | None = None
    pending: _Block | None = None  # tag lines outside a record, not yet known to be a record
    pending_lines: list[int] = []
    for i, raw in enumerate(lines, 1):
        line = raw.lstrip("\ufeff")  # files concatenated with `cat` carry a BOM mid-file
        m = _TAG.match(line)
        tag = m.group(1) if m else None
        if tag:
            line = f"{tag}  - {m.group(2).strip()}"
        if cur is None:
            if tag == "TY":
                stray.extend(n for n in pending_lines if lines[n - 1].strip())
                pending, pending_lines = None, []
                cur = _Block(len(blocks) + 1, i, [line])
                blocks.append(cur)
            elif pending is not None:
                pending.lines.append(line)
                pending_lines.append(i)
                if tag == "ER":  # a record after all, one that lost its TY line
                    pending.number = len(blocks) + 1
                    pending.problems.insert(0, f"starts with {pending.lines[0][:2]} on line "
                                               f"{pending.start}, not 'TY  - ' (a missing or "
                                               "damaged TY line?)")
                    blocks.append(pending)
                    pending, pending_lines = None, []
            elif tag == "ER":
                stray.append(i)
            elif tag:
                pending = _Block(0, i, [line])
                pending_lines = [i]
            elif line.strip() and not _OVID_NUMBER.fullmatch(line):
                stray.append(i)
            continue
        if tag == "TY":
            cur.problems.append(f"no 'ER  - ' end tag before the next record's TY on line {i}")
            cur = _Block(len(blocks) + 1, i, [line])
            blocks.append(cur)
            continue
        if tag is None:
            if _LOOSE_TAG.match(line):
                cur.problems.append(f"line {i}: malformed tag line {line.strip()[:40]!r} "
                                    "(a tag is two capitals, two spaces, a hyphen, a space)")
            elif _CONTROL.search(line):
                cur.problems.append(f"line {i}: unreadable control characters (binary data?)")
        cur.lines.append(line)
        if tag == "ER":
            cur = None
    if cur is not None:
        cur.problems.append(f"the file ends on line {len(lines)} inside this record, with no "
                            "'ER  - ' end tag: the file looks truncated")
    stray.extend(n for n in pending_lines if lines[n - 1].strip())
    return blocks, sorted(stray)


def line_ranges(numbers: list[int], limit: int = 8) -> str:
    """[4, 5, 6, 9] -> 'lines 4-6, 9'; more than ``limit`` ranges end with '... (N ranges)'."""
    ranges: list[list[int]] = []
    for n in numbers:
        if ranges and n <= ranges[-1][1] + 2:  # a blank line between two noise lines joins them
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges[:limit])
    if len(ranges) > limit:
        text += f", ... ({len(ranges)} ranges in all)"
    return ("line " if len(numbers) == 1 else "lines ") + text


def parse(text: str, source: str, name: str) -> Parsed:
    """RIS text -> Records, and a Problem for each damaged record."""
    lines = split_lines(text)
    blocks, stray = scan(lines)
    out = Parsed(total=len(blocks), lines=len(lines))
    first_start = blocks[0].start if blocks else len(lines) + 1
    between = [i for i in stray if i > first_start]  # text before the first TY is a header
    if between:
        example = lines[between[0] - 1].strip()[:60]
        out.warnings.append(f"{name}: ignored {len(between)} line(s) between records that are "
                            f"not RIS (vendor notes or links): {line_ranges(between)}; "
                            f"first: {example!r}")
    for b in blocks:
        if b.problems:
            out.problems.append(Problem(b.number, b.start, summarise(b.problems)))
            continue
        try:
            tags = tags_of(b.lines)
            out.records.append(record_from_tags(tags, source, b.number, "\n".join(b.lines)))
        except RecordError as exc:
            out.problems.append(Problem(b.number, b.start, str(exc)))
    return out


# ---------------------------------------------------------------- tags -> Record


def _values(tags: dict, *names: str) -> list[str]:
    """Non-empty values of the tags, in the order the names are given."""
    out = []
    for n in names:
        value = tags.get(n)
        for v in [value] if isinstance(value, str) else value or []:
            if v and v.strip():
                out.append(v.strip())
    return out


def _first(tags: dict, *names: str) -> str | None:
    for n in names:
        vals = _values(tags, n)
        if vals:
            return clean(vals[0])
    return None


def _text(tags: dict, name: str, sep: str) -> str | None:
    """A text tag that may repeat or continue over lines (WoS abstracts), joined."""
    parts = [clean(v) for v in _values(tags, name)]
    return sep.join(p for p in parts if p) or None


def _authors(tags: dict) -> tuple:
    names = _values(tags, "AU") or _values(tags, "A1")
    out = []
    for value in names:
        for part in split_author_list(value) if ";" in value else [value]:
            author = parse_author(part)
            if author:
                out.append(author)
    return tuple(out)


def _journal(tags: dict) -> tuple[str | None, str | None]:
    """(full title, abbreviation): Embase JF/JO, Scopus and Zotero T2/J2, WoS T2/JI/J9."""
    for full_tag in ("JF", "T2", "JO", "JA", "J2", "JI", "J9"):
        journal = _first(tags, full_tag)
        if journal:
            break
    else:
        return None, None
    abbrev = next((v for t in ("J2", "JA", "JI", "J9", "JO") if t != full_tag
                   for v in [_first(tags, t)] if v), None)
    return journal, abbrev


def _doi(tags: dict) -> str | None:
    for v in _values(tags, "DO"):
        if clean_doi(v):
            return clean_doi(v)
    for v in _values(tags, *_LINK_TAGS):
        doi = doi_in_text(v)
        if doi:
            return doi
    for v in _values(tags, "M3"):  # some vendors put the DOI where Embase puts the type
        if clean_doi(v):
            return clean_doi(v)
    for v in _values(tags, *_NOTE_TAGS):
        doi = doi_in_text(v)
        if doi:
            return doi
    return None


def _vendor(tags: dict) -> str:
    return " ".join(_values(tags, "DB", "DP")).lower()


def _url_param(tags: dict, param: str) -> str | None:
    """A query parameter of a UR link: Scopus 'eid=', EBSCO and Ovid 'AN='."""
    for url in _values(tags, "UR"):
        m = re.search(rf"[?&]{param}=([\w.:\-]+)", url)
        if m:
            return m.group(1)
    return None


def _pmid(tags: dict, vendor: str) -> str | None:
    for key, tag in PMID_TAG_BY_VENDOR:
        if key in vendor:
            value = _first(tags, tag) or (_url_param(tags, "AN") if tag == "AN" else None)
            pmid = digits(value)
            if pmid:
                return pmid
    for v in _values(tags, *_NOTE_TAGS, *_LINK_TAGS):
        pmid = pmid_in_text(v)
        if pmid:
            return pmid
    return None


def _source_id(tags: dict, vendor: str) -> str | None:
    """The database's accession number: AN, Embase's U2 (L-number), else one in the UR link."""
    an = _first(tags, "AN")
    if an:
        return an
    if "embase" in vendor and _first(tags, "U2"):
        return _first(tags, "U2")
    accession = _url_param(tags, "eid") or _url_param(tags, "AN")
    if accession:
        return accession
    # RIS 'ID' is a reference manager's running number, reused by every export: not an id.
    return None


def record_from_tags(tags: dict, source: str, number: int, raw: str) -> Record:
    """One rispy record (tag -> list of values) -> Record."""
    vendor = _vendor(tags)
    ty = clean(tags.get("TY") if isinstance(tags.get("TY"), str) else None) or ""
    year_field = _first(tags, "PY", "Y1")
    date_field = _first(tags, "DA") or year_field
    year = year_of(year_field) or year_of(_first(tags, "DA"))
    types = tuple(v for v in (clean(x) for x in _values(tags, "M3")) if v and not clean_doi(v))
    journal, abbrev = _journal(tags)
    abstract = _text(tags, "AB", "\n") or _text(tags, "N2", "\n")
    pmid = _pmid(tags, vendor)
    title = _text(tags, "TI", " ") or _text(tags, "T1", " ") or _text(tags, "CT", " ")
    if ty.upper() in ("BOOK", "EBOOK", "EDBOOK") and not title:
        title = _text(tags, "BT", " ")
    record = Record(
        source=source,
        source_id=_source_id(tags, vendor) or fallback_id(number, raw),
        pmid=pmid,
        doi=_doi(tags),
        pmcid=next((p for p in map(pmcid_in_text, _values(tags, *_NOTE_TAGS, *_LINK_TAGS)) if p),
                   None),
        title=title,
        abstract=(AbstractSection(text=abstract),) if abstract else (),
        authors=_authors(tags),
        journal=journal,
        journal_iso=abbrev,
        year=year,
        volume=_first(tags, "VL"),
        issue=_first(tags, "IS"),
        pages=join_pages(_first(tags, "SP"), _first(tags, "EP")) or _first(tags, "C7"),
        language=tuple(x.strip() for v in _values(tags, "LA") for x in v.split(";") if x.strip()),
        publication_types=types,
        keywords=split_keywords(_values(tags, "KW")),
        pub_date=iso_date(date_field, year) if date_field else None,
        kind=kind_from_types(types, TY_KIND.get(ty.upper(), "other")),
    )
    return require_content(record)
