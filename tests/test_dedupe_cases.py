"""Data-driven minimal pairs (tests/data/dedup/cases.json): every guard rule and the key normalisations."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from review.dedupe import find_duplicates, match, rules
from review.dedupe.normalise import normalise_table, raw_table

CASES = json.loads((Path(__file__).parent / "data" / "dedup" / "cases.json").read_text("utf-8"))


def _run(case: dict) -> match.EngineResult:
    frame = pd.DataFrame([case["a"], case["b"]])
    return match.run(normalise_table(raw_table(frame)))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict) -> None:
    result = _run(case)
    merged = result.labels[0] == result.labels[1]
    if case["expect"] == "duplicate":
        assert merged, case["note"]
        assert result.edges["rule"].tolist() == [case["rule"]], case["note"]
        assert result.uncertain.empty
    elif case["expect"] == "uncertain":
        assert not merged, case["note"]
        assert result.uncertain["reason"].tolist() == [case["reason"]], case["note"]
        if case["blocks_merge"]:
            # The guard, not weak scores, keeps this pair apart.
            assert result.uncertain["candidate_rule"].iloc[0] != "", case["note"]
    elif case["expect"] == "related":
        # A correction, retraction or comment: never merged, linked to the article it names.
        assert not merged, case["note"]
        assert [(link.notice, link.article, link.kind) for link in result.related] == [(1, 0, case["kind"])]
        assert result.uncertain.empty, case["note"]
    else:
        assert not merged and result.uncertain.empty, case["note"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_through_public_api(case: dict) -> None:
    labels = find_duplicates(pd.DataFrame([case["a"], case["b"]], index=["x", "y"]))
    assert list(labels.index) == ["x", "y"]
    assert (labels["x"] == labels["y"]) == (case["expect"] == "duplicate")


def test_every_guard_has_a_case() -> None:
    covered = {c.get("reason") for c in CASES}
    covered |= {c["reason"] for c in CASES if c["expect"] == "related"}
    missing = [g.name for g in rules.GUARDS if g.name not in covered]
    assert not missing, f"guards without a minimal-pair case: {missing}"


def test_cases_are_unique_and_documented() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    assert all(c["note"].strip() for c in CASES)


def test_guards_and_rules_have_unique_names() -> None:
    names = [r.name for r in rules.ALL_RULES]
    assert len(names) == len(set(names))
    assert all(r.kind in {"guard", "exact", "duplicate"} and r.description for r in rules.ALL_RULES)


def test_every_rule_is_documented() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "deduplication.md").read_text("utf-8")
    from review.dedupe.related import RELATED_RULES
    missing = [name for name in [r.name for r in rules.ALL_RULES] + list(RELATED_RULES) if f"`{name}`" not in doc]
    assert not missing, f"rules not in docs/deduplication.md: {missing}"
