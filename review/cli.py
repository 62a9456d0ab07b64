"""Command line: one thin subcommand per step; ReviewError -> message on stderr, exit status 1."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from review.config import settings_from_env
from review.errors import ReviewError
from review.store import DEFAULT_DB, Store

DB_HELP = f"SQLite store to use (created if missing). Default: {DEFAULT_DB}"


def db_option(fn):
    return click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                        show_default=True, help=DB_HELP)(fn)


def reports_errors(fn):
    """Turn ReviewError into a clear message and exit status 1; Ctrl-C into status 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReviewError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: everything committed so far is kept; run the same command to resume.",
                       err=True)
            sys.exit(130)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="kratom-review")
def main() -> None:
    """Literature-review toolkit: search PubMed, import exports, deduplicate, screen, classify, report."""


# ------------------------------------------------------------------ search

@main.command()
@click.argument("names", nargs=-1)
@db_option
@click.option("--queries", "queries_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("queries"),
              show_default=True, help="Folder of saved strategies (*.yaml).")
@click.option("--replay", "replay_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="Re-ingest an archived run folder (or a folder of them, oldest first) with no network.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="PMIDs per efetch request (NCBI allows up to 10,000).")
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outputs") / "searches", show_default=True,
              help="Where raw responses of each run are archived (one folder per run).")
@click.option("--progress/--no-progress", default=None, help="Progress bar while fetching (default: on a terminal).")
@reports_errors
def search(names, db, queries_dir, replay_dir, batch_size, archive_dir, progress):
    """Run saved PubMed strategies (all, or NAMES) incrementally.

    Only PMIDs not already in the store are fetched; PMIDs that no longer match are flagged in
    the run log, never deleted. Every request and response is archived under --archive so the
    run can be reported (PRISMA-S) and replayed. Needs NCBI_EMAIL (and optionally NCBI_API_KEY
    for 10 requests/s instead of 3); NCBI_EUTILS_URL points at a mirror or test server.
    """
    from review.queries import load_strategies
    from review.search import replay, run_strategy

    with Store.open(db) as store:
        if replay_dir is not None:
            for summary in replay(replay_dir, store):
                click.echo(summary.line())
            return
        strategies = load_strategies(queries_dir, list(names) or None)
        settings = settings_from_env(batch_size=batch_size)
        settings.require_email()
        from review.pubmed import Eutils
        for strategy in strategies:
            with _progress_bar(strategy.name, progress) as bar:
                summary = run_strategy(
                    strategy, store, lambda on_response: Eutils(settings, on_response), archive_dir,
                    batch_size=batch_size, progress=bar)
            click.echo(summary.line())


class _progress_bar:
    """tqdm bar sized on the first callback (the number of new PMIDs is known only after esearch)."""

    def __init__(self, name: str, enabled: bool | None):
        self.name, self.enabled, self.bar = name, enabled, None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.name, unit="rec", file=sys.stderr,
                            disable=None if self.enabled is None else not self.enabled)
        self.bar.update(done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------ export

@main.group()
def export() -> None:
    """Write tables from the store (records, duplicates)."""


@export.command("records")
@db_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file to write (UTF-8).")
@reports_errors
def export_records(db, out):
    """One row per record with identifiers, bibliographic fields, publication types and MeSH."""
    from review.export import records_frame

    with Store.open(db) as store:
        df = records_frame(store.iter_records())
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    click.echo(f"wrote {len(df)} records to {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
