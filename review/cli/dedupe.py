"""`review dedupe`: find duplicates across sources, undo a merge, let a person decide uncertain pairs."""
from __future__ import annotations

import getpass
from pathlib import Path

import click

from review.cli import export, main
from review.cli.common import ProgressBar, db_option, progress_option, reports_errors, require_store
from review.store import Store


@main.group(invoke_without_command=True)
@click.option("--undo", "undo_id", type=int, default=None, metavar="CLUSTER_ID",
              help="Split a duplicate cluster back into its records (they stay apart in later runs).")
@click.option("--by", default=None, help="Who undoes (default: the login name).")
@progress_option
@db_option
@click.pass_context
@reports_errors
def dedupe(ctx, undo_id, by, progress, db):
    """Deduplicate all records: exact PMID/DOI matches, then blocked fuzzy matching with guard rules.

    Prints how many merges were exact, rule-based or decided by a person, and how many pairs are
    uncertain (export them with `review dedupe export-uncertain`). Nothing is ever deleted: merges
    are recorded with their rule and scores and can be undone.
    """
    if ctx.invoked_subcommand is not None:
        return
    from review.dedupe.apply import dedupe_store, undo

    require_store(db)
    with Store.open(db) as store:
        if undo_id is not None:
            members = undo(store, undo_id, by=by or getpass.getuser())
            click.echo(f"cluster {undo_id} undone: records {', '.join(map(str, members))} are separate again")
            return
        with ProgressBar("dedupe", progress, unit="phase") as bar:
            summary = dedupe_store(store, progress=bar)
        click.echo(summary.line())
        for note in summary.notes:
            click.echo(f"  note: {note}")


@dedupe.command("export-uncertain")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Spreadsheet to write (.xlsx, or .csv).")
@db_option
@reports_errors
def export_uncertain(out, db):
    """Write the open uncertain pairs side by side with a 'decision' column (duplicate/distinct)."""
    from review.dedupe.uncertain import uncertain_frame, write_uncertain

    with Store.open(db) as store:
        df = uncertain_frame(store)
    write_uncertain(df, out)
    click.echo(f"wrote {len(df)} uncertain pairs to {out}")


@dedupe.command("import-decisions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", default=None, help="Who decided (default: the login name).")
@db_option
@reports_errors
def import_decisions_cmd(file, by, db):
    """Record the decisions filled in FILE (all or nothing), then deduplicate again with them."""
    from review.dedupe.apply import dedupe_store
    from review.dedupe.uncertain import import_decisions

    with Store.open(db) as store:
        n = import_decisions(store, file, by=by or getpass.getuser())
        click.echo(f"recorded {n} decisions from {file}")
        if n:
            click.echo(dedupe_store(store).line())


@export.command("duplicates")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
@db_option
@reports_errors
def export_duplicates(out, db):
    """One row per record in a duplicate cluster (cluster_id, record_id, source, source_id, rule, primary),
    then one per correction, retraction or comment linked to the article it names (related_kind, related_to)."""
    import pandas as pd

    with Store.open(db) as store:
        rows = store.duplicate_rows()
        related = {r["record_id"]: r for r in store.related_reports()}
        for row in rows:
            link = related.pop(row["record_id"], None)
            row.update(related_kind=link["kind"] if link else None, related_to=link["article_id"] if link else None)
        for rid, link in related.items():
            rec = store.get_record(rid)
            rows.append({"cluster_id": None, "record_id": rid, "source": rec.source, "source_id": rec.source_id,
                         "rule": link["rule"], "primary": None, "related_kind": link["kind"],
                         "related_to": link["article_id"]})
        df = pd.DataFrame(rows, columns=["cluster_id", "record_id", "source", "source_id", "rule", "primary",
                                         "related_kind", "related_to"])
        df["cluster_id"] = df["cluster_id"].astype("Int64")
        df["related_to"] = df["related_to"].astype("Int64")
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    n_related = int(df["related_kind"].notna().sum())
    click.echo(f"wrote {len(df)} rows ({df['cluster_id'].nunique()} clusters) to {out}"
               + (f"; {n_related} related reports" if n_related else ""))
