"""`review claims`: which studies bear on each grey-literature claim; a reviewer's pins and unpins."""
from __future__ import annotations

from pathlib import Path

import click

from review.claims import DEFAULT_CLAIMS
from review.cli import main
from review.cli.common import db_option, reports_errors
from review.store import Store
TIER_HEADINGS = {
    "trial": "Trials (human experimental)",
    "observational": "Observational (surveys, cohorts, registries)",
    "anecdotal": "Anecdotal (case reports, case series, qualitative)",
    "preclinical": "Preclinical (animal, in vitro)",
    "secondary": "Secondary (reviews)",
    "opinion_other": "Opinion and other (editorials, registrations, product analyses)",
    "unclassified": "Not yet classified (no design signal, or not classified yet: a person must confirm)",
}


def claims_file_option(fn):
    return click.option("--claims", "claims_path", type=click.Path(dir_okay=False, path_type=Path),
                        default=DEFAULT_CLAIMS, show_default=True,
                        help="Claims file: ids, claim texts and the term groups that bear on each.")(fn)


@main.group()
def claims() -> None:
    """Map the grey-literature claims to the studies that bear on them, by evidence tier."""


@claims.command("list")
@claims_file_option
@click.option("--include-background", is_flag=True,
              help="Count records whose terms match only in background sentences too.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the whole map (one row per claim and record) to this CSV file.")
@db_option
@reports_errors
def list_cmd(claims_path, include_background, out, db):
    """One line per claim: how many studies of each design bear on it (randomized trials first)."""
    from review.claims import claim_statements, claims_map, load_claims, store_pins

    claim_list = load_claims(claims_path)
    with Store.open(db) as store:
        df = claims_map(store.canonical_records(), store.designs(), claim_list, store_pins(store))
    for line in claim_statements(df, claim_list, include_background=include_background)["statement"]:
        click.echo(line)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        click.echo(f"wrote {len(df)} claim-record rows to {out}")


@claims.command("show")
@click.argument("claim_id")
@claims_file_option
@click.option("--all", "show_all", is_flag=True, help="Also list records that mention the claim only in background "
                                                       "sentences.")
@db_option
@reports_errors
def show_cmd(claim_id, claims_path, show_all, db):
    """The studies that bear on CLAIM_ID grouped by tier, with links, matched terms and pins."""
    import pandas as pd

    from review.claims import claim_statements, claims_map, latest_pins, load_claims, store_pins
    from review.errors import ReviewError

    claim_list = load_claims(claims_path)
    claim = next((c for c in claim_list if c.id == claim_id), None)
    if claim is None:
        raise ReviewError(f"no claim {claim_id!r} in {claims_path}; known: {', '.join(c.id for c in claim_list)}")
    with Store.open(db) as store:
        pins = store_pins(store)
        df = claims_map(store.canonical_records(), store.designs(), [claim], pins)
        click.echo(f"{claim.id}: {claim.claim}")
        click.echo(claim_statements(df, [claim])["statement"].iloc[0])
        background = df["background_only"]
        for tier, rows in df[~background | show_all].groupby("tier", sort=False):
            click.echo(f"\n{TIER_HEADINGS.get(tier, tier)} ({len(rows)})")
            for row in rows.itertuples():
                year = "" if pd.isna(row.year) else f"{row.year} "
                flags = ", self-reported" if row.self_reported else ""
                flags += ", background only" if row.background_only else ""
                click.echo(f"  [{row.record_id}] {year}{row.design}{flags}: {row.title}")
                if pd.notna(row.link):
                    click.echo(f"      {row.link}")
                if row.matched_terms:
                    click.echo(f"      terms: {row.matched_terms}")
                if row.decided_by:
                    click.echo(f"      {row.decided_by}")
        if not show_all and background.any():
            click.echo(f"\n{int(background.sum())} more record(s) mention it only in background sentences "
                       f"(--all lists them)")
        unpinned = [p for p in latest_pins(pins).values() if p.claim_id == claim.id and not p.pinned]
        if unpinned:
            click.echo("\nLeft out by a reviewer")
            for p in unpinned:
                click.echo(f"  [{p.record_id}] {store.get_record(p.record_id).title} - {p.note}")


def _pin(claim_id: str, record_ids: tuple[int, ...], pinned: bool, reviewer: str, reason: str | None,
         claims_path: Path, db: Path) -> None:
    from review.claims import load_claims, set_pin

    claim_list = load_claims(claims_path)
    with Store.open(db) as store:
        with store.transaction():  # all records or none
            for rid in record_ids:
                set_pin(store, claim_list, claim_id, rid, pinned=pinned, reviewer=reviewer, reason=reason)
    verb = "pinned to" if pinned else "unpinned from"
    click.echo(f"{len(record_ids)} record(s) {verb} {claim_id} by {reviewer}")


@claims.command("pin")
@click.argument("claim_id")
@click.argument("record_ids", type=int, nargs=-1, required=True)
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--reason", default=None, help="Why the record bears on the claim (shown in the map).")
@claims_file_option
@db_option
@reports_errors
def pin_cmd(claim_id, record_ids, reviewer, reason, claims_path, db):
    """Include RECORD_IDS in CLAIM_ID's map even if its terms do not match."""
    _pin(claim_id, record_ids, True, reviewer, reason, claims_path, db)


@claims.command("unpin")
@click.argument("claim_id")
@click.argument("record_ids", type=int, nargs=-1, required=True)
@click.option("--reviewer", required=True, help="Who decided.")
@click.option("--reason", default=None, help="Why the record does not bear on the claim.")
@claims_file_option
@db_option
@reports_errors
def unpin_cmd(claim_id, record_ids, reviewer, reason, claims_path, db):
    """Leave RECORD_IDS out of CLAIM_ID's map even if its terms match."""
    _pin(claim_id, record_ids, False, reviewer, reason, claims_path, db)
