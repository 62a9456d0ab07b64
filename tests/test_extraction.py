"""Extraction and risk-of-bias workbooks: export, import checked whole, two extractors, conflicts, resolution."""
from __future__ import annotations

import pytest

from extraction_support import (CASE_REPORT, CLAIMS, FORMS, INCLUDED, NONRAND, RCT, SURVEY, confirm_designs, fill,
                                include, sample_records, sheet_rows)
from review.errors import ConfigError, InputError
from review.extraction import (conflict_rows, export_conflicts, export_workbook, final_values, import_resolutions,
                               import_workbook, load_review_forms)
from review.forms import check_value, parse_forms
from review.store import Store


@pytest.fixture
def forms():
    return load_review_forms(FORMS, CLAIMS)


@pytest.fixture
def store():
    s = Store.open(":memory:")
    s.upsert_records(sample_records())
    confirm_designs(s)
    include(s)
    return s


def _history_len(store) -> int:
    return len(store.extraction_history())


def test_forms_file_is_valid_and_typed(forms):
    assert set(forms) == {"extraction", "rob2", "robins_i", "jbi_prevalence"}
    assert [f.name for f in forms["rob2"].domains()][-1] == "overall"
    assert len(forms["rob2"].domains()) == 6 and len(forms["robins_i"].domains()) == 8
    assert forms["rob2"].judgements == ("low", "some concerns", "high")
    assert forms["robins_i"].judgements == ("low", "moderate", "serious", "critical", "no information")
    assert not any(f.applies("case_report") for f in forms.values() if f.is_rob)
    outcome = forms["extraction"].field("outcome", "scale")
    assert "COWS" in outcome.choices and "SOWS" in outcome.choices


def test_form_problems_are_named():
    with pytest.raises(ConfigError) as e:
        parse_forms({"forms": {"x": {"applies_to": ["not_a_design"], "study": [{"name": "n", "type": "numbr"}]}}})
    assert "not_a_design" in str(e.value) and "numbr" in str(e.value)


@pytest.mark.parametrize("ftype,text,value,problem", [
    ("number", "12.50", "12.5", None), ("number", "1,5", None, "not a number"), ("integer", "2.5", None, "whole"),
    ("yes_no", "Yes", "yes", None), ("yes_no", "maybe", None, "not one of"),
])
def test_cell_values(forms, ftype, text, value, problem):
    field = next(f for lvl in ("study", "outcome") for f in forms["extraction"].fields(lvl) if f.type == ftype)
    got, why = check_value(field, text)
    assert got == value
    assert (why is None) if problem is None else (problem in why)


def test_export_chooses_forms_by_confirmed_design_and_marks_suggestions(store, forms, tmp_path):
    out = tmp_path / "alice.xlsx"
    summary = export_workbook(store, "alice", out, forms=forms, now="2026-12-02T00:00:00Z")
    assert summary.n_records == len(INCLUDED)
    header, rows = sheet_rows(out, "rob2")
    assert [r[0] for r in rows] == [RCT]
    assert [r[0] for r in sheet_rows(out, "robins_i")[1]] == [NONRAND]
    assert [r[0] for r in sheet_rows(out, "jbi_prevalence")[1]] == [SURVEY]
    header, rows = sheet_rows(out, "extraction")
    assert sorted(r[0] for r in rows) == sorted(INCLUDED)
    assert summary.n_suggested > 0
    import openpyxl
    ws = openpyxl.load_workbook(out)["extraction"]
    assert any(c.font.italic and c.comment is not None for row in ws.iter_rows(min_row=2) for c in row)
    assert ws.data_validations.dataValidation, "drop-downs from the form"


def _fill_alice(path, forms):
    fill(path, "extraction", {(RCT, None): {"n_participants": 40, "setting": "laboratory", "done": "yes",
                                            "conflicts_declared": "no"}})
    fill(path, "extraction_outcomes", {(RCT, 1): {"outcome": "withdrawal severity", "scale": "COWS", "effect": 2.5}})
    fill(path, "rob2", {(RCT, None): {"D1_randomisation": "low", "D2_deviations": "low", "D3_missing_data": "low",
                                      "D4_measurement": "some concerns", "D5_selection": "low",
                                      "overall": "some concerns"}})
    return path


def test_two_extractors_conflict_and_resolution(store, forms, tmp_path):
    a = export_workbook(store, "alice", tmp_path / "a.xlsx", forms=forms, now="2026-12-02T00:00:00Z")
    b = export_workbook(store, "bob", tmp_path / "b.xlsx", forms=forms, now="2026-12-02T00:00:01Z")
    _fill_alice(tmp_path / "a.xlsx", forms)
    _fill_alice(tmp_path / "b.xlsx", forms)
    fill(tmp_path / "b.xlsx", "extraction", {(RCT, None): {"n_participants": 42}})
    s1 = import_workbook(store, tmp_path / "a.xlsx", "alice", forms=forms, now="2026-12-03T00:00:00Z")
    s2 = import_workbook(store, tmp_path / "b.xlsx", "bob", forms=forms, now="2026-12-03T00:00:01Z")
    assert s1.new > 0 and s2.new > 0
    again = import_workbook(store, tmp_path / "a.xlsx", "alice", forms=forms)
    assert again.already_imported_at
    states, records = final_values(store)
    conflicts = conflict_rows(states, records)
    assert [(c["record_id"], c["field"]) for c in conflicts] == [(RCT, "n_participants")]
    assert states[(RCT, "rob2", "", "overall")].final == "some concerns"
    n = export_conflicts(store, tmp_path / "c.xlsx", forms=forms, now="2026-12-04T00:00:00Z")
    assert n == 1
    wb_path = tmp_path / "c.xlsx"
    import openpyxl
    wb = openpyxl.load_workbook(wb_path)
    ws = wb["conflicts"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("final") + 1, value=42)
    wb.save(wb_path)
    r = import_resolutions(store, wb_path, "carol", forms=forms, now="2026-12-04T00:00:01Z")
    assert r.new == 1
    states, _ = final_values(store)
    st = states[(RCT, "extraction", "", "n_participants")]
    assert st.status == "resolved" and st.final == "42"
    # history is append-only: the two extractors' values are still there
    hist = [h for h in store.extraction_history() if h["field"] == "n_participants" and h["record_id"] == RCT]
    assert [(h["extractor"], h["value"]) for h in hist] == [("alice", "40"), ("bob", "42"), ("carol", "42")]


@pytest.mark.parametrize("case", ["unknown_record", "outside_choices", "not_a_number", "rob2_for_case_report",
                                  "other_extractor"])
def test_bad_uploads_refused_whole_with_row_and_column(store, forms, tmp_path, case):
    path = export_workbook(store, "alice", tmp_path / "a.xlsx", forms=forms).path
    _fill_alice(tmp_path / "a.xlsx", forms)  # good values that must not be written either
    who, expect = "alice", ()
    if case == "unknown_record":
        fill(path, "extraction", {(99999, None): {"title": "x", "n_participants": 3, "done": "yes"}})
        expect = ("row 7", "column A (record_id)", "unknown record 99999")
    elif case == "outside_choices":
        fill(path, "rob2", {(RCT, None): {"overall": "medium"}})
        expect = ("sheet 'rob2', row 2", "(overall)", "'medium' is not one of")
    elif case == "not_a_number":
        fill(path, "extraction_outcomes", {(RCT, 1): {"effect": "about 3"}})
        expect = ("sheet 'extraction_outcomes', row", "(effect)", "not a number")
    elif case == "rob2_for_case_report":
        title = next(r.title for i, r in enumerate(sample_records(), 1) if i == CASE_REPORT)
        fill(path, "rob2", {(CASE_REPORT, None): {"title": title, "overall": "low"}})
        expect = ("sheet 'rob2', row 3", "column A (record_id)", "case report", "no risk-of-bias assessment")
    elif case == "other_extractor":
        who = "bob"
        expect = ("sheet 'about', row 3, column B (extractor)", "exported for extractor 'alice', not 'bob'")
    with pytest.raises(InputError) as e:
        import_workbook(store, path, who, forms=forms)
    text = str(e.value) + "\n" + "\n".join(getattr(e.value, "problems", []) or [])
    for bit in expect:
        assert bit in text, text
    assert "nothing was" in text
    assert _history_len(store) == 0
    assert store.conn.execute("SELECT COUNT(*) FROM extraction_uploads").fetchone()[0] == 0


def test_tables_and_figure_follow_the_store_and_are_reproducible(store, forms, tmp_path):
    from review.evidence_tables import NOT_ASSESSED, write_outputs

    export_workbook(store, "alice", tmp_path / "a.xlsx", forms=forms)
    _fill_alice(tmp_path / "a.xlsx", forms)
    fill(tmp_path / "a.xlsx", "extraction_outcomes", {(RCT, 1): {"claim": "C01", "ci_lower": 1, "ci_upper": 4}})
    import_workbook(store, tmp_path / "a.xlsx", "alice", forms=forms)
    tables, files = write_outputs(store, forms, tmp_path / "out1")
    ch = tables.characteristics.set_index("record_id")
    assert ch.loc[RCT, "n_participants"] == "40" and ch.loc[RCT, "rob_overall"] == "some concerns"
    assert ch.loc[CASE_REPORT, "rob_tool"] == NOT_ASSESSED
    ev = tables.evidence
    assert list(ev[["claim", "outcome", "record_id", "scale", "effect", "n"]].itertuples(index=False, name=None)) == \
        [("C01", "withdrawal severity", RCT, "COWS", "2.5", "40")]
    rob = tables.rob[tables.rob["record_id"] == RCT].set_index("domain")["judgement"]
    assert rob["D4_measurement"] == "some concerns" and len(rob) == 6
    _, again = write_outputs(store, forms, tmp_path / "out2")
    assert [p.name for p in files] == [p.name for p in again]
    for a, b in zip(files, again):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert (tmp_path / "out1" / "risk_of_bias_traffic_light.png").stat().st_size > 5000


def test_yes_no_judgements_are_words_not_booleans(forms):
    assert forms["jbi_prevalence"].judgements == ("yes", "unclear", "no", "not applicable")
    f = parse_forms({"forms": {"x": {"study": [{"name": "a", "type": "choice", "choices": [True, False]}]}}})["x"]
    assert f.fields("study")[0].choices == ("yes", "no")


def test_export_names_studies_whose_design_no_person_confirmed(forms, tmp_path):
    s = Store.open(":memory:")
    s.upsert_records(sample_records())
    confirm_designs(s, record_ids=[r for r in INCLUDED if r != SURVEY])
    include(s)
    summary = export_workbook(s, "alice", tmp_path / "a.xlsx", forms=forms)
    assert summary.unconfirmed == (SURVEY,)
    assert sheet_rows(tmp_path / "a.xlsx", "jbi_prevalence")[1] == []  # no design: no risk-of-bias form guessed
    assert f"not confirmed by a person (their risk-of-bias form follows the classifier): {SURVEY}" in summary.line()
