"""Normalised matching keys for deduplication, kept beside (never instead of) the original values.

Every function here is pure and takes one raw value; `normalise_table` applies them
column by column and is the single entry point of the engine.
"""
from __future__ import annotations

import html
import numbers
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

from review.errors import InputError
from review.models import Author, Record

# --- generic text -----------------------------------------------------------------

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "π": "pi", "σ": "sigma", "τ": "tau", "ω": "omega",
    "Α": "alpha", "Β": "beta", "Γ": "gamma", "Δ": "delta", "Κ": "kappa",
}
_GREEK_RE = re.compile("|".join(map(re.escape, _GREEK)))
# Ligatures and letters that NFKD does not decompose.
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                       "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold_accents(text: str) -> str:
    """Strip accents and transliterate Greek letters, keeping case."""
    if text.isascii():
        return text
    text = _GREEK_RE.sub(lambda m: f" {_GREEK[m.group(0)]} ", text.translate(_FOLD))
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _alnum_words(text: str) -> str:
    """Lower-case ASCII words separated by single spaces."""
    return _NON_ALNUM.sub(" ", fold_accents(text).lower()).strip()


_MISSING = frozenset({"nan", "na", "n/a", "none", "null", "unknown", "#name?"})


def clean_value(value: Any) -> str:
    """A raw cell as a stripped string; missing values (None, NaN, 'nan', 'NA') become ''."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        pass
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    elif isinstance(value, numbers.Real):
        value = float(value)
        if value != value:  # NaN
            return ""
        # CSV readers turn "108" into 108.0; keep the integer spelling.
        return str(int(value)) if value.is_integer() else str(value)
    else:
        value = str(value)
    value = value.strip()
    return "" if value.lower() in _MISSING else value


# --- identifiers --------------------------------------------------------------------

_DOI_PREFIX = re.compile(
    r"^(?:https?://)?(?:dx\.)?(?:doi\.org/|doi:\s*|doi\s+)", re.IGNORECASE
)
_DOI_CORE = re.compile(r"10\.\d{4,9}/\S+")


def norm_doi(value: Any) -> str:
    """'https://doi.org/10.1000/ABC.' -> '10.1000/abc'; '' when no DOI can be read."""
    text = clean_value(value)
    if not text:
        return ""
    text = _DOI_PREFIX.sub("", text.replace("%2F", "/").replace("%2f", "/"))
    match = _DOI_CORE.search(text)
    if not match:
        return ""
    return match.group(0).lower().rstrip(".,;:)]}>\"'")


def norm_pmid(value: Any) -> str:
    """'PMID: 012345' -> '12345'; '' unless the value is a number."""
    text = re.sub(r"^(?:pmid|pubmed)\s*:?\s*", "", clean_value(value), flags=re.IGNORECASE)
    return text.lstrip("0") if text.isdigit() else ""


# --- title --------------------------------------------------------------------------

# Languages databases append to translated titles, e.g. "[Chinese]", ". Spanish", "LA: Chi".
LANGUAGES = (
    "afrikaans arabic bulgarian catalan chinese croatian czech danish dutch english estonian "
    "finnish french german greek hebrew hungarian icelandic indonesian italian japanese "
    "korean latvian lithuanian malay norwegian persian polish portuguese romanian russian "
    "serbian slovak slovenian spanish swedish thai turkish ukrainian vietnamese"
).split()
_LANG = "|".join(LANGUAGES)
_LANGUAGE_ENDINGS = tuple(LANGUAGES)
_TRAILING_NOTES = [
    # Notices about the record that some databases append to its title.
    re.compile(r"\s*\[(?:erratum|retraction|comment|update|corrected and republished)"
               r"(?: appears)? in\b[^\]]*(?:\]|$)", re.IGNORECASE),
    re.compile(r"\s*\[review\]", re.IGNORECASE),
    re.compile(r"\s*\[\d+\s*refs?\]?", re.IGNORECASE),
    re.compile(rf"\s*[\[(](?:in\s+)?(?:{_LANG})(?:\s*(?:with|;|,)\s*(?:{_LANG})\s*abstract)?[\])]",
               re.IGNORECASE),
    re.compile(rf"\.\s+(?:{_LANG})\s*$", re.IGNORECASE),
    re.compile(r"\s+LA:\s*\w+\s*$"),
    re.compile(r"\s*\(author'?s'? transl\)", re.IGNORECASE),
    re.compile(r"\s*\[see comments?\]", re.IGNORECASE),
]
_CONFERENCE_NOTE = re.compile(
    r"\s*\[(?:meeting |conference )?abstract(?: no\.?:?[^\]]*)?\]|\s*\(abstract\)\s*$",
    re.IGNORECASE,
)
_MARKER_PREFIX = re.compile(
    r"^\W*(?:re\s*:|(?:erratum|errata|corrigendum|correction(?:\s+(?:to|for|of))?|comments?\s+on|"
    r"commentary\s+on|reply(?:\s+to)?|in\s+reply(?:\s+to)?|response\s+to|"
    r"authors?'?\s+(?:reply|response)(?:\s+to)?|retraction(?:\s+notice)?(?:\s+(?:of|for|to))?|"
    r"notice\s+of\s+retraction|expression\s+of\s+concern(?:\s+(?:for|about|regarding))?)"
    r"(?:\s*[:\-\u2013]|\s+(?=[\"\u201c\u2018])))\s*[\"'\u201c\u2018]?",
    re.IGNORECASE)
# Web of Science titles a correction with the article's citation: "Title (vol 360, pg 542, 2009)",
# a retraction "Title (Retraction of vol 12, pg 3, 2010)".
_CITED = re.compile(
    r"\s*[(\[]\s*(?:(retraction|erratum|correction|corrigendum)\s+(?:of|to|for)\s+)?vol\.?\s*(\d+)\s*,?\s*"
    r"(?:pg|pp?|pages?)\.?\s*([a-z]{0,2}\d+)(?:\s*-\s*[a-z]{0,2}\d+)?\s*(?:,\s*(\d{4}))?\s*[)\]]\s*\.?\s*$",
    re.IGNORECASE)


def cited_citation(title: Any) -> tuple[str, str, str, int | None] | None:
    """(notice kind, volume, first page, year) a correction's title cites, or None."""
    text = clean_value(title)
    if "vol" not in text.lower():
        return None
    match = _CITED.search(text)
    if not match:
        return None
    kind = "retraction" if (match.group(1) or "").lower() == "retraction" else "erratum"
    page = re.sub(r"\D", "", match.group(3)).lstrip("0") or "0"
    return kind, match.group(2).lstrip("0") or "0", page, int(match.group(4)) if match.group(4) else None


_MARKER_SUFFIX = re.compile(r"\s*\((?:protocol|study protocol)\)\s*\.?\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"\s*<original>.*$", re.IGNORECASE | re.DOTALL)
_TRANSLATED = re.compile(
    r"^\s*\[((?:[^\[\]\s]+\s+){3,}[^\[\]\s]+)\](?:\s*\.?\s*$|\s+\S.*$)", re.DOTALL)
# Titles given in two languages: "Titulo original; English title", "Title = Titre".
_TITLE_LANGUAGES = re.compile(r"\s*(?:;|\s=)\s+")
_RETRACTED_PREFIX = re.compile(r"^\s*(?:retracted(?: article)?|withdrawn)\s*[:.]\s*", re.IGNORECASE)
_INEQUALITY = re.compile(r"\s*([<>])\s*(?:or\s*)?=\s*|\s*([≤≥<>])\s*", re.IGNORECASE)
_INEQUALITY_WORDS = {"<": " lt ", ">": " gt ", "≤": " le ", "≥": " ge "}
_TAGS = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,80})?/?>")
_ROMAN_EXTRA = {"i": "1", "v": "5", "x": "10"}
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
# Single-letter numerals only where they are clearly numbers ("phase i", "type v").
_ROMAN_AFTER = re.compile(r"\b(phase|type|part|stage|grade|class|study|trial|group|figo) (i|v|x)\b")
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "first": "1st",
    "second": "2nd", "third": "3rd",
}
# Spelling variants that should not look like a different word.
_SPELLING = {"tumour": "tumor", "tumours": "tumors", "randomised": "randomized",
             "oesophageal": "esophageal", "paediatric": "pediatric", "haemorrhage": "hemorrhage",
             "foetal": "fetal", "anaemia": "anemia", "leukaemia": "leukemia",
             "gynaecological": "gynecological", "gynaecology": "gynecology", "centre": "center",
             "behaviour": "behavior", "colour": "color", "programme": "program"}


# Markers that tell a notice or a different kind of publication from the article itself.
_MARKERS: dict[str, re.Pattern[str]] = {
    "erratum": re.compile(
        r"^\W*(?:erratum|errata|corrigend(?:um|a)|correction|corrections|notice of correction|"
        r"author correction|publisher correction)\b", re.IGNORECASE),
    "comment": re.compile(
        r"^\W*(?:re\s*:|comments?\b|commentary\b|reply\b|in reply\b|response\b|authors?'? reply\b|"
        r"authors?'? response\b|letter\b|rebuttal\b|invited commentary\b|editorial comment\b)|"
        r"\b(?:comment on|commentary on|reply to|response to|in response to)\s*[:\"'\u201c\u2018]",
        re.IGNORECASE),
    "retraction": re.compile(
        r"^\W*(?:retraction|notice of retraction|retraction notice|expression of concern|"
        r"withdrawal)\b", re.IGNORECASE),
    "conference": _CONFERENCE_NOTE,
    "protocol": re.compile(r"\(protocol\)|\bstudy protocol\b|\bprotocol for a\b", re.IGNORECASE),
}
# Every marker pattern needs one of these words: a cheap test before the patterns.
_MARKER_WORDS = ("errat", "corrig", "correct", "re:", "re :", "comment", "reply", "respon",
                 "letter", "rebuttal", "retract", "concern", "withdraw", "bstract", "protocol")
_PUBTYPE_MARKERS = {
    "published erratum": "erratum", "erratum": "erratum", "comment": "comment", "letter": "comment",
    "retraction of publication": "retraction", "expression of concern": "retraction",
    "congress": "conference", "meeting abstract": "conference", "conference abstract": "conference",
    "conference paper": "conference", "conference proceeding": "conference",
}
_CONFERENCE_VENUE = re.compile(
    r"\b(?:abstracts?|congress|meeting|conference|proceedings|symposium|annual scientific)\b",
    re.IGNORECASE,
)
_CONFERENCE_KINDS = {"conference", "inproceedings", "proceedings", "conference-paper"}


def _inequality_word(match: re.Match[str]) -> str:
    """'>or=30', '>= 30' and '≥30' all become ' ge 30'."""
    if match.group(1):
        return " ge " if match.group(1) == ">" else " le "
    return _INEQUALITY_WORDS[match.group(2)]


def _strip_notes(title: str) -> str:
    for _ in range(3):  # notes can stack: "... [Review] [45 refs]. [Chinese]"
        before = title
        for pattern in _TRAILING_NOTES:
            title = pattern.sub("", title)
        title = title.rstrip(" .[;,")
        if title == before:
            break
    return title


def norm_title(value: Any, journal: Any = None) -> str:
    """Lower-case ASCII words of a title without markup, database notes or trailing journal."""
    text = clean_value(value)
    if not text:
        return ""
    # The cheap `in` tests skip patterns that cannot apply (most titles are plain).
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if "<" in text:
        text = _ORIGINAL.sub("", text)  # "Title. <ORIGINAL> TITRE ORIGINAL": keep the first
        text = _TAGS.sub(" ", text)
    lowered = text.lower()
    if "retracted" in lowered or "withdrawn" in lowered:
        text = _RETRACTED_PREFIX.sub("", text)
        lowered = text.lower()
    if any(word in lowered for word in _MARKER_WORDS):
        # "Erratum: <title>", "Re: <title>", "<title> (Protocol)": the title compares as the
        # article's, and `title_markers` keeps the kind for the guards to tell them apart.
        text = _MARKER_SUFFIX.sub("", _MARKER_PREFIX.sub("", text))
        lowered = text.lower()
    if "vol" in lowered:
        text = _CITED.sub("", text)  # the cited citation is the article's, not part of the title
    if "bstract" in lowered:
        text = _CONFERENCE_NOTE.sub("", text)
    if ("[" in text or "(" in text or "LA:" in text
            or lowered.rstrip(" .").endswith(_LANGUAGE_ENDINGS)):
        text = _strip_notes(text)
    if text.lstrip().startswith("["):
        # MEDLINE puts translated titles in brackets: "[Title in English]." (+ "TO: original")
        bracketed = _TRANSLATED.match(text)
        if bracketed:
            text = bracketed.group(1)
    if any(c in text for c in "<>≤≥"):
        text = _INEQUALITY.sub(_inequality_word, text)
    words = _alnum_words(text)
    if " i" in words or " v" in words or " x" in words:
        words = _ROMAN_AFTER.sub(lambda m: f"{m.group(1)} {_ROMAN_EXTRA[m.group(2)]}", words)
    tokens = [_ROMAN.get(t) or _NUMBER_WORDS.get(t) or _SPELLING.get(t) or t for t in words.split()]
    journal_tokens = _alnum_words(clean_value(journal)).split() if journal is not None else []
    n = len(journal_tokens)
    if n >= 2 and len(tokens) > n + 3 and tokens[-n:] == journal_tokens:
        tokens = tokens[:-n]
    return " ".join(tokens)


def title_parts(value: Any, journal: Any = None) -> tuple[str, ...]:
    """Both language versions of a bilingual title ('A; B' -> (A, B)), normalised; else ()."""
    text = clean_value(value)
    if not text or not _TITLE_LANGUAGES.search(text):
        return ()
    parts = [p for p in _TITLE_LANGUAGES.split(_ORIGINAL.sub("", text), maxsplit=1) if p.strip()]
    if len(parts) != 2 or min(len(p.split()) for p in parts) < 4:
        return ()
    return tuple(norm_title(p, journal) for p in parts)


def title_markers(title: Any, journal: Any = None, kind: Any = None,
                  publication_types: Sequence[str] = ()) -> frozenset[str]:
    """Kinds of notice a record is (erratum, comment, retraction, conference, protocol)."""
    text = html.unescape(clean_value(title))
    lowered = text.lower()
    found = ({name for name, pattern in _MARKERS.items() if pattern.search(text)}
             if any(word in lowered for word in _MARKER_WORDS) else set())
    for pub_type in publication_types:
        marker = _PUBTYPE_MARKERS.get(pub_type.strip().lower())
        if marker:
            found.add(marker)
    cited = cited_citation(text)
    if cited:
        found.add(cited[0])
    if clean_value(kind).lower() in _CONFERENCE_KINDS:
        found.add("conference")
    if _CONFERENCE_VENUE.search(clean_value(journal)):
        found.add("conference")
    return frozenset(found)


# --- authors ------------------------------------------------------------------------

_COLLECTIVE = re.compile(
    r"\b(?:group|groups|groupe|gruppo|grupo|consortium|collaborat\w*|committee|investigators|"
    r"society|association|"
    r"working party|network|team|organi[sz]ation|council|agency|institute|department|"
    r"cent(?:re|er)|foundation|panel|task force|writing|study|trial|program|programme)\b",
    re.IGNORECASE,
)
_INITIALS_TOKEN = re.compile(r"^(?:[A-Z]\.?-?){1,4}$")
_ET_AL = re.compile(r"[,;]?\s*\bet\.?\s*al\.?\s*$", re.IGNORECASE)
_MEDLINE_NAME = re.compile(r"^[^\W\d_][\w'\-. ]*\s[A-Z]{1,4}$")


@dataclass(frozen=True)
class PersonKey:
    """Surname key and initials of one personal author."""

    surname: str  # lower-case ASCII words
    initials: str  # upper-case letters, possibly empty


_SURNAME_SUFFIX = re.compile(r"[\s,]+(?:jr|sr|ii|iii|iv|2nd|3rd)\.?\s*$", re.IGNORECASE)
_SUFFIX_ENDINGS = ("jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "2nd", "3rd")
_NOT_LOWER = re.compile(r"[^a-z ]+")
_GIVEN_SPLIT = re.compile(r"[\s.\-]+")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# Leading authors kept for matching: long lists are often truncated by one database anyway.
MAX_AUTHORS = 10


# Family-name particles: databases disagree on whether they belong to the family name
# ("Le Quintrec M" vs "Quintrec ML", "van der Berg" vs "Berg"), so they never take part in the key.
SURNAME_PARTICLES = frozenset(
    "le la les l de del della dela der den di da das do dos du des d van von vander vanden ten ter "
    "zu zur af al el bin ben ibn st saint".split())


def _surname_key(text: str) -> str:
    lower = text.lower()
    if lower.endswith(_SUFFIX_ENDINGS):
        lower = _SURNAME_SUFFIX.sub("", lower)
    if lower.isalpha() and lower.isascii():
        return lower
    # Words of compound surnames stay apart ("fernandes brenna"); hyphens and apostrophes join.
    words = _NOT_LOWER.sub("", lower).split()
    while len(words) > 1 and words[0] in SURNAME_PARTICLES:
        words = words[1:]
    return " ".join(words)


def _initials(given: str) -> str:
    letters = []
    for part in _GIVEN_SPLIT.split(given.strip()):
        if not part:
            continue
        if part.isupper() and part.isalpha() and len(part) <= 3:
            letters.extend(part)  # "RE" in "Zuna, RE" is two initials
        elif part[0].isalpha():
            letters.append(part[0].upper())
    return "".join(letters).upper()


@lru_cache(maxsize=131072)
def _parse_folded(name: str) -> PersonKey | None:
    name = name.strip(" .,;")
    if not name or _COLLECTIVE.search(name):
        return None
    if "," in name:
        last, given = name.split(",", 1)
        surname = _surname_key(last)
        return PersonKey(surname, _initials(given)) if surname else None
    tokens = name.split()
    if len(tokens) == 1:
        return PersonKey(_surname_key(tokens[0]), "")
    if _INITIALS_TOKEN.match(tokens[-1]) and not _INITIALS_TOKEN.match(tokens[0]):
        return PersonKey(_surname_key(" ".join(tokens[:-1])), _initials(tokens[-1]))
    lead = 0
    while lead < len(tokens) - 1 and _INITIALS_TOKEN.match(tokens[lead]):
        lead += 1
    if lead:
        return PersonKey(_surname_key(" ".join(tokens[lead:])), _initials(" ".join(tokens[:lead])))
    return PersonKey(_surname_key(tokens[-1]), _initials(" ".join(tokens[:-1])))


def parse_person(name: str) -> PersonKey | None:
    """One name as 'Last, First', 'F. Last', 'Last FM' or 'LAST F'; None if collective or empty."""
    person = _parse_folded(fold_accents(name))
    return person if person is not None and person.surname else None


def split_author_string(text: str) -> list[str]:
    """Split an author field: BibTeX ' and ', RIS/EndNote ';', or MEDLINE 'Last FM, Last FM'."""
    text = _ET_AL.sub("", text.strip())
    if _AND.search(text):
        return [p for p in _AND.split(text) if p.strip()]
    if ";" in text:
        return [p for p in text.split(";") if p.strip()]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > 1 and all(_MEDLINE_NAME.match(p) for p in parts):
        return parts
    return [text] if text else []


@dataclass(frozen=True)
class AuthorKeys:
    """Leading personal authors as (surname, initials) in order, plus collective names."""

    persons: tuple[PersonKey, ...]
    collectives: tuple[str, ...]


def author_keys(value: Any) -> AuthorKeys:
    """Author keys from a string in any common export format or from a tuple of `Author`."""
    if isinstance(value, (tuple, list)) and all(isinstance(a, Author) for a in value):
        return _author_keys_from_model(value)
    return _author_keys_from_text(clean_value(value))


@lru_cache(maxsize=65536)
def _author_keys_from_text(text: str) -> AuthorKeys:
    if not text or text.lower() in {"anonymous", "[anonymous]", "anon"}:
        return AuthorKeys((), ())
    persons, collectives = [], []
    for part in split_author_string(fold_accents(text)):
        person = _parse_folded(part) if len(persons) < MAX_AUTHORS else None
        if person is not None and person.surname:
            persons.append(person)
        elif _COLLECTIVE.search(part):
            collectives.append(_alnum_words(part))
    return AuthorKeys(tuple(persons), tuple(collectives))


def _author_keys_from_model(authors: Sequence[Author]) -> AuthorKeys:
    persons, collectives = [], []
    for author in authors:
        if author.collective:
            collectives.append(_alnum_words(author.collective))
        elif author.family:
            initials = author.initials or _initials(fold_accents(author.given or ""))
            persons.append(PersonKey(_surname_key(fold_accents(author.family)),
                                     fold_accents(initials).upper()))
    persons = [p for p in persons if p.surname][:MAX_AUTHORS]
    return AuthorKeys(tuple(persons), tuple(collectives))


# --- journal ------------------------------------------------------------------------

JOURNAL_STOPWORDS = frozenset(
    "of the and for in on de des du d l la le les et der die das und fur i y e a an to".split()
)


def _journal_tokens(text: str, join_hyphens: bool = True) -> tuple[str, ...]:
    text = fold_accents(text).lower().replace("&", " and ")
    if join_hyphens:  # "cardio-thoracic" -> "cardiothoracic" (but "Dtsch-Med-Wochenschr" splits)
        text = re.sub(r"(?<=\w)-(?=\w)", "", text)
    return tuple(t for t in _NON_ALNUM.sub(" ", text).split() if t not in JOURNAL_STOPWORDS)


@lru_cache(maxsize=65536)
def journal_variants(value: str) -> tuple[tuple[str, ...], ...]:
    """Token lists for a journal name, its part before ':' or '.', and names in brackets."""
    text = clean_value(value)
    if not text:
        return ()
    text = html.unescape(text)
    variants = [text]
    bracketed = re.findall(r"[\[(]([^\])]+)[\])]", text)
    bare = re.sub(r"\s*[\[(][^\])]*[\])]", " ", text)
    variants.append(bare)
    variants.extend(bracketed)
    for sep in (" : ", ": ", " / "):  # subtitles: "J Clin Oncol : official journal of ..."
        if sep in bare:
            variants.append(bare.split(sep, 1)[0])
    if " = " in bare:  # parallel titles: "Ai zheng = Aizheng = Chinese journal of cancer"
        variants.extend(bare.split(" = "))
    # "International journal of cancer.Journal international du cancer"
    dotted = re.split(r"\.(?=[A-Z])|\.\s+(?=[A-Z][a-z]{3,})", bare)
    if len(dotted) > 1:
        variants.append(dotted[0])
    out: list[tuple[str, ...]] = []
    for variant in variants:
        for join in (True, False):
            tokens = _journal_tokens(variant, join)
            if tokens and tokens not in out:
                out.append(tokens)
    return tuple(out)


def _abbreviates(short: str, full: str) -> bool:
    """'epidemiol' abbreviates 'epidemiology', 'natl' 'national' (ISO 4 keeps letters in order)."""
    if short == full:
        return True
    if short[0] != full[0] or len(short) > len(full):
        return False
    it = iter(full)
    return all(ch in it for ch in short)


def _tokens_compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        return all(_abbreviates(x, y) or _abbreviates(y, x) for x, y in zip(a, b))
    # An acronym such as "bmj", "jama" or "jpen", or abbreviations run together
    # ("jthoraccardiovascsurg"), for the full name.
    for one, other in ((a, b), (b, a)):
        if len(one) == 1 and len(other) >= 2 and (
            one[0] == "".join(t[0] for t in other)
            # Longer than any word of the full name, so "cancer" is no run of "cancer research".
            or (len(one[0]) > max(map(len, other)) and _run_together(one[0], other))
        ):
            return True
    return False


@lru_cache(maxsize=65536)
def _run_together(text: str, tokens: tuple[str, ...]) -> bool:
    """Whether text splits into consecutive abbreviations of every token, in order."""
    if not tokens:
        return not text
    if not text:
        return False
    return any(
        _abbreviates(text[:cut], tokens[0]) and _run_together(text[cut:], tokens[1:])
        for cut in range(1, min(len(text), len(tokens[0])) + 1)
    )


@lru_cache(maxsize=262144)
def journals_compatible(a: str, b: str) -> bool:
    """Whether two journal names can name the same journal (full vs ISO/MEDLINE abbreviation)."""
    va, vb = journal_variants(a), journal_variants(b)
    return any(_tokens_compatible(x, y) for x in va for y in vb)


def journal_key(value: Any) -> str:
    """A canonical spelling of the journal name, used to look up compatibility."""
    variants = journal_variants(clean_value(value))
    return " ".join(variants[0]) if variants else ""


# --- pages, volume, issue, year ---------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_EXCEL_DATE = re.compile(r"^(\d{1,2})-([a-z]{3})[a-z]*$|^([a-z]{3})[a-z]*-(\d{1,2})$",
                         re.IGNORECASE)
_PAGE_TOKEN = re.compile(r"[a-z]*\d+[a-z]*|[a-z]+", re.IGNORECASE)
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def _roman_to_int(text: str) -> int:
    total, prev = 0, 0
    for ch in reversed(text.lower()):
        value = _ROMAN_VALUES[ch]
        total = total - value if value < prev else total + value
        prev = max(prev, value)
    return total


def _page_number(token: str) -> str:
    """Digits of a page token ('S109' -> '109', 'e0123' -> '123', 'xii' -> '12'); '' if none."""
    digits = re.sub(r"\D", "", token)
    if digits:
        return digits.lstrip("0") or "0"
    if len(token) <= 6 and re.fullmatch(r"[ivxlcdm]+", token, re.IGNORECASE):
        return str(_roman_to_int(token))
    return ""


@dataclass(frozen=True)
class PageKeys:
    """First page, last page (expanded: '1234-45' -> 1245) and first pages of every segment."""

    first: str
    last: str
    starts: frozenset[str]
    article_number: bool  # 'e12345', 'CD001234' or a long number, not a page range


_SIMPLE_RANGE = re.compile(r"^(\d+)(?:\s*[-\u2013]\s*(\d+))?$")


def norm_pages(value: Any, year: int | None = None) -> PageKeys:
    """Page keys; segments ('97-104; discussion 104-6', '230-5, 246-51') are read apart."""
    text = clean_value(value).strip("\"' ")
    simple = _SIMPLE_RANGE.match(text)
    if simple:  # fast path for the common "123-129" / "123"
        start, end = simple.group(1).lstrip("0") or "0", simple.group(2)
        if year is not None and start == str(year) and not end:
            return PageKeys("", "", frozenset(), False)
        end = (end.lstrip("0") or "0") if end else start
        if len(end) < len(start):
            end = start[: len(start) - len(end)] + end
        return PageKeys(start, end, frozenset({start}), len(start) >= 5 and end == start)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    empty = PageKeys("", "", frozenset(), False)
    if not text or re.fullmatch(r"[A-Za-z .]*", text):
        return empty
    excel = _EXCEL_DATE.match(text.strip())
    if excel:  # Excel turned "4-21" into "21-Apr": read it back as a range.
        day = int(excel.group(1) or excel.group(4))
        month = _MONTHS.get((excel.group(2) or excel.group(3)).lower()[:3])
        if month:
            lo, hi = sorted((day, month))
            return PageKeys(str(lo), str(hi), frozenset({str(lo)}), False)
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text)  # "A125 [015-02]": keep the page only
    text = re.sub(r"^\s*pp?\.?\s*(?=\d)", "", text, flags=re.IGNORECASE)
    segments = [s for s in re.split(r"[;,+]", text) if s.strip()]
    starts: list[str] = []
    first = last = ""
    article_number = False
    for index, segment in enumerate(segments):
        tokens = _PAGE_TOKEN.findall(segment)
        if not tokens or (index > 0 and not re.search(r"\d", tokens[0])):
            continue  # "discussion 104-6", "author reply 2243-5" are other items
        start = _page_number(tokens[0])
        if not start:
            if index == 0:
                return empty  # "Suppl-12", "t-8": a garbled first page cannot be compared
            continue
        if year is not None and start == str(year) and len(tokens) == 1:
            continue  # the year typed into the pages field
        end = _page_number(tokens[1]) if len(tokens) > 1 and "-" in segment else ""
        if end and end.isdigit() and start.isdigit() and len(end) < len(start):
            end = start[: len(start) - len(end)] + end  # "1234-45" -> 1245
        starts.append(start)
        if not first:
            first, last = start, end or start
            article_number = bool(re.match(r"^(?:e|cd|a|d|c)\d{3,}$", tokens[0], re.IGNORECASE)
                                  or (len(start) >= 5 and not end))
    if not first:
        return empty
    return PageKeys(first, last, frozenset(starts), article_number)


def norm_volume(value: Any) -> str:
    """The volume number: '35 (Pt 1)' -> '35', 'Volume 13 Suppl 1' -> '13', 'Suppl 18' -> ''."""
    text = clean_value(value)
    if text.isdigit():
        return text.lstrip("0") or "0"
    if volume_bleed(text):
        return _VOLUME_BLEED.match(text).group(2).lstrip("0") or "0"
    match = re.match(r"^\D{0,8}?(\d+)", text)
    if not match or re.match(r"^\s*(?:suppl|supplement|s)\b", text, re.IGNORECASE):
        return ""
    return match.group(1).lstrip("0") or "0"


# A volume field holding words then a number: the end of the journal name bled into it
# ("Nature Reviews" + volume "Drug Discovery. 9"). Volume labels are not journal words.
_VOLUME_BLEED = re.compile(r"^([^\W\d_][^\d]*?)[\s.,:;]+(\d+)\s*$")
_VOLUME_LABELS = re.compile(r"^(?:v|vol|vols|volume|volumes|tome|bd|band|jg|jahrgang|suppl|supplement|pt|part|"
                            r"no|nr|num|number|issue|s|series|ser)\.?$", re.IGNORECASE)


def volume_bleed(value: Any) -> str:
    """Journal words that bled into the volume field ('Drug Discovery. 9' -> 'Drug Discovery'), or ''."""
    match = _VOLUME_BLEED.match(clean_value(value))
    if not match or _VOLUME_LABELS.match(match.group(1).strip()):
        return ""
    return match.group(1).strip(" .,:;")


def journal_with_bleed(journal: str, volume: Any) -> str:
    """The journal name with the words a volume field took from it put back."""
    bled = volume_bleed(volume)
    if not bled or _journal_tokens(journal)[-len(_journal_tokens(bled)):] == _journal_tokens(bled):
        return journal
    return f"{journal.rstrip(' .,:;')} {bled}".strip()


def norm_issue(value: Any) -> str:
    """The issue number, or '' when it is not a number."""
    match = re.match(r"^\D{0,6}?(\d+)", clean_value(value))
    return (match.group(1).lstrip("0") or "0") if match else ""


def norm_year(value: Any) -> int | None:
    """The first plausible four-digit year in the value."""
    text = clean_value(value)
    if len(text) == 4 and text.isdigit():
        return int(text) if 1500 <= int(text) <= 2099 else None
    match = re.search(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)", text)
    return int(match.group(1)) if match else None


def norm_abstract(value: Any) -> str:
    """Words of the abstract, capped: enough to compare, cheap to score."""
    text = clean_value(value)
    return _alnum_words(html.unescape(_TAGS.sub(" ", text)))[:1000] if text else ""


def is_cochrane(journal: str, doi: str, pages: str) -> bool:
    """Whether the record is a Cochrane review (whose versions share a title and CD number)."""
    return ("cochrane" in journal.lower() or doi.startswith("10.1002/14651858")
            or bool(re.match(r"^\s*CD\d{6}", pages)))


# --- one record ---------------------------------------------------------------------


@dataclass(frozen=True)
class MatchKeys:
    """Normalised matching keys of one record; the original values are left untouched."""

    doi: str
    pmid: str
    title: str
    title_parts: tuple[str, ...]
    markers: frozenset[str]
    authors: tuple[PersonKey, ...]
    collectives: tuple[str, ...]
    journal: str
    year: int | None
    volume: str
    issue: str
    pages: PageKeys
    abstract: str
    cochrane: bool
    cites: tuple[str, str, int | None] | None = None  # (volume, first page, year) a correction names


def match_keys(raw: dict[str, Any]) -> MatchKeys:
    """Keys from one raw row (the columns of `RAW_COLUMNS`)."""
    year = norm_year(raw.get("year"))
    journal = journal_with_bleed(clean_value(raw.get("journal")) or clean_value(raw.get("journal_iso")),
                                 raw.get("volume"))
    doi = norm_doi(raw.get("doi"))
    pages_raw = clean_value(raw.get("pages"))
    authors = author_keys(raw.get("author"))
    pub_types = raw.get("publication_types") or ()
    return MatchKeys(
        doi=doi,
        pmid=norm_pmid(raw.get("pmid")),
        title=norm_title(raw.get("title"), journal),
        title_parts=title_parts(raw.get("title"), journal),
        markers=title_markers(raw.get("title"), journal, raw.get("kind"), pub_types),
        authors=authors.persons,
        collectives=authors.collectives,
        journal=journal_key(journal),
        year=year,
        volume=norm_volume(raw.get("volume")),
        issue=norm_issue(raw.get("issue")),
        pages=norm_pages(pages_raw, year),
        abstract=norm_abstract(raw.get("abstract")),
        cochrane=is_cochrane(journal, doi, pages_raw),
        cites=(lambda c: c[1:] if c else None)(cited_citation(raw.get("title"))),
    )


def record_to_raw(record: Record) -> dict[str, Any]:
    """The raw matching columns of a `Record`."""
    return {
        "doi": record.doi, "pmid": record.pmid, "title": record.title, "author": record.authors,
        "journal": record.journal, "journal_iso": record.journal_iso,
        "year": record.year, "volume": record.volume, "issue": record.issue,
        "pages": record.pages, "abstract": record.abstract_text, "kind": record.kind,
        "publication_types": record.publication_types,
    }


def normalise_record(record: Record) -> MatchKeys:
    """Normalised matching keys of one record (pure)."""
    return match_keys(record_to_raw(record))


# --- tables -------------------------------------------------------------------------

RAW_COLUMNS = ("doi", "pmid", "title", "author", "journal", "journal_iso", "year", "volume",
               "issue", "pages", "abstract", "kind", "publication_types")
# Column names of common exports, lower-cased, mapped to the raw columns.
COLUMN_ALIASES = {
    "doi": "doi", "pmid": "pmid", "pubmed_id": "pmid", "pubmedid": "pmid",
    "title": "title", "primary_title": "title", "author": "author", "authors": "author",
    "journal": "journal", "container_title": "journal", "journal_title": "journal",
    "secondary_title": "journal", "booktitle": "journal", "journal_iso": "journal_iso",
    "year": "year", "volume": "volume", "number": "issue", "issue": "issue",
    "pages": "pages", "abstract": "abstract", "entrytype": "kind", "kind": "kind",
    "publication_types": "publication_types",
}


def raw_table(df: pd.DataFrame) -> pd.DataFrame:
    """The raw matching columns of a records table whose columns follow common export names."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"find_duplicates needs a pandas DataFrame, got {type(df).__name__}")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    taken: set[str] = set()
    for column in df.columns:
        target = COLUMN_ALIASES.get(str(column).strip().lower())
        if target and target not in taken:
            taken.add(target)
            out[target] = df[column].to_numpy(dtype=object)
    for column in RAW_COLUMNS:
        if column not in out:
            out[column] = None
    return out


def _check_cell_types(raw: pd.DataFrame, ids: Sequence[Any]) -> None:
    problems = []
    for column in ("doi", "pmid", "title", "journal", "year", "volume", "issue", "pages"):
        for pos, value in enumerate(raw[column].to_numpy()):
            if not (value is None or value is pd.NA or isinstance(value, (str, numbers.Real))):
                problems.append(f"row {pos} (ID {ids[pos]!r}), column {column!r}: "
                                f"expected text or a number, got {type(value).__name__}")
                if len(problems) >= 10:
                    break
    if problems:
        raise InputError("records table has values that cannot be read as bibliographic fields",
                         problems)


def normalise_table(raw: pd.DataFrame, ids: Sequence[Any] | None = None) -> pd.DataFrame:
    """One row of matching keys per raw row (same order); the engine works on this frame only."""
    ids = list(ids) if ids is not None else list(range(len(raw)))
    _check_cell_types(raw, ids)
    columns = list(raw.columns)
    rows = [match_keys(dict(zip(columns, values)))
            for values in zip(*(raw[c].to_numpy(dtype=object) for c in columns))]
    keys = pd.DataFrame({
        "doi": [k.doi for k in rows],
        "pmid": [k.pmid for k in rows],
        "title": [k.title for k in rows],
        "title_parts": [k.title_parts for k in rows],
        "markers": [k.markers for k in rows],
        "authors": [k.authors for k in rows],
        "collectives": [k.collectives for k in rows],
        "journal": [k.journal for k in rows],
        "year": pd.array([k.year for k in rows], dtype="Int64"),
        "volume": [k.volume for k in rows],
        "issue": [k.issue for k in rows],
        "first_page": [k.pages.first for k in rows],
        "last_page": [k.pages.last for k in rows],
        "page_starts": [k.pages.starts for k in rows],
        "article_number": [k.pages.article_number for k in rows],
        "abstract": [k.abstract for k in rows],
        "cochrane": [k.cochrane for k in rows],
        "cites": [k.cites for k in rows],
    })
    # Raw journal names are kept for the abbreviation check; an ISO abbreviation given
    # beside the name goes in brackets, which `journal_variants` reads as another name.
    keys["journal_raw"] = [
        f"{j} ({iso})" if j and iso and iso != j else j or iso
        for j, iso in zip((journal_with_bleed(clean_value(j), v)
                           for j, v in zip(raw["journal"].to_numpy(), raw["volume"].to_numpy())),
                          map(clean_value, raw["journal_iso"].to_numpy()))
    ]
    return keys


def records_table(records: Sequence[Record]) -> pd.DataFrame:
    """The raw table of a sequence of records, one row each, in order."""
    return pd.DataFrame([record_to_raw(r) for r in records], columns=list(RAW_COLUMNS))


def clear_caches() -> None:
    """Forget memoised parses (benchmarks time a cold run)."""
    for cached in (journal_variants, journals_compatible, _run_together, _parse_folded,
                   _author_keys_from_text):
        cached.cache_clear()
