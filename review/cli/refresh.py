"""`review refresh`: rerun the whole review incrementally (for cron or CI)."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import StepBars, new_db_option, progress_option, reports_errors


@main.command()
@click.option("--offline", is_flag=True,
              help="No network: replay archived searches and import watch-folder files only.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("queries") / "refresh.yaml", show_default=True, help="What to run (YAML).")
@click.option("--no-notebooks", is_flag=True, help="Skip executing the notebooks (tables and PRISMA only).")
@progress_option
@new_db_option
@reports_errors
def refresh(offline, config_path, no_notebooks, progress, db):
    """Search (or replay), import new files, deduplicate, classify, write PRISMA outputs and run the
    notebooks; results go to outputs/runs/<timestamp>/ and outputs/latest/.

    Only one refresh runs at a time (a lock in the outputs folder). If a step fails, the command
    exits with status 1 naming the step and outputs/latest is left as it was.
    """
    from review.config import settings_from_env
    from review.refresh import load_config, refresh as run_refresh

    config = load_config(config_path, Path.cwd())
    with StepBars(progress) as bars:
        def echo(line: str) -> None:
            bars.close()  # a step's line never lands in the middle of its bar
            click.echo(line)

        result = run_refresh(config, db, offline=offline, settings_factory=settings_from_env,
                             skip_notebooks=no_notebooks, echo=echo, progress=bars)
    s = result.summary
    click.echo(f"refresh done: {s['new_records']} new records, {s['new_trials']} new trials, "
               f"{s['new_included_studies']} new included studies; outputs in {config.outputs / 'latest'}")
