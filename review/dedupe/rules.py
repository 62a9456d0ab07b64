"""Decision rules for candidate pairs, as named data.

A pair is merged when a duplicate rule fires and no guard fires; the name of the rule
that fired is recorded with the merge. A guard that fires on a pair that otherwise looks
like a duplicate makes it an uncertain pair for a person to decide. Exact rules marked
`overrides_guards` (same PMID) merge regardless of guards.

Rules read a features frame built by `match.score_pairs`, one row per candidate pair:
  title, title_words, authors, first_author, abstract
                          similarity in [0, 1] (title_words: shared words), NaN if a side is missing
  n_authors               how many leading authors `authors` compared
  journal, volume, pages, doi, pmid, issue
                          1.0 same, 0.0 different, NaN when a side is missing or inconclusive
  year_diff               absolute difference in years, NaN when missing
  contrast                why two similar titles name different studies, or ''
  differs_<marker>        one record is an erratum/comment/retraction/protocol/conference
                          abstract and the other is not
  unflagged_without_pages the record that is not a conference abstract has no pages
  cochrane, generic_title either record is a Cochrane review / has a generic title
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

Mask = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Rule:
    """A named condition on the features of candidate pairs."""

    name: str
    kind: str  # "exact" | "duplicate" | "guard"
    description: str
    test: Mask
    overrides_guards: bool = False


# The shorter of two titles against the head of the longer (match._title_prefix).
PREFIX_TITLE = 0.95


def same(f: pd.DataFrame, column: str) -> np.ndarray:
    return (f[column] == 1.0).to_numpy()


def differ(f: pd.DataFrame, column: str) -> np.ndarray:
    return (f[column] == 0.0).to_numpy()


def at_least(f: pd.DataFrame, column: str, threshold: float) -> np.ndarray:
    return (f[column] >= threshold).to_numpy()


def missing(f: pd.DataFrame, column: str) -> np.ndarray:
    return f[column].isna().to_numpy()


def authors_agree(f: pd.DataFrame, threshold: float = 0.8) -> np.ndarray:
    """Author lists agree, or one record has none (some exports drop them)."""
    return at_least(f, "authors", threshold) | missing(f, "authors")


def first_author_agrees(f: pd.DataFrame) -> np.ndarray:
    """Same first author, or one missing, or most of a long author list the same.

    Letters printed under one title on the same pages (journal correspondence) share a
    citation and a title; only their authors tell them apart.
    """
    return (at_least(f, "first_author", 0.8) | missing(f, "first_author")
            | (at_least(f, "authors", 0.5) & (f["n_authors"] >= 3).to_numpy()))


def year_agrees(f: pd.DataFrame) -> np.ndarray:
    """Same year, or one year apart (online-first vs print) where the guard allowed it."""
    return (f["year_diff"] <= 1).to_numpy()


def citation_identity(f: pd.DataFrame) -> np.ndarray:
    """Same volume and first page, years agreeing or one missing: one article's citation."""
    return (year_agrees(f) | missing(f, "year_diff")) & same(f, "volume") & same(f, "pages")


# --- guards: evidence that two similar records are different publications ------------

GUARDS: tuple[Rule, ...] = (
    Rule("different_pmid", "guard", "both have a PMID and they differ",
         lambda f: differ(f, "pmid")),
    Rule("different_doi", "guard", "both have a DOI and they differ",
         lambda f: differ(f, "doi")),
    Rule("erratum_vs_article", "guard", "one record is an erratum or correction notice",
         lambda f: f["differs_erratum"].to_numpy()),
    Rule("retraction_vs_article", "guard", "one record is a retraction or expression of concern",
         lambda f: f["differs_retraction"].to_numpy()),
    Rule("comment_vs_article", "guard", "one record is a comment, reply or letter about the other",
         lambda f: f["differs_comment"].to_numpy()),
    Rule("protocol_vs_review", "guard", "one record is a protocol",
         lambda f: f["differs_protocol"].to_numpy()),
    Rule("conference_abstract_vs_article", "guard",
         "one record is a conference abstract and the other may be the full article; only the "
         "same first page, or no pages on the other with the same journal, volume and year, "
         "show one record",
         lambda f: f["differs_conference"].to_numpy() & ~same(f, "pages")
         & ~(f["unflagged_without_pages"].to_numpy() & same(f, "journal") & same(f, "volume")
             & (f["year_diff"] == 0).to_numpy())),
    Rule("cochrane_versions", "guard",
         "Cochrane review versions share title and CD number: year, issue or DOI differ",
         lambda f: f["cochrane"].to_numpy()
         & ((f["year_diff"] > 0).to_numpy() | differ(f, "issue") | differ(f, "doi"))),
    Rule("different_pages", "guard", "both have a first page and they differ",
         lambda f: differ(f, "pages")),
    Rule("different_volume", "guard", "both have a volume and they differ",
         lambda f: differ(f, "volume")),
    Rule("different_years", "guard",
         "years differ by more than one, or by one (online-first vs print year) without "
         "the same volume, first page or DOI",
         lambda f: (f["year_diff"] > 1).to_numpy()
         | ((f["year_diff"] == 1).to_numpy()
            & ~same(f, "volume") & ~same(f, "pages") & ~same(f, "doi"))),
    Rule("title_minimal_pair", "guard",
         "titles differ in a number or a contrasting word (in vitro/in vivo, men/women, ...) "
         "and the citations (year, volume, pages) do not show one article",
         lambda f: (f["contrast"] != "").to_numpy() & ~citation_identity(f)),
    Rule("generic_title", "guard",
         "a generic title (editorial, reply, editor's comments, book reviews; generic_titles.txt) "
         "is no evidence: it needs the same DOI, or the same journal, volume and first page in "
         "an issue that does not differ",
         lambda f: f["generic_title"].to_numpy()
         & ~same(f, "doi") & ~(citation_identity(f) & same(f, "journal") & ~differ(f, "issue_number"))),
    Rule("different_issue", "guard",
         "both have an issue number within a volume (1-99) and they differ, and neither the first "
         "page nor the DOI shows one article (larger 'issue' values in exports are running or "
         "record numbers as often as issues)",
         lambda f: differ(f, "issue_number") & ~same(f, "pages") & ~same(f, "doi")),
)

# --- duplicate rules, strongest first ------------------------------------------------

DUPLICATE_RULES: tuple[Rule, ...] = (
    Rule("same_pmid", "exact", "same PubMed id (titles not unrelated)",
         lambda f: same(f, "pmid") & ~(f["title"] < 0.5).to_numpy(), overrides_guards=True),
    Rule("same_doi", "exact", "same DOI and similar titles",
         lambda f: same(f, "doi") & ~(f["title"] < 0.7).to_numpy()),
    Rule("same_citation", "duplicate",
         "similar titles, agreeing authors, same year, volume and first page",
         lambda f: at_least(f, "title", 0.9) & authors_agree(f, 0.7) & first_author_agrees(f)
         & citation_identity(f)),
    Rule("title_citation", "duplicate",
         "near-identical titles, same journal, volume and first page, same first author "
         "(later authors garbled)",
         lambda f: at_least(f, "title", 0.95) & citation_identity(f) & same(f, "journal")
         & first_author_agrees(f)),
    Rule("citation_authors_title_words", "duplicate",
         "same journal, volume, first page and authors (at least two); titles share most words "
         "(another translation, an added subtitle)",
         lambda f: citation_identity(f) & same(f, "journal") & at_least(f, "authors", 0.9)
         & (f["n_authors"] >= 2).to_numpy() & at_least(f, "title_words", 0.7)),
    Rule("citation_title_variant", "duplicate",
         "same journal, year, volume, first page and first author; titles differ more "
         "(translation, truncation, subtitle)",
         lambda f: at_least(f, "title", 0.75) & citation_identity(f) & same(f, "journal")
         & at_least(f, "first_author", 0.85) & authors_agree(f, 0.6)),
    Rule("truncated_title_citation", "duplicate",
         "one title is the other cut short (an export's field limit, '...'): the shorter one "
         "matches the head of the longer; same volume and first page, journals not "
         "contradicting, agreeing authors",
         lambda f: at_least(f, "title_prefix", PREFIX_TITLE) & citation_identity(f)
         & ~differ(f, "journal") & first_author_agrees(f) & authors_agree(f, 0.7)),
    Rule("title_authors_journal_year", "duplicate",
         "near-identical titles and authors, same journal and year, citation not contradicting",
         lambda f: at_least(f, "title", 0.95) & at_least(f, "authors", 0.9)
         & same(f, "journal") & year_agrees(f)),
    Rule("title_authors_year_volume_or_pages", "duplicate",
         "near-identical titles and authors, same year and volume or first page, journal names "
         "not contradicting",
         lambda f: at_least(f, "title", 0.97) & at_least(f, "authors", 0.9) & year_agrees(f)
         & (same(f, "volume") | same(f, "pages")) & ~differ(f, "journal")),
    Rule("title_journal_citation_no_authors", "duplicate",
         "identical titles, one record without authors, same journal, year and volume or pages",
         lambda f: at_least(f, "title", 0.98) & missing(f, "authors") & same(f, "journal")
         & year_agrees(f) & (same(f, "volume") | same(f, "pages"))),
    Rule("title_authors_abstract", "duplicate",
         "near-identical titles, authors and abstracts, same year",
         lambda f: at_least(f, "title", 0.95) & at_least(f, "authors", 0.9)
         & at_least(f, "abstract", 0.95) & year_agrees(f) & ~differ(f, "journal")),
)



def worth_a_look(f: pd.DataFrame) -> np.ndarray:
    """Pairs no rule merged that a person should still see: close titles, shared identifiers."""
    # A short title matching the head of a long one is common ("Intrapleural streptokinase
    # for empyema?"): worth a look only where year, volume and journal do not contradict.
    cut_short = (at_least(f, "title_prefix", PREFIX_TITLE) & ~(f["year_diff"] > 1).to_numpy()
                 & ~differ(f, "volume") & ~differ(f, "journal"))
    close = at_least(f, "title", 0.85) | cut_short
    return (close & ~(f["authors"] < 0.5).to_numpy()) | same(f, "doi") | same(f, "pmid")

# --- title contrasts -------------------------------------------------------------------

# Words that turn one study into another when swapped for a partner in the same group.
CONTRAST_GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(g.split()) for g in (
    "vitro vivo silico situ",
    "men women",
    "male female males females",
    "boys girls",
    "child children adult adults infant infants adolescent adolescents elderly",
    "pediatric adult",
    "mice mouse rats rat rabbits rabbit dogs dog pigs pig monkeys human humans",
    "acute chronic",
    "preoperative postoperative intraoperative",
    "prenatal postnatal",
    "premenopausal postmenopausal",
    "before after",
    "positive negative",
    "high low",
    "higher lower",
    "upper lower",
    "left right",
    "increase decrease increases decreases",
    "increased decreased",
    "benign malignant",
    "primary secondary",
    "early late",
    "short long",
    "with without",
    "agonist antagonist agonists antagonists",
    "inhibits enhances promotes",
    "inhibition activation",
    "maternal paternal",
    "prospective retrospective",
    "randomized nonrandomized",
    "controlled uncontrolled",
    "alpha beta gamma delta",
    "type1 type2",
    "systolic diastolic",
    "inpatient outpatient inpatients outpatients",
    "anterior posterior",
    "proximal distal",
    "central peripheral",
    "internal external",
    "invasive noninvasive",
    "oral intravenous topical",
    "unilateral bilateral",
))
_GROUPS_OF: dict[str, frozenset[int]] = {
    w: frozenset(k for k, group in enumerate(CONTRAST_GROUPS) if w in group)
    for group in CONTRAST_GROUPS for w in group
}
_DIGITS = re.compile(r"\d+")
NEGATIONS = frozenset("not no non without never".split())
def _load_generic_titles() -> tuple[frozenset[str], frozenset[str]]:
    """The phrases and the notice words of generic_titles.txt (kept as data, not code)."""
    phrases: set[str] = set()
    words: set[str] = set()
    section = None
    for line in (Path(__file__).parent / "generic_titles.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("[phrases]", "[words]"):
            section = line
        elif section == "[phrases]":
            phrases.add(" ".join(line.split()))
        elif section == "[words]":
            words.update(line.split())
    return frozenset(phrases), frozenset(words)


GENERIC_TITLES, NOTICE_WORDS = _load_generic_titles()


@dataclass(frozen=True)
class TitleWords:
    """What `contrast` compares: the words and the digit runs of a normalised title."""

    words: frozenset[str]
    digits: tuple[str, ...]  # sorted digit runs: "p16ink4a" and "p16 ink4a" carry the same number


def title_words(title: str) -> TitleWords:
    return TitleWords(frozenset(title.split()), tuple(sorted(_DIGITS.findall(title))))


def contrast(a: TitleWords, b: TitleWords) -> str:
    """Why two similar titles name different studies, or '' if nothing does."""
    if a.digits != b.digits:
        nums_a = Counter(a.digits) - Counter(b.digits)
        nums_b = Counter(b.digits) - Counter(a.digits)
        if nums_a and nums_b:
            return f"numbers {'/'.join(sorted(nums_a))} vs {'/'.join(sorted(nums_b))}"
    only_a, only_b = a.words - b.words, b.words - a.words
    if not only_a or not only_b:
        negated = NEGATIONS & (only_a | only_b)
        return f"negation {'/'.join(sorted(negated))}" if negated else ""
    groups_a = {g: w for w in only_a for g in _GROUPS_OF.get(w, ())}
    for w in only_b:
        for group in _GROUPS_OF.get(w, ()):
            if group in groups_a:
                return f"{groups_a[group]} vs {w}"
    negated = NEGATIONS & (only_a | only_b)
    if negated:
        return f"negation {'/'.join(sorted(negated))}"
    letters_a = {t for t in only_a if len(t) == 1 and t.isalpha() and t != "a"}
    letters_b = {t for t in only_b if len(t) == 1 and t.isalpha() and t != "a"}
    if letters_a and letters_b:  # "hepatitis a" / "hepatitis b", "factor v" / "factor x"
        return f"letters {'/'.join(sorted(letters_a))} vs {'/'.join(sorted(letters_b))}"
    return ""


def title_contrast(a: str, b: str) -> str:
    """Why two similar normalised titles name different studies, or '' if nothing does."""
    if a == b or not a or not b:
        return ""
    return contrast(title_words(a), title_words(b))


def is_generic_title(title: str) -> bool:
    """Titles that many different notices share ('Editorial', "Editor's Comments", 'Book reviews').

    Listed phrases, titles of one or two words, and titles made only of words that name a kind
    of notice or a role ('remarks from the editor'), not a topic.
    """
    words = title.split()
    return title in GENERIC_TITLES or len(words) <= 2 or all(w in NOTICE_WORDS for w in words)


ALL_RULES: tuple[Rule, ...] = GUARDS + DUPLICATE_RULES
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in ALL_RULES}
