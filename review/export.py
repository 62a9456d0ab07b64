"""Flat tables for people and spreadsheets: one row per record."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from review.models import Record

RECORD_COLUMNS = ["record_id", "source", "source_id", "pmid", "doi", "pmcid", "title", "abstract", "authors",
                  "journal", "journal_iso", "year", "volume", "issue", "pages", "language", "publication_types",
                  "mesh", "keywords", "kind", "entry_date", "pub_date"]


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


def records_frame(items: Iterable[tuple[int, Record]]) -> pd.DataFrame:
    """DataFrame of records (year as nullable integer)."""
    df = pd.DataFrame([record_row(i, r) for i, r in items], columns=RECORD_COLUMNS)
    df["year"] = df["year"].astype("Int64")
    return df
