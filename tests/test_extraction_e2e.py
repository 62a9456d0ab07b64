"""Issue 13 end to end on the bundled sample, through the command line: two reviewers screen to full text,
`review fulltext` against the local E-utilities server, two extractors, a conflict resolved, risk of bias for
the included trials, tables and figure consistent with the store; bad uploads refused whole, nothing written."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from review.cli import main
from review.store import Store

ROOT = Path(__file__).parent.parent
REAL_PMC = ROOT / "tests" / "data" / "entrez" / "efetch_pmc.xml"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
# Bundled-sample record ids (replay + imports in this order) and what they are.
NONRAND, SURVEY, RCT, NOT_RETRIEVED, CASE_REPORT, UNCONTROLLED = 1, 6, 11, 14, 17, 69
TA_INCLUDE = (NONRAND, SURVEY, RCT, NOT_RETRIEVED, CASE_REPORT, UNCONTROLLED)
FT_INCLUDE = {NONRAND: "controlled_trial_nonrandomized", SURVEY: "cross_sectional_survey", RCT: "rct",
              CASE_REPORT: "case_report"}
FT_EXCLUDE = {UNCONTROLLED: "no withdrawal/OUD outcome"}


def run(*args, ok=True, env=None):
    res = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def set_cells(path: Path, sheet: str, values: dict, key_cols=("record_id",)) -> None:
    """values: {key tuple: {column: value}} on rows whose key columns match."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        key = tuple(row[header.index(k)].value for k in key_cols)
        key = key if len(key) > 1 else key[0]
        for col, v in values.get(key, {}).items():
            row[header.index(col)].value = v
    wb.save(path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder: the bundled sample's queries, screening by two reviewers per record."""
    (tmp_path / "queries").mkdir()
    for name in ("claims.yaml", "extraction.yaml"):
        shutil.copy(ROOT / "queries" / name, tmp_path / "queries" / name)
    text = (ROOT / "queries" / "screening.yaml").read_text().replace("reviewers_per_record: 1",
                                                                     "reviewers_per_record: 2")
    (tmp_path / "queries" / "screening.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "review.sqlite"
    run("search", "--replay", ROOT / "sample" / "searches", "--db", db)
    run("import", ROOT / "sample" / "imports" / "article_pages" / "article_pages.ris", "--source", "article_pages",
        "--db", db)
    run("import", ROOT / "sample" / "imports" / "clinicaltrials" / "trial_registrations.csv", "--source",
        "clinicaltrials", "--db", db)
    run("dedupe", "--db", db)
    run("classify", "--db", db)
    return tmp_path, db


def screen(tmp, db, stage, decide) -> None:
    for who in ("alice", "bob"):
        out = tmp / f"{stage}_{who}.xlsx"
        run("screen", "export", "--stage", stage, "--reviewer", who, "--out", out, "--db", db)
        wb = openpyxl.load_workbook(out)
        ws = wb["screening"]
        header = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2):
            for col, v in decide(row[0].value).items():
                row[header.index(col)].value = v
        wb.save(out)
        run("screen", "import", out, "--reviewer", who, "--db", db)


def test_full_text_to_evidence_tables(project, eutils_server):
    t0 = time.perf_counter()
    tmp, db = project
    store = Store.open(str(db))
    recs = dict(store.canonical_records())
    assert recs[RCT].pmcid == "PMC7309661" and recs[NONRAND].pmid == "39724441"
    store.close()
    # 1. Title/abstract: two reviewers agree on six records.
    screen(tmp, db, "title_abstract", lambda rid: {"decision": "include"} if rid in TA_INCLUDE else
           {"decision": "exclude", "reason": "no withdrawal/OUD outcome"})
    # 2. Full texts: the non-randomised trial is open access in PMC (the real article, served by the local server
    #    under its PMID); the RCT and the survey are PDFs in the folder (by record id and by DOI).
    eutils_server.add_pmc_article(REAL_PMC.read_bytes(), pmid=recs[NONRAND].pmid)
    folder = tmp / "fulltext"
    folder.mkdir()
    (folder / f"{RCT}.pdf").write_bytes(PDF)
    (folder / f"{recs[SURVEY].doi.lower().replace('/', '_')}.pdf").write_bytes(PDF + b" ")
    env = {"NCBI_EMAIL": "tests@example.org", "NCBI_EUTILS_URL": eutils_server.url, "NCBI_API_KEY": "s" * 36}
    res = run("fulltext", "--folder", folder, "--out", tmp / "ft", "--db", db, env=env)
    assert "6 reports sought: retrieved 3 (pmc_open_access 1, user_folder 2), not retrieved 3" in res.output
    assert "s" * 36 not in res.output
    # 3. Full text: both include four (a design confirmed on the sheet), exclude one; one is never assessed.
    def ft(rid):
        if rid in FT_INCLUDE:
            return {"decision": "include", "confirmed_design": FT_INCLUDE[rid]}
        if rid in FT_EXCLUDE:
            return {"decision": "exclude", "reason": FT_EXCLUDE[rid]}
        return {}
    screen(tmp, db, "full_text", ft)
    res = run("prisma", "--out", tmp / "prisma", "--db", db)
    from review.prisma import prisma_counts
    with Store.open(str(db)) as store:
        counts = prisma_counts(store)
    assert counts.dbr.sought + counts.other.sought == len(TA_INCLUDE)
    assert counts.dbr.not_retrieved + counts.other.not_retrieved == 1  # record 14: not in PMC, no PDF, not assessed
    # 4. Two extractors.
    for who in ("alice", "bob"):
        res = run("extract", "export", "--reviewer", who, "--out", tmp / f"x_{who}.xlsx", "--db", db)
        assert "wrote 4 included studies" in res.output
    a, b = tmp / "x_alice.xlsx", tmp / "x_bob.xlsx"
    wb = openpyxl.load_workbook(a)
    assert set(wb.sheetnames) >= {"extraction", "extraction_outcomes", "rob2", "robins_i", "jbi_prevalence"}
    assert [r[0].value for r in wb["rob2"].iter_rows(min_row=2)] == [RCT]
    assert [r[0].value for r in wb["robins_i"].iter_rows(min_row=2)] == [NONRAND]
    for path, n in ((a, 50), (b, 52)):
        set_cells(path, "extraction", {rid: {"done": "yes"} for rid in FT_INCLUDE} |
                  {RCT: {"done": "yes", "n_participants": n, "population": "healthy volunteers",
                         "setting": "laboratory", "country": "Malaysia", "conflicts_declared": "no"}})
        set_cells(path, "extraction_outcomes", {(RCT, 1): {"outcome": "withdrawal severity", "claim": "C01",
                                                           "scale": "COWS", "effect": -2.1, "ci_lower": -3.5,
                                                           "ci_upper": -0.7, "direction": "favours kratom"},
                                                (NONRAND, 1): {"outcome": "adverse events", "effect_measure": "count",
                                                               "effect": 3}}, key_cols=("record_id", "outcome_no"))
        set_cells(path, "rob2", {RCT: {"D1_randomisation": "low", "D2_deviations": "some concerns",
                                       "D3_missing_data": "low", "D4_measurement": "low", "D5_selection": "low",
                                       "overall": "some concerns"}})
        set_cells(path, "robins_i", {NONRAND: {"D1_confounding": "serious", "D2_selection": "moderate",
                                               "D3_classification": "low", "D4_deviations": "low",
                                               "D5_missing_data": "low", "D6_measurement": "moderate",
                                               "D7_reported_result": "moderate", "overall": "serious"}})
        set_cells(path, "jbi_prevalence", {SURVEY: {"Q1_sample_frame": "yes", "Q2_sampling": "no",
                                                    "Q3_sample_size": "yes", "Q4_description": "yes",
                                                    "Q5_coverage": "unclear", "Q6_valid_methods": "yes",
                                                    "Q7_reliable_measurement": "unclear", "Q8_statistics": "yes",
                                                    "Q9_response_rate": "not applicable", "overall": "moderate"}})
    good_alice = a.read_bytes()
    # 5. Bad uploads, each refused whole with row and column named, nothing written.
    with Store.open(str(db)) as store:
        titles = {rid: r.title for rid, r in store.canonical_records()}
    bad_cases = {
        "unknown record": ("extraction", {"append": {"record_id": 9999, "title": "x", "done": "yes"}},
                           ["row 6", "column A (record_id)", "unknown record 9999"]),
        "outside the choice list": ("rob2", {RCT: {"overall": "unclear"}},
                                    ["sheet 'rob2', row 2", "(overall)", "'unclear' is not one of"]),
        "not a number": ("extraction", {RCT: {"n_participants": "fifty"}},
                         ["sheet 'extraction', row", "(n_participants)", "'fifty' is not a number"]),
        "RoB 2 for a case report": ("rob2", {"append": {"record_id": CASE_REPORT, "title": titles[CASE_REPORT],
                                                        "overall": "low"}},
                                    ["sheet 'rob2', row 3", "column A (record_id)", "case report",
                                     "no risk-of-bias assessment"]),
    }
    for name, (sheet, change, expect) in bad_cases.items():
        bad = tmp / f"bad_{name.replace(' ', '_')}.xlsx"
        bad.write_bytes(good_alice)
        wb = openpyxl.load_workbook(bad)
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        if "append" in change:
            r = ws.max_row + 1
            for col, v in change["append"].items():
                ws.cell(row=r, column=header.index(col) + 1, value=v)
        else:
            for row in ws.iter_rows(min_row=2):
                for col, v in change.get(row[0].value, {}).items():
                    row[header.index(col)].value = v
        wb.save(bad)
        res = run("extract", "import", bad, "--reviewer", "alice", "--db", db, ok=False)
        assert res.exit_code == 1, (name, res.output)
        for bit in expect:
            assert bit in res.output, (name, bit, res.output)
        _nothing_written(db)
    res = run("extract", "import", b, "--reviewer", "alice", "--db", db, ok=False)  # bob's sheet as alice
    assert res.exit_code == 1 and "exported for extractor 'bob', not 'alice'" in res.output
    assert "sheet 'about', row 3, column B (extractor)" in res.output
    _nothing_written(db)
    # 6. The good uploads; one conflict (n 50 vs 52), resolved.
    run("extract", "import", a, "--reviewer", "alice", "--db", db)
    run("extract", "import", b, "--reviewer", "bob", "--db", db)
    res = run("extract", "conflicts", "--out", tmp / "conflicts.xlsx", "--db", db)
    assert "wrote 1 conflicting fields" in res.output
    set_cells(tmp / "conflicts.xlsx", "conflicts", {RCT: {"final": 51}})
    run("extract", "resolve", "--file", tmp / "conflicts.xlsx", "--resolver", "carol", "--db", db)
    # 7. Tables and figure, consistent with the store.
    res = run("extract", "tables", "--out", tmp / "tables", "--db", db)
    assert "4 included studies, 2 outcome rows, 3 studies with risk-of-bias judgements" in res.output
    import pandas as pd
    ch = pd.read_csv(tmp / "tables" / "characteristics_of_included_studies.csv", dtype=str).set_index("record_id")
    assert ch.loc[str(RCT), "n_participants"] == "51" and ch.loc[str(RCT), "rob_overall"] == "some concerns"
    assert ch.loc[str(NONRAND), "rob_tool"] == "robins_i" and ch.loc[str(NONRAND), "rob_overall"] == "serious"
    assert ch.loc[str(NONRAND), "fulltext"] == "pmc_open_access" and ch.loc[str(RCT), "fulltext"] == "user_folder"
    assert ch.loc[str(CASE_REPORT), "rob_tool"] == "not assessed (anecdote by design)"
    ev = pd.read_csv(tmp / "tables" / "evidence_by_claim_outcome.csv", dtype=str)
    row = ev[ev["record_id"] == str(RCT)].iloc[0]
    assert (row["claim"], row["scale"], row["effect"], row["n"], row["rob_overall"]) == \
        ("C01", "COWS", "-2.1", "51", "some concerns")
    rob = pd.read_csv(tmp / "tables" / "risk_of_bias.csv", dtype=str)
    with Store.open(str(db)) as store:
        hist = store.extraction_history()
    finals = {(h["record_id"], h["form"], h["field"]): h["value"] for h in hist if h["extractor"] == "alice"}
    for r in rob.itertuples():
        if isinstance(r.judgement, str):
            assert finals[(int(r.record_id), r.tool, r.domain)] == r.judgement
        else:  # nothing is ever guessed
            assert finals.get((int(r.record_id), r.tool, r.domain)) is None
    assert set(rob[rob["judgement"].notna()]["tool"]) == {"rob2", "robins_i", "jbi_prevalence"}
    for f in ("risk_of_bias_traffic_light.png", "risk_of_bias_traffic_light.svg",
              "characteristics_of_included_studies.xlsx", "characteristics_of_included_studies.md"):
        assert (tmp / "tables" / f).stat().st_size > 0
    # Nothing new: the same bytes, workbook and figures included.
    run("extract", "tables", "--out", tmp / "tables2", "--db", db)
    first = {p.name: p.read_bytes() for p in sorted((tmp / "tables").iterdir())}
    assert {p.name: p.read_bytes() for p in sorted((tmp / "tables2").iterdir())} == first
    # 8. The evidence summary places trial, observational and anecdotal findings per claim, with risk of bias.
    import papermill as pm
    nb_out = tmp / "evidence_summary.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "evidence_summary.ipynb"), str(nb_out), cwd=str(ROOT),
                        parameters={"db": str(db), "out_dir": str(tmp / "nb"), "claims_file": str(tmp / "queries" /
                                    "claims.yaml"), "forms_file": str(tmp / "queries" / "extraction.yaml")},
                        progress_bar=False, kernel_name="python3")
    findings = pd.read_csv(tmp / "nb" / "claim_findings.csv", dtype=str)
    c01 = findings[findings["claim"] == "C01"]
    assert list(c01["evidence"]) == ["Trial"] and list(c01["rob_overall"]) == ["some concerns"]
    assert "COWS" in c01.iloc[0]["result"] and "95% CI -3.5 to -0.7" in c01.iloc[0]["result"]
    rest = findings[findings["claim"] == "(no claim named)"]
    assert list(rest["evidence"]) == ["Trial", "Anecdote"]  # the NRSI's adverse events, the case report
    assert rest.iloc[1]["rob_tool"] == "not assessed (anecdote by design)"
    assert "Findings per claim, with risk of bias" in nb_out.read_text()
    print(f"end-to-end: {time.perf_counter() - t0:.1f} s")


def _nothing_written(db) -> None:
    with Store.open(str(db)) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM extraction_values").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM extraction_uploads").fetchone()[0] == 0
