"""Design classifier internals that speed rests on: work-item numbering, the per-record queue, cue keys."""
from __future__ import annotations

import json
import re
from pathlib import Path

from review.classify import record_from_mapping
from review.classify.indexing import mesh_cues
from review.classify.rules import INDEX, PRECEDENCE, RULES
from review.classify.text import ABSTRACT, JOURNAL, KEYWORDS, TITLE, Document, Matcher, match_rules, normalise
from review.models import MeshHeading

DATA = Path(__file__).parent / "data" / "classify"
RANK = {d: i for i, d in enumerate(PRECEDENCE)}
# Written independently of text.py: ASCII whitespace and the trigger-token punctuation split words.
SPLIT = re.compile(r"[ \t\n\r\x0b\x0c,.;:()\[\]{}\"'/\-?!%=<>+*&|]+")


def _records():
    names = ("handwritten.jsonl", "handwritten_heldout.jsonl", "handwritten_heldout2.jsonl", "kratom_sample.jsonl")
    rows = [json.loads(line) for name in names
            for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [record_from_mapping(row.get("record", row), f"row {n}") for n, row in enumerate(rows, 1)]


def _documents() -> list[Document]:
    docs = []
    for r in _records():
        docs.append(Document.of(r.title or "", r.abstract_text, "; ".join(r.keywords), r.journal))
        # the same text moved between fields, so every place is exercised
        docs.append(Document.of(r.abstract_text[:300], r.title or "", r.title or "", r.title))
    for r in RULES:
        for example in r.examples:
            docs.append(Document.of(example, example, example, example))
            docs.append(Document.of("", "", example.upper(), None))  # keywords only
    return docs


def _words(text: str) -> set[bytes]:
    return {w.encode() for w in SPLIT.split(text) if w}


def test_work_items_are_numbered_in_evaluation_order():
    items = INDEX.items
    assert len(items) == 2 * sum(len(r.branches) for r in RULES)
    for a, b in zip(items, items[1:]):
        assert a.order <= b.order
        if a.order == b.order and b.place == TITLE:
            assert a.place == TITLE  # at equal order the title goes first
    for item in items:
        rule = INDEX.rules[item.key % len(RULES)]
        assert item.rule is rule and item.branch in rule.branches
        strength = rule.title_strength if item.place == TITLE else rule.strength
        assert item.order == (-strength, RANK[rule.design])
        assert (item.place == TITLE) == (item.key >= len(RULES))


def test_queue_holds_exactly_the_items_whose_anchor_words_occur():
    """The queue of a record equals a plain reading of the rules: anchor (and `also`) word in the place."""
    checked = 0
    for doc in _documents():
        text = doc.text
        title = doc.bounds.get(TITLE)
        body_start = doc.body_start
        title_words = _words(text[:title[1]]) if title else None
        body_words = _words(text[body_start:]) if body_start is not None else None
        journal_words = _words(doc.journal[1]) if doc.journal else None
        want = set()
        for n, item in enumerate(INDEX.items):
            fields = item.rule.fields
            if item.place == TITLE:
                words = title_words if TITLE in fields else None
            elif item.place == JOURNAL:
                words = journal_words
            else:
                words = body_words if ABSTRACT in fields or KEYWORDS in fields else None
            if words is None:
                continue
            branch = item.branch
            if branch.anchors and branch.anchors.isdisjoint(words):
                continue
            if branch.also and branch.also.isdisjoint(words):
                continue
            want.add(n)
        assert Matcher(INDEX, doc).queue == sorted(want), doc.original[:80]
        checked += bool(want)
    assert checked > 100


def test_cue_keys_are_strength_then_precedence():
    cues = [c for doc in _documents()[:400] for c in match_rules(INDEX, doc)]
    cues += mesh_cues(tuple(MeshHeading(m) for m in ("Animals", "Cohort Studies", "Self Report", "Cells, Cultured")))
    assert len({c.design for c in cues}) >= 15
    for c in cues:
        assert c.key == (-c.strength, RANK[c.design]), c


def test_title_cues_take_the_title_strength():
    rule = next(r for r in RULES if r.title_strength > r.strength and TITLE in r.fields and ABSTRACT in r.fields)
    example = rule.examples[0]
    cues = [c for c in match_rules(INDEX, Document.of(example, "", "", None)) if c.rule == rule.name]
    assert cues and all(c.strength == rule.title_strength and " in title " in c.reason for c in cues)
    cues = [c for c in match_rules(INDEX, Document.of("", example, "", None)) if c.rule == rule.name]
    assert cues and all(c.strength == rule.strength and " in abstract " in c.reason for c in cues)


def test_next_cue_skips_other_designs_but_keeps_them_queued():
    doc = Document.of("", "In this randomised controlled trial 40 adults took kratom or placebo. "
                          "We searched PubMed and Embase for earlier reports.", "", None)
    m = Matcher(INDEX, doc)
    queued = len(m.queue)
    review = frozenset({RANK["systematic_review"]})
    cue = m.next_cue(None, review)
    assert cue is not None and cue.design == "systematic_review"
    assert m.next_cue(None, review) is None
    trial = m.run_all(lambda r: r.design == "rct")
    assert [c.design for c in trial] == ["rct"] and len(m.queue) < queued


def test_next_cue_stops_at_the_bound():
    m = Matcher(INDEX, Document.of("", "Respondents completed an anonymous online survey.", "", None))
    before = list(m.queue)
    assert m.next_cue((-5, 0), None) is None  # nothing as strong as a combined design
    assert m.queue == before
    cue = m.next_cue(None, None)
    assert cue is not None and cue.design == "cross_sectional_survey" and cue.key[0] == -4


def test_keywords_only_document_reads_its_keywords():
    m = Matcher(INDEX, Document.of("", "", "systematic review; meta-analysis", None))
    designs = {c.design for c in m.run_all(lambda r: True)}
    assert {"systematic_review", "meta_analysis"} <= designs
    assert all(c.reason.endswith(f"({c.rule})") and f" in {KEYWORDS} " in c.reason
               for c in match_rules(INDEX, Document.of("", "", "systematic review", None)))


def test_normalise_lower_cases_exactly_like_str_lower():
    """Capital I with dot, final sigma, the Kelvin sign: non-ASCII letters that do change take str.lower()."""
    texts = ["Kratom \u2013 a REVIEW (\u00b5g/kg, \u00b1 SD)", "ISTANBUL \u0130STANBUL",
             "\u039f\u0394\u039f\u03a3 \u03a3", "\u212aelvin K", "STRASSE \u1e9e", "Caf\u00e9 CAF\u00c9",
             "plain ascii TEXT", "lone \ud800 SURROGATE",
             "\u00b5 \u03bc \u2010dash\u2011 \u00a0space\u202f", "\U0001d400 MATH \U0001f600", ""]
    padding = " Kratom Use Among Adults, a Cross-Sectional Survey." * 8  # few non-ASCII letters in long text
    for t in texts + [t + padding for t in texts] + [padding + t for t in texts]:
        want = t.lower()
        for odd, plain in (("\u2010", "-"), ("\u2011", "-"), ("\u2012", "-"), ("\xa0", " "), ("\u2009", " "),
                           ("\u202f", " ")):
            want = want.replace(odd, plain)
        assert normalise(t) == want, t
