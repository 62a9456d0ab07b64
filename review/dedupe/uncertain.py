"""Uncertain pairs for a person: a spreadsheet to decide them, and its validated re-import."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from review.errors import InputError
from review.export import record_row
from review.sheets import neutralise_csv
from review.store import Store, utcnow

DECISIONS = ("duplicate", "distinct")
KEY_COLUMNS = ("pair_id", "record_a", "record_b")
SHOWN = ("source", "source_id", "pmid", "doi", "title", "authors", "year", "journal", "volume", "issue", "pages")
def safe_cell(value):
    """Text that a spreadsheet will not run as a formula."""
    return neutralise_csv(value) if isinstance(value, str) else value


def uncertain_frame(store: Store) -> pd.DataFrame:
    """One row per open uncertain pair: both records side by side, scores, the reason, a decision column."""
    rows = []
    for p in store.uncertain_pairs():
        a, b = store.get_record(p["record_a"]), store.get_record(p["record_b"])
        ra, rb = record_row(p["record_a"], a), record_row(p["record_b"], b)
        row = {"pair_id": f"{p['record_a']}-{p['record_b']}", "record_a": p["record_a"], "record_b": p["record_b"],
               "reason": p["reason"], "decision": "", "note": ""}
        for k in SHOWN:
            row[f"a_{k}"], row[f"b_{k}"] = ra[k], rb[k]
        scores = p["scores"] or {}
        row["scores"] = ", ".join(f"{k}={v}" for k, v in scores.items() if v is not None)
        rows.append(row)
    cols = [*KEY_COLUMNS, "reason", "decision", "note", *(f"{s}_{k}" for k in SHOWN for s in ("a", "b")), "scores"]
    return pd.DataFrame(rows, columns=cols)


def write_uncertain(df: pd.DataFrame, path: Path) -> None:
    """xlsx with a drop-down for the decision, or csv; cells neutralised against formulas."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = df.map(safe_cell)
    if path.suffix.lower() == ".csv":
        safe.to_csv(path, index=False, encoding="utf-8-sig")
        return
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "uncertain pairs"
    ws.append(list(safe.columns))
    for row in safe.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    col = list(safe.columns).index("decision") + 1
    letter = ws.cell(row=1, column=col).column_letter
    dv = DataValidation(type="list", formula1='"' + ",".join(DECISIONS) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle="decision", error="Choose duplicate or distinct")
    ws.add_data_validation(dv)
    dv.add(f"{letter}2:{letter}{max(2, ws.max_row)}")
    ws.freeze_panes = "D2"
    for i, name in enumerate(safe.columns, 1):
        width = 45 if name.endswith("title") else 12 if name in KEY_COLUMNS else 18
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
    wb.save(path)


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl/pandas raise many kinds for a broken file
        raise InputError(f"{path}: cannot read the decisions sheet: {exc}") from None


def read_decisions(path: Path, store: Store) -> list[tuple[int, int, str, str | None]]:
    """Validate the whole sheet first; every problem names its row. Blank decisions are skipped."""
    path = Path(path)
    df = _read(path)
    missing = [c for c in (*KEY_COLUMNS, "decision") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; export the sheet with "
                         "`review dedupe export-uncertain` and fill in the 'decision' column")
    known = {(p["record_a"], p["record_b"]) for p in store.uncertain_pairs()}
    decided = store.pair_decisions()
    problems, out, seen = [], [], set()
    for i, row in enumerate(df.itertuples(index=False), start=2):  # row 1 is the header
        r = row._asdict()
        decision = str(r["decision"]).strip().lower()
        try:
            a, b = int(r["record_a"]), int(r["record_b"])
        except ValueError:
            problems.append(f"row {i}: record_a/record_b must be record ids (got {r['record_a']!r}, {r['record_b']!r})")
            continue
        if str(r["pair_id"]).strip() != f"{a}-{b}":
            problems.append(f"row {i}: pair_id {r['pair_id']!r} does not match record_a/record_b; key columns "
                            "were edited")
            continue
        pair = (min(a, b), max(a, b))
        if pair in seen:
            problems.append(f"row {i}: pair {a}-{b} appears twice")
            continue
        seen.add(pair)
        if not decision:
            continue
        if decision not in DECISIONS:
            problems.append(f"row {i}: decision {r['decision']!r} is not one of {', '.join(DECISIONS)}")
            continue
        if pair not in known and pair not in decided:
            problems.append(f"row {i}: pair {a}-{b} is not an uncertain pair of this store")
            continue
        if decided.get(pair) == decision:
            continue  # already recorded: importing the same sheet again changes nothing
        note = str(r.get("note", "") or "").strip() or None
        out.append((a, b, decision, note))
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s); nothing was recorded", problems)
    return out


def import_decisions(store: Store, path: Path, *, by: str) -> int:
    """Record a person's decisions on uncertain pairs (all or nothing); returns how many."""
    rows = read_decisions(path, store)
    at = utcnow()
    file_hash = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    store.add_pair_decisions((a, b, d, by, at, (note or "") + f" [sheet {file_hash}]") for a, b, d, note in rows)
    return len(rows)


def scores_json(scores: dict) -> str:
    return json.dumps(scores, sort_keys=True)
