"""Claims map: which records bear on each grey-literature claim, grouped by evidence tier.

A claim (``queries/claims.yaml``) is a set of term groups ANDed together, each group a concept
of synonyms (regular expressions matched as whole words, case-sensitive acronyms, MeSH
headings). ``match_record`` says which terms matched where (title, abstract, background part of
the abstract, keywords, MeSH). A reviewer's pin or unpin always wins over the terms.

Two choices worth knowing:

* Negation is narrow on purpose. A hit is dropped only when the words around it say the topic
  was *not studied or was left out*: "did not assess withdrawal", "no data on relapse",
  "excluding alcohol", "kratom users were excluded", "not related to kratom". A finding of
  absence ("no signs of withdrawal were observed") is evidence and still counts.
* Background mentions. Nearly every kratom abstract opens with "kratom is used to self-treat
  opioid withdrawal". A claim whose terms match only there (the labelled BACKGROUND or
  INTRODUCTION part of an abstract, or the first sentence of an unlabelled one) is marked
  ``background_only``: it stays in the map, but ``claim_statements`` counts it apart.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from review.errors import ConfigError, ReviewError
from review.models import DESIGN_TIER, Design, Record, Tier

if TYPE_CHECKING:
    import pandas as pd

    from review.store import Store

DEFAULT_CLAIMS = Path("queries") / "claims.yaml"
UNCLASSIFIED = "unclassified"
TIER_ORDER: tuple[str, ...] = tuple(t.value for t in Tier)  # ends with unclassified
DESIGN_ORDER: tuple[str, ...] = tuple(DESIGN_TIER)  # ends with unclassified

# (singular, plural) for the generated statements.
DESIGN_NAMES: dict[str, tuple[str, str]] = {
    "rct": ("randomized trial", "randomized trials"),
    "controlled_trial_nonrandomized": ("non-randomized controlled trial", "non-randomized controlled trials"),
    "uncontrolled_trial": ("uncontrolled trial", "uncontrolled trials"),
    "cohort": ("cohort study", "cohort studies"),
    "case_control": ("case-control study", "case-control studies"),
    "cross_sectional_survey": ("survey", "surveys"),
    "registry_or_poison_center": ("registry or poison center study", "registry or poison center studies"),
    "case_report": ("case report", "case reports"),
    "case_series": ("case series", "case series"),
    "qualitative": ("qualitative study", "qualitative studies"),
    "animal": ("animal study", "animal studies"),
    "in_vitro": ("in vitro study", "in vitro studies"),
    "systematic_review": ("systematic review", "systematic reviews"),
    "meta_analysis": ("meta-analysis", "meta-analyses"),
    "narrative_review": ("narrative review", "narrative reviews"),
    "editorial_commentary": ("editorial or commentary", "editorials or commentaries"),
    "trial_registration": ("trial registration", "trial registrations"),
    "other": ("other record", "other records"),
    UNCLASSIFIED: ("unclassified record", "unclassified records"),
}

MAP_COLUMNS = ["claim_id", "record_id", "tier", "design", "tier_source", "self_reported", "matched_terms", "negated_terms",
               "background_only", "pinned", "decided_by", "title", "year", "link"]


# ---------------------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Term:
    """One synonym as written in the claims file, compiled as a whole-word pattern."""

    source: str
    pattern: re.Pattern
    # Strings one of which every match contains (lower case unless case-sensitive): a cheap
    # `in` test skips most texts before the regex runs (4-5x faster on real abstracts).
    anchors: tuple[str, ...] = ()
    case_sensitive: bool = False

    def occurs_in(self, text: str, lowered: str) -> bool:
        if not self.anchors:
            return True
        haystack = text if self.case_sensitive else lowered
        for a in self.anchors:
            if a in haystack:
                return True
        return False


@dataclass(frozen=True)
class TermGroup:
    """A concept: any of its terms or MeSH headings satisfies it."""

    name: str
    terms: tuple[Term, ...] = ()
    mesh: tuple[str, ...] = ()  # "descriptor" or "descriptor/qualifier", lower case
    not_after: re.Pattern | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    outcomes: tuple[str, ...]
    groups: tuple[TermGroup, ...]
    exclude: TermGroup | None = None


@dataclass(frozen=True)
class Hit:
    """One occurrence of a term: which group, the term as written, the words found, and where."""

    group: str
    term: str
    text: str
    where: str  # title | abstract | background | keywords | mesh


@dataclass(frozen=True)
class Match:
    """Why a record bears on a claim: the hits that count and those a negation cancelled."""

    claim_id: str
    hits: tuple[Hit, ...]
    negated: tuple[Hit, ...] = ()
    background_only: bool = False

    @property
    def matched_terms(self) -> str:
        return _describe(self.hits)

    @property
    def negated_terms(self) -> str:
        return _describe(self.negated)


@dataclass(frozen=True)
class Pin:
    """A reviewer's decision that a record does (pinned) or does not bear on a claim."""

    claim_id: str
    record_id: int
    pinned: bool
    reviewer: str
    reason: str | None
    at: str

    @property
    def note(self) -> str:
        verb = "pinned" if self.pinned else "unpinned"
        return f"{verb} by {self.reviewer} ({self.at[:10]})" + (f": {self.reason}" if self.reason else "")


def _describe(hits: Iterable[Hit], per_group: int = 6) -> str:
    """'group: text [where], ...; group: ...' with each (text, where) once."""
    groups: dict[str, list[str]] = {}
    seen: set[tuple[str, str, str]] = set()
    for h in hits:
        key = (h.group, h.text.lower(), h.where)
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault(h.group, []).append(f"{h.text} [{h.where}]")
    return "; ".join(f"{g}: " + ", ".join(items[:per_group]) + (", ..." if len(items) > per_group else "")
                     for g, items in groups.items())


# ---------------------------------------------------------------------------------------- loading

_TOP_KEYS = {"concepts", "claims"}
_CLAIM_KEYS = {"id", "claim", "outcomes", "all_of", "exclude", "note"}
_GROUP_KEYS = {"terms", "acronyms", "mesh", "not_after", "note"}
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class _Problems:
    """Collects validation problems with YAML line numbers, to report them all at once."""

    def __init__(self, path: Path, root: Any):
        self.path, self.root, self.items = path, root, []

    def add(self, where: tuple, message: str, claim: str | None = None) -> None:
        line = _line_of(self.root, where)
        prefix = (f"line {line}" if line else "") + (f" (claim {claim})" if claim else "")
        self.items.append(f"{prefix}: {message}" if prefix else message)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(f"{self.path}: {len(self.items)} problem(s) in the claims file:\n"
                              + "\n".join(f"  - {p}" for p in self.items))


def _line_of(node: Any, path: tuple) -> int | None:
    """1-based line of the YAML node at ``path`` (mapping keys and list indices), or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _compile_term(text: str, case_sensitive: bool) -> re.Pattern:
    if "(?P" in text or re.search(r"\\[1-9]", text):
        raise re.error("named groups and backreferences are not allowed; use (...) or (?:...)")
    re.compile(text)  # a clear error about the term itself, before wrapping
    return re.compile(rf"(?<!\w)(?:{text})(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def _anchors(source: str, case_sensitive: bool) -> tuple[str, ...]:
    """Literal strings one of which every match of ``source`` contains, or () when unknown.

    Looks only at the top level: a run of literal characters ("withdraw" in 'withdraw\\w*'), or a
    required group of alternatives ('(opioids?|heroin)' -> opioid, heroin). Uses the private
    regex parser; if it changes, matching stays correct, only slower.
    """
    if re.search(r"\(\?[aiLmsux-]+[:)]", source):  # inline flags change what a literal means
        return ()
    try:
        from re import _constants as K, _parser
        items = list(_parser.parse(source))
    except Exception:  # pragma: no cover - depends on the Python version
        return ()

    def leading(seq: Sequence) -> str:
        run = ""
        for op, av in seq:
            if op is not K.LITERAL:
                break
            run += chr(av)
        return run

    candidates: list[tuple[str, ...]] = []
    run = ""
    for op, av in items + [(None, None)]:
        if op is K.LITERAL:
            run += chr(av)
            continue
        if run:
            candidates.append((run,))
            run = ""
        if op is K.SUBPATTERN:
            inner = list(av[-1])
            prefix = leading(inner)
            rest = inner[len(prefix):]
            if rest and rest[0][0] is K.BRANCH:
                candidates.append(tuple(prefix + leading(alt) for alt in rest[0][1][1]))
            elif prefix:
                candidates.append((prefix,))
    usable = [c for c in candidates if c and min(map(len, c)) >= 3 and all(a.isascii() for a in c)]
    if not usable:
        return ()
    best = max(usable, key=lambda c: min(map(len, c)))
    return best if case_sensitive else tuple(a.lower() for a in best)


def _strings(value: Any, where: tuple, key: str, problems: _Problems, claim: str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.add(where, f"'{key}' must be a list of strings", claim)
        return []
    out = []
    for i, v in enumerate(value):
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and str(v).strip():
            out.append(str(v).strip())
        else:
            problems.add(where + (i,), f"'{key}' item {i + 1} must be a non-empty string, got {v!r}", claim)
    return out


def _parse_group(name: str, data: Any, where: tuple, problems: _Problems, claim: str | None) -> TermGroup | None:
    """A concept: a list of terms, or a mapping with terms/acronyms/mesh/not_after."""
    bare = isinstance(data, (list, str))  # a plain list of terms: its items sit at where + (i,)
    if bare:
        data = {"terms": data}
    if not isinstance(data, dict):
        problems.add(where, f"group '{name}' must be a list of terms or a mapping with terms, acronyms, mesh", claim)
        return None
    unknown = sorted(set(data) - _GROUP_KEYS)
    if unknown:
        problems.add(where, f"group '{name}': unknown key(s) {', '.join(map(str, unknown))}; "
                            f"allowed: {', '.join(sorted(_GROUP_KEYS))}", claim)
    terms: list[Term] = []
    n_written = 0
    for key, case_sensitive in (("terms", False), ("acronyms", True)):
        at = where if bare else where + (key,)
        written = _strings(data.get(key), at, key, problems, claim)
        n_written += len(written)
        for i, text in enumerate(written):
            try:
                terms.append(Term(text, _compile_term(text, case_sensitive), _anchors(text, case_sensitive),
                                  case_sensitive))
            except re.error as exc:
                problems.add(at + (i,), f"group '{name}': {key[:-1]} {text!r} is not a valid regular "
                                               f"expression: {exc}", claim)
    mesh = tuple(m.lower() for m in _strings(data.get("mesh"), where + ("mesh",), "mesh", problems, claim))
    not_after = None
    words = _strings(data.get("not_after"), where + ("not_after",), "not_after", problems, claim)
    if words:
        try:
            for w in words:
                re.compile(w)
            not_after = re.compile(r"(?<![\w-])(?:" + "|".join(f"(?:{w})" for w in words) + r")[\s-]*$",
                                   re.IGNORECASE)
        except re.error as exc:
            problems.add(where + ("not_after",), f"group '{name}': not_after has an invalid regular expression: "
                                                 f"{exc}", claim)
    if not n_written and not mesh:
        problems.add(where, f"group '{name}' has no terms, acronyms or MeSH headings", claim)
    if not terms and not mesh:
        return None
    return TermGroup(name, tuple(terms), mesh, not_after)


def parse_claims(data: Any, path: Path | str = "claims.yaml", root: Any = None) -> list[Claim]:
    """Validate the parsed claims file; every problem is reported with its line and claim id."""
    path = Path(path)
    problems = _Problems(path, root)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the claims file must be a mapping with 'concepts' and 'claims'")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        problems.add((), f"unknown top-level key(s) {', '.join(map(str, unknown))}; allowed: concepts, claims")
    concepts: dict[str, TermGroup] = {}
    raw_concepts = data.get("concepts") or {}
    if not isinstance(raw_concepts, dict):
        problems.add(("concepts",), "'concepts' must be a mapping of name -> terms")
        raw_concepts = {}
    for name, body in raw_concepts.items():
        group = _parse_group(str(name), body, ("concepts", name), problems, None)
        if group is not None:
            concepts[str(name)] = group
    raw_claims = data.get("claims")
    if not isinstance(raw_claims, list) or not raw_claims:
        problems.add(("claims",), "'claims' must be a non-empty list")
        problems.raise_if_any()
        return []
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw_claims):
        where = ("claims", i)
        if not isinstance(item, dict):
            problems.add(where, f"claim {i + 1} must be a mapping with id, claim, outcomes, all_of")
            continue
        cid = str(item.get("id") or "").strip()
        label = cid or f"#{i + 1}"
        if not cid:
            problems.add(where, f"claim {i + 1} has no 'id'")
        elif not _ID.match(cid):
            problems.add(where + ("id",), f"id {cid!r} may use only letters, digits, '_', '-' and '.'", label)
        elif cid in seen:
            problems.add(where + ("id",), f"duplicate id {cid!r} (also claim {seen[cid] + 1})", label)
        else:
            seen[cid] = i
        unknown = sorted(set(item) - _CLAIM_KEYS)
        if unknown:
            problems.add(where, f"unknown key(s) {', '.join(map(str, unknown))}; allowed: "
                                f"{', '.join(sorted(_CLAIM_KEYS))}", label)
        text = item.get("claim")
        if not isinstance(text, str) or not text.strip():
            problems.add(where, "'claim' (the claim's text) is missing or empty", label)
            text = ""
        outcomes = _strings(item.get("outcomes"), where + ("outcomes",), "outcomes", problems, label)
        raw_groups = item.get("all_of")
        if isinstance(raw_groups, (str, dict)):
            raw_groups = [raw_groups]
        if not isinstance(raw_groups, list) or not raw_groups:
            problems.add(where, "'all_of' must list at least one concept name or inline group", label)
            raw_groups = []
        groups: list[TermGroup] = []
        for j, g in enumerate(raw_groups):
            if isinstance(g, str):
                if g in concepts:
                    groups.append(concepts[g])
                elif g not in raw_concepts:
                    problems.add(where + ("all_of", j), f"unknown concept {g!r}; defined: "
                                                        f"{', '.join(sorted(raw_concepts)) or 'none'}", label)
            else:
                group = _parse_group(f"{label}.all_of[{j + 1}]", g, where + ("all_of", j), problems, label)
                if group is not None:
                    groups.append(group)
        exclude = None
        if item.get("exclude") is not None:
            raw = item["exclude"]
            exclude = (concepts.get(raw) if isinstance(raw, str) and raw in concepts
                       else _parse_group(f"{label}.exclude", raw, where + ("exclude",), problems, label))
        claims.append(Claim(cid, " ".join(text.split()), tuple(outcomes), tuple(groups), exclude))
    problems.raise_if_any()
    return claims


def load_claims(path: Path | str = DEFAULT_CLAIMS) -> list[Claim]:
    """Read and validate a claims file (errors name the file, line and claim id)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the claims file: {exc.strerror}") from None
    try:
        data, root = yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_claims(data, path, root)


# ---------------------------------------------------------------------------------------- text

@dataclass(frozen=True)
class _Segment:
    where: str
    text: str
    lowered: str = ""


_BACKGROUND = re.compile(r"^\s*(background|introduction|context|rationale|(ethnopharmacological\s+)?relevance)\b",
                         re.IGNORECASE)
# "Methods:" / "Aim of the study:" / "BACKGROUND:" at the start or after a sentence.
_INLINE_LABEL = re.compile(r"(?:^|(?<=[.!?]))\s*([A-Z][A-Za-z]*(?:[ /-][A-Za-z]+){0,4})\s*:\s")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“])")


def _split_background(text: str) -> tuple[str, str]:
    """(background, rest) of one unstructured abstract: a leading 'Background:' part, else the
    first sentence when there are at least three."""
    labels = list(_INLINE_LABEL.finditer(text))
    if labels and labels[0].start() == 0:
        if not _BACKGROUND.match(labels[0].group(1)):
            return "", text
        end = labels[1].start() if len(labels) > 1 else len(text)
        return text[:end], text[end:]
    sentences = _SENTENCE_END.split(text.strip())
    if len(sentences) >= 3:
        return sentences[0], text.strip()[len(sentences[0]):]
    return "", text


# Unicode hyphens and dashes as ASCII, so "7‐hydroxymitragynine" and "dose‐dependent" match.
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"})


def _segments(record: Record) -> list[_Segment]:
    out = []
    for s in _raw_segments(record):
        text = s.text.translate(_DASHES)
        out.append(_Segment(s.where, text, text.lower()))
    return out


def _raw_segments(record: Record) -> list[_Segment]:
    out = [_Segment("title", record.title or "")]
    sections = [s for s in record.abstract if s.text and s.text.strip()]
    labelled = any(s.label or s.category for s in sections)
    for i, s in enumerate(sections):
        if labelled:
            is_bg = (s.category or "").upper() == "BACKGROUND" or bool(_BACKGROUND.match(s.label or ""))
            out.append(_Segment("background" if is_bg else "abstract", s.text))
        elif i == 0:
            bg, rest = _split_background(s.text)
            out.extend(seg for seg in (_Segment("background", bg), _Segment("abstract", rest)) if seg.text)
        else:
            out.append(_Segment("abstract", s.text))
    out.extend(_Segment("keywords", k) for k in record.keywords if k)
    return [s for s in out if s.text]


# Words before a hit that say it was not studied or left out (up to four words between).
_NEG_BEFORE = re.compile(
    r"(?<!\w)(?:excluding|exclusion\s+of|except(?:\s+for)?|other\s+than|apart\s+from"
    r"|(?:not\s+|un)related\s+to|not\s+due\s+to|not\s+attributable\s+to|not\s+caused\s+by"
    r"|(?:no|without|lack(?:ing)?\s+of|absence\s+of)\s+(?:data|information|measures?|measurements?|assessments?)"
    r"\s+(?:on|of|about|regarding|for|concerning)"
    r"|(?:did|do|does|could|was|were)\s+not\s+(?:assess|measure|evaluate|examine|record|collect|capture|ask"
    r"|study|investigate|address)\w*(?:\s+(?:for|about|whether|if))?"
    r"|without\s+(?:assessing|measuring|evaluating|examining|recording|considering))"
    r"(?:[\s,/()-]+[\w'’-]+){0,4}[\s,/()\"“'’-]*$", re.IGNORECASE)
# Words after a hit, in the same clause: "... were not assessed", "... were excluded".
_NEG_AFTER = re.compile(
    r"^[^.;:!?,]{0,80}?(?<!\w)(?:(?:was|were|is|are|has\s+been|have\s+been|had\s+been)\s+(?:not|never)\s+"
    r"(?:assessed|measured|evaluated|examined|recorded|collected|captured|studied|investigated|available|included"
    r"|considered|addressed)|(?:was|were|are|is)\s+excluded|(?:is|was|are|were)\s+(?:beyond|outside)\s+(?:the\s+)?"
    r"scope)(?!\w)", re.IGNORECASE)
_CLAUSE_START = re.compile(r".*(?:[.;!?]\s|:\s)", re.DOTALL)


def _before(text: str, start: int, width: int = 100) -> str:
    """Text before a hit, from the start of its clause (at most ``width`` characters)."""
    pre = text[max(0, start - width):start]
    m = _CLAUSE_START.match(pre)
    return pre[m.end():] if m else pre


def _is_negated(text: str, start: int, end: int) -> bool:
    return bool(_NEG_BEFORE.search(_before(text, start)) or _NEG_AFTER.match(text[end:end + 120]))


def _group_hits(group: TermGroup, segments: Sequence[_Segment], record: Record) -> tuple[list[Hit], list[Hit]]:
    """(hits that count, hits cancelled by a negation) of one group in one record."""
    hits: list[Hit] = []
    negated: list[Hit] = []
    for seg in segments:
        for term in group.terms:
            if not term.occurs_in(seg.text, seg.lowered):
                continue
            for m in term.pattern.finditer(seg.text):
                if group.not_after is not None and group.not_after.search(_before(seg.text, m.start(), 60)):
                    continue
                hit = Hit(group.name, term.source, m.group(0), seg.where)
                (negated if _is_negated(seg.text, m.start(), m.end()) else hits).append(hit)
    if group.mesh:
        for heading in record.mesh:
            # lower-cased "descriptor" and "descriptor/qualifier" -> as the record writes them
            names = {heading.descriptor.lower(): heading.descriptor}
            for q, _ in heading.qualifiers:
                names[f"{heading.descriptor}/{q}".lower()] = f"{heading.descriptor}/{q}"
            for wanted in group.mesh:
                if wanted in names:
                    hits.append(Hit(group.name, wanted, names[wanted], "mesh"))
    return hits, negated


def _match(claim: Claim, record: Record, segments: Sequence[_Segment],
           cache: dict[int, tuple[list[Hit], list[Hit]]] | None = None) -> Match | None:
    def hits_of(group: TermGroup) -> tuple[list[Hit], list[Hit]]:
        if cache is None:
            return _group_hits(group, segments, record)
        key = id(group)  # concepts are shared between claims: match each once per record
        if key not in cache:
            cache[key] = _group_hits(group, segments, record)
        return cache[key]

    all_hits: list[Hit] = []
    all_negated: list[Hit] = []
    background_only = False
    for group in claim.groups:
        hits, negated = hits_of(group)
        if not hits:
            return None
        background_only |= all(h.where == "background" for h in hits)
        all_hits += hits
        all_negated += negated
    if claim.exclude is not None and hits_of(claim.exclude)[0]:
        return None
    return Match(claim.id, tuple(all_hits), tuple(all_negated), background_only)


def match_record(claim: Claim, record: Record) -> Match | None:
    """The terms that make ``record`` bear on ``claim`` (every group matched, none excluded), else None."""
    return _match(claim, record, _segments(record))


def explain(claim: Claim, record: Record) -> list[tuple[str, list[Hit], list[Hit]]]:
    """Why a record does or does not match: per group (and 'exclude'), the hits and the negated hits."""
    segments = _segments(record)
    groups = list(claim.groups) + ([claim.exclude] if claim.exclude is not None else [])
    return [(("exclude: " if g is claim.exclude else "") + g.name, *_group_hits(g, segments, record))
            for g in groups]


# ---------------------------------------------------------------------------------------- the map

def latest_pins(pins: Iterable[Pin] | Mapping[Any, Pin] | None) -> dict[tuple[str, int], Pin]:
    """(claim_id, record_id) -> the latest decision; later ``at`` wins, then later in the input."""
    items = list(pins.values() if isinstance(pins, Mapping) else pins or ())
    out: dict[tuple[str, int], Pin] = {}
    for p in sorted(enumerate(items), key=lambda t: (t[1].at, t[0])):
        out[(p[1].claim_id, p[1].record_id)] = p[1]
    return out


def pins_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Pin]:
    """Store rows (claim_pins) as Pin objects, in the order given."""
    return [Pin(r["claim_id"], int(r["record_id"]), bool(r["pinned"]), r["reviewer"], r["reason"], r["at"])
            for r in rows]


def record_link(record: Record) -> str | None:
    if record.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"
    if record.doi:
        return f"https://doi.org/{record.doi}"
    if record.pmcid:
        return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{record.pmcid}/"
    return None


def _rank(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def claims_map(records: Iterable[tuple[int, Record]], designs: Mapping[int, Design], claims: Sequence[Claim],
               pins: Iterable[Pin] | Mapping[Any, Pin] | None = None) -> "pd.DataFrame":
    """One row per (claim, record) that bears on it: by terms, or pinned by a person; unpinned ones left out.

    Pins on records not in ``records`` are ignored (use ``claims_map_from_store`` to carry pins
    on duplicates over to their cluster's record).
    """
    import pandas as pd

    decided = latest_pins(pins)
    rows = []
    for rid, rec in records:
        segments = _segments(rec)
        cache: dict[int, tuple[list[Hit], list[Hit]]] = {}
        d = designs.get(rid)
        for claim in claims:
            pin = decided.get((claim.id, rid))
            if pin is not None and not pin.pinned:
                continue
            match = _match(claim, rec, segments, cache)
            if match is None and pin is None:
                continue
            rows.append({
                "claim_id": claim.id, "record_id": rid,
                "tier": d.tier.value if d else UNCLASSIFIED, "design": d.design if d else UNCLASSIFIED,
                "tier_source": d.tier_source if d else "",
                "self_reported": bool(d and d.self_reported),
                "matched_terms": match.matched_terms if match else "",
                "negated_terms": match.negated_terms if match else "",
                "background_only": bool(match and match.background_only and pin is None),
                "pinned": pin is not None, "decided_by": pin.note if pin else "",
                "title": rec.title, "year": rec.year, "link": record_link(rec),
            })
    claim_rank = {c.id: i for i, c in enumerate(claims)}
    rows.sort(key=lambda r: (claim_rank[r["claim_id"]], _rank(TIER_ORDER, r["tier"]),
                             _rank(DESIGN_ORDER, r["design"]), -(r["year"] or 0), r["record_id"]))
    df = pd.DataFrame(rows, columns=MAP_COLUMNS)
    df["year"] = df["year"].astype("Int64")
    for col in ("self_reported", "background_only", "pinned"):
        df[col] = df[col].astype(bool)
    return df


def _design_phrase(design: str, n: int, n_self: int) -> str:
    singular, plural = DESIGN_NAMES.get(design, (design.replace("_", " ") + " record",
                                                 design.replace("_", " ") + " records"))
    text = f"{n} {singular if n == 1 else plural}"
    if n_self and n_self == n:
        text += " (self-reported)"
    elif n_self:
        text += f" ({n_self} self-reported)"
    return text


def statement(claim_id: str, counts: Mapping[str, int], self_reported: Mapping[str, int] | None = None,
              n_background: int = 0) -> str:
    """'C01: 0 randomized trials, 2 surveys (self-reported), 1 case report': trials first, then
    observational, anecdotal, preclinical, secondary, other; randomized trials always stated."""
    self_reported = self_reported or {}
    parts = [_design_phrase("rct", counts.get("rct", 0), self_reported.get("rct", 0))]
    ordered = sorted((d for d, n in counts.items() if n and d != "rct"),
                     key=lambda d: (_rank(TIER_ORDER, DESIGN_TIER[d].value if d in DESIGN_TIER else UNCLASSIFIED),
                                    _rank(DESIGN_ORDER, d), d))
    parts += [_design_phrase(d, counts[d], self_reported.get(d, 0)) for d in ordered]
    text = f"{claim_id}: " + ", ".join(parts)
    if len(parts) == 1 and not counts.get("rct"):
        text += ", no other studies"
    if n_background:
        text += (f"; {n_background} more record{'s' if n_background != 1 else ''} mention"
                 f"{'s' if n_background == 1 else ''} it only in background sentences")
    return text


def claim_statements(map_df: "pd.DataFrame", claims: Sequence[Claim], *,
                     include_background: bool = False) -> "pd.DataFrame":
    """Per claim: counts per tier and per design and the generated statement.

    Records whose terms matched only in background sentences are counted apart
    (``n_background_only``) unless ``include_background``; pinned records always count.
    """
    import pandas as pd

    rows = []
    for claim in claims:
        sub = map_df[map_df["claim_id"] == claim.id]
        background = sub["background_only"] & ~sub["pinned"]
        counted = sub if include_background else sub[~background]
        by_design = counted.groupby("design").size().to_dict()
        self_rep = counted[counted["self_reported"]].groupby("design").size().to_dict()
        by_tier = counted.groupby("tier").size().to_dict()
        n_background = 0 if include_background else int(background.sum())
        row: dict[str, Any] = {"claim_id": claim.id, "claim": claim.claim, "n_records": len(counted),
                               "n_pinned": int(counted["pinned"].sum()), "n_background_only": n_background}
        row.update({f"tier_{t}": int(by_tier.get(t, 0)) for t in TIER_ORDER})
        row.update({f"design_{d}": int(by_design.get(d, 0)) for d in DESIGN_ORDER})
        extra = sorted(set(by_design) - set(DESIGN_ORDER))  # designs this version does not know
        row.update({f"design_{d}": int(by_design[d]) for d in extra})
        row["statement"] = statement(claim.id, {k: int(v) for k, v in by_design.items()},
                                     {k: int(v) for k, v in self_rep.items()}, n_background)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------- with a store

def store_pins(store: "Store") -> list[Pin]:
    """Every pin decision in the store, a duplicate's pins carried over to its cluster's record."""
    dup = store.duplicate_of()
    return [Pin(p.claim_id, dup.get(p.record_id, p.record_id), p.pinned, p.reviewer, p.reason, p.at)
            for p in pins_from_rows(store.claim_pin_rows())]


def claims_map_from_store(store: "Store", claims_path: Path | str = DEFAULT_CLAIMS) -> "pd.DataFrame":
    """The claims map of the deduplicated records in ``store``, with their designs and the pins."""
    claims = load_claims(claims_path)
    return claims_map(store.canonical_records(), store.designs(), claims, store_pins(store))


def set_pin(store: "Store", claims: Sequence[Claim], claim_id: str, record_id: int, *, pinned: bool,
            reviewer: str, reason: str | None = None, at: str | None = None) -> Pin:
    """Record a reviewer's pin (or unpin) of a record to a claim; the claim must be in ``claims``."""
    from review.store import utcnow

    known = [c.id for c in claims]
    if claim_id not in known:
        raise ReviewError(f"no claim {claim_id!r} in the claims file; known: {', '.join(known)}")
    if not reviewer or not reviewer.strip():
        raise ReviewError("a pin needs the reviewer's name (--reviewer)")
    store.get_record(record_id)  # raises StoreError naming the store if the record is missing
    at = at or utcnow()
    store.add_claim_pin(claim_id, record_id, pinned, reviewer.strip(), (reason or "").strip() or None, at)
    return Pin(claim_id, record_id, pinned, reviewer.strip(), (reason or "").strip() or None, at)
