"""`review fulltext` against the local E-utilities server: PMC open access (elink + efetch db=pmc), the user's
PDF folder, "not retrieved" with its reason, archive without secrets, and PRISMA's boxes from the results."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from extraction_support import CASE_REPORT, CASE_SERIES, INCLUDED, NONRAND, RCT, SURVEY, sample_records
from review.config import settings_from_env
from review.fulltext import NOT_RETRIEVED, PMC, RETRIEVED, USER_FOLDER, find_fulltexts, split_pmc_set
from review.prisma import prisma_counts
from review.pubmed import Eutils
from review.store import Store

REAL_PMC = Path(__file__).parent / "data" / "entrez" / "efetch_pmc.xml"  # PMC8435807, Biopython's test data
SECRET = "k" * 36
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def withheld(pmcid_number: str) -> bytes:
    """The real article as PMC answers for a publisher that withholds the full text: front matter, no <body>."""
    xml = REAL_PMC.read_bytes()
    start, end = xml.index(b"<body>"), xml.index(b"</body>") + len(b"</body>")
    return (xml[:start] + xml[end:]).replace(b'"pmc">8435807<', f'"pmc">{pmcid_number}<'.encode())


@pytest.fixture
def store():
    s = Store.open(":memory:")
    s.upsert_records(sample_records())
    rows = [(rid, "title_abstract", "alice", "include", None, None, "decision", None, f"2026-12-01T01:00:{i:02d}Z")
            for i, rid in enumerate(INCLUDED)]
    s.add_screening_rows(rows)
    return s


def client_factory(server):
    env = {"NCBI_EMAIL": "tests@example.org", "NCBI_EUTILS_URL": server.url, "NCBI_API_KEY": SECRET}
    settings = settings_from_env(env, max_tries=2, backoff=0.01)
    return lambda on_response: Eutils(settings, on_response)


def test_real_pmc_article_is_open(tmp_path):
    arts = split_pmc_set(REAL_PMC.read_bytes())
    assert list(arts) == ["PMC8435807"] and arts["PMC8435807"][1] is True
    assert split_pmc_set(b"<pmc-articleset>" + withheld("7309661").split(b"<pmc-articleset>")[1])["PMC7309661"][1] \
        is False


def test_fulltext_pmc_and_folder(store, eutils_server, tmp_path):
    recs = dict(enumerate(sample_records(), start=1))
    assert eutils_server.add_pmc_article(REAL_PMC.read_bytes(), pmid=recs[NONRAND].pmid) == "PMC8435807"
    eutils_server.add_pmc_article(withheld("7309661"), pmid=None)  # the RCT's own PMCID, not open access
    folder = tmp_path / "fulltext"
    folder.mkdir()
    (folder / f"{SURVEY}.pdf").write_bytes(PDF)
    (folder / f"{recs[CASE_SERIES].doi.replace('/', '_')}.pdf").write_bytes(PDF + b"2")
    (folder / f"{CASE_REPORT}.pdf").write_bytes(b"<html>login page</html>")  # a saved web page, not a PDF
    out = tmp_path / "out"
    summary = find_fulltexts(store, folder, out, client_factory=client_factory(eutils_server),
                             archive_root=tmp_path / "archive", now="2026-12-02T00:00:00Z")
    assert summary.sought == len(INCLUDED)
    latest = store.latest_fulltexts()
    assert latest[NONRAND]["status"] == RETRIEVED and latest[NONRAND]["source"] == PMC
    assert latest[NONRAND]["pmcid"] == "PMC8435807"
    saved = Path(latest[NONRAND]["path"]).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == latest[NONRAND]["sha256"] and b"<body>" in saved
    assert latest[SURVEY]["source"] == USER_FOLDER
    assert latest[SURVEY]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert latest[CASE_SERIES]["source"] == USER_FOLDER
    assert latest[RCT]["status"] == NOT_RETRIEVED and "not open access" in latest[RCT]["reason"]
    assert latest[CASE_REPORT]["status"] == NOT_RETRIEVED
    assert "not a PDF" in latest[CASE_REPORT]["reason"] and "no PMCID and no PMID" in latest[CASE_REPORT]["reason"]
    assert summary.found == {PMC: 1, USER_FOLDER: 2} and summary.not_retrieved == 2
    # One elink for every PMID, one batched efetch db=pmc; the API key never reaches the archive or the store.
    assert eutils_server.counts() .get("elink") == 1 and eutils_server.counts().get("efetch") == 1
    elink = next(r for r in eutils_server.requests if r.util == "elink")
    assert len(elink.id_groups) >= 1 and all("," not in g for g in elink.id_groups)
    run = next((tmp_path / "archive").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert [r["util"] for r in manifest["responses"]] == ["elink", "efetch"]
    for f in run.iterdir():
        raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
        assert SECRET.encode() not in raw
    assert SECRET not in json.dumps(store.latest_fulltexts())
    # Nothing new: nothing appended.
    again = find_fulltexts(store, folder, out, client_factory=client_factory(eutils_server),
                           archive_root=tmp_path / "archive", now="2026-12-03T00:00:00Z")
    assert again.new_results == 0
    assert store.conn.execute("SELECT COUNT(*) FROM fulltexts").fetchone()[0] == len(INCLUDED)


def test_prisma_not_retrieved_comes_from_fulltext(tmp_path):
    from review.search import replay

    store = Store.open(":memory:")
    replay(Path(__file__).parent.parent / "sample" / "searches", store)
    ids = sorted(store.stored_record_ids())[:4]
    store.add_screening_rows([(rid, "title_abstract", "alice", "include", None, None, "decision", None,
                               f"2026-12-01T01:00:{i:02d}Z") for i, rid in enumerate(ids)])
    before = prisma_counts(store)
    assert before.dbr.not_retrieved == 0 and before.dbr.awaiting_assessment == 4
    folder = tmp_path / "fulltext"
    folder.mkdir()
    (folder / f"{ids[0]}.pdf").write_bytes(PDF)
    find_fulltexts(store, folder, tmp_path / "out", client_factory=None, now="2026-12-02T00:00:00Z")  # offline
    assert "PMC not searched (offline)" in store.latest_fulltexts()[ids[1]]["reason"]
    after = prisma_counts(store)
    assert after.dbr.sought == 4 and after.dbr.not_retrieved == 3 and after.dbr.awaiting_assessment == 1
    assert all(c.ok for c in after.checks), [c for c in after.checks if not c.ok]
    # A reviewer who assessed a record anyway (got the text elsewhere): assessed, not "not retrieved".
    store.add_screening_rows([(ids[1], "full_text", "alice", "include", None, None, "decision", None,
                               "2026-12-04T00:00:00Z")])
    again = prisma_counts(store)
    assert again.dbr.not_retrieved == 2 and again.dbr.assessed == 1


def test_cli_offline_needs_no_email_and_says_why(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from review.cli import main

    db = tmp_path / "s.sqlite"
    with Store.open(str(db)) as s:
        s.upsert_records(sample_records())
        s.add_screening_rows([(SURVEY, "title_abstract", "alice", "include", None, None, "decision", None,
                               "2026-12-01T00:00:00Z")])
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["fulltext", "--offline", "--folder", "nowhere", "--db", str(db)],
                             env={"NCBI_EMAIL": ""})
    assert res.exit_code == 0, res.output
    assert "1 reports sought: retrieved 0 (none), not retrieved 1" in res.output
    with Store.open(str(db)) as s:
        reason = s.latest_fulltexts()[SURVEY]["reason"]
    assert "no file in nowhere/" in reason and "PMC not searched (offline)" in reason
