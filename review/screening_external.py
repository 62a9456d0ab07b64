"""Screening decisions made in other tools (Rayyan, Covidence, a decisions table) -> screening history.

Another tool's export is matched to the store's records by PMID, then DOI, then title, and each
decision is appended to the history of a named reviewer, with the same checks as a sheet: the
record must be due at the stage, a full-text exclusion needs a reason from the list, nothing is
written when any row is wrong. What cannot be imported (other reviewers' decisions, reasons not
in the list, rows without a decision) is said in warnings, never dropped without a word.

- **Rayyan** (CSV export): decisions, labels and exclusion reasons sit in the ``notes`` column as
  ``RAYYAN-INCLUSION: {"Alice"=>"Included", "Bob"=>"Excluded"} | RAYYAN-LABELS: a,b |
  RAYYAN-EXCLUSION-REASONS: wrong population``; ids in ``pubmed_id`` and ``doi``.
- **Covidence** (CSV export of one list: included, excluded, irrelevant, ...): the list is the
  decision (``--decision``); ``Accession Number`` is the PMID for PubMed records; ``Notes`` and
  ``Tags`` become notes; an ``Exclusion reason`` column is used when present.
- **table**: any CSV with ``decision`` and a ``pmid``/``pubmed``, ``doi`` or ``title`` column
  (and optionally ``reason``, ``notes``), e.g. a filled ``review screen export`` sheet.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from review.errors import InputError
from review.models import Record
from review.screening import (
    DECISIONS,
    ScreeningConfig,
    _choice,
    _fold,
    check_name,
    check_stage,
    load_state,
    refusal,
)

TOOLS: tuple[str, ...] = ("rayyan", "covidence", "table")

_RAYYAN_DECISION = {"included": "include", "excluded": "exclude", "maybe": "maybe",
                    "include": "include", "exclude": "exclude"}
_PAIR = re.compile(r'"([^"]+)"\s*=>\s*"([^"]*)"')
_PMID_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d+)")


@dataclass(frozen=True)
class ExternalRow:
    """One row of another tool's export: who decided what, and how to find the record."""

    row: int  # spreadsheet row number (the header is row 1)
    pmid: str | None
    doi: str | None
    title: str | None
    year: str | None
    decisions: Mapping[str, str]  # the tool's reviewer name ('' when the file names none) -> decision
    reasons: tuple[str, ...] = ()
    notes: str | None = None
    record_id: int | None = None  # a kratom-review sheet's id: only breaks ties between same-titled records


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9#]", "", name.casefold())


def _column(header: Sequence[str], *names: str) -> str | None:
    by_key = {_key(h): h for h in header}
    return next((by_key[_key(n)] for n in names if _key(n) in by_key), None)


def detect_tool(header: Sequence[str], cells: Sequence[Mapping[str, str]]) -> str:
    if _column(header, "Covidence #"):
        return "covidence"
    notes = _column(header, "notes")
    if notes and any("RAYYAN-" in (c.get(notes) or "") for c in cells):
        return "rayyan"
    if _column(header, "decision"):
        return "table"
    raise InputError("cannot tell which tool wrote this file: expected a Rayyan export (RAYYAN-INCLUSION in "
                     "'notes'), a Covidence export ('Covidence #' column) or a table with a 'decision' column; "
                     "say which with --from")


def parse_rayyan_notes(text: str) -> tuple[dict[str, str], list[str], list[str], str]:
    """'free notes | RAYYAN-INCLUSION: {...} | RAYYAN-LABELS: a,b | RAYYAN-EXCLUSION-REASONS: r'
    -> (reviewer -> Rayyan decision, labels, exclusion reasons, the free notes)."""
    decisions: dict[str, str] = {}
    labels: list[str] = []
    reasons: list[str] = []
    free: list[str] = []
    for part in (p.strip() for p in re.split(r"\s*\|\s+", text or "")):
        if not part:
            continue
        if part.startswith("RAYYAN-INCLUSION:"):
            decisions.update((a.strip(), b.strip()) for a, b in _PAIR.findall(part))
        elif part.startswith("RAYYAN-LABELS:"):
            for label in part.split(":", 1)[1].split(","):
                label = label.strip()
                if label.startswith("__EXR__"):  # Rayyan keeps exclusion reasons as labels internally
                    reasons.append(label[len("__EXR__"):].strip())
                elif label:
                    labels.append(label)
        elif part.startswith("RAYYAN-EXCLUSION-REASONS:"):
            reasons += [r.strip() for r in part.split(":", 1)[1].split(",") if r.strip()]
        else:
            free.append(re.sub(r"</?p>", " ", part).strip())
    return decisions, labels, reasons, " ".join(f for f in free if f)


def _pmid(value: str | None) -> str | None:
    value = (value or "").strip()
    if value.isdigit():
        return value
    m = _PMID_URL.search(value)
    return m.group(1) if m else None


def _doi(value: str | None) -> str | None:
    from review.parse.fields import clean_doi

    return clean_doi(value) if value and value.strip() else None


def rows_of(header: Sequence[str], cells: Sequence[Mapping[str, str]], tool: str, *,
            decision: str | None = None, reason: str | None = None) -> tuple[list[ExternalRow], list[str]]:
    """The tool's rows -> ExternalRow, plus warnings about what is not imported."""
    col = {name: _column(header, *names) for name, names in {
        "pmid": ("pubmed_id", "pmid", "pubmed", "PubMed ID", "Accession Number"),
        "doi": ("doi",), "title": ("title",), "year": ("year", "Published Year"),
        "notes": ("notes",), "decision": ("decision",), "reason": ("reason", "Exclusion reason",
                                                                    "Reason for exclusion"),
        "tags": ("Tags",), "covidence": ("Covidence #",), "record_id": ("record_id",),
    }.items()}
    if not (col["pmid"] or col["doi"] or col["title"]):
        raise InputError("no column to find the records by: expected pmid/pubmed_id, doi or title")
    if tool == "covidence" and decision is None:
        raise InputError("a Covidence export is one list (included, excluded, irrelevant, ...) and does not "
                         "say the decision: give it with --decision include|exclude|maybe")
    if tool == "table" and not col["decision"]:
        raise InputError("a decisions table needs a 'decision' column")
    warnings: list[str] = []
    out = []
    labelled = 0
    for n, c in enumerate(cells, start=2):
        get = lambda name: (c.get(col[name]) or "").strip() if col[name] else ""  # noqa: E731
        notes: list[str] = []
        reasons: list[str] = [reason] if reason else []
        if tool == "rayyan":
            found, labels, rayyan_reasons, free = parse_rayyan_notes(get("notes"))
            decisions = {who: _RAYYAN_DECISION.get(d.casefold(), d) for who, d in found.items()}
            reasons += rayyan_reasons
            if free:
                notes.append(free)
            if labels:
                labelled += 1
                notes.append("Rayyan labels: " + ", ".join(labels))
        elif tool == "covidence":
            decisions = {"": decision}
            if get("reason"):
                reasons.append(get("reason"))
            notes += [x for x in (get("notes"), f"Covidence tags: {get('tags')}" if get("tags") else "",
                                  f"Covidence #{get('covidence').lstrip('#')}" if get("covidence") else "") if x]
        else:
            decisions = {"": get("decision")} if get("decision") else {}
            if get("reason"):
                reasons.append(get("reason"))
            if get("notes"):
                notes.append(get("notes"))
        rid = get("record_id") if tool == "table" else ""
        out.append(ExternalRow(n, _pmid(get("pmid")), _doi(get("doi")), get("title") or None, get("year") or None,
                               decisions, tuple(reasons), "; ".join(notes) or None,
                               int(rid) if rid.isdigit() else None))
    if labelled:
        warnings.append(f"Rayyan labels of {labelled} record(s) were kept in the decisions' notes (labels are "
                        "not decisions)")
    return out, warnings


# ---------------------------------------------------------------- matching

def _title_key(title: str | None) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", title or "").casefold() if ch.isalnum())


@dataclass
class RecordIndex:
    """PMID, DOI and title -> canonical record ids (a duplicate's ids point to its cluster's primary)."""

    pmid: dict[str, set[int]] = field(default_factory=dict)
    doi: dict[str, set[int]] = field(default_factory=dict)
    title: dict[str, set[int]] = field(default_factory=dict)
    year: dict[int, int | None] = field(default_factory=dict)

    @classmethod
    def build(cls, records: Mapping[int, Record], all_records: Sequence[tuple[int, Record]],
              duplicate_of: Mapping[int, int]) -> "RecordIndex":
        idx = cls()
        for rid, r in [*records.items(), *all_records]:
            canon = duplicate_of.get(rid, rid)
            if canon not in records:
                continue
            idx.year[canon] = records[canon].year
            if r.pmid:
                idx.pmid.setdefault(r.pmid, set()).add(canon)
            if r.doi:
                idx.doi.setdefault(r.doi.casefold(), set()).add(canon)
            if _title_key(r.title):
                idx.title.setdefault(_title_key(r.title), set()).add(canon)
        return idx

    def find(self, row: ExternalRow) -> tuple[int | None, str]:
        """(record id, how) or (None, why not)."""
        for how, key, table in (("PMID", row.pmid, self.pmid), ("DOI", (row.doi or "").casefold(), self.doi),
                                ("title", _title_key(row.title), self.title)):
            ids = table.get(key) if key else None
            if not ids:
                continue
            if how == "title" and row.year and row.year[:4].isdigit():
                ids = {i for i in ids if self.year.get(i) in (None, int(row.year[:4]))} or ids
            if len(ids) == 1:
                return next(iter(ids)), how
            if row.record_id in ids:  # same title twice (an article and its conference abstract)
                return row.record_id, f"{how} and record_id"
            return None, f"its {how} matches {len(ids)} records ({', '.join(map(str, sorted(ids)))})"
        return None, "no record in the store has its PMID, DOI or title"


# ---------------------------------------------------------------- the import

@dataclass
class ExternalSummary:
    file: str
    tool: str
    stage: str
    reviewer: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    undecided: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    already_imported_at: str | None = None

    def line(self) -> str:
        if self.already_imported_at:
            return (f"{self.file} ({self.stage}, {self.reviewer}): already imported at {self.already_imported_at}; "
                    "nothing to do")
        s = (f"{self.file} ({self.tool}, {self.stage}, {self.reviewer}): {self.new} new, {self.changed} changed, "
             f"{self.unchanged} unchanged decisions; rows without a decision: {self.undecided}")
        return s + (f"; {len(self.skipped)} rows skipped" if self.skipped else "")


def _read_csv(path: Path, data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    import csv
    import io

    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else ",", delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    if not rows:
        raise InputError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    cells = []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(header) and any(x.strip() for x in r):
            raise InputError(f"{path}: row {n} has {len(r)} values but the header has {len(header)} "
                             "(a stray delimiter or quote?); nothing was imported")
        cells.append(dict(zip(header, r)))
    return header, cells


def import_external(store, path: Path, reviewer: str, stage: str, *, tool: str | None = None,
                    who: str | None = None, decision: str | None = None, reason: str | None = None,
                    skip_unmatched: bool = False, config: ScreeningConfig | None = None,
                    now: str | None = None) -> ExternalSummary:
    """Append another tool's decisions at ``stage`` as ``reviewer``'s history; all rows or none."""
    from review.store import utcnow

    config = config or ScreeningConfig()
    reviewer = check_name(reviewer)
    check_stage(stage)
    if tool is not None and tool not in TOOLS:
        raise InputError(f"unknown tool {tool!r}: use one of {', '.join(TOOLS)}")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    header, cells = _read_csv(path, data)
    tool = tool or detect_tool(header, cells)
    try:
        rows, warnings = rows_of(header, cells, tool, decision=decision, reason=reason)
    except InputError as exc:
        raise InputError(f"{path}: {exc}; nothing was imported") from None
    names = Counter(n for r in rows for n in r.decisions)
    if tool == "rayyan":
        if who is None:
            if len(names) > 1:
                raise InputError(f"{path}: decisions of {len(names)} Rayyan reviewers ("
                                 f"{', '.join(sorted(names))}): say whose to import with --rayyan-name; "
                                 "nothing was imported")
            who = next(iter(names), "")
        elif who not in names:
            raise InputError(f"{path}: no decisions by {who!r} in this Rayyan export (reviewers: "
                             f"{', '.join(sorted(names)) or 'none'}); nothing was imported")
        others = {n: k for n, k in names.items() if n != who}
        if others:
            warnings.append("not imported: the decisions of " + ", ".join(
                f"{n} ({k})" for n, k in sorted(others.items())) + "; import each with --rayyan-name NAME "
                "--reviewer THEIR_NAME")
    else:
        who = ""
    file_hash = hashlib.sha256(data).hexdigest()
    summary = ExternalSummary(str(path), tool, stage, reviewer, warnings=warnings)
    with store.transaction():
        prior = store.screening_upload(file_hash, reviewer, stage)
        if prior is not None:
            summary.already_imported_at = prior["at"]
            return summary
        state = load_state(store, config)
        index = RecordIndex.build(state.records, list(store.iter_records()), state.duplicate_of)
        allowed = DECISIONS[stage]
        choices = config.reasons.get(stage, ())
        problems: list[str] = []
        history = []
        first_row: dict[int, int] = {}
        dropped_reasons = 0
        for row in rows:
            raw = row.decisions.get(who, "")
            if not raw:
                summary.undecided += 1
                continue
            rid, how = index.find(row)
            label = f"row {row.row} ({(row.title or row.pmid or row.doi or '')[:60]!r})"
            if rid is None:
                (summary.skipped if skip_unmatched else problems).append(f"{label}: {how}")
                continue
            if rid in first_row:
                problems.append(f"{label}: record {rid} was already decided on row {first_row[rid]}")
                continue
            first_row[rid] = row.row
            dec = _choice(raw, allowed)
            if dec is None:
                problems.append(f"{label}: decision {raw!r} is not one of {', '.join(allowed)} at {stage}")
                continue
            notes = [row.notes] if row.notes else []
            chosen = None
            if dec == "exclude":
                listed = [c for c in (_choice(x, choices) if choices else " ".join(x.split()) for x in row.reasons)
                          if c]
                chosen = listed[0] if listed else None
                rest = [x for x in row.reasons if (_choice(x, choices) if choices else x) != chosen]
                if rest:
                    dropped_reasons += 1
                    notes.append("other exclusion reasons: " + ", ".join(rest))
                if chosen is None and stage in config.reason_required:
                    given = f" ({', '.join(row.reasons)} not in the list)" if row.reasons else ""
                    problems.append(f"{label}: an exclusion at {stage} needs a reason, one of: "
                                    f"{'; '.join(choices)}{given}")
                    continue
            elif row.reasons and tool != "covidence":
                notes.append("exclusion reasons given: " + ", ".join(row.reasons))
            note = "; ".join(notes) or None
            st = state.statuses[rid][stage]
            mine = st.reviewers.get(reviewer)
            if mine is not None and (mine.decision, mine.reason, mine.notes) == (dec, chosen, note):
                summary.unchanged += 1
                continue
            why = refusal(state.statuses[rid], stage, "decide")
            if why:
                problems.append(f"{label}: record {rid} ({how} match) cannot be decided at {stage}: {why}")
                continue
            if mine is None:
                summary.new += 1
            else:
                summary.changed += 1
            history.append((rid, stage, reviewer, dec, chosen, note, "decision", file_hash))
        if problems:
            raise InputError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
        if dropped_reasons:
            summary.warnings.append(f"{dropped_reasons} exclusion(s) had reasons not in the {stage} list or more "
                                    "than one; they were kept in notes")
        if summary.skipped:
            summary.warnings.append(f"{len(summary.skipped)} row(s) matched no record and were skipped "
                                    "(--skip-unmatched)")
        now = now or utcnow()
        store.save_screening_upload(file_hash, reviewer, stage, path.name, len(rows), now,
                                    [h + (now,) for h in history])
    return summary
