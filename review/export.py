"""Flat tables for people and spreadsheets: one row per record."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from review.classify import needs_review
from review.models import Design, Record

RECORD_COLUMNS = ["record_id", "source", "source_id", "pmid", "doi", "pmcid", "title", "abstract", "authors",
                  "journal", "journal_iso", "year", "volume", "issue", "pages", "language", "publication_types",
                  "mesh", "keywords", "kind", "entry_date", "pub_date", "duplicate_of", "design", "evidence_tier",
                  "tier_source", "needs_review", "self_reported", "design_confidence", "design_reasons"]


def mesh_text(record: Record) -> str:
    """MeSH as PubMed shows them: '*' marks a major topic, qualifiers after '/'."""
    out = []
    for m in record.mesh:
        head = ("*" if m.major else "") + m.descriptor
        quals = "".join("/" + ("*" if major else "") + q for q, major in m.qualifiers)
        out.append(head + quals)
    return "; ".join(out)


def record_row(record_id: int, r: Record) -> dict:
    return {
        "record_id": record_id, "source": r.source, "source_id": r.source_id, "pmid": r.pmid, "doi": r.doi,
        "pmcid": r.pmcid, "title": r.title, "abstract": r.abstract_text,
        "authors": "; ".join(a.display for a in r.authors), "journal": r.journal, "journal_iso": r.journal_iso,
        "year": r.year, "volume": r.volume, "issue": r.issue, "pages": r.pages,
        "language": "; ".join(r.language), "publication_types": "; ".join(r.publication_types),
        "mesh": mesh_text(r), "keywords": "; ".join(r.keywords), "kind": r.kind,
        "entry_date": r.entry_date, "pub_date": r.pub_date,
    }


def records_frame(items: Iterable[tuple[int, Record]], designs: Mapping[int, Design] | None = None,
                  duplicate_of: Mapping[int, int] | None = None) -> pd.DataFrame:
    """DataFrame of records (year as nullable integer), with design and duplicate columns."""
    designs, duplicate_of = designs or {}, duplicate_of or {}
    rows = []
    for i, r in items:
        row = record_row(i, r)
        # A duplicate shows its cluster's label (classified from the merged record).
        d = designs.get(duplicate_of.get(i, i)) or designs.get(i)
        row.update(duplicate_of=duplicate_of.get(i), design=d.design if d else None,
                   evidence_tier=d.tier.value if d else None, tier_source=d.tier_source if d else None,
                   needs_review=needs_review(d) if d else None, self_reported=d.self_reported if d else None,
                   design_confidence=d.confidence if d else None,
                   design_reasons=" | ".join(d.reasons) if d else None)
        rows.append(row)
    df = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    df["year"] = df["year"].astype("Int64")
    df["duplicate_of"] = df["duplicate_of"].astype("Int64")
    return df
