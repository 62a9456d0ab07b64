"""`review fulltext`: find an open full text for every record included at title/abstract.

Two places are looked in, in order: the user's folder of PDFs (``fulltext/<record_id>.pdf``,
``fulltext/<PMID>.pdf``, ``fulltext/pmid<PMID>.pdf`` or ``fulltext/<DOI with / as _>.pdf``) and
PubMed Central's open-access subset (PMCID from the record, else E-utilities ``elink``
pubmed->pmc; then ``efetch db=pmc``, batched, rate-limited and archived like a search). Every
record gets one result -- where it was found, the file, its SHA-256 -- or "not retrieved" with
the reason; a result is appended only when it differs from the record's last one, so a rerun
with nothing new writes nothing. PRISMA's "reports not retrieved" box reads these results.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from review.errors import InputError
from review.models import Record

USER_FOLDER, PMC = "user_folder", "pmc_open_access"
RETRIEVED, NOT_RETRIEVED = "retrieved", "not_retrieved"
_PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class Result:
    """One record's full-text look-up, as stored."""

    record_id: int
    status: str  # retrieved | not_retrieved
    source: str | None = None
    pmcid: str | None = None
    path: str | None = None
    sha256: str | None = None
    reason: str | None = None

    def key(self) -> tuple:
        return (self.status, self.source, self.pmcid, self.path, self.sha256, self.reason)


@dataclass
class FulltextSummary:
    sought: int
    found: dict[str, int] = field(default_factory=dict)  # source -> records
    not_retrieved: int = 0
    new_results: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    archive: str | None = None
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        found = ", ".join(f"{k} {v}" for k, v in sorted(self.found.items())) or "none"
        req = ("; requests: " + ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items()))) if self.requests \
            else ""
        return (f"{self.sought} reports sought: retrieved {sum(self.found.values())} ({found}), "
                f"not retrieved {self.not_retrieved}; {self.new_results} new or changed results{req}")


# ------------------------------------------------------------------ which records (one place)

def sought_records(store, config=None) -> dict[int, Record]:
    """Canonical records carried forward at title/abstract (include or maybe): the reports sought."""
    from review.screening import FORWARD, TITLE_ABSTRACT, load_config, load_state

    # The project's screening settings (queries/screening.yaml), as `review screen` reads them.
    state = load_state(store, config or load_config(None))
    return {rid: state.records[rid] for rid, s in sorted(state.statuses.items())
            if s[TITLE_ABSTRACT].final and s[TITLE_ABSTRACT].decision in FORWARD}


# ------------------------------------------------------------------ the user folder (pure but for reading files)

def doi_stem(doi: str) -> str:
    """How a DOI is written as a file name: lower case, '/' as '_'."""
    return doi.strip().lower().replace("/", "_")


def match_folder(folder: Path, records: Mapping[int, Record]) -> tuple[dict[int, Path], list[str]]:
    """record_id -> its PDF in the folder, and warnings for files that match nothing or several records."""
    by_id = {str(rid): rid for rid in records}
    by_pmid = {r.pmid: rid for rid, r in records.items() if r.pmid}
    by_doi = {doi_stem(r.doi): rid for rid, r in records.items() if r.doi}
    found: dict[int, Path] = {}
    warnings: list[str] = []
    if not folder.is_dir():
        return found, warnings
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".pdf" or not path.is_file():
            continue
        stem = path.stem.strip()
        low = stem.lower()
        hits = set()
        if stem in by_id:
            hits.add(by_id[stem])
        m = re.fullmatch(r"pmid[_-]?(\d+)", low)
        if m and m.group(1) in by_pmid:
            hits.add(by_pmid[m.group(1)])
        elif stem in by_pmid:
            hits.add(by_pmid[stem])
        if low in by_doi:
            hits.add(by_doi[low])
        if len(hits) > 1:
            warnings.append(f"{path.name}: matches records {', '.join(map(str, sorted(hits)))} (record id and "
                            "PMID): rename it record id, pmid<PMID> or the DOI")
            continue
        if not hits:
            continue
        rid = hits.pop()
        if rid in found:
            warnings.append(f"{path.name}: record {rid} already has {found[rid].name}; using that one")
            continue
        found[rid] = path
    return found, warnings


def folder_result(rid: int, path: Path) -> Result:
    data = path.read_bytes()
    if not data.startswith(_PDF_MAGIC):
        return Result(rid, NOT_RETRIEVED, reason=f"{path} is not a PDF (no %PDF- header)")
    return Result(rid, RETRIEVED, USER_FOLDER, None, str(path), hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------ PMC article sets (pure)

def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def split_pmc_set(body: bytes) -> dict[str, tuple[bytes, bool]]:
    """PMCID -> (the article's XML, open full text?) from an efetch db=pmc article set."""
    root = etree.fromstring(body, _parser())
    out: dict[str, tuple[bytes, bool]] = {}
    for art in root.iter("article"):
        pmcid = None
        for aid in art.iter("article-id"):
            kind = aid.get("pub-id-type")
            if kind in ("pmc", "pmcid", "pmcaid") and aid.text:
                text = aid.text.strip()
                pmcid = text if text.upper().startswith("PMC") else f"PMC{text}"
                break
        if pmcid is None or not re.fullmatch(r"PMC\d{1,12}", pmcid.upper()):
            continue  # it names the saved file: digits only
        body_el = art.find("body")
        # PMC gives the front matter only (and no <body>) where the publisher does not allow the full text.
        has_body = body_el is not None and "".join(body_el.itertext()).strip() != ""
        xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(art, encoding="UTF-8")
        out[pmcid.upper()] = (xml, has_body)
    return out


# ------------------------------------------------------------------ the step

def find_fulltexts(store, folder: Path, out_dir: Path, *, client_factory: Callable | None = None,
                   archive_root: Path | None = None, config=None, now: str | None = None) -> FulltextSummary:
    """Look every sought record up (folder first, then PMC unless ``client_factory`` is None); store the results."""
    from review.pubmed import efetch_pmc, elink_pmc
    from review.search import Archive, new_run_id
    from review.store import utcnow

    records = sought_records(store, config)
    summary = FulltextSummary(sought=len(records))
    if not records:
        return summary
    folder, out_dir = Path(folder), Path(out_dir)
    in_folder, summary.warnings = match_folder(folder, records)
    results: dict[int, Result] = {rid: folder_result(rid, p) for rid, p in in_folder.items()}
    folder_failed = {rid: r.reason for rid, r in results.items() if r.status == NOT_RETRIEVED}
    todo = {rid: rec for rid, rec in records.items() if rid not in results or rid in folder_failed}
    pmc_reason: dict[int, str] = {}
    if todo and client_factory is not None:
        run_id = new_run_id("fulltext")
        archive = Archive((archive_root or out_dir / "archive") / run_id, {
            "run_id": run_id, "kind": "fulltext", "database": "pmc", "started_at": now or utcnow(),
            "records": sorted(todo)})
        client = client_factory(archive.add)
        pmcid_of = {rid: rec.pmcid.upper() for rid, rec in todo.items() if rec.pmcid}
        ask = sorted({rec.pmid for rid, rec in todo.items() if rid not in pmcid_of and rec.pmid})
        linked = elink_pmc(client, ask) if ask else {}
        for rid, rec in todo.items():
            if rid in pmcid_of:
                continue
            if rec.pmid and rec.pmid in linked:
                pmcid_of[rid] = linked[rec.pmid]
            elif rec.pmid:
                pmc_reason[rid] = f"not in PMC (elink: no pubmed_pmc link for PMID {rec.pmid})"
            else:
                pmc_reason[rid] = "not in PMC (no PMCID and no PMID to link from)"
        articles: dict[str, tuple[bytes, bool]] = {}
        for body in efetch_pmc(client, sorted(set(pmcid_of.values()))):
            articles.update(split_pmc_set(body))
        if pmcid_of:
            (out_dir / "pmc").mkdir(parents=True, exist_ok=True)
        for rid, pmcid in sorted(pmcid_of.items()):
            got = articles.get(pmcid)
            if got is None:
                pmc_reason[rid] = f"{pmcid}: PMC returned no article for it"
            elif not got[1]:
                pmc_reason[rid] = f"{pmcid}: in PMC but not open access (PMC gave no full-text body)"
            else:
                path = out_dir / "pmc" / f"{pmcid}.xml"
                path.write_bytes(got[0])
                results[rid] = Result(rid, RETRIEVED, PMC, pmcid, str(path), hashlib.sha256(got[0]).hexdigest())
        summary.requests = dict(client.counts)
        summary.archive = str(archive.folder)
        archive.update(finished_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for rid, rec in records.items():
        if rid in results and results[rid].status == RETRIEVED:
            continue
        why = [folder_failed.get(rid) or f"no file in {folder}/ (tried {_names_tried(rid, rec)})"]
        why.append(pmc_reason.get(rid) or ("PMC not searched (offline)" if client_factory is None
                                           else "not found in PMC"))
        results[rid] = Result(rid, NOT_RETRIEVED, reason="; ".join(why))
    latest = store.latest_fulltexts()
    at = now or utcnow()
    new = [r for r in results.values() if r.record_id not in latest or _key(latest[r.record_id]) != r.key()]
    store.add_fulltexts([(r.record_id, r.status, r.source, r.pmcid, r.path, r.sha256, r.reason, at)
                         for r in sorted(new, key=lambda r: r.record_id)])
    summary.new_results = len(new)
    for r in results.values():
        if r.status == RETRIEVED:
            summary.found[r.source] = summary.found.get(r.source, 0) + 1
        else:
            summary.not_retrieved += 1
    return summary


def _key(row: Mapping) -> tuple:
    return (row["status"], row["source"], row["pmcid"], row["path"], row["sha256"], row["reason"])


def _names_tried(rid: int, rec: Record) -> str:
    names = [f"{rid}.pdf"] + ([f"{rec.pmid}.pdf"] if rec.pmid else []) + ([f"{doi_stem(rec.doi)}.pdf"]
                                                                         if rec.doi else [])
    return ", ".join(names)


def fulltext_rows(store) -> list[dict]:
    """The latest result per record, for tables (no absolute paths beyond what was stored)."""
    return [dict(r) for _, r in sorted(store.latest_fulltexts().items())]


def not_retrieved_ids(store, sought: Sequence[int] | None = None) -> set[int]:
    """Records whose latest look-up found no full text."""
    latest = store.latest_fulltexts()
    ids = {rid for rid, r in latest.items() if r["status"] == NOT_RETRIEVED}
    return ids & set(sought) if sought is not None else ids


def check_folder(folder: Path) -> Path:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file; give the folder that holds the PDFs")
    return folder
