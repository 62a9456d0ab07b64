"""Import exports from other databases: parse every file first, then store all or nothing.

Each file becomes an import run (source, source type, file, content hash, record count) beside
the search runs, so PRISMA can count records per source. The same file imported again for the
same source is a no-op.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from review.errors import InputError
from review.models import SourceType
from review.parse import ParseResult, parse_file
from review.store import Store, utcnow

# Sources whose type is known; anything else is a bibliographic database unless said otherwise.
KNOWN_TYPES = {
    "clinicaltrials": SourceType.REGISTER, "clinicaltrials_gov": SourceType.REGISTER,
    "ctgov": SourceType.REGISTER, "ictrp": SourceType.REGISTER, "who_ictrp": SourceType.REGISTER,
    "euctr": SourceType.REGISTER, "ctis": SourceType.REGISTER, "anzctr": SourceType.REGISTER,
    "isrctn": SourceType.REGISTER, "citation_searching": SourceType.OTHER, "websites": SourceType.OTHER,
    "article_pages": SourceType.OTHER, "organisations": SourceType.OTHER, "hand_search": SourceType.OTHER,
}


def source_type_for(source: str, given: str | None) -> SourceType:
    if given:
        try:
            return SourceType(given)
        except ValueError:
            raise InputError(f"source type {given!r} is not one of database, register, other") from None
    return KNOWN_TYPES.get(source.lower(), SourceType.DATABASE)


@dataclass
class ImportSummary:
    file: str
    source: str
    run_id: str | None
    n_records: int
    n_new: int = 0
    n_existing: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    already: str | None = None  # the earlier run when the file was imported before

    def line(self) -> str:
        if self.already:
            return f"{self.file}: already imported for {self.source} (run {self.already}); nothing to do"
        s = (f"{self.file}: {self.n_records} records from {self.source} ({self.n_new} new, "
             f"{self.n_existing} already stored)")
        if self.skipped:
            s += f"; {len(self.skipped)} skipped"
        return s + f" [run {self.run_id}]"


def _run_id(source: str, sha: str) -> str:
    return f"{utcnow()[:19].replace('-', '').replace(':', '')}Z-import-{source}-{sha[:8]}"


CHUNK = 2000  # records stored between two progress callbacks (all in the one transaction)


def import_files(store: Store, paths: list[Path], *, source: str, source_type: str | None = None,
                 fmt: str | None = None, skip_bad: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> list[ImportSummary]:
    """Parse all files (any error: nothing written), then store them in one transaction.

    ``progress(records stored since the last call, records in all files)`` while storing.
    """
    if not source or not source.replace("_", "").replace("-", "").isalnum():
        raise InputError(f"source name {source!r}: use letters, digits, '_' or '-' (e.g. embase, scopus)")
    stype = source_type_for(source, source_type)
    parsed: list[tuple[Path, ParseResult]] = []
    seen: dict[str, Path] = {}
    for path in paths:
        result = parse_file(path, source=source, fmt=fmt, skip_bad=skip_bad)
        if result.sha256 in seen:
            raise InputError(f"{path}: same content as {seen[result.sha256]}; give each file once")
        seen[result.sha256] = path
        parsed.append((Path(path), result))
    done = {r["file_hash"]: r["run_id"] for r in store.runs(kind="import") if r["status"] == "complete"
            and r["source"] == source}
    out: list[ImportSummary] = []
    total = sum(len(r.records) for _, r in parsed if r.sha256 not in done)
    if progress:
        progress(0, total)
    with store.transaction():
        for path, result in parsed:
            name = os.fspath(path)
            if result.sha256 in done:
                out.append(ImportSummary(name, source, None, len(result.records), already=done[result.sha256]))
                continue
            run_id = _run_id(source, result.sha256)
            store.start_run(run_id, "import", source, source_type=stype.value, file=name, file_hash=result.sha256,
                            count=len(result.records), limits={"format": result.fmt, "encoding": result.encoding})
            ups = []
            for i in range(0, len(result.records), CHUNK):
                chunk = result.records[i:i + CHUNK]
                ups += store.upsert_records(chunk)
                if progress:
                    progress(len(chunk), total)
            store.link_run_records(run_id, [u.record_id for u in ups])
            n_new = sum(u.status == "new" for u in ups)
            notes = "; ".join([*result.warnings, *(f"skipped: {s}" for s in result.skipped)]) or None
            store.update_run(run_id, status="complete", finished_at=utcnow(), n_new=n_new, n_fetched=len(ups),
                             ids=[r.source_id for r in result.records], notes=notes)
            out.append(ImportSummary(name, source, run_id, len(result.records), n_new, len(ups) - n_new,
                                     list(result.skipped), list(result.warnings)))
    return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
