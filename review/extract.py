"""Key study details read from an abstract with plain patterns (pure; each result says where it came from).

What a reviewer wants in a characteristics table before full-text extraction: sample size,
country, and for trials the design features, dose and comparator. These are hints taken from
the abstract, shown with the phrase they came from, never a substitute for data extraction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)"
_WORDNUM = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
}
_UNITS = (r"(?:participants|subjects|respondents|patients|adults|individuals|people|persons|users|volunteers|"
          r"men|women|veterans|cases|children|adolescents|students|kratom users|consumers|callers|decedents|"
          r"deaths|exposures|posts|comments|threads|interviews|completers)")
_SIZE_PATTERNS = [
    re.compile(rf"\b[nN]\s*=\s*{_NUM}\b"),
    re.compile(rf"\b{_NUM}\s+(?:\w+[- ]){{0,3}}?{_UNITS}\b", re.I),
    re.compile(rf"\b(?:total|sample) of\s+{_NUM}\b", re.I),
    re.compile(rf"\b({'|'.join(_WORDNUM)})\s+(?:\w+[- ]){{0,2}}?{_UNITS}\b", re.I),
]
# Numbers that look like sizes but are not (years, doses, ages, percentages, durations).
_NOT_SIZE_AFTER = re.compile(r"^\s*(?:%|mg|g\b|ml|mcg|µg|years?|yrs?|months?|weeks?|days?|hours?|h\b|min)", re.I)

COUNTRIES = (
    "United States", "USA", "U.S.", "Malaysia", "Thailand", "Indonesia", "United Kingdom", "UK", "Canada",
    "Australia", "Germany", "France", "Netherlands", "Sweden", "Denmark", "Norway", "Finland", "Italy", "Spain",
    "Portugal", "Poland", "Czech Republic", "Switzerland", "Austria", "Belgium", "Ireland", "Japan", "China",
    "India", "Pakistan", "Iran", "Israel", "Turkey", "Brazil", "Mexico", "Singapore", "Vietnam", "Philippines",
    "Myanmar", "South Africa", "New Zealand", "Korea",
)
_COUNTRY = re.compile(r"\b(" + "|".join(re.escape(c) for c in sorted(COUNTRIES, key=len, reverse=True)) + r")(?=\W|$)")
_ALIASES = {"USA": "United States", "U.S.": "United States", "UK": "United Kingdom"}
_US_STATES = re.compile(r"\b(Florida|Texas|California|New York|Ohio|Pennsylvania|Oregon|Utah|Colorado|Kentucky|"
                        r"Tennessee|Virginia|Michigan|Washington|Arizona|Georgia|Illinois|Maryland|Massachusetts)\b")

_FEATURES = [
    ("randomized", re.compile(r"\brandomi[sz]ed\b", re.I)),
    ("double-blind", re.compile(r"\bdouble[- ]blind(?:ed)?\b", re.I)),
    ("single-blind", re.compile(r"\bsingle[- ]blind(?:ed)?\b", re.I)),
    ("placebo-controlled", re.compile(r"\bplacebo[- ]controlled\b|\bversus placebo\b|\bvs\.? placebo\b", re.I)),
    ("crossover", re.compile(r"\bcross[- ]?over\b", re.I)),
    ("open-label", re.compile(r"\bopen[- ]label\b", re.I)),
    ("single-arm", re.compile(r"\bsingle[- ]arm\b", re.I)),
    ("dose-escalation", re.compile(r"\bdose[- ](?:escalation|ranging|finding)\b|\bascending doses?\b", re.I)),
    ("phase 1", re.compile(r"\bphase (?:1|I)\b(?![\w/])", re.I)),
    ("phase 2", re.compile(r"\bphase (?:2|II)\b(?![\w/])", re.I)),
]
_DOSE = re.compile(r"\b\d+(?:\.\d+)?\s*(?:-|to|–)?\s*\d*(?:\.\d+)?\s*(?:mg|g|mcg|µg)(?:/kg)?\b", re.I)
_COMPARATORS = re.compile(r"\b(placebo|morphine|buprenorphine|methadone|oxycodone|naltrexone|naloxone|clonidine|"
                          r"lofexidine|tramadol|codeine|caffeine)\b", re.I)


@dataclass(frozen=True)
class Found:
    value: str
    evidence: str  # the phrase it was read from


def _to_int(text: str) -> int:
    text = text.lower()
    return _WORDNUM[text] if text in _WORDNUM else int(text.replace(",", ""))


def sample_size(text: str | None) -> Found | None:
    """The largest plausible participant count stated in the text ('n = 2,798', '29 participants')."""
    if not text:
        return None
    best: tuple[int, str] | None = None
    for pat in _SIZE_PATTERNS:
        for m in pat.finditer(text):
            if _NOT_SIZE_AFTER.match(text[m.end(1):m.end(1) + 8]) and pat is not _SIZE_PATTERNS[0]:
                continue
            n = _to_int(m.group(1))
            if 1900 <= n <= 2100 and "," not in m.group(1) and pat is not _SIZE_PATTERNS[0]:
                continue  # a year
            if best is None or n > best[0]:
                best = (n, m.group(0))
    return Found(str(best[0]), best[1]) if best else None


def country(text: str | None) -> Found | None:
    """The first country named in the text (US states count as the United States)."""
    if not text:
        return None
    m = _COUNTRY.search(text)
    if m:
        return Found(_ALIASES.get(m.group(1), m.group(1)), m.group(0))
    m = _US_STATES.search(text)
    return Found("United States", m.group(0)) if m else None


def trial_features(text: str | None) -> list[str]:
    """Design features named in the text, e.g. ['randomized', 'double-blind', 'placebo-controlled']."""
    if not text:
        return []
    return [name for name, pat in _FEATURES if pat.search(text)]


def doses(text: str | None) -> list[str]:
    return list(dict.fromkeys(m.group(0).strip() for m in _DOSE.finditer(text or "")))[:5]


def comparators(text: str | None) -> list[str]:
    return list(dict.fromkeys(m.group(1).lower() for m in _COMPARATORS.finditer(text or "")))
