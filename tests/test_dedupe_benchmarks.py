"""find_duplicates on the benchmark datasets (tests/data/dedup): zero false pairs, measured recall."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pandas as pd
import pytest

from review.dedupe import find_duplicates

DATA = Path(__file__).parent / "data" / "dedup"
_SCALE = Path(__file__).parents[1] / "benchmarks" / "dedupe_scale.py"


def _scale_module():
    """The scale benchmark's generator (benchmarks/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("dedupe_scale", _SCALE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
# Recall measured on these datasets (0.9967 and 0.9804), less a small margin; bib-dedupe 0.11
# reaches 0.985 and 0.925. The missed pairs are listed and discussed in benchmarks/README.md.
RECALL_FLOOR = {"cytology_screening": 0.995, "respiratory": 0.978}


def _pairs(groups) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for group in groups:
        pairs.update(itertools.combinations(sorted(map(str, group)), 2))
    return pairs


@pytest.mark.parametrize("name", sorted(RECALL_FLOOR))
def test_benchmark_dataset(name: str) -> None:
    records = pd.read_csv(DATA / name / "records.csv")
    truth = _pairs(pd.read_csv(DATA / name / "truth.csv")["merged_ids"].str.split(";"))
    labels = find_duplicates(records)
    predicted = _pairs(records["ID"].groupby(labels.to_numpy()).agg(list))
    false_pairs = predicted - truth
    assert not false_pairs, f"false merges: {sorted(false_pairs)[:10]}"
    recall = len(predicted & truth) / len(truth)
    assert recall >= RECALL_FLOOR[name], f"recall {recall:.4f}"


def test_generated_scale_up_has_no_false_pairs() -> None:
    """A 6,000-record scale-up: varied copies plus recombined look-alikes that are not duplicates."""
    scale = _scale_module()
    df = scale.generate(scale.load_base(DATA), 6000, seed=3)
    labels = find_duplicates(df[scale.COLUMNS])
    predicted = _pairs(df["ID"].groupby(labels.to_numpy()).agg(list))
    truth = scale.truth_pairs(df)
    assert not predicted - truth
    assert len(predicted & truth) / len(truth) > 0.97


def test_a_larger_set_loses_no_true_pair() -> None:
    """Blocking must not lose pairs as a set grows: the real records' pairs, found alone, are all still
    found among 20,000 records (the generated works share words, surnames and years with them, so
    blocks grow past the cap)."""
    scale = _scale_module()
    base = scale.load_base(DATA)
    alone = _pairs(base["ID"].groupby(find_duplicates(base[scale.COLUMNS]).to_numpy()).agg(list))
    big = scale.generate(base, 20000, seed=5)
    labels = find_duplicates(big[scale.COLUMNS])
    found = _pairs(big["ID"].groupby(labels.to_numpy()).agg(list))
    real = set(base["ID"])
    assert alone and alone <= {p for p in found if p[0] in real and p[1] in real}
