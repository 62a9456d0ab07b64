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


def test_cut_short_title_bound_drops_no_pair_the_rule_accepts() -> None:
    """match._title_prefix skips pairs whose whole-title score rules out a 0.95 head match;
    computed without that bound, the pairs at or above 0.95 are the same."""
    import numpy as np

    from review.dedupe import match, normalise_table, raw_table
    from review.dedupe.rules import PREFIX_TITLE

    records = pd.read_csv(DATA / "respiratory" / "records.csv").head(300)
    cut = records.copy()  # titles cut at 60-85% of their length, every other one with a stray last character
    cut["title"] = [t[:int(len(t) * (0.6 + 0.25 * (k % 5) / 4))] + ("x" if k % 2 else "")
                    for k, t in enumerate(records["title"].fillna(""))]
    cut["ID"] = "cut-" + cut["ID"].astype(str)
    frame = pd.concat([records, cut], ignore_index=True)
    keys = normalise_table(raw_table(frame), frame["ID"].tolist())
    p = match.prepare(keys)
    i, j = (a.ravel() for a in np.triu_indices(len(frame), k=1))
    title = match._title_similarity(p, i, j)
    bounded = match._title_prefix(p, i, j, title) >= PREFIX_TITLE
    unbounded = match._title_prefix(p, i, j, np.ones(len(i))) >= PREFIX_TITLE
    assert unbounded.sum() >= 250  # most cut titles meet their original
    assert np.array_equal(bounded, unbounded)
