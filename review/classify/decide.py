"""Combine publication-type, MeSH and text signals into one Design with its reasons.

Text rules are evaluated lazily, strongest first: once a signal is found, rules that could not beat it
are not run. The decision is the same as running them all; only the supporting reasons and the "also
matched" rival are limited to the signals that were evaluated.
"""
from __future__ import annotations

import re
from operator import attrgetter
from typing import TYPE_CHECKING

from review.models import DESIGN_TIER, UNCLASSIFIED, Design, Record, Tier

from .indexing import PubTypeRule, conference_type, mesh_cues, pubtype_rule
from .model import model_text
from .rules import INDEX, PRECEDENCE, RANK
from .text import Cue, Document, Matcher

# Confidence of a text/MeSH decision by the strength of its best signal.
if TYPE_CHECKING:
    from .model import TextModel

_CONFIDENCE = {1: 0.35, 2: 0.5, 3: 0.7, 4: 0.85, 5: 0.9, 6: 0.9}
SELF_REPORT_DESIGNS = frozenset({"cross_sectional_survey", "qualitative"})
NO_SIGNAL = "no design signal in publication types, MeSH or text"
NO_RULE = "no rule signal in publication types, MeSH or text"
# The combination (chosen on grouped cross-validation, benchmarks/classify.py): rule signals of strength
# >= STRONG decide alone; below that a weak rule stands if the model gives its tier at least AGREE (trusted
# only if that is the model's first choice; else its confidence is REVIEW_WEAK, below REVIEW_BELOW),
# or be at least MODEL_DECIDES sure of a tier by itself; otherwise the record is unclassified.
STRONG = 3
AGREE = 0.3
REVIEW_WEAK = 0.5  # below review.classify.REVIEW_BELOW: a person looks
MODEL_DECIDES = 0.85
MIN_TERMS = 20  # distinct known words and word pairs the model must read before its probability counts
MAX_SUPPORT = 2  # extra agreeing reasons shown after the deciding one
_TRIAL = frozenset(d for d, t in DESIGN_TIER.items() if t is Tier.TRIAL)


# Principle: a registration or protocol describes planned work: what participants and investigators
# *will* do, and no finding. Two or more future-tense statements and no sentence reporting a result make
# the record a plan, whatever design it plans (a planned trial is not trial data).
_FUTURE = re.compile(r"\b(?:will|shall) (?:be |also |then |each |first |not )?(?:[a-z]+ed|receive|undergo|use|complete"
                     r"|collect|assess|evaluate|compare|measure|answer|fill|provide|take|come|visit|enrol|enroll"
                     r"|recruit|examine|test|determine|inform|include|participate|download|mail|wear|attend)\b")
# Present-tense purpose statements of a registry summary ("The purpose of this study is to determine").
_PURPOSE = re.compile(r"\b(?:(?:purpose|aim|objective|goal)s? of (?:this|the (?:present |proposed )?)(?:[\w-]+ ){0,2}?"
                      r"(?:study|trial|project|protocol) (?:is|are) to|(?:this|the proposed) (?:[\w-]+ ){0,2}?"
                      r"(?:study|trial|project) (?:is designed|aims|seeks|proposes) to)\b")
_RESULT = re.compile(r"\b(?:results? (?:showed|show|shows|indicated|indicate|revealed|suggest|suggested|demonstrated)"
                     r"|(?:were|was) (?:found|observed|significantly|associated|more|less|higher|lower|similar|greater"
                     r"|reduced|increased|decreased|detected|identified)|significantly|statistically|p ?[<=>] ?0?\.\d"
                     r"|\d+(?:\.\d+)? ?%|odds ratio|hazard ratio|did not (?:differ|change|improve|reduce)"
                     r"|we (?:found|observed|report|describe|present)|conclusions?:|findings (?:show|suggest|indicate))")


def planned_work(abstract: str) -> Cue | None:
    """A trial_registration cue when the abstract plans work and reports nothing (see above)."""
    if " will " not in abstract and " shall " not in abstract:
        return None
    low = abstract.lower()
    plans = sorted({m.start(): m for m in (*_FUTURE.finditer(low), *_PURPOSE.finditer(low))}.items())
    if len(plans) < 2 or _RESULT.search(low):
        return None
    first = plans[0][1]
    snippet = abstract[first.start():first.end() + 30].split(".")[0]
    return Cue("trial_registration", 4, f'text: "{snippet}" and {len(plans) - 1} more statements of planned work, '
               f"no result reported (planned work)", "planned work, no results",
               key=(-4, RANK["trial_registration"]))


_key = attrgetter("key")  # (-strength, precedence rank): the best cue sorts first


def _matcher(record: Record) -> Matcher | None:
    title = record.title or ""
    abstract = record.abstract_text
    keywords = "; ".join(record.keywords)
    journal = record.journal or record.journal_iso
    if not (title or abstract or keywords or journal):
        return None
    return Matcher(INDEX, Document.of(title, abstract, keywords, journal))


class _Evidence:
    """Cues gathered so far for one record; body rules are run lazily, strongest first."""

    def __init__(self, record: Record):
        self.matcher = _matcher(record)
        self.cues: list[Cue] = mesh_cues(record.mesh)
        plan = planned_work(record.abstract_text)
        if plan is not None:
            self.cues.append(plan)
        self.animal_checked = False

    def _animal_strength(self) -> int:
        return max((c.strength for c in self.cues if c.design == "animal"), default=0)

    def usable(self) -> list[Cue]:
        """Cues, without trial cues whose sentence names no humans when there is clear animal evidence."""
        cues = self.cues
        for c in cues:  # a plain loop: usually there are no cues or one, and this runs several times a record
            if c.human is False and c.design in _TRIAL:
                break
        else:
            return cues
        if self._animal_strength() < 3:
            return cues
        return [c for c in cues if not (c.human is False and c.design in _TRIAL)]

    def run(self, wanted, limit: int | None = None, tries: int | None = None) -> None:
        """Run pending rules that satisfy `wanted` (see Matcher.run_all), keeping their cues."""
        if self.matcher is not None:
            self.cues += self.matcher.run_all(wanted, limit, tries)

    def _best_of(self, designs: tuple[str, ...] | None) -> Cue | None:
        best = None
        for c in self.usable():
            if (designs is None or c.design in designs) and (best is None or c.key < best.key):
                best = c
        return best

    def best(self, designs: tuple[str, ...] | None) -> Cue | None:
        """The strongest cue (within `designs`), running body rules until none left could beat it."""
        ranks = None if designs is None else frozenset(RANK[d] for d in designs)
        best = self._best_of(designs)
        matcher = self.matcher
        while True:
            if best is not None and best.human is False and best.design in _TRIAL and not self.animal_checked:
                # Trial wording without human subjects: is this an animal experiment?
                self.animal_checked = True
                self.run(lambda r: r.design == "animal")
                best = self._best_of(designs)
                continue
            if matcher is None:
                return best
            cue = matcher.next_cue(best.key if best is not None else None, ranks)
            if cue is None:
                return best
            self.cues.append(cue)
            if cue.design == "animal" and cue.strength >= 3 and self.animal_checked is False:
                best = self._best_of(designs)  # animal evidence may void trial wording
            elif (designs is None or cue.design in designs) and (best is None or cue.key < best.key):
                best = cue

    def support(self, chosen: Cue, ranked: list[Cue] | None = None) -> list[str]:
        """Up to MAX_SUPPORT other reasons for the chosen design, among the signals already evaluated
        (`ranked`: the usable cues sorted by key, when the caller has them)."""
        seen = {chosen.reason}
        out = []
        for c in ranked if ranked is not None else sorted(self.usable(), key=_key):
            if c.design == chosen.design and c.reason not in seen and len(out) < MAX_SUPPORT:
                seen.add(c.reason)
                out.append(c.reason)
        return out

    def self_reported(self, design: str) -> bool:
        """Surveys and qualitative designs resting on people's own accounts (questionnaires, posts, interviews)."""
        if design not in SELF_REPORT_DESIGNS:
            return False
        if not any(c.self_report for c in self.cues):
            self.run(lambda r: r.self_report, limit=1, tries=3)
        return any(c.self_report for c in self.cues)


def decide(record: Record, model: "TextModel | None" = None) -> Design:
    """The design of one record: the rules, and where they are weak or silent, the text model."""
    design, strength = decide_rules(record)
    if model is None or strength >= STRONG:
        return design
    return combine(design, strength, model, model_text(record.title, record.abstract_text))


def combine(rules: Design, strength: int, model: "TextModel", text: str) -> Design:
    """Weak or no rule signal: the calibrated model decides if sure enough, else a person (unclassified)."""
    tiers, designs = model.predict(text)
    top = max(tiers, key=tiers.get)
    p = tiers[top]
    known = len(model.features(text)[0])
    said = f"model {model.version}: {_tier_odds(tiers)}; words: {_words(model, text, top)}"
    if known < MIN_TERMS:
        # A title alone, or a few words: normalised TF-IDF makes them look as certain as an abstract.
        p = 0.0
        said += f" (read {known} known terms, fewer than {MIN_TERMS}: not enough to decide)"
    backing = tiers.get(rules.tier.value, 0.0)
    if strength > 0 and known >= MIN_TERMS and backing >= AGREE:
        # A weak rule the model does not contradict: the rule names the design. Only when it is also the
        # model's first choice is the label trusted; otherwise it stands but goes to a person.
        if rules.tier.value == top:
            conf, note = round(max(rules.confidence, min(0.9, backing + 0.2)), 2), "backed by the"
        else:
            conf, note = min(rules.confidence, REVIEW_WEAK), "not contradicted, but not the first choice, of the"
        return Design(rules.design, rules.tier, conf, (*rules.reasons, f"{note} {said}"), rules.self_reported)
    if p >= MODEL_DECIDES:
        design = model.best_design(designs, top)
        weak = (f"overruled weak signal: {rules.reasons[0]} [{rules.design}]",) if strength > 0 else (NO_RULE,)
        return Design(design, DESIGN_TIER[design], round(p, 2), (f"decided by the {said}", *weak),
                      design in SELF_REPORT_DESIGNS)
    why = (f"weak signal only: {rules.reasons[0]} [{rules.design}]",) if strength > 0 else rules.reasons
    return Design(UNCLASSIFIED, Tier.UNCLASSIFIED, 0.0,
                  (*why, f"not sure enough to decide (below {MODEL_DECIDES}): {said}"))


def _tier_odds(tiers: dict[str, float]) -> str:
    best = sorted(tiers.items(), key=lambda kv: -kv[1])[:2]
    return ", ".join(f"{t} {p:.2f}" for t, p in best)


def _words(model: "TextModel", text: str, tier: str, n: int = 4) -> str:
    """The words that pushed the model most towards a tier (so a reviewer sees what it read)."""
    cols, w = model.features(text)
    if not len(cols):
        return "none it knows"
    row = model.tier_coef[model.tiers.index(tier)]
    contrib = row[cols] * w
    order = contrib.argsort()[::-1][:n]
    terms = sorted(model.vocabulary, key=model.vocabulary.get)
    return ", ".join(f'"{terms[cols[i]]}"' for i in order if contrib[i] > 0) or "none"


PUBTYPE_STRENGTH = 9  # a publication type outranks every text or MeSH signal


def decide_rules(record: Record) -> tuple[Design, int]:
    """The rules' design and the strength of the signal that decided it (0: none; see the package docstring)."""
    notes = []
    types = record.publication_types
    conference = conference_type(types) if types else None
    if conference or record.kind == "conference":
        notes.append(f"note: conference abstract ({conference or 'kind conference'}), classified by its text")
    hit = pubtype_rule(types) if types else None
    if hit is not None:
        return _by_pubtype(record, *hit, notes), PUBTYPE_STRENGTH

    ev = _Evidence(record)
    best = ev.best(None)
    if best is None:
        if record.kind in ("book", "book-article"):
            return Design("narrative_review", Tier.SECONDARY, 0.4,
                          ("kind: book chapter, no other design signal", *notes)), 2
        # Never a silent default: with nothing to go on, a person decides (see the package docstring).
        empty = not (record.title or record.abstract)
        why = "no title, abstract or publication type" if empty else NO_SIGNAL
        return Design(UNCLASSIFIED, Tier.UNCLASSIFIED, 0.0, (why, *notes)), 0

    tier = DESIGN_TIER[best.design]
    confidence = _CONFIDENCE[best.strength]
    ranked = sorted(ev.usable(), key=_key)
    reasons = [best.reason, *ev.support(best, ranked)]
    # A rival: an equally strong signal of another tier, among those evaluated, that lost on precedence.
    rival = next((c for c in ranked if DESIGN_TIER[c.design] is not tier), None)
    if rival is not None and rival.strength == best.strength:
        confidence -= 0.15
        reasons.append(f"also matched, lower precedence: {rival.reason} [{rival.design}]")
    strength = best.strength - (1 if rival is not None and rival.strength == best.strength else 0)
    return Design(best.design, tier, round(confidence, 2), (*reasons, *notes), ev.self_reported(best.design)), strength


def _by_pubtype(record: Record, rule: PubTypeRule, raw: str, notes: list[str]) -> Design:
    """Publication type fixes the tier; MeSH and text may choose among the allowed designs."""
    if rule.mesh_may_override:
        override = [c for c in mesh_cues(record.mesh) if c.strength >= 5]
        if override:
            ev = _Evidence(record)
            best = min(override, key=_key)
            return Design(best.design, DESIGN_TIER[best.design], 0.8,
                          (best.reason, f"publication type {raw} overridden: MeSH indexes a study design",
                           *ev.support(best), *notes),
                          ev.self_reported(best.design))
    ev = _Evidence(record)
    refine = None
    if len(rule.allowed) > 1:
        best = ev.best(rule.allowed)
        # Refine only on a real signal that beats every signal for the default design.
        if best is not None and best.design != rule.default and best.strength >= 3:
            refine = best
    design = refine.design if refine else rule.default
    reasons = [f"publication type: {raw}"]
    if refine:
        reasons.append(refine.reason)
    chosen = refine or Cue(design, 0, "", "", key=(0, RANK[design]))
    reasons += [r for r in ev.support(chosen) if r not in reasons]
    ev.run(lambda r: r.design not in rule.allowed and r.strength >= 4, limit=1, tries=3)
    outside = [c for c in ev.usable() if c.design not in rule.allowed and c.strength >= 3]
    if outside:
        other = min(outside, key=_key)
        reasons.append(f"ignored, publication type takes precedence: {other.reason} [{other.design}]")
    confidence = 0.95 if refine is None else (0.9 if refine.strength >= 4 else 0.85)
    self_rep = rule.self_report or ev.self_reported(design)
    return Design(design, DESIGN_TIER[design], confidence, (*reasons, *notes), self_rep)
