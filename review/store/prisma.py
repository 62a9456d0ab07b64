"""PRISMA reads: which run found which record, report-to-study links, and how current the data are.

Only reads (plus the study links a person records): the counts themselves are computed in
``review.prisma`` from these rows and the screening statuses, never stored.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Tables whose newest timestamp says how current the data behind a PRISMA export are. Automatic
# re-runs that change nothing (a dedupe run, `classify --all`) are left out on purpose, so a
# refresh with nothing new gives the same stamp and byte-identical tables.
_AS_OF_SQL = """
    SELECT MAX(t) FROM (
        SELECT MAX(COALESCE(finished_at, started_at)) AS t FROM runs
        UNION ALL SELECT MAX(at) FROM screening_decisions
        UNION ALL SELECT MAX(at) FROM study_links
        UNION ALL SELECT MAX(at) FROM design_overrides
        UNION ALL SELECT MAX(at) FROM pair_decisions
        UNION ALL SELECT MAX(created_at) FROM clusters
        UNION ALL SELECT MAX(undone_at) FROM clusters
    )
"""


class PrismaStore:
    """Mixin for Store (uses self.conn and self.transaction)."""

    def identified_rows(self) -> list[dict[str, Any]]:
        """One row per (record, run type) pair: record id, record source, deleted flag, run source type."""
        return [dict(r) for r in self.conn.execute(
            "SELECT DISTINCT rr.record_id, rec.source AS source, rec.deleted AS deleted, r.source_type AS source_type"
            " FROM run_records rr JOIN records rec ON rec.record_id = rr.record_id"
            " JOIN runs r ON r.run_id = rr.run_id ORDER BY rr.record_id, r.source_type")]

    def unlinked_record_ids(self) -> list[int]:
        """Live records that no search or import run links to (stored some other way)."""
        return [r[0] for r in self.conn.execute(
            "SELECT record_id FROM records WHERE deleted = 0 AND record_id NOT IN"
            " (SELECT record_id FROM run_records) ORDER BY record_id")]

    def run_link_counts(self) -> dict[str, int]:
        """run_id -> records linked to that run."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT run_id, COUNT(*) FROM run_records GROUP BY run_id")}

    def cluster_primaries(self) -> dict[int, tuple[int, tuple[int, ...]]]:
        """cluster_id -> (primary record id, member ids) for clusters not undone."""
        out: dict[int, tuple[int, list[int]]] = {}
        for cid, pid, rid in self.conn.execute(
                "SELECT c.cluster_id, c.primary_id, m.record_id FROM clusters c JOIN cluster_members m"
                " USING (cluster_id) WHERE c.undone_at IS NULL ORDER BY c.cluster_id, m.record_id"):
            out.setdefault(cid, (pid, []))[1].append(rid)
        return {cid: (pid, tuple(members)) for cid, (pid, members) in out.items()}

    # ---------------------------------------------------------------- several reports of one study
    def study_links(self) -> dict[int, int]:
        """record_id -> study_id (the record standing for the study) for every linked report."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT record_id, study_id FROM study_links")}

    def save_study_links(self, record_ids: Iterable[int], study_id: int, by: str, at: str) -> int:
        """Link reports to a study (replacing earlier links of those reports); one transaction."""
        with self.transaction() as c:
            return c.executemany(
                "INSERT OR REPLACE INTO study_links (record_id, study_id, linked_by, at) VALUES (?,?,?,?)",
                [(rid, study_id, by, at) for rid in record_ids]).rowcount

    def delete_study_links(self, record_ids: Iterable[int]) -> int:
        with self.transaction() as c:
            return c.executemany("DELETE FROM study_links WHERE record_id = ?",
                                 [(rid,) for rid in record_ids]).rowcount

    # ---------------------------------------------------------------- the stamp
    def data_as_of(self) -> dict[str, Any]:
        """Newest stored change (runs, screening, links, overrides, duplicate clusters), latest run and decision."""
        as_of = self.conn.execute(_AS_OF_SQL).fetchone()[0]
        run = self.conn.execute(
            "SELECT run_id FROM runs ORDER BY COALESCE(finished_at, started_at) DESC, run_id DESC LIMIT 1").fetchone()
        decision = self.conn.execute(
            "SELECT decision_id, at FROM screening_decisions ORDER BY decision_id DESC LIMIT 1").fetchone()
        return {"as_of": as_of, "latest_run": run[0] if run else None,
                "latest_decision": decision[0] if decision else None}
