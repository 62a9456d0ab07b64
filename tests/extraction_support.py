"""Shared set-up for the extraction, risk-of-bias and full-text tests: the hand-labelled kratom sample
(tests/data/screening/kratom_sample.jsonl, real titles and abstracts) in a store, designs confirmed by a
person, and a few studies screened through to full-text inclusion."""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from review.models import DESIGN_TIER, AbstractSection, Author, Record

DATA = Path(__file__).parent / "data" / "screening" / "kratom_sample.jsonl"
ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "queries" / "extraction.yaml"
CLAIMS = ROOT / "queries" / "claims.yaml"
# record id -> labelled design, for the studies the tests include at full text
RCT, NONRAND, SURVEY, CASE_REPORT, CASE_SERIES = 59, 26, 27, 12, 23
INCLUDED = (CASE_REPORT, CASE_SERIES, NONRAND, SURVEY, RCT)


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def sample_records() -> list[Record]:
    out = []
    for i, d in enumerate(sample_rows()):
        out.append(Record(source="sample", source_id=str(i + 1), pmid=d["pmid"], doi=d["doi"], pmcid=d.get("pmcid"),
                          title=d["title"], abstract=(AbstractSection(d["abstract"]),) if d["abstract"] else (),
                          authors=tuple(Author(family=a.split()[-1]) for a in d["authors"]), journal=d["journal"],
                          year=d["year"]))
    return out


def confirm_designs(store, record_ids=INCLUDED, by: str = "alice") -> None:
    """A person confirms each record's labelled design (the design_overrides the forms follow)."""
    rows = sample_rows()
    for rid in record_ids:
        design = rows[rid - 1]["design"]
        store.add_override(rid, design, DESIGN_TIER[design].value, None, by, "confirmed from the full text",
                           f"2026-12-01T00:00:{rid % 60:02d}Z")


def include(store, record_ids=INCLUDED, reviewer: str = "alice") -> None:
    """Screening decisions: include at title/abstract and at full text (appended like an import would)."""
    rows = [(rid, stage, reviewer, "include", None, None, "decision", None, f"2026-12-01T01:00:{i:02d}Z")
            for i, rid in enumerate(record_ids) for stage in ("title_abstract", "full_text")]
    store.add_screening_rows(rows)


def sheet_rows(path: Path, sheet: str) -> tuple[list[str], list[list]]:
    ws = openpyxl.load_workbook(path)[sheet]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return list(rows[0]), rows[1:]


def fill(path: Path, sheet: str, values: dict, out: Path | None = None) -> Path:
    """Set cells: {(record_id, outcome_no or None): {column: value}}; rows not found are appended."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    done = set()
    for row in ws.iter_rows(min_row=2):
        rid = row[0].value
        no = row[header.index("outcome_no")].value if "outcome_no" in header else None
        key = (rid, no)
        if key in values:
            for col, v in values[key].items():
                row[header.index(col)].value = v
            done.add(key)
    for key, cols in values.items():
        if key not in done:
            r = ws.max_row + 1
            ws.cell(row=r, column=1, value=key[0])
            for col, v in cols.items():
                ws.cell(row=r, column=header.index(col) + 1, value=v)
    out = out or path
    wb.save(out)
    return out
