"""A local NCBI E-utilities server for tests: real PubMed XML, history, PubMed's caps and injected faults.

In a test, use the ``eutils_server`` fixture (tests/conftest.py) or::

    with EutilsServer() as server:
        server.add_replicated("kratom", 2500)
        os.environ["NCBI_EUTILS_URL"] = server.url  # http://127.0.0.1:PORT/entrez/eutils/

As a separate process (for clients run in a subprocess, or killed mid-run)::

    python tests/eutils_server.py --port 0 --query kratom=2500 --log requests.jsonl

prints the base URL on its first stdout line and serves until SIGTERM/SIGINT.

Answers follow the real responses in tests/data/entrez (Biopython's Tests/Entrez). Where NCBI's
behaviour is not in those files it follows what users measured against the live service and
reported (PubMed's 9,999-record window, the 429 JSON body); the few messages with no known real
wording are marked "test server" in their text.
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from lxml import etree

DATA_DIR = Path(__file__).parent / "data" / "entrez"
BASE_PATH = "/entrez/eutils/"
UTILS = ("esearch", "efetch", "epost", "elink")

# PubMed serves only the first 9,999 records of a search (positions 0..9998), by esearch and by
# efetch from a search's history; users measured retmax=10000 silently answering 9,999.
SEARCH_CAP = 9_999
EFETCH_MAX = 10_000  # NCBI's documented efetch retmax ceiling
DEFAULT_RETMAX = 20
RATE_LIMIT = {False: 3, True: 10}  # requests per second without / with api_key
MAX_UID = 18446744073709551615

XML = "text/xml; charset=UTF-8"
PUBMED_PROLOG = (
    '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
    '1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)
ESEARCH_PROLOG = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch '
    '20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EPOST_PROLOG = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost '
    '20090526//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd">'
)
ELINK_PROLOG = (
    # today's NCBI prolog (elink1.xml's older http:// DTD URL is refused by Bio.Entrez, which wants https)
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink 20101123//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n'
)
PMC_PROLOG = (
    '<?xml version="1.0" ?>\n<!DOCTYPE pmc-articleset PUBLIC "-//NLM//DTD ARTICLE SET 2.0//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pmc/articleset/nlm-articleset-2.0.dtd">\n'
)
# NCBI's efetch error documents really name "eEfetchResult" in the DOCTYPE; Biopython has no
# efetch.dtd, so Bio.Entrez.read on these bodies would try to download it.
EFETCH_ERROR_PROLOG = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD efetch '
    '20131226//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
)
CAP_MESSAGE = (
    "'retstart' cannot be larger than 9998. For PubMed, ESearch can only retrieve the first 9,999 "
    "records matching the query. To obtain more than 9,999 PubMed records, consider using EDirect "
    "that contains additional logic to batch PubMed search results automatically so that an "
    "arbitrary number can be retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)
SERVER_ERROR_BODY = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n<html><head><title>{status} '
    "{reason}</title></head><body><h1>{reason}</h1><p>The server encountered an error and could "
    "not complete your request.</p></body></html>\n"
)



def _parser() -> etree.XMLParser:
    """A parser that never fetches DTDs or entities (one per call: lxml parsers are not thread-safe)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DATE_RE = re.compile(r"^(\d{4})(?:/(\d{1,2})(?:/(\d{1,2}))?)?$")


# ---------------------------------------------------------------- corpus: PubMed XML fragments

def load_corpus(paths: Iterable[Path | str]) -> dict[str, bytes]:
    """PMID -> PubmedArticle/PubmedBookArticle fragment, from efetch PubmedArticleSet files, in file order."""
    out: dict[str, bytes] = {}
    for path in paths:
        root = etree.parse(str(path), _parser()).getroot()
        if root.tag != "PubmedArticleSet":
            raise ValueError(f"{path}: root element is <{root.tag}>, expected <PubmedArticleSet>")
        for number, el in enumerate(root.iterchildren("PubmedArticle", "PubmedBookArticle"), 1):
            pmid = article_pmid(el)
            if pmid is None:
                raise ValueError(f"{path}: article {number} (line {el.sourceline}) has no PMID")
            out[pmid] = _serialize(el)
    return out


def article_pmid(el: etree._Element) -> str | None:
    """The PMID of a PubmedArticle or PubmedBookArticle element."""
    node = el.find("MedlineCitation/PMID") if el.tag == "PubmedArticle" else el.find("BookDocument/PMID")
    return node.text.strip() if node is not None and node.text else None


def replicate(
    fragments: Mapping[str, bytes] | Sequence[bytes],
    n: int,
    start_pmid: int,
    *,
    years: Sequence[int] | None = None,
    unique_dois: bool = True,
) -> dict[str, bytes]:
    """n articles cycling through real fragments, with PMIDs start_pmid.. (and cycled years if given).

    The PMID is rewritten in MedlineCitation/PMID (BookDocument/PMID) and in the article's own
    ArticleId[@IdType='pubmed'] (not in references). DOIs become 10.5555/replica.<PMID> so that
    copies are not duplicates of each other; ``years`` sets the PubDate year of copy i to
    years[i % len(years)], for date-sliced searches.
    """
    sources = list(fragments.values()) if isinstance(fragments, Mapping) else list(fragments)
    if not sources:
        raise ValueError("replicate needs at least one article fragment")
    out: dict[str, bytes] = {}
    for i in range(n):
        el = etree.fromstring(sources[i % len(sources)], _parser())
        pmid = str(start_pmid + i)
        _set_pmid(el, pmid)
        if unique_dois:
            _set_doi(el, f"10.5555/replica.{pmid}")
        if years:
            _set_pub_year(el, years[i % len(years)])
        out[pmid] = _serialize(el)
    return out


def _serialize(el: etree._Element) -> bytes:
    el.tail = None
    return etree.tostring(el, encoding="utf-8", xml_declaration=False)


def _own_ids(el: etree._Element) -> list[etree._Element]:
    """The article's own ArticleId elements (PubmedData or PubmedBookData), not its references'."""
    return el.findall("PubmedData/ArticleIdList/ArticleId") + el.findall("PubmedBookData/ArticleIdList/ArticleId")


def _set_pmid(el: etree._Element, pmid: str) -> None:
    node = el.find("MedlineCitation/PMID") if el.tag == "PubmedArticle" else el.find("BookDocument/PMID")
    if node is None:
        raise ValueError(f"<{el.tag}> has no PMID element to rewrite")
    node.text = pmid
    for aid in _own_ids(el):
        if aid.get("IdType") == "pubmed":
            aid.text = pmid


def _set_doi(el: etree._Element, doi: str) -> None:
    for aid in _own_ids(el):
        if aid.get("IdType") == "doi":
            aid.text = doi
    for loc in el.iterfind(".//ELocationID[@EIdType='doi']"):
        loc.text = doi


def _pub_date_element(el: etree._Element) -> etree._Element | None:
    path = "MedlineCitation/Article/Journal/JournalIssue/PubDate" if el.tag == "PubmedArticle" \
        else "BookDocument/Book/PubDate"
    return el.find(path)


def _set_pub_year(el: etree._Element, year: int) -> None:
    pub = _pub_date_element(el)
    if pub is None:
        raise ValueError(f"<{el.tag}> has no PubDate to set the year on")
    medline = pub.find("MedlineDate")
    if medline is not None:  # free-text date: replace it with a plain year
        pub.remove(medline)
    node = pub.find("Year")
    if node is None:
        node = etree.Element("Year")
        pub.insert(0, node)
    node.text = str(year)


# ---------------------------------------------------------------- dates (mindate/maxdate/datetype)

Date = tuple[int, int, int]


def parse_date(text: str, *, upper: bool = False) -> Date:
    """YYYY, YYYY/MM or YYYY/MM/DD -> (y, m, d); missing parts fill to the start (or end, if upper)."""
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError(f"invalid date {text!r}: use YYYY, YYYY/MM or YYYY/MM/DD")
    year = int(m[1])
    month = int(m[2]) if m[2] else (12 if upper else 1)
    day = int(m[3]) if m[3] else (31 if upper else 1)
    return (year, month, day)


def _date_of(node: etree._Element | None) -> Date | None:
    """A PubMed date element (Year/Month/Day, Season or MedlineDate) as a sortable triple."""
    if node is None:
        return None
    year = node.findtext("Year")
    if not year:
        found = re.search(r"\d{4}", node.findtext("MedlineDate") or "")
        return (int(found[0]), 1, 1) if found else None
    month_text = (node.findtext("Month") or "1").strip().lower()
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text[:3], 1)
    day = node.findtext("Day")
    return (int(year), month, int(day) if day and day.isdigit() else 1)


def article_dates(fragment: bytes) -> dict[str, Date]:
    """The dates esearch filters on: pdat (PubDate), edat (entrez history date), mdat (DateRevised)."""
    el = etree.fromstring(fragment, _parser())
    dates = {
        "pdat": _date_of(_pub_date_element(el)),
        "edat": _date_of(_first(el, "*/History/PubMedPubDate[@PubStatus='entrez']",
                                "*/History/PubMedPubDate[@PubStatus='pubmed']")),
        "mdat": _date_of(_first(el, "MedlineCitation/DateRevised", "BookDocument/DateRevised")),
    }
    return {k: v for k, v in dates.items() if v is not None}


def _first(el: etree._Element, *paths: str) -> etree._Element | None:
    """The first element found by any of the paths (lxml elements are falsy when childless)."""
    for path in paths:
        node = el.find(path)
        if node is not None:
            return node
    return None


# ---------------------------------------------------------------- records of requests and faults

@dataclass
class RequestRecord:
    """One request as the server saw it; ``status`` is None for a reset connection."""

    util: str
    method: str
    params: dict[str, str]
    t: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    client: str
    status: int | None = None
    fault: str | None = None
    returned: tuple[str, ...] = ()  # efetch: PMIDs of the articles in the answer
    id_groups: tuple[str, ...] = ()  # each id=... parameter as sent (elink answers one LinkSet per group)
    dropped: tuple[str, ...] = ()  # efetch: PMIDs a drop_records fault left out

    @property
    def api_key(self) -> str | None:
        return self.params.get("api_key") or None


FAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "status": {"status": 429, "body": None, "retry_after": None},
    "slow": {"seconds": 5.0, "stage": "headers"},
    "truncate": {"mode": "connection", "fraction": 0.5},
    "drop_records": {"count": 1, "pmids": None},
    "reset": {},
}


@dataclass
class Fault:
    util: str  # an E-utility name, or "*" for any
    kind: str
    times: int
    skip: int
    opts: dict[str, Any]


@dataclass
class HistorySet:
    pmids: list[str]
    from_search: bool  # esearch sets are subject to PubMed's 9,999-record window


@dataclass
class Query:
    term: str
    pmids: list[str]
    translation: str
    translations: tuple[tuple[str, str], ...] = ()


@dataclass
class Reply:
    """What the handler sends; the fault fields say how to misbehave while sending it."""

    status: int
    body: bytes
    content_type: str = XML
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before sending anything
    cut_at: int | None = None  # send only this many body bytes (Content-Length stays full) ...
    stall: float = 0.0  # ... then wait this long and send the rest; with stall 0, close instead
    reset: bool = False  # close the connection without an answer


def _norm_term(term: str) -> str:
    return " ".join(term.split()).casefold()


def _ids(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# ---------------------------------------------------------------- the server

class EutilsServer:
    """NCBI E-utilities (esearch, efetch, epost for db=pubmed) on 127.0.0.1, with fault injection."""

    def __init__(
        self,
        corpus_dir: Path | str | None = DATA_DIR,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        enforce_rate_limit: bool = False,
        search_cap: int = SEARCH_CAP,
        request_log: Path | str | None = None,
    ):
        self.host, self.port = host, port
        self.enforce_rate_limit = enforce_rate_limit
        self.search_cap = search_cap
        self.cap_error_status = 400  # users report HTTP 400 for the retstart cap (some saw 200)
        self.request_log = Path(request_log) if request_log else None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._articles: dict[str, bytes] = {}
        self._dates: dict[str, dict[str, Date]] = {}
        self._queries: dict[str, Query] = {}
        self._deleted: set[str] = set()
        self._pmc: dict[str, bytes] = {}  # PMC number (no "PMC") -> <article> XML
        self._pmc_links: dict[str, str] = {}  # PMID -> PMC number
        self._history: dict[str, dict[int, HistorySet]] = {}
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.corpus_pmids: list[str] = []  # the real articles, in file order
        if corpus_dir is not None:
            self.corpus_pmids = self.add_articles(load_corpus(sorted(Path(corpus_dir).glob("pubmed*.xml"))))

    # ---- lifecycle
    def start(self) -> "EutilsServer":
        """Bind (port 0 picks a free port) and serve from a daemon thread."""
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"eutils-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections (slow faults end at once) and free the port."""
        self._stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "EutilsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for NCBI_EUTILS_URL, ending in /entrez/eutils/."""
        return f"http://{self.host}:{self.port}{BASE_PATH}"

    # ---- content
    def add_articles(self, fragments: Mapping[str, bytes]) -> list[str]:
        """Serve these PubmedArticle fragments (PMID -> XML bytes) from efetch; returns the PMIDs."""
        dates = {pmid: article_dates(xml) for pmid, xml in fragments.items()}
        with self._lock:
            self._articles.update(fragments)
            self._dates.update(dates)
        return list(fragments)

    def add_query(
        self,
        term: str,
        pmids: Sequence[str | int],
        *,
        translation: str | None = None,
        translations: Sequence[tuple[str, str]] = (),
        dates: Mapping[str, str] | None = None,
    ) -> None:
        """Register a term's result set, PMIDs in PubMed's order (newest first).

        ``translation`` is the QueryTranslation (default: the term); ``translations`` the
        TranslationSet's (From, To) pairs; ``dates`` overrides an article's date ("YYYY[/MM[/DD]]",
        all datetypes), needed for PMIDs not in the corpus to pass a date filter.
        """
        ids = [str(p) for p in pmids]
        with self._lock:
            for pmid, text in (dates or {}).items():
                day = parse_date(text)
                self._dates[str(pmid)] = {"pdat": day, "edat": day, "mdat": day}
            self._queries[_norm_term(term)] = Query(term, ids, translation or term, tuple(translations))

    def add_replicated(
        self,
        term: str,
        n: int,
        *,
        start_pmid: int | None = None,
        years: Sequence[int] | None = None,
        translation: str | None = None,
    ) -> list[str]:
        """Make n replicated real articles, serve them and register ``term`` for them (newest first).

        PMIDs run from ``start_pmid`` (default: above every PMID served so far, at least 50,000,000).
        """
        with self._lock:
            sources = [self._articles[p] for p in self.corpus_pmids]
            if start_pmid is None:
                start_pmid = max([50_000_000, *(int(p) + 1 for p in self._articles if p.isdigit())])
        fragments = replicate(sources, n, start_pmid, years=years)
        self.add_articles(fragments)
        order = sorted(fragments, key=int, reverse=True)  # PubMed lists the most recently added first
        self.add_query(term, order, translation=translation)
        return order

    def delete(self, pmids: Iterable[str | int]) -> None:
        """Answer these PMIDs in efetch with a DeleteCitation instead of the article."""
        with self._lock:
            self._deleted.update(str(p) for p in pmids)

    def expire_history(self) -> None:
        """Forget every WebEnv, as NCBI does after some hours: later efetches by WebEnv fail."""
        with self._lock:
            self._history.clear()

    def article_xml(self, pmid: str | int) -> bytes:
        """The served PubmedArticle fragment of one PMID."""
        with self._lock:
            return self._articles[str(pmid)]

    def efetch_body(self, pmids: Iterable[str | int]) -> bytes:
        """The PubmedArticleSet efetch would send for these PMIDs (unknown ones left out)."""
        ids = [str(p) for p in pmids]
        with self._lock:
            found = [p for p in ids if p in self._articles and p not in self._deleted]
            deleted = [p for p in ids if p in self._deleted]
            return self._pubmed_set(found, deleted)

    # ---- faults
    def inject(self, util: str, kind: str, *, times: int = 1, skip: int = 0, **opts: Any) -> None:
        """Queue a fault for the next ``times`` requests to ``util`` ("*" = any), after letting ``skip`` pass.

        Faults apply in the order queued, one per request; ``skip`` counts matching requests from now.

        Kinds and options (defaults in FAULT_OPTIONS):
          status: status=429|500|502|503|..., body=None (NCBI-like default), retry_after=None
          slow: seconds=5.0, stage="headers" (wait, then answer) | "body" (half the body, wait, rest)
          truncate: mode="connection" (full Content-Length, part of the body, close) |
                    "short" (a complete answer whose body stops mid-element), fraction=0.5
          drop_records: count=1, pmids=None (efetch answers without these / its last ``count`` articles)
          reset: close the connection without an answer
        """
        if util != "*" and util not in UTILS:
            raise ValueError(f"unknown util {util!r}: use one of {UTILS} or '*'")
        if kind not in FAULT_OPTIONS:
            raise ValueError(f"unknown fault kind {kind!r}: use one of {tuple(FAULT_OPTIONS)}")
        unknown = set(opts) - set(FAULT_OPTIONS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes {sorted(FAULT_OPTIONS[kind])}, not {sorted(unknown)}")
        if kind == "drop_records" and util not in ("efetch", "*"):
            raise ValueError("drop_records applies to efetch only")
        if times < 1 or skip < 0:
            raise ValueError("times must be >= 1 and skip >= 0")
        with self._lock:
            self._faults.append(Fault(util, kind, times, skip, {**FAULT_OPTIONS[kind], **opts}))

    def faults_pending(self) -> int:
        """How many fault applications are still queued."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # ---- the request log
    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, util: str | None = None, *, status: int | None = None) -> int:
        """Requests so far, optionally only to one E-utility and/or with one answer status."""
        return sum(1 for r in self.requests
                   if (util is None or r.util == util) and (status is None or r.status == status))

    def counts(self) -> dict[str, int]:
        """Requests per E-utility."""
        out: dict[str, int] = {}
        for r in self.requests:
            out[r.util] = out.get(r.util, 0) + 1
        return out

    def max_requests_in_window(self, window: float = 1.0, util: str | None = None) -> int:
        """The most requests that arrived within any ``window`` seconds (t <= arrival < t + window)."""
        times = sorted(r.t for r in self.requests if util is None or r.util == util)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def history(self, webenv: str, query_key: int | str) -> list[str]:
        """The PMIDs stored under (WebEnv, query_key)."""
        with self._lock:
            return list(self._history[webenv][int(query_key)].pmids)

    # ---- request handling (called from handler threads)
    def respond(self, method: str, path: str, params: dict[str, str], client: str,
                id_groups: Sequence[str] = ()) -> Reply:
        """Record the request and build the reply, faults and rate limit included."""
        util = path[len(BASE_PATH):].removesuffix(".fcgi") if path.startswith(BASE_PATH) else path
        record = RequestRecord(util, method, params, time.monotonic(), time.time(), client,
                               id_groups=tuple(id_groups))
        with self._lock:
            self._requests.append(record)
            try:
                reply = self._reply(record)
            except Exception:  # a bug here must fail the test loudly, not look like a network fault
                reply = Reply(500, ("test server bug:\n" + traceback.format_exc()).encode(), "text/plain")
            record.status = None if reply.reset else reply.status
            self._log(record)
        return reply

    def _reply(self, record: RequestRecord) -> Reply:
        if record.util not in UTILS:
            return Reply(404, f"unknown E-utility path {record.util!r} (test server)\n".encode(), "text/plain")
        key = record.api_key or record.client
        limit = RATE_LIMIT[record.api_key is not None]
        if self.enforce_rate_limit:
            recent = sum(1 for r in self._requests if (r.api_key or r.client) == key and record.t - r.t < 1.0)
            if recent > limit:
                record.fault = "rate_limit"
                return _too_many(key, recent, limit)
        fault = self._take_fault(record.util)
        if fault is None:
            return self._answer(record, None)
        record.fault = fault.kind
        o = fault.opts
        if fault.kind == "status":
            return _status_reply(int(o["status"]), o["body"], o["retry_after"], key, limit)
        if fault.kind == "reset":
            return Reply(0, b"", reset=True)
        reply = self._answer(record, fault)
        if fault.kind == "slow":
            if o["stage"] == "body":
                reply.cut_at, reply.stall = len(reply.body) // 2, float(o["seconds"])
            else:
                reply.delay = float(o["seconds"])
        elif fault.kind == "truncate":
            cut = _mid_element_cut(reply.body, float(o["fraction"]))
            if o["mode"] == "short":
                reply.body = reply.body[:cut]
            else:
                reply.cut_at = cut
        return reply

    def _take_fault(self, util: str) -> Fault | None:
        """The first due fault for this request; every waiting fault counts the request as skipped."""
        due = None
        for fault in self._faults:
            if fault.util not in ("*", util) or (fault.kind == "drop_records" and util != "efetch"):
                continue
            if fault.skip:
                fault.skip -= 1
            elif due is None:
                due = fault
        if due is not None:
            due.times -= 1
            if due.times == 0:
                self._faults.remove(due)
        return due

    def _answer(self, record: RequestRecord, fault: Fault | None) -> Reply:
        p = {k.lower(): v for k, v in record.params.items()}
        db = p.get("db", "")
        if record.util == "elink":
            return self._elink(p, record)
        if record.util == "efetch" and db == "pmc":
            return self._efetch_pmc(p, record)
        if db != "pubmed":
            return self._invalid_db(record.util, db)
        try:
            if record.util == "esearch":
                return self._esearch(p)
            if record.util == "epost":
                return self._epost(p)
            return self._efetch(p, record, fault)
        except _BadRequest as e:
            if record.util == "esearch":
                return _search_error(f"test server: {e}", 400)
            return _fetch_error(f"test server: {e}", status=400)

    def _log(self, record: RequestRecord) -> None:
        if self.request_log is not None:
            with self.request_log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(asdict(record)) + "\n")

    # ---- esearch
    def _esearch(self, p: dict[str, str]) -> Reply:
        term = p.get("term", "").strip()
        if not term:
            return _search_error("Empty term and query_key - nothing todo", 400)
        retstart, retmax = _int(p, "retstart", 0), _int(p, "retmax", DEFAULT_RETMAX)
        if retstart > self.search_cap - 1:
            return _search_error("Search Backend failed: Exception:\n" + CAP_MESSAGE, self.cap_error_status)
        query = self._queries.get(_norm_term(term))
        pmids = self._date_filter(query.pmids if query else [], p)
        translation = query.translation if query else f"({term}[All Fields])"
        mindate, maxdate = p.get("mindate"), p.get("maxdate")
        if mindate or maxdate:
            datetype = p.get("datetype") or "pdat"
            field_name = {"pdat": "Publication", "edat": "Entrez", "mdat": "Modification"}.get(datetype, datetype)
            translation += f" AND {mindate or '1800/01/01'}:{maxdate or '3000/12/31'}[Date - {field_name}]"
        history = ""
        if p.get("usehistory", "").lower() == "y":
            webenv, key = self._store(p.get("webenv"), HistorySet(list(pmids), from_search=True))
            history = f"<QueryKey>{key}</QueryKey><WebEnv>{webenv}</WebEnv>"
        stop = min(retstart + retmax, self.search_cap)
        ids = pmids[retstart:stop]
        warnings = []
        if retstart + retmax > self.search_cap:
            warnings.append(f"Restrictions achieved. start and count adjusted to {retstart}, {stop - retstart}")
        if not pmids:
            warnings.append("No items found.")
        id_list = "<IdList>\n" + "".join(f"<Id>{i}</Id>\n" for i in ids) + "</IdList>" if ids else "<IdList/>"
        tset = "".join(f"<Translation>     <From>{escape(a)}</From>     <To>{escape(b)}</To>    </Translation>"
                       for a, b in (query.translations if query else ()))
        body = (
            f"{ESEARCH_PROLOG}<eSearchResult><Count>{len(pmids)}</Count><RetMax>{len(ids)}</RetMax>"
            f"<RetStart>{retstart}</RetStart>{history}{id_list}"
            + (f"<TranslationSet>{tset}</TranslationSet>" if tset else "<TranslationSet/>")
            + f"<QueryTranslation>{escape(translation)}</QueryTranslation>"
            + ("" if query else f"<ErrorList><PhraseNotFound>{escape(term)}</PhraseNotFound></ErrorList>")
            + ("<WarningList>" + "".join(f"<OutputMessage>{escape(w)}</OutputMessage>" for w in warnings)
               + "</WarningList>" if warnings else "")
            + "</eSearchResult>\n"
        )
        return Reply(200, body.encode("utf-8"))

    def _date_filter(self, pmids: list[str], p: dict[str, str]) -> list[str]:
        mindate, maxdate = p.get("mindate"), p.get("maxdate")
        if not (mindate or maxdate):
            return list(pmids)
        datetype = p.get("datetype") or "pdat"
        if datetype not in ("pdat", "edat", "mdat"):
            raise _BadRequest(f"unsupported datetype {datetype!r}: use pdat, edat or mdat")
        try:
            low = parse_date(mindate) if mindate else (0, 0, 0)
            high = parse_date(maxdate, upper=True) if maxdate else (9999, 12, 31)
        except ValueError as e:
            raise _BadRequest(str(e)) from None
        return [pm for pm in pmids
                if (d := self._dates.get(pm, {}).get(datetype)) is not None and low <= d <= high]

    # ---- epost
    def _epost(self, p: dict[str, str]) -> Reply:
        raw = _ids(p.get("id", ""))
        valid = [i for i in raw if i.isdigit() and int(i) <= MAX_UID]
        invalid = [i for i in raw if i not in valid]
        if not valid:
            errors = "".join("\n\t<ERROR>" + m + "</ERROR>" for m in
                             ["Empty ID list; Nothing to store"]
                             + (["Some IDs have invalid value and were omitted. Maximum ID value "
                                 f"{MAX_UID}"] if invalid else []))
            return Reply(200, f"{EPOST_PROLOG}<ePostResult>{errors}</ePostResult>\n".encode())
        webenv, key = self._store(p.get("webenv"), HistorySet(list(dict.fromkeys(valid)), from_search=False))
        bad = ("\n\t<InvalidIdList>" + "".join(f"<Id>{escape(i)}</Id>" for i in invalid) + "</InvalidIdList>"
               if invalid else "")
        body = (f"{EPOST_PROLOG}<ePostResult>{bad}\n\t<QueryKey>{key}</QueryKey>\n\t<WebEnv>{webenv}</WebEnv>"
                "\n</ePostResult>\n")
        return Reply(200, body.encode())

    def _store(self, webenv: str | None, entry: HistorySet) -> tuple[str, int]:
        """Add a set to a WebEnv (a new one unless a known WebEnv is given); returns (WebEnv, query_key)."""
        if not webenv or webenv not in self._history:
            webenv = "MCID_" + secrets.token_hex(12)
            self._history[webenv] = {}
        env = self._history[webenv]
        key = max(env, default=0) + 1
        env[key] = entry
        return webenv, key

    # ---- efetch
    def _efetch(self, p: dict[str, str], record: RequestRecord, fault: Fault | None) -> Reply:
        retmode, rettype = p.get("retmode", "xml").lower(), p.get("rettype", "").lower()
        if retmode != "xml" or rettype not in ("", "xml", "full", "abstract"):
            return _fetch_error(f"test server: only retmode=xml is served (got retmode={retmode!r}, "
                                f"rettype={rettype!r})", status=400)
        if p.get("id"):
            pmids = list(dict.fromkeys(_ids(p["id"])))  # NCBI returns the given order, unknown ids left out
        elif p.get("webenv") or p.get("query_key"):
            retstart = _int(p, "retstart", 0)
            retmax = min(_int(p, "retmax", DEFAULT_RETMAX), EFETCH_MAX)
            webenv, key = p.get("webenv", ""), p.get("query_key", "")
            entry = self._history.get(webenv, {}).get(int(key)) if key.isdigit() else None
            if entry is None:
                return _fetch_error(
                    f"Cannot retrieve history data. query_key: {key}, WebEnv: {webenv}, retstart: {retstart}, "
                    f"retmax: {retmax}",
                    "Can't fetch uids from history because of: NCBI C++ Exception:\n    Error: "
                    'UNK_MODULE(CException::eInvalid) "UNK_FILE", line 18446744073709551615: UNK_FUNC --- \n',
                    status=400)
            stop = retstart + retmax
            if entry.from_search:
                if retstart > self.search_cap - 1:
                    return _fetch_error("Search backend cannot retrieve history data. Reason: Exception: "
                                        + CAP_MESSAGE, status=self.cap_error_status)
                stop = min(stop, self.search_cap)  # clamped without a word, as users measured
            pmids = entry.pmids[retstart:stop]
        else:
            return _fetch_error("Empty id list - nothing todo", status=400)
        found = [pm for pm in pmids if pm in self._articles and pm not in self._deleted]
        deleted = [pm for pm in pmids if pm in self._deleted]
        if fault is not None and fault.kind == "drop_records":
            chosen = fault.opts["pmids"]
            drop = [str(x) for x in chosen] if chosen else found[len(found) - int(fault.opts["count"]):]
            record.dropped = tuple(pm for pm in found if pm in set(drop))
            found = [pm for pm in found if pm not in set(drop)]
        record.returned = tuple(found)
        return Reply(200, self._pubmed_set(found, deleted))

    # ---- PubMed Central: elink pubmed->pmc and efetch db=pmc
    def add_pmc_article(self, xml: bytes, pmid: str | int | None = None) -> str:
        """Serve a PMC <article> (or the first of a <pmc-articleset>) by its PMCID; link PMID -> it.

        Returns the PMCID ("PMC8435807"). The PMID defaults to the article's own pub-id-type="pmid".
        """
        root = etree.fromstring(xml, _parser())
        art = root if root.tag == "article" else root.find("article")
        ids = {a.get("pub-id-type"): (a.text or "").strip() for a in art.iter("article-id")}
        number = (ids.get("pmc") or ids.get("pmcid") or "").upper().removeprefix("PMC")
        if not number.isdigit():
            raise ValueError("the article has no pub-id-type='pmc' article-id")
        pmid = str(pmid or ids.get("pmid") or "")
        with self._lock:
            self._pmc[number] = _serialize(art)
            if pmid:
                self._pmc_links[pmid] = number
        return f"PMC{number}"

    def _elink(self, p: dict[str, str], record: RequestRecord) -> Reply:
        # Real layout: tests/data/entrez/elink1.xml (Biopython's Tests/Entrez), DbFrom/IdList/LinkSetDb.
        if p.get("dbfrom", "") != "pubmed" or p.get("db", "") != "pmc":
            return _fetch_error("test server: only elink dbfrom=pubmed db=pmc is served", status=400)
        groups = list(record.id_groups) or ([p["id"]] if p.get("id") else [])
        if not groups:
            return _fetch_error("Empty id list - nothing todo", status=400)
        sets = []
        for group in groups:
            ids = _ids(group)
            links = [self._pmc_links[i] for i in ids if i in self._pmc_links]
            body = "\t<LinkSet>\n\t\t<DbFrom>pubmed</DbFrom>\n\t\t<IdList>\n" + "".join(
                f"\t\t\t<Id>{escape(i)}</Id>\n" for i in ids) + "\t\t</IdList>\n"
            if links:
                body += ("\t\t<LinkSetDb>\n\t\t\t<DbTo>pmc</DbTo>\n\t\t\t<LinkName>pubmed_pmc</LinkName>\n"
                         + "".join(f"\t\t\t<Link>\n\t\t\t\t<Id>{n}</Id>\n\t\t\t</Link>\n" for n in links)
                         + "\t\t</LinkSetDb>\n")
            sets.append(body + "\t</LinkSet>\n")
        record.returned = tuple(itertools.chain.from_iterable(_ids(g) for g in groups))
        return Reply(200, (ELINK_PROLOG + "<eLinkResult>\n\n" + "".join(sets) + "</eLinkResult>\n").encode())

    def _efetch_pmc(self, p: dict[str, str], record: RequestRecord) -> Reply:
        # Real layout: tests/data/entrez/efetch_pmc.xml (Biopython's Tests/Entrez).
        wanted = [i.upper().removeprefix("PMC") for i in _ids(p.get("id", ""))]
        if not wanted:
            return _fetch_error("Empty id list - nothing todo", status=400)
        found = [n for n in dict.fromkeys(wanted) if n in self._pmc]
        record.returned = tuple(found)
        return Reply(200, PMC_PROLOG.encode() + b"<pmc-articleset>" + b"".join(self._pmc[n] for n in found)
                     + b"</pmc-articleset>")

    def _pubmed_set(self, found: list[str], deleted: list[str]) -> bytes:
        parts = [PUBMED_PROLOG.encode(), b"<PubmedArticleSet>\n"]
        parts += [self._articles[pm] for pm in found]
        if deleted:
            parts.append(b"<DeleteCitation>" + b"".join(b'<PMID Version="1">%s</PMID>' % pm.encode()
                                                         for pm in deleted) + b"</DeleteCitation>")
        parts.append(b"</PubmedArticleSet>")
        return b"".join(parts)

    def _invalid_db(self, util: str, db: str) -> Reply:
        message = f"Invalid db name specified: {db}"
        if util == "epost":  # epost2.xml, byte for byte
            body = f"{EPOST_PROLOG}\n<ePostResult>\n\t<ERROR>{escape(message)}</ERROR>\n</ePostResult>\n"
            return Reply(200, body.encode())
        if util == "esearch":
            return _search_error(message, 200)
        return _fetch_error(f"Invalid db name specified: {db}", status=400)


class _BadRequest(Exception):
    """A parameter this server cannot use; answered 400 with a "test server:" ERROR."""


def _int(p: dict[str, str], name: str, default: int) -> int:
    value = p.get(name)
    if value in (None, ""):
        return default
    if not value.isdigit():
        raise _BadRequest(f"{name}={value!r} is not a number")
    return int(value)


def _search_error(message: str, status: int) -> Reply:
    body = f"{ESEARCH_PROLOG}<eSearchResult>\n\t<ERROR>{escape(message)}</ERROR>\n</eSearchResult>\n"
    return Reply(status, body.encode())


def _fetch_error(*messages: str, status: int) -> Reply:
    errors = "".join(f"\n\t<ERROR>{escape(m)}</ERROR>" for m in messages)
    return Reply(status, f"{EFETCH_ERROR_PROLOG}<eFetchResult>{errors}\n</eFetchResult>\n".encode())


def _too_many(key: str, count: int, limit: int) -> Reply:
    """NCBI's 429: a JSON body naming the key (the API key, else the client's IP) and the counts."""
    body = json.dumps({"error": "API rate limit exceeded", "api-key": key, "count": str(count),
                       "limit": str(limit)}, separators=(",", ":"))
    return Reply(429, body.encode(), "application/json",
                 {"Retry-After": "1", "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"})


def _status_reply(status: int, body: str | bytes | None, retry_after: object, key: str, limit: int) -> Reply:
    if status == 429 and body is None:
        reply = _too_many(key, limit + 1, limit)
    else:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        text = body if body is not None else SERVER_ERROR_BODY.format(status=status, reason=reason)
        content_type = "application/json" if status == 429 else "text/html; charset=UTF-8"
        reply = Reply(status, text.encode() if isinstance(text, str) else text, content_type)
    if retry_after is not None:
        reply.headers["Retry-After"] = str(retry_after)
    return reply


def _mid_element_cut(body: bytes, fraction: float) -> int:
    """A cut near ``fraction`` of the body that leaves an element name half written (e.g. '<Art')."""
    at = max(1, min(len(body) - 1, int(len(body) * fraction)))
    opening = body.rfind(b"<", 0, at)
    return min(opening + 4, len(body) - 1) if opening >= 0 else at


# ---------------------------------------------------------------- HTTP plumbing

class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # many client threads may connect at once

    def __init__(self, address: tuple[str, int], app: EutilsServer):
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections."""
        with self._open_lock:
            sockets = list(self._open)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve(urlsplit(self.path).query)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode("utf-8", "replace")
        query = urlsplit(self.path).query
        self._serve("&".join(q for q in (query, form) if q))

    def _serve(self, query: str) -> None:
        params: dict[str, str] = {}
        groups: list[str] = []
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v  # repeated id=...&id=... as one list
            if k == "id":
                groups.append(v)
        reply = self.server.app.respond(self.command, urlsplit(self.path).path, params, self.client_address[0],
                                        groups)
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout) first
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        stopping = self.server.app._stopping
        if reply.reset:
            # SO_LINGER 0: close() sends RST, the client sees a reset instead of an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if reply.delay and stopping.wait(reply.delay):
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.cut_at is None:
            self.wfile.write(reply.body)
            return
        self.wfile.write(reply.body[:reply.cut_at])
        self.wfile.flush()
        if reply.stall and not stopping.wait(reply.stall):
            self.wfile.write(reply.body[reply.cut_at:])
            return
        self.close_connection = True  # the rest of the promised Content-Length never comes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet; the server records requests
        pass


# ---------------------------------------------------------------- script mode

def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; print the base URL on the first stdout line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--corpus", type=Path, default=DATA_DIR, help="folder with pubmed*.xml (efetch files)")
    ap.add_argument("--query", action="append", default=[], metavar="TERM=N[@START_PMID]",
                    help="register TERM for N replicated articles (repeatable)")
    ap.add_argument("--years", default="", help="comma-separated PubDate years cycled over replicas")
    ap.add_argument("--rate-limit", action="store_true", help="answer 429 above 3 (10 with api_key) req/s")
    ap.add_argument("--efetch-delay", type=float, default=0.0, help="seconds every efetch waits before answering")
    ap.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    args = ap.parse_args(argv)

    server = EutilsServer(args.corpus, host=args.host, port=args.port,
                          enforce_rate_limit=args.rate_limit, request_log=args.log)
    years = [int(y) for y in args.years.split(",") if y.strip()] or None
    next_pmid = itertools.count(50_000_000, 1_000_000)
    for spec in args.query:
        term, _, rest = spec.rpartition("=")
        n, _, start = rest.partition("@")
        if not term or not n.isdigit():
            ap.error(f"--query {spec!r}: expected TERM=N or TERM=N@START_PMID")
        server.add_replicated(term, int(n), start_pmid=int(start) if start else next(next_pmid), years=years)
    if args.efetch_delay:
        server.inject("efetch", "slow", times=10**9, seconds=args.efetch_delay)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(server.url, flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
