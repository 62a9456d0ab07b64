"""Deduplication tables: clusters with a canonical record, the merge audit, uncertain pairs,
and a person's pair decisions (which later runs must respect)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from review.errors import StoreError
from review.models import Record


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class DedupeStore:
    """Mixin for Store (uses self.conn and self.transaction)."""

    # ---------------------------------------------------------------- matching keys
    def cached_keys(self) -> dict[int, tuple[str, str]]:
        """record_id -> (content_hash, keys JSON) of the normalised keys computed so far."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute("SELECT record_id, content_hash, keys FROM record_keys")}

    def save_keys(self, rows: Iterable[tuple[int, str, str]]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO record_keys (record_id, content_hash, keys) VALUES (?,?,?)", rows)

    # ---------------------------------------------------------------- clusters
    def active_clusters(self) -> dict[int, tuple[int, ...]]:
        """cluster_id -> member record ids (sorted) of clusters not undone."""
        out: dict[int, list[int]] = {}
        for cid, rid in self.conn.execute(
                "SELECT m.cluster_id, m.record_id FROM cluster_members m JOIN clusters c USING (cluster_id)"
                " WHERE c.undone_at IS NULL ORDER BY m.cluster_id, m.record_id"):
            out.setdefault(cid, []).append(rid)
        return {k: tuple(v) for k, v in out.items()}

    def cluster(self, cluster_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM clusters WHERE cluster_id = ?", (cluster_id,)).fetchone()
        if row is None:
            raise StoreError(f"no duplicate cluster {cluster_id} in {self.path}")
        d = dict(row)
        d["members"] = [r[0] for r in self.conn.execute(
            "SELECT record_id FROM cluster_members WHERE cluster_id = ? ORDER BY record_id", (cluster_id,))]
        d["merges"] = [dict(r) | {"scores": json.loads(r["scores"] or "null")} for r in self.conn.execute(
            "SELECT record_a, record_b, rule, scores, decided_by FROM merges WHERE cluster_id = ?"
            " ORDER BY merge_id", (cluster_id,))]
        return d

    def add_dedupe_run(self, at: str, counts: dict[str, int], seconds: float) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO dedupe_runs (at, n_records, n_clusters, n_exact, n_rule, n_uncertain, seconds)"
                " VALUES (?,?,?,?,?,?,?)",
                (at, counts["records"], counts["clusters"], counts["exact"], counts["rule"], counts["uncertain"],
                 seconds))
            return cur.lastrowid

    def add_cluster(self, members: Sequence[int], canonical: Record, edges: Iterable[tuple[int, int, str, Any, str]],
                    dedupe_id: int | None, at: str) -> int:
        """One cluster, its members and the merges (a, b, rule, scores, decided_by) that made it."""
        primary = min(members)  # the earliest record: stable when later imports join the cluster
        with self.transaction() as c:
            cid = c.execute("INSERT INTO clusters (primary_id, canonical, dedupe_id, created_at) VALUES (?,?,?,?)",
                            (primary, canonical.to_json(), dedupe_id, at)).lastrowid
            c.executemany("INSERT INTO cluster_members (cluster_id, record_id) VALUES (?,?)",
                          ((cid, m) for m in sorted(members)))
            c.executemany("INSERT INTO merges (cluster_id, record_a, record_b, rule, scores, decided_by)"
                          " VALUES (?,?,?,?,?,?)",
                          ((cid, *_pair(a, b), rule, json.dumps(scores), by) for a, b, rule, scores, by in edges))
            return cid

    def retire_cluster(self, cluster_id: int, at: str, by: str) -> None:
        with self.transaction() as c:
            n = c.execute("UPDATE clusters SET undone_at = ?, undone_by = ? WHERE cluster_id = ? AND undone_at IS NULL",
                          (at, by, cluster_id)).rowcount
            if n == 0:
                raise StoreError(f"duplicate cluster {cluster_id} does not exist or was already undone")

    def replace_uncertain(self, pairs: Iterable[tuple[int, int, str, Any]], dedupe_id: int) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM uncertain_pairs")
            c.executemany("INSERT OR REPLACE INTO uncertain_pairs (record_a, record_b, scores, reason, dedupe_id)"
                          " VALUES (?,?,?,?,?)",
                          ((*_pair(a, b), json.dumps(scores), reason, dedupe_id) for a, b, reason, scores in pairs))

    def replace_related(self, links: Iterable[tuple[int, int, str, str]], dedupe_id: int) -> None:
        """(record_id, article_id, kind, rule) links found by a dedupe run, replacing the previous run's."""
        with self.transaction() as c:
            c.execute("DELETE FROM related_reports")
            c.executemany("INSERT OR REPLACE INTO related_reports (record_id, article_id, kind, rule, dedupe_id)"
                          " VALUES (?,?,?,?,?)", ((*link, dedupe_id) for link in links))

    def related_reports(self) -> list[dict[str, Any]]:
        """Corrections, retractions and comments with the article each names (record_id -> article_id)."""
        return [dict(r) for r in self.conn.execute(
            "SELECT record_id, article_id, kind, rule FROM related_reports ORDER BY article_id, record_id")]

    def uncertain_pairs(self) -> list[dict[str, Any]]:
        """Open uncertain pairs (those without a person's decision), by record ids."""
        decided = self.pair_decisions()
        rows = self.conn.execute("SELECT * FROM uncertain_pairs ORDER BY record_a, record_b").fetchall()
        return [dict(r) | {"scores": json.loads(r["scores"] or "null")} for r in rows
                if (r["record_a"], r["record_b"]) not in decided]

    # ---------------------------------------------------------------- a person's decisions
    def add_pair_decisions(self, rows: Iterable[tuple[int, int, str, str, str, str | None]]) -> None:
        """(a, b, 'duplicate'|'distinct', decided_by, at, note); the latest decision on a pair wins."""
        with self.transaction() as c:
            c.executemany("INSERT INTO pair_decisions (record_a, record_b, decision, decided_by, at, note)"
                          " VALUES (?,?,?,?,?,?)", ((*_pair(a, b), d, by, at, note) for a, b, d, by, at, note in rows))

    def pair_decisions(self) -> dict[tuple[int, int], str]:
        out: dict[tuple[int, int], str] = {}
        for a, b, d in self.conn.execute("SELECT record_a, record_b, decision FROM pair_decisions ORDER BY at"):
            out[(a, b)] = d
        return out

    # ---------------------------------------------------------------- what later steps read
    def duplicate_of(self) -> dict[int, int]:
        """record_id -> primary record_id, for every non-primary member of an active cluster."""
        return {rid: pid for rid, pid in self.conn.execute(
            "SELECT m.record_id, c.primary_id FROM cluster_members m JOIN clusters c USING (cluster_id)"
            " WHERE c.undone_at IS NULL AND m.record_id != c.primary_id")}

    def canonical_records(self) -> Iterator[tuple[int, Record]]:
        """The deduplicated set: each cluster once (its primary id, merged record), plus every
        record in no cluster; deleted records left out. Ordered by record id."""
        merged = {pid: Record.from_dict(json.loads(data)) for pid, data in self.conn.execute(
            "SELECT primary_id, canonical FROM clusters WHERE undone_at IS NULL")}
        dup = self.duplicate_of()
        for rid, data in self.conn.execute("SELECT record_id, data FROM records WHERE deleted = 0 ORDER BY record_id"):
            if rid in dup:
                continue
            yield rid, merged.get(rid) or Record.from_dict(json.loads(data))

    def duplicate_rows(self) -> list[dict[str, Any]]:
        """cluster_id, record_id, source, source_id, rule (how the record joined), primary flag."""
        rows = self.conn.execute(
            "SELECT c.cluster_id, c.primary_id, r.record_id, r.source, r.source_id FROM clusters c"
            " JOIN cluster_members m USING (cluster_id) JOIN records r ON r.record_id = m.record_id"
            " WHERE c.undone_at IS NULL ORDER BY c.cluster_id, r.record_id").fetchall()
        rules: dict[tuple[int, int], list[str]] = {}
        for cid, a, b, rule in self.conn.execute(
                "SELECT cluster_id, record_a, record_b, rule FROM merges"):
            for rid in (a, b):
                rules.setdefault((cid, rid), []).append(rule)
        return [{"cluster_id": r["cluster_id"], "record_id": r["record_id"], "source": r["source"],
                 "source_id": r["source_id"], "primary": r["record_id"] == r["primary_id"],
                 "rule": "; ".join(sorted(set(rules.get((r["cluster_id"], r["record_id"]), []))))} for r in rows]
