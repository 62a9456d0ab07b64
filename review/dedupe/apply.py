"""Deduplicate a store: run the engine over every record, respect a person's pair decisions,
and reconcile with the clusters already stored (unchanged clusters keep their ids).

A person's decisions win over the engine: 'duplicate' joins two records' clusters, 'distinct'
keeps them apart (an undo records 'distinct' for every pair it splits, so a later run does not
merge them again). Every merge keeps its rule and scores; nothing in `records` is changed, so an
undo restores the exact earlier state.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from review.dedupe import dedupe, merge_records
from review.errors import InputError
from review.models import Record, accession_of
from review.store import Store, utcnow

PERSON_RULE = "person_decision"
# Copies of one accession in one export (see models.repeated_id): exact duplicates by construction.
ACCESSION_RULE = "same_accession"


@dataclass
class DedupeSummary:
    counts: dict[str, int]
    added: int
    retired: int
    kept: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        c = self.counts
        return (f"{c['records']} records -> {c['records'] - c['duplicates']} after deduplication: "
                f"{c['clusters']} duplicate clusters ({c['exact']} exact matches, {c['rule']} rule-based merges, "
                f"{c['person']} by a person), {c['uncertain']} uncertain pairs for a person; "
                f"{self.added} clusters new, {self.retired} retired, {self.kept} unchanged ({self.seconds:.2f} s)"
                + (f"; {c['related']} corrections, retractions or comments linked to their articles (not merged)"
                   if c.get("related") else ""))


class _Components:
    """Union-find over record ids."""

    def __init__(self, ids: Iterable[int]):
        self.parent = {i: i for i in ids}

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[tuple[int, ...]]:
        out: dict[int, list[int]] = {}
        for i in self.parent:
            out.setdefault(self.find(i), []).append(i)
        return [tuple(sorted(g)) for g in out.values() if len(g) > 1]


def _apply_decisions(ids: list[int], edges: list[tuple[int, int, str, dict, str]],
                     decisions: dict[tuple[int, int], str]) -> tuple[list[tuple[int, ...]], list, list[str]]:
    """Clusters from engine edges plus 'duplicate' decisions, never joining a 'distinct' pair."""
    distinct = {p for p, d in decisions.items() if d == "distinct"}
    known = set(ids)
    kept = [e for e in edges if (min(e[0], e[1]), max(e[0], e[1])) not in distinct]
    kept += [(a, b, PERSON_RULE, {}, "person") for (a, b), d in decisions.items()
             if d == "duplicate" and a in known and b in known]
    notes = []
    while True:
        comp = _Components(ids)
        for a, b, *_ in kept:
            comp.union(a, b)
        clash = next(((a, b) for a, b in distinct if a in known and b in known and comp.find(a) == comp.find(b)),
                     None)
        if clash is None:
            return comp.groups(), kept, notes
        # Still joined through a third record: cut the automatic edges of the record with fewer of them.
        a, b = clash
        deg = {x: sum(1 for e in kept if x in e[:2] and e[4] == "auto") for x in clash}
        cut = min(clash, key=lambda x: (deg[x], x))
        kept = [e for e in kept if not (cut in e[:2] and e[4] == "auto")]
        notes.append(f"records {a} and {b} were marked distinct but linked through others; "
                     f"record {cut} was kept apart")


def dedupe_store(store: Store, progress: Callable[[int, int], None] | None = None) -> DedupeSummary:
    """Deduplicate every record; ``progress(1, 3)`` after each phase (read, match, store)."""
    step = (lambda: progress(1, 3)) if progress else (lambda: None)
    if progress:
        progress(0, 3)
    t0 = time.perf_counter()
    items = list(store.iter_records())
    records = dict(items)
    step()
    result = dedupe(items)
    step()
    decisions = store.pair_decisions()
    same_accession = accession_edges(items)
    joined = {(min(e[0], e[1]), max(e[0], e[1])) for e in same_accession}
    edges = [(e.a, e.b, e.rule, e.scores, "auto") for c in result.clusters for e in c.edges
             if (min(e.a, e.b), max(e.a, e.b)) not in joined] + same_accession
    groups, kept_edges, notes = _apply_decisions(list(records), edges, decisions)
    at = utcnow()

    existing = {members: cid for cid, members in store.active_clusters().items()}
    wanted = set(groups)
    exact_rules = _exact_rules()
    counts = {"records": len(items), "clusters": len(groups),
              "duplicates": sum(len(g) - 1 for g in groups),
              "exact": sum(1 for e in kept_edges if e[2] in exact_rules),
              "rule": sum(1 for e in kept_edges if e[2] not in exact_rules and e[4] == "auto"),
              "person": sum(1 for e in kept_edges if e[4] == "person"),
              "uncertain": 0}
    open_uncertain = [(u.a, u.b, u.reason, u.scores | ({"detail": u.detail} if u.detail else {}))
                      for u in result.uncertain if (min(u.a, u.b), max(u.a, u.b)) not in decisions
                      and (min(u.a, u.b), max(u.a, u.b)) not in joined]
    counts["uncertain"] = len(open_uncertain)
    counts["related"] = len(result.related)
    with store.transaction():
        dedupe_id = store.add_dedupe_run(at, counts, time.perf_counter() - t0)
        retired = 0
        for members, cid in existing.items():
            if members not in wanted:
                store.retire_cluster(cid, at, "dedupe: superseded by a later run")
                retired += 1
        added = 0
        by_group: dict[tuple[int, ...], list] = {}
        for e in kept_edges:
            for g in groups:
                if e[0] in g:
                    by_group.setdefault(g, []).append(e)
                    break
        for g in groups:
            if g in existing:
                continue
            canonical = merge_records([records[i] for i in g])
            store.add_cluster(g, canonical, by_group.get(g, []), dedupe_id, at)
            added += 1
        store.replace_uncertain(open_uncertain, dedupe_id)
        store.replace_related([(r.record_id, r.article_id, r.kind, r.rule) for r in result.related], dedupe_id)
    step()
    return DedupeSummary(counts, added, retired, len(wanted & set(existing)), time.perf_counter() - t0, notes)


def accession_edges(items: Iterable[tuple[int, Record]]) -> list[tuple[int, int, str, dict, str]]:
    """Edges joining each repeated copy of an accession to the first copy in the same source."""
    first: dict[tuple[str, str], int] = {}
    out = []
    for rid, r in items:
        key = (r.source, accession_of(r.source_id))
        if key in first:
            out.append((first[key], rid, ACCESSION_RULE, {}, "auto"))
        else:
            first[key] = rid
    return out


def _exact_rules() -> set[str]:
    from review.dedupe import rules

    return {r.name for r in rules.DUPLICATE_RULES if r.kind == "exact"} | {ACCESSION_RULE}


def undo(store: Store, cluster_id: int, *, by: str) -> tuple[int, ...]:
    """Split a cluster back into its records and remember that they are distinct."""
    info = store.cluster(cluster_id)
    if info["undone_at"]:
        raise InputError(f"duplicate cluster {cluster_id} was already undone ({info['undone_at']})")
    at = utcnow()
    members = tuple(info["members"])
    with store.transaction():
        store.retire_cluster(cluster_id, at, by)
        store.add_pair_decisions((a, b, "distinct", by, at, f"undo of cluster {cluster_id}")
                                 for a, b in itertools.combinations(members, 2))
    return members


def canonical_of(records: list[Record]) -> Record:
    return merge_records(records)
