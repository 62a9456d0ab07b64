"""A person confirms designs: review sheet round trip, full-text sheet column, every output says who decided."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from review.claims import claims_map, load_claims
from review.classify import needs_review
from review.classify.apply import classify_store
from review.classify.confirm import export_review, import_review
from review.cli import main
from review.errors import InputError
from review.export import records_frame
from review.models import DESIGN_TIER
from review.prisma import DBR, characteristics_rows, evidence_by_tier
from review.screening import ScreeningConfig, export_sheet, import_sheet
from review.search import replay
from review.store import Store
from review.summarise import evidence_frame, tier_table

ROOT = Path(__file__).parent.parent

# Text-only records in which no design signal speaks: they must come out unclassified.
SILENT = [
    ("Kratom", ""),
    ("Mitragyna speciosa: notes", "Kratom and mitragynine."),
]


def _store(tmp_path) -> tuple[str, Store]:
    db = str(tmp_path / "s.sqlite")
    store = Store.open(db)
    replay(ROOT / "sample" / "searches", store)
    extra = tmp_path / "silent.csv"
    with extra.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "abstract", "year"])
        for title, abstract in SILENT:
            w.writerow([title, abstract, "2021"])
    r = CliRunner().invoke(main, ["import", str(extra), "--source", "Grey", "--db", db])
    assert r.exit_code == 0, r.output
    classify_store(store)
    return db, store


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _other_design(design: str) -> str:
    """A confirmed design different from the suggestion, so the person's label visibly wins."""
    return "rct" if design != "rct" else "cohort"


def test_review_sheet_round_trip(tmp_path):
    db, store = _store(tmp_path)
    designs = store.designs()
    silent = [rid for rid, d in designs.items() if d.design == "unclassified"]
    assert len(silent) == len(SILENT), {rid: d.reasons for rid, d in designs.items() if d.confidence < 0.7}
    assert all(d.tier.value == "unclassified" and "no design signal" in " ".join(d.reasons)
               for rid, d in designs.items() if rid in silent)

    # Unclassified end to end: records export, screening sheet, PRISMA evidence table, each apart from opinion.
    df = records_frame(store.iter_records(), designs, store.duplicate_of()).set_index("record_id")
    assert set(df.loc[silent, "evidence_tier"]) == {"unclassified"} and df.loc[silent, "needs_review"].all()
    ta = tmp_path / "ta.csv"
    export_sheet(store, "title_abstract", "alice", ta)
    assert {r["tier"] for r in _read(ta) if int(r["record_id"]) in silent} == {"unclassified"}
    import pandas as pd
    states = pd.DataFrame({"canonical_id": silent + [1], "study_id": silent + [1], "removed": "",
                           "ft": "included", "arm": DBR, "source": "grey"})
    by_tier = evidence_by_tier(characteristics_rows(states, dict(store.canonical_records()), designs))
    row = by_tier.set_index("tier").loc["unclassified"]
    assert (row["label"], row["studies"]) == ("Not yet classified", len(silent))
    assert by_tier.set_index("tier").loc["opinion_other", "studies"] == 0

    runner = CliRunner()
    # The default sheet holds exactly the records that need a person, unclassified first.
    r = runner.invoke(main, ["classify", "export-review", "--reviewer", "alice", "--out", str(tmp_path / "r.xlsx"),
                             "--db", db])
    assert r.exit_code == 0, r.output
    from openpyxl import load_workbook
    wb = load_workbook(tmp_path / "r.xlsx")
    ws = wb["screening"]
    header = [c.value for c in ws[1]]
    ids = [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(ids) == sorted(rid for rid, d in designs.items() if needs_review(d))
    assert ids[:len(silent)] == sorted(silent)
    assert ws.data_validations.dataValidation, "confirmed_design has a drop-down"
    col = header.index("confirmed_design")
    assert any(f"{chr(65 + col)}2" in str(dv.sqref) for dv in ws.data_validations.dataValidation)
    assert "no design signal" in ws.cell(row=2, column=header.index("design_reasons") + 1).value

    # Every machine label, as CSV; alice confirms 10 designs (some differ from the suggestion).
    sheet = tmp_path / "all.csv"
    r = runner.invoke(main, ["classify", "export-review", "--all", "--reviewer", "alice", "--out", str(sheet),
                             "--db", db])
    assert r.exit_code == 0 and f"wrote {len(designs)} records" in r.output
    rows = _read(sheet)
    chosen = {}
    for i, row in enumerate(rows[:10]):
        suggested = row["suggested_design"]
        design = _other_design(suggested) if i % 2 or suggested == "unclassified" else suggested
        row["confirmed_design"] = design.replace("_", " ").upper() if i == 3 else design  # typed, not picked
        chosen[int(row["record_id"])] = design
    _write(sheet, rows)
    r = runner.invoke(main, ["classify", "import-review", str(sheet), "--reviewer", "alice", "--db", db])
    assert r.exit_code == 0, r.output
    assert f"10 new, 0 changed, 0 unchanged confirmed designs; rows left blank: {len(rows) - 10}" in r.output
    assert "refit the text model" in r.output  # 10 new labels make a retrain due

    store = Store.open(db)
    after = store.designs()
    assert {rid: (d.design, d.confirmed_by, d.tier_source) for rid, d in after.items() if rid in chosen} == {
        rid: (design, "alice", "person-confirmed") for rid, design in chosen.items()}
    assert all(d.tier_source == "machine-suggested" for rid, d in after.items() if rid not in chosen)
    assert not any(needs_review(after[rid]) for rid in chosen)

    # Every output says which tiers a person confirmed.
    df = records_frame(store.iter_records(), after, store.duplicate_of())
    by_id = df.set_index("record_id")
    assert {rid: by_id.loc[rid, "tier_source"] for rid in chosen} == dict.fromkeys(chosen, "person-confirmed")
    assert (df["tier_source"] == "person-confirmed").sum() == 10
    assert {rid: by_id.loc[rid, "evidence_tier"] for rid in chosen} == {
        rid: DESIGN_TIER[d].value for rid, d in chosen.items()}
    ev = evidence_frame(store.canonical_records(), after)
    assert tier_table(ev)["person_confirmed"].sum() == 10
    cmap = claims_map(store.canonical_records(), after, load_claims(ROOT / "queries" / "claims.yaml"))
    assert set(cmap[cmap["record_id"].isin(chosen)]["tier_source"]) <= {"person-confirmed"}
    assert set(cmap[~cmap["record_id"].isin(chosen)]["tier_source"]) <= {"machine-suggested"}
    states = pd.DataFrame({"canonical_id": list(chosen), "study_id": list(chosen), "removed": "",
                           "ft": "included", "arm": DBR, "source": "pubmed"})
    chars = characteristics_rows(states, dict(store.canonical_records()), after)
    assert set(chars["tier_source"]) == {"person-confirmed"}

    # A retrain uses the 10 confirmed designs; the labels carry the new model's version.
    result = classify_store(store, retrain_model=True)
    model = store.active_design_model()
    assert model["n_confirmed"] == 10 and "retrained" in result.line()
    assert store.designs()[next(iter(chosen))].design == chosen[next(iter(chosen))]  # the person still wins

    # The same file again is a no-op; nothing is appended.
    n = len(store.overrides())
    r = runner.invoke(main, ["classify", "import-review", str(sheet), "--reviewer", "alice", "--db", db])
    assert r.exit_code == 0 and "already imported" in r.output and len(store.overrides()) == n


def test_malformed_review_sheet_is_refused_whole_with_rows_named(tmp_path):
    db, store = _store(tmp_path)
    sheet = tmp_path / "all.csv"
    export_review(store, sheet, "alice", everything=True)
    rows = _read(sheet)
    rows[0]["confirmed_design"] = "rct"                      # row 2: fine on its own
    rows[1]["confirmed_design"] = "randomised trial-ish"     # row 3: not a design
    rows[2]["record_id"] = "99999"                          # row 4: not in the store
    rows[3]["title"] = rows[3]["title"] + " (edited)"       # row 5: key column edited
    rows[3]["confirmed_design"] = "cohort"
    rows[4]["confirmed_design"] = "unclassified"             # row 6: not something a person asserts
    rows.append(dict(rows[0]))                               # row N: the same record twice
    _write(sheet, rows)
    with pytest.raises(InputError) as err:
        import_review(store, sheet, "alice")
    text = str(err.value)
    assert "nothing was imported" in text
    for needle in ("row 3:", "'randomised trial-ish' is not a design", "row 4: record 99999 is not in the store",
                   "row 5:", "title was edited", "row 6:", f"row {len(rows) + 1}:", "appears twice"):
        assert needle in text, needle
    assert store.overrides() == []  # nothing written
    assert store.conn.execute("SELECT COUNT(*) FROM screening_uploads").fetchone()[0] == 0
    assert all(d.confirmed_by is None for d in store.designs().values())

    # Another reviewer's sheet, and a screening sheet given to import-review, are refused too.
    with pytest.raises(InputError, match="exported for 'alice', not 'bob'"):
        import_review(store, sheet, "bob")
    ta = tmp_path / "ta.csv"
    export_sheet(store, "title_abstract", "alice", ta)
    with pytest.raises(InputError, match="not a design review sheet"):
        import_review(store, ta, "alice")
    assert store.overrides() == []


def test_a_different_persons_confirmation_is_never_replaced_from_a_sheet(tmp_path):
    db, store = _store(tmp_path)
    bob_sheet = tmp_path / "bob.csv"
    export_review(store, bob_sheet, "bob", everything=True)
    alice_sheet = tmp_path / "alice.csv"
    export_review(store, alice_sheet, "alice", everything=True)
    rows = _read(alice_sheet)
    rows[0]["confirmed_design"] = "case_report"
    _write(alice_sheet, rows)
    assert import_review(store, alice_sheet, "alice").new == 1
    rows = _read(bob_sheet)
    rid = next(i for i, r in enumerate(rows) if r["record_id"] == _read(alice_sheet)[0]["record_id"])
    rows[rid]["confirmed_design"] = "rct"
    _write(bob_sheet, rows)
    with pytest.raises(InputError, match="alice confirmed case_report; bob's rct is a disagreement"):
        import_review(store, bob_sheet, "bob")
    assert store.designs()[int(rows[rid]["record_id"])].design == "case_report"
    record = int(rows[rid]["record_id"])
    again = tmp_path / "alice2.csv"
    export_review(store, again, "alice", everything=True)
    assert record not in {int(r["record_id"]) for r in _read(again)}  # confirmed: no longer asked
    # Alice changing her own mind is recorded as a change, with the history kept.
    rows = _read(alice_sheet)
    rows[0]["confirmed_design"] = "case_series"
    _write(alice_sheet, rows)
    got = import_review(store, alice_sheet, "alice")
    assert (got.new, got.changed) == (0, 1)
    assert [o["design"] for o in store.overrides() if o["record_id"] == record] == ["case_report", "case_series"]
    assert store.designs()[record].design == "case_series"


def test_full_text_sheet_carries_suggestion_and_records_the_confirmed_design(tmp_path):
    db, store = _store(tmp_path)
    config = ScreeningConfig()
    ta = tmp_path / "ta.csv"
    export_sheet(store, "title_abstract", "alice", ta, config=config)
    rows = _read(ta)
    for row in rows[:4]:
        row["decision"] = "include"
    _write(ta, rows)
    import_sheet(store, ta, "alice", config=config)
    ft = tmp_path / "ft.xlsx"
    export_sheet(store, "full_text", "alice", ft, config=config)
    from openpyxl import load_workbook
    wb = load_workbook(ft)
    ws = wb["screening"]
    header = [c.value for c in ws[1]]
    for col in ("design", "tier", "tier_source", "design_reasons", "confirmed_design"):
        assert col in header, col
    assert {ws.cell(row=r, column=header.index("tier_source") + 1).value for r in range(2, 6)} == {
        "machine-suggested"}
    target = chr(65 + header.index("confirmed_design"))
    assert any(str(dv.sqref).startswith(f"{target}2") for dv in ws.data_validations.dataValidation)
    rid = ws.cell(row=2, column=1).value
    ws.cell(row=2, column=header.index("decision") + 1, value="include")
    ws.cell(row=2, column=header.index("confirmed_design") + 1, value="uncontrolled_trial")
    ws.cell(row=3, column=header.index("confirmed_design") + 1, value="not-a-design")
    wb.save(ft)
    with pytest.raises(InputError, match=r"row 3: .*'not-a-design' is not a design"):
        import_sheet(store, ft, "alice", config=config)
    assert store.overrides() == [] and all(d.confirmed_by is None for d in store.designs().values())
    ws.cell(row=3, column=header.index("confirmed_design") + 1).value = None
    wb.save(ft)
    summary = import_sheet(store, ft, "alice", config=config)
    assert summary.designs_confirmed == 1 and "1 designs confirmed" in summary.line()
    d = store.designs()[rid]
    assert (d.design, d.tier.value, d.confirmed_by) == ("uncontrolled_trial", "trial", "alice")
    # The next full-text sheet shows the confirmation as the person's.
    ft2 = tmp_path / "ft2.csv"
    export_sheet(store, "full_text", "alice", ft2, config=config, include_decided=True)
    row = next(r for r in _read(ft2) if int(r["record_id"]) == rid)
    assert (row["confirmed_design"], row["tier_source"]) == ("uncontrolled_trial", "person-confirmed")


def test_need_a_person_counts_what_the_review_sheet_lists(tmp_path):
    """classify's "N need a person (review classify export-review)" is the sheet's row count: a record
    a person confirmed is no longer counted (nor a cluster member behind its merged record, see the
    tutorial in test_tutorial.py)."""
    from review.classify.apply import override

    _, store = _store(tmp_path)
    first = classify_store(store, everything=True)
    sheet = export_review(store, tmp_path / "a.csv", "alice")
    assert first.needs_review == sheet.n_rows >= 2
    assert f"; {sheet.n_rows} need a person (review classify export-review)" in first.line()
    silent = sorted(rid for rid, d in store.designs().items() if d.design == "unclassified")
    override(store, silent[0], "editorial_commentary", reviewer="alice", reason="a news item")
    again = classify_store(store, everything=True)
    assert again.needs_review == export_review(store, tmp_path / "b.csv", "alice").n_rows == first.needs_review - 1
