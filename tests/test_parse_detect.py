"""Format detection, decoding, the ParseResult contract, and the PubMed XML hand-off."""
from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

import pytest

from review.errors import InputError
from review.parse import FORMATS, ParseResult, detect_format, parse_bytes, parse_file

DATA = Path(__file__).parent / "data"
ENTREZ = DATA / "entrez"


@pytest.mark.parametrize("rel,fmt", [
    ("ris/asreview_embase.ris", "ris"),
    ("ris/asysd_wos.ris", "ris"),
    ("ris/handmade_vendor_variants.ris", "ris"),
    ("ris/handmade_utf16.ris", "ris"),
    ("medline/pubmed_result1.txt", "medline"),
    ("medline/pubmed_result2.txt", "medline"),
    ("bibtex/handmade.bib", "bibtex"),
    ("csv/cytology_screening_30.csv", "csv"),
    ("csv/handmade_pubmed_export.tsv", "csv"),
    ("entrez/pubmed1.xml", "pubmed-xml"),
])
def test_detect_by_content(rel: str, fmt: str) -> None:
    assert detect_format(DATA / rel, (DATA / rel).read_bytes()[:65536]) == fmt


@pytest.mark.parametrize("src,fmt", [
    ("ris/asreview_scopus.ris", "ris"),
    ("medline/pubmed_result2.txt", "medline"),
    ("bibtex/handmade.bib", "bibtex"),
])
def test_content_beats_a_wrong_extension(tmp_path: Path, src: str, fmt: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes((DATA / src).read_bytes())
    assert detect_format(path, path.read_bytes()) == fmt


def test_extension_decides_when_content_is_silent() -> None:
    # No TY line at all: only the .ris extension says what it was meant to be.
    path = DATA / "bad" / "zero_records.ris"
    assert detect_format(path, path.read_bytes()) == "ris"


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("\nsome notes about my search\nnothing else\n")
    with pytest.raises(InputError) as exc:
        detect_format(path, path.read_bytes())
    assert str(exc.value).startswith(f"{path}: cannot tell the format (line 2 starts "
                                     "'some notes about my search')")
    assert "--format" in str(exc.value)


def test_other_ncbi_xml_is_not_taken_for_pubmed_xml() -> None:
    path = ENTREZ / "esearch1.xml"
    with pytest.raises(InputError, match="XML but not PubMed XML"):
        detect_format(path, path.read_bytes())


def test_wos_plain_text_gets_advice(tmp_path: Path) -> None:
    path = tmp_path / "savedrecs.txt"
    path.write_text("FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nAU Smith, J\nER\n")
    with pytest.raises(InputError, match="Web of Science plain text; export as RIS"):
        parse_file(path, source="wos")


def test_parse_result_contract() -> None:
    path = DATA / "ris" / "asreview_embase.ris"
    result = parse_file(path, source="embase")
    assert isinstance(result, ParseResult)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.encoding == "utf-8-sig"  # the file starts with a BOM
    assert result.fmt == "ris" and result.skipped == () and result.warnings == ()
    assert isinstance(result.records, tuple)
    with pytest.raises(AttributeError):
        result.fmt = "csv"  # frozen


def test_bom_and_no_bom_give_the_same_records(tmp_path: Path) -> None:
    data = (DATA / "ris" / "asreview_embase.ris").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    with_bom = parse_bytes(data, name="a.ris", source="embase")
    without = parse_bytes(data[len(codecs.BOM_UTF8):], name="a.ris", source="embase")
    assert with_bom.records == without.records
    assert (with_bom.encoding, without.encoding) == ("utf-8-sig", "utf-8")
    assert with_bom.sha256 != without.sha256


def test_latin1_fallback_warns_and_decodes_accents() -> None:
    path = DATA / "ris" / "handmade_latin1.ris"
    raw = path.read_bytes()
    first_bad = re.search(rb"[\x80-\xff]", raw)
    line = raw.count(b"\n", 0, first_bad.start()) + 1
    result = parse_file(path, source="x")
    assert result.encoding == "cp1252"
    assert result.warnings == (
        f"{path}: not valid UTF-8 (byte 0x{raw[first_bad.start()]:02x} on line {line}); read as "
        "Windows-1252 (Latin-1). Check accented characters, or export again as UTF-8",)
    first, second = result.records
    assert first.authors[0].family == "Müller" and first.authors[0].given == "Jürgen"
    assert "café" in first.title and "München – a test" in first.title
    assert second.authors[0].given == "François"


def test_utf16_with_bom_reads_like_the_latin1_file() -> None:
    utf16 = parse_file(DATA / "ris" / "handmade_utf16.ris", source="x")
    latin1 = parse_file(DATA / "ris" / "handmade_latin1.ris", source="x")
    assert utf16.encoding == "utf-16" and utf16.warnings == ()
    assert [r.title for r in utf16.records] == [r.title for r in latin1.records]
    assert [r.authors for r in utf16.records] == [r.authors for r in latin1.records]


def test_forced_format_that_does_not_fit_suggests_the_right_one() -> None:
    path = DATA / "medline" / "pubmed_result2.txt"
    with pytest.raises(InputError) as exc:
        parse_file(path, source="x", fmt="bibtex")
    assert "The content looks like MEDLINE: try --format medline" in str(exc.value)


def test_unknown_format_name() -> None:
    with pytest.raises(InputError, match="unknown format 'endnote'"):
        parse_file(DATA / "ris" / "asreview_embase.ris", source="x", fmt="endnote")


def test_formats_constant() -> None:
    assert FORMATS == ("ris", "medline", "pubmed-xml", "bibtex", "csv")


@pytest.mark.parametrize("name", ["pubmed1.xml", "pubmed2.xml"])
def test_pubmed_xml_goes_through_the_search_parser(name: str) -> None:
    path = ENTREZ / name
    expected = len(re.findall(rb"<PubmedArticle>", path.read_bytes()))
    result = parse_file(path, source="pubmed")
    assert result.fmt == "pubmed-xml"
    assert len(result.records) == expected > 0
    assert all(r.source == "pubmed" and r.pmid for r in result.records)


def test_pubmed_xml_without_articles_is_zero_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_text('<?xml version="1.0"?>\n<PubmedArticleSet>\n</PubmedArticleSet>\n')
    with pytest.raises(InputError, match=r"empty\.xml: no PubMed XML records found"):
        parse_file(path, source="pubmed")
