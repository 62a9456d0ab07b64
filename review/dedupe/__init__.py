"""Deduplication: normalise -> block -> score -> rules -> constrained clusters -> merge.

Two entry points share one engine (`match.run` over the frame of normalised keys):
`find_duplicates` for a records table (benchmarks, notebooks) and `dedupe` for stored
records. Zero false merges comes first: anything a guard rule doubts is returned as an
uncertain pair for a person, never merged.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from review.dedupe import match, rules
from review.dedupe.merge import merge_records
from review.dedupe.normalise import (
    MatchKeys,
    normalise_record,
    normalise_table,
    raw_table,
    records_table,
)
from review.errors import InputError
from review.models import Record

__all__ = [
    "Cluster", "DedupeResult", "MatchKeys", "MergeEdge", "RelatedReport", "UncertainPair", "dedupe",
    "find_duplicates", "merge_records", "normalise_record",
]

# Scores reported with every merge and uncertain pair.
SCORE_FIELDS = ("title", "title_words", "authors", "first_author", "journal", "year_diff",
                "volume", "pages", "doi", "pmid", "abstract")


@dataclass(frozen=True)
class MergeEdge:
    """Two records merged directly, the rule that merged them and the pair's scores."""

    a: int
    b: int
    rule: str
    scores: dict[str, float | None]


@dataclass(frozen=True)
class UncertainPair:
    """A pair that looks alike but was not merged, and why (a guard's name or 'weak_evidence')."""

    a: int
    b: int
    reason: str
    scores: dict[str, float | None]
    detail: str = ""  # e.g. the contrasting words of a minimal pair


@dataclass(frozen=True)
class Cluster:
    """Records found to be one publication, with their canonical merged record."""

    ids: tuple[int, ...]
    canonical: Record
    edges: tuple[MergeEdge, ...]
    source_ids: tuple[tuple[str, str], ...]  # (source, source_id) of every member


@dataclass(frozen=True)
class DedupeResult:
    """Clusters of two or more records, uncertain pairs, and counts."""

    clusters: tuple[Cluster, ...]
    uncertain: tuple[UncertainPair, ...]
    singletons: tuple[int, ...]
    counts: dict[str, int] = field(default_factory=dict)
    related: tuple["RelatedReport", ...] = ()


@dataclass(frozen=True)
class RelatedReport:
    """A correction, retraction or comment (record_id) and the article it names (article_id); not a merge."""

    record_id: int
    article_id: int
    kind: str  # correction | retraction | comment
    rule: str  # a name in review.dedupe.related.RELATED_RULES


def _scores(row: Any) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in SCORE_FIELDS:
        value = float(getattr(row, name))
        out[name] = None if math.isnan(value) else round(value, 4)
    return out


def find_duplicates(df: pd.DataFrame) -> pd.Series:
    """Cluster id per row (index aligned with df); rows without duplicates get their own id.

    Columns follow bibliographic exports (ID, title, author, year, journal, volume,
    number, pages, doi, abstract, pmid, ENTRYTYPE, ...); any may be missing.
    """
    raw = raw_table(df)
    ids = df["ID"].tolist() if "ID" in df.columns else list(df.index)
    result = match.run(normalise_table(raw, ids))
    return pd.Series(result.labels, index=df.index, name="cluster_id", dtype="int64")


def _validate(records: Sequence[tuple[int, Record]]) -> None:
    problems = []
    seen: set[int] = set()
    for position, item in enumerate(records):
        if not (isinstance(item, tuple) and len(item) == 2):
            problems.append(f"item {position}: expected (record id, Record), got {item!r:.60}")
            continue
        record_id, record = item
        if not isinstance(record_id, (int, np.integer)) or isinstance(record_id, bool):
            problems.append(f"item {position}: record id {record_id!r} is not an integer")
        elif record_id in seen:
            problems.append(f"item {position}: record id {record_id} appears more than once")
        else:
            seen.add(int(record_id))
        if not isinstance(record, Record):
            problems.append(f"item {position} (id {record_id!r}): expected Record, "
                            f"got {type(record).__name__}")
        if len(problems) >= 20:
            break
    if problems:
        raise InputError("dedupe: cannot read the records given", problems)


def dedupe(records: Sequence[tuple[int, Record]]) -> DedupeResult:
    """Deduplicate stored records given as (record id, Record) pairs."""
    _validate(records)
    ids = [int(record_id) for record_id, _ in records]
    recs = [record for _, record in records]
    result = match.run(normalise_table(records_table(recs), ids))
    exact_rules = {r.name for r in rules.DUPLICATE_RULES if r.kind == "exact"}

    edges_by_label: dict[int, list[MergeEdge]] = {}
    for row in result.edges.itertuples(index=False):
        edge = MergeEdge(ids[row.i], ids[row.j], row.rule, _scores(row))
        edges_by_label.setdefault(int(result.labels[row.i]), []).append(edge)

    members: dict[int, list[int]] = {}
    for position, label in enumerate(result.labels):
        members.setdefault(int(label), []).append(position)
    clusters, singletons = [], []
    for label, positions in members.items():
        if len(positions) == 1:
            singletons.append(ids[positions[0]])
            continue
        group = [recs[p] for p in positions]
        clusters.append(Cluster(
            ids=tuple(ids[p] for p in positions),
            canonical=merge_records(group),
            edges=tuple(edges_by_label.get(label, ())),
            source_ids=tuple((r.source, r.source_id) for r in group),
        ))
    uncertain = tuple(
        UncertainPair(ids[row.i], ids[row.j], row.reason, _scores(row), row.contrast)
        for row in result.uncertain.itertuples(index=False)
    )
    related = tuple(RelatedReport(ids[link.notice], ids[link.article], link.kind, link.rule)
                    for link in result.related)
    n_exact = int(result.edges["rule"].isin(exact_rules).sum()) if len(result.edges) else 0
    counts = {
        "records": len(recs),
        "clusters": len(clusters),
        "duplicates": sum(len(c.ids) - 1 for c in clusters),
        "exact": n_exact,
        "rule_based": len(result.edges) - n_exact,
        "uncertain": len(uncertain),
        "candidate_pairs": result.n_candidates,
        "related": len(related),
    }
    return DedupeResult(tuple(clusters), uncertain, tuple(singletons), counts, related)
