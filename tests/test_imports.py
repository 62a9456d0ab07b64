"""`review import`: all-or-nothing per call, logged as runs, re-import is a no-op."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from review.cli import main
from review.errors import InputError
from review.imports import import_files
from review.store import Store

ROOT = Path(__file__).parent.parent
RIS = Path(__file__).parent / "data" / "ris"


def snapshot(store: Store):
    return (store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0],
            store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
            store.conn.execute("SELECT COUNT(*) FROM run_records").fetchone()[0])


def test_import_logs_a_run_and_reimport_is_a_noop(tmp_path):
    store = Store.open(tmp_path / "s.sqlite")
    [s] = import_files(store, [ROOT / "sample/imports/article_pages/article_pages.ris"], source="article_pages")
    assert s.n_records == s.n_new == 46
    [run] = store.runs(kind="import")
    assert run["source"] == "article_pages" and run["source_type"] == "other" and run["count"] == 46
    assert run["file_hash"] and run["status"] == "complete" and len(store.run_record_ids(run["run_id"])) == 46
    before = snapshot(store)
    [again] = import_files(store, [ROOT / "sample/imports/article_pages/article_pages.ris"], source="article_pages")
    assert again.already == run["run_id"] and snapshot(store) == before


def test_registers_and_explicit_source_types(tmp_path):
    store = Store.open(tmp_path / "s.sqlite")
    import_files(store, [ROOT / "sample/imports/clinicaltrials/trial_registrations.csv"], source="clinicaltrials")
    import_files(store, [RIS / "asreview_embase.ris"], source="embase")
    import_files(store, [RIS / "asreview_scopus.ris"], source="handsearch", source_type="other")
    types = {r["source"]: r["source_type"] for r in store.runs(kind="import")}
    assert types == {"clinicaltrials": "register", "embase": "database", "handsearch": "other"}
    with pytest.raises(InputError, match="not one of database, register, other"):
        import_files(store, [RIS / "asreview_scopus.ris"], source="x", source_type="journal")


def test_one_bad_file_among_several_writes_nothing(tmp_path):
    store = Store.open(tmp_path / "s.sqlite")
    bad = tmp_path / "error_page.ris"
    bad.write_text("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>")
    before = snapshot(store)
    with pytest.raises(InputError) as err:
        import_files(store, [RIS / "asreview_embase.ris", bad], source="embase")
    assert "error_page.ris" in str(err.value)
    assert snapshot(store) == before


def test_cli_import_reports_errors_with_exit_1(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "s.sqlite")
    empty = tmp_path / "empty.ris"
    empty.write_text("")
    r = runner.invoke(main, ["import", str(empty), "--source", "embase", "--db", db])
    assert r.exit_code == 1 and "empty.ris" in r.output
    r = runner.invoke(main, ["import", str(RIS / "asreview_embase.ris"), "--source", "embase", "--db", db])
    assert r.exit_code == 0 and "6 records from embase (6 new" in r.output


BAD = Path(__file__).parent / "data" / "bad"


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.iterdir() if p.name != "README.md"))
def test_every_bad_file_is_refused_with_its_name_and_the_store_is_unchanged(tmp_path, name):
    store = Store.open(tmp_path / "s.sqlite")
    import_files(store, [RIS / "asreview_embase.ris"], source="embase")
    before = snapshot(store)
    with pytest.raises(InputError) as err:
        import_files(store, [BAD / name], source="embase")
    assert name in str(err.value)
    assert snapshot(store) == before
