"""Text-pattern machinery: anchor-first branches, trigger tokens, context checks. The rules are in rules.py.

A rule names the design it points to and a strength:

    5  a combination named as such: own cases with a literature review ("case report and review of the
       literature"), a mixed-methods design
    4  the authors name the design of this work ("we report a case", "this scoping review",
       "a randomized, double-blind, placebo-controlled study", a design named in the title)
    3  a method that belongs to one design ("we searched PubMed", "reported to poison centers",
       "male Sprague-Dawley rats", "human liver microsomes", "an online survey")
    2  design vocabulary without a clear reference to this work ("meta-analysis", "in vivo")
    1  a weak hint (an NCT number, "prevalence")

A match is dropped when its sentence shows it is about other work or a wish ("previous randomized
trials", "randomized trials are needed", "a review of published case reports"), unless the authors
point at their own work just before it ("in this randomized trial").

Speed: every branch regex starts with a literal word (so the regex engine jumps between occurrences
of that word instead of trying every position), and runs only when its anchor word (and its `also`
word, if any) is among the record's tokens; the words that must come before the anchor are checked
afterwards, on the sentence prefix, with a small `before` pattern. The Matcher keeps the triggered
branches of title and body in one queue, strongest first, and runs them only as the decision needs.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

TITLE, ABSTRACT, KEYWORDS, JOURNAL = "title", "abstract", "keywords", "journal"
ABSTRACT_ONLY = "abstract only"  # a place: rules that read the abstract but not the keywords


@dataclass(frozen=True, eq=False)
class Branch:
    """One way a rule can match: a regex starting at an anchor word, and what must precede it."""

    anchors: frozenset[bytes]  # run only if one of these tokens occurs (empty: always run)
    pattern: re.Pattern[str]  # starts with a literal (the anchor), so scanning is fast
    before: re.Pattern[str] | None = None  # must match the end of the sentence prefix
    also: frozenset[bytes] = frozenset()  # and one of these tokens must occur too (cheap pre-check)
    before_word: bool = False  # the `before` words must start at a word boundary


@dataclass(frozen=True, eq=False)
class TextRule:
    """A named pattern pointing to a design, made of branches."""

    name: str
    design: str
    strength: int
    branches: tuple[Branch, ...]
    fields: tuple[str, ...] = (TITLE, ABSTRACT, KEYWORDS)
    context: str = "mention"  # mention | background | action | none: which negation check applies
    title_strength: int = 0  # strength when matched in the title
    self_report: bool = False  # the evidence comes from people's own accounts
    human: bool = False  # a human-trial cue: dropped when its sentence is about animals
    reject_before: re.Pattern[str] | None = None  # rule-specific words that void a match
    examples: tuple[str, ...] = field(default=(), repr=False)  # phrases it must match (tested)


class Cue:
    """A fired rule: the design it supports, how strongly, and a reviewer-readable reason.

    Text cues keep where they matched and build their reason only when it is read (most cues are
    never shown, so formatting every one would waste time). `key` orders cues, best first:
    (-strength, precedence rank of the design).
    """

    __slots__ = ("design", "strength", "rule", "self_report", "human", "key", "_reason", "_where")

    def __init__(self, design: str, strength: int, reason: str | None, rule: str, self_report: bool = False,
                 human: bool | None = None, where: tuple[str, str, int, int, str] | None = None, *,
                 key: tuple[int, int]):
        self.design = design
        self.strength = strength
        self.rule = rule
        self.self_report = self_report
        self.human = human  # trial cues: does the sentence name human subjects?
        self.key = key
        self._reason = reason
        self._where = where  # (original, normalised, start, end, field) of a text match

    @property
    def reason(self) -> str:
        if self._reason is None:
            original, text, start, end, field_name = self._where  # type: ignore[misc]
            self._reason = f'text: "{_snippet(original, text, start, end)}" in {field_name} ({self.rule})'
        return self._reason

    def __repr__(self) -> str:
        return f"Cue({self.design!r}, {self.strength}, {self.reason!r})"


def B(anchors: str, regex: str, before: str | None = None, also: str = "") -> list[Branch]:
    """Branches for anchor words; '{w}' in the regex is replaced by each anchor in turn."""
    words = anchors.split()
    word = bool(before and before.startswith(r"\b"))
    if word:  # a literal first lets the engine skip ahead; the word boundary is checked by hand in _accept
        before = before[2:]  # type: ignore[index]
    before_re = re.compile(before + r"$") if before else None
    need = frozenset(w.encode() for w in also.split())
    if "{w}" in regex:
        return [Branch(frozenset({w.encode()}), re.compile(regex.replace("{w}", re.escape(w))), before_re, need,
                       word) for w in words]
    return [Branch(frozenset(w.encode() for w in words), re.compile(regex), before_re, need, word)]


def rule(name: str, design: str, strength: int, *branches: list[Branch], title_strength: int | None = None,
         reject_before: str | None = None, **kw) -> TextRule:
    """A TextRule from branch lists; a design named in the title counts one level more (up to 4)."""
    if title_strength is None:
        title_strength = max(strength, min(4, strength + 1))
    return TextRule(
        name=name, design=design, strength=strength,
        branches=tuple(b for group in branches for b in group),
        title_strength=title_strength,
        reject_before=re.compile(reject_before) if reject_before else None,
        **kw,
    )


def _bytes_set(words: str) -> frozenset[bytes]:
    return frozenset(w.encode() for w in words.split())


# Context words, checked as sets on the words of the sentence prefix (faster than regex alternations).
# Before a design mention: other work, a wish or a negation ("previous trials", "a need for a trial").
NEG_BEFORE = _bytes_set(
    "no not lack lacks lacking absence absent need needs needed future further previous previously prior earlier "
    "recent recently few limited without unlike instead until call calls calling warrant warrants should must "
    "would could might may recommend recommends recommended plan plans planned propose proposed include includes "
    "included including identified identify such e.g eg i.e published existing available other many several some "
    "numerous literature reviewing reviewed summarize summarise summarizes summarises summarized summarised "
    "summarizing summarising based rather versus vs beyond conventional gold require requires required"
)
# Before a method or data source ("in mice", "poison center data"): only other-work words.
NEG_BACKGROUND = _bytes_set(
    "previous previously prior earlier recent recently published literature studies e.g eg such including unlike "
    "known models model no lack lacking been shown"
)
# Before an action ("we report", "were randomized"): negation, wish or plan.
NEG_ACTION = _bytes_set("not never no future should would could will must might planned propose until if")
# The authors pointing at their own work: negation words before this point do not count.
OWN_WORK = _bytes_set("we this our present current here herein")
# Words after a match that mark it as other work or a wish ("... are needed", "... were included").
NEG_AFTER = re.compile(
    r"^[^.;]{0,50}?\b(?:(?:should|must|would|could|need to|needs to)\s+be\b"
    r"|(?:is|are|was|were|be|been|remain|remains)\s+(?:\w+\s+)?(?:needed|warranted|required"
    r"|necessary|lacking|scarce|missing|sparse|recommended|justified|absent|included|identified|retrieved"
    r"|excluded|eligible|pooled|reviewed|available|published|planned|underway|ongoing)"
    r"|have\s+(?:\w+\s+)?(?:been\s+)?(?:shown|reported|suggested|demonstrated|found|published|described"
    r"|documented|examined|evaluated|investigated)"
    r"|has\s+(?:\w+\s+)?(?:been\s+)?(?:shown|reported|suggested|demonstrated|found|published|described"
    r"|documented|examined|evaluated|investigated))\b"
)
ANIMAL_WORDS = _bytes_set(
    "mice mouse rat rats rodent rodents murine zebrafish dog dogs beagle beagles monkey monkeys macaque macaques "
    "primate primates rabbit rabbits guinea hamster hamsters pig pigs piglet piglets swine sheep animal animals "
    "larvae"
)
HUMAN_WORDS = _bytes_set(
    "participant participants volunteer volunteers patient patients subjects human humans men women adult adults "
    "children adolescents individuals people persons users consumers veterans students infants neonates"
)
_WORD_PUNCT = b",.;:()[]\"'/?!"
_WORD_TABLE = bytes.maketrans(_WORD_PUNCT, b" " * len(_WORD_PUNCT))


def _words(text: str) -> list[bytes]:
    """Words of a short normalised text, punctuation removed (hyphenated words kept whole)."""
    return text.encode("utf-8", "ignore").translate(_WORD_TABLE).split()


# Punctuation turned into spaces before splitting into trigger tokens (bytes: fast in C).
_PUNCT = b",.;:()[]{}\"'/-?!%=<>+*&|"
_TOKEN_TABLE = bytes.maketrans(_PUNCT, b" " * len(_PUNCT))


def tokens(text: str, keep: frozenset[bytes] | None = None) -> set[bytes]:
    """Word tokens of a normalised (lower-case) text, hyphenated words split; only those in `keep` if given."""
    words = text.encode("utf-8", "ignore").translate(_TOKEN_TABLE).split()  # text is normalised (lower)
    # Intersecting a frozenset with the list is ~3x faster than building a set of every word.
    return set(words) if keep is None else keep.intersection(words)


_PLAIN = (("\u2010", "-"), ("\u2011", "-"), ("\u2012", "-"), ("\xa0", " "), ("\u2009", " "), ("\u202f", " "))


def normalise(text: str) -> str:
    """Lower-case text with typographic hyphens and spaces made plain, keeping its length."""
    text = text.lower()
    if not text.isascii():
        for odd, plain in _PLAIN:
            if odd in text:
                text = text.replace(odd, plain)
    return text


def _prefix(text: str, start: int) -> tuple[str, int]:
    """The sentence (or clause after a label) before a position, at most 120 characters, and its offset."""
    lo = max(0, start - 120)
    pre = text[lo:start]
    cut = max(pre.rfind(". "), pre.rfind("\n"), pre.rfind(": "), pre.rfind("; "))
    if cut < 0:
        return pre, lo
    rest = pre[cut + 1:]
    skip = len(rest) - len(rest.lstrip())
    return rest[skip:], lo + cut + 1 + skip


def _after(text: str, end: int) -> str:
    post = text[end:end + 70]
    for mark in (". ", "\n"):
        stop = post.find(mark)
        if stop >= 0:
            post = post[:stop]
    return post


def _voided(rule: TextRule, pre: str, text: str, end: int) -> bool:
    """Does the sentence show the phrase is about other work, a wish, or a negation?"""
    if rule.reject_before is not None and rule.reject_before.search(pre):
        return True
    context = rule.context
    if context == "none":
        return False
    words = _words(pre)
    if context == "action":
        return not NEG_ACTION.isdisjoint(words) or (rule.human and NEG_AFTER.search(_after(text, end)) is not None)
    background = context == "background"
    negation = NEG_BACKGROUND if background else NEG_BEFORE
    if not OWN_WORK.isdisjoint(words):  # own work named: only words after the last marker count
        last = len(words) - 1
        while words[last] not in OWN_WORK:
            last -= 1
        return not negation.isdisjoint(words[last + 1:])
    if not negation.isdisjoint(words):
        return True
    # "... are needed", "... were included": a design mention about other work or a wish.
    return not background and NEG_AFTER.search(_after(text, end)) is not None


def _accept(rule: TextRule, branch: Branch, text: str, pos: int, endpos: int) -> tuple[int, int, bool] | None:
    """(phrase start, end, names humans) of the first accepted match of a branch in text[pos:endpos]."""
    before = branch.before
    search = branch.pattern.search
    m = search(text, pos, endpos)
    while m is not None:
        start, end = m.span()
        hit = _check(rule, branch, before, text, pos, start, end)
        if hit is not None:
            return hit
        m = search(text, start + 1, endpos)
    return None


def _check(rule: TextRule, branch: Branch, before: re.Pattern[str] | None, text: str, pos: int, start: int,
           end: int) -> tuple[int, int, bool] | None:
    """Accept one regex match: word start, the words before it, its sentence context, its subjects."""
    if start and text[start - 1].isalnum():  # the anchor must start a word
        return None
    phrase_start = start
    if before is not None:  # cheap look at the words just before, then the sentence
        lo = start - 80 if start - 80 > pos else pos
        b = before.search(text, lo, start)
        while b is not None and branch.before_word and b.start() and text[b.start() - 1].isalnum():
            b = before.search(text, b.start() + 1, start)  # must start a word
        if b is None:
            return None
        phrase_start = b.start()
        if text.find("\n", phrase_start, start) >= 0:  # not across fields
            return None
    pre, offset = _prefix(text, phrase_start)
    if _voided(rule, pre, text, end):
        return None
    human = False
    if rule.human:
        sentence = _words(text[offset:end] + " " + _after(text, end))
        if not ANIMAL_WORDS.isdisjoint(sentence):
            return None
        human = not HUMAN_WORDS.isdisjoint(sentence)
    return phrase_start, end, human


def _snippet(original: str, lowered: str, start: int, end: int) -> str:
    source = original if len(original) == len(lowered) else lowered
    return " ".join(source[start:end].split())


def _body_place(fields: tuple[str, ...]) -> str:
    """Where a rule looks outside the title: the journal, the abstract (and keywords), or keywords only."""
    if fields == (JOURNAL,):
        return JOURNAL
    if ABSTRACT in fields:
        return ABSTRACT if KEYWORDS in fields else ABSTRACT_ONLY
    return KEYWORDS


