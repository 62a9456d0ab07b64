"""CSV importer: bib-dedupe records (real), Scopus- and PubMed-style sheets (hand-made)."""
from __future__ import annotations

import csv
from pathlib import Path

from review.models import Author
from review.parse import parse_file

DATA = Path(__file__).parent / "data" / "csv"


def test_dedup_records_keep_the_id_column() -> None:
    path = DATA / "cytology_screening_30.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))  # the standard library's count, independent of ours
    result = parse_file(path, source="benchmark")
    assert result.fmt == "csv"
    assert len(result.records) == len(rows) == 30
    assert [r.source_id for r in result.records] == [row["ID"] for row in rows]
    first = result.records[0]
    assert first.title == rows[0]["title"]
    assert first.first_author == "Zuna RE"  # 'Zuna, R E and Wang, S S and ...'
    assert len(first.authors) == rows[0]["author"].count(" and ") + 1
    assert (first.year, first.volume, first.pages, first.journal) == (2006, "108", "288-297",
                                                                       "Cancer")
    assert (first.kind, first.publication_types) == ("journal-article", ("Journal Article",))


def test_scopus_style_columns() -> None:
    first, second = parse_file(DATA / "handmade_scopus_style.csv", source="scopus").records
    assert first.source_id == "2-s2.0-85074596690"  # EID
    assert first.authors == (Author(family="Labanski", initials="A"),
                             Author(family="Langhorst", initials="J"))
    assert (first.journal, first.year, first.volume) == ("Psychoneuroendocrinology", 2020, "111")
    assert first.pages == "104501"  # Art. No. when there are no pages
    assert (first.doi, first.pmid) == ("10.1016/j.psyneuen.2019.104501", "31000001")
    assert first.keywords == ("Stress", "Microbiota", "Humans", "Brain")  # author + index
    assert first.publication_types == ("Review",)
    assert (second.pages, second.issue, second.doi) == ("1-8", "1", None)  # Page start-Page end


def test_pubmed_csv_export_tab_separated() -> None:
    first, second = parse_file(DATA / "handmade_pubmed_export.tsv", source="pubmed").records
    assert (first.pmid, first.pmcid, first.doi) == ("16403221", "PMC1373603",
                                                    "10.1186/1471-2105-7-10")
    assert [a.display for a in first.authors] == ["Casbon JA", "Crooks GE", "Saqi MA"]
    assert (first.journal, first.year, first.entry_date) == ("BMC Bioinformatics", 2006,
                                                             "2006-01-13")
    assert second.first_author == "Mangalam H" and second.doi is None
    # No ID column: a stable id from the row number and the row's content
    assert first.source_id.startswith("rec1-") and second.source_id.startswith("rec2-")


def test_semicolon_csv_with_bom_and_quoted_newline(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = 'ID;Title;Year\r\nx1;"Line one\r\nline two";2020\r\nx2;Second;"2021"\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = parse_file(path, source="sheet")
    assert [(r.source_id, r.title, r.year) for r in result.records] == [
        ("x1", "Line one line two", 2020), ("x2", "Second", 2021)]


def test_wos_tab_delimited_headers(tmp_path: Path) -> None:
    path = tmp_path / "savedrecs.txt"
    header = ["PT", "AU", "AF", "TI", "SO", "DE", "ID", "SP", "PY", "VL", "BP", "EP", "DI", "UT"]
    row = ["J", "Smith, J", "Smith, John", "A WoS title", "JOURNAL OF TESTS", "kratom",
           "OPIOIDS; WITHDRAWAL", "Some Sponsor", "2020", "3", "10", "19", "10.1000/wos", "WOS:1"]
    path.write_text("\t".join(header) + "\n" + "\t".join(row) + "\n")
    (r,) = parse_file(path, source="wos", fmt="csv").records
    assert r.source_id == "WOS:1"  # UT, not ID (Keywords Plus)
    assert r.keywords == ("kratom", "OPIOIDS", "WITHDRAWAL")
    assert r.pages == "10-19"  # BP-EP, not SP (a sponsor)
    assert r.authors == (Author(family="Smith", given="John", initials="J"),)  # AF first
