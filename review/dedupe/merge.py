"""Field-level canonical merge of the records of one duplicate cluster.

Which value wins, field by field:
  base record        the one with a PMID, then from PubMed, then with the most fields filled,
                     then the longest abstract; ties keep input order
  source, source_id  the base record's (the cluster keeps every member's source id)
  pmid, doi, pmcid   the base record's, else the first record that has one
  title, journal, journal_iso, year, volume, issue, pages, pub_date, kind
                     the base record's, else the first record that has one
  abstract           the longest abstract of any record
  authors            the longest author list; on a tie the one with given names, then the base's
  language, publication_types, keywords, mesh
                     union in order of first appearance (MeSH by descriptor)
  entry_date         the earliest
  vernacular_title   the first one found
  deleted            only if every record is deleted
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from review.errors import InputError
from review.models import Author, MeshHeading, Record

T = TypeVar("T")

_SCALAR_FIELDS = ("title", "journal", "journal_iso", "year", "volume", "issue", "pages",
                  "pub_date", "pmid", "doi", "pmcid")


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != ()


def completeness(record: Record) -> int:
    """How many bibliographic fields a record has filled."""
    return sum(_filled(getattr(record, name)) for name in _SCALAR_FIELDS) + bool(record.authors)


def base_order(records: Sequence[Record]) -> list[Record]:
    """Records best-first: PMID, PubMed source, completeness, abstract length (stable)."""
    return sorted(
        records,
        key=lambda r: (bool(r.pmid), r.source.lower() == "pubmed", completeness(r),
                       len(r.abstract_text)),
        reverse=True,
    )


def _first(values: Iterable[T]) -> T | None:
    return next((v for v in values if _filled(v)), None)


def _union(groups: Iterable[Sequence[T]]) -> tuple[T, ...]:
    seen: dict[T, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def _authors(ordered: Sequence[Record]) -> tuple[Author, ...]:
    def score(record: Record) -> tuple[int, int]:
        return len(record.authors), sum(bool(a.given) for a in record.authors)

    best = max(ordered, key=score)  # max keeps the first of equals, i.e. the base record
    return best.authors


def _mesh(ordered: Sequence[Record]) -> tuple[MeshHeading, ...]:
    seen: dict[str, MeshHeading] = {}
    for record in ordered:
        for heading in record.mesh:
            seen.setdefault(heading.descriptor.lower(), heading)
    return tuple(seen.values())


def merge_records(records: Sequence[Record]) -> Record:
    """One canonical record for a cluster of duplicates (see the module docstring for who wins)."""
    if not records:
        raise InputError("merge_records needs at least one record, got none")
    bad = [f"position {k}: {type(r).__name__}" for k, r in enumerate(records)
           if not isinstance(r, Record)]
    if bad:
        raise InputError("merge_records needs Record objects", bad)
    ordered = base_order(records)
    base = ordered[0]
    scalars = {name: _first(getattr(r, name) for r in ordered) for name in _SCALAR_FIELDS}
    longest_abstract = max(ordered, key=lambda r: len(r.abstract_text)).abstract
    entry_dates = sorted(r.entry_date for r in ordered if r.entry_date)
    return Record(
        source=base.source,
        source_id=base.source_id,
        abstract=longest_abstract,
        authors=_authors(ordered),
        language=_union(r.language for r in ordered),
        publication_types=_union(r.publication_types for r in ordered),
        mesh=_mesh(ordered),
        keywords=_union(r.keywords for r in ordered),
        entry_date=entry_dates[0] if entry_dates else None,
        kind=base.kind,
        vernacular_title=_first(r.vernacular_title for r in ordered),
        deleted=all(r.deleted for r in ordered),
        **scalars,
    )
