"""Noise that real exports show, applied to one side of true duplicate pairs (benchmarks/dedupe.py).

Each noise kind is a pure function (row, rng) -> row over the benchmark columns (ID, title, author,
year, journal, volume, number, pages, doi, abstract); a kind that finds nothing to change in a row
returns it unchanged. Seeded, so every run perturbs the same records the same way.
"""
from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

Row = dict
Noise = Callable[[Row, random.Random], Row]

_ACCENT = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}
_TRANSLIT = {"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "Ü": "Ue", "Ö": "Oe", "Ä": "Ae"}


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def case(row: Row, rng: random.Random) -> Row:
    title = _text(row.get("title"))
    return {**row, "title": title.upper() if rng.random() < 0.5 else title.lower(),
            "author": _text(row.get("author")).upper()}


def punctuation(row: Row, rng: random.Random) -> Row:
    title = re.sub(r"[^\w\s]", "", _text(row.get("title"))) if rng.random() < 0.5 \
        else re.sub(r"\s+", "  ", _text(row.get("title"))) + "."
    return {**row, "title": title, "journal": re.sub(r"[^\w\s]", " ", _text(row.get("journal")))}


def diacritics(row: Row, rng: random.Random) -> Row:
    title = _text(row.get("title"))
    if any(ord(ch) > 127 for ch in title):  # transliterate one way or strip the accents
        if rng.random() < 0.5:
            title = "".join(_TRANSLIT.get(ch, ch) for ch in title)
        else:
            title = "".join(ch for ch in unicodedata.normalize("NFKD", title) if not unicodedata.combining(ch))
    else:  # an export that adds accents (or a non-English spelling of a name)
        chars = list(title)
        spots = [i for i, ch in enumerate(chars) if ch in _ACCENT]
        for i in rng.sample(spots, min(3, len(spots))):
            chars[i] = _ACCENT[chars[i]]
        title = "".join(chars)
    author = "".join(_TRANSLIT.get(ch, ch) for ch in _text(row.get("author")))
    return {**row, "title": title, "author": author}


def truncated_title(row: Row, rng: random.Random) -> Row:
    words = _text(row.get("title")).split()
    if len(words) < 8:
        return row
    keep = max(6, int(len(words) * rng.uniform(0.6, 0.8)))
    return {**row, "title": " ".join(words[:keep]) + (" ..." if rng.random() < 0.5 else "")}


def missing_doi(row: Row, rng: random.Random) -> Row:
    return {**row, "doi": ""}


def missing_pages(row: Row, rng: random.Random) -> Row:
    return {**row, "pages": ""}


def missing_abstract(row: Row, rng: random.Random) -> Row:
    return {**row, "abstract": ""}


def missing_volume_issue(row: Row, rng: random.Random) -> Row:
    return {**row, "volume": "", "number": ""}


def _split_authors(text: str) -> list[str]:
    return [a.strip() for a in re.split(r"\s+and\s+|;", text) if a.strip()]


def initials(row: Row, rng: random.Random) -> Row:
    """'Smith, John A.' / 'Smith, J. A.' -> 'Smith JA' (MEDLINE style), or back to 'Smith, J. A.'."""
    out = []
    for name in _split_authors(_text(row.get("author"))):
        if "," in name:
            family, given = (p.strip() for p in name.split(",", 1))
            letters = "".join(w[0] for w in re.split(r"[\s.\-]+", given) if w)
            out.append(f"{family} {letters.upper()}" if rng.random() < 0.5
                       else f"{family}, {' '.join(ch + '.' for ch in letters.upper())}")
        else:
            out.append(name)
    return {**row, "author": " and ".join(out)}


def particle(row: Row, rng: random.Random) -> Row:
    """One database keeps a family-name particle the other drops: 'Le Quintrec' <-> 'Quintrec'."""
    names = _split_authors(_text(row.get("author")))
    if not names:
        return row
    first = names[0]
    match = re.match(r"^(?:le|la|de|del|van der|van|von|di|da|du)\s+(.*)$", first, re.IGNORECASE)
    names[0] = match.group(1) if match else rng.choice(["Le ", "van ", "de "]) + first
    return {**row, "author": " and ".join(names)}


def field_bleed(row: Row, rng: random.Random) -> Row:
    """The journal split across fields, trailing punctuation, page ranges written differently."""
    journal, volume, pages = _text(row.get("journal")), _text(row.get("volume")), _text(row.get("pages"))
    words = journal.split()
    choice = rng.random()
    if choice < 0.4 and len(words) >= 3 and volume:
        journal, volume = " ".join(words[:2]), " ".join(words[2:]) + ". " + volume
    elif choice < 0.7:
        journal = journal + rng.choice([".", ",", " ."])
    match = re.match(r"^(\d+)\s*-\s*(\d+)$", pages)
    if match and match.group(2).startswith(match.group(1)[: len(match.group(1)) - 1]) and len(match.group(1)) > 1:
        pages = f"{match.group(1)}-{match.group(2)[-1]}"  # 943-945 -> 943-5
    elif re.fullmatch(r"\d+", pages):
        pages = f"{pages}-{pages}"
    return {**row, "journal": journal, "volume": volume, "pages": pages}


NOISE: dict[str, Noise] = {
    "case": case, "punctuation": punctuation, "diacritics/transliteration": diacritics,
    "truncated title": truncated_title, "missing DOI": missing_doi, "missing pages": missing_pages,
    "missing abstract": missing_abstract, "missing volume/issue": missing_volume_issue,
    "initials vs full names": initials, "family-name particle": particle, "field bleed": field_bleed,
}

GENERIC = ("Editorial", "Editor's Comments", "Remarks from the editor", "Introduction", "Reply", "Book reviews",
           "Erratum", "From the Editor", "Letter to the editor", "News")


def generic_title_records(rows: list[Row], rng: random.Random, per_title: int = 4) -> list[Row]:
    """Distinct notices sharing a generic title: same first author, journal, year and volume, issues 1..4,
    no pages, no DOI (each group of `per_title` records is NOT one publication)."""
    out = []
    for k, title in enumerate(GENERIC):
        base = rng.choice(rows)
        for issue in range(1, per_title + 1):
            out.append({"ID": f"generic-{k}-{issue}", "title": title, "author": _text(base.get("author")),
                        "year": base.get("year"), "journal": _text(base.get("journal")),
                        "volume": _text(base.get("volume")) or "12", "number": str(issue), "pages": "", "doi": ""})
    return out


def notice_of(row: Row, rng: random.Random, k: int) -> Row:
    """A correction, retraction or comment naming the article `row`."""
    title, year = _text(row.get("title")), row.get("year")
    first_page = re.match(r"\d+", _text(row.get("pages")))
    kinds = [f"Erratum: {title}", f'Correction to "{title}"', f"Retraction notice: {title}", f"Comment on: {title}"]
    if first_page and _text(row.get("volume")) and year == year and year:
        kinds.append(f"{title} (vol {row['volume']}, pg {first_page.group(0)}, {int(float(year))})")
    later = int(float(year)) + 1 if year == year and year else ""
    return {"ID": f"notice-{k}", "title": rng.choice(kinds), "author": _text(row.get("author")), "year": later,
            "journal": _text(row.get("journal")), "volume": "", "number": "", "pages": "", "doi": ""}
