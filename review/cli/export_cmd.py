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


# ------------------------------------------------------------------ reference managers

def _reference_export(fmt: str, stage: str, decision: str, out: Path, config_path: Path | None, db: Path) -> None:
    from review.references import select, render
    from review.screening import load_config, load_state

    config = load_config(config_path)
    with Store.open(db) as store:
        state = load_state(store, config)
        members: dict[int, list] = {}
        for rid, rec in store.iter_records():
            primary = state.duplicate_of.get(rid)
            if primary is not None:
                members.setdefault(primary, []).append(rec)
        items = select(state.records, state.statuses, stage, decision, store.designs(), members)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(items, fmt), encoding="utf-8")
    chosen = "every record due" if decision == "all" else f"decision {decision}"
    click.echo(f"wrote {len(items)} records to {out} ({fmt}, {stage}, {chosen})")
    if not items:
        click.echo(f"  note: no record has {chosen} at {stage} yet (see `review screen status`)")


def _reference_command(fmt: str, what: str):
    @export.command(fmt, help=f"Write the screened records as {what} for a reference manager (included studies "
                              "at full text by default), with PMID, DOI, PMCID, trial ids, design and tier in "
                              "notes and keywords.")
    @click.option("--stage", type=click.Choice(["title_abstract", "full_text"]), default="full_text",
                  show_default=True, help="Screening stage whose decisions choose the records.")
    @click.option("--decision", type=click.Choice(["include", "exclude", "all"]), default="include",
                  show_default=True, help="Records with this final decision at --stage (include at "
                                          "title_abstract also takes maybe; all: every record due there).")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help=f"{what} file to write.")
    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Screening settings (reviewers per record). Default: queries/screening.yaml if present.")
    @db_option
    @reports_errors
    def command(stage, decision, out, config_path, db):
        _reference_export(fmt, stage, decision, out, config_path, db)

    return command


export_ris = _reference_command("ris", "RIS (Zotero, EndNote, Mendeley, RevMan)")
export_bibtex = _reference_command("bibtex", "BibTeX (JabRef, Zotero, LaTeX)")
export_csv = _reference_command("csv", "CSV (UTF-8)")
