"""`review extract`: data-extraction and risk-of-bias workbooks (export, import, conflicts, resolve, tables)."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import db_option, reports_errors
from review.store import Store


def forms_option(fn):
    return click.option("--forms", "forms_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Extraction and risk-of-bias forms. Default: queries/extraction.yaml.")(fn)


def _forms(path):
    from review.extraction import load_review_forms
    return load_review_forms(path)


@main.group()
def extract() -> None:
    """Extract study data and judge risk of bias in workbooks, two extractors, conflicts resolved."""


@extract.command("export")
@click.option("--reviewer", "--extractor", "extractor", required=True, help="Whose workbook this is.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Workbook (.xlsx).")
@click.option("--form", "only", multiple=True, help="Only these forms (repeatable). Default: all.")
@forms_option
@db_option
@reports_errors
def export_cmd(extractor, out, only, forms_path, db):
    """Write a workbook for every study included at full text: the forms its confirmed design calls for."""
    from review.extraction import export_workbook

    with Store.open(db) as store:
        summary = export_workbook(store, extractor, out, forms=_forms(forms_path), only=list(only) or None)
    click.echo(summary.line())


@extract.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reviewer", "--extractor", "extractor", required=True, help="Whose workbook this is.")
@forms_option
@db_option
@reports_errors
def import_cmd(file, extractor, forms_path, db):
    """Check every cell of FILE against the forms; append the changed values, or write nothing."""
    from review.extraction import import_workbook

    with Store.open(db) as store:
        click.echo(import_workbook(store, file, extractor, forms=_forms(forms_path)).line())


@extract.command("conflicts")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@forms_option
@db_option
@reports_errors
def conflicts_cmd(out, forms_path, db):
    """Write every field the extractors disagree on, with a 'final' column to fill."""
    from review.extraction import export_conflicts

    with Store.open(db) as store:
        n = export_conflicts(store, out, forms=_forms(forms_path))
    click.echo(f"wrote {n} conflicting fields to {out}")


@extract.command("resolve")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--resolver", required=True)
@forms_option
@db_option
@reports_errors
def resolve_cmd(file, resolver, forms_path, db):
    """Import a filled conflicts sheet: each 'final' value becomes the field's resolution."""
    from review.extraction import import_resolutions

    with Store.open(db) as store:
        click.echo(import_resolutions(store, file, resolver, forms=_forms(forms_path)).line())


@extract.command("status")
@forms_option
@db_option
@reports_errors
def status_cmd(forms_path, db):
    """Fields per form: agreed, single extractor, in conflict, resolved."""
    from review.extraction import final_values, status_counts

    with Store.open(db) as store:
        states, included = final_values(store)
    click.echo(f"{len(included)} studies included at full text")
    for form, counts in sorted(status_counts(states).items()):
        click.echo(f"  {form}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@extract.command("tables")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outputs") / "extraction", show_default=True)
@forms_option
@db_option
@reports_errors
def tables_cmd(out_dir, forms_path, db):
    """Write the characteristics and evidence tables and the risk-of-bias traffic-light figure."""
    from review.evidence_tables import write_outputs

    with Store.open(db) as store:
        tables, files = write_outputs(store, _forms(forms_path), out_dir)
    click.echo(f"{len(tables.characteristics)} included studies, {len(tables.evidence)} outcome rows, "
               f"{tables.rob[tables.rob['judgement'] != '']['record_id'].nunique() if len(tables.rob) else 0} studies "
               "with risk-of-bias judgements; "
               f"{len(files)} files in {out_dir}")
