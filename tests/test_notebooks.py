"""Every notebook runs under papermill against a fixture store, with default and other parameters."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from review.classify.apply import classify_store, override
from review.dedupe.apply import dedupe_store
from review.imports import import_files
from review.screening import export_sheet, import_sheet
from review.search import replay
from review.store import Store

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    """The bundled sample, deduplicated and classified, with one reviewer's title/abstract decisions."""
    tmp = tmp_path_factory.mktemp("nb")
    db = tmp / "review.sqlite"
    with Store.open(db) as store:
        replay(ROOT / "sample" / "searches", store)
        import_files(store, [ROOT / "sample/imports/article_pages/article_pages.ris"], source="article_pages")
        import_files(store, [ROOT / "sample/imports/clinicaltrials/trial_registrations.csv"], source="clinicaltrials")
        silent = tmp / "silent.csv"  # a record no design signal decides: unclassified, shown apart
        silent.write_text("title,abstract,year\nKratom,,2022\n", encoding="utf-8")
        import_files(store, [silent], source="grey")
        dedupe_store(store)
        classify_store(store)
        override(store, 1, "rct", reviewer="ana", reason="read the methods")
        sheet = tmp / "alice.csv"
        export_sheet(store, "title_abstract", "alice", sheet)
        lines = sheet.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        header_at = next(i for i, line in enumerate(lines) if line.startswith("record_id"))
        df = pd.read_csv(sheet, dtype=str, keep_default_na=False, skiprows=header_at, encoding="utf-8-sig")
        df["decision"] = ["include" if "withdraw" in (t or "").lower() else "exclude" for t in df["title"]]
        body = df.to_csv(index=False)
        sheet.write_text("".join(lines[:header_at]) + body, encoding="utf-8-sig")
        import_sheet(store, sheet, "alice")
    return db


def run(name: str, tmp_path: Path, **params) -> nbformat.NotebookNode:
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=params, cwd=str(ROOT),
                        progress_bar=False, kernel_name="python3")
    return nbformat.read(out, as_version=4)


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            parts.append(data.get("text/html", "") + data.get("text/markdown", "") + data.get("text/plain", "")
                         + o.get("text", ""))
    return "\n".join(parts)


def test_every_notebook_has_a_parameters_cell():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), path.name


def test_evidence_summary_default(fixture_store, tmp_path):
    nb = run("evidence_summary", tmp_path, db=str(fixture_store), out_dir=str(tmp_path / "t"))
    text = text_of(nb)
    assert "Records and included studies by evidence tier" in text and "C15:" in text
    tiers = pd.read_csv(tmp_path / "t" / "evidence_tiers.csv")
    assert list(tiers["tier"][:6]) == ["trial", "observational", "anecdotal", "preclinical", "secondary",
                                       "opinion_other"]
    assert tiers["records"].sum() == 74
    # The unclassified record is its own row, labelled so, never folded into opinion and other.
    uncl = tiers.set_index("tier").loc["unclassified"]
    assert (uncl["label"], uncl["records"]) == ("Not yet classified", 1)
    assert "Not yet classified" in text
    assert tiers["person_confirmed"].sum() == 1 and tiers.set_index("tier").loc["trial", "person_confirmed"] == 1
    statements = pd.read_csv(tmp_path / "t" / "claims_statements.csv")
    assert list(statements["claim_id"]) == [f"C{i:02d}" for i in range(1, 16)]
    assert all("randomized trial" in s for s in statements["statement"])
    trials = pd.read_csv(tmp_path / "t" / "trials.csv")
    assert len(trials) == tiers.set_index("tier").loc["trial", "records"]


def test_evidence_summary_with_parameters(fixture_store, tmp_path):
    nb = run("evidence_summary", tmp_path, db=str(fixture_store), out_dir=str(tmp_path / "t"),
             tiers=["trial", "anecdotal"], year_from=2015, strategies=["kratom_broad"],
             since="2000-01-01T00:00:00Z")
    tiers = pd.read_csv(tmp_path / "t" / "evidence_tiers.csv").set_index("tier")
    assert tiers.loc[["observational", "preclinical", "secondary", "opinion_other"], "records"].sum() == 0
    assert 0 < tiers["records"].sum() <= 23  # only PubMed records (the kratom_broad run), 2015 on
    assert "new records since 2000-01-01" in text_of(nb)


def test_prisma_report(fixture_store, tmp_path):
    text = text_of(run("prisma_report", tmp_path, db=str(fixture_store), out_dir=str(tmp_path / "t")))
    assert "PubMed" in text and "Records screened" in text.replace("records_screened", "Records screened")
    assert "image/png" in str(nbformat.read(tmp_path / "prisma_report.ipynb", as_version=4))


def test_screening_progress(fixture_store, tmp_path):
    text = text_of(run("screening_progress", tmp_path, db=str(fixture_store), out_dir=str(tmp_path / "t")))
    progress = pd.read_csv(tmp_path / "t" / "screening_progress.csv")
    ta = progress[progress["stage"] == "title_abstract"].set_index("status")["records"]
    assert ta["include"] + ta["exclude"] == 74 and ta["undecided"] == 0
    assert "No pair of reviewers" in text  # one reviewer only: no kappa yet


def _project_copy(tmp_path: Path, db: Path) -> Path:
    """A project folder as a user has it: pyproject.toml, queries/, notebooks/, outputs/review.sqlite."""
    import shutil

    proj = tmp_path / "proj"
    shutil.copytree(ROOT / "queries", proj / "queries")
    shutil.copytree(NOTEBOOKS, proj / "notebooks")
    shutil.copy(ROOT / "pyproject.toml", proj / "pyproject.toml")
    (proj / "outputs").mkdir()
    shutil.copy(db, proj / "outputs" / "review.sqlite")
    return proj


@pytest.mark.parametrize("name", ["evidence_summary", "prisma_report", "screening_progress"])
def test_notebooks_find_the_project_from_the_notebooks_folder(fixture_store, tmp_path, name):
    # JupyterLab starts the kernel in notebooks/: the default parameters still name project paths.
    proj = _project_copy(tmp_path, fixture_store)
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(proj / "notebooks" / f"{name}.ipynb"), str(out), cwd=str(proj / "notebooks"),
                        progress_bar=False, kernel_name="python3")
    assert not (proj / "notebooks" / "outputs").exists()
    assert (proj / "outputs" / "tables").is_dir()  # out_dir resolved from the project folder too
    assert "PubMed" in text_of(nbformat.read(out, as_version=4)) or name != "prisma_report"


def test_notebook_refuses_a_store_that_does_not_exist(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="no review store at"):
        run("prisma_report", tmp_path, db=str(tmp_path / "typo.sqlite"), out_dir=str(tmp_path / "t"))
    assert not (tmp_path / "typo.sqlite").exists()
