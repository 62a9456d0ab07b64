"""`review screen`: export sheets, import decisions, conflicts, resolutions, re-opens, status."""
from __future__ import annotations

from pathlib import Path

import click

from review.cli import main
from review.cli.common import db_option, reports_errors
from review.store import Store

STAGE = click.Choice(["title_abstract", "full_text"])


def config_option(fn):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Screening settings (exclusion reasons, reviewers per record). "
                             "Default: queries/screening.yaml if present, else built-in defaults.")(fn)


def _config(path):
    from review.screening import load_config
    return load_config(path)


@main.group()
def screen() -> None:
    """Screen records at title/abstract and full text with spreadsheets (blind, dual, audited)."""


@screen.command("export")
@click.option("--stage", type=STAGE, required=True)
@click.option("--reviewer", required=True, help="Whose sheet this is.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Sheet to write: .xlsx (drop-down lists) or .csv (UTF-8).")
@click.option("--all", "include_decided", is_flag=True,
              help="Also the records this reviewer already decided, with their decisions filled in.")
@click.option("--order", type=click.Choice(["stable", "prioritised"]), default="stable", show_default=True,
              help="prioritised: likeliest includes first, learnt from this reviewer's decisions so far.")
@click.option("--blind-design", is_flag=True, help="Leave out the design and tier columns.")
@config_option
@db_option
@reports_errors
def export_cmd(stage, reviewer, out, include_decided, order, blind_design, config_path, db):
    """Write the records REVIEWER still has to decide at STAGE (never another reviewer's decisions)."""
    from review.screening import export_sheet

    config = _config(config_path)
    with Store.open(db) as store:
        summary = export_sheet(store, stage, reviewer, out, config=config, include_decided=include_decided,
                               order=order, blind_design=blind_design)
    click.echo(summary.line())


@screen.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reviewer", required=True, help="Whose sheet this is (must match the export).")
@click.option("--stage", type=STAGE, default=None, help="Check the sheet is for this stage.")
@config_option
@db_option
@reports_errors
def import_cmd(file, reviewer, stage, config_path, db):
    """Check a filled sheet and append its decisions to the history (all rows or none)."""
    from review.screening import import_sheet

    config = _config(config_path)
    with Store.open(db) as store:
        summary = import_sheet(store, file, reviewer, config=config, stage=stage)
    click.echo(summary.line())


@screen.command("import-decisions")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--stage", type=STAGE, required=True, help="Stage the decisions were made at.")
@click.option("--reviewer", required=True, help="Whose decisions they become in the history.")
@click.option("--from", "tool", type=click.Choice(["rayyan", "covidence", "table"]), default=None,
              help="Tool that wrote FILE (detected when omitted): a Rayyan or Covidence CSV export, or a table "
                   "with a decision column (e.g. a filled sheet).")
@click.option("--rayyan-name", "who", default=None,
              help="Rayyan: whose decisions in RAYYAN-INCLUSION to import (needed when several reviewers).")
@click.option("--decision", type=click.Choice(["include", "exclude", "maybe"]), default=None,
              help="Covidence: the decision of the exported list (included, excluded or irrelevant studies).")
@click.option("--reason", default=None, help="Covidence: exclusion reason for every row of an excluded list.")
@click.option("--skip-unmatched", is_flag=True,
              help="Import the rows that match a record and list the others (default: refuse the file).")
@config_option
@db_option
@reports_errors
def import_decisions_cmd(file, stage, reviewer, tool, who, decision, reason, skip_unmatched, config_path, db):
    """Import decisions made in Rayyan, Covidence or a table as REVIEWER's screening history.

    Rows are matched to records by PMID, DOI, then title; every row is checked (record due at the
    stage, decision and reason allowed) and nothing is written if any is wrong.
    """
    from review.screening_external import import_external

    config = _config(config_path)
    with Store.open(db) as store:
        summary = import_external(store, file, reviewer, stage, tool=tool, who=who, decision=decision,
                                  reason=reason, skip_unmatched=skip_unmatched, config=config)
    click.echo(summary.line())
    for w in summary.warnings:
        click.echo(f"  warning: {w}")
    for s in summary.skipped:
        click.echo(f"  skipped: {s}")


@screen.command("conflicts")
@click.option("--stage", type=STAGE, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a resolution sheet (.xlsx or .csv) to fill and import with `resolve --file`.")
@config_option
@db_option
@reports_errors
def conflicts_cmd(stage, out, config_path, db):
    """List the records where reviewers disagree at STAGE."""
    from review.screening import conflicts_frame, export_conflicts

    config = _config(config_path)
    with Store.open(db) as store:
        df = conflicts_frame(store, stage, config)
        if out is not None:
            summary = export_conflicts(store, stage, out, config=config)
    if df.empty:
        click.echo(f"no open conflicts at {stage}")
    for row in df.itertuples(index=False):
        who = "; ".join(f"{name}: {getattr(row, name)}" for name in df.columns[3:]
                        if isinstance(getattr(row, name), str))
        click.echo(f"{row.record_id}\t{row.kind}\t{who}\t{(row.title or '')[:80]}")
    if out is not None:
        click.echo(summary.line())


@screen.command("resolve")
@click.argument("record_id", type=int, required=False)
@click.option("--stage", type=STAGE, default=None, help="Stage of the conflict (with RECORD_ID).")
@click.option("--decision", default=None, help="The final decision (with RECORD_ID).")
@click.option("--reason", default=None, help="Exclusion reason (required for a full-text exclusion).")
@click.option("--notes", default=None)
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A filled resolution sheet from `conflicts --out`, instead of RECORD_ID.")
@click.option("--resolver", required=True, help="Who decides.")
@config_option
@db_option
@reports_errors
def resolve_cmd(record_id, stage, decision, reason, notes, file, resolver, config_path, db):
    """Record a final decision for a record in conflict (or a whole resolution sheet)."""
    from review.errors import InputError
    from review.screening import import_sheet, resolve

    config = _config(config_path)
    if (file is None) == (record_id is None):
        raise click.UsageError("give either RECORD_ID (with --stage and --decision) or --file")
    with Store.open(db) as store:
        if file is not None:
            click.echo(import_sheet(store, file, resolver, config=config, stage=stage, resolution=True).line())
            return
        if stage is None or decision is None:
            raise InputError("resolving one record needs --stage and --decision")
        st = resolve(store, record_id, stage, decision, resolver, reason=reason, notes=notes, config=config)
    click.echo(f"record {record_id} at {stage}: {st.status}" + (f" ({st.reason})" if st.reason else "")
               + f", resolved by {st.resolved_by}")


@screen.command("reopen")
@click.argument("record_id", type=int)
@click.option("--stage", type=STAGE, required=True)
@click.option("--reviewer", required=True, help="Who re-opens it.")
@click.option("--reason", required=True, help="Why (kept in the history).")
@config_option
@db_option
@reports_errors
def reopen_cmd(record_id, stage, reviewer, reason, config_path, db):
    """Start STAGE afresh for a record; its decisions there and at later stages stop counting."""
    from review.screening import reopen

    with Store.open(db) as store:
        reopen(store, record_id, stage, reviewer, reason, config=_config(config_path))
    click.echo(f"record {record_id} re-opened at {stage}: it is due for new decisions")


@screen.command("status")
@click.option("--stage", type=STAGE, default=None, help="Only this stage.")
@config_option
@db_option
@reports_errors
def status_cmd(stage, config_path, db):
    """Per stage: records due, decisions per reviewer, agreements, conflicts, Cohen's kappa, includes."""
    from review.screening import STAGES, format_summary, stage_summary

    with Store.open(db) as store:
        summary = stage_summary(store, _config(config_path))
    click.echo(format_summary(summary, [stage] if stage else STAGES))


@screen.command("history")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
@db_option
@reports_errors
def history_cmd(out, db):
    """Write the append-only decision history (decisions, resolutions, re-opens) as CSV."""
    from review.screening import decisions_frame

    with Store.open(db) as store:
        df = decisions_frame(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, encoding="utf-8-sig")
    click.echo(f"wrote {len(df)} history rows to {out}")
