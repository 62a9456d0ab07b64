"""`review export records`: flat tables for people and spreadsheets."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import export
from review.cli.common import db_option, reports_errors
from review.store import Store

# ------------------------------------------------------------------ export

@export.command("records")
@db_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file to write (UTF-8).")
@reports_errors
def export_records(db, out):
    """One row per record with identifiers, bibliographic fields, publication types and MeSH."""
    from review.export import records_frame

    with Store.open(db) as store:
        df = records_frame(store.iter_records(), store.designs(), store.duplicate_of())
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    click.echo(f"wrote {len(df)} records to {out}")


