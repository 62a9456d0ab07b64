"""PubMed search end to end against the local E-utilities server (never NCBI)."""
from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from Bio import Entrez
from click.testing import CliRunner

from review.cli import main
from review.config import settings_from_env
from review.errors import FetchError
from review.export import records_frame
from review.models import Strategy
from review.parse.pubmed_xml import records_from_entrez
from review.pubmed import Eutils, esearch_sliced
from review.search import replay, run_strategy
from review.store import Store

ROOT = Path(__file__).parent.parent


def settings(server, **kw):
    env = {"NCBI_EMAIL": "tester@example.org", "NCBI_EUTILS_URL": server.url}
    kw.setdefault("backoff", 0.05)
    kw.setdefault("timeout", 5.0)
    return settings_from_env(env, **kw)


def run(server, store, tmp_path, term="kratom", batch_size=500, **kw):
    s = settings(server, batch_size=batch_size, **kw)
    return run_strategy(Strategy(name="s1", query=term), store, lambda cb: Eutils(s, cb), tmp_path / "searches",
                        batch_size=batch_size)


def stored_pmids(store):
    return [r.pmid for _, r in store.iter_records()]


def test_2500_records_one_esearch_batched_efetch_rate_limit_and_fields(eutils_server, tmp_path):
    pmids = eutils_server.add_replicated("kratom", 2500)
    store = Store.open(tmp_path / "s.sqlite")
    summary = run(eutils_server, store, tmp_path)
    counts = eutils_server.counts()
    assert counts == {"esearch": 1, "efetch": math.ceil(2500 / 500)}
    assert eutils_server.max_requests_in_window(1.0) <= 3
    assert summary.count == 2500 and summary.n_new == 2500
    assert sorted(stored_pmids(store)) == sorted(pmids)
    # Stored fields equal what Bio.Entrez reads from the served XML.
    expected = records_from_entrez(Entrez.read(io.BytesIO(eutils_server.efetch_body(pmids))))
    got = {r.pmid: r for _, r in store.iter_records()}
    assert all(got[e.pmid] == e for e in expected)
    run_row = store.get_run(summary.run_id)
    assert run_row["status"] == "complete" and run_row["ids"] == pmids and run_row["count"] == 2500
    assert len(store.run_record_ids(summary.run_id)) == 2500


def test_rate_limit_with_api_key(eutils_server, tmp_path):
    eutils_server.add_replicated("kratom", 600)
    store = Store.open(tmp_path / "s.sqlite")
    run(eutils_server, store, tmp_path, batch_size=50, api_key="k" * 36)
    assert eutils_server.count("efetch") == 12
    assert eutils_server.max_requests_in_window(1.0) <= 10
    assert all(r.api_key == "k" * 36 for r in eutils_server.requests)
    # The key raises the pace to NCBI's 10/s (timing-free check: a loaded machine may be slower).
    assert Eutils(settings(eutils_server, api_key="k" * 36)).throttle.interval < 0.15
    assert Eutils(settings(eutils_server)).throttle.interval > 1 / 3


def test_second_run_issues_no_efetch_and_flags_dropped(eutils_server, tmp_path):
    pmids = eutils_server.add_replicated("kratom", 120)
    store = Store.open(tmp_path / "s.sqlite")
    run(eutils_server, store, tmp_path)
    eutils_server.clear_requests()
    again = run(eutils_server, store, tmp_path)
    assert eutils_server.counts() == {"esearch": 1}
    assert again.n_new == 0 and store.count_records() == 120
    # Five records drop out of the result set: flagged in the log, kept in the store.
    eutils_server.add_query("kratom", pmids[5:])
    third = run(eutils_server, store, tmp_path)
    assert third.dropped == sorted(pmids[:5], key=int)
    assert store.get_run(third.run_id)["dropped"] == third.dropped
    assert store.count_records() == 120


def test_new_records_fetched_by_id_after_growth(eutils_server, tmp_path):
    pmids = eutils_server.add_replicated("kratom", 100)
    store = Store.open(tmp_path / "s.sqlite")
    run(eutils_server, store, tmp_path)
    extra = eutils_server.add_replicated("other", 30)
    eutils_server.add_query("kratom", extra + pmids)
    eutils_server.clear_requests()
    summary = run(eutils_server, store, tmp_path)
    assert summary.n_new == 30 and store.count_records() == 130
    fetch = [r for r in eutils_server.requests if r.util == "efetch"]
    assert len(fetch) == 1 and sorted(fetch[0].params["id"].split(",")) == sorted(extra)


@pytest.mark.parametrize("util,kind,opts", [
    ("esearch", "status", {"status": 429}),
    ("efetch", "status", {"status": 429}),
    ("efetch", "status", {"status": 500}),
    ("efetch", "status", {"status": 503}),
    ("efetch", "slow", {"seconds": 3.0}),
    ("esearch", "slow", {"seconds": 3.0}),
    ("efetch", "truncate", {"mode": "connection"}),
    ("efetch", "truncate", {"mode": "short"}),
    ("esearch", "truncate", {"mode": "short"}),
    ("efetch", "reset", {}),
    ("efetch", "drop_records", {"count": 7}),
])
def test_faults_are_recovered(eutils_server, tmp_path, util, kind, opts):
    pmids = eutils_server.add_replicated("kratom", 300)
    eutils_server.inject(util, kind, **opts)
    store = Store.open(tmp_path / "s.sqlite")
    summary = run(eutils_server, store, tmp_path, batch_size=100, timeout=1.0)
    assert sorted(stored_pmids(store)) == sorted(pmids)
    assert summary.missing == [] and eutils_server.faults_pending() == 0
    assert store.get_run(summary.run_id)["status"] == "complete"


def test_persistent_fault_fails_with_request_and_cause_and_store_holds_whole_batches(eutils_server, tmp_path):
    eutils_server.add_replicated("kratom", 300)
    eutils_server.inject("efetch", "status", status=500, skip=1, times=10)
    store = Store.open(tmp_path / "s.sqlite")
    with pytest.raises(FetchError) as err:
        run(eutils_server, store, tmp_path, batch_size=100, max_tries=3)
    msg = str(err.value)
    assert "efetch" in msg and "retstart=100" in msg and "HTTP 500" in msg and "after 3 tries" in msg
    assert store.count_records() == 100  # the first batch, whole; nothing of the failed one
    [r] = store.runs(kind="search")
    assert r["status"] == "failed" and "HTTP 500" in r["notes"]
    # The next run picks up where it stopped, fetching only what is missing.
    eutils_server.clear_faults()
    eutils_server.clear_requests()
    summary = run(eutils_server, store, tmp_path, batch_size=100)
    assert summary.n_new == 200 and store.count_records() == 300


def test_bad_request_fails_at_once(eutils_server, tmp_path):
    eutils_server.add_replicated("kratom", 10)
    eutils_server.inject("esearch", "status", status=400, body="Bad Request: term syntax")
    store = Store.open(tmp_path / "s.sqlite")
    with pytest.raises(FetchError, match=r"esearch term=kratom.*HTTP 400"):
        run(eutils_server, store, tmp_path)
    assert eutils_server.count("esearch") == 1


def test_date_slicing_over_the_cap(eutils_server):
    pmids = eutils_server.add_replicated("big", 10_400, years=list(range(1990, 2025)))
    client = Eutils(settings(eutils_server, api_key="k" * 36))
    slices = esearch_sliced(client, "big", mindate=None, maxdate=None)
    assert len(slices) > 1 and all(len(s.ids) == s.count <= 9_999 for s in slices)
    got = [i for s in slices for i in s.ids]
    assert sorted(got) == sorted(pmids) and len(got) == len(set(got))


def test_killed_run_resumes_without_duplicates(eutils_server, tmp_path):
    pmids = eutils_server.add_replicated("kratom", 1000)
    eutils_server.inject("efetch", "slow", skip=2, seconds=60)  # third batch hangs: kill the run there
    db = tmp_path / "s.sqlite"
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "k.yaml").write_text("name: k\nquery: kratom\n")
    env = {**os.environ, "NCBI_EMAIL": "t@example.org", "NCBI_EUTILS_URL": eutils_server.url}
    proc = subprocess.Popen([sys.executable, "-m", "review.cli", "search", "--db", str(db), "--queries",
                             str(queries), "--archive", str(tmp_path / "searches"), "--batch-size", "200"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while eutils_server.count("efetch") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    eutils_server.clear_faults()
    with Store.open(db) as store:
        assert store.count_records() == 400  # two whole batches committed
        [killed] = store.runs(kind="search")
        assert killed["status"] == "running"
    result = CliRunner().invoke(main, ["search", "--db", str(db), "--queries", str(queries), "--archive",
                                       str(tmp_path / "searches"), "--batch-size", "200"],
                                env={"NCBI_EMAIL": "t@example.org", "NCBI_EUTILS_URL": eutils_server.url})
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        got = stored_pmids(store)
        assert sorted(got) == sorted(pmids) and len(got) == len(set(got)) == 1000
        assert [r["status"] for r in store.runs(kind="search")] == ["interrupted", "complete"]
        live = records_frame(store.iter_records())
    # Replaying the archive (the killed run included) rebuilds the same records offline.
    with Store.open(tmp_path / "offline.sqlite") as offline:
        summaries = replay(tmp_path / "searches", offline)
        assert [r["status"] for r in offline.runs(kind="search")] == ["interrupted", "complete"]
        assert len(summaries) == 2
        replayed = records_frame(offline.iter_records())
    key = ["source", "source_id"]
    assert replayed.sort_values(key).drop(columns="record_id").reset_index(drop=True).equals(
        live.sort_values(key).drop(columns="record_id").reset_index(drop=True))


def test_replay_yields_the_same_store_and_no_secret_is_archived(eutils_server, tmp_path):
    eutils_server.add_replicated("kratom", 250)
    live = Store.open(tmp_path / "live.sqlite")
    run(eutils_server, live, tmp_path, batch_size=100, api_key="SECRETKEY0123456789")
    n_requests = len(eutils_server.requests)
    offline = Store.open(tmp_path / "offline.sqlite")
    summaries = replay(tmp_path / "searches", offline)
    assert len(eutils_server.requests) == n_requests  # no network
    assert [s.count for s in summaries] == [250]
    a, b = records_frame(live.iter_records()), records_frame(offline.iter_records())
    assert a.equals(b)
    strip = lambda runs: [{k: v for k, v in r.items() if k not in ("archive", "notes")} for r in runs]
    assert strip(live.runs()) == strip(offline.runs())
    # Replaying twice changes nothing.
    replay(tmp_path / "searches", offline)
    assert records_frame(offline.iter_records()).equals(b)
    live.close()
    for path in [*(tmp_path / "searches").rglob("*"), tmp_path / "live.sqlite"]:
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip
                data = gzip.decompress(data)
            assert b"SECRETKEY0123456789" not in data and b"tester@example.org" not in data, path


def test_cli_needs_email_and_explains_options(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["search", "--db", str(tmp_path / "s.sqlite"), "--queries",
                                  str(ROOT / "queries")], env={"NCBI_EMAIL": ""})
    assert result.exit_code == 1 and "NCBI_EMAIL is not set" in result.output
    help_text = runner.invoke(main, ["search", "--help"]).output
    for option in ("--db", "--replay", "--batch-size", "--queries", "--archive", "--progress"):
        assert option in help_text


def test_cli_replays_bundled_sample_and_exports(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "s.sqlite")
    r = runner.invoke(main, ["search", "--db", db, "--replay", str(ROOT / "sample" / "searches")])
    assert r.exit_code == 0, r.output
    assert "kratom_broad: replayed" in r.output
    out = tmp_path / "records.csv"
    r = runner.invoke(main, ["export", "records", "--db", db, "--out", str(out)])
    assert r.exit_code == 0, r.output
    import pandas as pd
    df = pd.read_csv(out, dtype=str)
    for col in ("record_id", "source", "source_id", "pmid", "doi", "title", "abstract", "authors", "journal",
                "year", "publication_types", "mesh"):
        assert col in df.columns
    assert len(df) == 23 and df["pmid"].notna().all()
