"""`review search`: run saved PubMed strategies, or replay archived runs."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import ProgressBar, new_db_option, reports_errors
from review.config import settings_from_env
from review.store import Store

# ------------------------------------------------------------------ search

@main.command()
@click.argument("names", nargs=-1)
@new_db_option
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
            with ProgressBar(f"{strategy.name} esearch", progress, unit="id") as found, \
                    ProgressBar(strategy.name, progress) as bar:
                summary = run_strategy(
                    strategy, store, lambda on_response: Eutils(settings, on_response), archive_dir,
                    batch_size=batch_size, progress=bar, esearch_progress=found)
            click.echo(summary.line())
