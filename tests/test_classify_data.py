"""Design classifier on data: hand-written abstracts (not in the sample), and each rule on its own examples."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from review.classify import classify, record_from_mapping
from review.classify.rules import INDEX, RULES
from review.classify.text import ABSTRACT, JOURNAL, TITLE, Document, match_rules
from review.models import DESIGN_TIER, DESIGNS, UNCLASSIFIED, Tier

DATA = Path(__file__).parent / "data" / "classify"


def _rows(*names: str) -> list[dict]:
    return [json.loads(line) for name in names
            for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


HANDWRITTEN = _rows("handwritten.jsonl", "handwritten_heldout.jsonl")
# Written before reading the rules and scored as a whole: two labels there are debatable conventions
# (a Delphi consensus paper, an erratum), so a floor is asserted rather than every row.
HELDOUT2 = _rows("handwritten_heldout2.jsonl")
EXAMPLES = [(r, e) for r in RULES for e in r.examples]


def test_enough_handwritten_abstracts_across_designs():
    assert len(HANDWRITTEN) >= 50
    assert len({row["design"] for row in HANDWRITTEN}) >= 15
    assert len({row["id"] for row in HANDWRITTEN}) == len(HANDWRITTEN)


@pytest.mark.parametrize("row", HANDWRITTEN, ids=[row["id"] for row in HANDWRITTEN])
def test_handwritten_abstract(row):
    d = classify(record_from_mapping(row["record"], row["id"]))
    if d.design == UNCLASSIFIED:  # abstaining is allowed (a person decides); a wrong label is not
        assert d.tier is Tier.UNCLASSIFIED and d.reasons
        return
    assert (d.design, d.tier) == (row["design"], DESIGN_TIER[row["design"]]), (row["note"], d.reasons)
    if "self_reported" in row:
        assert d.self_reported is row["self_reported"], d.reasons
    assert d.reasons


def test_handwritten_abstracts_rarely_unclassified():
    designs = [classify(record_from_mapping(row["record"], row["id"])) for row in HANDWRITTEN]
    share = sum(d.design == UNCLASSIFIED for d in designs) / len(designs)
    assert share <= 0.10, share


def test_second_heldout_batch_floor():
    assert len(HELDOUT2) == 40 and len({row["design"] for row in HELDOUT2}) == len(DESIGNS)
    designs = [classify(record_from_mapping(row["record"], row["id"])) for row in HELDOUT2]
    design_ok = sum(d.design == row["design"] for d, row in zip(designs, HELDOUT2)) / len(HELDOUT2)
    tier_ok = sum(d.tier == DESIGN_TIER[row["design"]] for d, row in zip(designs, HELDOUT2)) / len(HELDOUT2)
    assert design_ok >= 0.95 and tier_ok >= 0.975, (design_ok, tier_ok)  # 38/40 and 40/40 reached


def _document_for(rule, example: str) -> Document:
    if rule.fields == (JOURNAL,):
        return Document.of("", "", "", example)
    if ABSTRACT not in rule.fields:
        return Document.of(example, "", "", None)
    return Document.of("", example, "", None)


@pytest.mark.parametrize("rule, example", EXAMPLES, ids=[f"{r.name}: {e}" for r, e in EXAMPLES])
def test_rule_fires_on_its_example(rule, example):
    cues = match_rules(INDEX, _document_for(rule, example))
    assert any(c.rule == rule.name for c in cues), [c.reason for c in cues]


def test_every_rule_has_an_example_and_a_known_design():
    for r in RULES:
        assert r.examples, r.name
        assert r.design in DESIGN_TIER, r.name
        assert 1 <= r.strength <= 5 and r.context in ("mention", "background", "action", "none")


def test_every_branch_regex_starts_with_a_literal():
    """A literal first character lets the regex engine skip between anchor occurrences (speed)."""
    for r in RULES:
        for b in r.branches:
            first = b.pattern.pattern[:1]
            assert first.isalnum() or first in "[", (r.name, b.pattern.pattern)
            assert not b.pattern.pattern.startswith(("(?", "\\b")), (r.name, b.pattern.pattern)


def test_rules_name_no_study_from_the_sample():
    """Rules must be general: no title, DOI or author name of a sample record appears in a pattern."""
    sample = [json.loads(line) for line in (DATA / "kratom_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    patterns = " ".join(b.pattern.pattern + " " + (b.before.pattern if b.before else "")
                        for r in RULES for b in r.branches).lower()
    words = set(re.findall(r"[a-z]{4,}", patterns))
    for rec in sample:
        title = (rec["title"] or "").lower()
        assert title[:40] not in patterns
        if rec.get("doi"):
            assert rec["doi"].lower() not in patterns
        for author in rec.get("authors") or []:
            family = author.split()[0].lower()
            if len(family) >= 5:
                assert family not in words, family
