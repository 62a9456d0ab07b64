"""Parsers: raw exports and responses -> Record.

``parse_file`` is the one entry point for user files: it checks the bytes, finds the format,
decodes, runs the format's parser and decides, all or nothing, whether the file is usable.
Format modules are imported on use, so ``review.parse.pubmed_xml`` stays cheap to import.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from review.errors import InputError
from review.models import Record, repeated_id
from review.parse.detect import check_bytes, decode, detect_format, sniff
from review.parse.fields import Parsed

__all__ = ["FORMATS", "ParseResult", "detect_format", "parse_bytes", "parse_file"]

FORMATS: tuple[str, ...] = ("ris", "medline", "pubmed-xml", "bibtex", "csv")

_MODULES = {"ris": "ris", "medline": "medline", "bibtex": "bibtex", "csv": "csvfile"}
_LABELS = {"ris": "RIS", "medline": "MEDLINE", "pubmed-xml": "PubMed XML", "bibtex": "BibTeX",
           "csv": "CSV"}
_EXPECTED = {
    "ris": "records start with 'TY  - ' and end with 'ER  - '",
    "medline": "records start with 'PMID- ' and are separated by blank lines",
    "pubmed-xml": "a <PubmedArticleSet> with <PubmedArticle> elements",
    "bibtex": "entries look like '@article{key, title = {...}, ...}'",
    "csv": "a header line with a 'title' column, then one row per record",
}


@dataclass(frozen=True)
class ParseResult:
    """The records of one file, what was skipped, and how the file was read."""

    records: tuple[Record, ...]
    skipped: tuple[str, ...]  # one line per skipped record: file, record number, line, reason
    warnings: tuple[str, ...]
    fmt: str
    encoding: str
    sha256: str  # of the raw bytes, so re-importing the same file can be a no-op


def parse_file(path: str | os.PathLike, *, source: str, fmt: str | None = None,
               skip_bad: bool = False) -> ParseResult:
    """Read one export file; InputError (nothing usable) names the file, record and line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"{os.fspath(path)}: cannot read the file ({reason})") from exc
    return parse_bytes(data, name=os.fspath(path), source=source, fmt=fmt, skip_bad=skip_bad)


def parse_bytes(data: bytes, *, name: str, source: str, fmt: str | None = None,
                skip_bad: bool = False) -> ParseResult:
    """parse_file for bytes already in memory; ``name`` is used in messages and for detection."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"{name}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    check_bytes(name, data)
    fmt = fmt or detect_format(name, data[:64 * 1024])
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "pubmed-xml":
        return _pubmed_xml(data, name, source, sha)
    text, encoding, warnings = decode(name, data)
    module = importlib.import_module(f"review.parse.{_MODULES[fmt]}")
    parsed: Parsed = module.parse(text, source, name)
    problems = [p.describe(name) for p in parsed.problems]
    label = _LABELS[fmt]
    if not parsed.records:
        _raise_empty(name, fmt, text, parsed, problems)
    if problems and not skip_bad:
        good = len(parsed.records)
        raise InputError(
            f"{name}: {len(problems)} of {parsed.total} {label} {parsed.unit}s are malformed, "
            f"so nothing was imported. Fix them, or rerun with --skip-bad to import the "
            f"{good} good {parsed.unit}{'s' if good != 1 else ''} and list the skipped ones.",
            problems)
    records, repeats = _number_repeats(name, parsed.records)
    return ParseResult(
        records=tuple(records),
        skipped=tuple(problems),
        warnings=tuple(warnings + parsed.warnings + repeats),
        fmt=fmt,
        encoding=encoding,
        sha256=sha,
    )


def _raise_empty(name: str, fmt: str, text: str, parsed: Parsed, problems: list[str]) -> None:
    label = _LABELS[fmt]
    if parsed.total:
        raise InputError(f"{name}: none of the {parsed.total} {label} {parsed.unit}s could be "
                         "read; nothing was imported.", problems)
    guess = sniff(text)
    hint = (f" The content looks like {_LABELS[guess]}: try --format {guess}."
            if guess and guess != fmt else f" Expected {_EXPECTED[fmt]}.")
    raise InputError(f"{name}: no {label} {parsed.unit}s found in lines 1-{parsed.lines}, "
                     f"so nothing was imported.{hint}")


def _number_repeats(name: str, records: list[Record]) -> tuple[list[Record], list[str]]:
    """Keep every copy of an accession that occurs more than once in one export as its own record.

    Each is a record identified (PRISMA 2020 counts what the search returned); the later copies
    get ``repeated_id`` so they are stored apart, and ``review dedupe`` merges them back as exact
    duplicates (rule ``same_accession``).
    """
    seen: dict[str, int] = {}
    out = []
    for r in records:
        n = seen[r.source_id] = seen.get(r.source_id, 0) + 1
        out.append(r if n == 1 else dataclasses.replace(r, source_id=repeated_id(r.source_id, n)))
    dups = [k for k, n in seen.items() if n > 1]
    if not dups:
        return out, []
    extra = sum(seen[k] - 1 for k in dups)
    return out, [f"{name}: {len(dups)} id(s) occur more than once in this file (e.g. {dups[0]!r}); "
                 f"all {extra + len(dups)} copies are kept as records identified, and "
                 f"`review dedupe` merges them as exact duplicates"]


def _pubmed_xml(data: bytes, name: str, source: str, sha: str) -> ParseResult:
    from review.parse.pubmed_xml import iter_pubmed_xml  # written alongside; import on use

    try:
        records = tuple(iter_pubmed_xml(data, source_name=source, label=name))
    except InputError:
        raise
    except (ValueError, TypeError, AttributeError) as exc:  # lxml and structural surprises
        raise InputError(f"{name}: cannot read this PubMed XML ({exc})") from exc
    if not records:
        raise InputError(f"{name}: no PubMed XML records found, so nothing was imported. "
                         f"Expected {_EXPECTED['pubmed-xml']}.")
    head = data[:200].decode("ascii", errors="replace")
    encoding = "utf-8"
    if 'encoding="' in head:
        encoding = head.split('encoding="', 1)[1].split('"', 1)[0].lower()
    return ParseResult(records=records, skipped=(), warnings=(), fmt="pubmed-xml",
                       encoding=encoding, sha256=sha)
