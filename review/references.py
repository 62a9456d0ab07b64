"""Exports for reference managers (Zotero, EndNote, Mendeley, JabRef, RevMan): RIS, BibTeX, CSV.

The records chosen at a screening stage (included studies by default) are written with their
identifiers (PMID, DOI, PMCID, trial registration ids) and their design and evidence tier in
notes and keywords, so a reference library shows why each study is there. Pure functions over
the record model; the CLI reads the store and writes the file.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field
from rispy.writer import RisWriter

from review.models import Author, Design, Record

FORMATS: tuple[str, ...] = ("ris", "bibtex", "csv")
DECISIONS: tuple[str, ...] = ("include", "exclude", "all")

# Trial registration ids written as notes and keywords (ClinicalTrials.gov, ISRCTN, ANZCTR).
_TRIAL_ID = re.compile(r"\b(NCT\d{8}|ISRCTN\d{8}|ACTRN\d{14})\b", re.IGNORECASE)

_RIS_TYPE = {"journal-article": "JOUR", "conference": "CONF", "book": "BOOK", "book-article": "CHAP"}
_BIB_TYPE = {"journal-article": "article", "conference": "inproceedings", "book": "book",
             "book-article": "incollection"}


@dataclass(frozen=True)
class Item:
    """One record to export with what the review knows about it."""

    record_id: int
    record: Record
    stage: str
    status: str  # the record's status at the stage: include, exclude, maybe, undecided, ...
    reason: str | None = None
    design: Design | None = None
    trial_ids: tuple[str, ...] = ()


def wanted(status: str, stage: str, decision: str) -> bool:
    """Is a record with this status at ``stage`` chosen by ``--decision``?

    ``include`` at title/abstract also takes ``maybe``: both go on to full text.
    """
    if decision == "all":
        return status != "not_due"
    if decision == "include":
        return status == "include" or (stage == "title_abstract" and status == "maybe")
    return status == decision


def trial_ids(records: Iterable[Record]) -> tuple[str, ...]:
    """Registration ids named in the records' ids, titles, abstracts or keywords, in order."""
    found: dict[str, None] = {}
    for r in records:
        for text in (r.source_id, r.title or "", r.abstract_text, " ".join(r.keywords)):
            for m in _TRIAL_ID.finditer(text):
                found[m.group(1).upper()] = None
    return tuple(found)


def notes(item: Item) -> list[str]:
    """Review notes, one per line: stage status, design and tier, identifiers."""
    r, d = item.record, item.design
    out = [f"kratom-review record {item.record_id}: {item.stage} {item.status}"
           + (f" ({item.reason})" if item.reason else "")]
    if d is not None:
        out.append(f"Study design: {d.design}; evidence tier: {d.tier.value}"
                   + ("; self-reported" if d.self_reported else ""))
    if r.pmid:
        out.append(f"PMID: {r.pmid}")
    if r.pmcid:
        out.append(f"PMCID: {r.pmcid}")
    if item.trial_ids:
        out.append("Trial registration: " + ", ".join(item.trial_ids))
    return out


def keywords(item: Item) -> list[str]:
    kw = list(item.record.keywords)
    if item.design is not None:
        kw += [f"design: {item.design.design}", f"evidence tier: {item.design.tier.value}"]
    return kw + list(item.trial_ids)


def _pages(pages: str | None) -> tuple[str | None, str | None]:
    if not pages:
        return None, None
    first, sep, last = pages.partition("-")
    return first.strip() or None, (last.strip() or None) if sep else None


def _urls(r: Record) -> list[str]:
    out = []
    if r.pmid:
        out.append(f"https://pubmed.ncbi.nlm.nih.gov/{r.pmid}/")
    if r.doi:
        out.append(f"https://doi.org/{r.doi}")
    return out


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


def ris_entry(item: Item) -> dict:
    """A rispy reference (its default tag names) for one item."""
    r = item.record
    first, last = _pages(r.pages)
    entry = {
        "type_of_reference": _RIS_TYPE.get(r.kind, "GEN"),
        "title": _one_line(r.title),
        "authors": [_ris_author(a) for a in r.authors],
        "year": str(r.year) if r.year else None,
        "date": r.pub_date.replace("-", "/") if r.pub_date else None,
        "secondary_title": r.journal,
        "alternate_title1": r.journal_iso,
        "volume": r.volume, "number": r.issue, "start_page": first, "end_page": last,
        "abstract": _one_line(r.abstract_text),
        "doi": r.doi,
        "accession_number": r.pmid,
        "name_of_database": "PubMed" if r.pmid else None,
        "database_provider": "NLM" if r.pmid else None,
        "language": "; ".join(r.language) or None,
        "type_of_work": "; ".join(r.publication_types) or None,
        "keywords": keywords(item),
        "notes": notes(item),
        "urls": _urls(r),
        "id": str(item.record_id),
    }
    return {k: v for k, v in entry.items() if v not in (None, "", [])}


def _ris_author(a: Author) -> str:
    if a.collective:
        return a.collective
    given = a.given or a.initials
    return f"{a.family}, {given}" if a.family and given else (a.family or given or "")


class _PlainRisWriter(RisWriter):
    """rispy's writer without the Ovid-style '1.' line before each record."""

    def set_header(self, count):
        return ""


def to_ris(items: Sequence[Item]) -> str:
    return rispy.dumps([ris_entry(i) for i in items], implementation=_PlainRisWriter,
                       delimiter_tags_mapping={})


# ---------------------------------------------------------------- BibTeX

_LATEX_SPECIAL = re.compile(r"(?<!\\)([&%#])")


def _bib_text(text: str | None) -> str | None:
    """Plain text safe inside a braced BibTeX value: no braces, LaTeX specials escaped."""
    if not text:
        return None
    return _LATEX_SPECIAL.sub(r"\\\1", " ".join(text.replace("{", "(").replace("}", ")").split()))


def _bib_author(a: Author) -> str:
    if a.collective:
        return "{" + _bib_text(a.collective) + "}"
    given = a.given or a.initials
    return _bib_text(f"{a.family}, {given}" if a.family and given else (a.family or given or "")) or ""


# Letters NFKD does not split into an ASCII letter and a mark.
_NO_DECOMPOSITION = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss",
                                   "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th"})


def bib_key(item: Item) -> str:
    """'smith2019r12': first author, year, record id (unique in the store), ASCII."""
    a = item.record.authors[0] if item.record.authors else None
    name = (a.family or a.collective or "") if a else ""
    name = unicodedata.normalize("NFKD", name.translate(_NO_DECOMPOSITION)).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z]", "", name)[:20] or "anon"
    return f"{name}{item.record.year or 'nd'}r{item.record_id}"


def bib_entry(item: Item) -> Entry:
    r = item.record
    values = {
        "author": " and ".join(_bib_author(a) for a in r.authors) or None,
        "title": _bib_text(r.title),
        ("booktitle" if r.kind in ("conference", "book-article") else "journal"): _bib_text(r.journal),
        "shortjournal": _bib_text(r.journal_iso),
        "year": str(r.year) if r.year else None,
        "volume": r.volume, "number": r.issue,
        "pages": r.pages.replace("-", "--") if r.pages else None,
        "doi": r.doi, "pmid": r.pmid, "pmcid": r.pmcid,
        "abstract": _bib_text(r.abstract_text),
        "keywords": ", ".join(_bib_text(k) or "" for k in keywords(item)) or None,
        "note": _bib_text("; ".join(notes(item))),
        "url": _urls(r)[0] if _urls(r) else None,
    }
    fields = [Field(k, v) for k, v in values.items() if v]
    return Entry(_BIB_TYPE.get(r.kind, "misc"), bib_key(item), fields)


def to_bibtex(items: Sequence[Item]) -> str:
    library = bibtexparser.Library([bib_entry(i) for i in items])
    return bibtexparser.write_string(library)


# ---------------------------------------------------------------- CSV

def to_frame(items: Sequence[Item]):
    """One row per item: the records table's columns plus the stage, status and trial ids."""
    from review.export import records_frame

    designs = {i.record_id: i.design for i in items if i.design is not None}
    df = records_frame(((i.record_id, i.record) for i in items), designs)
    df = df.drop(columns=["duplicate_of"])
    df.insert(1, "stage", [i.stage for i in items])
    df.insert(2, "status", [i.status for i in items])
    df.insert(3, "reason", [i.reason for i in items])
    df.insert(7, "trial_ids", ["; ".join(i.trial_ids) for i in items])
    return df


def render(items: Sequence[Item], fmt: str) -> str:
    if fmt == "ris":
        return to_ris(items)
    if fmt == "bibtex":
        return to_bibtex(items)
    return to_frame(items).to_csv(index=False)


def select(records: Mapping[int, Record], statuses: Mapping[int, Mapping], stage: str, decision: str,
           designs: Mapping[int, Design], members: Mapping[int, Sequence[Record]]) -> list[Item]:
    """The canonical records chosen at ``stage`` by ``decision``, in record id order."""
    out = []
    for rid in sorted(records):
        st = statuses[rid][stage]
        if wanted(st.status, stage, decision):
            out.append(Item(rid, records[rid], stage, st.status, st.reason, designs.get(rid),
                            trial_ids([records[rid], *members.get(rid, ())])))
    return out
