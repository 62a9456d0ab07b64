"""Screening sheets: what an export holds, and every kind of bad upload (message names the row; nothing written)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from review.errors import InputError, ReviewError
from review.models import AbstractSection, Author, Record
from review.screening import (
    FULL_TEXT, TITLE_ABSTRACT, ScreeningConfig, current_status, decisions_frame, export_sheet, import_sheet, reopen,
    resolve,
)
from review.store import Store

DATA = Path(__file__).parent / "data" / "screening" / "kratom_sample.jsonl"


def kratom_records(n: int) -> list[Record]:
    """The first n real kratom records of the sample, as the importers would store them."""
    out = []
    for i, line in enumerate(DATA.read_text(encoding="utf-8").splitlines()[:n]):
        d = json.loads(line)
        authors = tuple(Author(family=a.split()[-1], given=" ".join(a.split()[:-1])) for a in d["authors"])
        out.append(Record(source="sample", source_id=str(i + 1), pmid=d["pmid"], doi=d["doi"], title=d["title"],
                          abstract=(AbstractSection(d["abstract"]),) if d["abstract"] else (), authors=authors,
                          journal=d["journal"], year=d["year"]))
    return out


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "review.sqlite")
    s.upsert_records(kratom_records(8))
    yield s
    s.close()


def fill_xlsx(path: Path, decisions: dict, edit: dict | None = None) -> None:
    """Fill decision/reason/notes per record id as a reviewer would in Excel; `edit` sets other cells."""
    wb = openpyxl.load_workbook(path)
    ws = wb["screening"]
    cols = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        rid = row[cols["record_id"] - 1].value
        for j, value in enumerate(decisions.get(rid, ())):
            ws.cell(row=row[0].row, column=cols[("decision", "reason", "notes")[j]], value=value)
        for (erid, col), value in (edit or {}).items():
            if erid == rid:
                ws.cell(row=row[0].row, column=cols[col], value=value)
    wb.save(path)


def read_csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def write_csv_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def fill_csv(path: Path, decisions: dict) -> None:
    rows = read_csv_rows(path)
    h = rows[0]
    for row in rows[1:]:
        for j, value in enumerate(decisions.get(int(row[h.index("record_id")]), ())):
            row[h.index(("decision", "reason", "notes")[j])] = value
    write_csv_rows(path, rows)


def snapshot(store):
    return store.screening_history(), store.screening_uploads()


def import_fails(store, path, reviewer, *expected, **kw) -> str:
    """Import must fail naming each expected fragment, and leave the store as it was."""
    before = snapshot(store)
    with pytest.raises(InputError) as err:
        import_sheet(store, path, reviewer, **kw)
    message = str(err.value)
    for fragment in expected:
        assert fragment in message, message
    assert "nothing was" in message
    assert snapshot(store) == before
    return message


# ------------------------------------------------------------------ what an export holds

def test_xlsx_export_has_dropdowns_frozen_header_wrapped_abstract_and_identity(store, tmp_path):
    out = tmp_path / "alice.xlsx"
    summary = export_sheet(store, TITLE_ABSTRACT, "alice", out)
    assert summary.n_rows == 8
    wb = openpyxl.load_workbook(out)
    ws = wb["screening"]
    header = [c.value for c in ws[1]]
    assert header == ["record_id", "title", "abstract", "year", "journal", "authors", "pubmed", "doi",
                      "related_reports", "design", "tier", "decision", "reason", "notes"]
    assert ws.freeze_panes == "B2"
    assert ws.cell(row=2, column=3).alignment.wrap_text
    assert ws.column_dimensions["C"].width >= 60
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["L2:L9"].startswith("=about!")
    assert lists["M2:M9"].startswith("=about!")
    about = {r[0]: r[1] for r in wb["about"].iter_rows(max_col=2, values_only=True)}
    assert (about["export_id"], about["stage"], about["reviewer"]) == (summary.export_id, TITLE_ABSTRACT, "alice")
    decision_list = [r[0] for r in wb["about"].iter_rows(min_row=2, min_col=4, max_col=4, values_only=True) if r[0]]
    assert decision_list == ["include", "exclude", "maybe"]
    first = store.get_record(1)
    assert ws.cell(row=2, column=2).value == first.title
    assert ws.cell(row=2, column=7).value == (f"https://pubmed.ncbi.nlm.nih.gov/{first.pmid}/" if first.pmid else None)


def test_csv_export_is_utf8_with_bom_and_carries_its_identity(store, tmp_path):
    out = tmp_path / "bob.csv"
    summary = export_sheet(store, TITLE_ABSTRACT, "bob", out, blind_design=True)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv_rows(out)
    assert "design" not in rows[0] and "tier" not in rows[0]
    assert rows[0][-3:] == ["export_id", "stage", "reviewer"]
    assert {tuple(r[-3:]) for r in rows[1:]} == {(summary.export_id, TITLE_ABSTRACT, "bob")}


def test_formula_title_exports_as_text(tmp_path):
    s = Store.open(tmp_path / "f.sqlite")
    evil = '=HYPERLINK("http://example.org/x","click")'
    s.upsert_records([Record(source="t", source_id="1", title=evil, abstract=(AbstractSection("-5 mg"),)),
                      Record(source="t", source_id="2", title="@SUM(A1:A2)")])
    export_sheet(s, TITLE_ABSTRACT, "alice", tmp_path / "a.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "a.xlsx")["screening"]
    assert ws["B2"].value == evil and ws["B2"].data_type == "s"
    assert ws["C2"].value == "-5 mg" and ws["C2"].data_type == "s"
    assert ws["B3"].data_type == "s"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    export_sheet(s, TITLE_ABSTRACT, "bob", tmp_path / "b.csv")
    rows = read_csv_rows(tmp_path / "b.csv")
    assert rows[1][1] == "'" + evil
    # The neutralised titles still match their keys on the way back in.
    fill_xlsx(tmp_path / "a.xlsx", {1: ("include",), 2: ("exclude",)})
    assert import_sheet(s, tmp_path / "a.xlsx", "alice").new == 2
    fill_csv(tmp_path / "b.csv", {1: ("include",), 2: ("include",)})
    assert import_sheet(s, tmp_path / "b.csv", "bob").new == 2


def test_formulas_in_a_filled_sheet_are_read_as_text_never_evaluated(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {1: ('=LOWER("INCLUDE")',)})
    import_fails(store, out, "alice", "row 2:", "decision '=LOWER(\"INCLUDE\")' is not one of")


def test_other_reviewers_decisions_never_appear(store, tmp_path):
    a = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", a)
    fill_xlsx(a, {1: ("include",), 2: ("exclude", "not human", "mice")})
    import_sheet(store, a, "alice")
    export_sheet(store, TITLE_ABSTRACT, "bob", tmp_path / "b.csv", include_decided=True)
    rows = read_csv_rows(tmp_path / "b.csv")
    h = rows[0]
    assert len(rows) == 9  # bob still has all eight to do
    assert all(r[h.index("decision")] == r[h.index("reason")] == r[h.index("notes")] == "" for r in rows[1:])
    export_sheet(store, TITLE_ABSTRACT, "alice", tmp_path / "a2.csv")
    assert len(read_csv_rows(tmp_path / "a2.csv")) == 7  # alice's undecided six only
    export_sheet(store, TITLE_ABSTRACT, "alice", tmp_path / "a3.csv", include_decided=True)
    r3 = {r[0]: r for r in read_csv_rows(tmp_path / "a3.csv")[1:]}
    assert (r3["2"][h.index("decision")], r3["2"][h.index("reason")], r3["2"][h.index("notes")]) == \
        ("exclude", "not human", "mice")


def test_prioritised_export_puts_likely_includes_first(tmp_path):
    s = Store.open(tmp_path / "p.sqlite")
    texts = ["kratom opioid withdrawal treated with buprenorphine", "mitragynine binding in rat brain tissue",
             "kratom use disorder and withdrawal in adults", "alkaloid extraction from leaves chemistry",
             "mitragynine effects on mice behaviour", "self-treatment of opioid withdrawal with kratom survey",
             "rats given mitragynine show tolerance", "buprenorphine induction for kratom dependence case"]
    s.upsert_records([Record(source="t", source_id=str(i), title=t) for i, t in enumerate(texts)])
    first = tmp_path / "first.xlsx"
    summary = export_sheet(s, TITLE_ABSTRACT, "alice", first, order="prioritised")
    assert summary.order.startswith("stable")  # nothing decided yet: stable order
    fill_xlsx(first, {1: ("include",), 2: ("exclude", "not human"), 3: ("include",), 4: ("exclude",)})
    import_sheet(s, first, "alice")
    summary = export_sheet(s, TITLE_ABSTRACT, "alice", tmp_path / "next.csv", order="prioritised")
    assert summary.order == "prioritised"
    ids = [int(r[0]) for r in read_csv_rows(tmp_path / "next.csv")[1:]]
    assert sorted(ids) == [5, 6, 7, 8]
    assert set(ids[:2]) == {6, 8}  # the two about withdrawal/dependence in people


# ------------------------------------------------------------------ valid uploads

def test_case_and_spacing_are_tolerated_and_reimport_is_a_noop(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {1: (" Include ",), 2: ("EXCLUDE", " Not  Human", "rodents"), 3: ("maybe",)})
    s = import_sheet(store, out, "alice")
    assert (s.new, s.changed, s.unchanged, s.undecided) == (3, 0, 0, 5)
    hist = decisions_frame(store)
    assert list(hist["decision"]) == ["include", "exclude", "maybe"]
    assert hist.loc[1, "reason"] == "not human"  # the list's spelling is stored
    again = import_sheet(store, out, "alice")
    assert again.already_imported_at and len(decisions_frame(store)) == 3


def test_changed_decisions_append_history_rows(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {1: ("include",), 2: ("include",)})
    import_sheet(store, out, "alice")
    fill_csv(out, {1: ("include",), 2: ("exclude", "not human")})
    s = import_sheet(store, out, "alice")
    assert (s.new, s.changed, s.unchanged) == (0, 1, 1)
    hist = decisions_frame(store)
    assert list(hist[hist.record_id == 2]["decision"]) == ["include", "exclude"]  # never overwritten
    status = current_status(store).set_index("record_id")
    assert status.loc[2, "ta_status"] == "exclude"


def test_csv_resaved_by_excel_with_semicolons_imports(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {1: ("include",), 2: ("exclude",)})
    rows = read_csv_rows(out)
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    assert import_sheet(store, out, "alice").new == 2


def test_unwritable_output_is_a_clear_error(store, tmp_path):
    (tmp_path / "taken.xlsx").mkdir()
    with pytest.raises(InputError, match="cannot write .*taken.xlsx"):
        export_sheet(store, TITLE_ABSTRACT, "alice", tmp_path / "taken.xlsx")
    with pytest.raises(InputError, match="write a .xlsx or .csv"):
        export_sheet(store, TITLE_ABSTRACT, "alice", tmp_path / "sheet.ods")


# ------------------------------------------------------------------ invalid uploads

def test_unknown_record_id(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    rows = read_csv_rows(out)
    extra = list(rows[1])
    extra[0] = "999"
    rows.append(extra)
    write_csv_rows(out, rows)
    import_fails(store, out, "alice", "row 10: record 999 is not in the store")


def test_record_not_in_this_export(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    store.upsert_records([Record(source="t", source_id="late", title="Added after the export")])
    export_sheet(store, TITLE_ABSTRACT, "alice", tmp_path / "other.csv")
    rows = read_csv_rows(out)
    late = [r for r in read_csv_rows(tmp_path / "other.csv") if r[0] == "9"][0]
    rows.append(late[:-3] + rows[1][-3:])  # pasted in, with this sheet's identity
    write_csv_rows(out, rows)
    import_fails(store, out, "alice", "row 10: record 9 is not in this export")


def test_duplicated_record_id(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    rows = read_csv_rows(out)
    rows.append(list(rows[3]))
    write_csv_rows(out, rows)
    import_fails(store, out, "alice", "row 10: record 3 appears twice (first on row 4)")


def test_invalid_decision_is_a_typo_not_tolerated(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {1: ("include",), 4: ("inclde",)})
    import_fails(store, out, "alice", "row 5: record 4: decision 'inclde' is not one of include, exclude, maybe",
                 "did you mean 'include'")


def test_missing_reason_for_a_full_text_exclusion(store, tmp_path):
    ta = tmp_path / "ta.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", ta)
    fill_csv(ta, {i: ("include",) for i in range(1, 9)})
    import_sheet(store, ta, "alice")
    ft = tmp_path / "ft.xlsx"
    export_sheet(store, FULL_TEXT, "alice", ft)
    fill_xlsx(ft, {2: ("exclude",), 3: ("exclude", "not retrievable"), 5: ("maybe",), 6: ("exclude", "too old")})
    msg = import_fails(store, ft, "alice", "row 3: record 2: an exclusion at full_text needs a reason",
                       "row 6: record 5: decision 'maybe' is not one of include, exclude (maybe is for title/abstract",
                       "row 7: record 6: reason 'too old' is not in the list")
    assert "row 4" not in msg  # the valid row is not reported


def test_sheet_exported_for_another_reviewer(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {1: ("include",)})
    import_fails(store, out, "bob", "exported for reviewer 'alice', not 'bob'")


def test_sheet_for_another_stage(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {1: ("include",)})
    import_fails(store, out, "alice", "this sheet is for stage title_abstract, not full_text", stage=FULL_TEXT)


def test_edited_key_columns(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {2: ("include",), 3: ("exclude",)}, edit={(3, "title"): "A different title"})
    import_fails(store, out, "alice", "row 4: record 3: record_id or title was edited")


def test_swapped_record_ids_are_caught_by_the_title(store, tmp_path):
    out = tmp_path / "a.xlsx"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_xlsx(out, {1: ("include",)}, edit={(1, "record_id"): 7, (7, "record_id"): 1})
    import_fails(store, out, "alice", "row 2: record 7: record_id or title was edited",
                 "row 8: record 1: record_id or title was edited")


def test_rows_pasted_from_another_reviewers_csv(store, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", a)
    export_sheet(store, TITLE_ABSTRACT, "bob", b)
    rows_a, rows_b = read_csv_rows(a), read_csv_rows(b)
    rows_a[5] = rows_b[5]
    write_csv_rows(a, rows_a)
    import_fails(store, a, "alice", "row 6: export_id/stage/reviewer", "rows copied from another sheet")


def test_sheet_from_another_store_or_without_identity(store, tmp_path):
    other = Store.open(tmp_path / "other.sqlite")
    other.upsert_records(kratom_records(8))
    out = tmp_path / "a.xlsx"
    export_sheet(other, TITLE_ABSTRACT, "alice", out)
    import_fails(store, out, "alice", "is unknown to this store")
    wb = openpyxl.load_workbook(out)
    del wb["about"]
    wb.save(out)
    import_fails(store, out, "alice", "no export id found")


def test_a_reason_without_a_decision_and_a_missing_column(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {2: ("", "not human")})
    import_fails(store, out, "alice", "row 3: record 2 has a reason ('not human') but no decision")
    rows = read_csv_rows(out)
    i = rows[0].index("decision")
    write_csv_rows(out, [r[:i] + r[i + 1:] for r in rows])
    import_fails(store, out, "alice", "missing column(s) decision")


def test_every_problem_is_listed_at_once(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {1: ("yes",), 2: ("include", "not human"), 3: ("include",), 4: ("exclude", "nope")})
    msg = import_fails(store, out, "alice", "3 problem", "row 2:", "row 3:", "row 5:")
    assert msg.index("row 2:") < msg.index("row 3:") < msg.index("row 5:")


def test_full_text_decision_on_an_excluded_record_needs_a_reopen(store, tmp_path):
    ta = tmp_path / "ta.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", ta)
    fill_csv(ta, {1: ("include",), 2: ("include",)})
    import_sheet(store, ta, "alice")
    ft = tmp_path / "ft.csv"
    export_sheet(store, FULL_TEXT, "alice", ft)
    assert [r[0] for r in read_csv_rows(ft)[1:]] == ["1", "2"]
    # The title/abstract call on record 2 changes after the full-text sheet went out.
    reopen(store, 2, TITLE_ABSTRACT, "carol", "second look at the population")
    resolve(store, 1, TITLE_ABSTRACT, "include", "carol")  # adjudication of an agreed record is allowed
    ta2 = tmp_path / "ta2.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", ta2)
    fill_csv(ta2, {2: ("exclude", "not human")})
    import_sheet(store, ta2, "alice")
    fill_csv(ft, {1: ("include",), 2: ("include",)})
    import_fails(store, ft, "alice", "row 3: record 2 cannot be decided at full_text: it is not due at this stage "
                 "(its title_abstract decision is exclude)")
    # Re-open, include, and the same full-text sheet goes in.
    reopen(store, 2, TITLE_ABSTRACT, "carol", "included on appeal")
    resolve_err = pytest.raises(ReviewError, match="nothing to resolve")
    with resolve_err:
        resolve(store, 2, TITLE_ABSTRACT, "include", "carol")
    fill_csv(ta2, {2: ("include", "")})
    import_sheet(store, ta2, "alice")
    assert import_sheet(store, ft, "alice").new == 2


def test_title_abstract_change_after_full_text_decisions_is_refused(store, tmp_path):
    ta = tmp_path / "ta.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", ta)
    fill_csv(ta, {1: ("include",)})
    import_sheet(store, ta, "alice")
    ft = tmp_path / "ft.csv"
    export_sheet(store, FULL_TEXT, "alice", ft)
    fill_csv(ft, {1: ("exclude", "not retrievable")})
    import_sheet(store, ft, "alice")
    fill_csv(ta, {1: ("exclude",)})
    import_fails(store, ta, "alice", "row 2: record 1 cannot be decided at title_abstract: it already has full-text "
                 "decisions; re-open it at title_abstract first")


def test_resolution_and_reopen_refusals(store, tmp_path):
    with pytest.raises(ReviewError, match="nothing to resolve"):
        resolve(store, 1, TITLE_ABSTRACT, "include", "carol")
    with pytest.raises(ReviewError, match="nothing to re-open"):
        reopen(store, 1, TITLE_ABSTRACT, "carol", "why not")
    with pytest.raises(InputError, match="not one of include, exclude"):
        resolve(store, 1, FULL_TEXT, "maybe", "carol")
    with pytest.raises(InputError, match="needs --reason"):
        resolve(store, 1, FULL_TEXT, "exclude", "carol")
    with pytest.raises(InputError, match="not in the store"):
        resolve(store, 999, TITLE_ABSTRACT, "include", "carol")
    assert store.screening_history() == []


def test_decisions_follow_a_record_into_its_duplicate_cluster(store, tmp_path):
    out = tmp_path / "a.csv"
    export_sheet(store, TITLE_ABSTRACT, "alice", out)
    fill_csv(out, {3: ("include",)})
    import_sheet(store, out, "alice")
    # Record 3 turns out to duplicate record 2: the cluster's primary (2) carries the decision.
    store.add_cluster([2, 3], store.get_record(2), [(2, 3, "doi", {}, "auto")], None, "2026-01-01T00:00:00Z")
    status = current_status(store, ScreeningConfig()).set_index("record_id")
    assert 3 not in status.index and status.loc[2, "ta_status"] == "include"
    fill_csv(out, {3: ("exclude",)})
    import_fails(store, out, "alice", "row 4: record 3 is now a duplicate of record 2")
