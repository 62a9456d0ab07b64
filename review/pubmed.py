"""The only module that talks to NCBI: esearch with history, batched efetch, rate limit, retries.

Requests are built by ``Bio.Entrez`` (which adds tool, email and api_key and switches to
POST for long id lists) and parsed by ``Bio.Entrez.read``. We open them ourselves because
``Bio.Entrez``'s public functions hard-code NCBI's host (no mirrors, proxies or test
servers), its ``_open`` has no timeout (a stalled response hangs forever) and it sleeps a
fixed 15 s between tries; here one ``Eutils.request`` does throttling, timeouts, retries
with backoff and body validation for every call.
"""
from __future__ import annotations

import http.client
import io
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from Bio import Entrez

from review.config import Settings
from review.errors import FetchError, InputError
from review.parse.pubmed_xml import iter_pubmed_xml
from review.models import Record

ESEARCH_CAP = 9_999  # PubMed's esearch returns at most the first 9,999 ids of a result set
_RETRY_STATUS = {429, 500, 502, 503, 504}
_SECRET_PARAMS = {"api_key", "email"}


@dataclass(frozen=True)
class Response:
    """One successful E-utilities exchange, as archived (params never include the API key)."""

    util: str
    params: dict[str, str]
    body: bytes
    attempts: int
    at: float  # wall-clock time it arrived


def public_params(params: dict[str, Any]) -> dict[str, str]:
    """Parameters safe to log and archive: no API key, no email; id lists summarised."""
    out = {}
    for k, v in params.items():
        if k in _SECRET_PARAMS or v is None:
            continue
        if k == "id" and isinstance(v, (list, tuple)):
            out[k] = ",".join(map(str, v))
        else:
            out[k] = str(v)
    return out


def describe(util: str, params: dict[str, Any]) -> str:
    """Short human description of a request for error messages."""
    p = public_params(params)
    if "id" in p:
        ids = p["id"].split(",")
        p["id"] = f"{ids[0]}..{ids[-1]} ({len(ids)} ids)" if len(ids) > 3 else p["id"]
    keep = ("term", "WebEnv", "query_key", "retstart", "retmax", "id", "mindate", "maxdate")
    return f"{util} " + " ".join(f"{k}={p[k]}" for k in keep if k in p)


class Throttle:
    """Spaces request starts so no 1-second window holds more than ``rate`` of them."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        # A little over 1/rate so clock jitter can't squeeze rate+1 starts into one second.
        self.interval = 1.0 / rate + 0.02
        self.clock, self.sleep = clock, sleep
        self.last: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.last is not None and now < self.last + self.interval:
            self.sleep(self.last + self.interval - now)
            now = self.clock()
        self.last = now


class Eutils:
    """All NCBI traffic goes through ``request``; ``on_response`` sees every good body (archive)."""

    def __init__(self, settings: Settings, on_response: Callable[[Response], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.on_response = on_response
        self.sleep = sleep
        self.throttle = Throttle(settings.requests_per_second, sleep=sleep)
        self.counts: dict[str, int] = {}

    def _build(self, util: str, params: dict[str, Any], post: bool | None) -> urllib.request.Request:
        full = dict(params)
        full.setdefault("tool", self.settings.tool)
        full.setdefault("email", self.settings.email)
        full.setdefault("api_key", self.settings.api_key)
        # elink answers one LinkSet per repeated id=...; a comma-joined list would merge them into one.
        join = util != "elink"
        if isinstance(full.get("id"), (list, tuple)):
            full["id"] = ",".join(map(str, full["id"])) if join else [str(i) for i in full["id"]]
        return Entrez._build_request(f"{self.settings.eutils_url}{util}.fcgi", full, post=post, join_ids=join)

    def request(self, util: str, params: dict[str, Any], *, post: bool | None = None,
                validate: Callable[[bytes], Any] | None = None) -> tuple[bytes, Any]:
        """GET/POST one E-utility; retry 429/5xx/timeouts/truncated or unparseable bodies.

        ``validate(body)`` parses the body and raises on a bad one; its result is returned
        beside the body so nothing is parsed twice.
        """
        s = self.settings
        last = "no attempt made"
        for attempt in range(1, s.max_tries + 1):
            self.throttle.wait()
            self.counts[util] = self.counts.get(util, 0) + 1
            retry_after = None
            try:
                with urllib.request.urlopen(self._build(util, params, post), timeout=s.timeout) as resp:
                    body = resp.read()
                    expected = resp.headers.get("Content-Length")
                    if expected is not None and expected.isdigit() and len(body) != int(expected):
                        raise http.client.IncompleteRead(body, int(expected) - len(body))
                parsed = validate(body) if validate else None
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                last = f"HTTP {exc.code} {exc.reason}{': ' + detail if detail else ''}"
                if exc.code not in _RETRY_STATUS:
                    raise FetchError(f"{describe(util, params)} failed: {last}") from None
                retry_after = _retry_after(exc)
            except (http.client.IncompleteRead, ConnectionError, http.client.RemoteDisconnected) as exc:
                last = f"connection broken or body truncated ({type(exc).__name__})"
            except (socket.timeout, TimeoutError) as exc:
                last = f"no response within {s.timeout:g} s (timeout)"
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    last = f"no response within {s.timeout:g} s (timeout)"
                else:
                    last = f"network error: {reason}"
            except (InputError, RuntimeError, ValueError) as exc:
                # Unparseable or NCBI-side error body (Entrez.read raises RuntimeError for <ERROR>).
                last = f"bad response body: {str(exc).splitlines()[0][:300]}"
                if _is_permanent(str(exc)):
                    raise FetchError(f"{describe(util, params)} failed: {last}") from None
            else:
                if self.on_response:
                    self.on_response(Response(util, public_params(params), body, attempt, time.time()))
                return body, parsed
            if attempt < s.max_tries:
                delay = retry_after if retry_after is not None else s.backoff * 2 ** (attempt - 1)
                self.sleep(min(delay, 60.0))
        raise FetchError(f"{describe(util, params)} failed after {s.max_tries} tries: {last}")


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()[:500].decode("utf-8", "replace")
    except Exception:  # the body itself may be cut off
        return ""
    try:
        data = json.loads(raw)
        return str(data.get("error", raw)).strip()
    except (ValueError, AttributeError):
        return " ".join(raw.split())[:200]


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _is_permanent(message: str) -> bool:
    """NCBI errors that no retry will fix (bad query syntax, bad db, the 9,999 cap)."""
    m = message.lower()
    return any(s in m for s in ("invalid db name", "cannot be larger than", "invalid query",
                                "empty id list", "unknown format"))


# ------------------------------------------------------------------ esearch

@dataclass(frozen=True)
class SearchSlice:
    """One esearch result set: a whole strategy, or a date slice of one over the 9,999 cap."""

    count: int
    ids: tuple[str, ...]
    webenv: str | None
    query_key: str | None
    translation: str
    mindate: str | None = None
    maxdate: str | None = None


def _read_entrez(body: bytes) -> Any:
    return Entrez.read(io.BytesIO(body))


def esearch(client: Eutils, term: str, *, mindate: str | None = None, maxdate: str | None = None,
            datetype: str = "pdat", retmax: int = ESEARCH_CAP) -> SearchSlice:
    params: dict[str, Any] = {"db": "pubmed", "term": term, "usehistory": "y", "retmax": retmax}
    if mindate or maxdate:
        params.update(datetype=datetype, mindate=mindate or "1000", maxdate=maxdate or "3000")
    _, res = client.request("esearch", params, validate=_read_entrez)
    return SearchSlice(
        count=int(res["Count"]),
        ids=tuple(str(i) for i in res.get("IdList", [])),
        webenv=str(res["WebEnv"]) if res.get("WebEnv") else None,
        query_key=str(res["QueryKey"]) if res.get("QueryKey") else None,
        translation=str(res.get("QueryTranslation", "")),
        mindate=mindate, maxdate=maxdate,
    )


def _parse_day(text: str, end: bool) -> date:
    parts = [int(p) for p in text.split("/")]
    y = parts[0]
    m = parts[1] if len(parts) > 1 else (12 if end else 1)
    if len(parts) > 2:
        return date(y, m, parts[2])
    if not end:
        return date(y, m, 1)
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _fmt(d: date) -> str:
    return f"{d.year:04d}/{d.month:02d}/{d.day:02d}"


def esearch_sliced(client: Eutils, term: str, *, mindate: str | None, maxdate: str | None,
                   datetype: str = "pdat", cap: int = ESEARCH_CAP, today: date | None = None,
                   progress: Callable[[int, int], None] | None = None) -> list[SearchSlice]:
    """esearch, splitting the date range in halves until every slice holds at most ``cap`` ids.

    ``progress(ids in a finished slice, ids in all)`` after each slice that is kept.
    """
    first = esearch(client, term, mindate=mindate, maxdate=maxdate, datetype=datetype, retmax=cap)
    if first.count <= cap:
        if progress:
            progress(first.count, first.count)
        return [first]
    seen = [0]

    def done(s: SearchSlice) -> None:
        if progress:
            seen[0] += len(s.ids)
            progress(len(s.ids), first.count)

    if progress:
        progress(0, first.count)
    lo = _parse_day(mindate, end=False) if mindate else date(1781, 1, 1)  # before PubMed's oldest record
    hi = _parse_day(maxdate, end=True) if maxdate else (today or date.today()) + timedelta(days=366)
    slices = _split(client, term, lo, hi, datetype, cap, done)
    if progress and seen[0] < first.count:  # records added or removed between the requests: finish the bar
        progress(first.count - seen[0], first.count)
    return slices


def _split(client: Eutils, term: str, lo: date, hi: date, datetype: str, cap: int,
           done: Callable[[SearchSlice], None] = lambda s: None) -> list[SearchSlice]:
    if lo >= hi:
        s = esearch(client, term, mindate=_fmt(lo), maxdate=_fmt(hi), datetype=datetype, retmax=cap)
        if s.count > cap:
            raise FetchError(f"{s.count} records share the single date {_fmt(lo)} ({datetype}); "
                             f"PubMed returns at most {cap} per query: narrow the strategy")
        done(s)
        return [s]
    mid = lo + (hi - lo) // 2
    out = []
    for a, b in ((lo, mid), (mid + timedelta(days=1), hi)):
        s = esearch(client, term, mindate=_fmt(a), maxdate=_fmt(b), datetype=datetype, retmax=cap)
        if s.count <= cap:
            done(s)
            out.append(s)
        else:
            out.extend(_split(client, term, a, b, datetype, cap, done))
    return out


# ------------------------------------------------------------------ efetch

@dataclass
class Batch:
    """Records of one efetch answer and the PMIDs asked for that did not arrive."""

    records: list[Record]
    requested: tuple[str, ...]
    missing: tuple[str, ...] = field(default=())


def _parse_efetch(body: bytes) -> list[Record]:
    return list(iter_pubmed_xml(body, label="efetch response"))


def _batch(records: list[Record], requested: Sequence[str]) -> Batch:
    got = {r.pmid for r in records}
    return Batch(records, tuple(requested), tuple(p for p in requested if p not in got))


def efetch_history(client: Eutils, sl: SearchSlice, batch_size: int) -> Iterator[Batch]:
    """Fetch a whole result set through the history server, ``batch_size`` per request."""
    for start in range(0, len(sl.ids), batch_size):
        wanted = sl.ids[start:start + batch_size]
        params = {"db": "pubmed", "WebEnv": sl.webenv, "query_key": sl.query_key, "retstart": start,
                  "retmax": len(wanted), "retmode": "xml"}
        _, records = client.request("efetch", params, validate=_parse_efetch)
        yield _batch(records, wanted)


def efetch_ids(client: Eutils, pmids: Sequence[str], batch_size: int) -> Iterator[Batch]:
    """Fetch PMIDs by id list (POST for long lists), ``batch_size`` per request."""
    for start in range(0, len(pmids), batch_size):
        wanted = tuple(pmids[start:start + batch_size])
        params = {"db": "pubmed", "id": list(wanted), "retmode": "xml"}
        _, records = client.request("efetch", params, post=len(wanted) > 200 or None, validate=_parse_efetch)
        yield _batch(records, wanted)


# ------------------------------------------------------------------ PMC full texts

def _read_elink(body: bytes) -> dict[str, str]:
    """PMID -> PMCID ('PMC123') from an elink pubmed->pmc answer (one LinkSet per PMID asked)."""
    res = Entrez.read(io.BytesIO(body))
    out: dict[str, str] = {}
    for linkset in res:
        if linkset.get("ERROR"):
            raise RuntimeError(str(linkset["ERROR"]))
        ids = [str(i) for i in linkset.get("IdList", [])]
        for db in linkset.get("LinkSetDb", []):
            if str(db.get("LinkName")) == "pubmed_pmc" and db.get("Link") and len(ids) == 1:
                out[ids[0]] = "PMC" + str(db["Link"][0]["Id"])
    return out


def elink_pmc(client: Eutils, pmids: Sequence[str], batch_size: int = 100) -> dict[str, str]:
    """PMID -> PMCID for the PMIDs PubMed links to a PMC article; others are left out."""
    out: dict[str, str] = {}
    for start in range(0, len(pmids), batch_size):
        wanted = list(pmids[start:start + batch_size])
        params = {"dbfrom": "pubmed", "db": "pmc", "linkname": "pubmed_pmc", "id": wanted}
        _, found = client.request("elink", params, post=len(wanted) > 50 or None, validate=_read_elink)
        out.update(found)
    return out


def _check_pmc_set(body: bytes) -> bytes:
    head = body[:2000].lstrip()
    if b"<pmc-articleset" not in body[:5000] or not body.rstrip().endswith(b"</pmc-articleset>"):
        if b"<ERROR>" in body:
            raise RuntimeError(body[body.index(b"<ERROR>") + 7:].split(b"<")[0].decode("utf-8", "replace"))
        raise ValueError(f"not a PMC article set: {head[:80]!r}")
    return body


def efetch_pmc(client: Eutils, pmcids: Sequence[str], batch_size: int = 50) -> Iterator[bytes]:
    """PMC article-set XML bodies (JATS) for these PMCIDs, ``batch_size`` per request."""
    for start in range(0, len(pmcids), batch_size):
        wanted = [p.removeprefix("PMC") for p in pmcids[start:start + batch_size]]
        body, _ = client.request("efetch", {"db": "pmc", "id": wanted, "retmode": "xml"}, validate=_check_pmc_set)
        yield body
