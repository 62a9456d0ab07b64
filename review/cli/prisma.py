"""`review prisma`: the PRISMA 2020 flow diagram, counts, checks and report tables; report-to-study links."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from review.cli import main
from review.cli.common import db_option, reports_errors
from review.store import Store


def _open_existing(db: Path) -> Store:
    """Open a store that must already exist: a PRISMA report of a store just created would be empty."""
    return Store.open_existing(db)


def _config(path):
    from review.screening import load_config
    return load_config(path)


@main.group(invoke_without_command=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs") / "prisma",
              show_default=True, help="Folder for the diagram, the counts and the tables.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Screening settings (reviewers per record decide when a record counts as screened). "
                   "Default: queries/screening.yaml if present, else built-in defaults.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when the consistency check finds problems.")
@db_option
@click.pass_context
@reports_errors
def prisma(ctx, out, config_path, strict, db):
    """Write the PRISMA 2020 flow diagram (SVG, PNG), its counts and the report tables to --out.

    Every number is computed from the store. Files: prisma_flow.svg/.png, PRISMA2020.csv (the
    PRISMA2020 R package / Shiny app format), prisma_counts.csv/.json, consistency.md,
    prisma_s.csv/.md (search table), characteristics.csv/.md/.xlsx, evidence_by_tier.csv/.md/.xlsx,
    and ABOUT.md/about.json stating the store, the data's time and the latest run they reflect.
    Records whose state does not fit the flow are listed in consistency.md and flagged on the diagram.
    """
    if ctx.invoked_subcommand is not None:
        return
    from review.prisma import summary_lines, write_outputs

    config = _config(config_path)
    with _open_existing(db) as store:
        written = write_outputs(store, out, config)
    for line in summary_lines(written.counts):
        click.echo(line)
    click.echo(f"wrote {len(written.files)} files to {out}")
    if not written.counts.ok:
        click.echo(f"warning: the consistency check failed; see {Path(out) / 'consistency.md'}", err=True)
        if strict:
            sys.exit(1)


@prisma.command("link-reports")
@click.argument("record_ids", nargs=-1, type=int, required=True)
@click.option("--study", "study_id", type=int, required=True,
              help="The record standing for the study (usually its main report).")
@click.option("--by", required=True, help="Who links them.")
@db_option
@reports_errors
def link_reports_cmd(record_ids, study_id, by, db):
    """Record that RECORD_IDS are further reports of the study --study stands for (counted as one study)."""
    from review.prisma import link_reports

    with _open_existing(db) as store:
        n = link_reports(store, record_ids, study_id, by)
    click.echo(f"linked {n} report(s) to study {study_id}")


@prisma.command("unlink-reports")
@click.argument("record_ids", nargs=-1, type=int, required=True)
@db_option
@reports_errors
def unlink_reports_cmd(record_ids, db):
    """Make each of RECORD_IDS its own study again."""
    from review.prisma import unlink_reports

    with _open_existing(db) as store:
        n = unlink_reports(store, record_ids)
    click.echo(f"removed {n} link(s)")


@prisma.command("check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Screening settings (as for `review prisma`).")
@db_option
@reports_errors
def check_cmd(config_path, db):
    """Print the counts and the consistency report; exit with status 1 when there are problems."""
    from review.prisma import consistency_markdown, prisma_counts, summary_lines

    config = _config(config_path)
    with _open_existing(db) as store:
        counts = prisma_counts(store, config)
    for line in summary_lines(counts):
        click.echo(line)
    if not counts.ok:
        click.echo(consistency_markdown(counts))
        sys.exit(1)
