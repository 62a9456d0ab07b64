"""Extraction and risk-of-bias forms as data (queries/extraction.yaml): load, validate, check cell values (pure).

A form is a list of typed fields at one or two levels: ``study`` (one row per study) and
``outcome`` (one row per study outcome, keyed by ``outcome_no``). Risk-of-bias forms are forms
too (RoB 2, ROBINS-I, JBI), with ordered judgements and a colour per judgement; ``applies_to``
says for which designs a form is filled.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from review.errors import ConfigError
from review.models import DESIGNS

DEFAULT_FORMS_PATH = Path("queries") / "extraction.yaml"
STUDY, OUTCOME = "study", "outcome"
LEVELS = (STUDY, OUTCOME)
TYPES = ("number", "integer", "choice", "text", "yes_no", "judgement")
YES_NO = ("yes", "no")
TEXT_MAX = 5000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,40}$")
_FIELD_KEYS = {"name", "type", "choices", "label", "help", "min", "max", "required", "suggest"}
_FORM_KEYS = {"title", "applies_to", "judgements", "colours", LEVELS[0], LEVELS[1]}
SUGGESTERS = ("design", "country", "sample_size", "doses", "comparators", "trial_features")
RESERVED = {"record_id", "title", "outcome_no", "form", "notes"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    choices: tuple[str, ...] = ()
    label: str = ""
    help: str = ""
    min: float | None = None
    max: float | None = None
    required: bool = False
    suggest: str | None = None

    @property
    def heading(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    applies_to: tuple[str, ...] | None  # None: every included study
    levels: Mapping[str, tuple[Field, ...]]
    judgements: tuple[str, ...] = ()
    colours: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_rob(self) -> bool:
        return bool(self.judgements)

    def applies(self, design: str | None) -> bool:
        return self.applies_to is None or (design in self.applies_to)

    def fields(self, level: str) -> tuple[Field, ...]:
        return self.levels.get(level, ())

    def field(self, level: str, name: str) -> Field:
        return next(f for f in self.fields(level) if f.name == name)

    def domains(self) -> tuple[Field, ...]:
        """The judgement fields of a risk-of-bias form (overall last)."""
        return tuple(f for f in self.fields(STUDY) if f.type == "judgement")


def _text(value: Any) -> str:
    """A YAML scalar as form text: YAML 1.1 reads unquoted yes/no as booleans, which here mean the words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def load_forms(path: str | Path | None = None, claim_ids: Sequence[str] = ()) -> dict[str, Form]:
    """Forms from a YAML file (default queries/extraction.yaml); every problem named with its form and field."""
    path = Path(path) if path is not None else DEFAULT_FORMS_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read extraction forms {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_forms(data, str(path), claim_ids)


def parse_forms(data: Any, where: str = "extraction forms", claim_ids: Sequence[str] = ()) -> dict[str, Form]:
    if not isinstance(data, dict) or not isinstance(data.get("forms"), dict) or not data["forms"]:
        raise ConfigError(f"{where}: expected a mapping 'forms:' of form name -> form")
    problems: list[str] = []
    forms: dict[str, Form] = {}
    for name, spec in data["forms"].items():
        form = _parse_form(str(name), spec, problems, claim_ids)
        if form is not None:
            forms[form.name] = form
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return forms


def _parse_form(name: str, spec: Any, problems: list[str], claim_ids: Sequence[str]) -> Form | None:
    if not _NAME.match(name):
        problems.append(f"form name {name!r} must be letters, digits and _")
        return None
    if not isinstance(spec, dict):
        problems.append(f"form {name}: expected a mapping")
        return None
    unknown = set(spec) - _FORM_KEYS
    if unknown:
        problems.append(f"form {name}: unknown key(s) {', '.join(sorted(unknown))}")
    applies = spec.get("applies_to", "all")
    if applies == "all":
        applies_to = None
    elif isinstance(applies, list) and applies and all(a in DESIGNS for a in applies):
        applies_to = tuple(applies)
    else:
        bad = [a for a in applies if a not in DESIGNS] if isinstance(applies, list) else [applies]
        problems.append(f"form {name}: applies_to must be 'all' or a list of designs; unknown: {bad}")
        applies_to = ()
    judgements = tuple(_text(j) for j in spec.get("judgements") or ())
    colours = {_text(k): str(v) for k, v in (spec.get("colours") or {}).items()}
    levels: dict[str, tuple[Field, ...]] = {}
    for level in LEVELS:
        items = spec.get(level)
        if items is None:
            continue
        if not isinstance(items, list) or not items:
            problems.append(f"form {name}: {level} must be a list of fields")
            continue
        fields = [f for i, item in enumerate(items)
                  if (f := _parse_field(name, level, i, item, judgements, problems, claim_ids)) is not None]
        seen: set[str] = set()
        for f in fields:
            if f.name in seen:
                problems.append(f"form {name}: field {f.name} appears twice in {level}")
            seen.add(f.name)
        levels[level] = tuple(fields)
    if not levels:
        problems.append(f"form {name}: has no fields (give study: and/or outcome:)")
    if OUTCOME in levels and judgements:
        problems.append(f"form {name}: a risk-of-bias form (with judgements) has study-level fields only")
    for level_fields in levels.values():
        for f in level_fields:
            if f.type == "judgement":
                missing = [c for c in f.choices if c not in colours]
                if missing:
                    problems.append(f"form {name}: colours has no colour for {', '.join(missing)}")
                    break
    return Form(name, str(spec.get("title") or name), applies_to, levels, judgements, colours)


def _parse_field(form: str, level: str, i: int, item: Any, judgements: tuple[str, ...], problems: list[str],
                 claim_ids: Sequence[str]) -> Field | None:
    where = f"form {form}, {level} field {i + 1}"
    if not isinstance(item, dict) or "name" not in item or "type" not in item:
        problems.append(f"{where}: give name and type")
        return None
    name, ftype = str(item["name"]), str(item["type"])
    where = f"form {form}, field {name}"
    unknown = set(item) - _FIELD_KEYS
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if not _NAME.match(name) or name in RESERVED:
        problems.append(f"{where}: name must be letters, digits and _ and not one of {', '.join(sorted(RESERVED))}")
    if ftype not in TYPES:
        problems.append(f"{where}: type {ftype!r} is not one of {', '.join(TYPES)}")
        return None
    raw = item.get("choices")
    if raw == "designs":
        choices: tuple[str, ...] = DESIGNS
    elif raw == "claims":
        choices = tuple(claim_ids)
    elif isinstance(raw, list):
        choices = tuple(_text(c) for c in raw)
    elif raw is None:
        choices = judgements if ftype == "judgement" else ()
    else:
        problems.append(f"{where}: choices must be a list, 'designs' or 'claims'")
        choices = ()
    if ftype == "choice" and not choices and raw != "claims":
        problems.append(f"{where}: a choice field needs choices")
    if ftype == "judgement" and not choices:
        problems.append(f"{where}: a judgement field needs the form's judgements (or its own choices)")
    if ftype == "yes_no":
        choices = YES_NO
    suggest = item.get("suggest")
    if suggest is not None and suggest not in SUGGESTERS:
        problems.append(f"{where}: suggest {suggest!r} is not one of {', '.join(SUGGESTERS)}")
    bounds = []
    for key in ("min", "max"):
        v = item.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            problems.append(f"{where}: {key} must be a number")
            v = None
        bounds.append(v)
    return Field(name, ftype, choices, str(item.get("label") or ""), str(item.get("help") or ""), bounds[0],
                 bounds[1], bool(item.get("required", False)), suggest)


# ---------------------------------------------------------------------------------- cell values

def _fold(text: str) -> str:
    return " ".join(str(text).split()).casefold()


_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def canonical_number(x: float) -> str:
    """One text per number, so 29, 29.0 and '29.00' compare equal between extractors."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def check_value(f: Field, text: str) -> tuple[str | None, str | None]:
    """(stored value, None) or (None, problem) for one cell's text; a blank cell is (None, None)."""
    text = " ".join(str(text or "").split()) if f.type != "text" else str(text or "").strip()
    if not text:
        return None, None
    if f.type in ("number", "integer"):
        cleaned = text.replace(" ", "")
        if not _NUMBER.match(cleaned):
            hint = " (use a point for decimals, no thousands separators)" if re.search(r"\d[,]\d", text) else ""
            return None, f"{text!r} is not a number{hint}"
        x = float(cleaned)
        if math.isinf(x) or math.isnan(x):
            return None, f"{text!r} is not a number"
        if f.type == "integer" and x != int(x):
            return None, f"{text!r} is not a whole number"
        if f.min is not None and x < f.min:
            return None, f"{text} is below the minimum {canonical_number(f.min)}"
        if f.max is not None and x > f.max:
            return None, f"{text} is above the maximum {canonical_number(f.max)}"
        return canonical_number(x), None
    if f.type in ("choice", "yes_no", "judgement"):
        choices = f.choices
        if f.type == "yes_no":
            text = {"true": "yes", "false": "no", "y": "yes", "n": "no"}.get(_fold(text), text)
        by_fold = {_fold(c): c for c in choices}
        if _fold(text) in by_fold:
            return by_fold[_fold(text)], None
        close = difflib.get_close_matches(_fold(text), list(by_fold), n=1, cutoff=0.6)
        hint = f" (did you mean {by_fold[close[0]]!r}?)" if close else ""
        shown = "; ".join(choices) if len(choices) <= 20 else "; ".join(choices[:20]) + "; ..."
        return None, f"{text!r} is not one of: {shown}{hint}"
    if len(text) > TEXT_MAX:
        return None, f"text longer than {TEXT_MAX} characters"
    return text, None


def choice_lists(form: Form) -> dict[tuple[str, str], tuple[str, ...]]:
    """(level, field) -> drop-down values, for the sheets."""
    return {(level, f.name): f.choices for level in LEVELS for f in form.fields(level) if f.choices}
