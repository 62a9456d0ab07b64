"""Rayyan, Covidence and table decisions imported as a named reviewer's screening history (issue 12)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from review.classify.apply import classify_store
from review.cli import main
from review.dedupe.apply import dedupe_store
from review.errors import InputError
from review.imports import import_files
from review.screening import ScreeningConfig, load_config, load_state
from review.screening_external import import_external, parse_rayyan_notes
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent
TOOLS = ROOT / "tests" / "data" / "screening_tools"
CONFIG = load_config(ROOT / "queries" / "screening.yaml")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("ext") / "review.sqlite"
    with Store.open(db) as store:
        replay(ROOT / "sample" / "searches", store)
        import_files(store, [ROOT / "sample/imports/article_pages/article_pages.ris"], source="article_pages")
        dedupe_store(store)
        classify_store(store)
    return db


@pytest.fixture
def store(base: Path, tmp_path: Path):
    db = tmp_path / "review.sqlite"
    shutil.copy(base, db)
    with Store.open(db) as s:
        yield s


def history(store) -> list[tuple]:
    return [(r["record_id"], r["stage"], r["reviewer"], r["decision"], r["reason"], r["notes"])
            for r in store.screening_history()]


def test_rayyan_notes_are_split_into_decisions_labels_and_reasons() -> None:
    decisions, labels, reasons, free = parse_rayyan_notes(
        'checked by hand | RAYYAN-INCLUSION: {"Alice"=>"Excluded", "Bob S."=>"Maybe"} | '
        'RAYYAN-LABELS: FAERS,__EXR__not kratom | RAYYAN-EXCLUSION-REASONS: background article,not kratom')
    assert decisions == {"Alice": "Excluded", "Bob S.": "Maybe"}
    assert labels == ["FAERS"] and reasons == ["not kratom", "background article", "not kratom"]
    assert free == "checked by hand"


def test_rayyan_needs_a_name_when_several_reviewers_decided(store) -> None:
    with pytest.raises(InputError, match=r"decisions of 2 Rayyan reviewers \(Alice, Bob\): say whose"):
        import_external(store, TOOLS / "rayyan_articles.csv", "alice", "title_abstract", config=CONFIG)
    with pytest.raises(InputError, match="no decisions by 'Carol'"):
        import_external(store, TOOLS / "rayyan_articles.csv", "carol", "title_abstract", who="Carol", config=CONFIG)
    assert history(store) == []


def test_rayyan_decisions_become_alices_history(store) -> None:
    s = import_external(store, TOOLS / "rayyan_articles.csv", "alice", "title_abstract", who="Alice", config=CONFIG)
    assert (s.tool, s.new, s.changed, s.unchanged, s.undecided) == ("rayyan", 6, 0, 0, 2)
    assert s.line() == (f"{TOOLS / 'rayyan_articles.csv'} (rayyan, title_abstract, alice): 6 new, 0 changed, "
                        "0 unchanged decisions; rows without a decision: 2")
    assert any("not imported: the decisions of Bob (5)" in w for w in s.warnings)
    assert any("Rayyan labels of 1 record(s)" in w for w in s.warnings)
    rows = {r[0]: r for r in history(store)}
    assert rows[1][3] == "include"  # by PMID
    assert rows[2][3:5] == ("exclude", "wrong publication type")
    assert rows[3][3] == "maybe" and rows[3][5] == "Rayyan labels: FAERS, adverse events"
    # by DOI only; the __EXR__ label's reason is in the list, the other reason is kept in notes
    assert rows[4][3:6] == ("exclude", "not kratom", "checked by hand; other exclusion reasons: background article")
    assert rows[31][3] == "include"  # by DOI (an article page without a PMID)
    assert rows[32][3] == "include"  # by title alone, in capitals
    assert {r[2] for r in rows.values()} == {"alice"} and {r[1] for r in rows.values()} == {"title_abstract"}
    state = load_state(store, CONFIG)
    assert state.statuses[2]["title_abstract"].status == "exclude"
    # the same file again: a no-op; Bob's decisions as bob: his own history
    again = import_external(store, TOOLS / "rayyan_articles.csv", "alice", "title_abstract", who="Alice",
                            config=CONFIG)
    assert again.already_imported_at and len(history(store)) == 6
    bob = import_external(store, TOOLS / "rayyan_articles.csv", "bob", "title_abstract", who="Bob", config=CONFIG)
    assert bob.new == 5 and len(history(store)) == 11


def test_covidence_list_with_accession_numbers(store) -> None:
    with pytest.raises(InputError, match="give it with --decision"):
        import_external(store, TOOLS / "covidence_irrelevant.csv", "alice", "title_abstract", config=CONFIG)
    s = import_external(store, TOOLS / "covidence_irrelevant.csv", "alice", "title_abstract", decision="exclude",
                        config=CONFIG)
    assert (s.tool, s.new) == ("covidence", 3)
    rows = {r[0]: r for r in history(store)}
    assert set(rows) == {6, 7, 34}  # 6 and 7 by Accession Number = PMID, 34 by DOI
    assert rows[6][5] == "Alice Smith: co-use of heroin, no withdrawal outcome; Covidence #12"
    assert rows[7][5] == "Covidence tags: policy; Covidence #13"


def test_full_text_exclusion_without_a_listed_reason_is_refused(store, tmp_path: Path) -> None:
    ta = tmp_path / "ta.csv"
    ta.write_text("pmid,decision\n39724441,include\n38889703,include\n", encoding="utf-8")
    import_external(store, ta, "alice", "title_abstract", config=CONFIG)
    ft = tmp_path / "ft.csv"
    ft.write_text("pmid,title,decision,reason\n39724441,,exclude,background article\n"
                  "38889703,,include,\n99999999,Not in the store,include,\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        import_external(store, ft, "alice", "full_text", config=CONFIG)
    assert exc.value.problems == [
        "row 2 ('39724441'): an exclusion at full_text needs a reason, one of: wrong population; not kratom; "
        "no withdrawal/OUD outcome; wrong publication type; duplicate report; not retrievable; no full text in a "
        "readable language (background article not in the list)",
        "row 4 ('Not in the store'): no record in the store has its PMID, DOI or title"]
    assert [r[1] for r in history(store)] == ["title_abstract", "title_abstract"]  # nothing written


def test_decisions_for_records_not_due_are_refused(store, tmp_path: Path) -> None:
    ft = tmp_path / "ft.csv"
    ft.write_text("pmid,decision\n39724441,include\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2 \('39724441'\): record 1 \(PMID match\) cannot be decided at "
                                         "full_text"):
        import_external(store, ft, "alice", "full_text", config=CONFIG)


def test_skip_unmatched_and_changed_decisions(store, tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("pmid,title,decision\n39724441,,include\n1,Nowhere,exclude\n", encoding="utf-8")
    s = import_external(store, f, "alice", "title_abstract", skip_unmatched=True, config=CONFIG)
    assert s.new == 1 and s.skipped == ["row 3 ('Nowhere'): no record in the store has its PMID, DOI or title"]
    g = tmp_path / "u.csv"
    g.write_text("pmid,decision\n39724441,exclude\n", encoding="utf-8")
    s = import_external(store, g, "alice", "title_abstract", config=ScreeningConfig())
    assert (s.new, s.changed) == (0, 1)  # a change is counted and kept in the history, never silent
    assert [r[3] for r in history(store)] == ["include", "exclude"]


def test_cli(base: Path, tmp_path: Path) -> None:
    db = tmp_path / "review.sqlite"
    shutil.copy(base, db)
    r = CliRunner().invoke(main, ["screen", "import-decisions", str(TOOLS / "rayyan_articles.csv"), "--stage",
                                  "title_abstract", "--reviewer", "bob", "--rayyan-name", "Bob", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "5 new, 0 changed, 0 unchanged decisions; rows without a decision: 3" in r.output
    assert "warning: not imported: the decisions of Alice (6)" in r.output
