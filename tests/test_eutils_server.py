"""The local E-utilities server speaks NCBI's protocol: answers checked with urllib and Bio.Entrez.read."""
from __future__ import annotations

import http.client
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from Bio import Entrez
from lxml import etree

try:
    from eutils_server import DATA_DIR, EutilsServer, load_corpus, replicate
except ImportError:  # tests/ imported as a package
    from tests.eutils_server import DATA_DIR, EutilsServer, load_corpus, replicate

SERVER_SCRIPT = Path(__file__).parent / "eutils_server.py"


def call(server, util, *, method="GET", timeout=5.0, **params):
    """One request the way Bio.Entrez builds it; returns (status, headers, body) even for HTTP errors."""
    params = {"tool": "review-tests", "email": "tests@example.org", **params}
    query = urlencode(params)
    url = f"{server.url}{util}.fcgi"
    if method == "POST":
        request = urllib.request.Request(url, data=query.encode(), method="POST")
    else:
        request = urllib.request.Request(f"{url}?{query}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def read(body: bytes):
    return Entrez.read(io.BytesIO(body))


def fetched_pmids(body: bytes) -> list[str]:
    return [str(a["MedlineCitation"]["PMID"]) for a in read(body)["PubmedArticle"]]


def real(name: str) -> bytes:
    return (DATA_DIR / name).read_bytes()


# ---------------------------------------------------------------- efetch by id

def test_efetch_by_id_serves_the_real_articles_as_ncbi_sent_them(eutils_server):
    status, headers, body = call(eutils_server, "efetch", db="pubmed", id="12091962,9997", retmode="xml")
    assert status == 200 and headers.get_content_type() == "text/xml"
    original = real("pubmed1.xml")
    assert body.startswith(original[: original.index(b"<PubmedArticleSet>")])  # same 2025 DOCTYPE header
    assert read(body) == read(original)
    assert fetched_pmids(body) == ["12091962", "9997"]


def test_efetch_by_id_keeps_the_requested_order_and_omits_unknown_ids(eutils_server):
    _, _, body = call(eutils_server, "efetch", db="pubmed", id="11700088,1,9997", retmode="xml")
    assert fetched_pmids(body) == ["11700088", "9997"]
    assert eutils_server.requests[-1].returned == ("11700088", "9997")


def test_efetch_of_many_ids_by_post(eutils_server):
    pmids = eutils_server.add_articles(replicate(load_corpus([DATA_DIR / "pubmed2.xml"]), 250, 70_000_000))
    status, _, body = call(eutils_server, "efetch", method="POST", db="pubmed", id=",".join(pmids), retmode="xml")
    assert status == 200 and fetched_pmids(body) == pmids
    assert eutils_server.requests[-1].method == "POST"
    assert eutils_server.requests[-1].params["id"].count(",") == 249


def test_deleted_pmids_come_back_as_delete_citation(eutils_server):
    eutils_server.delete(["9997"])
    _, _, body = call(eutils_server, "efetch", db="pubmed", id="9997,11748933", retmode="xml")
    record = read(body)
    assert [str(p) for p in record["DeleteCitation"]] == ["9997"]
    assert [str(a["MedlineCitation"]["PMID"]) for a in record["PubmedArticle"]] == ["11748933"]


# ---------------------------------------------------------------- esearch

def test_esearch_answer_has_the_layout_of_a_real_one(eutils_server):
    original = real("esearch1.xml")
    ids = list(read(original)["IdList"])
    eutils_server.add_query("biopython", ids, translation='"biopython"[All Fields]')
    status, _, body = call(eutils_server, "esearch", db="pubmed", term="biopython", retmax="20")
    assert status == 200
    # the real search found 63 of which it listed 20; ours holds exactly those 20
    assert body == original.replace(b"<Count>63</Count>", b"<Count>20</Count>")


def test_esearch_unknown_term_answers_like_ncbi(eutils_server):
    _, _, body = call(eutils_server, "esearch", db="pubmed", term="abcXYZ")
    assert body == real("esearch8.xml")
    record = read(body)
    assert record["Count"] == "0" and record["ErrorList"]["PhraseNotFound"] == ["abcXYZ"]


def test_esearch_with_history_then_efetch_pages_by_webenv(eutils_server):
    order = eutils_server.add_replicated("kratom withdrawal", 45)
    _, _, body = call(eutils_server, "esearch", db="pubmed", term="kratom  Withdrawal", usehistory="y", retmax="0")
    search = read(body)
    assert search["Count"] == "45" and search["IdList"] == [] and search["QueryKey"] == "1"
    assert re.fullmatch(r"MCID_[0-9a-f]{24}", search["WebEnv"])
    _, _, listed = call(eutils_server, "esearch", db="pubmed", term="kratom withdrawal", retmax="100")
    assert list(read(listed)["IdList"]) == order
    assert order == sorted(order, key=int, reverse=True)  # newest first, like PubMed
    other = eutils_server.add_replicated("other", 3)
    assert min(int(p) for p in other) > max(int(p) for p in order)  # a second set never reuses PMIDs
    pages = []
    for start in (0, 20, 40):
        _, _, page = call(eutils_server, "efetch", db="pubmed", WebEnv=search["WebEnv"],
                          query_key=search["QueryKey"], retstart=str(start), retmax="20", retmode="xml")
        pages.append(fetched_pmids(page))
    assert [len(p) for p in pages] == [20, 20, 5]
    assert sum(pages, []) == order
    assert eutils_server.counts() == {"esearch": 2, "efetch": 3}


def test_esearch_reports_the_true_count_but_serves_only_pubmeds_first_9999(eutils_server):
    ids = [str(60_000_000 + i) for i in range(12_000)]
    eutils_server.add_query("big", ids)
    eutils_server.add_articles(replicate(load_corpus([DATA_DIR / "pubmed1.xml"]), 20, 60_009_990))
    _, _, body = call(eutils_server, "esearch", db="pubmed", term="big", retmax="10000", usehistory="y")
    search = read(body)
    assert search["Count"] == "12000" and search["RetMax"] == "9999" and len(search["IdList"]) == 9999
    assert search["WarningList"]["OutputMessage"] == ["Restrictions achieved. start and count adjusted to 0, 9999"]
    _, _, body = call(eutils_server, "esearch", db="pubmed", term="big", retstart="9998", retmax="10")
    assert list(read(body)["IdList"]) == [ids[9998]]

    status, _, body = call(eutils_server, "esearch", db="pubmed", term="big", retstart="9999", retmax="10")
    assert status == 400
    with pytest.raises(RuntimeError, match="'retstart' cannot be larger than 9998"):
        read(body)

    history = {"WebEnv": search["WebEnv"], "query_key": search["QueryKey"]}
    _, _, body = call(eutils_server, "efetch", db="pubmed", retstart="9995", retmax="10", **history)
    assert fetched_pmids(body) == ids[9995:9999]  # clamped without a word
    status, _, body = call(eutils_server, "efetch", db="pubmed", retstart="9999", retmax="10", **history)
    assert status == 400
    error = etree.fromstring(body, etree.XMLParser(no_network=True, load_dtd=False))
    assert error.tag == "eFetchResult" and "cannot be larger than 9998" in error.findtext("ERROR")


def test_date_slices_partition_the_result(eutils_server):
    eutils_server.add_replicated("dated", 12, years=[2019, 2020, 2021])
    counts = {}
    for low, high in (("2019", "2019"), ("2020/01", "2020/12"), ("2021/01/01", "2021/12/31")):
        _, _, body = call(eutils_server, "esearch", db="pubmed", term="dated", mindate=low, maxdate=high,
                          datetype="pdat", retmax="100")
        search = read(body)
        assert search["QueryTranslation"].endswith(f"AND {low}:{high}[Date - Publication]")
        _, _, fetched = call(eutils_server, "efetch", db="pubmed", id=",".join(search["IdList"]), retmode="xml")
        years = {a["MedlineCitation"]["Article"]["Journal"]["JournalIssue"]["PubDate"]["Year"]
                 for a in read(fetched)["PubmedArticle"]}
        assert years == {low[:4]}
        counts[low[:4]] = int(search["Count"])
    assert counts == {"2019": 4, "2020": 4, "2021": 4}


def test_bad_dates_and_dbs_are_refused(eutils_server):
    eutils_server.add_replicated("x", 3)
    status, _, body = call(eutils_server, "esearch", db="pubmed", term="x", mindate="2020-01-01", maxdate="2021")
    assert status == 400 and b"invalid date" in body
    status, _, body = call(eutils_server, "esearch", db="pubmedd", term="x")
    with pytest.raises(RuntimeError, match="Invalid db name specified: pubmedd"):
        read(body)


# ---------------------------------------------------------------- epost and history

def test_epost_answers_like_ncbi_and_feeds_efetch(eutils_server):
    status, _, body = call(eutils_server, "epost", method="POST", db="pubmed", id="11748933,9997")
    assert status == 200
    posted = read(body)
    assert body == real("epost1.xml").replace(b"MCID_692851c130aec64bed0a8c2a", posted["WebEnv"].encode())
    _, _, body = call(eutils_server, "epost", method="POST", db="pubmed", id="12091962", WebEnv=posted["WebEnv"])
    assert read(body)["QueryKey"] == "2" and read(body)["WebEnv"] == posted["WebEnv"]
    _, _, body = call(eutils_server, "efetch", db="pubmed", WebEnv=posted["WebEnv"], query_key="1", retmode="xml")
    assert fetched_pmids(body) == ["11748933", "9997"]
    assert eutils_server.history(posted["WebEnv"], 2) == ["12091962"]


def test_epost_errors_are_ncbis(eutils_server):
    _, _, body = call(eutils_server, "epost", method="POST", db="nothing", id="9997")
    assert body == real("epost2.xml")
    with pytest.raises(RuntimeError, match="Invalid db name specified: nothing"):
        read(body)
    _, _, body = call(eutils_server, "epost", method="POST", db="pubmed", id="abc,-1")
    assert body == real("epost3.xml")


def test_unknown_or_expired_webenv_is_an_error(eutils_server):
    _, _, body = call(eutils_server, "epost", method="POST", db="pubmed", id="9997")
    webenv = read(body)["WebEnv"]
    eutils_server.expire_history()
    status, _, body = call(eutils_server, "efetch", db="pubmed", WebEnv=webenv, query_key="1", retmode="xml")
    assert status == 400
    errors = etree.fromstring(body, etree.XMLParser(no_network=True, load_dtd=False)).findall("ERROR")
    assert f"WebEnv: {webenv}" in errors[0].text and "Can't fetch uids from history" in errors[1].text


# ---------------------------------------------------------------- replicated articles

def test_replicated_articles_are_real_ones_with_new_ids():
    corpus = load_corpus(sorted(DATA_DIR.glob("pubmed*.xml")))
    copies = replicate(corpus, 6, 80_000_000, years=[2024])
    assert list(copies) == [str(80_000_000 + i) for i in range(6)]
    body = b"<?xml version=\"1.0\" ?>\n" + real("pubmed1.xml").split(b"\n")[1] + b"\n<PubmedArticleSet>" \
        + b"".join(copies.values()) + b"</PubmedArticleSet>"
    articles = read(body)["PubmedArticle"]
    originals = read(real("pubmed1.xml"))["PubmedArticle"] + read(real("pubmed2.xml"))["PubmedArticle"]
    for i, (pmid, article) in enumerate(zip(copies, articles)):
        source = originals[i % 4]
        assert article["MedlineCitation"]["PMID"] == pmid
        ids = {str(x.attributes["IdType"]): str(x) for x in article["PubmedData"]["ArticleIdList"]}
        assert ids["pubmed"] == pmid
        source_ids = {str(x.attributes["IdType"]) for x in source["PubmedData"]["ArticleIdList"]}
        if "doi" in source_ids:  # copies must not share a DOI, or deduplication would merge them
            assert ids["doi"] == f"10.5555/replica.{pmid}"
        else:
            assert "doi" not in ids
        assert article["MedlineCitation"]["Article"]["ArticleTitle"] == \
            source["MedlineCitation"]["Article"]["ArticleTitle"]
        assert article["MedlineCitation"]["Article"]["Journal"]["JournalIssue"]["PubDate"]["Year"] == "2024"


def test_load_corpus_names_the_file_of_a_bad_article(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<PubmedArticleSet>\n<PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>")
    with pytest.raises(ValueError, match=r"bad\.xml: article 1 \(line 2\) has no PMID"):
        load_corpus([bad])


# ---------------------------------------------------------------- injected faults

def test_status_faults_429_and_5xx(eutils_server):
    eutils_server.inject("efetch", "status", status=429)
    eutils_server.inject("efetch", "status", status=503, retry_after=2)
    eutils_server.inject("efetch", "status", status=500)
    status, headers, body = call(eutils_server, "efetch", db="pubmed", id="9997")
    assert status == 429 and headers["Retry-After"] == "1"
    assert json.loads(body) == {"error": "API rate limit exceeded", "api-key": "127.0.0.1", "count": "4", "limit": "3"}
    status, headers, body = call(eutils_server, "efetch", db="pubmed", id="9997")
    assert status == 503 and headers["Retry-After"] == "2" and b"Service Unavailable" in body
    status, _, body = call(eutils_server, "efetch", db="pubmed", id="9997")
    assert status == 500 and b"<html>" in body
    assert call(eutils_server, "efetch", db="pubmed", id="9997")[0] == 200
    assert [r.fault for r in eutils_server.requests] == ["status", "status", "status", None]
    assert [r.status for r in eutils_server.requests] == [429, 503, 500, 200]


def test_429_with_api_key_names_the_key(eutils_server):
    eutils_server.inject("*", "status")
    _, _, body = call(eutils_server, "esearch", db="pubmed", term="x", api_key="KEY123")
    assert json.loads(body)["api-key"] == "KEY123" and json.loads(body)["limit"] == "10"


def test_fault_skip_and_times(eutils_server):
    eutils_server.inject("efetch", "status", status=502, skip=1, times=2)
    eutils_server.inject("efetch", "status", status=500, skip=1)
    statuses = [call(eutils_server, "efetch", db="pubmed", id="9997")[0] for _ in range(5)]
    # the 500 was due on the 2nd request too but waits behind the 502s queued before it
    assert statuses == [200, 502, 502, 500, 200] and eutils_server.faults_pending() == 0
    with pytest.raises(TypeError, match="seconds"):
        eutils_server.inject("efetch", "status", seconds=3)
    with pytest.raises(ValueError, match="unknown fault kind"):
        eutils_server.inject("efetch", "explode")


def test_slow_answer_exceeds_the_client_timeout(eutils_server):
    eutils_server.inject("esearch", "slow", seconds=3)
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(eutils_server, "esearch", db="pubmed", term="x", timeout=0.3)
    assert time.monotonic() - started < 2
    assert call(eutils_server, "esearch", db="pubmed", term="x", timeout=2)[0] == 200


def test_slow_body_stalls_mid_answer(eutils_server):
    eutils_server.inject("efetch", "slow", seconds=3, stage="body")
    with urllib.request.urlopen(f"{eutils_server.url}efetch.fcgi?db=pubmed&id=9997", timeout=0.3) as response:
        assert response.status == 200
        with pytest.raises(TimeoutError):
            response.read()


def test_truncated_connection_promises_more_than_it_sends(eutils_server):
    eutils_server.inject("efetch", "truncate")
    with urllib.request.urlopen(f"{eutils_server.url}efetch.fcgi?db=pubmed&id=9997,12091962", timeout=5) as response:
        promised = int(response.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
    assert 0 < len(caught.value.partial) < promised


def test_short_body_is_complete_http_but_broken_xml(eutils_server):
    eutils_server.inject("efetch", "truncate", mode="short", fraction=0.6)
    status, headers, body = call(eutils_server, "efetch", db="pubmed", id="9997,12091962")
    assert status == 200 and len(body) == int(headers["Content-Length"])
    assert body == eutils_server.efetch_body(["9997", "12091962"])[: len(body)]
    with pytest.raises(Entrez.Parser.CorruptedXMLError):
        read(body)


def test_drop_records_silently_returns_fewer(eutils_server):
    eutils_server.inject("efetch", "drop_records", count=2)
    asked = eutils_server.corpus_pmids
    status, _, body = call(eutils_server, "efetch", db="pubmed", id=",".join(asked))
    assert status == 200 and fetched_pmids(body) == asked[:2]
    assert eutils_server.requests[-1].dropped == tuple(asked[2:])
    eutils_server.inject("efetch", "drop_records", pmids=["9997"])
    _, _, body = call(eutils_server, "efetch", db="pubmed", id=",".join(asked))
    assert fetched_pmids(body) == [p for p in asked if p != "9997"]


def test_reset_closes_without_an_answer(eutils_server):
    eutils_server.inject("esearch", "reset")
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        call(eutils_server, "esearch", db="pubmed", term="x")
    assert eutils_server.requests[-1].status is None and eutils_server.requests[-1].fault == "reset"
    assert call(eutils_server, "esearch", db="pubmed", term="x")[0] == 200


# ---------------------------------------------------------------- rate limit and request log

def test_rate_limit_is_enforced_like_ncbi(eutils_server):
    eutils_server.enforce_rate_limit = True
    burst = [call(eutils_server, "esearch", db="pubmed", term="x")[0] for _ in range(5)]
    assert burst == [200, 200, 200, 429, 429]
    assert eutils_server.max_requests_in_window(1.0) == 5
    keyed = [call(eutils_server, "esearch", db="pubmed", term="x", api_key="K")[0] for _ in range(11)]
    assert keyed == [200] * 10 + [429]
    time.sleep(1.0)
    eutils_server.clear_requests()
    for _ in range(4):
        assert call(eutils_server, "esearch", db="pubmed", term="x")[0] == 200
        time.sleep(0.35)
    assert eutils_server.max_requests_in_window(1.0) <= 3  # paced like Bio.Entrez: never refused
    assert eutils_server.count("esearch", status=200) == 4


def test_requests_are_recorded_with_times_and_params(eutils_server):
    before = time.time()
    call(eutils_server, "esearch", db="pubmed", term="kratom", usehistory="y", retmax="0")
    call(eutils_server, "efetch", method="POST", db="pubmed", id="9997", rettype="", retmode="xml")
    first, second = eutils_server.requests
    assert (first.util, first.method, second.util, second.method) == ("esearch", "GET", "efetch", "POST")
    assert first.params["term"] == "kratom" and first.params["tool"] == "review-tests"
    assert before <= first.wall <= second.wall and first.t <= second.t
    assert first.api_key is None
    status, _, _ = call(eutils_server, "einfo")
    assert status == 404


def test_concurrent_clients_are_all_answered(eutils_server):
    order = eutils_server.add_replicated("concurrent", 40)
    results: list[list[str]] = []

    def client(i):
        _, _, body = call(eutils_server, "efetch", db="pubmed", id=",".join(order[i * 4:(i + 1) * 4]))
        results.append(fetched_pmids(body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sum(results, [])) == sorted(order) and eutils_server.count("efetch") == 10


def test_keep_alive_connection_serves_several_requests(eutils_server):
    connection = http.client.HTTPConnection("127.0.0.1", eutils_server.port, timeout=5)
    try:
        for pmid in ("9997", "11700088"):
            connection.request("GET", f"/entrez/eutils/efetch.fcgi?db=pubmed&id={pmid}")
            response = connection.getresponse()
            assert fetched_pmids(response.read()) == [pmid]
    finally:
        connection.close()


def test_stop_frees_the_port_even_during_a_slow_answer():
    server = EutilsServer().start()
    server.inject("esearch", "slow", seconds=30)
    failures: list[Exception] = []

    def client():
        try:
            call(server, "esearch", db="pubmed", term="x")
        except Exception as e:  # noqa: BLE001 - the test inspects it below
            failures.append(e)

    worker = threading.Thread(target=client)
    worker.start()
    while not server.requests:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2 and not worker.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], ConnectionError)  # cut, not answered
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_script_mode_prints_its_url_and_logs_requests(tmp_path):
    log = tmp_path / "requests.jsonl"
    command = [sys.executable, str(SERVER_SCRIPT), "--port", "0", "--query", "kratom=30@90000000", "--log", str(log)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            url = process.stdout.readline().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+/entrez/eutils/", url)
            with urllib.request.urlopen(f"{url}esearch.fcgi?db=pubmed&term=kratom&retmax=100", timeout=5) as response:
                search = read(response.read())
            assert search["Count"] == "30" and sorted(search["IdList"]) == [str(90_000_000 + i) for i in range(30)]
        finally:
            process.terminate()
            assert process.wait(timeout=5) == 0
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["util"], r["params"]["term"], r["status"]) for r in logged] == [("esearch", "kratom", 200)]


def test_requests_built_by_bio_entrez_itself_are_understood(eutils_server):
    order = eutils_server.add_replicated("opioid withdrawal", 250)
    params = {"email": "tests@example.org", "tool": "review-tests"}
    search = read(Entrez._open(Entrez._build_request(
        f"{eutils_server.url}esearch.fcgi",
        {"db": "pubmed", "term": "opioid withdrawal", "usehistory": "y", "retmax": 0, **params})).read())
    assert search["Count"] == "250"
    # 250 ids: Bio.Entrez switches to a form-encoded POST, ids comma-joined
    request = Entrez._build_request(f"{eutils_server.url}efetch.fcgi",
                                    {"db": "pubmed", "id": order, "retmode": "xml", **params})
    assert request.method == "POST"
    with Entrez._open(request) as handle:
        assert fetched_pmids(handle.read()) == order
    assert [r.method for r in eutils_server.requests] == ["GET", "POST"]
