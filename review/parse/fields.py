"""Pure helpers shared by the file importers: authors, DOIs, years, dates, problems."""
from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass, field

from review.models import Author, MeshHeading, Record

# ---------------------------------------------------------------- problems and results


@dataclass(frozen=True)
class Problem:
    """One bad record: its number in the file, the line it starts on, and why."""

    record: int
    line: int
    reason: str
    unit: str = "record"  # "row" for CSV

    def describe(self, name: str) -> str:
        return f"{name}: {self.unit} {self.record} (line {self.line}): {self.reason}"


@dataclass
class Parsed:
    """What one format parser found in a decoded file, before the skip/raise decision."""

    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total: int = 0  # records seen, good or bad
    lines: int = 0
    unit: str = "record"


def summarise(reasons: list[str], keep: int = 3) -> str:
    """One record's reasons joined; a badly damaged record should not flood the report."""
    more = len(reasons) - keep
    return "; ".join(reasons[:keep]) + (f"; and {more} more problem(s)" if more > 0 else "")


class RecordError(ValueError):
    """A field value that makes the whole record unusable (raised inside a parser)."""


# ---------------------------------------------------------------- lines and ids

_NEWLINE = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines split on CR, LF or CRLF only.

    str.splitlines() also breaks on U+2028, form feed and other characters that occur
    inside real abstracts, which would shift every line number after them.
    """
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def fallback_id(number: int, raw: str) -> str:
    """Stable id for a record without a database id: its number plus a hash of its text."""
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return f"rec{number}-{digest}"


def clean(value: str | None) -> str | None:
    """Whitespace collapsed; None when nothing is left."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def require_content(record: Record) -> Record:
    """The record, or RecordError when it has nothing to screen or match on."""
    if not (record.title or record.abstract or record.authors or record.doi or record.pmid):
        raise RecordError("empty record: no title, abstract, authors, DOI or PMID")
    return record


# ---------------------------------------------------------------- identifiers

_DOI_PREFIX = re.compile(
    r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE
)
_DOI_LABELLED = re.compile(
    r"(?:\bdoi:?\s*|https?://(?:dx\.)?doi\.org/)(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE
)
_PMID_LABELLED = re.compile(r"\b(?:PMID|PubMed\s*ID)\s*[:=]?\s*(\d{1,9})\b", re.IGNORECASE)
_PMID_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov|ncbi\.nlm\.nih\.gov/pubmed)/(\d{1,9})\b")
_PMCID = re.compile(r"\b(PMC\d{3,9})\b")


def clean_doi(value: str | None) -> str | None:
    """DOI as given, minus URL/'doi:' prefixes, a trailing '[doi]' and end punctuation."""
    if not value:
        return None
    value = value.strip()
    value = re.sub(r"\s*\[doi\]$", "", value, flags=re.IGNORECASE)
    value = _DOI_PREFIX.sub("", value).strip()
    if "%2f" in value.lower():  # URL-encoded slash, as in link resolver URLs
        value = urllib.parse.unquote(value)
    value = value.split()[0] if value else value
    value = value.rstrip(".,;")
    return value if value.startswith("10.") and "/" in value else None


def doi_in_text(text: str | None) -> str | None:
    """A DOI in free text or a link, when marked as one: 'doi: 10.x' or a doi.org URL.

    Bare '10.x/y' strings in notes are left alone: they are as often a cited paper's DOI.
    """
    m = _DOI_LABELLED.search(text or "")
    return clean_doi(m.group(1)) if m else None


def pmid_in_text(text: str | None) -> str | None:
    """A PMID written as 'PMID: 123' or as a PubMed URL."""
    if not text:
        return None
    m = _PMID_LABELLED.search(text) or _PMID_URL.search(text)
    return m.group(1) if m else None


def pmcid_in_text(text: str | None) -> str | None:
    """A PMC id ('PMC1373603') anywhere in the text."""
    if not text:
        return None
    m = _PMCID.search(text)
    return m.group(1) if m else None


def digits(value: str | None) -> str | None:
    """The value when it is a plain number (a PMID), else None."""
    value = (value or "").strip()
    return value if value.isdigit() and len(value) <= 9 else None


# ---------------------------------------------------------------- years and dates

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_NOT_A_YEAR_BUT_FINE = {"in press", "inpress", "n.d.", "nd", "forthcoming", "accepted", "submitted",
                        "undated", "no date", "epub ahead of print"}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


def year_of(value: str | None) -> int | None:
    """The first plausible four-digit year in the value."""
    m = _YEAR.search(value or "")
    return int(m.group(1)) if m else None


def check_year(value: str | None) -> int | None:
    """Year of a year field; RecordError when the field holds text that is not a year."""
    text = (value or "").strip()
    if not text:
        return None
    year = year_of(text)
    if year is None and text.lower() not in _NOT_A_YEAR_BUT_FINE:
        raise RecordError(f"year {text!r} is not a year")
    return year


def _month(token: str) -> int | None:
    token = token.strip().lower().rstrip(".")
    if token.isdigit():
        return int(token) if 1 <= int(token) <= 12 else None
    return _MONTHS.get(token[:3]) if len(token) >= 3 else None


def iso_date(value: str | None, year: int | None = None) -> str | None:
    """'2019/07/02/', '2002 Sep', 'SEP 21' (+year) -> '2019-07-02', '2002-09', 'YYYY-09-21'.

    Anything else (seasons, ranges) is returned as written, as the PubMed XML reader does.
    """
    text = clean(value)
    if not text:
        return str(year) if year else None
    m = re.fullmatch(r"(?:(\d{4})\s+)?([A-Za-z]{3,9})\.?(?:\s+(\d{1,2}))?", text)
    if m and _month(m.group(2)) and (m.group(1) or year):
        y, mo = m.group(1) or str(year), _month(m.group(2))
        return f"{y}-{mo:02d}-{int(m.group(3)):02d}" if m.group(3) else f"{y}-{mo:02d}"
    m = re.fullmatch(r"(\d{4})(?:[/-](\d{1,2})?)?(?:[/-](\d{1,2})?)?(?:[/-].*)?", text)
    if m:
        y, mo, d = m.groups()
        if mo and 1 <= int(mo) <= 12:
            if d and 1 <= int(d) <= 31:
                return f"{y}-{int(mo):02d}-{int(d):02d}"
            return f"{y}-{int(mo):02d}"
        return y
    if year and year_of(text) is None:
        return f"{year} {text}"
    return text


# ---------------------------------------------------------------- authors

# A personal name never contains these words; a collective author (group, consortium) often does.
_COLLECTIVE = re.compile(
    r"\b(group|consortium|collaborat\w*|committee|investigators|network|society|association|"
    r"team|council|organi[sz]ation|institute|foundation|initiative|alliance|panel|"
    r"task force|working party|writing|study|trialists|centre|center|agency|board|"
    r"department|ministry|university|program(?:me)?)\b",
    re.IGNORECASE,
)
_INITIALS_DOTTED = re.compile(r"(?:[A-Z][a-z]?\.\s?-?\s?){1,5}|(?:[A-Z]\.?-){1,4}[A-Z]\.?")
_INITIALS_BARE = re.compile(r"[A-Z]{1,3}\.?")
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "2nd", "3rd"}


def is_initials(token: str) -> bool:
    """'R.', 'D.G.', 'J. A.', 'JA', 'J-P' are initials; 'Li' or 'Roy' are not."""
    token = token.strip()
    return bool(_INITIALS_DOTTED.fullmatch(token) or _INITIALS_BARE.fullmatch(token))


def initials_of(given: str) -> str | None:
    """'Malgorzata A.' -> 'MA', 'Jean-Pierre' -> 'JP', 'J.A.' -> 'JA', 'JA' -> 'JA'."""
    given = given.strip()
    if _INITIALS_BARE.fullmatch(given):
        return given.rstrip(".")
    letters = [w[0] for w in re.split(r"[\s.\-]+", given) if w and w[0].isupper()]
    return "".join(letters) or None


def is_collective(name: str) -> bool:
    """'WHO Collaborative Group' yes; 'Smith John' no (two words at least, a group word)."""
    return len(name.split()) >= 2 and bool(_COLLECTIVE.search(name))


def parse_author(raw: str) -> Author | None:
    """One author string in any common export style -> Author.

    'Liu R.', 'Adler D.G.', 'Smith, John', 'Smith, J.A.', 'Casbon JA', 'J. Smith', 'John Smith',
    and collective names ('WHO Collaborative Group').
    """
    name = clean(raw.strip(" ;,"))
    if not name or re.fullmatch(r"(?:et\.?\s*al\.?|others|anonymous|\[?anon\.?\]?)", name, re.I):
        return None
    if is_collective(name):
        return Author(collective=name)
    if "," in name:
        parts = [p.strip() for p in name.split(",")]
        family = parts[0]
        rest = [p for p in parts[1:] if p and p.lower() not in _SUFFIXES]
        given_part = rest[0] if rest else ""
        return _person(family, given_part)
    tokens = name.split()
    if len(tokens) == 1:
        return Author(family=name)
    if is_initials(tokens[-1]) and not all(is_initials(t) for t in tokens[:-1]):
        return _person(" ".join(tokens[:-1]), tokens[-1])  # 'Adler D.G.', 'Casbon JA'
    lead = 0
    while lead < len(tokens) - 1 and is_initials(tokens[lead]):
        lead += 1
    if lead:  # 'J. A. Smith'
        return _person(" ".join(tokens[lead:]), " ".join(tokens[:lead]))
    return _person(tokens[-1], " ".join(tokens[:-1]))  # 'John Smith'


def _person(family: str, given_part: str) -> Author:
    given_part = given_part.strip()
    if not given_part:
        return Author(family=family or None)
    if is_initials(given_part) or all(is_initials(t) for t in given_part.split()):
        return Author(family=family or None, initials=initials_of(given_part))
    return Author(family=family or None, given=given_part, initials=initials_of(given_part))


def split_author_list(text: str) -> list[str]:
    """A list of authors in one string: 'A; B', 'A and B' (BibTeX) or 'Liu R, Adler DG'."""
    text = text.strip()
    if not text:
        return []
    if ";" in text:
        return [p.strip() for p in text.split(";") if p.strip()]
    if re.search(r"\s+and\s+", text):
        return [p.strip() for p in re.split(r"\s+and\s+", text) if p.strip()]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    # 'Liu R, Adler DG' (family + initials, comma-separated) vs 'Smith, John' (one author).
    if len(parts) >= 2 and all(len(p.split()) >= 2 and is_initials(p.split()[-1]) for p in parts):
        return parts
    return [text]


# ---------------------------------------------------------------- MeSH, keywords, pages


def parse_mesh(value: str) -> MeshHeading | None:
    """MEDLINE MH 'Sequence Alignment/*methods' -> descriptor, major flags, qualifiers."""
    parts = [p.strip() for p in value.split("/")]
    if not parts or not parts[0].strip("*"):
        return None
    descriptor = parts[0]
    qualifiers = tuple((q.lstrip("*"), q.startswith("*")) for q in parts[1:] if q.strip("*"))
    return MeshHeading(descriptor=descriptor.lstrip("*"), major=descriptor.startswith("*"),
                       qualifiers=qualifiers)


def split_keywords(values: list[str]) -> tuple[str, ...]:
    """Keywords from repeated fields, each possibly holding several split by ';' or newlines."""
    out: list[str] = []
    for v in values:
        for k in re.split(r"[;\n]", v):
            k = clean(k)
            if k:
                out.append(k)
    return tuple(out)


def join_pages(start: str | None, end: str | None) -> str | None:
    """'SP'/'EP' -> 'SP-EP'; SP alone when it already is a range or EP is missing."""
    start, end = clean(start), clean(end)
    if start and end and end != start and "-" not in start:
        return f"{start}-{end}"
    return start or end


# ---------------------------------------------------------------- kinds and types

# BibTeX entry types (also the ENTRYTYPE column of bib-dedupe style CSVs) -> (kind, type label)
ENTRY_TYPES: dict[str, tuple[str, str]] = {
    "article": ("journal-article", "Journal Article"),
    "inproceedings": ("conference", "Conference Paper"),
    "conference": ("conference", "Conference Paper"),
    "proceedings": ("conference", "Conference Proceedings"),
    "book": ("book", "Book"),
    "inbook": ("book-article", "Book Chapter"),
    "incollection": ("book-article", "Book Chapter"),
    "phdthesis": ("other", "Thesis"),
    "mastersthesis": ("other", "Thesis"),
    "thesis": ("other", "Thesis"),
    "techreport": ("other", "Report"),
    "report": ("other", "Report"),
    "manual": ("other", "Manual"),
    "online": ("other", "Web Page"),
    "misc": ("other", "Miscellaneous"),
    "unpublished": ("other", "Unpublished"),
}


_CONFERENCE_TYPES = {"congress", "meeting abstract", "proceedings paper"}


def kind_from_types(types: tuple[str, ...], default: str) -> str:
    """Conference abstracts and papers are filed by vendors under journal types; catch them."""
    for t in types:
        low = t.lower()
        if low.startswith("conference") or low in _CONFERENCE_TYPES:
            return "conference"
    return default
