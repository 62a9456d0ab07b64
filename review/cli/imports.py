"""`review import`: bring exports from other databases into the store."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import ProgressBar, new_db_option, progress_option, reports_errors
from review.parse import FORMATS
from review.store import Store


@main.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True,
              help="Database or other source the files come from, e.g. embase, scopus, wos, psycinfo, "
                   "clinicaltrials, citation_searching.")
@click.option("--source-type", type=click.Choice(["database", "register", "other"]), default=None,
              help="PRISMA category of the source. Default: register for known trial registers, other for "
                   "citation searching/websites, else database.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="File format; detected from the content when omitted.")
@click.option("--skip-bad", is_flag=True,
              help="Import the good records of a partly malformed file and list the skipped ones "
                   "(default: reject the whole file).")
@progress_option
@new_db_option
@reports_errors
def import_cmd(files, source, source_type, fmt, skip_bad, progress, db):
    """Import FILES (RIS, MEDLINE/.nbib, PubMed XML, BibTeX, CSV) exported from SOURCE.

    All files are read and checked before anything is written: one malformed file stops the
    import with its name, record number, line and reason. Importing the same file again is a no-op.
    """
    from review.imports import import_files

    with Store.open(db) as store, ProgressBar(f"import {source}", progress) as bar:
        summaries = import_files(store, list(files), source=source, source_type=source_type, fmt=fmt,
                                 skip_bad=skip_bad, progress=bar)
    for summary in summaries:  # after the bar is closed
        click.echo(summary.line())
        for w in summary.warnings:
            click.echo(f"  warning: {w}")
        for s in summary.skipped:
            click.echo(f"  skipped: {s}")
