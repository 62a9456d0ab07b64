"""`review refresh`: the whole review, incrementally, for a scheduler (cron, CI).

Steps in pipeline order: search (or replay archives offline) -> import new files from the
watch folders -> deduplicate -> classify -> PRISMA outputs -> notebooks (papermill, then
HTML). Everything lands in ``outputs/runs/<timestamp>/``; ``outputs/latest`` is switched to
it (an atomic symlink swap) only when every step succeeded, so a failed or killed refresh
leaves the previous ``latest`` as it was. A lock keeps two refreshes from running at once.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

from review.errors import ConfigError, ReviewError

CONFIG_KEYS = {"queries", "strategies", "archives", "import_dirs", "notebooks", "parameters", "outputs",
               "keep_runs", "claims"}
DEFAULT_NOTEBOOKS = ("evidence_summary", "prisma_report", "screening_progress")


class RefreshError(ReviewError):
    """A step failed; the previous outputs/latest is untouched."""


@dataclass(frozen=True)
class RefreshConfig:
    """What a refresh runs; read from queries/refresh.yaml (paths relative to the project root)."""

    root: Path
    queries: Path
    strategies: tuple[str, ...] | None = None  # None: every saved strategy
    archives: tuple[Path, ...] = ()  # archived runs replayed offline (the bundled sample)
    import_dirs: tuple[Path, ...] = ()  # watch folders: <dir>/<source>/<files>
    notebooks: tuple[str, ...] = DEFAULT_NOTEBOOKS
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: Path = Path("outputs")
    claims: Path = Path("queries/claims.yaml")
    keep_runs: int = 20


def load_config(path: Path, root: Path | None = None) -> RefreshConfig:
    """Validate the refresh config; errors name the file and the key."""
    path = Path(path)
    root = (root or path.parent.parent).resolve()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the refresh config: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(CONFIG_KEYS))}")

    def paths(key: str) -> tuple[Path, ...]:
        value = data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{path}: {key} must be a list of folders")
        return tuple(root / str(v) for v in value)

    strategies = data.get("strategies")
    if strategies in (None, "all"):
        strategies = None
    elif not isinstance(strategies, list):
        raise ConfigError(f"{path}: strategies must be 'all' or a list of strategy names")
    notebooks = tuple(data.get("notebooks") or DEFAULT_NOTEBOOKS)
    for nb in notebooks:
        if not (root / "notebooks" / f"{nb}.ipynb").is_file():
            raise ConfigError(f"{path}: notebook {nb!r} not found in {root / 'notebooks'}")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ConfigError(f"{path}: parameters must be a mapping")
    return RefreshConfig(root=root, queries=root / str(data.get("queries", "queries")),
                         strategies=tuple(strategies) if strategies else None, archives=paths("archives"),
                         import_dirs=paths("import_dirs"), notebooks=notebooks, parameters=parameters,
                         outputs=root / str(data.get("outputs", "outputs")),
                         claims=root / str(data.get("claims", "queries/claims.yaml")),
                         keep_runs=int(data.get("keep_runs", 20)))


# ------------------------------------------------------------------ lock

@contextmanager
def refresh_lock(outputs: Path) -> Iterator[None]:
    """An exclusive lock on outputs/.refresh.lock; a second refresh fails at once with who holds it."""
    outputs.mkdir(parents=True, exist_ok=True)
    path = outputs / ".refresh.lock"
    fh = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        fh.seek(0)
        holder = fh.read().strip() or "unknown process"
        fh.close()
        raise RefreshError(f"another refresh is running ({holder}); wait for it to finish. "
                           f"The lock is {path} and is released when that process ends.") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}, started {_now()}")
    fh.flush()
    try:
        yield
    finally:
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ steps

@dataclass
class StepResult:
    name: str
    seconds: float
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RefreshResult:
    run_dir: Path
    steps: list[StepResult]
    summary: dict[str, Any]


def _watch_files(import_dirs: tuple[Path, ...]) -> list[tuple[str, str | None, list[Path]]]:
    """(source, source type, files) per source folder: <dir>/<source>/<files>; `_source.yaml` may set the type."""
    out = []
    for base in import_dirs:
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
            stype = None
            meta = folder / "_source.yaml"
            if meta.is_file():
                stype = (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("type")
            if files:
                out.append((folder.name, stype, files))
    return out


Progress = Callable[[int, int], None]  # progress(done since the last call, total); see review/cli/common.py


def step_search(store, config: RefreshConfig, offline: bool, settings_factory: Callable | None,
                progress: Callable[[str], Progress | None] = lambda name: None) -> StepResult:
    from review.search import archived_runs, replay_run, run_strategy

    lines, data = [], {"new_records": 0, "requests": {}}
    if offline:
        folders = list(config.archives) + [config.outputs / "searches"]
        for base in folders:
            if not base.exists():
                continue
            for folder in archived_runs(base) if any(base.glob("*/manifest.json")) or (base / "manifest.json").exists() else []:
                s = replay_run(folder, store)
                data["new_records"] += s.n_new
                lines.append(s.line())
        return StepResult("search", 0.0, f"offline: {len(lines)} archived runs replayed, "
                                         f"{data['new_records']} new records", data)
    from review.pubmed import Eutils
    from review.queries import load_strategies

    settings = settings_factory()
    settings.require_email()
    for strategy in load_strategies(config.queries, list(config.strategies) if config.strategies else None):
        s = run_strategy(strategy, store, lambda cb: Eutils(settings, cb), config.outputs / "searches",
                         batch_size=settings.batch_size, esearch_progress=progress(f"{strategy.name} esearch"),
                         progress=progress(strategy.name))
        data["new_records"] += s.n_new
        for k, v in s.requests.items():
            data["requests"][k] = data["requests"].get(k, 0) + v
        lines.append(s.line())
    return StepResult("search", 0.0, "; ".join(lines) or "no strategies", data)


def step_import(store, config: RefreshConfig, progress: Progress | None = None) -> StepResult:
    from review.imports import import_files

    new, lines, warnings = 0, [], []
    for source, stype, files in _watch_files(config.import_dirs):
        for f in files:
            for s in import_files(store, [f], source=source, source_type=stype, progress=progress):
                new += s.n_new
                if not s.already:
                    lines.append(s.line())
                warnings.extend(s.warnings)
    return StepResult("import", 0.0, f"{len(lines)} new files imported, {new} new records", {"new_records": new},
                      warnings)


def step_dedupe(store, progress: Progress | None = None) -> StepResult:
    from review.dedupe.apply import dedupe_store

    s = dedupe_store(store, progress=progress)
    return StepResult("dedupe", 0.0, s.line(), s.counts)


def step_classify(store, progress: Progress | None = None) -> StepResult:
    from review.classify.apply import classify_store

    s = classify_store(store, progress=progress)
    return StepResult("classify", 0.0, s.line(), {"classified": s.classified})


def step_prisma(store, run_dir: Path) -> StepResult:
    from review.prisma import write_prisma

    report = write_prisma(store, run_dir / "prisma")
    problems = list(getattr(report, "problems", []) or [])
    return StepResult("prisma", 0.0, f"PRISMA outputs written ({len(problems)} consistency problems)",
                      {"problems": len(problems)}, [f"PRISMA: {p}" for p in problems][:20])


def step_export(store, run_dir: Path) -> StepResult:
    from review.export import records_frame

    df = records_frame(store.iter_records(), store.designs(), store.duplicate_of())
    (run_dir / "tables").mkdir(parents=True, exist_ok=True)
    df.to_csv(run_dir / "tables" / "records.csv", index=False)
    return StepResult("export", 0.0, f"{len(df)} records written to tables/records.csv")


def step_extraction(store, config: RefreshConfig, run_dir: Path) -> StepResult:
    """Extraction tables and the risk-of-bias figure from the stored values (empty tables before any extraction)."""
    from review.evidence_tables import write_outputs
    from review.extraction import load_review_forms

    forms_path = config.root / "queries" / "extraction.yaml"
    if not forms_path.exists():
        return StepResult("extraction", 0.0, "no queries/extraction.yaml: skipped")
    forms = load_review_forms(forms_path, config.claims if config.claims.is_absolute() else config.root / config.claims)
    tables, files = write_outputs(store, forms, run_dir / "extraction")
    return StepResult("extraction", 0.0, f"{len(tables.characteristics)} included studies, {len(tables.evidence)} "
                      f"outcome rows: {len(files)} files in extraction/", {"studies": len(tables.characteristics)})


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (inherited by Jupyter kernels, which chatter on it) to a log file."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def step_notebooks(config: RefreshConfig, db: Path, run_dir: Path, since: str | None,
                   progress: Progress | None = None) -> StepResult:
    import papermill as pm
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True  # readers of the shared HTML see results, not code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    done = []
    if progress and config.notebooks:
        progress(0, len(config.notebooks))  # the bar shows from the start: one notebook can take minutes
    for name in config.notebooks:
        src = config.root / "notebooks" / f"{name}.ipynb"
        out_nb = run_dir / "notebooks" / f"{name}.ipynb"
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        params = {"db": str(db), "out_dir": str(run_dir / "tables"), "since": since or "",
                  "claims_file": str(config.claims), **config.parameters.get(name, {})}
        with _stderr_to(run_dir / "notebooks" / "kernel.log"):
            pm.execute_notebook(str(src), str(out_nb), parameters=params, cwd=str(config.root),
                                progress_bar=False, log_output=False, kernel_name="python3")
        body, _ = exporter.from_filename(str(out_nb))
        (run_dir / f"{name}.html").write_text(body, encoding="utf-8")
        done.append(name)
        if progress:
            progress(1, len(config.notebooks))
    return StepResult("notebooks", 0.0, f"{len(done)} notebooks executed and rendered: {', '.join(done)}")


def _swap_latest(outputs: Path, run_dir: Path) -> None:
    """Point outputs/latest at run_dir in one rename (readers see the old or the new, never half)."""
    latest = outputs / "latest"
    tmp = outputs / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(run_dir, outputs), tmp)
    if latest.exists() and not latest.is_symlink():  # an old real folder: move it aside first
        shutil.rmtree(latest)
    os.replace(tmp, latest)


def _previous_summary(outputs: Path) -> dict[str, Any] | None:
    path = outputs / "latest" / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prune(outputs: Path, keep: int) -> None:
    runs = sorted((outputs / "runs").glob("*"))
    current = (outputs / "latest").resolve() if (outputs / "latest").exists() else None
    for old in runs[:-keep] if keep > 0 else []:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def refresh(config: RefreshConfig, db: Path, *, offline: bool = False, settings_factory: Callable | None = None,
            skip_notebooks: bool = False, echo: Callable[[str], None] = lambda s: None,
            progress: Callable[[str], Progress | None] = lambda step: None) -> RefreshResult:
    """Run every step; raise RefreshError naming the failed step (latest untouched).

    ``progress(name)`` gives the callback (or None) that follows the esearch and efetch of each
    strategy and the import, dedupe, classify and notebooks steps; the caller decides whether
    anything is drawn.
    """
    from review.store import Store

    outputs = config.outputs
    with refresh_lock(outputs):
        previous = _previous_summary(outputs)
        since = previous.get("started_at") if previous else None
        started = _now()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        run_dir = outputs / "runs" / stamp
        run_dir.mkdir(parents=True)
        steps: list[StepResult] = []
        store = Store.open(db)
        try:
            before = {rid for rid, _ in store.canonical_records()}
            plan: list[tuple[str, Callable[[], StepResult]]] = [
                ("search", lambda: step_search(store, config, offline, settings_factory, progress)),
                ("import", lambda: step_import(store, config, progress("import"))),
                ("dedupe", lambda: step_dedupe(store, progress("dedupe"))),
                ("classify", lambda: step_classify(store, progress("classify"))),
                ("prisma", lambda: step_prisma(store, run_dir)),
                ("export", lambda: step_export(store, run_dir)),
                ("extraction", lambda: step_extraction(store, config, run_dir)),
            ]
            if not skip_notebooks:
                plan.append(("notebooks", lambda: step_notebooks(config, Path(db), run_dir, since,
                                                                 progress("notebooks"))))
            for name, fn in plan:
                t0 = time.perf_counter()
                try:
                    result = fn()
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # any failure: name the step, keep the old latest
                    (run_dir / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
                    raise RefreshError(f"refresh failed at step '{name}': {exc} "
                                       f"(details: {run_dir / 'error.txt'}; outputs/latest was not changed)") from exc
                result.seconds = time.perf_counter() - t0
                steps.append(result)
                echo(f"{name:<10} {result.seconds:6.2f} s  {result.summary}")
            summary = _summary(store, before, since, started, steps, offline, run_dir,
                               set((previous or {}).get("included_ids", [])))
        finally:
            store.close()
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
        (run_dir / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
        _swap_latest(outputs, run_dir)
        _prune(outputs, config.keep_runs)
        return RefreshResult(run_dir, steps, summary)


def _summary(store, before: set[int], since: str | None, started: str, steps: list[StepResult], offline: bool,
             run_dir: Path, previous_included: set[int]) -> dict[str, Any]:
    designs = store.designs()
    after = dict(store.canonical_records())
    new_ids = sorted(set(after) - before)
    new_trials = [rid for rid in new_ids if rid in designs and designs[rid].tier.value == "trial"]
    from review.screening import current_status

    status = current_status(store)
    included_now = {int(r) for r in status.loc[status["included"] == True, "record_id"]}  # noqa: E712
    included_new = sorted(included_now - previous_included)
    return {
        "started_at": started, "finished_at": _now(), "offline": offline, "run_dir": str(run_dir),
        "previous_refresh": since,
        "new_records": len(new_ids), "new_record_ids": new_ids,
        "new_trials": len(new_trials), "new_trial_ids": new_trials,
        "new_included_studies": len(included_new), "new_included_ids": included_new,
        "included_ids": sorted(included_now),
        "records_total": len(after),
        "steps": [{"name": s.name, "seconds": round(s.seconds, 3), "summary": s.summary, **s.data} for s in steps],
        "warnings": [w for s in steps for w in s.warnings],
    }


def summary_markdown(s: dict[str, Any]) -> str:
    lines = [f"# Refresh {s['started_at']}", "",
             f"- mode: {'offline (archives and imports only)' if s['offline'] else 'online (PubMed)'}",
             f"- previous refresh: {s['previous_refresh'] or 'none'}",
             f"- new records: {s['new_records']} (total after deduplication: {s['records_total']})",
             f"- new trials (human experimental): {s['new_trials']}",
             f"- new included studies: {s['new_included_studies']}", "",
             "| step | seconds | what happened |", "|---|---:|---|"]
    lines += [f"| {st['name']} | {st['seconds']:.2f} | {st['summary']} |" for st in s["steps"]]
    if s["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in s["warnings"]]
    return "\n".join(lines) + "\n"
