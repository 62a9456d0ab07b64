"""Classification tables: the automatic label per record and a person's overrides (kept apart)."""
from __future__ import annotations

import json
from collections.abc import Iterable

from review.models import Design, Tier


class ClassifyStore:
    """Mixin for Store (uses self.conn and self.transaction)."""

    def classified_hashes(self, version: str) -> dict[int, str]:
        """record_id -> content hash of the record when classified by this classifier version."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT record_id, content_hash FROM classifications WHERE version = ?", (version,))}

    def save_classifications(self, rows: Iterable[tuple[int, Design, str]], version: str, at: str) -> int:
        """(record_id, design, content_hash) rows, replacing earlier automatic labels."""
        n = 0
        with self.transaction() as c:
            for rid, d, h in rows:
                c.execute("INSERT OR REPLACE INTO classifications (record_id, design, tier, confidence, self_reported,"
                          " reasons, content_hash, version, at) VALUES (?,?,?,?,?,?,?,?,?)",
                          (rid, d.design, d.tier.value, d.confidence, int(d.self_reported), json.dumps(list(d.reasons)),
                           h, version, at))
                n += 1
        return n

    def add_override(self, record_id: int, design: str, tier: str, self_reported: bool | None, reviewer: str,
                     reason: str, at: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO design_overrides (record_id, design, tier, self_reported, reviewer, reason, at)"
                      " VALUES (?,?,?,?,?,?,?)",
                      (record_id, design, tier, None if self_reported is None else int(self_reported), reviewer,
                       reason, at))

    def add_overrides(self, rows: Iterable[tuple]) -> int:
        """Append (record_id, design, tier, self_reported, reviewer, reason, at) rows together: all or none."""
        n = 0
        with self.transaction() as c:
            for row in rows:
                c.execute("INSERT INTO design_overrides (record_id, design, tier, self_reported, reviewer, reason, at)"
                          " VALUES (?,?,?,?,?,?,?)", row)
                n += 1
        return n

    def designs(self) -> dict[int, Design]:
        """record_id -> effective design: a person's latest override wins over the automatic label."""
        out: dict[int, Design] = {}
        for r in self.conn.execute("SELECT * FROM classifications"):
            out[r["record_id"]] = Design(r["design"], Tier(r["tier"]), r["confidence"],
                                         tuple(json.loads(r["reasons"])), bool(r["self_reported"]))
        for r in self.conn.execute("SELECT * FROM design_overrides ORDER BY at, override_id"):
            auto = out.get(r["record_id"])
            self_rep = bool(r["self_reported"]) if r["self_reported"] is not None else bool(auto and auto.self_reported)
            out[r["record_id"]] = Design(r["design"], Tier(r["tier"]), 1.0,
                                         (f"override by {r['reviewer']} ({r['at'][:10]}): {r['reason']}",)
                                         + (tuple(f"automatic was {auto.design}: " + "; ".join(auto.reasons)
                                                  for _ in [0]) if auto else ()), self_rep,
                                         confirmed_by=r["reviewer"])
        return out

    def confirmed_designs(self) -> list[dict]:
        """The latest person-confirmed design per record (override_id, record_id, design, reviewer, at)."""
        return [dict(r) for r in self.conn.execute(
            "SELECT o.override_id, o.record_id, o.design, o.reviewer, o.at FROM design_overrides o"
            " WHERE o.override_id = (SELECT p.override_id FROM design_overrides p WHERE p.record_id = o.record_id"
            " ORDER BY p.at DESC, p.override_id DESC LIMIT 1) ORDER BY o.record_id")]

    def last_override_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(override_id), 0) FROM design_overrides").fetchone()[0]

    def save_design_model(self, version: str, built_at: str, n_train: int, n_confirmed: int,
                          confirmed_through: int, model: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO design_models (version, built_at, n_train, n_confirmed, confirmed_through,"
                      " model) VALUES (?,?,?,?,?,?)", (version, built_at, n_train, n_confirmed, confirmed_through, model))

    def active_design_model(self) -> dict | None:
        """The newest retrained model of this review, or None (the bundled model is used)."""
        row = self.conn.execute("SELECT * FROM design_models ORDER BY built_at DESC, rowid DESC LIMIT 1").fetchone()
        return dict(row) if row else None

    def overrides(self) -> list[dict]:
        return [dict(r) for r in self.conn.execute("SELECT * FROM design_overrides ORDER BY at, override_id")]
