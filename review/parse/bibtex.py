"""BibTeX / BibLaTeX files -> Record, through bibtexparser 2 (LaTeX decoded with pylatexenc)."""
from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import bibtexparser
from bibtexparser import model
from pylatexenc.latex2text import LatexNodes2Text

from review.models import AbstractSection, Author, Record
from review.parse.fields import (
    ENTRY_TYPES,
    Parsed,
    Problem,
    RecordError,
    check_year,
    clean,
    clean_doi,
    digits,
    iso_date,
    kind_from_types,
    parse_author,
    pmcid_in_text,
    require_content,
    split_keywords,
    split_lines,
    year_of,
)

_LATEX = LatexNodes2Text()


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet_bibtexparser() -> Iterator[None]:
    """bibtexparser logs each bad block (0-based lines) to stderr; we report them ourselves."""
    log = logging.getLogger("bibtexparser.splitter")
    drop = _Drop()
    log.addFilter(drop)
    try:
        yield
    finally:
        log.removeFilter(drop)


def latex(value: str | None) -> str | None:
    """LaTeX markup ({\\"u}, \\'e, {Protected} braces, --) -> plain text."""
    if not value:
        return None
    try:
        text = _LATEX.latex_to_text(value)
    except Exception:  # pylatexenc is tolerant, but never let markup sink a record
        text = value.replace("{", "").replace("}", "")
    return clean(text)


def _split_names(value: str) -> list[str]:
    """Split an author field on ' and ' outside braces ('{Smith and Sons}' stays whole)."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"[{}]|\s+and\s+", value, flags=re.IGNORECASE):
        tok = m.group(0)
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(value[start:m.start()])
            start = m.end()
    out.append(value[start:])
    return [n.strip() for n in out if n.strip()]


def bibtex_author(name: str) -> Author | None:
    """'Smith, John', 'John Smith', 'von Last, Jr, First', '{World Health Organization}'."""
    if name.startswith("{") and name.endswith("}") and name.count("{") == 1:
        text = latex(name)
        return Author(collective=text) if text else None
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 3:  # 'Last, Jr, First'
        name = f"{parts[0]}, {parts[2]}"
    return parse_author(latex(name) or "")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse(text: str, source: str, name: str) -> Parsed:
    """BibTeX text -> Records, and a Problem for each entry bibtexparser could not read."""
    # bibtexparser counts lines on '\n' only; give it the same lines we count.
    text = "\n".join(split_lines(text))
    with _quiet_bibtexparser():
        library = bibtexparser.parse_string(text)
    blocks = sorted(
        (b for b in library.blocks if isinstance(b, (model.Entry, model.ParsingFailedBlock))),
        key=lambda b: b.start_line or 0,
    )
    out = Parsed(total=len(blocks), lines=len(split_lines(text)))
    for number, block in enumerate(blocks, 1):
        line = (block.start_line or 0) + 1
        if isinstance(block, model.DuplicateBlockKeyBlock):
            first = (block.previous_block.start_line or 0) + 1
            out.problems.append(Problem(number, line, f"duplicate key {block.key!r} "
                                        f"(first used by the entry on line {first})"))
        elif isinstance(block, model.ParsingFailedBlock):
            err = block.error
            reason = getattr(err, "abort_reason", None) or str(err) or type(err).__name__
            end = getattr(err, "end_index", None)
            where = f" (gave up on line {_line_of(text, end)})" if isinstance(end, int) else ""
            out.problems.append(Problem(number, line,
                                        f"BibTeX syntax error: {reason.strip()}{where}"))
        else:
            try:
                out.records.append(record_from_entry(block, source))
            except RecordError as exc:
                out.problems.append(Problem(number, line, f"entry {block.key!r}: {exc}"))
    return out


def record_from_entry(entry: model.Entry, source: str) -> Record:
    """One bibtexparser Entry -> Record; the citation key is the source id."""
    f = {k.lower(): (str(v.value).strip() if v.value is not None else "")
         for k, v in entry.fields_dict.items()}

    def get(*keys: str) -> str | None:
        return next((latex(f[k]) for k in keys if f.get(k)), None)

    etype = entry.entry_type.lower()
    kind, type_label = ENTRY_TYPES.get(etype, ("other", etype.capitalize()))
    year = check_year(f.get("year")) or year_of(f.get("date"))
    date = f.get("date")
    if not date and f.get("year") and f.get("month"):
        date = f"{f['year']} {f['month']}"
    abstract = get("abstract")
    title = get("title")
    container = get("journal", "journaltitle", "booktitle") if etype != "book" else None
    pages = clean(f.get("pages"))
    keywords = split_keywords([latex(f[k]) or "" for k in ("keywords", "keyword") if f.get(k)])
    keywords = tuple(k for part in keywords for k in (p.strip() for p in part.split(",")) if k)
    pmid = digits(f.get("pmid"))
    if not pmid and f.get("eprinttype", "").lower() == "pubmed":  # BibLaTeX style
        pmid = digits(f.get("eprint"))
    record = Record(
        source=source,
        source_id=entry.key,
        pmid=pmid,
        doi=clean_doi(f.get("doi")),
        pmcid=pmcid_in_text(f.get("pmcid")),
        title=title,
        abstract=(AbstractSection(text=abstract),) if abstract else (),
        authors=tuple(a for a in map(bibtex_author, _split_names(f.get("author", ""))) if a),
        journal=container,
        journal_iso=get("shortjournal", "journal-iso", "journal_abbrev"),
        year=year,
        volume=clean(f.get("volume")),
        issue=clean(f.get("number") or f.get("issue")),
        pages=re.sub(r"\s*-{1,3}\s*", "-", pages) if pages else None,
        language=tuple(x.strip() for x in (get("language", "langid") or "").split(";")
                       if x.strip()),
        publication_types=(type_label,),
        keywords=keywords,
        pub_date=iso_date(date, year) if date else (str(year) if year else None),
        kind=kind_from_types((type_label,), kind),
    )
    return require_content(record)
