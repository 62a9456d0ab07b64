"""Study design and evidence tier from publication types, MeSH and text, with the reasons that decided.

Precedence (the first row that applies fixes the tier; later rows may only refine the design within it):

    1. Publication type (PubMed types, RIS/Embase types, page labels; order in indexing.PUBTYPE_RULES):
       "Randomized Controlled Trial" -> rct, "Case Reports" -> case_report, "Review" -> narrative_review.
       MeSH and text may choose among the designs the type allows ("Review" + "this scoping review" ->
       systematic_review); outside them they are ignored, and the reasons say so.
    2. Letter/Comment/Editorial type with a MeSH study-design heading ("Cross-Sectional Studies"): a
       research letter, the MeSH design wins.
    3. MeSH study-design headings (strength 4-6): "Animals" without "Humans", "Cohort Studies", "Poison
       Control Centers". They compete with text by strength; the strongest (6) outrank any text.
    4. Text rules (strength 1-5, rules.RULES) with negation and context checks: "we report a 34-year-old",
       "double-blind", "in mice", "we searched PubMed". The strongest signal wins; ties go to the more
       specific design (rules.PRECEDENCE: own cases > reviews and commentary > trials > observational >
       qualitative > preclinical > other).
    5. Where the strongest rule signal is weak (strength 1-2) or there is none, the text model
       (model.py: TF-IDF word uni- and bigrams + logistic regression, temperature-calibrated on grouped
       out-of-fold predictions, trained on every real labelled abstract the project holds and, in a
       review, on the designs its reviewers confirmed) is asked:
         - a weak rule stands if the model gives its tier p >= 0.3 (trusted if that is the model's first
           choice, else confidence 0.5: needs_review);
         - otherwise the model decides if it is >= 0.85 sure and read >= 20 known words or word pairs;
         - otherwise the record is `unclassified` (tier `unclassified`, "not yet classified"), with the
           weak signal and the model's best guess in its reasons. Nothing is ever opinion_other because
           nothing fired.
    Labels below REVIEW_BELOW confidence, and every unclassified one, are `needs_review`: they are listed
    for a person (`review classify export-review`), whose confirmed design always wins.

"... as Topic" MeSH headings and publication types such as Journal Article, Comparative Study or
Conference Abstract carry no design; conference abstracts are classified by their text.

Each Design carries its reasons: the publication type, MeSH heading, phrase or model words that decided,
a few that agreed, and a signal that was overruled when one was (so a reviewer can see what was weighed).

Why rules first and the model second: on grouped cross-validation the model alone gets the tier right
on 0.69 of the real labelled abstracts (0.92 on the 37% it is sure of), the rules on 0.96; the model's
part is the records no rule can read. Figures: benchmarks/classify.py.
For large batches, classify_many(records, workers=2) spreads the work over processes.
"""
from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from review.errors import InputError
from review.models import AbstractSection, Design, MeshHeading, Record, Tier

from . import model as text_model
from .decide import PRECEDENCE, decide
from .model import TextModel
from .indexing import PUBTYPE_RULES
from .rules import RULES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["classify", "classify_many", "classify_frame", "record_from_mapping", "needs_review", "REVIEW_BELOW",
           "PRECEDENCE",
           "PUBTYPE_RULES", "RULES", "FRAME_COLUMNS"]

FRAME_COLUMNS = ("design", "evidence_tier", "self_reported", "confidence", "design_reasons")
REASON_SEPARATOR = " | "
# Machine labels below this confidence go to a person. On cross-validation (benchmarks/classify.py, the
# "by confidence" table) labels of 0.7 and more were right 99% of the time; below 0.6 sit only labels whose
# deciding signal tied with an equally strong one of another tier, which a person should settle.
REVIEW_BELOW = 0.6


def needs_review(design: Design) -> bool:
    """Unclassified, or a machine label too weak to trust; a person's confirmed label never needs review."""
    if design.confirmed_by:
        return False
    return design.tier is Tier.UNCLASSIFIED or design.confidence < REVIEW_BELOW


def bundled_model() -> TextModel:
    """The text model built from the project's real labelled abstracts (review/classify/design_model.json)."""
    return text_model.load()


def _model(model: TextModel | None, rules_only: bool) -> TextModel | None:
    return None if rules_only else (model or bundled_model())


def classify(record: Record, *, model: TextModel | None = None, rules_only: bool = False) -> Design:
    """Design, evidence tier, confidence, reasons and self-report flag of one record.

    `model`: the text model for weak or silent rules (default: the bundled one); `rules_only`: none.
    """
    if not isinstance(record, Record):
        raise InputError(f"classify expects a review.models.Record, got {type(record).__name__}")
    return decide(record, _model(model, rules_only))


def classify_many(records: Iterable[Record], *, workers: int = 1, chunk: int = 2000,
                  model: TextModel | None = None, rules_only: bool = False) -> list[Design]:
    """classify() over many records, in order; `workers` > 1 splits large batches over processes."""
    records = list(records)
    for n, r in enumerate(records, 1):
        if not isinstance(r, Record):
            raise InputError(f"classify_many: item {n} is a {type(r).__name__}, not a review.models.Record")
    m = _model(model, rules_only)
    with _no_cyclic_gc():
        return _classify_all(records, workers, chunk, m)


@contextmanager
def _no_cyclic_gc():
    """Pause the cyclic garbage collector: decisions make many small objects but no reference cycles
    (refcounting frees them), and the collector's passes over them cost 5-10% of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _classify_all(records: list[Record], workers: int, chunk: int, model: TextModel | None) -> list[Design]:
    if workers <= 1 or len(records) < 2 * chunk or "fork" not in multiprocessing.get_all_start_methods():
        return [decide(r, model) for r in records]
    # Forked workers inherit the records, so only the small Design results cross process boundaries;
    # this process classifies the first share itself while the workers do the rest.
    own = len(records) // workers
    slices = [(i, min(i + chunk, len(records))) for i in range(own, len(records), chunk)]
    with multiprocessing.get_context("fork").Pool(workers - 1, initializer=_adopt, initargs=(records, model)) as pool:
        pending = pool.map_async(_classify_slice, slices)
        mine = [decide(r, model) for r in records[:own]]
        parts = pending.get()
    tiers = {t.value: t for t in Tier}
    return mine + [Design(design, tiers[tier], confidence, reasons, self_reported)
                   for part in parts for design, tier, confidence, reasons, self_reported in part]


_ADOPTED: list[Record] = []  # set only inside forked worker processes
_ADOPTED_MODEL: list[TextModel | None] = [None]


def _adopt(records: list[Record], model: TextModel | None) -> None:
    _ADOPTED[:] = records
    _ADOPTED_MODEL[0] = model


def _classify_slice(bounds: tuple[int, int]) -> list[tuple]:
    """Designs as plain tuples: they cross the process boundary several times faster than dataclasses.
    (Workers are forked inside _no_cyclic_gc, so the collector is paused here too.)"""
    out = []
    model = _ADOPTED_MODEL[0]
    for r in _ADOPTED[bounds[0]:bounds[1]]:
        d = decide(r, model)
        out.append((d.design, d.tier.value, d.confidence, d.reasons, d.self_reported))
    return out


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    """A list/tuple of strings or one ';'-separated string; empty for None/NaN."""
    if value is None or (isinstance(value, float) and value != value):
        return ()
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(";") if s.strip())
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        items = list(value)
        bad = [v for v in items if not isinstance(v, str)]
        if bad:
            raise InputError(f"{where}: '{name}' must hold strings, found {type(bad[0]).__name__} {bad[0]!r}")
        return tuple(items)
    raise InputError(f"{where}: '{name}' must be a list of strings or a ';'-separated string, "
                     f"got {type(value).__name__}")


def _text(value: Any, name: str, where: str) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: '{name}' must be text, got {type(value).__name__} {value!r}")
    return value


def _abstract(value: Any, where: str) -> tuple[AbstractSection, ...]:
    if value is None or (isinstance(value, float) and value != value):
        return ()
    if isinstance(value, str):
        return (AbstractSection(value),) if value.strip() else ()
    if isinstance(value, (list, tuple)):
        out = []
        for i, s in enumerate(value, 1):
            if isinstance(s, AbstractSection):
                out.append(s)
            elif isinstance(s, Mapping) and isinstance(s.get("text"), str):
                out.append(AbstractSection(s["text"], s.get("label"), s.get("category")))
            else:
                raise InputError(f"{where}: abstract section {i} must be a mapping with a 'text' string")
        return tuple(out)
    raise InputError(f"{where}: 'abstract' must be text or a list of sections, got {type(value).__name__}")


def _mesh(value: Any, where: str) -> tuple[MeshHeading, ...]:
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, MeshHeading)) for v in value):
        out = []
        for i, m in enumerate(value, 1):
            if isinstance(m, MeshHeading):
                out.append(m)
            elif isinstance(m, Mapping) and isinstance(m.get("descriptor"), str):
                out.append(MeshHeading(m["descriptor"], bool(m.get("major", False))))
            else:
                raise InputError(f"{where}: MeSH heading {i} must be a mapping with a 'descriptor' string")
        return tuple(out)
    # Strings in MEDLINE style: "*Descriptor/qualifier" marks a major topic.
    return tuple(MeshHeading(s.lstrip("*").split("/")[0].strip(), major=s.startswith("*"))
                 for s in _strings(value, "mesh", where))


def record_from_mapping(row: Mapping[str, Any], where: str = "row") -> Record:
    """A Record from a dict or DataFrame row (title, abstract, publication_types, mesh, keywords, ...)."""
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: expected a mapping of fields, got {type(row).__name__}")
    kind = _text(row.get("kind"), "kind", where) or "journal-article"
    return Record(
        source=str(row.get("source") or "frame"),
        source_id=str(row.get("source_id") or row.get("pmid") or where),
        title=_text(row.get("title"), "title", where),
        abstract=_abstract(row.get("abstract"), where),
        journal=_text(row.get("journal"), "journal", where),
        publication_types=_strings(row.get("publication_types"), "publication_types", where),
        mesh=_mesh(row.get("mesh"), where),
        keywords=_strings(row.get("keywords"), "keywords", where),
        kind=kind,
    )


def _as_records(data: Any) -> tuple[list[Record], Any]:
    """Records and the index to give the result frame."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if not ({"title", "abstract"} & set(map(str, data.columns))):
            raise InputError("classify_frame: the DataFrame needs a 'title' or 'abstract' column; it has "
                             + (", ".join(map(str, data.columns)) or "no columns"))
        rows = data.to_dict(orient="records")
        return [record_from_mapping(r, f"row {i}") for i, r in enumerate(rows, 1)], data.index
    if isinstance(data, (Record, Mapping, str, bytes)):
        raise InputError("classify_frame expects a DataFrame or an iterable of Records or mappings, "
                         f"got a single {type(data).__name__}")
    records = []
    for i, item in enumerate(data, 1):
        records.append(item if isinstance(item, Record) else record_from_mapping(item, f"row {i}"))
    return records, None


def classify_frame(data: "pd.DataFrame | Iterable[Record | Mapping[str, Any]]") -> "pd.DataFrame":
    """A DataFrame of design, evidence_tier, self_reported, confidence and design_reasons, one row per record.

    Rows keep the input frame's index; for records, a `record_id` column (source:source_id) is added.
    Reasons are joined with ' | '.
    """
    import pandas as pd

    records, index = _as_records(data)
    model = bundled_model()
    designs = [decide(r, model) for r in records]
    frame = pd.DataFrame(
        {
            "design": [d.design for d in designs],
            "evidence_tier": [d.tier.value for d in designs],
            "self_reported": [d.self_reported for d in designs],
            "confidence": [d.confidence for d in designs],
            "design_reasons": [REASON_SEPARATOR.join(d.reasons) for d in designs],
        },
        index=index,
    )
    if index is None:
        frame.insert(0, "record_id", [f"{r.source}:{r.source_id}" for r in records])
    return frame
