"""`review export ris|bibtex|csv`: screened records for reference managers, round-tripped (issue 12)."""
from __future__ import annotations

from pathlib import Path

import bibtexparser
import pandas as pd
import pytest
import rispy
from click.testing import CliRunner

from review.classify.apply import classify_store
from review.cli import main
from review.dedupe.apply import dedupe_store
from review.imports import import_files
from review.models import Author, Design, Record, Tier
from review.parse import parse_file
from review.references import Item, bib_key, to_bibtex, to_ris, trial_ids, wanted
from review.screening import export_sheet, import_sheet
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent


def fill(sheet: Path, decide) -> None:
    """Fill an exported CSV sheet as a reviewer would: decide(row) -> (decision, reason)."""
    lines = sheet.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    header_at = next(i for i, line in enumerate(lines) if line.startswith("record_id"))
    df = pd.read_csv(sheet, dtype=str, keep_default_na=False, skiprows=header_at, encoding="utf-8-sig")
    decided = [decide(row) for row in df.itertuples()]
    df["decision"] = [d for d, _ in decided]
    df["reason"] = [r for _, r in decided]
    sheet.write_text("".join(lines[:header_at]) + df.to_csv(index=False), encoding="utf-8-sig")


@pytest.fixture(scope="module")
def screened(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("refs")
    db = tmp / "review.sqlite"
    with Store.open(db) as store:
        replay(ROOT / "sample" / "searches", store)
        import_files(store, [ROOT / "sample/imports/article_pages/article_pages.ris"], source="article_pages")
        import_files(store, [ROOT / "sample/imports/clinicaltrials/trial_registrations.csv"], source="clinicaltrials")
        dedupe_store(store)
        classify_store(store)
        ta = tmp / "ta.csv"
        export_sheet(store, "title_abstract", "alice", ta)
        fill(ta, lambda r: (("include" if "withdraw" in r.title.lower() else "exclude"), ""))
        import_sheet(store, ta, "alice")
        ft = tmp / "ft.csv"
        export_sheet(store, "full_text", "alice", ft)
        fill(ft, lambda r: ("include", "") if "kratom" in r.title.lower() else ("exclude", "not kratom"))
        import_sheet(store, ft, "alice")
    return db


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_ris_export_of_included_studies_round_trips(screened: Path, tmp_path: Path) -> None:
    out = tmp_path / "included.ris"
    line = run("export", "ris", "--out", str(out), "--db", str(screened))
    n = int(line.split()[1])
    assert line.startswith(f"wrote {n} records to {out} (ris, full_text, decision include)")
    entries = rispy.load(out)
    assert len(entries) == n > 0
    assert not out.read_text().startswith("1.")  # no Ovid-style numbering line
    for e in entries:
        assert any(x.startswith("kratom-review record ") and "full_text include" in x for x in e["notes"])
        assert any(x.startswith("Study design: ") for x in e["notes"])
        assert any(k.startswith("evidence tier: ") for k in e["keywords"])
    with Store.open(screened) as store:
        designs = store.designs()
        titles = {rid: r for rid, r in store.canonical_records()}
    for e in entries:
        rid = int(e["id"])
        assert e["title"] == " ".join(titles[rid].title.split())
        d = designs[rid]
        assert f"Study design: {d.design}; evidence tier: {d.tier.value}" in " | ".join(e["notes"])
        if titles[rid].pmid:
            assert e["accession_number"] == titles[rid].pmid and f"PMID: {titles[rid].pmid}" in e["notes"]
        if titles[rid].doi:
            assert e["doi"] == titles[rid].doi
    # our own importer reads it back: same titles, PMIDs and DOIs
    back = parse_file(out, source="zotero").records
    assert [(r.title, r.pmid, r.doi) for r in back] == [
        (" ".join(titles[int(e["id"])].title.split()), titles[int(e["id"])].pmid, titles[int(e["id"])].doi)
        for e in entries]


def test_bibtex_and_csv_exports_agree_with_ris(screened: Path, tmp_path: Path) -> None:
    run("export", "ris", "--out", str(tmp_path / "a.ris"), "--db", str(screened),
        "--stage", "title_abstract", "--decision", "exclude")
    run("export", "bibtex", "--out", str(tmp_path / "a.bib"), "--db", str(screened),
        "--stage", "title_abstract", "--decision", "exclude")
    run("export", "csv", "--out", str(tmp_path / "a.csv"), "--db", str(screened),
        "--stage", "title_abstract", "--decision", "exclude")
    ris = rispy.load(tmp_path / "a.ris")
    lib = bibtexparser.parse_string((tmp_path / "a.bib").read_text(encoding="utf-8"))
    assert not lib.failed_blocks
    csv = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    assert len(ris) == len(lib.entries) == len(csv) > 0
    assert set(csv["status"]) == {"exclude"} and set(csv["stage"]) == {"title_abstract"}
    for e, b in zip(ris, lib.entries):
        assert b.key.endswith(f"r{e['id']}")
        assert ("doi" in b.fields_dict) == ("doi" in e)
        if "accession_number" in e:
            assert b.fields_dict["pmid"].value == e["accession_number"]
        assert "evidence tier: " in b.fields_dict["keywords"].value
    # our BibTeX reader reads it back too, LaTeX escapes undone
    back = parse_file(tmp_path / "a.bib", source="jabref").records
    assert [r.doi for r in back] == [e.get("doi") for e in ris]
    assert [r.pmid for r in back] == [e.get("accession_number") for e in ris]


def test_all_and_empty_selections(screened: Path, tmp_path: Path) -> None:
    line = run("export", "csv", "--stage", "title_abstract", "--decision", "all", "--out", str(tmp_path / "all.csv"),
               "--db", str(screened))
    df = pd.read_csv(tmp_path / "all.csv", dtype=str, keep_default_na=False)
    with Store.open(screened) as store:
        assert len(df) == sum(1 for _ in store.canonical_records())
    assert set(df["status"]) == {"include", "exclude"}
    assert "every record due" in line
    db = tmp_path / "fresh.sqlite"
    with Store.open(db) as store:
        import_files(store, [ROOT / "tests/data/ris/vendors/zotero.ris"], source="zotero")
    out = run("export", "ris", "--out", str(tmp_path / "none.ris"), "--db", str(db))
    assert "wrote 0 records" in out and "no record has decision include at full_text yet" in out


def test_trial_ids_special_characters_and_keys() -> None:
    rec = Record(source="ctgov", source_id="NCT05883358", title="A & B: 100% {kratom} #1",
                 authors=(Author(family="Łukasz", given="Anna"), Author(collective="Kratom Group")),
                 year=2024, pages="10-20", keywords=("registered as nct01234567",), kind="journal-article")
    item = Item(7, rec, "full_text", "include", design=Design("rct", Tier.TRIAL, 0.9),
                trial_ids=trial_ids([rec]))
    assert item.trial_ids == ("NCT05883358", "NCT01234567")
    assert bib_key(item) == "lukasz2024r7"
    lib = bibtexparser.parse_string(to_bibtex([item]))
    f = lib.entries[0].fields_dict
    assert f["title"].value == r"A \& B: 100\% (kratom) \#1"
    assert f["author"].value == "Łukasz, Anna and {Kratom Group}"
    assert f["pages"].value == "10--20"
    (e,) = rispy.loads(to_ris([item]))
    assert (e["start_page"], e["end_page"]) == ("10", "20")
    assert "Trial registration: NCT05883358, NCT01234567" in e["notes"]
    assert e["authors"] == ["Łukasz, Anna", "Kratom Group"]


@pytest.mark.parametrize("status,stage,decision,chosen", [
    ("include", "full_text", "include", True), ("maybe", "title_abstract", "include", True),
    ("maybe", "full_text", "include", False), ("exclude", "full_text", "include", False),
    ("exclude", "title_abstract", "exclude", True), ("undecided", "full_text", "all", True),
    ("not_due", "full_text", "all", False),
])
def test_wanted(status, stage, decision, chosen) -> None:
    assert wanted(status, stage, decision) is chosen
