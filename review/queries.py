"""Load and validate saved search strategies (queries/*.yaml)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from review.errors import ConfigError
from review.models import Strategy

_KEYS = {"name", "database", "query", "description", "mindate", "maxdate", "datetype", "limits"}
_DATABASES = {"pubmed"}
_DATETYPES = {"pdat", "edat", "mdat", "crdt"}
_DATE = re.compile(r"^\d{4}(/\d{2}(/\d{2})?)?$")
# Files in queries/ that are configuration, not strategies.
_NOT_STRATEGIES = {"screening.yaml", "claims.yaml", "refresh.yaml", "extraction.yaml"}


def _check_date(path: Path, key: str, value: object) -> str:
    text = str(value).strip()
    if not _DATE.match(text):
        raise ConfigError(f"{path}: {key}: {value!r} is not a date; write YYYY, YYYY/MM or YYYY/MM/DD")
    parts = [int(p) for p in text.split("/")]
    if len(parts) > 1 and not 1 <= parts[1] <= 12 or len(parts) > 2 and not 1 <= parts[2] <= 31:
        raise ConfigError(f"{path}: {key}: {value!r} is not a valid date")
    return text


def parse_strategy(path: Path, data: object) -> Strategy:
    """Validate one strategy mapping; errors name the file and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a strategy file must be a mapping of keys (name, query, ...)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError(f"{path}: 'query' is missing or empty")
    if query.count("(") != query.count(")"):
        raise ConfigError(f"{path}: 'query' has unbalanced parentheses")
    if query.count('"') % 2:
        raise ConfigError(f"{path}: 'query' has an unclosed double quote")
    name = str(data.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"{path}: name {name!r} may use only letters, digits, '_', '-' and '.'")
    database = str(data.get("database", "pubmed")).lower()
    if database not in _DATABASES:
        raise ConfigError(f"{path}: database {database!r} is not supported; use one of {sorted(_DATABASES)}")
    datetype = str(data.get("datetype", "pdat"))
    if datetype not in _DATETYPES:
        raise ConfigError(f"{path}: datetype {datetype!r} is not one of {sorted(_DATETYPES)}")
    mindate = _check_date(path, "mindate", data["mindate"]) if data.get("mindate") is not None else None
    maxdate = _check_date(path, "maxdate", data["maxdate"]) if data.get("maxdate") is not None else None
    if mindate and maxdate and mindate > maxdate:
        raise ConfigError(f"{path}: mindate {mindate} is after maxdate {maxdate}")
    limits = data.get("limits") or []
    if isinstance(limits, str):
        limits = [limits]
    return Strategy(name=name, query=" ".join(query.split()), database=database,
                    description=str(data.get("description") or "").strip(), mindate=mindate,
                    maxdate=maxdate, datetype=datetype, path=str(path), limits=tuple(map(str, limits)))


def load_strategy(path: Path) -> Strategy:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_strategy(Path(path), data)


def load_strategies(folder: Path, names: list[str] | None = None) -> list[Strategy]:
    """All strategies in ``folder`` (or those named), sorted by name; duplicate names are an error."""
    files = sorted(p for p in Path(folder).glob("*.y*ml") if p.name not in _NOT_STRATEGIES)
    strategies = [load_strategy(p) for p in files]
    seen: dict[str, Strategy] = {}
    for s in strategies:
        if s.name in seen:
            raise ConfigError(f"{s.path}: strategy name {s.name!r} is also used by {seen[s.name].path}")
        seen[s.name] = s
    if names:
        missing = [n for n in names if n not in seen]
        if missing:
            raise ConfigError(f"no strategy named {', '.join(missing)} in {folder}; "
                              f"available: {', '.join(sorted(seen)) or 'none'}")
        return [seen[n] for n in names]
    return sorted(seen.values(), key=lambda s: s.name)
