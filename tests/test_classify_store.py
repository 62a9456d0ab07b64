"""`review classify` over a store: idempotent, re-classifies changed records, overrides survive."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from review.classify.apply import classify_store, label_version, override
from review.cli import main
from review.export import records_frame
from review.models import AbstractSection, Record
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent


def test_classify_is_incremental_and_overrides_survive(tmp_path):
    store = Store.open(tmp_path / "s.sqlite")
    replay(ROOT / "sample" / "searches", store)
    first = classify_store(store)
    assert first.classified == 23 and first.unchanged == 0
    assert classify_store(store).classified == 0  # nothing new or changed
    rid, rec = next(store.iter_records())
    auto = store.designs()[rid]
    other = "case_report" if auto.design != "case_report" else "animal"
    override(store, rid, other, reviewer="alice", reason="read the full text")
    d = store.designs()[rid]
    assert d.design == other and d.confidence == 1.0 and "override by alice" in d.reasons[0]
    assert f"automatic was {auto.design}" in " ".join(d.reasons)
    # A changed record is classified again; the override still wins.
    store.upsert_records([Record(**{**rec.__dict__, "abstract": (AbstractSection("We describe a 40-year-old man."),)})])
    assert classify_store(store).classified == 1
    assert classify_store(store, everything=True).classified == 23
    assert store.designs()[rid].design == other
    assert set(store.classified_hashes(label_version(store))) == {i for i, _ in store.iter_records()}
    df = records_frame(store.iter_records(), store.designs(), store.duplicate_of())
    row = df[df["record_id"] == rid].iloc[0]
    assert row["design"] == other and row["evidence_tier"] and "override by alice" in row["design_reasons"]
    assert df["design"].notna().all() and set(df["self_reported"].unique()) <= {True, False}


def test_cli_classify_override_and_show(tmp_path):
    db = str(tmp_path / "s.sqlite")
    with Store.open(db) as store:
        replay(ROOT / "sample" / "searches", store)
    runner = CliRunner()
    r = runner.invoke(main, ["classify", "--db", db])
    assert r.exit_code == 0 and "classified 23 records" in r.output
    r = runner.invoke(main, ["classify", "override", "1", "--design", "rct", "--reviewer", "bo", "--reason", "x",
                             "--db", db])
    assert r.exit_code == 0 and "rct (trial) by bo" in r.output
    r = runner.invoke(main, ["classify", "show", "1", "--db", db])
    assert "rct -> trial" in r.output and "override by bo" in r.output
    r = runner.invoke(main, ["classify", "override", "999", "--design", "rct", "--reviewer", "bo", "--reason", "x",
                             "--db", db])
    assert r.exit_code == 1 and "no record with id 999" in r.output
