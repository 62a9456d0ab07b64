"""`review classify`: study design and evidence tier for every record, with reasons; overrides."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import ProgressBar, db_option, progress_option, reports_errors, require_store
from review.models import DESIGNS
from review.store import Store


@main.group(invoke_without_command=True)
@click.option("--all", "everything", is_flag=True, help="Classify every record again, not only new or changed ones.")
@click.option("--retrain", is_flag=True,
              help="Refit the text model on the bundled abstracts plus every design this review's reviewers "
                   "confirmed, then classify (done by itself once 10 new designs are confirmed).")
@progress_option
@db_option
@click.pass_context
@reports_errors
def classify(ctx, everything, retrain, progress, db):
    """Classify records (new or changed ones by default) by design and evidence tier.

    Publication types decide first, then MeSH, then phrases in the title and abstract; where
    those are weak or silent, a text model trained on real labelled abstracts decides if it is
    sure enough, and otherwise the record is `unclassified` for a person. Each label keeps the
    reasons that decided it. A person's confirmed design (`review classify override`, the
    review sheet, the full-text screening sheet) always wins and survives re-classification.
    """
    if ctx.invoked_subcommand is not None:
        return
    from review.classify.apply import classify_store

    require_store(db)
    with Store.open(db) as store, ProgressBar("classify", progress) as bar:
        summary = classify_store(store, everything=everything, retrain_model=True if retrain else None,
                                 progress=bar)
    click.echo(summary.line())


@classify.command("override")
@click.argument("record_id", type=int)
@click.option("--design", required=True, type=click.Choice(list(DESIGNS)), help="The design to record.")
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--reason", required=True, help="Why (shown beside the label).")
@click.option("--self-reported/--not-self-reported", default=None, help="Set the self-reported flag too.")
@db_option
@reports_errors
def override_cmd(record_id, design, reviewer, reason, self_reported, db):
    """Record a person's design for RECORD_ID (the tier follows from the design)."""
    from review.classify.apply import override

    with Store.open(db) as store:
        override(store, record_id, design, reviewer=reviewer, reason=reason, self_reported=self_reported)
        d = store.designs()[record_id]
        click.echo(f"record {record_id}: {d.design} ({d.tier.value}) by {reviewer}")


@classify.command("show")
@click.argument("record_ids", type=int, nargs=-1, required=True)
@db_option
@reports_errors
def show_cmd(record_ids, db):
    """Show the design, tier, confidence and reasons of records."""
    with Store.open(db) as store:
        designs = store.designs()
        for rid in record_ids:
            rec = store.get_record(rid)
            d = designs.get(rid)
            click.echo(f"[{rid}] {rec.title}")
            if d is None:
                click.echo("  not classified yet: run `review classify`")
                continue
            flag = ", self-reported" if d.self_reported else ""
            click.echo(f"  {d.design} -> {d.tier.value} (confidence {d.confidence:.2f}{flag})")
            for reason in d.reasons:
                click.echo(f"  - {reason}")


@classify.command("export-review")
@click.option("--reviewer", required=True, help="Whose sheet this is.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Sheet to write: .xlsx (drop-down of designs) or .csv (UTF-8).")
@click.option("--all", "everything", is_flag=True,
              help="Every machine-suggested design, not only the unclassified and low-confidence ones.")
@db_option
@reports_errors
def export_review_cmd(reviewer, out, everything, db):
    """Write the records that need a person's design: unclassified first, then the least sure."""
    from review.classify.confirm import export_review

    with Store.open(db) as store:
        click.echo(export_review(store, out, reviewer, everything=everything).line())


@classify.command("import-review")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reviewer", required=True, help="Whose sheet this is (must match the export).")
@db_option
@reports_errors
def import_review_cmd(file, reviewer, db):
    """Check a filled review sheet and record its confirmed designs as REVIEWER's (all rows or none)."""
    from review.classify.confirm import import_review

    with Store.open(db) as store:
        summary = import_review(store, file, reviewer)
        click.echo(summary.line())
        from review.classify.apply import due_for_retraining

        if summary.new + summary.changed and due_for_retraining(store):
            click.echo("enough new confirmed designs to refit the text model: the next `review classify` does it")
