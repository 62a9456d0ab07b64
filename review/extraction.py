"""Data extraction and risk of bias: workbooks out, values in, two extractors, conflicts, resolutions.

The flow mirrors screening: ``export_workbook`` writes one xlsx per extractor with a sheet per
form and level (study characteristics, outcomes, and the risk-of-bias form the confirmed design
calls for), pre-filled with this extractor's values so far, or with suggestions read from the
abstract (yellow, italic: check them and set ``done`` to yes); ``import_workbook`` checks every
cell of every sheet against the forms and appends the changed values to an append-only history,
or writes nothing. Current, agreed, conflicting and final values are computed from that history
(``value_states``), never stored.
"""
from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from review import extract as hints
from review.errors import InputError, ReviewError
from review.forms import OUTCOME, STUDY, Field, Form, check_value, load_forms
from review.models import Record
from review.screening import (FULL_TEXT, ScreeningConfig, _now_id, _xlsx_text, cell_text, check_name,
                              is_formula_like, key_hash, load_config, load_state, parse_record_id)

RESOLUTION = "(resolution)"  # the extractor recorded for a conflicts sheet
ABOUT_SHEET, LISTS_SHEET, CONFLICTS_SHEET = "about", "lists", "conflicts"
DONE = "done"  # on sheets with suggestions: a row counts only once its extractor says it is done
KEY_COLUMNS = {STUDY: ("record_id", "title"), OUTCOME: ("record_id", "title", "outcome_no")}
CONFLICT_COLUMNS = ("record_id", "title", "form", "outcome_no", "field", "values", "final")
SUGGESTION_FILL = "FFF2CC"
MAX_OUTCOME_NO = 999


# ===================================================================== the confirmed design (one place)

def confirmed_designs(store) -> dict[int, str]:
    """record_id -> the design forms are chosen by: a person's confirmed design if any, else the classifier's.

    The one coupling to how designs are confirmed (today the latest `design_overrides` row, via
    ``Store.designs``); re-point it here if confirmation moves.
    """
    return {rid: d.design for rid, d in store.designs().items()}


def forms_for(design: str | None, forms: Mapping[str, Form]) -> list[str]:
    """The forms a study of this design is extracted with (a case report gets no risk-of-bias form)."""
    return [name for name, form in forms.items() if form.applies(design)]


def sheet_name(form: str, level: str) -> str:
    return form if level == STUDY else f"{form}_outcomes"


def parse_sheet_name(name: str, forms: Mapping[str, Form]) -> tuple[str, str] | None:
    for fname, form in forms.items():
        for level in form.levels:
            if sheet_name(fname, level) == name:
                return fname, level
    return None


def has_suggestions(form: Form, level: str) -> bool:
    return any(f.suggest for f in form.fields(level))


# ===================================================================== suggestions (pure)

def suggest(f: Field, record: Record, design: str | None) -> str | None:
    """What the project already reads from the abstract for this field, as a cell value, or None."""
    text = f"{record.title or ''}\n{record.abstract_text}"
    if f.suggest == "design":
        return design
    if f.suggest == "country":
        found = hints.country(text)
        return found.value if found else None
    if f.suggest == "sample_size":
        found = hints.sample_size(text)
        return found.value if found else None
    joined = {"doses": hints.doses, "comparators": hints.comparators, "trial_features": hints.trial_features}
    if f.suggest in joined:
        return "; ".join(joined[f.suggest](text)) or None
    return None


# ===================================================================== history -> values (pure)

Key = tuple[int, str, str, str]  # (record_id, form, item, field); item '' for study level, else outcome_no


@dataclass(frozen=True)
class ValueState:
    """One field of one study (or outcome) across extractors."""

    values: Mapping[str, str | None]  # extractor -> current value (None: blank)
    resolution: tuple[str | None, str] | None = None  # (value, resolver)

    @property
    def status(self) -> str:
        """'resolved', 'agreed', 'single' (one extractor so far) or 'conflict'."""
        if self.resolution is not None:
            return "resolved"
        distinct = set(self.values.values())
        if len(distinct) > 1:
            return "conflict"
        return "single" if len(self.values) == 1 else "agreed"

    @property
    def final(self) -> str | None:
        if self.resolution is not None:
            return self.resolution[0]
        distinct = set(self.values.values())
        return distinct.pop() if len(distinct) == 1 else None


def value_states(history: Sequence[Mapping[str, Any]], duplicate_of: Mapping[int, int] | None = None
                 ) -> dict[Key, ValueState]:
    """Every field's state from the history rows (oldest first).

    An extractor who gave any value for a study (or outcome) of a form takes part in every field
    of it: a field one left blank and the other filled is a disagreement, not an agreement.
    """
    duplicate_of = duplicate_of or {}
    current: dict[Key, dict[str, str | None]] = {}
    resolved: dict[Key, tuple[str | None, str]] = {}
    takes_part: dict[tuple[int, str, str], set[str]] = {}
    for r in sorted(history, key=lambda r: r["value_id"]):
        rid = duplicate_of.get(r["record_id"], r["record_id"])
        key = (rid, r["form"], r["item"], r["field"])
        if r["kind"] == "resolution":
            resolved[key] = (r["value"], r["extractor"])
        else:
            current.setdefault(key, {})[r["extractor"]] = r["value"]
            takes_part.setdefault(key[:3], set()).add(r["extractor"])
    out: dict[Key, ValueState] = {}
    for key in set(current) | set(resolved):
        who = takes_part.get(key[:3], set())
        given = current.get(key, {})
        out[key] = ValueState({e: given.get(e) for e in sorted(who)}, resolved.get(key))
    return out


def extractor_values(states: Mapping[Key, ValueState], extractor: str) -> dict[Key, str | None]:
    return {k: s.values[extractor] for k, s in states.items() if extractor in s.values}


# ===================================================================== workbook writing

@dataclass(frozen=True)
class ExportSummary:
    path: str
    export_id: str
    extractor: str
    n_records: int
    rows: Mapping[str, int]  # sheet -> data rows
    n_suggested: int
    unconfirmed: tuple[int, ...] = ()  # studies whose design (which picks the risk-of-bias form) no person confirmed

    def line(self) -> str:
        sheets = ", ".join(f"{k} {v}" for k, v in self.rows.items())
        return (f"wrote {self.n_records} included studies to {self.path} (extractor {self.extractor}; rows per "
                f"sheet: {sheets}; {self.n_suggested} cells pre-filled as suggestions; export {self.export_id})"
                + (f"; designs not confirmed by a person (their risk-of-bias form follows the classifier): "
                   f"{', '.join(map(str, self.unconfirmed))}" if self.unconfirmed else ""))


def _columns(form: Form, level: str) -> list[str]:
    extra = [DONE] if has_suggestions(form, level) else []
    return [*KEY_COLUMNS[level], *[f.name for f in form.fields(level)], *extra]


def write_workbook(path: Path, sheets: Sequence[tuple[str, list[str], list[dict[str, Any]]]],
                   choices: Mapping[tuple[str, str], Sequence[str]], suggested_cells: set[tuple[str, int, str]],
                   about: Sequence[tuple[str, str]], notes: Mapping[tuple[str, int, str], str] | None = None) -> None:
    """Write the sheets (drop-downs from `choices` keyed by (sheet, column)), suggestions highlighted."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InputError(f"{path}: write a .xlsx file (the workbook has one sheet per form)")
    notes = notes or {}
    wb = Workbook()
    info = wb.active
    info.title = ABOUT_SHEET
    for i, (k, v) in enumerate(about, start=1):
        info.cell(row=i, column=1, value=k).font = Font(bold=True)
        info.cell(row=i, column=2, value=_xlsx_text(v))
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 100
    lists = wb.create_sheet(LISTS_SHEET)
    list_col = 0
    fill = PatternFill("solid", fgColor=SUGGESTION_FILL)
    for name, columns, rows in sheets:
        ws = wb.create_sheet(name)
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")
        for r, row in enumerate(rows, start=2):
            for c, col in enumerate(columns, start=1):
                value = _xlsx_text(row.get(col))
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str) and is_formula_like(value):
                    cell.data_type = "s"
                    cell.quotePrefix = True
                cell.alignment = Alignment(vertical="top", wrap_text=col == "title")
                if (name, r, col) in suggested_cells:
                    cell.fill = fill
                    cell.font = Font(italic=True)
                    cell.comment = Comment(notes.get((name, r, col), "suggestion from the abstract: check it"),
                                           "kratom-review")
        for c, col in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(c)].width = {"title": 50, "record_id": 10}.get(col, 18)
        ws.freeze_panes = "C2"
        last = max(len(rows) + 1, 2) + 50  # room for added outcome rows
        for c, col in enumerate(columns, start=1):
            values = choices.get((name, col))
            if not values:
                continue
            list_col += 1
            letter = get_column_letter(list_col)
            lists.cell(row=1, column=list_col, value=f"{name}.{col}").font = Font(bold=True)
            for i, v in enumerate(values, start=2):
                lists.cell(row=i, column=list_col, value=v)
            target = get_column_letter(c)
            dv = DataValidation(type="list", formula1=f"={LISTS_SHEET}!${letter}$2:${letter}${len(values) + 1}",
                                allow_blank=True, showErrorMessage=True, errorTitle=f"Invalid {col}",
                                error=f"Choose a {col} from the list (see the '{LISTS_SHEET}' sheet).")
            dv.add(f"{target}2:{target}{last}")
            ws.add_data_validation(dv)
    info.protection.sheet = True
    lists.protection.sheet = True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def included_records(store, config: ScreeningConfig | None = None) -> tuple[dict[int, Record], Any]:
    """The canonical records finally included at full text, and the screening state they came from."""
    state = load_state(store, config or load_config(None))
    inc = {rid: state.records[rid] for rid, s in state.statuses.items()
           if s[FULL_TEXT].final and s[FULL_TEXT].decision == "include"}
    return inc, state


def load_review_forms(path: str | Path | None = None, claims_path: str | Path | None = None) -> dict[str, Form]:
    """The forms, with the claim ids of queries/claims.yaml for fields whose choices are 'claims'."""
    from review.claims import DEFAULT_CLAIMS, load_claims

    claims_path = Path(claims_path) if claims_path is not None else Path(DEFAULT_CLAIMS)
    ids = [c.id for c in load_claims(claims_path)] if claims_path.exists() else []
    return load_forms(path, ids)


def export_workbook(store, extractor: str, out: Path, *, forms: Mapping[str, Form],
                    only: Sequence[str] | None = None, config: ScreeningConfig | None = None,
                    outcome_rows: int = 3, now: str | None = None) -> ExportSummary:
    """Write EXTRACTOR's workbook for every included study: their values so far, else suggestions."""
    from review.store import utcnow

    extractor = check_name(extractor, "extractor")
    if only:
        unknown = [f for f in only if f not in forms]
        if unknown:
            raise InputError(f"unknown form(s) {', '.join(unknown)}: use {', '.join(forms)}")
        forms = {k: v for k, v in forms.items() if k in only}
    included, state = included_records(store, config)
    if not included:
        raise ReviewError("no study is included at full text yet: screen to full text first (review screen)")
    designs = confirmed_designs(store)
    confirmed_by = {rid: d.confirmed_by for rid, d in store.designs().items()}
    mine = extractor_values(value_states(store.extraction_history(), state.duplicate_of), extractor)
    per_record = {rid: forms_for(designs.get(rid), forms) for rid in sorted(included)}
    sheets, suggested, notes, saved_suggestions = [], set(), {}, {}
    choices: dict[tuple[str, str], Sequence[str]] = {}
    for fname, form in forms.items():
        for level in form.levels:
            name = sheet_name(fname, level)
            columns = _columns(form, level)
            for f in form.fields(level):
                if f.choices:
                    choices[(name, f.name)] = f.choices
            if DONE in columns:
                choices[(name, DONE)] = ("yes",)
            rows: list[dict[str, Any]] = []
            for rid, names in per_record.items():
                if fname not in names:
                    continue
                rec = included[rid]
                base = {"record_id": rid, "title": rec.title or ""}
                if level == STUDY:
                    row = dict(base)
                    filled = any((rid, fname, "", f.name) in mine for f in form.fields(level))
                    for f in form.fields(level):
                        k = (rid, fname, "", f.name)
                        if k in mine:
                            row[f.name] = mine[k] or ""
                        elif not filled and f.suggest and (s := suggest(f, rec, designs.get(rid))):
                            row[f.name] = s
                            suggested.add((name, len(rows) + 2, f.name))
                            notes[(name, len(rows) + 2, f.name)] = f"suggestion ({f.suggest}) from the abstract: check it"
                            saved_suggestions[f"{rid}|{fname}||{f.name}"] = s
                    if DONE in columns:
                        row[DONE] = "yes" if filled else ""
                    rows.append(row)
                else:
                    items = sorted({int(k[2]) for k in mine if k[0] == rid and k[1] == fname and k[2]})
                    for no in items or range(1, outcome_rows + 1):
                        row = dict(base) | {"outcome_no": no}
                        for f in form.fields(level):
                            row[f.name] = mine.get((rid, fname, str(no), f.name)) or ""
                        rows.append(row)
            sheets.append((name, columns, rows))
    now = now or utcnow()
    export_id = _now_id(now)
    about = [("what", "review data extraction and risk-of-bias workbook: one sheet per form; fill the cells, "
                      "do not edit record_id or title or this sheet"),
             ("export_id", export_id), ("extractor", extractor), ("exported_at", now),
             ("records", str(len(per_record))),
             ("suggestions", "yellow italic cells were read from the abstract: check, correct or clear them, "
                             f"then set '{DONE}' to yes; a row whose '{DONE}' is blank is not imported"),
             ("outcomes", "one row per outcome; number them 1, 2, ... (outcome_no); add rows below as needed, "
                          "a row with only record_id, title and outcome_no is ignored"),
             ("risk of bias", "the form follows the confirmed design: RoB 2 for randomised trials, ROBINS-I for "
                              "non-randomised studies of interventions, JBI for surveys; case reports get none"),
             *[(f"form {k}", f"{v.title}: " + ("all included studies" if v.applies_to is None
                                               else ", ".join(v.applies_to))) for k, v in forms.items()]]
    write_workbook(out, sheets, choices, suggested, about, notes)
    store.save_extraction_export(export_id, extractor, now, list(per_record), per_record,
                                 {rid: key_hash(rid, included[rid].title) for rid in per_record}, saved_suggestions)
    return ExportSummary(str(out), export_id, extractor, len(per_record), {s[0]: len(s[2]) for s in sheets},
                         len(suggested), tuple(rid for rid in per_record if not confirmed_by.get(rid)))


# ===================================================================== workbook reading

@dataclass
class Book:
    """A filled workbook as read: identity and each sheet's header and rows (cells as text)."""

    path: str
    export_id: str | None
    extractor: str | None
    sheets: dict[str, tuple[list[str], list[tuple[int, dict[str, str]]]]]


def read_workbook(path: Path, data: bytes) -> Book:
    """Read every sheet without evaluating formulas; rows with no value are skipped."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a damaged or non-xlsx file
        raise InputError(f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        meta: dict[str, str] = {}
        if ABOUT_SHEET in wb.sheetnames:
            meta = {cell_text(r[0]): cell_text(r[1]) for r in wb[ABOUT_SHEET].iter_rows(max_col=2, values_only=True)
                    if r and r[0] is not None and len(r) > 1}
        sheets = {}
        for name in wb.sheetnames:
            if name in (ABOUT_SHEET, LISTS_SHEET):
                continue
            it = wb[name].iter_rows(values_only=True)
            # Field names keep their case (D1_randomisation); check_book matches them case-insensitively.
            header = [cell_text(c).strip() for c in (next(it, ()) or ())]
            rows = []
            for n, values in enumerate(it, start=2):
                cells = {h: cell_text(v) for h, v in zip(header, values) if h}
                if any(cells.values()):
                    rows.append((n, cells))
            sheets[name] = (header, rows)
    finally:
        wb.close()
    return Book(str(path), meta.get("export_id") or None, meta.get("extractor") or meta.get("resolver") or None,
                sheets)


def _col(header: Sequence[str], name: str) -> str:
    from openpyxl.utils import get_column_letter

    return f"column {get_column_letter(header.index(name) + 1)} ({name})" if name in header else f"column {name}"


# ===================================================================== validation (pure)

@dataclass(frozen=True)
class CellValue:
    record_id: int
    form: str
    item: str
    field: str
    value: str | None
    suggested: bool


@dataclass(frozen=True)
class CheckContext:
    """What a workbook is checked against, read from the store in one transaction."""

    export: Mapping[str, Any]
    forms: Mapping[str, Form]
    known_ids: frozenset[int]
    duplicate_of: Mapping[int, int]
    included: frozenset[int]
    designs: Mapping[int, str]


def _design_refusal(rid: int, form: Form, design: str | None) -> str:
    what = (design or "unclassified").replace("_", " ")
    base = f"record {rid} is a {what}, and {form.name} ({form.title}) is for " + ", ".join(form.applies_to or ())
    if form.is_rob and design in ("case_report", "case_series", "qualitative"):
        return base + f"; a {what} gets no risk-of-bias assessment (anecdote by design)"
    return base + ": use the form its design calls for (export again after a design change)"


def check_book(book: Book, ctx: CheckContext) -> tuple[list[CellValue], Counter, list[str]]:
    """Every cell of every form sheet checked; returns the values, rows counted per sheet, and all problems."""
    problems: list[str] = []
    values: list[CellValue] = []
    counted: Counter = Counter()
    export = ctx.export
    exported_forms = export["forms"]
    for name, (header, rows) in book.sheets.items():
        where = f"sheet {name!r}"
        parsed = parse_sheet_name(name, ctx.forms)
        if parsed is None:
            if rows:
                problems.append(f"{where}: not a sheet of this review's forms ({', '.join(ctx.forms)}); "
                                "rename it back or delete it")
            continue
        fname, level = parsed
        form = ctx.forms[fname]
        fields = {f.name: f for f in form.fields(level)}
        expected = _columns(form, level)
        canon = {c.casefold(): c for c in expected}
        header = [canon.get(h.casefold(), h) for h in header]
        rows = [(n, {canon.get(k.casefold(), k): v for k, v in cells.items()}) for n, cells in rows]
        missing = [c for c in expected if c not in header]
        if missing:
            problems.append(f"{where}: missing column(s) {', '.join(missing)} in the header row")
            continue
        for i, h in enumerate(header):
            if h and h not in expected:
                problems.append(f"{where}: {_col(header, h)} is not a field of form {fname}: "
                                f"rename it back (fields: {', '.join(fields)})")
        seen: dict[tuple[int, str], int] = {}
        for n, cells in rows:
            at = f"{where}, row {n}"
            raw = cells.get("record_id", "")
            rid = parse_record_id(raw)
            if rid is None:
                problems.append(f"{at}, {_col(header, 'record_id')}: {raw!r} is not a record id" if raw
                                else f"{at}, {_col(header, 'record_id')}: record_id is empty")
                continue
            if rid not in ctx.known_ids:
                problems.append(f"{at}, {_col(header, 'record_id')}: unknown record {rid} (not in the store)")
                continue
            if rid not in exported_forms:
                problems.append(f"{at}, {_col(header, 'record_id')}: record {rid} is not in this export "
                                "(rows cannot be added for other studies)")
                continue
            if key_hash(rid, cells.get("title")) != export["key_hash"][rid]:
                problems.append(f"{at}, {_col(header, 'title')}: record {rid}: record_id or title was edited "
                                "(the key columns must stay as exported)")
                continue
            if rid in ctx.duplicate_of:
                problems.append(f"{at}, {_col(header, 'record_id')}: record {rid} is now a duplicate of record "
                                f"{ctx.duplicate_of[rid]}: export a new workbook")
                continue
            if rid not in ctx.included:
                problems.append(f"{at}, {_col(header, 'record_id')}: record {rid} is no longer included at full "
                                "text: nothing can be extracted for it")
                continue
            design = ctx.designs.get(rid)
            if fname not in exported_forms[rid] or not form.applies(design):
                problems.append(f"{at}, {_col(header, 'record_id')}: {_design_refusal(rid, form, design)}")
                continue
            item = ""
            if DONE not in expected and not any(cells.get(f) for f in fields):
                continue  # a row not filled in yet
            if level == OUTCOME:
                raw_no = cells.get("outcome_no", "")
                if not re.fullmatch(r"\d{1,3}", raw_no) or not 1 <= int(raw_no) <= MAX_OUTCOME_NO:
                    problems.append(f"{at}, {_col(header, 'outcome_no')}: {raw_no!r} is not an outcome number "
                                    f"(1..{MAX_OUTCOME_NO})" if raw_no else
                                    f"{at}, {_col(header, 'outcome_no')}: number the outcome (1, 2, ...)")
                    continue
                item = str(int(raw_no))
            first = seen.get((rid, item))
            if first is not None:
                what = f"outcome {item} of record {rid}" if item else f"record {rid}"
                problems.append(f"{at}: {what} appears twice (first on row {first})")
                continue
            seen[(rid, item)] = n
            if DONE in expected:
                done = cells.get(DONE, "")
                if not done:
                    counted["not done"] += 1
                    continue
                if done.strip().casefold() != "yes":
                    problems.append(f"{at}, {_col(header, DONE)}: {done!r}: set done to yes, or leave it blank")
                    continue
            row_values = []
            bad = False
            for fn, f in fields.items():
                value, problem = check_value(f, cells.get(fn, ""))
                if problem:
                    problems.append(f"{at}, {_col(header, fn)}: record {rid}: {problem}")
                    bad = True
                elif value is None and f.required:
                    problems.append(f"{at}, {_col(header, fn)}: record {rid}: {fn} is required on a filled row")
                    bad = True
                row_values.append((fn, value))
            if bad:
                continue
            counted[name] += 1
            for fn, value in row_values:
                sug = export["suggested"].get(f"{rid}|{fname}|{item}|{fn}")
                values.append(CellValue(rid, fname, item, fn, value, sug is not None and sug == value))
    return values, counted, problems


def changes(values: Sequence[CellValue], mine: Mapping[Key, str | None],
            states: Mapping[Key, ValueState]) -> tuple[list[CellValue], list[str]]:
    """The values that differ from the extractor's current ones, and refusals for resolved fields."""
    out, problems = [], []
    for v in values:
        key = (v.record_id, v.form, v.item, v.field)
        # A blank on a filled row is recorded too (once), so it is compared with the other extractor's value.
        if key in mine and mine[key] == v.value:
            continue
        st = states.get(key)
        if st is not None and st.resolution is not None and st.resolution[0] != v.value:
            problems.append(f"record {v.record_id}, form {v.form}{', outcome ' + v.item if v.item else ''}, field "
                            f"{v.field}: was resolved by {st.resolution[1]} as {st.resolution[0]!r}; a new value "
                            f"({v.value!r}) would be silently ignored: ask the resolver (review extract resolve)")
            continue
        out.append(v)
    return out, problems


# ===================================================================== import

@dataclass(frozen=True)
class ImportSummary:
    path: str
    extractor: str
    new: int = 0
    rows: Mapping[str, int] = field(default_factory=dict)
    not_done: int = 0
    already_imported_at: str | None = None
    resolution: bool = False

    def line(self) -> str:
        if self.already_imported_at:
            return f"{self.path} was already imported for {self.extractor} on {self.already_imported_at}: nothing to do"
        what = "resolutions" if self.resolution else "values"
        sheets = ", ".join(f"{k} {v}" for k, v in self.rows.items()) or "none"
        return (f"{self.path} ({self.extractor}): {self.new} new or changed {what}; rows read per sheet: {sheets}; "
                f"rows not marked done: {self.not_done}")


def _read_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _identity_problems(book: Book, export: Mapping[str, Any] | None, who: str, resolution: bool) -> list[str]:
    if book.export_id is None:
        return ["no export id found on the 'about' sheet: fill a workbook written by `review extract export`"]
    if export is None:
        return [f"export id {book.export_id!r} is unknown to this store: was the workbook exported from another store?"]
    if book.extractor != export["extractor"]:
        return [f"the 'about' sheet's extractor ({book.extractor}) was edited: export {book.export_id} was for "
                f"{export['extractor']}"]
    if export["extractor"] == RESOLUTION and not resolution:
        return ["this is a conflicts (resolution) sheet: import it with `review extract resolve --file`"]
    if resolution and export["extractor"] != RESOLUTION:
        return [f"this is {export['extractor']}'s extraction workbook, not a conflicts sheet: "
                "import it with `review extract import`"]
    if not resolution and export["extractor"] != who:
        # the 'about' sheet is written as what, export_id, extractor, ...: the extractor is on row 3
        return [f"sheet '{ABOUT_SHEET}', row 3, column B (extractor): this workbook was exported for extractor "
                f"{export['extractor']!r}, not {who!r}: "
                "each extractor imports their own workbook"]
    return []


def _open_upload(store, path: Path, who: str, kind: str) -> tuple[Book, str, Mapping[str, Any] | None, Any]:
    """The workbook, its hash, its export and any earlier upload of the same file, once the workbook is
    known to be `who`'s; run inside the import's transaction so nothing is written on a refusal."""
    data = _read_file(path)
    file_hash = hashlib.sha256(data).hexdigest()
    book = read_workbook(path, data)
    export = store.extraction_export(book.export_id) if book.export_id else None
    problems = _identity_problems(book, export, who, resolution=kind == "resolution")
    if problems:
        raise InputError(f"{path}: cannot be imported; nothing was written", problems)
    return book, file_hash, export, store.extraction_upload(file_hash, who, kind)


def import_workbook(store, path: Path, extractor: str, *, forms: Mapping[str, Form],
                    config: ScreeningConfig | None = None, now: str | None = None) -> ImportSummary:
    """Check a filled workbook whole and append its changed values to the history; all or nothing."""
    from review.store import utcnow

    extractor = check_name(extractor, "extractor")
    path = Path(path)
    with store.transaction():
        book, file_hash, export, prior = _open_upload(store, path, extractor, "value")
        if prior is not None:
            return ImportSummary(str(path), extractor, already_imported_at=prior["at"])
        included, state = included_records(store, config)
        ctx = CheckContext(export, forms, frozenset(store.stored_record_ids()), state.duplicate_of,
                           frozenset(included), confirmed_designs(store))
        values, counted, problems = check_book(book, ctx)
        states = value_states(store.extraction_history(), state.duplicate_of)
        new, refused = changes(values, extractor_values(states, extractor), states)
        problems += refused
        if problems:
            raise InputError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
        now = now or utcnow()
        rows = [(v.record_id, v.form, v.item, v.field, v.value, extractor, "value", int(v.suggested), file_hash, now)
                for v in new]
        store.save_extraction_upload(file_hash, extractor, "value", path.name, now, rows)
    not_done = counted.pop("not done", 0)
    return ImportSummary(str(path), extractor, len(rows), dict(counted), not_done)


# ===================================================================== conflicts and resolution

def conflict_rows(states: Mapping[Key, ValueState], records: Mapping[int, Record]) -> list[dict[str, Any]]:
    """One row per field in conflict, each extractor's value shown."""
    out = []
    for key in sorted(k for k, s in states.items() if s.status == "conflict" and k[0] in records):
        rid, form, item, fname = key
        shown = "; ".join(f"{e}: {v if v is not None else '(blank)'}" for e, v in states[key].values.items())
        out.append({"record_id": rid, "title": records[rid].title or "", "form": form, "outcome_no": item,
                    "field": fname, "values": shown, "final": ""})
    return out


def export_conflicts(store, out: Path, *, forms: Mapping[str, Form], config: ScreeningConfig | None = None,
                     now: str | None = None) -> int:
    """Write a conflicts sheet (every field where extractors disagree); returns the number of rows."""
    from review.store import utcnow

    included, state = included_records(store, config)
    states = value_states(store.extraction_history(), state.duplicate_of)
    rows = conflict_rows(states, included)
    now = now or utcnow()
    export_id = _now_id(now)
    about = [("what", "extraction conflicts: fill 'final' with the agreed value (blank: leave unresolved); "
                      "import with: review extract resolve --file FILE --resolver NAME"),
             ("export_id", export_id), ("extractor", RESOLUTION), ("exported_at", now), ("conflicts", str(len(rows)))]
    write_workbook(out, [(CONFLICTS_SHEET, list(CONFLICT_COLUMNS), rows)], {}, set(), about)
    rids = sorted({r["record_id"] for r in rows})
    store.save_extraction_export(export_id, RESOLUTION, now, rids, {rid: list(forms) for rid in rids},
                                 {rid: key_hash(rid, included[rid].title) for rid in rids}, {})
    return len(rows)


def import_resolutions(store, path: Path, resolver: str, *, forms: Mapping[str, Form],
                       config: ScreeningConfig | None = None, now: str | None = None) -> ImportSummary:
    """Check a filled conflicts sheet whole and append each final value as a resolution; all or nothing."""
    from review.store import utcnow

    resolver = check_name(resolver, "resolver")
    path = Path(path)
    with store.transaction():
        book, file_hash, export, prior = _open_upload(store, path, resolver, "resolution")
        if prior is not None:
            return ImportSummary(str(path), resolver, already_imported_at=prior["at"], resolution=True)
        header, rows = book.sheets.get(CONFLICTS_SHEET, ([], []))
        header = [h.lower() for h in header]
        rows = [(n, {k.lower(): v for k, v in cells.items()}) for n, cells in rows]
        missing = [c for c in CONFLICT_COLUMNS if c not in header]
        if missing:
            raise InputError(f"{path}: sheet 'conflicts': missing column(s) {', '.join(missing)}; nothing was written")
        included, state = included_records(store, config)
        states = value_states(store.extraction_history(), state.duplicate_of)
        problems: list[str] = []
        found: list[CellValue] = []
        for n, cells in rows:
            at = f"sheet 'conflicts', row {n}"
            rid = parse_record_id(cells.get("record_id", ""))
            fname, item, field_name = cells.get("form", ""), cells.get("outcome_no", ""), cells.get("field", "")
            if rid is None or rid not in export["key_hash"]:
                problems.append(f"{at}, {_col(header, 'record_id')}: {cells.get('record_id')!r} is not a record "
                                "of this conflicts sheet")
                continue
            if key_hash(rid, cells.get("title")) != export["key_hash"][rid]:
                problems.append(f"{at}, {_col(header, 'title')}: record {rid}: record_id or title was edited")
                continue
            key = (rid, fname, item, field_name)
            if key not in states:
                problems.append(f"{at}, {_col(header, 'field')}: record {rid} has no values for form {fname!r}, "
                                f"outcome {item!r}, field {field_name!r} (key columns edited?)")
                continue
            level = OUTCOME if item else STUDY
            f = next((x for x in forms[fname].fields(level) if x.name == field_name), None) if fname in forms else None
            if f is None:
                problems.append(f"{at}, {_col(header, 'field')}: {field_name!r} is not a field of form {fname!r}")
                continue
            raw = cells.get("final", "")
            if not raw:
                continue
            value, problem = check_value(f, raw)
            if problem:
                problems.append(f"{at}, {_col(header, 'final')}: record {rid}, {field_name}: {problem}")
                continue
            if states[key].resolution is not None and states[key].resolution[0] == value:
                continue
            found.append(CellValue(rid, fname, item, field_name, value, False))
        if problems:
            raise InputError(f"{path}: {len(problems)} problem(s); nothing was imported", problems)
        now = now or utcnow()
        out = [(v.record_id, v.form, v.item, v.field, v.value, resolver, "resolution", 0, file_hash, now)
               for v in found]
        store.save_extraction_upload(file_hash, resolver, "resolution", path.name, now, out)
    return ImportSummary(str(path), resolver, len(out), {CONFLICTS_SHEET: len(rows)}, resolution=True)


# ===================================================================== final values (notebook and tables API)

def final_values(store, config: ScreeningConfig | None = None) -> tuple[dict[Key, ValueState], dict[int, Record]]:
    """Every field's state for the included studies, and those studies' records."""
    included, state = included_records(store, config)
    states = value_states(store.extraction_history(), state.duplicate_of)
    return {k: s for k, s in states.items() if k[0] in included}, included


def status_counts(states: Mapping[Key, ValueState]) -> dict[str, Counter]:
    """form -> Counter of field statuses (agreed, single, conflict, resolved)."""
    out: dict[str, Counter] = {}
    for (rid, form, item, fname), s in states.items():
        out.setdefault(form, Counter())[s.status] += 1
    return out
