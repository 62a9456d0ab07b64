"""A person confirms a record's design: the review sheet (`review classify export-review` /
`import-review`) and the confirmed_design column of the full-text screening sheet.

A confirmation is appended to design_overrides with who and when, never replacing history; the
latest one wins over the classifier (Store.designs). Checking a sheet is pure and whole: every
problem is named by row and nothing is written unless every row passes.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.classify import needs_review
from review.errors import InputError
from review.models import DESIGN_TIER, DESIGNS, Design
from review.screening import (ABOUT_SHEET, SheetIdentity, _choice, _did_you_mean, _now_id, _record_cells,
                              check_name, check_row_key, key_hash, parse_record_id, read_sheet, write_sheet)

STAGE = "design"  # the stage a review sheet is logged under in screening_exports / screening_uploads
CONFIRM_COLUMN = "confirmed_design"
COLUMNS = ("record_id", "title", "abstract", "year", "journal", "pubmed", "doi", "suggested_design",
           "suggested_tier", "confidence", "design_reasons", CONFIRM_COLUMN, "notes")
REQUIRED = ("record_id", "title", CONFIRM_COLUMN)
WHAT = ("design review sheet: pick the study design in confirmed_design (a drop-down) for the records you "
        "can judge; leave it blank to skip; do not edit record_id or title; notes are kept as the reason")


@dataclass(frozen=True)
class Confirmation:
    """One checked row: the person's design for a record; change is 'new', 'changed' or 'unchanged'."""

    row: int
    record_id: int
    design: str
    notes: str | None
    change: str


def review_order(designs: Mapping[int, Design], record_ids: Sequence[int], *, everything: bool) -> list[int]:
    """Records a person should look at, unclassified first, then the least sure; all machine labels with everything."""
    chosen = [rid for rid in record_ids if rid in designs and not designs[rid].confirmed_by
              and (everything or needs_review(designs[rid]))]
    return sorted(chosen, key=lambda rid: (designs[rid].design != "unclassified", designs[rid].confidence, rid))


def check_confirmations(rows: Sequence[tuple[int, Mapping[str, str]]], designs: Mapping[int, Design],
                        reviewer: str, *, column: str = CONFIRM_COLUMN,
                        skip_rows: frozenset[int] = frozenset()) -> tuple[list[Confirmation], list[str]]:
    """Check the confirmed-design cell of each row (ids already checked); returns confirmations and problems.

    A design another person confirmed differently is not replaced from a sheet: that is a
    disagreement to settle by hand (`review classify override`), never a silent overwrite.
    """
    out: list[Confirmation] = []
    problems: list[str] = []
    for n, cells in rows:
        raw = cells.get(column, "")
        if not raw or n in skip_rows:
            continue
        rid = parse_record_id(cells.get("record_id", ""))
        if rid is None:
            continue
        design = _choice(raw, DESIGNS) or _choice(raw.replace(" ", "_"), DESIGNS)
        if design is None:
            hint = " (unclassified is what the sheet asks you to resolve; leave it blank to skip)" \
                if raw.strip().casefold() == "unclassified" else _did_you_mean(raw, DESIGNS)
            problems.append(f"row {n}: record {rid}: {column} {raw!r} is not a design, one of: "
                            f"{', '.join(DESIGNS)}{hint}")
            continue
        current = designs.get(rid)
        notes = cells.get("notes") or None
        if current is not None and current.confirmed_by:
            if current.design == design:
                out.append(Confirmation(n, rid, design, notes, "unchanged"))
                continue
            if current.confirmed_by != reviewer:
                problems.append(f"row {n}: record {rid}: {current.confirmed_by} confirmed {current.design}; "
                                f"{reviewer}'s {design} is a disagreement: settle it with `review classify "
                                f"override {rid} --design ...`")
                continue
            out.append(Confirmation(n, rid, design, notes, "changed"))
            continue
        out.append(Confirmation(n, rid, design, notes, "new"))
    return out, problems


def override_rows(confirmations: Sequence[Confirmation], reviewer: str, source: str, at: str) -> list[tuple]:
    """design_overrides rows (record_id, design, tier, self_reported, reviewer, reason, at) for the changes."""
    return [(c.record_id, c.design, DESIGN_TIER[c.design].value, None, reviewer,
             f"confirmed on {source}" + (f": {c.notes}" if c.notes else ""), at)
            for c in confirmations if c.change != "unchanged"]


# ===================================================================== store-facing operations

@dataclass(frozen=True)
class ReviewExport:
    path: str
    export_id: str
    reviewer: str
    n_rows: int
    n_unclassified: int
    n_low: int

    def line(self) -> str:
        rest = self.n_rows - self.n_unclassified - self.n_low
        others = f", {rest} other machine-suggested" if rest else ""
        return (f"wrote {self.n_rows} records to {self.path} for {self.reviewer} ({self.n_unclassified} unclassified, "
                f"{self.n_low} low confidence{others}; export {self.export_id})")


@dataclass(frozen=True)
class ReviewImport:
    path: str
    reviewer: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    blank: int = 0
    already_imported_at: str | None = None

    def line(self) -> str:
        if self.already_imported_at:
            return f"{self.path} was already imported for {self.reviewer} on {self.already_imported_at}: nothing to do"
        return (f"{self.path} ({self.reviewer}): {self.new} new, {self.changed} changed, {self.unchanged} unchanged "
                f"confirmed designs; rows left blank: {self.blank}")


def export_review(store, out: Path, reviewer: str, *, everything: bool = False,
                  now: str | None = None) -> ReviewExport:
    """Write the records that need a person (unclassified or low confidence; every machine label with everything)."""
    from review.store import utcnow

    reviewer = check_name(reviewer)
    records = dict(store.canonical_records())
    designs = store.designs()
    chosen = review_order(designs, sorted(records), everything=everything)
    rows = []
    for rid in chosen:
        d = designs[rid]
        cells = _record_cells(rid, records[rid])
        cells |= {"suggested_design": d.design, "suggested_tier": d.tier.value, "confidence": round(d.confidence, 2),
                  "design_reasons": " | ".join(d.reasons), CONFIRM_COLUMN: "", "notes": ""}
        rows.append({c: cells.get(c) for c in COLUMNS})
    now = now or utcnow()
    identity = SheetIdentity(_now_id(now), STAGE, reviewer)
    tiers = "; ".join(f"{d} = {DESIGN_TIER[d].value}" for d in DESIGNS)
    about = [("exported_at", now), ("records", str(len(rows))), ("designs (tier)", tiers),
             ("confirmed_design", f"pick from the list (see column D onwards of the '{ABOUT_SHEET}' sheet)")]
    write_sheet(out, identity, COLUMNS, rows, {CONFIRM_COLUMN: DESIGNS}, about, what=WHAT)
    store.save_screening_export(identity.export_id, STAGE, reviewer, now, chosen,
                                [key_hash(r["record_id"], r["title"]) for r in rows])
    n_uncl = sum(designs[rid].design == "unclassified" for rid in chosen)
    n_low = sum(needs_review(designs[rid]) for rid in chosen) - n_uncl
    return ReviewExport(str(out), identity.export_id, reviewer, len(rows), n_uncl, n_low)


def _check_rows(sheet, export: Mapping[str, Any], known: frozenset[int],
                duplicate_of: Mapping[int, int]) -> tuple[list[str], int]:
    """Row-level checks of the key columns (as a screening sheet's); returns problems and rows left blank."""
    exported = dict(zip(export["record_ids"], export["key_hash"]))
    problems: list[str] = []
    first: dict[int, int] = {}
    blank = 0
    for n, cells in sheet.rows:
        _, problem = check_row_key(n, cells, exported, known, duplicate_of, first)
        if problem:
            problems.append(problem)
        elif not cells.get(CONFIRM_COLUMN):
            blank += 1
    return problems, blank


def import_review(store, path: Path, reviewer: str, *, now: str | None = None) -> ReviewImport:
    """Check a filled review sheet whole and append the person's designs; all rows or nothing."""
    from review.store import utcnow

    reviewer = check_name(reviewer)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    file_hash = hashlib.sha256(data).hexdigest()
    sheet = read_sheet(path, data, required=REQUIRED)
    with store.transaction():
        ident = sheet.identity
        export = store.screening_export(ident.export_id) if ident else None
        problems = [p for p in sheet.problems if p.startswith("missing column")]
        if ident is None:
            problems.append("no export id found: fill a sheet written by `review classify export-review`")
        elif export is None:
            problems.append(f"export id {ident.export_id!r} is unknown to this store: was the sheet exported from "
                            "another store?")
        elif export["stage"] != STAGE:
            problems.append(f"this is a {export['stage']} screening sheet, not a design review sheet: import it "
                            "with `review screen import`")
        elif (ident.stage, ident.reviewer) != (export["stage"], export["reviewer"]):
            problems.append(f"the sheet's stage/reviewer ({ident.stage}, {ident.reviewer}) were edited")
        elif export["reviewer"] != reviewer:
            problems.append(f"this sheet was exported for {export['reviewer']!r}, not {reviewer!r}")
        if problems:
            raise InputError(f"{path}: cannot be imported; nothing was written", problems)
        prior = store.screening_upload(file_hash, reviewer, STAGE)
        if prior is not None:
            return ReviewImport(str(path), reviewer, already_imported_at=prior["at"])
        row_problems, blank = _check_rows(sheet, export, frozenset(store.stored_record_ids()), store.duplicate_of())
        bad_rows = frozenset(_row_of(p) for p in row_problems)
        confirmations, design_problems = check_confirmations(sheet.rows, store.designs(), reviewer,
                                                             skip_rows=bad_rows)
        problems = sorted(sheet.problems + row_problems + design_problems, key=_row_of)
        if problems:
            raise InputError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
        now = now or utcnow()
        store.add_overrides(override_rows(confirmations, reviewer, f"review sheet {path.name}", now))
        store.save_screening_upload(file_hash, reviewer, STAGE, path.name, len(sheet.rows), now, [])
    counts = Counter(c.change for c in confirmations)
    return ReviewImport(str(path), reviewer, counts["new"], counts["changed"], counts["unchanged"], blank)


def _row_of(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head[4:]) if head.startswith("row ") and head[4:].isdigit() else 0
