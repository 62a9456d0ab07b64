"""Extraction and risk-of-bias tables: the append-only value history, exported sheets, uploads, full texts.

Value rows are never updated or deleted: a changed cell, a cleared cell and a resolution are each
a new row (``kind`` = 'value' | 'resolution'); current and final values are computed in
``review.extraction``. Full-text look-ups are appended too; the latest per record counts.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

VALUE_COLUMNS = ("value_id", "record_id", "form", "item", "field", "value", "extractor", "kind", "suggested",
                 "file_hash", "at")
FULLTEXT_COLUMNS = ("fulltext_id", "record_id", "status", "source", "pmcid", "path", "sha256", "reason", "at")

# (record_id, form, item, field, value, extractor, kind, suggested, file_hash, at)
ValueInsert = tuple[int, str, str, str, str | None, str, str, int, str | None, str]


class ExtractionStore:
    """Mixin for Store (uses self.conn and self.transaction)."""

    # ---------------------------------------------------------------- values
    def extraction_history(self) -> list[dict[str, Any]]:
        """Every value row, oldest first."""
        return [dict(r) for r in self.conn.execute(
            f"SELECT {', '.join(VALUE_COLUMNS)} FROM extraction_values ORDER BY value_id")]

    def save_extraction_upload(self, file_hash: str, extractor: str, kind: str, file: str, at: str,
                               rows: Sequence[ValueInsert]) -> int:
        """Log an upload and append its value rows together: both or neither."""
        with self.transaction() as c:
            c.executemany("INSERT INTO extraction_values (record_id, form, item, field, value, extractor, kind,"
                          " suggested, file_hash, at) VALUES (?,?,?,?,?,?,?,?,?,?)", list(rows))
            c.execute("INSERT INTO extraction_uploads (file_hash, extractor, kind, file, n_values, at)"
                      " VALUES (?,?,?,?,?,?)", (file_hash, extractor, kind, file, len(rows), at))
            return len(rows)

    def extraction_upload(self, file_hash: str, extractor: str, kind: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM extraction_uploads WHERE file_hash = ? AND extractor = ? AND kind = ?",
                                (file_hash, extractor, kind)).fetchone()
        return dict(row) if row else None

    # ---------------------------------------------------------------- exported sheets
    def save_extraction_export(self, export_id: str, extractor: str, at: str, record_ids: Sequence[int],
                               forms: Mapping[int, Sequence[str]], key_hashes: Mapping[int, str],
                               suggested: Mapping[str, str]) -> None:
        """Remember what a workbook held: records, forms per record, key hashes and the suggested cells."""
        with self.transaction() as c:
            c.execute("INSERT INTO extraction_exports (export_id, extractor, at, record_ids, forms, key_hash,"
                      " suggested) VALUES (?,?,?,?,?,?,?)",
                      (export_id, extractor, at, json.dumps(list(record_ids)),
                       json.dumps({str(k): list(v) for k, v in forms.items()}),
                       json.dumps({str(k): v for k, v in key_hashes.items()}), json.dumps(dict(suggested))))

    def extraction_export(self, export_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM extraction_exports WHERE export_id = ?", (export_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["record_ids"] = json.loads(d["record_ids"])
        d["forms"] = {int(k): v for k, v in json.loads(d["forms"]).items()}
        d["key_hash"] = {int(k): v for k, v in json.loads(d["key_hash"]).items()}
        d["suggested"] = json.loads(d["suggested"])
        return d

    # ---------------------------------------------------------------- full texts
    def add_fulltexts(self, rows: Iterable[tuple]) -> int:
        """(record_id, status, source, pmcid, path, sha256, reason, at) rows, appended in one transaction."""
        with self.transaction() as c:
            return c.executemany("INSERT INTO fulltexts (record_id, status, source, pmcid, path, sha256, reason, at)"
                                 " VALUES (?,?,?,?,?,?,?,?)", list(rows)).rowcount

    def latest_fulltexts(self) -> dict[int, dict[str, Any]]:
        """record_id -> its latest full-text look-up."""
        out: dict[int, dict[str, Any]] = {}
        for r in self.conn.execute(f"SELECT {', '.join(FULLTEXT_COLUMNS)} FROM fulltexts ORDER BY fulltext_id"):
            out[r["record_id"]] = dict(r)
        return out
