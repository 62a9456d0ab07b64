"""Screening logic without files: statuses from history, transitions, kappa, settings, helpers, ranking."""
from __future__ import annotations

import pytest

from review.errors import ConfigError
from review.screening import (
    FULL_TEXT, LATER_STAGE_LOCK, TITLE_ABSTRACT, State, cohen_kappa, compute_statuses, is_formula_like, key_hash,
    neutralise_csv, parse_config, prioritise, refusal, reviewer_pairs, unneutralise_csv,
)


class History:
    """Builds history rows with increasing ids, as the store would."""

    def __init__(self):
        self.rows = []

    def add(self, rid, stage, reviewer, decision, reason=None, kind="decision", notes=None):
        self.rows.append({"decision_id": len(self.rows) + 1, "record_id": rid, "stage": stage, "reviewer": reviewer,
                          "decision": decision, "reason": reason, "notes": notes, "kind": kind})
        return self

    def status(self, rid=1, rpr=1):
        return compute_statuses(self.rows, [rid], rpr)[rid]


# ------------------------------------------------------------------ statuses

def test_no_history_is_undecided_and_full_text_not_due():
    s = History().status()
    assert s[TITLE_ABSTRACT].state == State.UNDECIDED
    assert s[FULL_TEXT].state == State.NOT_DUE


def test_single_reviewer_decision_is_final_and_carries_forward():
    s = History().add(1, TITLE_ABSTRACT, "alice", "maybe").status()
    assert s[TITLE_ABSTRACT].status == "maybe"
    assert s[FULL_TEXT].state == State.UNDECIDED  # maybe carries the record forward like include


def test_latest_decision_of_a_reviewer_wins():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, TITLE_ABSTRACT, "alice", "exclude")
    s = h.status()
    assert s[TITLE_ABSTRACT].status == "exclude"
    assert s[FULL_TEXT].state == State.NOT_DUE
    assert "exclude" in s[FULL_TEXT].why_not_due


def test_disagreement_is_a_conflict_and_include_with_maybe_is_not():
    conflict = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, TITLE_ABSTRACT, "bob", "exclude").status()
    assert conflict[TITLE_ABSTRACT].state == State.CONFLICT
    assert conflict[TITLE_ABSTRACT].conflict == "decision"
    assert conflict[FULL_TEXT].state == State.NOT_DUE
    mixed = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, TITLE_ABSTRACT, "bob", "maybe").status()
    assert mixed[TITLE_ABSTRACT].state == State.DECIDED
    assert mixed[TITLE_ABSTRACT].decision == "maybe"


def test_full_text_exclusions_with_different_reasons_conflict_on_the_reason():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include")
    h.add(1, FULL_TEXT, "alice", "exclude", "not kratom").add(1, FULL_TEXT, "bob", "exclude", "not retrievable")
    s = h.status()
    assert s[FULL_TEXT].state == State.CONFLICT and s[FULL_TEXT].conflict == "reason"
    h.add(1, FULL_TEXT, "carol", "exclude", "not kratom", kind="resolution")
    s = h.status()
    assert (s[FULL_TEXT].state, s[FULL_TEXT].decision, s[FULL_TEXT].reason, s[FULL_TEXT].resolved_by) == \
        (State.RESOLVED, "exclude", "not kratom", "carol")


def test_reviewers_per_record_keeps_a_single_decision_pending():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include")
    assert h.status(rpr=2)[TITLE_ABSTRACT].state == State.PENDING
    assert h.status(rpr=2)[FULL_TEXT].state == State.NOT_DUE
    h.add(1, TITLE_ABSTRACT, "bob", "include")
    assert h.status(rpr=2)[TITLE_ABSTRACT].status == "include"


def test_reopen_voids_the_stage_and_later_stages():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, FULL_TEXT, "alice", "include")
    assert h.status()[FULL_TEXT].status == "include"
    h.add(1, TITLE_ABSTRACT, "carol", "reopen", "wrong click", kind="reopen")
    s = h.status()
    assert s[TITLE_ABSTRACT].state == State.UNDECIDED
    assert s[FULL_TEXT].state == State.NOT_DUE
    h.add(1, TITLE_ABSTRACT, "alice", "include")  # decided again: full text starts afresh, old decision void
    assert h.status()[FULL_TEXT].state == State.UNDECIDED


# ------------------------------------------------------------------ transitions

def test_excluded_record_cannot_get_a_full_text_decision_until_reopened():
    h = History().add(1, TITLE_ABSTRACT, "alice", "exclude")
    assert "not due" in refusal(h.status(), FULL_TEXT, "decide")
    assert refusal(h.status(), TITLE_ABSTRACT, "reopen") is None
    h.add(1, TITLE_ABSTRACT, "alice", "reopen", "second look", kind="reopen").add(1, TITLE_ABSTRACT, "alice", "include")
    assert refusal(h.status(), FULL_TEXT, "decide") is None


def test_resolved_record_refuses_decisions_until_reopened():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, TITLE_ABSTRACT, "bob", "exclude")
    assert refusal(h.status(), TITLE_ABSTRACT, "resolve") is None
    h.add(1, TITLE_ABSTRACT, "carol", "include", kind="resolution")
    assert "resolved by carol" in refusal(h.status(), TITLE_ABSTRACT, "decide")
    assert "already resolved" in refusal(h.status(), TITLE_ABSTRACT, "resolve")


def test_title_abstract_is_locked_once_full_text_has_decisions():
    h = History().add(1, TITLE_ABSTRACT, "alice", "include").add(1, FULL_TEXT, "alice", "exclude", "not kratom")
    assert refusal(h.status(), TITLE_ABSTRACT, "decide") == LATER_STAGE_LOCK
    assert refusal(h.status(), TITLE_ABSTRACT, "reopen") is None


def test_nothing_to_resolve_or_reopen_on_an_undecided_record():
    s = History().status()
    assert "nothing to resolve" in refusal(s, TITLE_ABSTRACT, "resolve")
    assert "nothing to re-open" in refusal(s, TITLE_ABSTRACT, "reopen")


# ------------------------------------------------------------------ kappa

def test_kappa_matches_the_textbook_example():
    # Two raters, 50 items: 20 both yes, 5 A-yes/B-no, 10 A-no/B-yes, 15 both no (Wikipedia's worked example).
    pairs = [("include", "include")] * 20 + [("include", "exclude")] * 5 + [("exclude", "include")] * 10 \
        + [("exclude", "exclude")] * 15
    kappa, table = cohen_kappa(pairs, ("include", "exclude"))
    assert table == [[20, 5], [10, 15]]
    assert kappa == pytest.approx(0.4)


def test_kappa_is_undefined_when_both_raters_use_one_category():
    assert cohen_kappa([("exclude", "exclude")] * 4, ("include", "exclude"))[0] is None
    assert cohen_kappa([], ("include", "exclude"))[0] is None


def test_reviewer_pairs_count_maybe_as_include_unless_asked():
    h = History().add(1, TITLE_ABSTRACT, "alice", "maybe").add(1, TITLE_ABSTRACT, "bob", "include")
    statuses = {1: h.status()}
    assert reviewer_pairs(statuses, TITLE_ABSTRACT) == {("alice", "bob"): [("include", "include")]}
    assert reviewer_pairs(statuses, TITLE_ABSTRACT, collapse_maybe=False) == {("alice", "bob"): [("maybe", "include")]}


# ------------------------------------------------------------------ settings

def test_config_parses_and_rejects_bad_values():
    cfg = parse_config({"exclusion_reasons": {"full_text": ["A", "b"]}, "reviewers_per_record": 2})
    assert cfg.reasons["full_text"] == ("A", "b") and cfg.reviewers_per_record == 2
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"reasons": []})
    with pytest.raises(ConfigError, match="twice"):
        parse_config({"exclusion_reasons": {"full_text": ["Not kratom", "not  kratom"]}})
    with pytest.raises(ConfigError, match="unknown stage"):
        parse_config({"exclusion_reasons": {"abstract": ["x"]}})
    with pytest.raises(ConfigError, match="at least 1"):
        parse_config({"reviewers_per_record": 0})
    with pytest.raises(ConfigError, match="is empty"):
        parse_config({"exclusion_reasons": {"full_text": []}})


def test_shipped_settings_file_loads():
    from pathlib import Path

    from review.screening import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "queries" / "screening.yaml")
    assert "not retrievable" in cfg.reasons[FULL_TEXT]
    assert FULL_TEXT in cfg.reason_required


# ------------------------------------------------------------------ helpers

@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")'])
def test_formula_like_text_is_neutralised_and_restored(text):
    assert is_formula_like(text)
    assert neutralise_csv(text) == "'" + text
    assert unneutralise_csv(neutralise_csv(text)) == text


def test_plain_text_is_left_alone():
    assert neutralise_csv("Kratom use") == "Kratom use"
    assert unneutralise_csv("'quoted' word") == "'quoted' word"


def test_key_hash_tolerates_spacing_and_case_but_not_edits():
    assert key_hash(5, "Kratom  withdrawal.") == key_hash(5, "kratom withdrawal")
    assert key_hash(5, "Kratom withdrawal") != key_hash(5, "Kratom dependence")
    assert key_hash(5, "Kratom withdrawal") != key_hash(6, "Kratom withdrawal")


def test_prioritise_ranks_like_the_labelled_includes_first():
    labelled = [("kratom opioid withdrawal buprenorphine treatment patients", True),
                ("kratom use disorder withdrawal symptoms in humans", True),
                ("mitragynine pharmacology in mice and rats liver", False),
                ("alkaloid synthesis receptor binding in vitro rats", False)]
    candidates = [(10, "receptor binding of alkaloids in rats"), (11, "opioid withdrawal managed with kratom"),
                  (12, "liver toxicity in mice"), (13, "buprenorphine for kratom use disorder patients")]
    order, used = prioritise(candidates, labelled)
    assert used
    assert set(order[:2]) == {11, 13}


def test_prioritise_falls_back_to_stable_order_with_one_class():
    order, used = prioritise([(3, "b"), (1, "a")], [("x", True)])
    assert (order, used) == ([1, 3], False)
