"""`review refresh --offline` on the bundled sample: outputs, a second run with nothing new,
failures and kills that leave outputs/latest intact, and the lock."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from review.refresh import RefreshError, load_config, refresh, refresh_lock

ROOT = Path(__file__).parent.parent


def write_config(tmp_path: Path, **overrides) -> Path:
    cfg = {"strategies": "all", "archives": [str(ROOT / "sample" / "searches")],
           "import_dirs": [str(ROOT / "sample" / "imports")], "claims": str(ROOT / "queries" / "claims.yaml"),
           "outputs": str(tmp_path / "outputs"), "keep_runs": 5, **overrides}
    path = tmp_path / "refresh.yaml"
    import yaml
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def tables(latest: Path) -> dict[str, bytes]:
    return {str(p.relative_to(latest)): p.read_bytes() for p in sorted(latest.rglob("*.csv"))}


@pytest.fixture(scope="module")
def two_refreshes(tmp_path_factory):
    """Two offline refreshes of the bundled sample (the second finds nothing new)."""
    tmp = tmp_path_factory.mktemp("refresh")
    config = load_config(write_config(tmp), ROOT)
    db = tmp / "review.sqlite"
    env_before = dict(os.environ)
    calls: list[tuple[str, int, int]] = []  # what a progress bar of the first refresh would have shown
    first = refresh(config, db, offline=True,
                    progress=lambda step: lambda done, total: calls.append((step, done, total)))
    first_tables = tables(tmp / "outputs" / "latest")
    second = refresh(config, db, offline=True)
    assert dict(os.environ) == env_before
    return tmp, config, db, first, first_tables, second, calls


def test_first_refresh_writes_everything(two_refreshes):
    tmp, config, db, first, first_tables, _, _ = two_refreshes
    latest = tmp / "outputs" / "latest"
    assert latest.is_symlink()
    html = (first.run_dir / "evidence_summary.html").read_text(encoding="utf-8")
    assert "Claims map" in html and "C01" in html and "Trial data beside the other evidence" in html
    for name in ("prisma_report.html", "screening_progress.html", "summary.md", "summary.json"):
        assert (first.run_dir / name).is_file(), name
    assert any(p.suffix == ".png" for p in (first.run_dir / "prisma").iterdir())
    s = first.summary
    assert s["new_records"] == 73 and s["records_total"] == 73  # 23 PubMed + 46 pages + 4 registrations
    assert [st["name"] for st in s["steps"]] == ["search", "import", "dedupe", "classify", "prisma", "export",
                                                 "extraction", "notebooks"]
    assert s["new_trials"] >= 1
    for name in ("tables/evidence_tiers.csv", "tables/claims_statements.csv", "tables/records.csv",
                 "prisma/PRISMA2020.csv"):
        assert name in first_tables, sorted(first_tables)


def test_refresh_reports_progress_of_import_dedupe_classify_and_each_notebook(two_refreshes):
    _, config, *_, calls = two_refreshes
    by_step: dict[str, list[tuple[int, int]]] = {}
    for step, done, total in calls:
        by_step.setdefault(step, []).append((done, total))
    assert set(by_step) == {"import", "dedupe", "classify", "notebooks"}  # offline: no esearch, no efetch
    n = len(config.notebooks)
    assert by_step["notebooks"] == [(0, n)] + [(1, n)] * n
    assert by_step["dedupe"] == [(0, 3), (1, 3), (1, 3), (1, 3)]
    classified = sum(d for d, _ in by_step["classify"])
    assert classified == by_step["classify"][0][1] > 0 and by_step["classify"][0][0] == 0
    assert sum(d for d, _ in by_step["import"]) == 46 + 4  # the two bundled import files (pages, registrations)


def test_second_refresh_finds_nothing_new_and_reproduces_the_tables(two_refreshes, eutils_server):
    tmp, config, db, first, first_tables, second, _ = two_refreshes
    assert second.summary["new_records"] == 0 and second.summary["new_trials"] == 0
    assert second.summary["previous_refresh"] == first.summary["started_at"]
    assert tables(tmp / "outputs" / "latest") == first_tables  # byte for byte
    # The extraction tables, the workbook and the traffic-light figure too (issue 13).
    extraction = {p.name: p.read_bytes() for p in sorted((first.run_dir / "extraction").iterdir())}
    assert {"characteristics_of_included_studies.xlsx", "evidence_by_claim_outcome.md",
            "risk_of_bias_traffic_light.png", "risk_of_bias_traffic_light.svg"} <= set(extraction)
    assert {p.name: p.read_bytes() for p in sorted((second.run_dir / "extraction").iterdir())} == extraction
    assert (tmp / "outputs" / "latest").resolve() == second.run_dir.resolve()
    md = (second.run_dir / "summary.md").read_text()
    assert "new records: 0" in md and "| notebooks |" in md
    # Offline needs no network: with the E-utilities URL pointing at a live local server, a
    # third refresh sends it nothing.
    os.environ["NCBI_EUTILS_URL"] = eutils_server.url
    try:
        refresh(config, db, offline=True, skip_notebooks=True)
    finally:
        del os.environ["NCBI_EUTILS_URL"]
    assert eutils_server.requests == []


def test_failed_step_is_named_and_latest_is_kept(two_refreshes, tmp_path):
    tmp, _, db, *_ = two_refreshes
    bad_claims = tmp_path / "claims.yaml"
    bad_claims.write_text("claims: [ {id: C01} ]\n")
    config = load_config(write_config(tmp, claims=str(bad_claims)), ROOT)
    before = (tmp / "outputs" / "latest").resolve()
    # the extraction step reads the claim ids too, so it is the first to meet the bad file
    with pytest.raises(RefreshError, match="step 'extraction'"):
        refresh(config, db, offline=True)
    assert (tmp / "outputs" / "latest").resolve() == before


def test_second_concurrent_refresh_is_refused(tmp_path):
    config = load_config(write_config(tmp_path), ROOT)
    with refresh_lock(config.outputs):
        with pytest.raises(RefreshError, match="another refresh is running"):
            refresh(config, tmp_path / "db.sqlite", offline=True)


def test_killed_refresh_leaves_latest_and_store_intact(two_refreshes):
    tmp, config, db, *_ = two_refreshes
    latest = tmp / "outputs" / "latest"
    before_target = latest.resolve()
    before_tables = tables(latest)
    runs_before = set((tmp / "outputs" / "runs").iterdir())
    code = ("import sys; from pathlib import Path; from review.refresh import load_config, refresh; "
            f"refresh(load_config(Path({str(tmp / 'refresh.yaml')!r}), Path({str(ROOT)!r})), "
            f"Path({str(db)!r}), offline=True)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    # Kill it while the notebooks run (the slowest step), after the store work is done.
    while time.monotonic() < deadline:
        new = set((tmp / "outputs" / "runs").iterdir()) - runs_before
        if new and (next(iter(new)) / "notebooks").exists():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert latest.resolve() == before_target
    assert tables(latest) == before_tables
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # The lock died with the process: the next refresh runs.
    result = refresh(config, db, offline=True, skip_notebooks=True)
    assert result.summary["new_records"] == 0


def test_bad_config_names_the_file(tmp_path):
    path = tmp_path / "refresh.yaml"
    path.write_text("notebooks: [nope]\nbogus: 1\n")
    with pytest.raises(Exception, match="unknown key"):
        load_config(path, ROOT)
    path.write_text("notebooks: [nope]\n")
    with pytest.raises(Exception, match="notebook 'nope' not found"):
        load_config(path, ROOT)


def test_online_refresh_keeps_the_api_key_out_of_everything(tmp_path, eutils_server):
    """A live refresh against the local E-utilities server: records arrive, a second refresh sends no
    efetch, and the API key appears in no output, archive, executed notebook or the store."""
    from review.config import settings_from_env

    key = "SECRETKEY" + "7" * 27
    eutils_server.add_replicated("kratom", 30)
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "k.yaml").write_text("name: k\nquery: kratom\n")
    config = load_config(write_config(tmp_path, archives=[], import_dirs=[], queries=str(queries)), ROOT)
    env = {"NCBI_EMAIL": "t@example.org", "NCBI_API_KEY": key, "NCBI_EUTILS_URL": eutils_server.url}
    db = tmp_path / "outputs" / "review.sqlite"
    first = refresh(config, db, settings_factory=lambda: settings_from_env(env))
    assert first.summary["new_records"] == 30 and eutils_server.count("efetch") == 1
    assert all(r.api_key == key for r in eutils_server.requests)
    eutils_server.clear_requests()
    second = refresh(config, db, settings_factory=lambda: settings_from_env(env), skip_notebooks=True)
    assert second.summary["new_records"] == 0 and eutils_server.counts() == {"esearch": 1}
    leaks = []
    for path in (tmp_path / "outputs").rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip
                data = gzip.decompress(data)
            if key.encode() in data:
                leaks.append(str(path))
    assert leaks == []
