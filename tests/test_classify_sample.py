"""Design classifier on the labelled kratom sample, text only: the acceptance figures of issue 4."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from review.classify import classify
from review.models import DESIGN_TIER, AbstractSection, Record

SAMPLE = Path(__file__).parent / "data" / "classify" / "kratom_sample.jsonl"


def _load() -> list[tuple[Record, str]]:
    """Records built from title, abstract and journal only; the labels stay out of the classifier's input."""
    out = []
    for n, line in enumerate(SAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        abstract = (AbstractSection(row["abstract"]),) if row.get("abstract") else ()
        out.append((Record(source="sample", source_id=str(n), title=row["title"], abstract=abstract,
                           journal=row.get("journal")), row["design"]))
    return out


def _tier_counts(pairs):
    counts = Counter()
    for record, design in pairs:
        counts[(DESIGN_TIER[design].value, classify(record).tier.value)] += 1
    return counts


def _precision_recall(counts, tier):
    tp = counts[(tier, tier)]
    predicted = sum(v for (_, got), v in counts.items() if got == tier)
    actual = sum(v for (want, _), v in counts.items() if want == tier)
    return tp / predicted if predicted else 0.0, tp / actual if actual else 0.0


def test_sample_tier_accuracy_and_acceptance_figures():
    pairs = _load()
    assert len(pairs) == 73
    counts = _tier_counts(pairs)
    accuracy = sum(v for (want, got), v in counts.items() if want == got) / len(pairs)
    assert accuracy >= 0.90
    precision, recall = _precision_recall(counts, "trial")
    assert recall == 1.0 and precision >= 0.9
    precision, _ = _precision_recall(counts, "anecdotal")
    assert precision >= 0.95


def test_sample_reasons_explain_every_decision():
    for record, _ in _load():
        d = classify(record)
        assert d.reasons and (0 < d.confidence <= 1 or d.design == "unclassified")
