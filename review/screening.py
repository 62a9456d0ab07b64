"""Title/abstract and full-text screening: sheets out, decisions in, conflicts, agreement.

The flow: ``export_sheet`` writes the records a reviewer has still to decide (xlsx or csv,
with its identity: export id, stage, reviewer); the reviewer fills *decision*, *reason* and
*notes*; ``import_sheet`` checks the whole file and appends the decisions to the history, or
writes nothing. Current states are always computed from that append-only history
(``compute_statuses``), never stored, so a PRISMA count can be re-derived at any time.

Statuses per record and stage (``State``) and what may happen next (``TRANSITIONS``):

    ==========  ============================  ==========================  ==============
    state       decide (new/changed)          resolve                     reopen
    ==========  ============================  ==========================  ==============
    not_due     refused (earlier stage)       refused                     refused
    undecided   yes                           refused (nothing to solve)  refused
    pending     yes                           yes                         yes
    decided     yes                           yes (adjudication)          yes
    conflict    yes                           yes                         yes
    resolved    refused: re-open first        refused: re-open first      yes
    ==========  ============================  ==========================  ==============

A record is *due* at title/abstract always, and at full text only while its final
title/abstract status is include or maybe. A title/abstract decision or resolution is also
refused once the record has full-text decisions: re-open it at title/abstract first. A
re-open starts the stage afresh (all earlier decisions at that stage and at later stages stop
counting; they stay in the history).
"""
from __future__ import annotations

import csv
import difflib
import enum
import hashlib
import io
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from review.sheets import is_formula_like, neutralise_csv, unneutralise_csv  # noqa: F401 (re-exported)
from review.errors import ConfigError, InputError, ReviewError
from review.models import DESIGNS, Record

# ===================================================================== vocabulary

TITLE_ABSTRACT = "title_abstract"
FULL_TEXT = "full_text"
STAGES: tuple[str, ...] = (TITLE_ABSTRACT, FULL_TEXT)
DECISIONS: dict[str, tuple[str, ...]] = {
    TITLE_ABSTRACT: ("include", "exclude", "maybe"),
    FULL_TEXT: ("include", "exclude"),
}
FORWARD = frozenset({"include", "maybe"})  # decisions that carry a record to the next stage
RESOLUTION_SHEET = "(resolution)"  # the reviewer recorded for a conflicts sheet: any resolver may fill it
DEFAULT_CONFIG_PATH = Path("queries") / "screening.yaml"


class State(str, enum.Enum):
    """Where one record stands at one stage."""

    NOT_DUE = "not_due"
    UNDECIDED = "undecided"
    PENDING = "pending"  # fewer reviewers than reviewers_per_record have decided
    DECIDED = "decided"  # the reviewers agree
    CONFLICT = "conflict"  # they disagree (on the decision, or at full text on the reason)
    RESOLVED = "resolved"  # a resolution row settles it


# None = allowed; otherwise why not ({by}: who resolved it). See the table in the module docstring.
TRANSITIONS: dict[State, dict[str, str | None]] = {
    State.NOT_DUE: {"decide": "it is not due at this stage ({why})",
                    "resolve": "it is not due at this stage ({why})",
                    "reopen": "there is nothing to re-open: it is not due at this stage ({why})"},
    State.UNDECIDED: {"decide": None,
                      "resolve": "there is nothing to resolve: no reviewer has decided it",
                      "reopen": "there is nothing to re-open: no reviewer has decided it"},
    State.PENDING: {"decide": None, "resolve": None, "reopen": None},
    State.DECIDED: {"decide": None, "resolve": None, "reopen": None},
    State.CONFLICT: {"decide": None, "resolve": None, "reopen": None},
    State.RESOLVED: {"decide": "it was resolved by {by}; re-open it first (review screen reopen)",
                     "resolve": "it was already resolved by {by}; re-open it first (review screen reopen)",
                     "reopen": None},
}
LATER_STAGE_LOCK = ("it already has full-text decisions; re-open it at title_abstract first "
                    "(review screen reopen ... --stage title_abstract), which voids them")


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    return stage


def check_name(name: str, what: str = "reviewer") -> str:
    """A reviewer's name as recorded: trimmed, non-empty, not the conflicts-sheet marker."""
    name = " ".join(str(name or "").split())
    if not name or name.startswith("(") or len(name) > 100:
        raise InputError(f"{what} name {name!r} is not usable: give a short name such as 'alice'")
    return name


# ===================================================================== settings

@dataclass(frozen=True)
class ScreeningConfig:
    """Exclusion reasons per stage, where a reason is required, and how many reviewers must decide."""

    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {
        TITLE_ABSTRACT: ("not kratom", "not human", "no withdrawal/OUD outcome", "wrong publication type"),
        FULL_TEXT: ("wrong population", "not kratom", "no withdrawal/OUD outcome", "wrong publication type",
                    "duplicate report", "not retrievable"),
    })
    reason_required: frozenset[str] = frozenset({FULL_TEXT})
    reviewers_per_record: int = 1
    path: str | None = None


def load_config(path: str | Path | None = None) -> ScreeningConfig:
    """Settings from a YAML file; with no path, the default file if present, else built-in defaults."""
    if path is None:
        from review.config import project_path  # the project's file, also from notebooks/

        path = DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else project_path(DEFAULT_CONFIG_PATH)
        if not path.exists():
            return ScreeningConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read screening settings {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))


def parse_config(data: Any, where: str = "screening settings") -> ScreeningConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with exclusion_reasons, reason_required, "
                          "reviewers_per_record")
    unknown = set(data) - {"exclusion_reasons", "reason_required", "reviewers_per_record"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    default = ScreeningConfig()
    reasons = dict(default.reasons)
    given = data.get("exclusion_reasons", {}) or {}
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: exclusion_reasons must map a stage to a list of reasons")
    for stage, items in given.items():
        if stage not in STAGES:
            raise ConfigError(f"{where}: exclusion_reasons has unknown stage {stage!r} (use {', '.join(STAGES)})")
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise ConfigError(f"{where}: exclusion_reasons.{stage} must be a list of non-empty texts")
        cleaned = tuple(" ".join(i.split()) for i in items)
        dup = [k for k, n in Counter(_fold(i) for i in cleaned).items() if n > 1]
        if dup:
            raise ConfigError(f"{where}: exclusion_reasons.{stage} lists {dup[0]!r} twice")
        reasons[stage] = cleaned
    required = data.get("reason_required", sorted(default.reason_required))
    if not isinstance(required, list) or not set(required) <= set(STAGES):
        raise ConfigError(f"{where}: reason_required must be a list of stages ({', '.join(STAGES)})")
    for stage in required:
        if not reasons.get(stage):
            raise ConfigError(f"{where}: reason_required names {stage} but exclusion_reasons.{stage} is empty")
    n = data.get("reviewers_per_record", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"{where}: reviewers_per_record must be a whole number of at least 1")
    return ScreeningConfig(reasons=reasons, reason_required=frozenset(required), reviewers_per_record=n, path=where)


# ===================================================================== small text helpers

_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EXCEL_CELL_MAX = 32767


def _fold(text: str) -> str:
    """Case and whitespace folded, for tolerant matching of typed values."""
    return " ".join(str(text).split()).casefold()


def cell_text(value: Any) -> str:
    """What a reviewer sees in a cell, as text (12.0 -> '12'); formulas stay their text, never evaluated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def key_hash(record_id: int, title: str | None) -> str:
    """Hash of a row's key columns; title folded (case, spacing, punctuation) so harmless resaves pass."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKC", title or "").casefold() if ch.isalnum())
    return hashlib.sha256(f"{record_id}\x1f{folded}".encode("utf-8")).hexdigest()[:16]


def _choice(value: str, allowed: Sequence[str]) -> str | None:
    """The allowed value matching `value` up to case and spacing, else None."""
    by_fold = {_fold(a): a for a in allowed}
    return by_fold.get(_fold(value))


def _did_you_mean(value: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(_fold(value), [_fold(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def pubmed_url(pmid: str | None) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else ""


def doi_url(doi: str | None) -> str:
    return f"https://doi.org/{doi}" if doi else ""


# ===================================================================== history -> status (pure)

@dataclass(frozen=True)
class Entry:
    """One reviewer's current decision on a record at a stage."""

    decision: str
    reason: str | None
    notes: str | None
    decision_id: int


@dataclass(frozen=True)
class StageStatus:
    """One record at one stage, derived from the history."""

    state: State
    decision: str | None = None  # the final decision while DECIDED or RESOLVED
    reason: str | None = None
    reviewers: Mapping[str, Entry] = field(default_factory=dict)
    resolved_by: str | None = None
    conflict: str | None = None  # 'decision' | 'reason' while CONFLICT
    why_not_due: str = ""

    @property
    def status(self) -> str:
        """'not_due', 'undecided', 'pending', 'conflict', or the final decision."""
        if self.state in (State.DECIDED, State.RESOLVED):
            return self.decision or ""
        return self.state.value

    @property
    def final(self) -> bool:
        return self.state in (State.DECIDED, State.RESOLVED)

    @property
    def active(self) -> bool:
        """Has this stage anything in its current round (decisions or a resolution)?"""
        return bool(self.reviewers) or self.state == State.RESOLVED


def _carry(stage: str, decision: str) -> str:
    """For agreement, include and maybe are the same call at title/abstract: both carry forward."""
    return "forward" if stage == TITLE_ABSTRACT and decision in FORWARD else decision


def stage_status(stage: str, rows: Sequence[Mapping[str, Any]], reviewers_per_record: int) -> StageStatus:
    """Status of one record at a due stage from its history rows of the current round (oldest first)."""
    current: dict[str, Entry] = {}
    resolution = None
    for r in rows:
        if r["kind"] == "decision":
            current[r["reviewer"]] = Entry(r["decision"], r["reason"], r["notes"], r["decision_id"])
        elif r["kind"] == "resolution":
            resolution = r
    if resolution is not None:
        return StageStatus(State.RESOLVED, resolution["decision"], resolution["reason"], current,
                           resolved_by=resolution["reviewer"])
    if not current:
        return StageStatus(State.UNDECIDED)
    decisions = {e.decision for e in current.values()}
    if len({_carry(stage, d) for d in decisions}) > 1:
        return StageStatus(State.CONFLICT, reviewers=current, conflict="decision")
    reasons = {_fold(e.reason) if e.reason else "" for e in current.values()}
    if stage == FULL_TEXT and decisions == {"exclude"} and len(reasons) > 1:
        return StageStatus(State.CONFLICT, reviewers=current, conflict="reason")
    if len(current) < reviewers_per_record:
        return StageStatus(State.PENDING, reviewers=current)
    decision = decisions.pop() if len(decisions) == 1 else "maybe"  # include + maybe: someone was unsure
    given = [e.reason for e in current.values() if e.reason]
    reason = given[0] if given and len({_fold(g) for g in given}) == 1 else None
    return StageStatus(State.DECIDED, decision, reason, current)


def compute_statuses(history: Iterable[Mapping[str, Any]], record_ids: Iterable[int],
                     reviewers_per_record: int = 1) -> dict[int, dict[str, StageStatus]]:
    """record_id -> stage -> StageStatus for the given records, from history rows in any order."""
    by_record: dict[int, list[Mapping[str, Any]]] = {}
    for r in history:
        by_record.setdefault(r["record_id"], []).append(r)
    out: dict[int, dict[str, StageStatus]] = {}
    for rid in record_ids:
        rows = sorted(by_record.get(rid, ()), key=lambda r: r["decision_id"])
        # A re-open at a stage starts a new round there and at every later stage.
        start = {s: 0 for s in STAGES}
        for r in rows:
            if r["kind"] == "reopen":
                for s in STAGES[STAGES.index(r["stage"]):]:
                    start[s] = max(start[s], r["decision_id"])
        statuses: dict[str, StageStatus] = {}
        due, why = True, ""
        for s in STAGES:
            if not due:
                statuses[s] = StageStatus(State.NOT_DUE, why_not_due=why)
                continue
            current = [r for r in rows if r["stage"] == s and r["kind"] != "reopen" and r["decision_id"] > start[s]]
            st = stage_status(s, current, reviewers_per_record)
            statuses[s] = st
            if not (st.final and st.decision in FORWARD):
                due = False
                why = (f"its {s} decision is {st.status}" if st.final
                       else f"it is {st.status} at {s}, not include or maybe yet")
        out[rid] = statuses
    return out


def refusal(statuses: Mapping[str, StageStatus], stage: str, action: str) -> str | None:
    """Why `action` ('decide' | 'resolve' | 'reopen') is not allowed at `stage`, or None if it is."""
    st = statuses[stage]
    message = TRANSITIONS[st.state][action]
    if message is not None:
        return message.format(by=st.resolved_by, why=st.why_not_due)
    later = STAGES[STAGES.index(stage) + 1:]
    if action in ("decide", "resolve") and any(statuses[s].active for s in later):
        return LATER_STAGE_LOCK
    return None


# ===================================================================== agreement

def cohen_kappa(pairs: Sequence[tuple[str, str]], categories: Sequence[str]) -> tuple[float | None, list[list[int]]]:
    """Cohen's kappa and the table (rows: first rater, columns: second) over paired ratings.

    kappa = (po - pe) / (1 - pe); None when undefined (no pairs, or both raters used one category only).
    """
    index = {c: i for i, c in enumerate(categories)}
    table = [[0] * len(categories) for _ in categories]
    for a, b in pairs:
        table[index[a]][index[b]] += 1
    n = len(pairs)
    if n == 0:
        return None, table
    po = sum(table[i][i] for i in range(len(categories))) / n
    pe = sum((sum(table[i]) / n) * (sum(row[i] for row in table) / n) for i in range(len(categories)))
    if pe == 1:
        return None, table
    return (po - pe) / (1 - pe), table


def reviewer_pairs(statuses: Mapping[int, Mapping[str, StageStatus]], stage: str, *,
                   collapse_maybe: bool = True) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(reviewer a, reviewer b) -> paired decisions on records both decided in the current round.

    At title/abstract maybe counts as include unless collapse_maybe is False (it carries forward the same way).
    """
    def cat(d: str) -> str:
        return "include" if collapse_maybe and stage == TITLE_ABSTRACT and d == "maybe" else d

    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for rid in sorted(statuses):
        entries = statuses[rid][stage].reviewers
        for a, b in combinations(sorted(entries), 2):
            out.setdefault((a, b), []).append((cat(entries[a].decision), cat(entries[b].decision)))
    return out


# ===================================================================== prioritisation

def record_text(record: Record) -> str:
    return f"{record.title or ''}\n{record.abstract_text}"


def prioritise(candidates: Sequence[tuple[int, str]], labelled: Sequence[tuple[str, bool]]) -> tuple[list[int], bool]:
    """Candidate ids, likeliest includes first, from TF-IDF + logistic regression on the labelled texts.

    Falls back to stable order (record id) until the labels hold both includes and excludes;
    the flag says whether the model was used.
    """
    stable = sorted(rid for rid, _ in candidates)
    labels = [y for _, y in labelled]
    if not candidates or not any(labels) or all(labels):
        return stable, False
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, stop_words="english",
                                 strip_accents="unicode")
    # Fit the vocabulary on every text, as ASReview does: unlabelled words still shape the weights.
    matrix = vectoriser.fit_transform([t for t, _ in labelled] + [t for _, t in candidates])
    n = len(labelled)
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000)
    model.fit(matrix[:n], labels)
    scores = model.predict_proba(matrix[n:])[:, list(model.classes_).index(True)]
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i][0]))
    return [candidates[i][0] for i in order], True


# ===================================================================== sheets

RECORD_COLUMNS = ("record_id", "title", "abstract", "year", "journal", "authors", "pubmed", "doi", "related_reports")
DESIGN_COLUMNS = ("design", "tier")
FULL_TEXT_DESIGN_COLUMNS = ("tier_source", "design_reasons", "confirmed_design")
ENTRY_COLUMNS = ("decision", "reason", "notes")
IDENTITY_COLUMNS = ("export_id", "stage", "reviewer")  # csv only: an xlsx keeps them on its 'about' sheet
REQUIRED_COLUMNS = ("record_id", "title", "decision", "reason", "notes")
_WIDTHS = {"record_id": 10, "title": 60, "abstract": 100, "year": 7, "journal": 24, "authors": 30, "pubmed": 38,
           "doi": 34, "related_reports": 30, "design": 24, "tier": 14, "reviewer_decisions": 40, "decision": 12, "reason": 30,
           "notes": 40, "export_id": 26, "stage": 14, "reviewer": 14, "tier_source": 18, "design_reasons": 60,
           "confirmed_design": 26, "suggested_design": 24, "suggested_tier": 14, "confidence": 11}
_WRAPPED = {"title", "abstract", "authors", "reviewer_decisions", "notes", "design_reasons"}
SCREENING_WHAT = ("review screening sheet: fill decision, reason and notes on the first sheet; "
                  "do not edit record_id or title; blank decision = not decided yet")
DATA_SHEET = "screening"
ABOUT_SHEET = "about"


@dataclass(frozen=True)
class SheetIdentity:
    export_id: str
    stage: str
    reviewer: str  # RESOLUTION_SHEET for a conflicts sheet


@dataclass
class Sheet:
    """A filled sheet as read: identity, and each data row's cells as text with its row number."""

    path: str
    identity: SheetIdentity | None
    rows: list[tuple[int, dict[str, str]]]
    problems: list[str] = field(default_factory=list)


def write_sheet(path: Path, identity: SheetIdentity, columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
                choices: Mapping[str, Sequence[str]], about: Sequence[tuple[str, str]] = (),
                what: str = SCREENING_WHAT) -> None:
    """Write an xlsx (drop-downs, frozen header, wrapped text) or a csv (UTF-8 with BOM), by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(f"{path}: write a .xlsx or .csv file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".xlsx":
            _write_xlsx(path, identity, columns, rows, choices, about, what)
        else:
            _write_csv(path, identity, columns, rows)
    except OSError as exc:  # e.g. the file is open in Excel, or the path is a folder
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _xlsx_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _ILLEGAL_XML.sub("", value)
    if len(value) > _EXCEL_CELL_MAX:
        value = value[:_EXCEL_CELL_MAX - 14] + " [truncated]"
    return value


def _write_xlsx(path: Path, identity: SheetIdentity, columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
                choices: Mapping[str, Sequence[str]], about: Sequence[tuple[str, str]], what: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    top, wrap = Alignment(vertical="top"), Alignment(vertical="top", wrap_text=True)
    for r, row in enumerate(rows, start=2):
        for c, col in enumerate(columns, start=1):
            value = _xlsx_text(row.get(col))
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str) and is_formula_like(value):
                cell.data_type = "s"  # text, never a formula
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
            cell.alignment = wrap if col in _WRAPPED else top
    for c, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(c)].width = _WIDTHS.get(col, 16)
    ws.freeze_panes = "B2"
    last = max(len(rows) + 1, 2)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"

    info = wb.create_sheet(ABOUT_SHEET)
    meta = [("what", what), ("export_id", identity.export_id), ("stage", identity.stage),
            ("reviewer", identity.reviewer), *about]
    for i, (k, v) in enumerate(meta, start=1):
        info.cell(row=i, column=1, value=k).font = Font(bold=True)
        info.cell(row=i, column=2, value=_xlsx_text(v))
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 60
    for j, (col, values) in enumerate(choices.items()):
        if not values or col not in columns:
            continue
        letter = get_column_letter(4 + j)
        info.cell(row=1, column=4 + j, value=col).font = Font(bold=True)
        for i, v in enumerate(values, start=2):
            info.cell(row=i, column=4 + j, value=v)
        info.column_dimensions[letter].width = max(14, max(len(v) for v in values) + 2)
        target = get_column_letter(columns.index(col) + 1)
        dv = DataValidation(type="list", formula1=f"={ABOUT_SHEET}!${letter}$2:${letter}${len(values) + 1}",
                            allow_blank=True, showErrorMessage=True, errorTitle=f"Invalid {col}",
                            error=f"Choose a {col} from the list (see the '{ABOUT_SHEET}' sheet).")
        dv.add(f"{target}2:{target}{last}")
        ws.add_data_validation(dv)
    info.protection.sheet = True  # the identity is checked on import: keep it from casual edits
    wb.save(path)


def _write_csv(path: Path, identity: SheetIdentity, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    ident = {"export_id": identity.export_id, "stage": identity.stage, "reviewer": identity.reviewer}
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, *IDENTITY_COLUMNS])
        for row in rows:
            cells = ["" if row.get(c) is None else str(row.get(c)) for c in columns]
            writer.writerow([neutralise_csv(c) for c in cells] + [ident[c] for c in IDENTITY_COLUMNS])


def read_sheet(path: Path, data: bytes | None = None, required: Sequence[str] = REQUIRED_COLUMNS) -> Sheet:
    """Read a filled sheet (xlsx or csv) without evaluating anything; problems are collected, not raised."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, data, required)
    if suffix in (".csv", ".txt"):
        return _read_csv(path, data, required)
    raise InputError(f"{path}: not a screening sheet (expected .xlsx or .csv)")


def _header(cells: Sequence[Any]) -> list[str]:
    return [cell_text(c).lower() for c in cells]


def _read_xlsx(path: Path, data: bytes, required: Sequence[str]) -> Sheet:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)  # formulas stay text
    except Exception as exc:  # openpyxl raises many types for a damaged or non-xlsx file
        raise InputError(f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        names = wb.sheetnames
        data_name = DATA_SHEET if DATA_SHEET in names else next((n for n in names if n != ABOUT_SHEET), None)
        if data_name is None:
            raise InputError(f"{path}: has no sheet of records")
        identity = None
        problems: list[str] = []
        if ABOUT_SHEET in names:
            meta = {cell_text(r[0]): cell_text(r[1]) for r in wb[ABOUT_SHEET].iter_rows(max_col=2, values_only=True)
                    if r and r[0] is not None and len(r) > 1}
            if meta.get("export_id"):
                identity = SheetIdentity(meta["export_id"], meta.get("stage", ""), meta.get("reviewer", ""))
        it = wb[data_name].iter_rows(values_only=True)
        header = _header(next(it, ()) or ())
        rows = []
        for n, values in enumerate(it, start=2):
            cells = {h: cell_text(v) for h, v in zip(header, values) if h}
            if any(cells.values()):
                rows.append((n, cells))
    finally:
        wb.close()
    sheet = Sheet(str(path), identity, rows, problems)
    _check_columns(sheet, header, required)
    return sheet


def _read_csv(path: Path, data: bytes, required: Sequence[str]) -> Sheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV" saves in the Windows code page; titles may then differ (see key check).
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise InputError(f"{path}: binary data, not a CSV file")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)  # Excel uses ';' in many locales
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = _header(next(reader, []))
        rows, problems = [], []
        ident_rows: dict[tuple[str, str, str], int] = {}
        for n, values in enumerate(reader, start=2):
            cells = {h: unneutralise_csv(cell_text(v)) for h, v in zip(header, values) if h}
            if not any(cells.values()):
                continue
            key = tuple(cells.get(c, "") for c in IDENTITY_COLUMNS)
            ident_rows.setdefault(key, n)
            rows.append((n, cells))
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    identity = None
    if all(c in header for c in IDENTITY_COLUMNS) and ident_rows:
        first_key = next(iter(ident_rows))
        if first_key[0]:
            identity = SheetIdentity(*first_key)
        for key, n in list(ident_rows.items())[1:]:
            problems.append(f"row {n}: export_id/stage/reviewer ({', '.join(key) or 'blank'}) differ from the rows "
                            f"above ({', '.join(first_key)}): rows copied from another sheet?")
    sheet = Sheet(str(path), identity, rows, problems)
    _check_columns(sheet, header, required)
    return sheet


def _check_columns(sheet: Sheet, header: Sequence[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        sheet.problems.insert(0, f"missing column(s) {', '.join(missing)} in the header row")


# ===================================================================== validation of an upload (pure)

@dataclass(frozen=True)
class RowDecision:
    """A decided row that passed every check; change is 'new', 'changed' or 'unchanged'."""

    row: int
    record_id: int
    decision: str
    reason: str | None
    notes: str | None
    change: str


@dataclass(frozen=True)
class UploadContext:
    """What a sheet is checked against, read from the store in one transaction."""

    export: Mapping[str, Any]  # screening_exports row: record_ids, key_hash (lists in the same order)
    known_ids: frozenset[int]
    duplicate_of: Mapping[int, int]
    statuses: Mapping[int, Mapping[str, StageStatus]]
    config: ScreeningConfig


def parse_record_id(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\d{1,18}", text) else None


def check_row_key(n: int, cells: Mapping[str, str], exported: Mapping[int, str], known_ids: frozenset[int],
                  duplicate_of: Mapping[int, int], first_row: dict[int, int]) -> tuple[int | None, str | None]:
    """The record sheet row n stands for, or what is wrong with its key columns (first_row is updated)."""
    raw_id = cells.get("record_id", "")
    rid = parse_record_id(raw_id)
    if rid is None:
        return None, (f"row {n}: record_id {raw_id!r} is not a record id" if raw_id else f"row {n}: record_id is empty")
    if rid in first_row:
        return rid, f"row {n}: record {rid} appears twice (first on row {first_row[rid]})"
    first_row[rid] = n
    if rid not in exported:
        where = "this export" if rid in known_ids else "the store"
        return rid, f"row {n}: record {rid} is not in {where} (rows cannot be added to a sheet)"
    if key_hash(rid, cells.get("title")) != exported[rid]:
        return rid, (f"row {n}: record {rid}: record_id or title was edited (the key columns must stay as "
                     "exported; if the file was re-saved as plain CSV, save it as 'CSV UTF-8')")
    if rid in duplicate_of:
        return rid, (f"row {n}: record {rid} is now a duplicate of record {duplicate_of[rid]} "
                     "(deduplicated after this sheet was exported): export a new sheet")
    return rid, None


def validate_rows(sheet: Sheet, ctx: UploadContext, reviewer: str, *,
                  resolution: bool = False) -> tuple[list[RowDecision], int, list[str]]:
    """Check every row; returns the decided rows, the count of rows left undecided, and all problems."""
    stage = ctx.export["stage"]
    allowed = DECISIONS[stage]
    reasons = ctx.config.reasons.get(stage, ())
    needs_reason = stage in ctx.config.reason_required
    exported = dict(zip(ctx.export["record_ids"], ctx.export["key_hash"]))
    problems: list[str] = []
    decided: list[RowDecision] = []
    undecided = 0
    first_row: dict[int, int] = {}
    for n, cells in sheet.rows:
        rid, problem = check_row_key(n, cells, exported, ctx.known_ids, ctx.duplicate_of, first_row)
        if problem:
            problems.append(problem)
            continue
        raw_decision, raw_reason = cells.get("decision", ""), cells.get("reason", "")
        notes = cells.get("notes") or None
        if not raw_decision:
            if raw_reason:
                problems.append(f"row {n}: record {rid} has a reason ({raw_reason!r}) but no decision")
            else:
                undecided += 1
            continue
        decision = _choice(raw_decision, allowed)
        if decision is None:
            extra = " (maybe is for title/abstract only)" if _fold(raw_decision) == "maybe" else ""
            problems.append(f"row {n}: record {rid}: decision {raw_decision!r} is not one of "
                            f"{', '.join(allowed)}{extra}{_did_you_mean(raw_decision, allowed)}")
            continue
        reason = None
        if decision != "exclude":
            if raw_reason:
                problems.append(f"row {n}: record {rid}: a reason ({raw_reason!r}) is for exclusions only; "
                                "clear it or move it to notes")
                continue
        elif raw_reason:
            reason = _choice(raw_reason, reasons) if reasons else " ".join(raw_reason.split())
            if reason is None:
                problems.append(f"row {n}: record {rid}: reason {raw_reason!r} is not in the list "
                                f"({'; '.join(reasons)}){_did_you_mean(raw_reason, reasons)}")
                continue
        elif needs_reason:
            problems.append(f"row {n}: record {rid}: an exclusion at {stage} needs a reason, one of: "
                            f"{'; '.join(reasons)}")
            continue
        statuses = ctx.statuses[rid]
        st = statuses[stage]
        if resolution:
            same = st.state == State.RESOLVED and (st.decision, st.reason) == (decision, reason)
            action = "resolve"
        else:
            mine = st.reviewers.get(reviewer)
            same = mine is not None and (mine.decision, mine.reason, mine.notes) == (decision, reason, notes)
            action = "decide"
        if same:
            decided.append(RowDecision(n, rid, decision, reason, notes, "unchanged"))
            continue
        why = refusal(statuses, stage, action)
        if why:
            problems.append(f"row {n}: record {rid} cannot be {'resolved' if resolution else 'decided'} "
                            f"at {stage}: {why}")
            continue
        change = "new" if (resolution or reviewer not in st.reviewers) else "changed"
        decided.append(RowDecision(n, rid, decision, reason, notes, change))
    return decided, undecided, problems


# ===================================================================== store-facing operations

@dataclass(frozen=True)
class ExportSummary:
    path: str
    export_id: str
    stage: str
    reviewer: str
    n_rows: int
    order: str

    def line(self) -> str:
        who = "resolution sheet" if self.reviewer == RESOLUTION_SHEET else f"reviewer {self.reviewer}"
        return (f"wrote {self.n_rows} records to {self.path} ({self.stage}, {who}, order: {self.order}; "
                f"export {self.export_id})")


@dataclass(frozen=True)
class ImportSummary:
    path: str
    stage: str
    reviewer: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    undecided: int = 0
    already_imported_at: str | None = None
    resolution: bool = False
    designs_confirmed: int = 0

    def line(self) -> str:
        if self.already_imported_at:
            return (f"{self.path} was already imported for {self.reviewer} at {self.stage} on "
                    f"{self.already_imported_at}: nothing to do")
        what = "resolutions" if self.resolution else "decisions"
        confirmed = f"; {self.designs_confirmed} designs confirmed" if self.designs_confirmed else ""
        return (f"{self.path} ({self.stage}, {self.reviewer}): {self.new} new, {self.changed} changed, "
                f"{self.unchanged} unchanged {what}; rows left blank: {self.undecided}{confirmed}")


@dataclass
class ScreeningState:
    """The canonical records and every status, read once for an operation."""

    records: dict[int, Record]
    duplicate_of: dict[int, int]
    known_ids: frozenset[int]
    statuses: dict[int, dict[str, StageStatus]]


def load_state(store, config: ScreeningConfig) -> ScreeningState:
    """Canonical records and their statuses; decisions on records since merged count for the cluster's primary."""
    records = dict(store.canonical_records())
    duplicate_of = store.duplicate_of()
    history = []
    for r in store.screening_history():
        rid = duplicate_of.get(r["record_id"], r["record_id"])
        if rid in records:
            history.append(r | {"record_id": rid})
    return ScreeningState(records, duplicate_of, frozenset(store.stored_record_ids()),
                          compute_statuses(history, records, config.reviewers_per_record))


def _now_id(now: str) -> str:
    return re.sub(r"[^0-9T]", "", now)[:15] + "-" + uuid.uuid4().hex[:8]


def _record_cells(rid: int, rec: Record) -> dict[str, Any]:
    authors = "; ".join(a.display for a in rec.authors)
    return {"record_id": rid, "title": rec.title or "", "abstract": rec.abstract_text, "year": rec.year,
            "journal": rec.journal or rec.journal_iso or "",
            "authors": authors if len(authors) <= 1000 else authors[:1000] + " et al.",
            "pubmed": pubmed_url(rec.pmid), "doi": doi_url(rec.doi)}


def related_text(store, duplicate_of: Mapping[int, int]) -> dict[int, str]:
    """Per canonical record, its corrections, retractions and comments, or what it is a notice of."""
    out: dict[int, list[str]] = {}
    for link in store.related_reports():
        notice = duplicate_of.get(link["record_id"], link["record_id"])
        article = duplicate_of.get(link["article_id"], link["article_id"])
        out.setdefault(article, []).append(f"has {link['kind']} (record {notice})")
        out.setdefault(notice, []).append(f"is a {link['kind']} of record {article}")
    return {rid: "; ".join(texts) for rid, texts in out.items()}


def export_sheet(store, stage: str, reviewer: str, out: Path, *, config: ScreeningConfig | None = None,
                 include_decided: bool = False, order: str = "stable", blind_design: bool = False,
                 now: str | None = None) -> ExportSummary:
    """Write the due records this reviewer has not decided at `stage` (all due ones with include_decided).

    Other reviewers' decisions never appear (blind screening); the prioritised order learns from
    this reviewer's own decisions only, for the same reason.
    """
    from review.store import utcnow

    config = config or ScreeningConfig()
    check_stage(stage)
    reviewer = check_name(reviewer)
    if order not in ("stable", "prioritised"):
        raise InputError(f"unknown order {order!r}: use stable or prioritised")
    state = load_state(store, config)
    mine: dict[int, Entry] = {}
    chosen: list[int] = []
    labelled: list[tuple[str, bool]] = []
    for rid, statuses in state.statuses.items():
        entry = statuses[stage].reviewers.get(reviewer)
        if entry is not None:
            mine[rid] = entry
            labelled.append((record_text(state.records[rid]), entry.decision in FORWARD))
            if include_decided:
                chosen.append(rid)
        elif refusal(statuses, stage, "decide") is None:
            chosen.append(rid)
    used = "stable"
    if order == "prioritised":
        undecided = [(rid, record_text(state.records[rid])) for rid in chosen if rid not in mine]
        ranked, model_used = prioritise(undecided, labelled)
        used = "prioritised" if model_used else "stable (prioritised needs both includes and excludes first)"
        chosen = ranked + sorted(rid for rid in chosen if rid in mine)
    else:
        chosen.sort()
    designs = {} if blind_design else store.designs()
    # At full text a reviewer reads the methods: the sheet asks them to confirm the design too.
    confirm = stage == "full_text" and not blind_design
    columns = [*RECORD_COLUMNS, *(() if blind_design else DESIGN_COLUMNS),
               *(FULL_TEXT_DESIGN_COLUMNS if confirm else ()), *ENTRY_COLUMNS]
    rows = []
    related = related_text(store, state.duplicate_of)
    for rid in chosen:
        cells = _record_cells(rid, state.records[rid]) | {"related_reports": related.get(rid, "")}
        if not blind_design:
            d = designs.get(rid)
            cells |= {"design": d.design if d else "", "tier": d.tier.value if d else ""}
            if confirm:
                cells |= {"tier_source": d.tier_source if d else "",
                          "design_reasons": " | ".join(d.reasons) if d else "",
                          "confirmed_design": d.design if d and d.confirmed_by else ""}
        e = mine.get(rid)
        cells |= {"decision": e.decision if e else "", "reason": (e.reason or "") if e else "",
                  "notes": (e.notes or "") if e else ""}
        rows.append(cells)
    now = now or utcnow()
    identity = SheetIdentity(_now_id(now), stage, reviewer)
    about = [("exported_at", now), ("records", str(len(rows))), ("order", used),
             ("design shown", "no" if blind_design else "yes"),
             ("decisions", ", ".join(DECISIONS[stage])),
             ("reason", ("required for exclude" if stage in config.reason_required else "optional, for exclude")
              + ": pick one from the list")]
    if confirm:
        about.append(("confirmed_design", "optional: the design you read in the full text (drop-down); it is "
                                          "recorded as yours and wins over the machine's suggestion"))
    write_sheet(out, identity, columns, rows,
                {"decision": DECISIONS[stage], "reason": config.reasons.get(stage, ()),
                 **({"confirmed_design": DESIGNS} if confirm else {})}, about)
    store.save_screening_export(identity.export_id, stage, reviewer, now, chosen,
                                [key_hash(r["record_id"], r["title"]) for r in rows])
    return ExportSummary(str(out), identity.export_id, stage, reviewer, len(rows), used)


def _check_identity(sheet: Sheet, export: Mapping[str, Any] | None, *, reviewer: str, stage: str | None,
                    resolution: bool) -> list[str]:
    """File-level problems: whose sheet, which stage, which kind."""
    ident = sheet.identity
    if ident is None:
        return ["no export id found (an xlsx keeps it on its 'about' sheet, a csv in the export_id/stage/"
                "reviewer columns): fill a sheet written by `review screen export`"]
    if export is None:
        return [f"export id {ident.export_id!r} is unknown to this store: was the sheet exported from another store?"]
    if (ident.stage, ident.reviewer) != (export["stage"], export["reviewer"]):
        return [f"the sheet's stage/reviewer ({ident.stage}, {ident.reviewer}) were edited: export "
                f"{ident.export_id} was for {export['stage']}, {export['reviewer']}"]
    problems = []
    is_resolution = export["reviewer"] == RESOLUTION_SHEET
    if is_resolution and not resolution:
        problems.append("this is a conflicts (resolution) sheet: import it with `review screen resolve --file`")
    elif resolution and not is_resolution:
        problems.append(f"this is {export['reviewer']}'s screening sheet, not a conflicts sheet: import it with "
                        "`review screen import`")
    elif not resolution and export["reviewer"] != reviewer:
        problems.append(f"this sheet was exported for reviewer {export['reviewer']!r}, not {reviewer!r}")
    if stage is not None and export["stage"] != stage:
        problems.append(f"this sheet is for stage {export['stage']}, not {stage}")
    return problems


def import_sheet(store, path: Path, reviewer: str, *, config: ScreeningConfig | None = None,
                 stage: str | None = None, resolution: bool = False, now: str | None = None) -> ImportSummary:
    """Check a filled sheet whole and append its decisions (or resolutions, by `reviewer`); all or nothing.

    Unchanged rows add nothing; an identical file imported again is a no-op (by file hash).
    """
    from review.store import utcnow

    config = config or ScreeningConfig()
    reviewer = check_name(reviewer, "resolver" if resolution else "reviewer")
    if stage is not None:
        check_stage(stage)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    file_hash = hashlib.sha256(data).hexdigest()
    sheet = read_sheet(path, data)
    with store.transaction():
        export = store.screening_export(sheet.identity.export_id) if sheet.identity else None
        problems = _check_identity(sheet, export, reviewer=reviewer, stage=stage, resolution=resolution)
        problems += [p for p in sheet.problems if p.startswith("missing column")]
        if problems:
            raise InputError(f"{path}: cannot be imported; nothing was written", problems)
        the_stage = export["stage"]
        prior = store.screening_upload(file_hash, reviewer, the_stage)
        if prior is not None:
            return ImportSummary(str(path), the_stage, reviewer, already_imported_at=prior["at"],
                                 resolution=resolution)
        state = load_state(store, config)
        ctx = UploadContext(export, state.known_ids, state.duplicate_of, state.statuses, config)
        decided, undecided, row_problems = validate_rows(sheet, ctx, reviewer, resolution=resolution)
        confirmations, design_problems = [], []
        if not resolution and sheet.rows and "confirmed_design" in sheet.rows[0][1]:
            from review.classify.confirm import check_confirmations

            bad = frozenset(_row_number(p) for p in row_problems)
            confirmations, design_problems = check_confirmations(sheet.rows, store.designs(), reviewer, skip_rows=bad)
        problems = sorted(sheet.problems + row_problems + design_problems, key=_row_number)
        if problems:
            raise InputError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
        now = now or utcnow()
        kind = "resolution" if resolution else "decision"
        rows = [(d.record_id, the_stage, reviewer, d.decision, d.reason, d.notes, kind, file_hash, now)
                for d in decided if d.change != "unchanged"]
        if confirmations:
            from review.classify.confirm import override_rows

            store.add_overrides(override_rows(confirmations, reviewer, f"{the_stage} sheet {path.name}", now))
        store.save_screening_upload(file_hash, reviewer, the_stage, path.name, len(sheet.rows), now, rows)
    counts = Counter(d.change for d in decided)
    confirmed = sum(c.change != "unchanged" for c in confirmations)
    return ImportSummary(str(path), the_stage, reviewer, counts["new"], counts["changed"], counts["unchanged"],
                         undecided, resolution=resolution, designs_confirmed=confirmed)


def _row_number(problem: str) -> int:
    m = re.match(r"row (\d+):", problem)
    return int(m.group(1)) if m else 0


def _canonical(state: ScreeningState, record_id: int) -> int:
    if record_id in state.duplicate_of:
        raise InputError(f"record {record_id} is a duplicate of record {state.duplicate_of[record_id]}: "
                         f"use {state.duplicate_of[record_id]}")
    if record_id not in state.records:
        raise InputError(f"record {record_id} is not in the store (or was deleted)")
    return record_id


def resolve(store, record_id: int, stage: str, decision: str, resolver: str, *, reason: str | None = None,
            notes: str | None = None, config: ScreeningConfig | None = None, now: str | None = None) -> StageStatus:
    """Record a final decision at `stage` by `resolver`; returns the record's new status there."""
    from review.store import utcnow

    config = config or ScreeningConfig()
    check_stage(stage)
    resolver = check_name(resolver, "resolver")
    chosen = _choice(decision or "", DECISIONS[stage])
    if chosen is None:
        raise InputError(f"decision {decision!r} is not one of {', '.join(DECISIONS[stage])}"
                         f"{_did_you_mean(decision or '', DECISIONS[stage])}")
    reasons = config.reasons.get(stage, ())
    if chosen != "exclude" and reason:
        raise InputError("a reason is for exclusions only; put remarks in --notes")
    if chosen == "exclude" and reason:
        fixed = _choice(reason, reasons) if reasons else " ".join(reason.split())
        if fixed is None:
            raise InputError(f"reason {reason!r} is not in the list ({'; '.join(reasons)})"
                             f"{_did_you_mean(reason, reasons)}")
        reason = fixed
    elif chosen == "exclude" and stage in config.reason_required:
        raise InputError(f"an exclusion at {stage} needs --reason, one of: {'; '.join(reasons)}")
    with store.transaction():
        state = load_state(store, config)
        rid = _canonical(state, record_id)
        why = refusal(state.statuses[rid], stage, "resolve")
        if why:
            raise ReviewError(f"record {rid} cannot be resolved at {stage}: {why}")
        store.add_screening_rows([(rid, stage, resolver, chosen, reason, notes or None, "resolution", None,
                                   now or utcnow())])
        return load_state(store, config).statuses[rid][stage]


def reopen(store, record_id: int, stage: str, reviewer: str, reason: str, *,
           config: ScreeningConfig | None = None, now: str | None = None) -> None:
    """Start `stage` afresh for a record (its decisions there and at later stages stop counting)."""
    from review.store import utcnow

    config = config or ScreeningConfig()
    check_stage(stage)
    reviewer = check_name(reviewer)
    if not (reason or "").strip():
        raise InputError("say why the record is re-opened (--reason)")
    with store.transaction():
        state = load_state(store, config)
        rid = _canonical(state, record_id)
        why = refusal(state.statuses[rid], stage, "reopen")
        if why:
            raise ReviewError(f"record {rid} cannot be re-opened at {stage}: {why}")
        store.add_screening_rows([(rid, stage, reviewer, "reopen", reason.strip(), None, "reopen", None,
                                   now or utcnow())])


def _reviewers_text(entries: Mapping[str, Entry]) -> str:
    return "; ".join(f"{who}: {e.decision}" + (f" ({e.reason})" if e.reason else "")
                     for who, e in sorted(entries.items()))


def export_conflicts(store, stage: str, out: Path, *, config: ScreeningConfig | None = None,
                     now: str | None = None) -> ExportSummary:
    """Write a resolution sheet: the records in conflict at `stage` with each reviewer's decision."""
    from review.store import utcnow

    config = config or ScreeningConfig()
    check_stage(stage)
    state = load_state(store, config)
    chosen = sorted(rid for rid, s in state.statuses.items() if s[stage].state == State.CONFLICT)
    designs = store.designs()
    columns = [*RECORD_COLUMNS, *DESIGN_COLUMNS, "reviewer_decisions", *ENTRY_COLUMNS]
    rows = []
    for rid in chosen:
        d = designs.get(rid)
        rows.append(_record_cells(rid, state.records[rid]) | {
            "design": d.design if d else "", "tier": d.tier.value if d else "",
            "reviewer_decisions": _reviewers_text(state.statuses[rid][stage].reviewers),
            "decision": "", "reason": "", "notes": ""})
    now = now or utcnow()
    identity = SheetIdentity(_now_id(now), stage, RESOLUTION_SHEET)
    about = [("exported_at", now), ("records", str(len(rows))),
             ("how", "fill the final decision; import with: review screen resolve --file FILE --resolver NAME")]
    write_sheet(out, identity, columns, rows, {"decision": DECISIONS[stage], "reason": config.reasons.get(stage, ())},
                about)
    store.save_screening_export(identity.export_id, stage, RESOLUTION_SHEET, now, chosen,
                                [key_hash(r["record_id"], r["title"]) for r in rows])
    return ExportSummary(str(out), identity.export_id, stage, RESOLUTION_SHEET, len(rows), "stable")


# ===================================================================== DataFrames (notebook API)

STATUS_COLUMNS = ["record_id", "title", "year", "ta_status", "ta_reason", "ta_conflict", "ta_resolved_by",
                  "ta_reviewers", "ft_status", "ft_reason", "ft_conflict", "ft_resolved_by", "ft_reviewers",
                  "included"]


def decisions_frame(store):
    """The whole history, one row per decision, resolution or re-open (oldest first)."""
    import pandas as pd

    from review.store.screening import HISTORY_COLUMNS

    return pd.DataFrame(store.screening_history(), columns=list(HISTORY_COLUMNS))


def current_status(store, config: ScreeningConfig | None = None):
    """One row per canonical record: final status per stage, reasons, conflicts and who decided (STATUS_COLUMNS)."""
    import pandas as pd

    config = config or ScreeningConfig()
    state = load_state(store, config)
    rows = []
    for rid, s in state.statuses.items():
        ta, ft = s[TITLE_ABSTRACT], s[FULL_TEXT]
        rec = state.records[rid]
        rows.append({
            "record_id": rid, "title": rec.title, "year": rec.year,
            "ta_status": ta.status, "ta_reason": ta.reason, "ta_conflict": ta.conflict,
            "ta_resolved_by": ta.resolved_by, "ta_reviewers": _reviewers_text(ta.reviewers),
            "ft_status": ft.status, "ft_reason": ft.reason, "ft_conflict": ft.conflict,
            "ft_resolved_by": ft.resolved_by, "ft_reviewers": _reviewers_text(ft.reviewers),
            "included": ft.final and ft.decision == "include",
        })
    df = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    df["year"] = df["year"].astype("Int64")
    return df


def conflicts_frame(store, stage: str, config: ScreeningConfig | None = None):
    """Records in conflict at `stage`: kind ('decision' or 'reason') and one column per reviewer."""
    import pandas as pd

    config = config or ScreeningConfig()
    check_stage(stage)
    state = load_state(store, config)
    rows, names = [], set()
    for rid, s in sorted(state.statuses.items()):
        st = s[stage]
        if st.state != State.CONFLICT:
            continue
        row = {"record_id": rid, "title": state.records[rid].title, "kind": st.conflict}
        for who, e in st.reviewers.items():
            row[who] = e.decision + (f" ({e.reason})" if e.reason else "")
            names.add(who)
        rows.append(row)
    return pd.DataFrame(rows, columns=["record_id", "title", "kind", *sorted(names)])


def kappa_rows(statuses: Mapping[int, Mapping[str, StageStatus]], stage: str) -> list[dict[str, Any]]:
    """Per reviewer pair: records both decided, the 2x2 counts, observed agreement and Cohen's kappa."""
    out = []
    for (a, b), pairs in reviewer_pairs(statuses, stage).items():
        kappa, t = cohen_kappa(pairs, ("include", "exclude"))
        n = len(pairs)
        out.append({"reviewer_a": a, "reviewer_b": b, "n": n, "both_include": t[0][0], "a_include_b_exclude": t[0][1],
                    "a_exclude_b_include": t[1][0], "both_exclude": t[1][1],
                    "agreement": (t[0][0] + t[1][1]) / n if n else None, "kappa": kappa})
    return out


def kappa_frame(store, stage: str, config: ScreeningConfig | None = None):
    """Cohen's kappa per reviewer pair at `stage` (maybe counted as include at title/abstract)."""
    import pandas as pd

    check_stage(stage)
    state = load_state(store, config or ScreeningConfig())
    return pd.DataFrame(kappa_rows(state.statuses, stage),
                        columns=["reviewer_a", "reviewer_b", "n", "both_include", "a_include_b_exclude",
                                 "a_exclude_b_include", "both_exclude", "agreement", "kappa"])


def summarise(statuses: Mapping[int, Mapping[str, StageStatus]]) -> dict[str, dict[str, Any]]:
    """Per stage: records due, states, final decisions, decisions per reviewer, agreements, kappa, reasons."""
    out: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        ss = [s[stage] for s in statuses.values() if s[stage].state != State.NOT_DUE]
        per_reviewer = Counter(who for s in ss for who in s.reviewers)
        multi = [s for s in ss if len(s.reviewers) >= 2]
        agree = sum(1 for s in multi if len({_carry(stage, e.decision) for e in s.reviewers.values()}) == 1)
        out[stage] = {
            "due": len(ss),
            "states": Counter(s.state.value for s in ss),
            "final": Counter(s.decision for s in ss if s.final),
            "per_reviewer": dict(sorted(per_reviewer.items())),
            "double_screened": len(multi),
            "agreements": agree,
            "open_conflicts": sum(1 for s in ss if s.state == State.CONFLICT),
            "resolved": sum(1 for s in ss if s.state == State.RESOLVED),
            "reasons": Counter(s.reason for s in ss if s.final and s.decision == "exclude" and s.reason),
            "kappa": kappa_rows(statuses, stage),
        }
    return out


def stage_summary(store, config: ScreeningConfig | None = None) -> dict[str, dict[str, Any]]:
    config = config or ScreeningConfig()
    return summarise(load_state(store, config).statuses)


def format_summary(summary: Mapping[str, Mapping[str, Any]], stages: Sequence[str] = STAGES) -> str:
    """The `review screen status` report as text."""
    lines = []
    for stage in stages:
        s = summary[stage]
        st, fin = s["states"], s["final"]
        due_note = " (final title_abstract status include or maybe)" if stage == FULL_TEXT else ""
        lines.append(f"{stage}: {s['due']} records due{due_note}")
        lines.append(f"  undecided {st.get('undecided', 0)}, pending {st.get('pending', 0)}, "
                     f"decided {st.get('decided', 0)}, open conflicts {s['open_conflicts']}, resolved {s['resolved']}")
        finals = ", ".join(f"{d} {fin.get(d, 0)}" for d in DECISIONS[stage])
        lines.append(f"  final: {finals}")
        per = ", ".join(f"{who} {n}" for who, n in s["per_reviewer"].items()) or "none yet"
        lines.append(f"  decided per reviewer: {per}")
        if s["double_screened"]:
            lines.append(f"  agreements: {s['agreements']} of {s['double_screened']} records decided by two or more "
                         "reviewers" + (" (include and maybe agree)" if stage == TITLE_ABSTRACT else ""))
        for k in s["kappa"]:
            kappa = "undefined" if k["kappa"] is None else f"{k['kappa']:.3f}"
            note = ", maybe counted as include" if stage == TITLE_ABSTRACT else ""
            lines.append(f"  Cohen's kappa {k['reviewer_a']} vs {k['reviewer_b']}: {kappa} on {k['n']} records"
                         f" (observed agreement {k['agreement']:.3f}{note})")
            a, b = k["reviewer_a"], k["reviewer_b"]
            w = max(len(a) + 9, 12)
            lines.append(f"    {'':{w}} {b + ' include':>16} {b + ' exclude':>16}")
            lines.append(f"    {a + ' include':{w}} {k['both_include']:>16} {k['a_include_b_exclude']:>16}")
            lines.append(f"    {a + ' exclude':{w}} {k['a_exclude_b_include']:>16} {k['both_exclude']:>16}")
        if s["reasons"]:
            lines.append("  exclusion reasons: " + ", ".join(f"{r} {n}" for r, n in s["reasons"].most_common()))
    return "\n".join(lines)
