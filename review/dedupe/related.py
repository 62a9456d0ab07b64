"""Related reports: a correction, retraction or comment is its own record (PRISMA counts reports),
never a duplicate, but it is linked to the article it names so that the audit, the PRISMA notes
and the article's screening sheet show it and it never counts as a separate study.

Each link names the rule that found it (RELATED_RULES). A notice whose article cannot be told
apart (two different articles fit) is left unlinked rather than linked to a guess.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from review.dedupe.normalise import journals_compatible
from review.dedupe.rules import is_generic_title

# Marker of the notice -> kind of link, strongest first (a retraction notice may also say "comment").
NOTICE_KINDS: dict[str, str] = {"retraction": "retraction", "erratum": "correction", "comment": "comment"}

RELATED_RULES: dict[str, str] = {
    "cited_citation": "the notice's title carries the article's citation ('(vol 360, pg 542, 2009)'): the "
                      "article with that volume and first page, year within one, journal not differing",
    "notice_title": "the notice's title without its label ('Erratum:', 'Retraction notice to', 'Comment on') "
                    "is the article's title, not a generic one; for corrections and retractions the journal "
                    "does not differ and the notice is not older than the article",
}


@dataclass(frozen=True)
class RelatedLink:
    """Row positions: the notice and the article it names."""

    notice: int
    article: int
    kind: str
    rule: str


def _kind(markers: frozenset[str]) -> str | None:
    return next((kind for marker, kind in NOTICE_KINDS.items() if marker in markers), None)


def _journal_ok(a: str, b: str) -> bool:
    return not a or not b or journals_compatible(a, b)


def link_notices(keys: pd.DataFrame, labels: np.ndarray) -> list[RelatedLink]:
    """Links from each notice to the one article (cluster) it names; `labels` are the duplicate clusters."""
    markers = keys["markers"].tolist()
    kinds = [_kind(m) for m in markers]
    if not any(kinds):
        return []
    titles = keys["title"].tolist()
    journals = keys["journal_raw"].tolist()
    years = [None if pd.isna(y) else int(y) for y in keys["year"]]
    by_title: dict[str, list[int]] = defaultdict(list)
    by_citation: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, (kind, title, volume, page) in enumerate(zip(kinds, titles, keys["volume"], keys["first_page"])):
        if kind is None:  # only articles are named
            if title:
                by_title[title].append(row)
            if volume and page:
                by_citation[(volume, page)].append(row)
    links = []
    for row, kind in enumerate(kinds):
        if kind is None:
            continue
        cites = keys["cites"].iat[row]
        if cites:
            volume, page, year = cites
            rule = "cited_citation"
            found = [a for a in by_citation.get((volume, page), ())
                     if (year is None or years[a] is None or abs(years[a] - year) <= 1)
                     and _journal_ok(journals[row], journals[a])]
        elif titles[row] and not is_generic_title(titles[row]):
            rule = "notice_title"
            strict = kind != "comment"  # a comment may be printed in another journal
            found = [a for a in by_title.get(titles[row], ())
                     if not strict or (_journal_ok(journals[row], journals[a])
                                       and (years[row] is None or years[a] is None or years[row] >= years[a]))]
        else:
            continue
        clusters = {int(labels[a]) for a in found}
        if len(clusters) == 1 and int(labels[row]) not in clusters:
            links.append(RelatedLink(row, min(found), kind, rule))
    return links
