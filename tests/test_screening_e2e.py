"""End to end through the CLI: two reviewers screen title/abstract (xlsx and csv), conflicts are resolved,
full text follows for the include and maybe records, and `status` reports the counts and Cohen's kappa."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from review.cli import main
from review.models import AbstractSection, Author, Record
from review.screening import current_status, decisions_frame
from review.store import Store

DATA = Path(__file__).parent / "data" / "screening" / "kratom_sample.jsonl"


def kratom_records(n: int) -> list[Record]:
    out = []
    for i, line in enumerate(DATA.read_text(encoding="utf-8").splitlines()[:n]):
        d = json.loads(line)
        out.append(Record(source="sample", source_id=str(i + 1), pmid=d["pmid"], doi=d["doi"], title=d["title"],
                          abstract=(AbstractSection(d["abstract"]),) if d["abstract"] else (),
                          authors=tuple(Author(family=a.split()[-1]) for a in d["authors"]), journal=d["journal"],
                          year=d["year"]))
    return out


def fill_xlsx(path: Path, decisions: dict) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    cols = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        for j, value in enumerate(decisions.get(row[0].value, ())):
            ws.cell(row=row[0].row, column=cols[("decision", "reason", "notes")[j]], value=value)
    wb.save(path)


def fill_csv(path: Path, decisions: dict) -> None:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    h = rows[0]
    for row in rows[1:]:
        for j, value in enumerate(decisions.get(int(row[0]), ())):
            row[h.index(("decision", "reason", "notes")[j])] = value
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def sheet_ids(path: Path) -> list[int]:
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path).worksheets[0]
        return [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [int(r[0]) for r in list(csv.reader(fh))[1:]]


@pytest.fixture
def cli(tmp_path):
    db = tmp_path / "review.sqlite"
    with Store.open(db) as s:
        s.upsert_records(kratom_records(20))  # record ids 1..20
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, ["screen", *args, "--db", str(db)])
        assert (result.exit_code == 0) == ok, result.output
        return result.output
    run.db = db
    return run


def kappa_by_hand(both_inc, a_inc_b_exc, a_exc_b_inc, both_exc):
    n = both_inc + a_inc_b_exc + a_exc_b_inc + both_exc
    po = (both_inc + both_exc) / n
    a_inc, b_inc = (both_inc + a_inc_b_exc) / n, (both_inc + a_exc_b_inc) / n
    pe = a_inc * b_inc + (1 - a_inc) * (1 - b_inc)
    return (po - pe) / (1 - pe)


def test_two_reviewers_screen_resolve_and_report(cli, tmp_path):
    # ---- title/abstract: alice on Excel, bob on CSV, blind to each other
    a_ta, b_ta = tmp_path / "alice_ta.xlsx", tmp_path / "bob_ta.csv"
    assert "wrote 20 records" in cli("export", "--stage", "title_abstract", "--reviewer", "alice", "--out", str(a_ta))
    cli("export", "--stage", "title_abstract", "--reviewer", "bob", "--out", str(b_ta), "--blind-design")
    alice = {i: ("include",) for i in range(1, 9)} | {9: ("maybe",), 10: ("maybe",)} \
        | {i: ("exclude", "not human" if i <= 15 else "") for i in range(11, 21)}
    bob = {i: ("include",) for i in range(1, 8)} | {8: ("exclude",), 9: ("maybe",), 10: ("include",),
                                                     11: ("include", "", "maybe in humans?")} \
        | {i: ("exclude",) for i in range(12, 21)}
    fill_xlsx(a_ta, alice)
    fill_csv(b_ta, bob)
    assert "20 new, 0 changed, 0 unchanged" in cli("import", str(a_ta), "--reviewer", "alice")
    assert "20 new" in cli("import", str(b_ta), "--reviewer", "bob")
    assert "already imported" in cli("import", str(b_ta), "--reviewer", "bob")

    # ---- conflicts: 8 (alice include, bob exclude) and 11 (alice exclude, bob include)
    res = tmp_path / "conflicts_ta.xlsx"
    out = cli("conflicts", "--stage", "title_abstract", "--out", str(res))
    assert [line.split("\t")[0] for line in out.splitlines()[:2]] == ["8", "11"]
    assert "alice: include; bob: exclude" in out
    assert sheet_ids(res) == [8, 11]
    fill_xlsx(res, {8: ("include", "", "population is human after all")})
    assert "1 new" in cli("resolve", "--file", str(res), "--resolver", "carol")
    assert "resolved by carol" in cli("resolve", "11", "--stage", "title_abstract", "--decision", "exclude",
                                      "--reason", "not human", "--resolver", "carol")
    assert "no open conflicts" in cli("conflicts", "--stage", "title_abstract")

    # ---- full text: the include and maybe records only (1..10)
    a_ft, b_ft = tmp_path / "alice_ft.xlsx", tmp_path / "bob_ft.csv"
    cli("export", "--stage", "full_text", "--reviewer", "alice", "--out", str(a_ft))
    cli("export", "--stage", "full_text", "--reviewer", "bob", "--out", str(b_ft), "--order", "prioritised")
    assert sheet_ids(a_ft) == list(range(1, 11))
    assert sorted(sheet_ids(b_ft)) == list(range(1, 11))
    reasons = {6: "wrong population", 7: "not retrievable", 8: "not kratom", 9: "duplicate report",
               10: "wrong publication type"}
    fill_xlsx(a_ft, {i: ("include",) for i in range(1, 6)} | {i: ("exclude", r) for i, r in reasons.items()})
    fill_csv(b_ft, {i: ("include",) for i in range(1, 5)} | {5: ("exclude", "wrong publication type")}
             | {i: ("exclude", r) for i, r in reasons.items()} | {6: ("exclude", "not kratom")})
    cli("import", str(a_ft), "--reviewer", "alice", "--stage", "full_text")
    cli("import", str(b_ft), "--reviewer", "bob")
    res_ft = tmp_path / "conflicts_ft.csv"
    out = cli("conflicts", "--stage", "full_text", "--out", str(res_ft))
    assert [(line.split("\t")[0], line.split("\t")[1]) for line in out.splitlines()[:2]] == \
        [("5", "decision"), ("6", "reason")]
    fill_csv(res_ft, {5: ("include",), 6: ("exclude", "wrong population")})
    assert "2 new" in cli("resolve", "--file", str(res_ft), "--resolver", "carol")

    # ---- status: counts and kappa as computed by hand
    status = cli("status")
    ta, ft = status.split("full_text:")
    assert "title_abstract: 20 records due" in ta
    assert "final: include 8, exclude 10, maybe 2" in ta  # 1-7 + resolved 8; 9 maybe, 10 maybe+include
    assert "decided per reviewer: alice 20, bob 20" in ta
    assert "agreements: 18 of 20" in ta
    # maybe counts as include: both include 9 (1-7, 9, 10), alice-only 1 (8), bob-only 1 (11), both exclude 9.
    ta_kappa = kappa_by_hand(9, 1, 1, 9)
    assert ta_kappa == pytest.approx(0.8)
    assert f"Cohen's kappa alice vs bob: {ta_kappa:.3f} on 20 records" in ta
    table = [line.split() for line in ta.splitlines() if line.strip().startswith("alice ")]
    assert table == [["alice", "include", "9", "1"], ["alice", "exclude", "1", "9"]]
    assert " 10 records due" in ft
    assert "final: include 5, exclude 5" in ft
    ft_kappa = kappa_by_hand(4, 1, 0, 5)  # record 5: alice include, bob exclude
    assert f"Cohen's kappa alice vs bob: {ft_kappa:.3f} on 10 records" in ft
    assert "resolved 2" in ft and "open conflicts 0" in ft
    for reason in reasons.values():
        assert f"{reason} 1" in ft

    # ---- the notebook API agrees
    with Store.open(cli.db) as s:
        df = current_status(s).set_index("record_id")
        history = decisions_frame(s)
    assert int(df["included"].sum()) == 5
    assert df.loc[8, "ta_status"] == "include" and df.loc[8, "ta_resolved_by"] == "carol"
    assert df.loc[10, "ta_status"] == "maybe"
    assert df.loc[15, "ft_status"] == "not_due"
    assert (df.loc[6, "ft_status"], df.loc[6, "ft_reason"]) == ("exclude", "wrong population")
    assert df.loc[5, "ft_reviewers"] == "alice: include; bob: exclude (wrong publication type)"
    assert list(history["kind"].value_counts().sort_index().items()) == [("decision", 60), ("resolution", 4)]


def test_reopen_from_the_command_line(cli, tmp_path):
    sheet = tmp_path / "a.csv"
    cli("export", "--stage", "title_abstract", "--reviewer", "alice", "--out", str(sheet))
    fill_csv(sheet, {1: ("exclude",)})
    cli("import", str(sheet), "--reviewer", "alice")
    ft = tmp_path / "ft.csv"
    assert "wrote 0 records" in cli("export", "--stage", "full_text", "--reviewer", "alice", "--out", str(ft))
    out = cli("reopen", "1", "--stage", "full_text", "--reviewer", "carol", "--reason", "x", ok=False)
    assert "nothing to re-open" in out
    assert "re-opened" in cli("reopen", "1", "--stage", "title_abstract", "--reviewer", "carol",
                              "--reason", "abstract mentions withdrawal")
    again = tmp_path / "again.csv"
    cli("export", "--stage", "title_abstract", "--reviewer", "alice", "--out", str(again))
    assert 1 in sheet_ids(again)
    hist = tmp_path / "history.csv"
    assert "wrote 2 history rows" in cli("history", "--out", str(hist))
    bad = cli("import", str(tmp_path / "missing.xlsx"), "--reviewer", "alice", ok=False)
    assert "cannot read" in bad and "missing.xlsx" in bad
