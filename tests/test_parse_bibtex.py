"""BibTeX importer on a hand-made file (tests/data/bibtex/README.md)."""
from __future__ import annotations

import re
from pathlib import Path

from review.models import Author
from review.parse import parse_file

DATA = Path(__file__).parent / "data" / "bibtex"


def test_count_matches_entries() -> None:
    path = DATA / "handmade.bib"
    # @string is not an entry; count the other @type{ lines.
    expected = len(re.findall(r"(?m)^@(?!string)\w+\{", path.read_text(), flags=re.IGNORECASE))
    result = parse_file(path, source="bib")
    assert result.fmt == "bibtex"
    assert len(result.records) == expected == 3


def test_article_fields_and_latex() -> None:
    r = parse_file(DATA / "handmade.bib", source="bib").records[0]
    assert r.source_id == "mueller2020kratom"
    assert r.title == "Kratom use and COVID-19: a café survey in München"
    assert r.journal == "Journal of Addiction Tests"  # from @string
    assert r.authors == (
        Author(family="Müller", given="Jürgen", initials="J"),
        Author(family="García", given="María", initials="M"),
        Author(collective="Kratom Research Consortium"),
    )
    assert (r.year, r.volume, r.issue, r.pages) == (2020, "12", "3", "101-109")
    assert (r.doi, r.pmid) == ("10.1000/bib.1", "31234568")
    assert r.keywords == ("kratom", "opioid withdrawal", "mitragynine")
    assert r.abstract_text == "Background: a hand-made abstract with 50% of the text."
    assert (r.kind, r.publication_types) == ("journal-article", ("Journal Article",))


def test_other_entry_types() -> None:
    _, conf, book = parse_file(DATA / "handmade.bib", source="bib").records
    assert (conf.kind, conf.publication_types) == ("conference", ("Conference Paper",))
    assert conf.journal == "Proceedings of the Test Meeting"
    assert (conf.year, conf.pub_date) == (2021, "2021-05-04")  # BibLaTeX date
    # 'Last, Jr, First' and a trailing 'and others'
    assert [a.display for a in conf.authors] == ["Smith J", "van Beethoven L"]
    assert (book.kind, book.first_author, book.journal) == ("book", "World Health Organization",
                                                            None)


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "dup.bib"
    path.write_text("@article{a, title={One}}\n\n@article{a, title={Two}}\n")
    result = parse_file(path, source="bib", skip_bad=True)
    assert [r.title for r in result.records] == ["One"]
    assert result.skipped == (f"{path}: record 2 (line 3): duplicate key 'a' (first used by the "
                              "entry on line 1)",)
