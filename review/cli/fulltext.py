"""`review fulltext`: find open full texts (PMC open access, the user's PDF folder) for the reports sought."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import db_option, reports_errors
from review.config import settings_from_env
from review.store import Store


@main.command()
@click.option("--folder", type=click.Path(path_type=Path), default=Path("fulltext"), show_default=True,
              help="Your PDFs, named <record_id>.pdf, <PMID>.pdf, pmid<PMID>.pdf or <DOI with / as _>.pdf.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outputs") / "fulltext", show_default=True,
              help="Where PMC articles are saved (pmc/PMCID.xml) and look-ups archived (archive/RUN/).")
@click.option("--offline", is_flag=True, help="Only the folder; do not ask PMC.")
@db_option
@reports_errors
def fulltext(folder, out_dir, offline, db):
    """Look up a full text for every record included (or maybe) at title/abstract.

    The folder is read first, then PubMed Central's open-access subset through E-utilities
    (elink pubmed->pmc, efetch db=pmc; rate-limited, every response archived, the API key never).
    Each record gets where it was found, the file and its SHA-256, or "not retrieved" and why;
    PRISMA's "reports not retrieved" box counts those. Needs NCBI_EMAIL unless --offline.
    """
    from review.fulltext import check_folder, find_fulltexts
    from review.pubmed import Eutils

    factory = None
    if not offline:
        settings = settings_from_env()
        settings.require_email()
        factory = lambda on_response: Eutils(settings, on_response)  # noqa: E731
    with Store.open(db) as store:
        summary = find_fulltexts(store, check_folder(folder), out_dir, client_factory=factory)
    for w in summary.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(summary.line())
