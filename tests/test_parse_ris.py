"""RIS importer on real vendor exports (tests/data/ris, see its README) and hand-made variants."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from review.parse import parse_file
from review.parse.ris import scan, tags_of

DATA = Path(__file__).parent / "data" / "ris"
REAL_FILES = sorted(p.name for p in DATA.glob("as*.ris"))


def count_er_lines(path: Path) -> int:
    """Records counted without the parser: 'ER  -' at the start of a line (CR, LF or CRLF)."""
    return len(re.findall(rb"(?:^|[\r\n])ER  -", path.read_bytes()))


def test_all_real_files_are_present() -> None:
    assert len(REAL_FILES) == 7


@pytest.mark.parametrize("name", REAL_FILES)
def test_record_count_matches_er_lines(name: str) -> None:
    result = parse_file(DATA / name, source="test")
    assert result.fmt == "ris"
    assert len(result.records) == count_er_lines(DATA / name)
    assert result.skipped == ()
    assert all(r.source == "test" for r in result.records)


@pytest.mark.parametrize("name", REAL_FILES)
def test_source_ids_are_unique_and_stable(name: str) -> None:
    first = parse_file(DATA / name, source="test")
    again = parse_file(DATA / name, source="test")
    ids = [r.source_id for r in first.records]
    assert len(set(ids)) == len(ids)
    assert ids == [r.source_id for r in again.records]


# (file, record index, title, first author, year, doi), read off the files by eye.
SAMPLES = [
    ("asreview_embase.ris", 0,
     "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
     "Liu R", 2014, "10.4103/2303-9027.138783"),
    ("asreview_embase.ris", 2,
     "A case of completely isolated advanced enteric duplication cyst cancer performed partial "
     "pancreatectomy", "Nakashima S", 2019, "10.1016/j.ijscr.2018.11.060"),
    ("asreview_pubmed_zotero.ris", 0,
     "The importance of cognitive flexibility and flexibility in coping with stress for the "
     "quality of life in inflammatory bowel disease patients during biological therapy. "
     "A preliminary report.",
     "Rudnik A", 2019, "10.5114/pg.2018.81081"),
    ("asreview_pubmed_zotero.ris", 2,
     "Traditional Chinese medicine for mild-to-moderate ulcerative colitis: Protocol for a network "
     "meta-analysis of randomized controlled trials.", "Shen Z", 2019,
     "10.1097/MD.0000000000016881"),
    ("asreview_scopus.ris", 0,
     "Stress and the brain-gut axis in functional and chronic-inflammatory gastrointestinal "
     "diseases: A transdisciplinary challenge", "Labanski A", 2020,
     "10.1016/j.psyneuen.2019.104501"),
    ("asreview_scopus.ris", 2,
     "Does symptom activity explain psychological differences in patients with irritable bowel "
     "syndrome and inflammatory bowel disease? Results from a multi-center cross-sectional study",
     "Berens S", 2019, "10.1016/j.jpsychores.2019.109836"),
    ("asreview_web_of_science.ris", 0,
     "Holding Yourself Captive: Perceptions of Custody During Interviews and Interrogations",
     "Alceste F", 2018, "10.1016/j.jarmac.2018.03.001"),
    ("asreview_web_of_science.ris", 2,
     "Enhancing Cooperation and Disclosure by Manipulating Affiliation and Developing Rapport in "
     "Investigative Interviews", "Brimbal L", 2019, "10.1037/law0000193"),
    ("asysd_scopus.ris", 2,
     "Assessing the Association Between Animal Color and Behavior: A Meta-Analysis of Experimental "
     "Studies", "Ruckman SN", 2024, "10.1002/ece3.70655"),
    ("asysd_wos.ris", 0,
     "Microangiography of the humeral condyle in Cocker Spaniel and non-Cocker Spaniel dogs",
     "Larsen LJ", 1999, None),
    ("asysd_wos.ris", 2, "Survey of otitis externa in American Cocker Spaniels in Finland",
     "Kaimio M", 2017, "10.1186/s13028-017-0282-3"),
    ("asreview_baseline_empty_values.ris", 0, "Title of reference", None, None, None),
]


@pytest.mark.parametrize("name,index,title,author,year,doi", SAMPLES)
def test_sample_records(name: str, index: int, title: str, author: str | None, year: int | None,
                        doi: str | None) -> None:
    r = parse_file(DATA / name, source="test").records[index]
    assert (r.title, r.first_author, r.year, r.doi) == (title, author, year, doi)


def test_embase_fields() -> None:
    r = parse_file(DATA / "asreview_embase.ris", source="embase").records[1]
    assert r.source_id == "L39097156"  # U2, Embase's accession number
    assert r.pmid == "15368318"  # C5, the MEDLINE PMID in Embase exports
    assert r.journal == "Cancer"
    assert (r.volume, r.issue, r.pages) == ("102", "4", "253-258")  # SP and EP joined
    assert r.publication_types == ("Article",)
    assert r.language == ("English",)
    assert r.abstract_text.startswith("BACKGROUND. The management of foregut duplication cysts")
    assert [a.initials for a in r.authors[:3]] == ["MA", "M", "RJ"]
    assert len(r.keywords) == 27


def test_scopus_fields() -> None:
    records = parse_file(DATA / "asreview_scopus.ris", source="scopus").records
    r = records[0]
    assert r.source_id == "2-s2.0-85074596690"  # EID from the UR link
    assert (r.journal, r.journal_iso) == ("Psychoneuroendocrinology", "Psychoneuroendocrinology")
    assert r.pages == "104501"  # C7 article number when there is no SP
    assert r.publication_types == ("Review",)
    # C2 holds the PubMed ID in Scopus exports
    assert sorted(x.pmid for x in records if x.pmid) == [
        "30704343", "31175206", "31421429", "31574429", "31627144"]


def test_wos_fields_and_bare_cr_line_breaks() -> None:
    records = parse_file(DATA / "asysd_wos.ris", source="wos").records
    r = records[0]
    # The AN line follows a bare CR in this file; it must still be read as its own tag.
    assert r.source_id == "WOS:000082252000006"
    assert r.journal == "VETERINARY AND COMPARATIVE ORTHOPAEDICS AND TRAUMATOLOGY"
    assert r.journal_iso == "Vet. Comp. Orthop. Traumatol."
    assert r.pub_date == "1999-08"  # DA 'AUG' combined with PY 1999
    # The abstract continues on an indented second paragraph.
    assert "Microangiography was performed on four Cocker Spaniel" in r.abstract_text
    assert all(x.source_id.startswith("WOS:") for x in records)


def test_zotero_fields() -> None:
    r = parse_file(DATA / "asreview_pubmed_zotero.ris", source="pubmed").records[1]
    assert r.journal == "Techniques in coloproctology"
    assert r.journal_iso == "Tech Coloproctol"
    assert r.pub_date == "2019-10"  # DA '2019/10//undefined'
    assert r.authors[2].family == "Slesser" and r.authors[2].initials == "AAP"
    assert r.language == ("eng",)


def test_empty_values_file_keeps_records_with_title_or_abstract_only() -> None:
    records = parse_file(DATA / "asreview_baseline_empty_values.ris", source="x").records
    assert [r.title for r in records] == ["Title of reference", None, "Title of reference", None]
    assert [bool(r.abstract) for r in records] == [False, True, False, True]
    assert all(r.kind == "other" for r in records)  # TY GEN
    # RIS ID (1..4) is a reference manager's running number, not used as the id
    assert all(r.source_id.startswith(f"rec{i}-") for i, r in enumerate(records, 1))


def test_vendor_variants() -> None:
    result = parse_file(DATA / "handmade_vendor_variants.ris", source="ovid")
    first, conf, zotero, ebsco = result.records
    assert result.warnings == ()  # the '1.' numbering lines are not reported as stray text
    assert first.title.startswith("Kratom (Mitragyna speciosa)")  # T1
    assert (first.source_id, first.pmid) == ("31234567", "31234567")  # AN with DB Ovid MEDLINE
    assert first.doi == "10.1000/ovid.test.1"  # from a doi.org UR link
    assert first.keywords == ("Humans", "Mitragyna", "Opioid-Related Disorders/th [Therapy]",
                              "Substance Withdrawal Syndrome", "Self Medication")
    assert first.abstract_text == ("BACKGROUND: Kratom is used to self-treat opioid withdrawal.\n"
                                   "METHODS: A hand-made abstract that continues on a second line.")
    assert first.pages == "101-109" and first.journal_iso == "J Addict Tests"
    assert [a.display for a in first.authors] == ["Smith JA", "van der Berg K",
                                                  "Kratom Research Consortium"]
    assert first.authors[0].given == "John A."
    assert first.authors[2].collective == "Kratom Research Consortium"
    assert (conf.kind, conf.source_id, conf.pmid) == ("conference", "L2001234567", "30000001")
    assert conf.doi == "10.1000/embase.conf.2"  # only in L2 as http://dx.doi.org/...
    assert (zotero.pmid, zotero.pmcid) == ("29999999", "PMC6000001")  # from N1 notes
    assert zotero.doi == "10.1000/ZOTERO.3"  # DO given as a URL, case kept
    assert zotero.pub_date == "2018-07-02"
    # EBSCO: the accession number (a PMID for MEDLINE) is only in the UR link
    assert (ebsco.source_id, ebsco.pmid) == ("32000001", "32000001")
    assert (ebsco.journal, ebsco.pub_date) == ("Addiction Tests", "2020-01")
    assert ebsco.abstract_text == "An abstract in N2."


def test_scan_finds_record_start_lines() -> None:
    lines = ["Provider: x", "", "1.", "TY  - JOUR", "TI  - a", "ER  - ", "", "2.", "TY  - JOUR",
             "TI  - b", "ER  -"]
    blocks, stray = scan(lines)
    assert [b.start for b in blocks] == [4, 9]
    assert [b.problems for b in blocks] == [[], []]
    assert stray == [1]  # the provider header, before the first record


def test_bom_inside_concatenated_files(tmp_path: Path) -> None:
    one = (DATA / "asreview_embase.ris").read_bytes()  # starts with a UTF-8 BOM
    path = tmp_path / "twice.ris"
    path.write_bytes(one + b"\n" + one)
    result = parse_file(path, source="embase")
    assert len(result.records) == 2 * count_er_lines(DATA / "asreview_embase.ris")
    assert any("more than once" in w for w in result.warnings)  # same accession numbers twice


def test_text_between_records_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "stray.ris"
    path.write_text("TY  - JOUR\nTI  - a\nER  - \nstray words\nTY  - JOUR\nTI  - b\nER  - \n")
    result = parse_file(path, source="x")
    assert len(result.records) == 2
    assert result.warnings == (f"{path}: ignored 1 line(s) between records that are not RIS "
                               "(vendor notes or links): line 4; first: 'stray words'",)


def test_rispy_keeps_every_tag_apart_and_every_repeat() -> None:
    lines = ["TY  - JOUR", "TI  - Title", "T1  - Primary title", "N1  - first note",
             "N1  - second note", "UR  - http://a.example/x;http://b.example/y", "ZZ  - unknown",
             "KW  - one", "two", "ER  - "]
    tags = tags_of(lines)
    assert tags["TY"] == "JOUR"
    assert tags["TI"] == ["Title"] and tags["T1"] == ["Primary title"]
    assert tags["N1"] == ["first note", "second note"]
    assert tags["UR"] == ["http://a.example/x;http://b.example/y"]  # not split on ';'
    assert tags["ZZ"] == ["unknown"]
    assert tags["KW"] == ["one", "two"]
