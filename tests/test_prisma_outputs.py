"""`review prisma` outputs: every file, the stamps, byte-identical rewrites, the diagram's layout and warning,
the report tables, and the command line on the bundled sample."""
from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner

from review.cli import main
from review.prisma import (
    ArmCounts, PrismaCounts, Problem, SourceCount, Stamp, evidence_by_tier, markdown_table, prisma_counts,
    write_outputs,
)
from review.prisma_diagram import PAD, draw_flow, layout_flow, text_measurer
from review.store import Store

try:
    from test_prisma_fixture import build_review, make_inconsistent
except ImportError:  # tests/ imported as a package
    from tests.test_prisma_fixture import build_review, make_inconsistent

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_FILES = {"prisma_flow.svg", "prisma_flow.png", "PRISMA2020.csv", "prisma_counts.csv", "prisma_counts.json",
                  "consistency.md", "prisma_s.csv", "prisma_s.md", "characteristics.csv", "characteristics.md",
                  "characteristics.xlsx", "evidence_by_tier.csv", "evidence_by_tier.md", "evidence_by_tier.xlsx",
                  "related_reports.csv", "related_reports.md", "about.json", "ABOUT.md"}


def _classified_review(path):
    store = build_review(path)
    for rid, design, tier in ((1, "cross_sectional_survey", "observational"), (5, "cohort", "observational"),
                              (6, "cohort", "observational"), (7, "case_series", "anecdotal"), (2, "rct", "trial")):
        store.add_override(rid, design, tier, None, "alice", "fixture", "2026-01-15T00:00:00Z")
    return store


@pytest.fixture
def written(tmp_path):
    db = tmp_path / "review.sqlite"
    with _classified_review(db) as store:
        result = write_outputs(store, tmp_path / "out")
    return db, tmp_path / "out", result


# ------------------------------------------------------------------ files and stamps

def test_every_file_is_written_and_listed_with_the_stamp(written):
    db, out, result = written
    assert {p.name for p in out.iterdir()} == EXPECTED_FILES == set(result.files)
    about = json.loads((out / "about.json").read_text())
    assert (about["store"], about["data_as_of"], about["latest_run"]) == (str(db), "2026-01-22T00:00:00Z",
                                                                          "run-websites")
    assert {f["file"] for f in about["files"]} == EXPECTED_FILES - {"about.json", "ABOUT.md"}
    assert str(db) in (out / "ABOUT.md").read_text() and "2026-01-22T00:00:00Z" in (out / "ABOUT.md").read_text()
    stamp = f"store {db}; data as of 2026-01-22T00:00:00Z; latest run run-websites"
    for md in ("prisma_s.md", "characteristics.md", "evidence_by_tier.md", "consistency.md"):
        assert stamp in (out / md).read_text().splitlines()[-1], md
    assert json.loads((out / "prisma_counts.json").read_text())["about"]["as_of"] == "2026-01-22T00:00:00Z"
    from openpyxl import load_workbook
    wb = load_workbook(out / "characteristics.xlsx")
    assert wb.sheetnames == ["characteristics", "about"]
    meta = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True)}
    assert (meta["store"], meta["data as of"], meta["latest run"]) == (str(db), "2026-01-22T00:00:00Z",
                                                                       "run-websites")
    # Formats other tools read carry no stamp lines.
    assert (out / "PRISMA2020.csv").read_text().splitlines()[0] == "data,node,box,description,boxtext,tooltips,url,n"
    assert (out / "prisma_counts.csv").read_text().splitlines()[0] == "arm,stage,key,label,n,prisma2020"


def test_rewriting_with_nothing_new_gives_identical_files(written, tmp_path):
    db, out, _ = written
    with Store.open(db) as store:
        write_outputs(store, tmp_path / "again")
    for name in EXPECTED_FILES:
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_tidy_csv_and_json_hold_the_same_numbers(written):
    _, out, result = written
    rows = list(csv.DictReader((out / "prisma_counts.csv").open()))
    n = {r["key"]: int(r["n"]) for r in rows if not r["key"].endswith("_reason")}
    data = json.loads((out / "prisma_counts.json").read_text())
    assert n["dbr_identified"] == data["dbr"]["identified"] == 21
    assert n["other_duplicates"] == data["other"]["duplicates"] == 2
    assert n["dbr_source:embase"] == 8
    assert data["prisma2020"]["dbr_excluded"] == "wrong population, 2; no withdrawal/OUD outcome, 1"
    assert all(c["ok"] for c in data["checks"]) and data["problems"] == []


def test_prisma_s_table_lists_every_run_with_query_and_limits(written):
    _, out, _ = written
    rows = list(csv.DictReader((out / "prisma_s.csv").open()))
    assert [r["run_id"] for r in rows] == ["run-citations", "run-pubmed", "run-embase", "run-ctgov", "run-websites"]
    pubmed = rows[1]
    assert (pubmed["source"], pubmed["date_searched"], pubmed["query"], pubmed["records_linked"]) == (
        "PubMed", "2026-01-02", "kratom[tiab]", "10")
    assert pubmed["limits"] == "dates 2000 to any (pdat); filters: humans"
    assert pubmed["platform"].startswith("PubMed via NCBI E-utilities")
    embase = rows[2]
    assert (embase["date_searched"], embase["date_imported"], embase["platform"]) == (
        "", "2026-01-03", "export file imported (ris)")
    assert "kratom[tiab]" in (out / "prisma_s.md").read_text()


def test_characteristics_and_evidence_tables(written):
    _, out, _ = written
    rows = list(csv.DictReader((out / "characteristics.csv").open()))
    got = [(r["study_id"], r["record_id"], r["design"], r["country"], r["sample_size"]) for r in rows]
    assert got == [("1", "1", "cross_sectional_survey", "Malaysia", "120"),
                   ("5", "5", "cohort", "United States", "2798"), ("5", "6", "cohort", "United States", "2798"),
                   ("7", "7", "case_series", "Thailand", "5"), ("7", "2", "rct", "", "12")]
    assert rows[1]["sample_size_from"] == "2,798 participants"
    tiers = {r["tier"]: r for r in csv.DictReader((out / "evidence_by_tier.csv").open())}
    # A study's tier is its own report's: study 7 is a case series, its further report (an rct) counts as a report.
    assert {t: (int(r["studies"]), int(r["reports"])) for t, r in tiers.items()} == {
        "trial": (0, 1), "observational": (2, 3), "anecdotal": (1, 1), "preclinical": (0, 0), "secondary": (0, 0),
        "opinion_other": (0, 0)}
    assert tiers["observational"]["designs"] == "cohort 1; cross_sectional_survey 1"
    from openpyxl import load_workbook
    ws = load_workbook(out / "evidence_by_tier.xlsx")["evidence_by_tier"]
    assert [c.value for c in ws[1]][:4] == ["tier", "label", "studies", "reports"] and ws.max_row == 7


def test_evidence_table_of_no_included_studies_is_all_zero():
    import pandas as pd
    from review.prisma import CHARACTERISTICS_COLUMNS
    table = evidence_by_tier(pd.DataFrame(columns=CHARACTERISTICS_COLUMNS))
    assert list(table["tier"]) == ["trial", "observational", "anecdotal", "preclinical", "secondary",
                                   "opinion_other"]
    assert table["studies"].sum() == 0


def test_markdown_table_escapes_pipes_and_newlines():
    import pandas as pd
    text = markdown_table(pd.DataFrame({"a": ["x|y", "line1\nline2"], "b": [1, None]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1.0 |", "| line1<br>line2 |  |"]


# ------------------------------------------------------------------ inconsistent store: report and warning

def test_inconsistent_store_gives_a_report_naming_the_records_and_a_diagram_with_a_warning(tmp_path):
    with make_inconsistent(build_review(tmp_path / "bad.sqlite")) as store:
        result = write_outputs(store, tmp_path / "out")
    out = tmp_path / "out"
    report = (out / "consistency.md").read_text()
    assert "**4 problem(s)** involving 4 record(s); 3 of 8 checks fail." in report
    assert "unresolved conflicts at title/abstract" in report and "Records: 24" in report
    assert "full-text decisions on records not forwarded" in report and "Records: 9" in report
    assert "Records: 28" in report and "Records: 23" in report
    svg = (out / "prisma_flow.svg").read_text()
    assert "WARNING: the consistency check found 4 problem(s) involving 4 record(s)" in svg
    assert "consistency.md" in svg
    # The banner is drawn in red across the top of the image.
    import matplotlib.image as mpimg
    img = mpimg.imread(out / "prisma_flow.png")
    top = img[: img.shape[0] // 12]
    red = (top[..., 0] > 0.6) & (top[..., 1] < 0.2) & (top[..., 2] < 0.25)
    assert red.sum() > 500
    assert not json.loads((out / "about.json").read_text())["consistent"]
    assert result.counts.problem_record_ids == (9, 23, 24, 28)


def test_consistent_diagram_has_no_warning(written):
    _, out, _ = written
    assert "WARNING" not in (out / "prisma_flow.svg").read_text()
    assert "Reports excluded (n = 3):" in (out / "prisma_flow.svg").read_text().replace("\u00a0", " ")


# ------------------------------------------------------------------ layout: long names, many reasons

def _crowded_counts() -> PrismaCounts:
    names = ["PubMed", "Embase (Elsevier) via Ovid SP interface including conference abstracts",
             "Cochrane Central Register of Controlled Trials", "Averyveryveryverylongdatabasenamewithoutanyspaces"]
    sources = tuple(SourceCount(f"db{i}", n, "database", "database", 1000 + i, 2, "2026-01-02", "2026-03-04")
                    for i, n in enumerate(names))
    sources += (SourceCount("ictrp", "WHO International Clinical Trials Registry Platform", "register", "register",
                            12, 1, "2026-01-05", "2026-01-05", searched=False),)
    reasons = tuple((f"Reason {i}: " + "wrong population and setting " * (i % 3), 40 - i) for i in range(14))
    dbr = ArmCounts("databases_registers", identified=12_345, sources=sources, duplicates=2_345, removed_other=3,
                    awaiting_screening=100, screening_conflicts=4, screened=9_893, screen_excluded=9_000,
                    screen_reasons=(("not kratom", 8_000), ("not human", 1_000)), sought=893, not_retrieved=12,
                    awaiting_assessment=5, assessment_conflicts=2, assessed=874, excluded=469,
                    exclusion_reasons=reasons, included_reports=405, included_studies=400)
    other = ArmCounts("other_methods", identified=53, duplicates=10, duplicates_of_dbr=8, screened=43,
                      screen_excluded=20, sought=23, not_retrieved=3, assessed=20, excluded=15,
                      sources=(SourceCount("citation_searching", "Citation searching of the reference lists of "
                                           "included studies", "other", "citations", 53, 1, "2026-02-01",
                                           "2026-02-01", searched=False),),
                      exclusion_reasons=tuple((f"Other reason {i}", 5 - i) for i in range(5)), included_reports=5,
                      included_studies=5)
    return PrismaCounts(Stamp("/a/long/path/" * 8 + "review.sqlite", "2026-03-04T05:06:07Z", "run-x", 99), dbr,
                        other, 405, 410, (), (Problem("screening_conflict", "m", "h", (1, 2, 3, 4)),))


def test_layout_fits_every_line_in_its_box_and_no_boxes_overlap():
    counts = _crowded_counts()
    measure = text_measurer()
    lay = layout_flow(counts, measure)
    boxes = [b for b in lay.boxes.values()]
    for b in boxes:
        if b.rotate:
            assert measure(b.lines[0].text, b.lines[0].size, True) <= b.h, b.key
            continue
        inner = b.w - (2 * PAD if b.edge != "none" else 0)
        for ln in b.lines:
            assert ln.x + measure(ln.text, ln.size, ln.bold) <= inner + 1e-9, (b.key, ln.text)
        assert len(b.lines) * b.lines[0].size * 1.35 / 72 <= b.h + 1e-9, b.key
    for a, b in combinations(boxes, 2):
        apart = (a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y)
        assert apart, (a.key, b.key)
    texts = {b.key: " ".join(ln.text for ln in b.lines).replace("\u00a0", " ") for b in boxes}
    assert "Reason 13: wrong population and setting (n = 27)" in texts["dbr_excluded"]
    assert "Averyveryvery" in texts["dbr_identified"] and "WARNING" in texts["warning"]


def test_drawn_text_stays_inside_its_box_and_never_overlaps():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw_flow(_crowded_counts())
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    patches = {p.get_gid(): p.get_window_extent(renderer) for p in ax.patches}
    texts = [t for t in ax.texts if t.get_text() and t.get_gid()]
    assert len(texts) > 60
    extents = []
    for t in texts:
        bb = t.get_window_extent(renderer)
        key = t.get_gid().removeprefix("text_").rsplit("_", 1)[0] if t.get_gid().count("_") > 1 else None
        box = patches.get(f"box_{key}") or patches.get(f"box_{t.get_gid().removeprefix('text_')}")
        if box is not None:
            assert box.x0 - 1 <= bb.x0 and bb.x1 <= box.x1 + 1 and box.y0 - 1 <= bb.y0 and bb.y1 <= box.y1 + 1, \
                t.get_text()
        extents.append((t.get_text(), bb))
    for (ta, a), (tb, b) in combinations(extents, 2):
        overlap = min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1
        assert not overlap, (ta, tb)


# ------------------------------------------------------------------ command line

def test_cli_on_the_bundled_sample(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "s.sqlite")
    for args in (["search", "--replay", str(ROOT / "sample/searches")],
                 ["import", str(ROOT / "sample/imports/article_pages/article_pages.ris"), "--source", "article_pages"],
                 ["import", str(ROOT / "sample/imports/clinicaltrials/trial_registrations.csv"), "--source",
                  "clinicaltrials"]):
        r = runner.invoke(main, [*args, "--db", db])
        assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["prisma", "--out", str(tmp_path / "out"), "--db", db])
    assert r.exit_code == 0, r.output
    assert "databases and registers: 27 identified (PubMed 23, ClinicalTrials.gov 4)" in r.output
    assert "consistency: all checks pass" in r.output
    n = {row["data"]: row["n"] for row in csv.DictReader((tmp_path / "out" / "PRISMA2020.csv").open())}
    assert (n["database_results"], n["register_results"], n["website_results"]) == ("23", "4", "46")
    assert n["database_specific_results"] == "PubMed, 23" and n["records_screened"] == "0"
    assert (tmp_path / "out" / "prisma_flow.png").stat().st_size > 10_000
    r = runner.invoke(main, ["prisma", "check", "--db", db])
    assert r.exit_code == 0 and "73 awaiting" not in r.output and "27 awaiting" in r.output


def test_cli_link_reports_check_and_errors(tmp_path):
    db = tmp_path / "f.sqlite"
    make_inconsistent(build_review(db)).close()
    runner = CliRunner()
    r = runner.invoke(main, ["prisma", "check", "--db", str(db)])
    assert r.exit_code == 1 and "Records: 24" in r.output
    r = runner.invoke(main, ["prisma", "--out", str(tmp_path / "o"), "--strict", "--db", str(db)])
    assert r.exit_code == 1 and "consistency check failed" in r.output
    r = runner.invoke(main, ["prisma", "link-reports", "1", "--study", "5", "--by", "bob", "--db", str(db)])
    assert r.exit_code == 0 and "linked 1 report(s) to study 5" in r.output
    with Store.open(db) as store:
        assert prisma_counts(store).new_studies == 2
    r = runner.invoke(main, ["prisma", "link-reports", "16", "--study", "1", "--by", "bob", "--db", str(db)])
    assert r.exit_code == 1 and "record 16 is a duplicate of record 6: use 6" in r.output
    r = runner.invoke(main, ["prisma", "unlink-reports", "1", "--db", str(db)])
    assert r.exit_code == 0 and "removed 1 link(s)" in r.output
    with Store.open(db) as store:
        assert prisma_counts(store).new_studies == 3
    r = runner.invoke(main, ["prisma", "--db", str(tmp_path / "missing.sqlite")])
    assert r.exit_code == 1 and "no review store at" in r.output
    assert not (tmp_path / "missing.sqlite").exists()
