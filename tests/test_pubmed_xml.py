"""The streaming PubMed parser must give exactly what Bio.Entrez.read gives, on every fixture."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from Bio import Entrez

from review.errors import InputError
from review.parse.pubmed_xml import date_of, iter_pubmed_xml, pages_of, records_from_entrez, year_of

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
FIXTURES = sorted((DATA / "entrez").glob("pubmed*.xml")) + [DATA / "pubmed" / "edge_cases.xml"]


def _entrez(path: Path):
    with open(path, "rb") as fh:
        return records_from_entrez(Entrez.read(fh))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_streaming_parser_equals_bio_entrez(path):
    streamed = list(iter_pubmed_xml(path))
    assert streamed, "fixture has records"
    # Same records; Entrez groups by kind, so compare as sorted by PMID.
    key = lambda r: (r.pmid, r.deleted)
    assert sorted(streamed, key=key) == sorted(_entrez(path), key=key)


def test_sample_archive_equals_bio_entrez():
    for gz in (ROOT / "sample" / "searches").glob("*/*-efetch.xml.gz"):
        body = gzip.decompress(gz.read_bytes())
        import io
        assert list(iter_pubmed_xml(body)) == records_from_entrez(Entrez.read(io.BytesIO(body)))


def test_real_fixture_fields():
    recs = {r.pmid: r for r in iter_pubmed_xml(DATA / "entrez" / "pubmed1.xml")}
    r = recs["9997"]
    assert r.title.startswith("Magnetic studies of Chromatium flavocytochrome C552")
    assert r.doi == "10.1016/0005-2795(76)90109-4"
    assert r.year == 1976 and r.volume == "446" and r.issue == "1" and r.pages == "179-91"
    assert r.journal == "Biochimica et biophysica acta" and r.journal_iso == "Biochim Biophys Acta"
    assert r.authors[0].family == "Strekas" and r.authors[0].initials == "TC"
    assert r.pub_date == "1976-09-28" and r.entry_date == "1976-09-28"
    assert any(m.descriptor == "Cytochrome c Group" and m.major for m in r.mesh)
    chromatium = next(m for m in r.mesh if m.descriptor == "Chromatium")
    assert chromatium.qualifiers == (("enzymology", True),) and not chromatium.major
    season = recs["12091962"]
    assert season.pub_date == "1990 Spring" and season.year == 1990
    assert "Review" in season.publication_types and not season.abstract


def test_edge_cases():
    recs = {r.pmid: r for r in iter_pubmed_xml(DATA / "pubmed" / "edge_cases.xml")}
    survey = recs["90000001"]
    assert [s.label for s in survey.abstract] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "(<i>n</i> = 2,798)" in survey.abstract_text  # inline markup kept as Bio.Entrez keeps it
    assert survey.title.endswith("2,798 adults & their outcomes.")
    assert survey.doi == "10.1016/j.drugalcdep.2021.108519"  # not the reference list's DOI
    assert survey.pmcid == "PMC7900000"
    assert survey.authors[2].collective == "Kratom Research Consortium"
    assert survey.entry_date == "2021-01-24"
    old = recs["90000002"]
    assert old.year == 1998 and old.pub_date == "1998 Dec-1999 Jan"
    assert old.language == ("chi", "eng") and old.vernacular_title == "Mitragynine zhen tong zuo yong."
    assert old.title == "[Analgesic effect of mitragynine in mice]."
    case = recs["90000003"]
    assert case.doi == "10.7759/cureus.0000"  # from ELocationID
    assert [a.family for a in case.authors] == ["Right"]  # ValidYN="N" dropped
    book = recs["90000004"]
    assert book.kind == "book-article" and book.title == "Kratom Toxicity" and book.journal == "StatPearls"
    assert [a.family for a in book.authors] == ["Doe"] and book.year == 2025
    assert recs["90000005"].deleted and recs["90000006"].deleted


def test_truncated_body_is_an_input_error():
    body = (DATA / "entrez" / "pubmed2.xml").read_bytes()
    with pytest.raises(InputError, match=r"malformed PubMed XML at line \d+"):
        list(iter_pubmed_xml(body[: len(body) // 2], label="efetch 1"))


def test_not_pubmed_xml():
    with pytest.raises(InputError, match="not a PubMed XML"):
        list(iter_pubmed_xml((DATA / "entrez" / "esearch1.xml").read_bytes()))


@pytest.mark.parametrize("parts,year,date", [
    ({"Year": "2021", "Month": "Mar", "Day": "1"}, 2021, "2021-03-01"),
    ({"Year": "2020", "Month": "12"}, 2020, "2020-12"),
    ({"MedlineDate": "2000 Spring-Summer"}, 2000, "2000 Spring-Summer"),
    ({"MedlineDate": "Winter 1999-2000"}, 1999, "Winter 1999-2000"),
    ({}, None, None),
])
def test_dates(parts, year, date):
    assert year_of(parts) == year
    assert date_of(parts) == date


def test_pages():
    assert pages_of("1234-45", "1234", "1245") == "1234-45"
    assert pages_of(None, "e1", None) == "e1"
    assert pages_of(None, "10", "12") == "10-12"
    assert pages_of(None, None, None) is None
