"""Classify the records of a store: only new or changed ones unless asked for all.

Records in a duplicate cluster are classified once, as the cluster's merged record (which
carries the PubMed publication types and MeSH of any member) under the primary record id;
the other members keep their own label too, so `export records` shows one on every row.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import os

from review.classify import classify_many
from review.models import DESIGN_TIER
from review.store import Store, utcnow

# Bump when the rules change: records classified by an older version are classified again.
VERSION = "rules-2026.11"


@dataclass
class ClassifySummary:
    classified: int
    unchanged: int
    seconds: float
    tiers: dict[str, int]

    def line(self) -> str:
        tiers = ", ".join(f"{k} {v}" for k, v in sorted(self.tiers.items(), key=lambda kv: -kv[1]))
        return (f"classified {self.classified} records ({self.unchanged} unchanged, skipped) in {self.seconds:.2f} s"
                + (f"; tiers of those classified: {tiers}" if tiers else ""))


def classify_store(store: Store, *, everything: bool = False) -> ClassifySummary:
    t0 = time.perf_counter()
    done = {} if everything else store.classified_hashes(VERSION)
    canonical = dict(store.canonical_records())
    items = list(canonical.items()) + [(rid, r) for rid, r in store.iter_records() if rid not in canonical]
    todo = []
    for rid, rec in items:
        h = rec.content_hash()
        if done.get(rid) != h:
            todo.append((rid, rec, h))
    # Large batches use every core (classify_many forks; small ones stay in this process).
    designs = classify_many([rec for _, rec, _ in todo], workers=min(2, os.cpu_count() or 1))
    rows = [(rid, d, h) for (rid, _, h), d in zip(todo, designs)]
    store.save_classifications(rows, VERSION, utcnow())
    return ClassifySummary(len(rows), len(items) - len(rows), time.perf_counter() - t0,
                           dict(Counter(d.tier.value for _, d, _ in rows)))


def override(store: Store, record_id: int, design: str, *, reviewer: str, reason: str,
             self_reported: bool | None = None) -> None:
    """A person's label, kept apart from the automatic one and surviving re-classification."""
    from review.errors import InputError

    if design not in DESIGN_TIER:
        raise InputError(f"design {design!r} is not one of: {', '.join(DESIGN_TIER)}")
    if not reviewer.strip() or not reason.strip():
        raise InputError("an override needs --reviewer and --reason (who decided, and why)")
    store.get_record(record_id)  # raises when the record does not exist
    store.add_override(record_id, design, DESIGN_TIER[design].value, self_reported, reviewer.strip(),
                       reason.strip(), utcnow())
