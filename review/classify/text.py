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
    # a cited finding: "a national survey estimated that ...", "trials have found ..." (background)
    r"|(?:found|estimated|estimates|showed|suggests|suggested|indicates|indicated|revealed|documented)\s+that\b"
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


_ASCII = bytes(range(128))


def _lower(text: str) -> str:
    """text.lower(), without its slow path when the only non-ASCII characters have no case (dashes, µ, ±).

    str.lower() looks every character up in the Unicode tables once a text is not pure ASCII, several
    times slower than lower-casing ASCII bytes. When no non-ASCII character changes under lower(), the
    lower-cased UTF-8 bytes decode to the same string (those characters' bytes are all >= 0x80).
    """
    if text.isascii():
        return text.lower()
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) - len(text) > len(text) // 16:  # many non-ASCII letters (Cyrillic, CJK): no gain to expect
        return text.lower()
    others = raw.translate(None, _ASCII).decode("utf-8", "surrogatepass")  # the non-ASCII characters
    # Equal after lower() means each maps to itself: no mapping yields fewer characters, and the one
    # context-dependent mapping (final sigma) starts from a capital, which would change.
    if others.lower() != others:
        return text.lower()
    return raw.lower().decode("utf-8", "surrogatepass")


def normalise(text: str) -> str:
    """Lower-case text with typographic hyphens and spaces made plain, keeping its length."""
    text = _lower(text)
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


Items = tuple[int, ...]
TokenItems = tuple[Items, tuple[tuple[int, frozenset[bytes]], ...]]  # (items, (item, `also` words) pairs)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One branch of one rule, looked for in one place (the title, or the rule's body fields)."""

    order: tuple[int, int]  # (-strength in this place, precedence rank): also the key of its cue
    key: int  # rule index, plus len(rules) for the title: a rule gives one cue per place
    rule: TextRule
    branch: Branch
    place: str  # TITLE, ABSTRACT (abstract and keywords), ABSTRACT_ONLY, KEYWORDS or JOURNAL


@dataclass(frozen=True)
class RuleIndex:
    """The rules' branches as work items numbered in evaluation order (strongest first, then precedence;
    the title first at equal order), indexed by anchor token separately for the title and the body.
    Numbering items by evaluation order lets a record's queue be built by sorting plain ints. Items
    that a rule's fields exclude (the title item of a body-only rule) are numbered but never queued."""

    rules: tuple[TextRule, ...]
    items: tuple[WorkItem, ...]
    title: dict[bytes, TokenItems]  # anchor token -> title items it triggers
    body: dict[bytes, TokenItems]
    title_always: Items  # items without anchors: queued whenever the place has text
    body_always: Items
    journal: tuple[tuple[int, frozenset[bytes]], ...]  # journal-name items with their anchors
    relevant: frozenset[bytes]  # anchor and `also` tokens: the only tokens worth keeping

    @classmethod
    def build(cls, rules: Iterable[TextRule], precedence: tuple[str, ...]) -> "RuleIndex":
        rules = tuple(rules)
        rank = {d: i for i, d in enumerate(precedence)}
        slots = sorted(((-r.strength, rank[r.design]), i, j, b) for i, r in enumerate(rules)
                       for j, b in enumerate(r.branches))
        count = len(slots)
        # Every branch is two candidate items: n searches the rule's body fields, n + count the title.
        orders = [s[0] for s in slots] + [(-rules[s[1]].title_strength, s[0][1]) for s in slots]
        keys = [s[1] for s in slots] + [s[1] + len(rules) for s in slots]
        places = [_body_place(rules[s[1]].fields) for s in slots] + [TITLE] * count
        # At equal order the title goes first: a design named there is the authors' own label.
        by_order = sorted(range(2 * count), key=lambda n: (orders[n], n < count, n))
        number = {n: p for p, n in enumerate(by_order)}
        items = tuple(WorkItem(orders[n], keys[n], rules[keys[n] % len(rules)], slots[n % count][3], places[n])
                      for n in by_order)

        title: dict[bytes, tuple[list[int], list]] = {}
        body: dict[bytes, tuple[list[int], list]] = {}
        title_always: list[int] = []
        body_always: list[int] = []
        journal = []
        for n, (_, i, _, b) in enumerate(slots):
            r = rules[i]
            if r.fields == (JOURNAL,):
                journal.append((number[n], b.anchors))
                continue
            targets = []
            if TITLE in r.fields:
                targets.append((title, title_always, number[n + count]))
            if ABSTRACT in r.fields or KEYWORDS in r.fields:
                targets.append((body, body_always, number[n]))
            for by_token, always, item in targets:
                if not b.anchors:
                    always.append(item)
                for t in b.anchors:
                    plain, conditional = by_token.setdefault(t, ([], []))
                    if b.also:
                        conditional.append((item, b.also))
                    else:
                        plain.append(item)
        relevant = frozenset(title).union(body, *(b.also for r in rules for b in r.branches))
        return cls(rules, items, {t: (tuple(p), tuple(c)) for t, (p, c) in title.items()},
                   {t: (tuple(p), tuple(c)) for t, (p, c) in body.items()}, tuple(title_always),
                   tuple(body_always), tuple(journal), relevant)


class Document:
    """A record's text fields joined by newlines (title, abstract, keywords), plus the journal name."""

    __slots__ = ("original", "text", "bounds", "journal", "body_start")

    def __init__(self, original: str, text: str, bounds: dict[str, tuple[int, int]],
                 journal: tuple[str, str] | None = None):
        self.original = original
        self.text = text  # normalised, same length as original when lower-casing kept it
        self.bounds = bounds  # field -> (start, end) in text
        self.journal = journal  # (original, normalised)
        body = bounds.get(ABSTRACT) or bounds.get(KEYWORDS)
        self.body_start = body[0] if body else None  # where the abstract (or else the keywords) starts

    @classmethod
    def of(cls, title: str, abstract: str, keywords: str, journal: str | None) -> "Document":
        bounds: dict[str, tuple[int, int]] = {}
        if title:
            bounds[TITLE] = (0, len(title))
        start = len(title) + 1
        if abstract:
            bounds[ABSTRACT] = (start, start + len(abstract))
        if keywords:
            start += len(abstract) + 1
            bounds[KEYWORDS] = (start, start + len(keywords))
            original = f"{title}\n{abstract}\n{keywords}"
        else:
            original = f"{title}\n{abstract}"
        text = normalise(original)
        if len(text) != len(original):  # rare letters whose lower case is longer: rebuild from lowered parts
            return cls.of(normalise(title), normalise(abstract), normalise(keywords), journal)
        return cls(original, text, bounds, (journal, normalise(journal)) if journal else None)


def _ready(by_token: dict[bytes, TokenItems], always: Items, toks: set[bytes], out: list[int]) -> None:
    """Add the work items whose anchor (and `also` word) occur among the tokens to `out` (unordered)."""
    out += always
    for t in by_token.keys() & toks:  # the anchors present (the set operation loops in C)
        plain, conditional = by_token[t]
        out += plain
        for n, also in conditional:
            if not also.isdisjoint(toks):
                out.append(n)


class Matcher:
    """Evaluates rules on one document on demand, strongest first: title and body branches in one queue."""

    __slots__ = ("items", "doc", "spans", "queue", "done")

    def __init__(self, index: RuleIndex, doc: Document):
        self.items = index.items
        self.doc = doc
        text, bounds, body_start = doc.text, doc.bounds, doc.body_start
        body = (body_start, len(text)) if body_start is not None else None
        # Where the items of each place search (journal items search the journal name instead).
        self.spans = {TITLE: bounds.get(TITLE), ABSTRACT: body, ABSTRACT_ONLY: bounds.get(ABSTRACT),
                      KEYWORDS: bounds.get(KEYWORDS)}
        # One encode and translate for both parts; the title is split off at its byte length. Splitting
        # bytes and intersecting with the anchor words is the cheapest exact way found to learn which
        # anchors occur: one regex alternation (or trie) of the ~600 anchor words is 2-3x slower in `re`.
        data = text.encode("utf-8", "ignore").translate(_TOKEN_TABLE)
        if body_start is None:
            cut = len(data)
        else:
            cut = body_start if text.isascii() else len(text[:body_start].encode("utf-8", "ignore"))
        relevant = index.relevant
        found: list[int] = []
        if TITLE in bounds:
            _ready(index.title, index.title_always, relevant.intersection(data[:cut].split()), found)
        if body is not None:
            _ready(index.body, index.body_always, relevant.intersection(data[cut:].split()), found)
        if doc.journal is not None:
            words = tokens(doc.journal[1])
            found += [n for n, anchors in index.journal if not anchors.isdisjoint(words)]
        self.queue = sorted(set(found))  # work items not yet run, strongest first (numbers are the order)
        self.done: set[int] = set()  # keys of the work items that gave a cue

    def next_cue(self, bound: tuple[int, int] | None, ranks: frozenset[int] | None) -> Cue | None:
        """Run pending items in order until one gives a cue; only items that could still win (order <=
        bound) and whose design rank is allowed. Items skipped for their rank stay queued."""
        queue, items, done = self.queue, self.items, self.done
        k = 0
        while k < len(queue):
            item = items[queue[k]]
            if bound is not None and item.order > bound:
                return None
            if (ranks is not None and item.order[1] not in ranks) or item.key in done:
                k += 1
                continue
            del queue[k]
            cue = self._run(item)
            if cue is not None:
                return cue
        return None

    def _run(self, item: WorkItem) -> Cue | None:
        """Run one work item; its cue, if it fired."""
        doc = self.doc
        place = item.place
        if place == JOURNAL:
            original, text = doc.journal  # type: ignore[misc]
            lo, hi = 0, len(text)
        else:
            span = self.spans[place]
            if span is None:
                return None
            lo, hi = span
            original, text = doc.original, doc.text
        rule = item.rule
        hit = _accept(rule, item.branch, text, lo, hi)
        if hit is None:
            return None
        self.done.add(item.key)
        start, end, human = hit
        where = place if place == TITLE or place == JOURNAL else _field_at(doc, start)
        return Cue(rule.design, rule.title_strength if where == TITLE else rule.strength, None, rule.name,
                   rule.self_report, human if rule.human else None, (original, text, start, end, where),
                   key=item.order)

    def run_all(self, wanted, limit: int | None = None, tries: int | None = None) -> list[Cue]:
        """Run pending items whose rule satisfies `wanted`, until `limit` cues fired or `tries` ran."""
        out: list[Cue] = []
        items, done = self.items, self.done
        keep: list[int] = []
        ran = 0
        for n in self.queue:
            item = items[n]
            if item.key in done:
                continue
            if (limit is None or len(out) < limit) and (tries is None or ran < tries) and wanted(item.rule):
                ran += 1
                cue = self._run(item)
                if cue is not None:
                    out.append(cue)
            else:
                keep.append(n)
        self.queue = keep
        return out


def _field_at(doc: Document, pos: int) -> str:
    keywords = doc.bounds.get(KEYWORDS)
    if keywords is not None and pos >= keywords[0]:
        return KEYWORDS
    title = doc.bounds.get(TITLE)
    return TITLE if title is not None and pos < title[1] else ABSTRACT


def match_rules(index: RuleIndex, doc: Document) -> list[Cue]:
    """Every cue of a document (every triggered rule in title and body): for tests and diagnostics."""
    return Matcher(index, doc).run_all(lambda r: True)
