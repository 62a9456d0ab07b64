"""Shared field parsers: author names in vendor styles, DOIs, years and dates (table-driven)."""
from __future__ import annotations

import pytest

from review.models import Author, MeshHeading
from review.parse.fields import (
    RecordError,
    check_year,
    clean_doi,
    iso_date,
    parse_author,
    parse_mesh,
    split_author_list,
    split_lines,
)

AUTHORS = [
    # id, raw, expected; note
    ("embase", "Liu R.", Author(family="Liu", initials="R")),
    ("embase-two-initials", "Adler D.G.", Author(family="Adler", initials="DG")),
    ("embase-particle", "Sanchez del Pulgar J.", Author(family="Sanchez del Pulgar", initials="J")),
    ("comma-full", "Smith, John", Author(family="Smith", given="John", initials="J")),
    ("comma-initials", "Smith, J.A.", Author(family="Smith", initials="JA")),
    ("comma-spaced-initials", "Slesser, A. A. P.", Author(family="Slesser", initials="AAP")),
    ("wos", "Alceste, F", Author(family="Alceste", initials="F")),
    ("wos-bare-initials", "Luke, TJ", Author(family="Luke", initials="TJ")),
    ("zotero-middle", "Basinska, Malgorzata A.",
     Author(family="Basinska", given="Malgorzata A.", initials="MA")),
    ("medline-au", "Casbon JA", Author(family="Casbon", initials="JA")),
    ("given-first", "John Smith", Author(family="Smith", given="John", initials="J")),
    ("initials-first", "J. A. Smith", Author(family="Smith", initials="JA")),
    ("hyphenated-given", "Dupont, Jean-Pierre",
     Author(family="Dupont", given="Jean-Pierre", initials="JP")),
    ("suffix", "Smith, John, Jr.", Author(family="Smith", given="John", initials="J")),
    ("collective", "WHO Collaborative Group", Author(collective="WHO Collaborative Group")),
    ("family-only", "Plato", Author(family="Plato")),
]


@pytest.mark.parametrize("raw,expected", [a[1:] for a in AUTHORS], ids=[a[0] for a in AUTHORS])
def test_parse_author(raw: str, expected: Author) -> None:
    assert parse_author(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "et al.", "et al", "others", "Anonymous"])
def test_non_names_are_dropped(raw: str) -> None:
    assert parse_author(raw) is None


@pytest.mark.parametrize("text,names", [
    ("Smith, J; Doe, K", ["Smith, J", "Doe, K"]),
    ("Zuna, R E and Wang, S S", ["Zuna, R E", "Wang, S S"]),  # BibTeX style (bib-dedupe CSV)
    ("Casbon JA, Crooks GE, Saqi MA.", ["Casbon JA", "Crooks GE", "Saqi MA."]),  # PubMed CSV
    ("Smith, John", ["Smith, John"]),  # one author, not two
    ("", []),
])
def test_split_author_list(text: str, names: list[str]) -> None:
    assert split_author_list(text) == names


@pytest.mark.parametrize("raw,doi", [
    ("10.1002/cncr.20369", "10.1002/cncr.20369"),
    ("https://doi.org/10.1023/A:1024814009769", "10.1023/A:1024814009769"),
    ("http://dx.doi.org/10.4103/2303-9027.138783", "10.4103/2303-9027.138783"),
    ("doi: 10.1000/xyz.", "10.1000/xyz"),
    ("10.1186/1471-2105-7-10 [doi]", "10.1186/1471-2105-7-10"),
    ("10.1002%2Fcncr.20369", "10.1002/cncr.20369"),
    ("10.1000/ABC", "10.1000/ABC"),  # case kept
    ("not a doi", None),
    ("", None),
])
def test_clean_doi(raw: str, doi: str | None) -> None:
    assert clean_doi(raw) == doi


@pytest.mark.parametrize("value,year", [
    ("2019", 2019), ("2019///", 2019), ("2006 Mar 1", 2006), ("2006.0", 2006), ("in press", None),
    ("", None), ("n.d.", None),
])
def test_check_year_accepts(value: str, year: int | None) -> None:
    assert check_year(value) == year


@pytest.mark.parametrize("value", ["20l9", "abc", "19"])
def test_check_year_rejects(value: str) -> None:
    with pytest.raises(RecordError, match="is not a year"):
        check_year(value)


@pytest.mark.parametrize("value,year,iso", [
    ("2019/07/02/", None, "2019-07-02"),  # Zotero DA
    ("2019/10//undefined", None, "2019-10"),
    ("2019///", None, "2019"),
    ("2002 Sep", None, "2002-09"),  # MEDLINE DP
    ("2006 Mar 1", None, "2006-03-01"),
    ("2002 Sep-Oct", None, "2002 Sep-Oct"),  # ranges kept as written, as the XML reader does
    ("SEP", 2018, "2018-09"),  # WoS DA with PY
    ("APR 21", 2014, "2014-04-21"),
    ("", 2020, "2020"),
])
def test_iso_date(value: str, year: int | None, iso: str) -> None:
    assert iso_date(value, year) == iso


def test_parse_mesh() -> None:
    assert parse_mesh("Information Storage and Retrieval/*methods/standards") == MeshHeading(
        "Information Storage and Retrieval", False, None, (("methods", True), ("standards", False)))
    assert parse_mesh("*Software") == MeshHeading("Software", True)


def test_split_lines_counts_cr_lf_crlf_but_not_unicode_separators() -> None:
    assert split_lines("a\rb\nc\r\nd\u2028e\x0cf\n") == ["a", "b", "c", "d\u2028e\x0cf"]
