"""Claim pins: a reviewer's decisions that a record does or does not bear on a claim (append-only)."""
from __future__ import annotations

from typing import Any

from review.errors import StoreError


class ClaimsStore:
    """Mixin for Store (uses self.conn and self.transaction). The latest row per (claim, record) wins."""

    def add_claim_pin(self, claim_id: str, record_id: int, pinned: bool, reviewer: str, reason: str | None,
                      at: str) -> int:
        """Append one pin (pinned=True) or unpin decision; returns its pin_id."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM records WHERE record_id = ?", (record_id,)).fetchone() is None:
                raise StoreError(f"no record with id {record_id} in {self.path}: nothing was pinned")
            return c.execute("INSERT INTO claim_pins (claim_id, record_id, pinned, reviewer, reason, at)"
                             " VALUES (?,?,?,?,?,?)",
                             (claim_id, record_id, int(pinned), reviewer, reason, at)).lastrowid

    def claim_pin_rows(self, claim_id: str | None = None, record_id: int | None = None) -> list[dict[str, Any]]:
        """The pin history (oldest first), optionally for one claim and/or one record."""
        sql, args = "SELECT * FROM claim_pins WHERE 1=1", []
        if claim_id is not None:
            sql += " AND claim_id = ?"
            args.append(claim_id)
        if record_id is not None:
            sql += " AND record_id = ?"
            args.append(record_id)
        return [dict(r) | {"pinned": bool(r["pinned"])}
                for r in self.conn.execute(sql + " ORDER BY at, pin_id", args)]

    def latest_claim_pins(self) -> dict[tuple[str, int], dict[str, Any]]:
        """(claim_id, record_id) -> the latest decision row."""
        return {(r["claim_id"], r["record_id"]): r for r in self.claim_pin_rows()}
