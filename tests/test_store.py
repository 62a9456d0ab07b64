"""Store: schema version and migrations, transactions, upserts, runs."""
from __future__ import annotations

import sqlite3

import pytest

from review.errors import StoreError
from review.models import AbstractSection, Author, MeshHeading, Record
from review.store import SCHEMA_VERSION, Store


def rec(pid: str, title: str = "A title") -> Record:
    return Record(source="pubmed", source_id=pid, pmid=pid, title=title,
                  abstract=(AbstractSection("Text.", "METHODS"),), authors=(Author("Doe", "Jane", "J"),),
                  mesh=(MeshHeading("Humans", False, "D006801", (("x", True),)),), year=2020)


def test_new_store_has_schema_version_and_wal(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store.open(path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 1
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store.open(path).close()
    c = sqlite3.connect(path)
    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(StoreError, match="newer than this toolkit"):
        Store.open(path)


def test_record_round_trip_and_upsert_status():
    s = Store.open(":memory:")
    [u] = s.upsert_records([rec("1")])
    assert u.status == "new"
    assert s.get_record(u.record_id) == rec("1")
    assert s.upsert_records([rec("1")])[0].status == "same"
    assert s.upsert_records([rec("1", "Changed")])[0].status == "changed"
    assert s.get_record(u.record_id).title == "Changed"
    assert s.count_records() == 1


def test_failed_transaction_writes_nothing():
    s = Store.open(":memory:")
    with pytest.raises(RuntimeError):
        with s.transaction():
            s.upsert_records([rec("1"), rec("2")])
            raise RuntimeError("boom")
    assert s.count_records() == 0


def test_runs_and_links():
    s = Store.open(":memory:")
    s.start_run("r1", "search", "pubmed", strategy="x", limits={"mindate": None})
    ids = [u.record_id for u in s.upsert_records([rec("1"), rec("2")])]
    s.link_run_records("r1", ids + ids)
    s.update_run("r1", status="complete", ids=["1", "2"], count=2)
    run = s.get_run("r1")
    assert run["ids"] == ["1", "2"] and run["status"] == "complete" and run["limits"] == {"mindate": None}
    assert s.run_record_ids("r1") == sorted(ids)
    s.start_run("r2", "search", "pubmed", strategy="x")
    assert s.mark_interrupted("x") == 1
    assert s.get_run("r2")["status"] == "interrupted"
    with pytest.raises(ValueError):
        s.update_run("r1", bogus=1)
