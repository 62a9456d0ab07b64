"""MEDLINE (.nbib) importer on Biopython's PubMed exports (tests/data/medline) and small cases."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from review.errors import InputError
from review.models import Author, MeshHeading
from review.parse import parse_file

DATA = Path(__file__).parent / "data" / "medline"
FILES = sorted(p.name for p in DATA.glob("*.txt"))


def count_pmid_lines(path: Path) -> int:
    """Records counted independently of the parser: lines starting 'PMID- '."""
    return len(re.findall(rb"(?m)^PMID- ", path.read_bytes()))


@pytest.mark.parametrize("name", FILES)
def test_record_count_matches_pmid_lines(name: str) -> None:
    result = parse_file(DATA / name, source="pubmed")
    assert result.fmt == "medline"
    assert len(result.records) == count_pmid_lines(DATA / name) > 0
    assert [r.source_id for r in result.records] == [r.pmid for r in result.records]


# (file, index, pmid, title, first author, year, doi), read off the files by eye.
SAMPLES = [
    ("pubmed_result1.txt", 0, "12230038", "The Bio* toolkits--a brief overview.", "Mangalam H",
     2002, None),
    ("pubmed_result2.txt", 0, "16403221",
     "A high level interface to SCOP and ASTRAL implemented in python.", "Casbon JA", 2006,
     "10.1186/1471-2105-7-10"),
    ("pubmed_result2.txt", 1, "16377612",
     "GenomeDiagram: a python package for the visualization of large-scale genomic data.",
     "Pritchard L", 2006, "10.1093/bioinformatics/btk021"),
    ("pubmed_result2.txt", 3, "14630660",
     "PDB file parser and structure class implemented in Python.", "Hamelryck T", 2003, None),
]


@pytest.mark.parametrize("name,index,pmid,title,author,year,doi", SAMPLES)
def test_sample_records(name: str, index: int, pmid: str, title: str, author: str, year: int,
                        doi: str | None) -> None:
    r = parse_file(DATA / name, source="pubmed").records[index]
    assert (r.pmid, r.title, r.first_author, r.year, r.doi) == (pmid, title, author, year, doi)


def test_fields_of_one_record() -> None:
    r = parse_file(DATA / "pubmed_result2.txt", source="pubmed").records[0]
    assert r.pmcid == "PMC1373603"
    assert (r.journal, r.journal_iso) == ("BMC bioinformatics", "BMC Bioinformatics")
    assert (r.volume, r.issue, r.pages) == ("7", None, "10")
    assert r.publication_types == ("Evaluation Studies", "Journal Article")
    assert r.language == ("eng",)
    assert r.entry_date == "2006-01-13"  # EDAT 2006/01/13 09:00
    assert r.authors[2] == Author(family="Saqi", given="Mansoor A S", initials="MA")
    assert r.abstract_text.startswith("BACKGROUND: Benchmarking algorithms")
    assert r.abstract_text.endswith("easier and more principled.")
    assert MeshHeading("Sequence Alignment", False, None, (("methods", True),)) in r.mesh
    assert MeshHeading("Software", True) in r.mesh
    assert len(r.mesh) == 9


def test_pub_date_from_dp() -> None:
    records = parse_file(DATA / "pubmed_result2.txt", source="pubmed").records
    assert [r.pub_date for r in records] == ["2006", "2006-03-01", "2004-06-12", "2003-11-22"]


SMALL = """\
PMID- 30000002
TI  - A consensus statement
      with a wrapped title.
FAU - Smith, John
AU  - Smith J
CN  - Kratom Working Group
FAU - Doe, Kate A
AU  - Doe KA
LA  - eng
PT  - Consensus Development Conference
MH  - Mitragyna/*adverse effects/chemistry
OT  - kratom
OT  - withdrawal
PHST- 2019/01/05 06:00 [entrez]
EDAT- 2019/01/06 06:00
LID - 10.1000/small.1 [doi]
DP  - 2019 Winter
SO  - Test. 2019.
"""


def test_author_order_keeps_collective_names_in_place(tmp_path: Path) -> None:
    path = tmp_path / "small.nbib"
    path.write_text(SMALL)
    (r,) = parse_file(path, source="pubmed").records
    assert [a.display for a in r.authors] == ["Smith J", "Kratom Working Group", "Doe KA"]
    assert r.authors[2].given == "Kate A"
    assert r.title == "A consensus statement with a wrapped title."
    assert r.mesh == (MeshHeading("Mitragyna", False, None,
                                  (("adverse effects", True), ("chemistry", False))),)
    assert r.keywords == ("kratom", "withdrawal")
    assert r.entry_date == "2019-01-05"  # PHST [entrez] wins over EDAT
    assert r.doi == "10.1000/small.1"
    assert r.pub_date == "2019 Winter"


def test_crlf_file_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "crlf.nbib"
    path.write_bytes((DATA / "pubmed_result2.txt").read_bytes().replace(b"\n", b"\r\n"))
    crlf = parse_file(path, source="pubmed").records
    lf = parse_file(DATA / "pubmed_result2.txt", source="pubmed").records
    assert [r.to_dict() for r in crlf] == [r.to_dict() for r in lf]


def test_non_numeric_pmid_is_a_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "badpmid.nbib"
    path.write_text(SMALL + "\nPMID- 12x\nTI  - Another\nSO  - x\n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="pubmed")
    pmid_line = SMALL.count("\n") + 2  # after SMALL's lines and one blank line
    assert exc.value.problems == [
        f"{path}: record 2 (line {pmid_line}): PMID '12x' is not a number"]
