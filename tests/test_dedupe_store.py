"""Deduplication over a store: clusters with audit, undo, uncertain pairs decided by a person."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from review.cli import main
from review.dedupe.apply import dedupe_store, undo
from review.dedupe.uncertain import import_decisions, uncertain_frame, write_uncertain
from review.errors import InputError
from review.export import records_frame
from review.imports import import_files
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent
EMBASE = Path(__file__).parent / "data" / "dedupe_store" / "embase_kratom.ris"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "s.sqlite")
    replay(ROOT / "sample" / "searches", s)
    import_files(s, [EMBASE], source="embase")
    yield s
    s.close()


def rid(store, source, source_id):
    return store.source_ids(source)[source_id]


def state(store):
    return list(store.canonical_records()), store.duplicate_of()


def test_exact_duplicate_merged_with_rule_and_canonical_record(store):
    summary = dedupe_store(store)
    pubmed, embase = rid(store, "pubmed", "30062086"), rid(store, "embase", "L2000000001")
    assert store.duplicate_of() == {embase: pubmed}
    [(cid, members)] = store.active_clusters().items()
    info = store.cluster(cid)
    assert members == (pubmed, embase) and info["merges"][0]["rule"] == "same_doi"
    canonical = dict(store.canonical_records())[pubmed]
    assert canonical.pmid == "30062086" and canonical.doi.lower() == "10.1016/j.ebcr.2018.04.002"
    assert canonical.volume == "10"  # a field only the Embase record had
    assert summary.counts["records"] == 27 and summary.counts["duplicates"] == 1
    # The erratum and the conference abstract are never merged with their article; the erratum names
    # its article, so it is linked to it as a related report instead of waiting for a person.
    reasons = {(p["record_a"], p["record_b"]): p["reason"] for p in store.uncertain_pairs()}
    article, erratum = rid(store, "pubmed", "25516573"), rid(store, "embase", "L2000000003")
    conference = (rid(store, "pubmed", "32858563"), rid(store, "embase", "L2000000004"))
    assert tuple(sorted((article, erratum))) not in reasons
    assert [(r["record_id"], r["article_id"], r["kind"], r["rule"]) for r in store.related_reports()] == [
        (erratum, article, "correction", "notice_title")]
    assert erratum not in store.duplicate_of() and article not in store.duplicate_of()
    assert reasons[tuple(sorted(conference))] == "conference_abstract_vs_article"
    df = records_frame(store.iter_records(), store.designs(), store.duplicate_of())
    assert df.loc[df["record_id"] == embase, "duplicate_of"].item() == pubmed
    # A second run changes nothing.
    again = dedupe_store(store)
    assert (again.added, again.retired, again.kept) == (0, 0, 1)


def test_undo_restores_the_exact_earlier_state_and_sticks(store):
    before = state(store)
    dedupe_store(store)
    assert state(store) != before
    [cid] = store.active_clusters()
    undo(store, cid, by="tester")
    assert state(store) == before
    dedupe_store(store)  # the split pair is remembered as distinct
    assert state(store) == before
    with pytest.raises(InputError, match="already undone"):
        undo(store, cid, by="tester")


def _fill(path: Path, decisions: dict[str, str]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    header = [c.value for c in ws[1]]
    col = header.index("decision") + 1
    for row in range(2, ws.max_row + 1):
        pair = ws.cell(row=row, column=1).value
        if pair in decisions:
            ws.cell(row=row, column=col).value = decisions[pair]
    wb.save(path)


def test_uncertain_pairs_decided_in_a_sheet(store, tmp_path):
    dedupe_store(store)
    df = uncertain_frame(store)
    assert len(df) == 2
    a, b = sorted([rid(store, "pubmed", "16169018"), rid(store, "embase", "L2000000002")])
    c1, c2 = sorted([rid(store, "pubmed", "32858563"), rid(store, "embase", "L2000000004")])
    sheet = tmp_path / "uncertain.xlsx"
    write_uncertain(df, sheet)
    ws = openpyxl.load_workbook(sheet).active
    assert ws.freeze_panes == "D2" and ws.data_validations.dataValidation  # drop-down for the decision
    _fill(sheet, {f"{a}-{b}": " Duplicate ", f"{c1}-{c2}": "distinct"})
    assert import_decisions(store, sheet, by="rev1") == 2
    summary = dedupe_store(store)
    assert store.duplicate_of()[b] == a and summary.counts["person"] == 1
    assert len(store.uncertain_pairs()) == 0
    assert import_decisions(store, sheet, by="rev1") == 0  # the same sheet again: nothing new


def test_bad_decision_sheet_writes_nothing(store, tmp_path):
    dedupe_store(store)
    sheet = tmp_path / "uncertain.xlsx"
    write_uncertain(uncertain_frame(store), sheet)
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    ws.cell(row=2, column=5).value = "dupe"  # a typo in the decision
    ws.cell(row=3, column=1).value = "1-2"  # an edited key
    ws.cell(row=4, column=5).value = "distinct"  # a good row: still not written
    wb.save(sheet)
    before = store.pair_decisions()
    with pytest.raises(InputError) as err:
        import_decisions(store, sheet, by="rev1")
    msg = str(err.value)
    assert "row 2: decision 'dupe' is not one of duplicate, distinct" in msg
    assert "row 3: pair_id '1-2' does not match" in msg
    assert store.pair_decisions() == before


def test_cli_dedupe_commands(store, tmp_path):
    db = store.path
    store.close()
    runner = CliRunner()
    r = runner.invoke(main, ["dedupe", "--db", db])
    assert r.exit_code == 0 and "1 exact matches" in r.output and "2 uncertain pairs" in r.output
    assert "1 corrections, retractions or comments linked to their articles (not merged)" in r.output
    out = tmp_path / "dups.csv"
    r = runner.invoke(main, ["export", "duplicates", "--db", db, "--out", str(out)])
    assert r.exit_code == 0 and out.read_text().count("same_doi") == 2 and "1 related reports" in r.output
    import pandas as pd
    dups = pd.read_csv(out)
    [link] = dups[dups["related_kind"].notna()].to_dict("records")
    assert (link["related_kind"], link["rule"], link["source_id"]) == ("correction", "notice_title", "L2000000003")
    r = runner.invoke(main, ["dedupe", "--undo", "1", "--by", "tester", "--db", db])
    assert r.exit_code == 0 and "cluster 1 undone" in r.output
    r = runner.invoke(main, ["dedupe", "--undo", "99", "--db", db])
    assert r.exit_code == 1 and "no duplicate cluster 99" in r.output


def test_asreview_exports_cross_deduplicate(tmp_path):
    """The five asreview_* exports (Embase, PubMed via Zotero, Scopus, Web of Science, and a file of
    empty values) hold 32 records. No DOI, PMID or title is shared across them: the Embase file is
    about duplication cysts, the Zotero and Scopus files about bowel disease from different angles,
    the WoS file about interrogations. So all 32 remain unique. The only look-alikes are two
    placeholder records titled 'Title of reference' with no other field: too little to merge, so
    they go to a person as one uncertain pair instead."""
    store = Store.open(tmp_path / "s.sqlite")
    for path in sorted((Path(__file__).parent / "data" / "ris").glob("asreview_*.ris")):
        import_files(store, [path], source=path.stem.removeprefix("asreview_"))
    summary = dedupe_store(store)
    assert summary.counts["records"] == 32
    assert len(list(store.canonical_records())) == 32 and store.duplicate_of() == {}
    [pair] = store.uncertain_pairs()
    titles = {store.get_record(pair["record_a"]).title, store.get_record(pair["record_b"]).title}
    assert titles == {"Title of reference"}
