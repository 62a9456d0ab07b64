"""Run saved strategies against PubMed: log the run, archive raw responses, store records.

Flow per strategy: esearch (sliced under the 9,999 cap) -> PMIDs not yet stored ->
efetch in batches (history server when the whole set is new, id lists otherwise) ->
each batch archived, then stored with its run links in one transaction. A killed run
leaves whole batches only; the next run fetches just what is missing.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from review.errors import InputError, ReviewError
from review.models import Strategy
from review.parse.pubmed_xml import iter_pubmed_xml
from review.pubmed import Batch, Eutils, Response, SearchSlice, efetch_history, efetch_ids, esearch_sliced
from review.store import Store, utcnow

MANIFEST = "manifest.json"
ARCHIVE_FORMAT = 1


@dataclass
class RunSummary:
    """What one strategy run did, for the one-line summary and the tests."""

    run_id: str
    strategy: str
    count: int
    n_new: int
    n_fetched: int
    dropped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    replayed: bool = False

    def line(self) -> str:
        verb = "replayed" if self.replayed else "searched"
        parts = [f"{self.strategy}: {verb}, {self.count} in PubMed, {self.n_new} new, {self.n_fetched} fetched"]
        if self.dropped:
            parts.append(f"{len(self.dropped)} no longer match (flagged, kept)")
        if self.missing:
            parts.append(f"{len(self.missing)} could not be fetched")
        if self.requests:
            parts.append("requests: " + ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items())))
        return "; ".join(parts) + f" [run {self.run_id}]"


def new_run_id(name: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{name}-{secrets.token_hex(2)}"


class Archive:
    """Raw responses of one run, gzipped, with a manifest rewritten atomically after each one."""

    def __init__(self, folder: Path, manifest: dict[str, Any]):
        self.folder = folder
        self.manifest = {"format": ARCHIVE_FORMAT, **manifest, "responses": []}
        folder.mkdir(parents=True, exist_ok=True)
        self._save()

    def add(self, resp: Response) -> None:
        n = len(self.manifest["responses"]) + 1
        name = f"{n:04d}-{resp.util}.xml.gz"
        # mtime=0 so the same body always gives the same archive bytes.
        with open(self.folder / name, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
            gz.write(resp.body)
        self.manifest["responses"].append({
            "file": name, "util": resp.util, "params": resp.params, "attempts": resp.attempts,
            "received": datetime.fromtimestamp(resp.at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bytes": len(resp.body), "sha256": hashlib.sha256(resp.body).hexdigest(),
        })
        self._save()

    def update(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self._save()

    def _save(self) -> None:
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.folder / MANIFEST)


def _store_batch(store: Store, run_id: str, batch: Batch) -> tuple[list[int], list[str]]:
    """Store one batch and its run links atomically; returns record ids and deleted PMIDs."""
    live = [r for r in batch.records if not r.deleted]
    deleted = [r.pmid for r in batch.records if r.deleted and r.pmid]
    with store.transaction():
        ids = [u.record_id for u in store.upsert_records(live)]
        store.link_run_records(run_id, ids)
        store.add_fetched(run_id, len(live))
    return ids, deleted


def _previous_ids(store: Store, strategy: str) -> set[str]:
    prev = [r for r in store.runs(kind="search", strategy=strategy) if r["status"] == "complete"]
    return set(prev[-1]["ids"] or []) if prev else set()


def run_strategy(strategy: Strategy, store: Store, client_factory: Callable[[Callable[[Response], None]], Eutils],
                 archive_root: Path, *, batch_size: int = 500,
                 progress: Callable[[int, int], None] | None = None,
                 esearch_progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Search one strategy incrementally, archiving every response. See module docstring.

    ``progress(done, total)`` follows efetch (PMIDs), ``esearch_progress`` the sliced esearch (ids).
    """
    run_id = new_run_id(strategy.name)
    started = utcnow()
    limits = {"mindate": strategy.mindate, "maxdate": strategy.maxdate, "datetype": strategy.datetype,
              "limits": list(strategy.limits)}
    archive = Archive(archive_root / run_id, {
        "run_id": run_id, "strategy": strategy.name, "database": strategy.database, "query": strategy.query,
        "description": strategy.description, "limits": limits, "started_at": started, "batch_size": batch_size,
    })
    client = client_factory(archive.add)
    store.mark_interrupted(strategy.name)
    store.start_run(run_id, "search", strategy.database, strategy=strategy.name, query=strategy.query,
                    limits=limits, archive=str(archive.folder), source_type="database", started_at=started)
    try:
        slices = esearch_sliced(client, strategy.query, mindate=strategy.mindate, maxdate=strategy.maxdate,
                                datetype=strategy.datetype, progress=esearch_progress)
        all_ids = list(dict.fromkeys(i for s in slices for i in s.ids))
        count = max(sum(s.count for s in slices), len(all_ids))
        translation = slices[0].translation if slices else ""
        store.update_run(run_id, count=count, ids=all_ids, translation=translation)
        archive.update(count=count, translation=translation, ids=all_ids,
                       slices=[{"mindate": s.mindate, "maxdate": s.maxdate, "count": s.count} for s in slices])

        stored = store.source_ids(strategy.database)
        store.link_run_records(run_id, [stored[p] for p in all_ids if p in stored])
        new_ids = [p for p in all_ids if p not in stored]
        fetched: set[str] = set()
        deleted: set[str] = set()
        missing: list[str] = []

        def take(batch: Batch) -> None:
            _, gone = _store_batch(store, run_id, batch)
            fetched.update(r.pmid for r in batch.records if not r.deleted)
            deleted.update(gone)
            missing.extend(p for p in batch.missing if p not in deleted)
            if progress:
                progress(len(batch.requested), len(new_ids))

        new_set = set(new_ids)
        for sl in slices:
            if sl.ids and all(i in new_set for i in sl.ids) and sl.webenv:
                for batch in efetch_history(client, sl, batch_size):
                    take(batch)
            else:
                todo = [i for i in sl.ids if i in new_set and i not in fetched]
                for batch in efetch_ids(client, todo, batch_size):
                    take(batch)
        # NCBI sometimes returns fewer records than asked: ask again by id, twice at most.
        for _ in range(2):
            retry = [p for p in dict.fromkeys(missing) if p not in fetched and p not in deleted]
            if not retry:
                break
            missing = []
            for batch in efetch_ids(client, retry, batch_size):
                take(batch)
        missing = sorted({p for p in missing if p not in fetched and p not in deleted}, key=int)
        dropped = sorted(_previous_ids(store, strategy.name) - set(all_ids), key=int)
        finished = utcnow()
        store.update_run(run_id, status="complete", finished_at=finished, n_new=len(fetched),
                         dropped=dropped, missing=missing,
                         notes=(f"{len(deleted)} PMIDs deleted by PubMed" if deleted else None))
        archive.update(finished_at=finished, status="complete", n_new=len(fetched), dropped=dropped,
                       missing=missing, deleted=sorted(deleted))
        return RunSummary(run_id, strategy.name, count, len(fetched), len(fetched), dropped, missing,
                          dict(client.counts))
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        store.update_run(run_id, status=status, finished_at=utcnow(), notes=str(exc)[:1000])
        archive.update(status=status, error=str(exc)[:1000])
        raise


# ------------------------------------------------------------------ replay

def archived_runs(path: Path) -> list[Path]:
    """A run folder, or every run folder below a searches/ folder, oldest first."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return [path]
    runs = sorted(p.parent for p in path.glob(f"*/{MANIFEST}"))
    if not runs:
        raise ReviewError(f"{path}: no archived search run here (expected {MANIFEST} in it or in its subfolders)")
    return runs


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder / MANIFEST}: cannot read the manifest: {exc}") from None
    if manifest.get("format") != ARCHIVE_FORMAT:
        raise InputError(f"{folder / MANIFEST}: archive format {manifest.get('format')!r} is not supported")
    return manifest


def _archived_body(folder: Path, entry: dict[str, Any]) -> bytes:
    try:
        body = gzip.decompress((folder / entry["file"]).read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{folder / entry['file']}: cannot read archived response: {exc}") from None
    if entry.get("sha256") and hashlib.sha256(body).hexdigest() != entry["sha256"]:
        raise InputError(f"{folder / entry['file']}: checksum differs from the manifest; the archive was altered")
    return body


def replay_run(folder: Path, store: Store) -> RunSummary:
    """Re-ingest one archived run with no network: same run id, same records, same links."""
    m = _read_manifest(folder)
    run_id = m["run_id"]
    existing = store.get_run(run_id)
    if existing and existing["status"] != "running":
        return RunSummary(run_id, m["strategy"], existing["count"] or 0, 0, 0, replayed=True)
    # A run that was killed or failed is replayed too: its stored batches are part of the store
    # (the run that resumed it fetched only what was missing), and its status says what it was.
    status = m.get("status") or "interrupted"
    if status == "running":
        status = "interrupted"
    fetch_entries = [e for e in m["responses"] if e["util"] == "efetch"]
    bodies = [(e, _archived_body(folder, e)) for e in fetch_entries]  # verify all before writing
    batches = [list(iter_pubmed_xml(b, label=str(folder / e["file"]))) for e, b in bodies]
    ids = m.get("ids") or []
    with store.transaction():
        if existing:
            store.conn.execute("DELETE FROM run_records WHERE run_id = ?", (run_id,))
            store.conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        store.start_run(run_id, "search", m.get("database", "pubmed"), strategy=m["strategy"], query=m["query"],
                        limits=m.get("limits"), archive=str(folder), source_type="database",
                        started_at=m["started_at"])
        n_new = 0
        for recs in batches:
            live = [r for r in recs if not r.deleted]
            ups = store.upsert_records(live)
            n_new += sum(u.status == "new" for u in ups)
            store.link_run_records(run_id, [u.record_id for u in ups])
        stored = store.source_ids(m.get("database", "pubmed"))
        store.link_run_records(run_id, [stored[p] for p in ids if p in stored])
        store.update_run(run_id, status=status, finished_at=m.get("finished_at"), count=m.get("count"),
                         ids=ids, translation=m.get("translation"), n_new=m.get("n_new"),
                         n_fetched=sum(len(b) for b in batches), dropped=m.get("dropped") or [],
                         missing=m.get("missing") or [],
                         notes=f"replayed from {folder}" + ("" if status == "complete" else f" ({status} run)"))
    return RunSummary(run_id, m["strategy"], m.get("count") or 0, n_new, sum(len(b) for b in batches),
                      m.get("dropped") or [], m.get("missing") or [], replayed=True)


def replay(path: Path, store: Store) -> list[RunSummary]:
    return [replay_run(folder, store) for folder in archived_runs(path)]


def pubmed_ids_in_archive(paths: Iterable[Path]) -> set[str]:
    """All PMIDs archived under the given run folders (for checks and reports)."""
    out: set[str] = set()
    for folder in paths:
        out.update(_read_manifest(folder).get("ids") or [])
    return out
