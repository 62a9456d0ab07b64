"""Classify the records of a store: only new or changed ones unless asked for all.

Records in a duplicate cluster are classified once, as the cluster's merged record (which
carries the PubMed publication types and MeSH of any member) under the primary record id;
the other members keep their own label too, so `export records` shows one on every row.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import os

from review.classify import classify_many, needs_review
from review.classify import model as text_model
from review.classify.model import TextModel
from review.models import DESIGN_TIER, DESIGNS
from review.store import Store, utcnow

# Bump when the rules change: records classified by an older version are classified again. The label's
# stored version is RULES_VERSION+<model version>, so a retrained model re-classifies too.
RULES_VERSION = "rules-2026.12"
VERSION = RULES_VERSION  # kept for callers that name the rules version
# Refit the review's model once this many designs were confirmed since the model in use was built.
RETRAIN_EVERY = 10


@dataclass
class ClassifySummary:
    classified: int
    unchanged: int
    seconds: float
    tiers: dict[str, int]
    needs_review: int = 0
    retrained: "RetrainSummary | None" = None

    def line(self) -> str:
        tiers = ", ".join(f"{k} {v}" for k, v in sorted(self.tiers.items(), key=lambda kv: -kv[1]))
        out = (f"classified {self.classified} records ({self.unchanged} unchanged, skipped) in {self.seconds:.2f} s"
               + (f"; tiers of those classified: {tiers}" if tiers else ""))
        if self.needs_review:
            out += f"; {self.needs_review} need a person (review classify export-review)"
        return (self.retrained.line() + "\n" + out) if self.retrained else out


@dataclass
class RetrainSummary:
    version: str
    n_bundled: int
    n_confirmed: int
    seconds: float

    def line(self) -> str:
        return (f"retrained the design model on {self.n_bundled} bundled and {self.n_confirmed} reviewer-confirmed "
                f"abstracts: {self.version} ({self.seconds:.1f} s)")


def active_model(store: Store) -> tuple[TextModel, dict | None]:
    """The review's newest retrained model, else the bundled one (with the stored row, if any)."""
    row = store.active_design_model()
    if row is None:
        return text_model.load(), None
    return text_model.from_text(row["model"], f"design model {row['version']} in the store"), row


def confirmed_examples(store: Store) -> list[text_model.Example]:
    """The designs this review's reviewers confirmed, as training examples (title and abstract of the record)."""
    canonical = dict(store.canonical_records())
    rows = []
    for c in store.confirmed_designs():
        rec = canonical.get(c["record_id"]) or store.get_record(c["record_id"])
        rows.append((f"review:{c['record_id']}", rec.title, rec.abstract_text, c["design"]))
    return text_model.examples_from(rows)


def retrain(store: Store) -> RetrainSummary:
    """Refit the text model on the bundled abstracts plus every design this review confirmed; store it."""
    t0 = time.perf_counter()
    confirmed = confirmed_examples(store)
    # A confirmed record that is also a bundled abstract: the reviewer's label replaces the bundled one.
    titles = {_title_key(e.text) for e in confirmed}
    bundled = [e for e in text_model.load_training() if _title_key(e.text) not in titles]
    model = text_model.fit(bundled + confirmed, n_confirmed=len(confirmed))
    store.save_design_model(model.version, utcnow(), model.n_train, len(confirmed), store.last_override_id(),
                            text_model.dumps(model))
    return RetrainSummary(model.version, len(bundled), len(confirmed), time.perf_counter() - t0)


def _title_key(text: str) -> str:
    return " ".join(text.split(" . ")[0].lower().split())


def due_for_retraining(store: Store) -> bool:
    """At least RETRAIN_EVERY designs confirmed since the model in use was built."""
    row = store.active_design_model()
    since = row["confirmed_through"] if row else 0
    n = sum(1 for c in store.confirmed_designs() if c["override_id"] > since)
    return n >= RETRAIN_EVERY


def label_version(store: Store) -> str:
    """The version stored with each machine label: the rules and the text model that made it."""
    return f"{RULES_VERSION}+{active_model(store)[0].version}"


# Records per classify_many call, so a progress bar moves on large stores; above 2 x its own chunk
# (4,000), so each call still uses the second core.
CHUNK = 10_000


def classify_store(store: Store, *, everything: bool = False, retrain_model: bool | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ClassifySummary:
    """Classify new or changed records. `retrain_model`: True refits first, None refits when due, False never.

    ``progress(records classified since the last call, records to classify)`` every CHUNK records.
    """
    t0 = time.perf_counter()
    retrained = None
    if retrain_model or (retrain_model is None and due_for_retraining(store)):
        retrained = retrain(store)
    model, _ = active_model(store)
    version = f"{RULES_VERSION}+{model.version}"  # = label_version(store)
    done = {} if everything else store.classified_hashes(version)
    canonical = dict(store.canonical_records())
    items = list(canonical.items()) + [(rid, r) for rid, r in store.iter_records() if rid not in canonical]
    todo = []
    for rid, rec in items:
        h = rec.content_hash()
        if done.get(rid) != h:
            todo.append((rid, rec, h))
    # Large batches use every core (classify_many forks; small ones stay in this process).
    designs = []
    if progress:
        progress(0, len(todo))
    for i in range(0, len(todo), CHUNK):
        chunk = [rec for _, rec, _ in todo[i:i + CHUNK]]
        designs += classify_many(chunk, workers=min(2, os.cpu_count() or 1), model=model)
        if progress:
            progress(len(chunk), len(todo))
    rows = [(rid, d, h) for (rid, _, h), d in zip(todo, designs)]
    store.save_classifications(rows, version, utcnow())
    # "need a person" counts what `classify export-review` lists: a cluster's record (not the members
    # behind it, whose own labels only fill the records export) that no person has confirmed yet.
    confirmed = {c["record_id"] for c in store.confirmed_designs()}
    return ClassifySummary(len(rows), len(items) - len(rows), time.perf_counter() - t0,
                           dict(Counter(d.tier.value for _, d, _ in rows)),
                           sum(needs_review(d) for rid, d, _ in rows if rid in canonical and rid not in confirmed),
                           retrained)


def override(store: Store, record_id: int, design: str, *, reviewer: str, reason: str,
             self_reported: bool | None = None) -> None:
    """A person's label, kept apart from the automatic one and surviving re-classification."""
    from review.errors import InputError

    if design not in DESIGNS:
        raise InputError(f"design {design!r} is not one of: {', '.join(DESIGNS)}")
    if not reviewer.strip() or not reason.strip():
        raise InputError("an override needs --reviewer and --reason (who decided, and why)")
    store.get_record(record_id)  # raises when the record does not exist
    store.add_override(record_id, design, DESIGN_TIER[design].value, self_reported, reviewer.strip(),
                       reason.strip(), utcnow())
