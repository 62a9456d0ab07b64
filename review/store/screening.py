"""Screening tables: the append-only decision history, exported sheets and imported uploads.

History rows are never updated or deleted: a changed decision, a resolution and a re-open are
each a new row (``kind`` = 'decision' | 'resolution' | 'reopen'); the current state is computed
from the rows in ``review.screening``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

HISTORY_COLUMNS = ("decision_id", "record_id", "stage", "reviewer", "decision", "reason", "notes", "kind",
                   "file_hash", "at")

# (record_id, stage, reviewer, decision, reason, notes, kind, file_hash, at)
HistoryInsert = tuple[int, str, str, str, str | None, str | None, str, str | None, str]


class ScreeningStore:
    """Mixin for Store (uses self.conn and self.transaction)."""

    # ---------------------------------------------------------------- history
    def screening_history(self, stage: str | None = None) -> list[dict[str, Any]]:
        """Every history row (oldest first), optionally for one stage."""
        sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM screening_decisions"
        args: tuple = ()
        if stage is not None:
            sql += " WHERE stage = ?"
            args = (stage,)
        return [dict(r) for r in self.conn.execute(sql + " ORDER BY decision_id", args)]

    def add_screening_rows(self, rows: Iterable[HistoryInsert]) -> int:
        """Append history rows in one transaction; returns how many were written."""
        with self.transaction() as c:
            cur = c.executemany(
                "INSERT INTO screening_decisions (record_id, stage, reviewer, decision, reason, notes, kind,"
                " file_hash, at) VALUES (?,?,?,?,?,?,?,?,?)", list(rows))
            return cur.rowcount

    def stored_record_ids(self) -> set[int]:
        """Every record id in the store (to tell an unknown id from one merely not exported)."""
        return {r[0] for r in self.conn.execute("SELECT record_id FROM records")}

    # ---------------------------------------------------------------- exported sheets
    def save_screening_export(self, export_id: str, stage: str, reviewer: str, at: str,
                              record_ids: Sequence[int], key_hashes: Sequence[str]) -> None:
        """Remember what a sheet held: record ids in row order and each row's key hash (same order)."""
        with self.transaction() as c:
            c.execute("INSERT INTO screening_exports (export_id, stage, reviewer, at, record_ids, key_hash)"
                      " VALUES (?,?,?,?,?,?)",
                      (export_id, stage, reviewer, at, json.dumps(list(record_ids)), json.dumps(list(key_hashes))))

    def screening_export(self, export_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM screening_exports WHERE export_id = ?", (export_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["record_ids"] = json.loads(d["record_ids"])
        d["key_hash"] = json.loads(d["key_hash"])
        return d

    def screening_exports(self) -> list[dict[str, Any]]:
        return [dict(r) | {"n_records": len(json.loads(r["record_ids"]))} for r in self.conn.execute(
            "SELECT export_id, stage, reviewer, at, record_ids FROM screening_exports ORDER BY at, export_id")]

    # ---------------------------------------------------------------- uploads
    def screening_upload(self, file_hash: str, reviewer: str, stage: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM screening_uploads WHERE file_hash = ? AND reviewer = ? AND stage = ?",
                                (file_hash, reviewer, stage)).fetchone()
        return dict(row) if row else None

    def save_screening_upload(self, file_hash: str, reviewer: str, stage: str, file: str, n_rows: int, at: str,
                              rows: Iterable[HistoryInsert]) -> int:
        """Log an upload and append its history rows together: both or neither."""
        with self.transaction() as c:
            n = self.add_screening_rows(rows)
            c.execute("INSERT INTO screening_uploads (file_hash, reviewer, stage, file, n_rows, at)"
                      " VALUES (?,?,?,?,?,?)", (file_hash, reviewer, stage, file, n_rows, at))
            return n

    def screening_uploads(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM screening_uploads ORDER BY at")]
