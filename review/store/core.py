"""Store core: connection, migrations, transactions, records and runs.

Schema version lives in ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes a store from
version i to i+1. WAL mode lets readers (notebooks) run while a search writes. Every
multi-row write goes through ``Store.transaction()`` so a crash leaves either all of a
batch or none of it.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from review.errors import StoreError
from review.models import Record

from review.store.schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_DB = Path("outputs") / "review.sqlite"

RUN_COLUMNS = ("run_id", "kind", "source", "source_type", "strategy", "query", "translation", "limits",
               "file", "file_hash", "started_at", "finished_at", "status", "count", "n_new", "n_fetched",
               "ids", "dropped", "missing", "archive", "notes")
_JSON_RUN_COLUMNS = {"limits", "ids", "dropped", "missing"}


def missing_store_message(path: str | Path) -> str:
    return (f"no review store at {path}: check the path (a typo?), or create it with "
            "`review search` or `review import` first")


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Upserted:
    record_id: int
    status: str  # "new" | "changed" | "same"


class StoreCore:
    """Connection, migrations, transactions, records and runs; domain mixins add the rest."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | Path = DEFAULT_DB) -> "StoreCore":
        """Open (creating if needed) and migrate the store; ':memory:' works for tests."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        store = cls(conn, path)
        store._migrate()
        return store

    @classmethod
    def open_existing(cls, path: str | Path = DEFAULT_DB) -> "StoreCore":
        """Open a store that must exist already (reports, sheets, notebooks): a typo in a path
        would otherwise create an empty store and report nothing found."""
        if str(path) != ":memory:" and not Path(path).is_file():
            raise StoreError(missing_store_message(path))
        return cls.open(path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "StoreCore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this toolkit's "
                f"{SCHEMA_VERSION}: upgrade the toolkit (pip install -U .) before using it")
        for target in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _statements(MIGRATIONS[target]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (including Ctrl-C)."""
        if self.conn.in_transaction:  # nested: join the outer transaction
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------ records
    def upsert_records(self, records: Iterable[Record]) -> list[Upserted]:
        """Insert new records, update changed ones (same source and source_id); one transaction."""
        out: list[Upserted] = []
        now = utcnow()
        with self.transaction() as c:
            for rec in records:
                js = rec.to_json()
                h = rec.content_hash(js)
                row = c.execute("SELECT record_id, content_hash FROM records WHERE source = ? AND source_id = ?",
                                (rec.source, rec.source_id)).fetchone()
                if row is None:
                    cur = c.execute(
                        "INSERT INTO records (source, source_id, pmid, doi, title, year, deleted, data,"
                        " content_hash, first_seen, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (rec.source, rec.source_id, rec.pmid, rec.doi, rec.title, rec.year, int(rec.deleted),
                         js, h, now, now))
                    out.append(Upserted(cur.lastrowid, "new"))
                elif row["content_hash"] != h:
                    c.execute(
                        "UPDATE records SET pmid=?, doi=?, title=?, year=?, deleted=?, data=?, content_hash=?,"
                        " updated_at=? WHERE record_id=?",
                        (rec.pmid, rec.doi, rec.title, rec.year, int(rec.deleted), js, h, now,
                         row["record_id"]))
                    out.append(Upserted(row["record_id"], "changed"))
                else:
                    out.append(Upserted(row["record_id"], "same"))
        return out

    def source_ids(self, source: str) -> dict[str, int]:
        """source_id -> record_id for one source (for PubMed: the PMIDs already stored)."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT source_id, record_id FROM records WHERE source = ?", (source,))}

    def get_record(self, record_id: int) -> Record:
        row = self.conn.execute("SELECT data FROM records WHERE record_id = ?", (record_id,)).fetchone()
        if row is None:
            raise StoreError(f"no record with id {record_id} in {self.path}")
        return Record.from_dict(json.loads(row[0]))

    def iter_records(self, *, include_deleted: bool = False) -> Iterator[tuple[int, Record]]:
        sql = "SELECT record_id, data FROM records"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        for rid, data in self.conn.execute(sql + " ORDER BY record_id"):
            yield rid, Record.from_dict(json.loads(data))

    def record_rows(self) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT record_id, source, source_id, deleted, data, content_hash, first_seen, updated_at"
            " FROM records ORDER BY record_id").fetchall()

    def count_records(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    # ------------------------------------------------------------ runs
    def start_run(self, run_id: str, kind: str, source: str, **fields: Any) -> None:
        values = {"run_id": run_id, "kind": kind, "source": source, "status": "running",
                  "started_at": fields.pop("started_at", None) or utcnow(), **fields}
        self._write_run(values, insert=True)

    def update_run(self, run_id: str, **fields: Any) -> None:
        self._write_run({"run_id": run_id, **fields}, insert=False)

    def _write_run(self, values: dict[str, Any], *, insert: bool) -> None:
        unknown = set(values) - set(RUN_COLUMNS)
        if unknown:
            raise ValueError(f"unknown run columns {sorted(unknown)}")
        enc = {k: (json.dumps(v) if k in _JSON_RUN_COLUMNS and v is not None else v) for k, v in values.items()}
        with self.transaction() as c:
            if insert:
                cols = ", ".join(enc)
                c.execute(f"INSERT INTO runs ({cols}) VALUES ({', '.join('?' * len(enc))})", tuple(enc.values()))
            else:
                run_id = enc.pop("run_id")
                sets = ", ".join(f"{k} = ?" for k in enc)
                c.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", (*enc.values(), run_id))

    def link_run_records(self, run_id: str, record_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR IGNORE INTO run_records (run_id, record_id) VALUES (?, ?)",
                          ((run_id, rid) for rid in record_ids))

    def add_fetched(self, run_id: str, n: int) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET n_fetched = n_fetched + ? WHERE run_id = ?", (n, run_id))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_dict(row) if row else None

    def runs(self, *, kind: str | None = None, strategy: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        for col, val in (("kind", kind), ("strategy", strategy), ("status", status)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        return [_run_dict(r) for r in self.conn.execute(sql + " ORDER BY started_at, run_id", args)]

    def run_record_ids(self, run_id: str) -> list[int]:
        return [r[0] for r in self.conn.execute(
            "SELECT record_id FROM run_records WHERE run_id = ? ORDER BY record_id", (run_id,))]

    def mark_interrupted(self, strategy: str) -> int:
        """Runs of a strategy still 'running' were killed: say so instead of leaving them open."""
        with self.transaction() as c:
            return c.execute("UPDATE runs SET status = 'interrupted' WHERE strategy = ? AND status = 'running'",
                             (strategy,)).rowcount


def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for k in _JSON_RUN_COLUMNS:
        if d.get(k) is not None:
            d[k] = json.loads(d[k])
    return d


def _statements(script: str) -> Sequence[str]:
    """Split a migration script into statements (no semicolons inside our DDL strings)."""
    return [s.strip() for s in script.split(";") if s.strip()]
