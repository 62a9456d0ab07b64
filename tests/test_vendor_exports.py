"""RIS exports as Ovid, ProQuest, EndNote and Zotero write them (issue 12): vendor noise between
records is skipped with one warning naming the lines; repeated accessions stay records identified
and dedupe merges them back as exact duplicates."""
from __future__ import annotations

from pathlib import Path

import pytest

from review.dedupe.apply import dedupe_store
from review.errors import InputError
from review.imports import import_files
from review.models import accession_of, repeated_id
from review.parse import parse_file
from review.prisma import prisma_counts
from review.store import Store

VENDORS = Path(__file__).parent / "data" / "ris" / "vendors"


def test_ovid_links_between_records_are_skipped_with_one_warning() -> None:
    path = VENDORS / "ovid_psycinfo.ris"
    result = parse_file(path, source="psycinfo")
    assert [r.source_id for r in result.records] == [
        "2020-41234-001", "2019-55555-010", "2020-41234-001 (repeat 2)"]
    noise = [w for w in result.warnings if "between records" in w]
    assert noise == [f"{path}: ignored 9 line(s) between records that are not RIS (vendor notes or "
                     "links): lines 24-26, 52-54, 79-81; first: "
                     "'NL  - http://ovidsp.ovid.com/ovidweb.cgi?T=JS&PAGE=reference'"]
    first = result.records[0]
    assert first.pmid is None  # a PsycInfo accession is not a PMID
    assert first.journal == "Drug and Alcohol Dependence" and first.year == 2020
    assert first.abstract_text.endswith("frequency of use.")
    assert result.records[1].doi == "10.1080/02791072.2019.0000001"


def test_noise_lines_name_every_line_in_a_long_file(tmp_path: Path) -> None:
    record = "TY  - JOUR\nTI  - t{n}\nER  - \nLink to the Ovid Full Text or citation:\nhttp://x/{n}\n"
    path = tmp_path / "many.ris"
    path.write_text("".join(record.format(n=n) for n in range(12)))
    result = parse_file(path, source="x")
    assert len(result.records) == 12
    (warning,) = result.warnings
    assert "ignored 24 line(s)" in warning
    assert "lines 4-5, 9-10, 14-15, 19-20, 24-25, 29-30, 34-35, 39-40, ... (12 ranges in all)" in warning


def test_a_tag_line_that_lost_its_ty_is_still_a_problem(tmp_path: Path) -> None:
    # NL-style lines are noise only when the next TY (or the end of the file) follows; if an ER
    # closes them they were a record whose TY line is damaged, and the file is refused.
    path = tmp_path / "lost.ris"
    path.write_text("TY  - JOUR\nTI  - a\nER  - \nNL  - http://x\nTI  - b\nER  - \n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="x")
    assert exc.value.problems == [f"{path}: record 2 (line 4): starts with NL on line 4, not "
                                  "'TY  - ' (a missing or damaged TY line?)"]


def test_trailing_noise_after_the_last_record(tmp_path: Path) -> None:
    path = tmp_path / "tail.ris"
    path.write_text("TY  - JOUR\nTI  - a\nER  - \n\nNL  - http://x\nLink to the Ovid Full Text\n")
    result = parse_file(path, source="x")
    assert len(result.records) == 1
    assert "lines 5-6" in result.warnings[0]


def test_proquest_endnote_zotero_exports() -> None:
    pq = parse_file(VENDORS / "proquest.ris", source="proquest")
    assert pq.warnings == ()
    assert [(r.source_id, r.doi, r.kind) for r in pq.records] == [
        ("2412345678", "10.1080/15563650.2019.0000002", "journal-article"),
        ("2523456789", None, "other")]
    en = parse_file(VENDORS / "endnote.ris", source="endnote")
    assert [(r.pmid, r.journal, r.journal_iso) for r in en.records] == [
        ("27444100", "Drug and alcohol dependence", "Drug Alcohol Depend"),
        ("29273821", "Psychopharmacology", "Psychopharmacology (Berl)")]
    assert en.records[0].doi == "10.1016/j.drugalcdep.2016.0000003"
    zo = parse_file(VENDORS / "zotero.ris", source="zotero")
    art, book = zo.records
    assert (art.pmid, art.pmcid, art.pub_date, art.journal_iso) == (
        "34650000", "PMC8500000", "2021-10", "Front Psychiatry")
    assert (book.kind, book.year) == ("book", 2014)


def test_repeat_ids_round_trip() -> None:
    assert accession_of(repeated_id("2020-41234-001", 2)) == "2020-41234-001"
    assert accession_of("odd (repeat x)") == "odd (repeat x)"
    assert accession_of("12345") == "12345"


def test_same_accession_twice_is_identified_twice_and_merged_exactly() -> None:
    store = Store.open(":memory:")
    (summary,) = import_files(store, [VENDORS / "ovid_psycinfo.ris"], source="psycinfo")
    assert (summary.n_records, summary.n_new) == (3, 3)
    assert any("occur more than once" in w for w in summary.warnings)
    dd = dedupe_store(store)
    assert (dd.counts["records"], dd.counts["duplicates"], dd.counts["exact"], dd.counts["rule"]) == (3, 1, 1, 0)
    counts = prisma_counts(store)
    assert counts.dbr.identified == 3
    assert counts.dbr.duplicates == 1
    # importing the same file again changes nothing
    (again,) = import_files(store, [VENDORS / "ovid_psycinfo.ris"], source="psycinfo")
    assert again.already and store.count_records() == 3


def test_concatenated_export_keeps_both_copies(tmp_path: Path) -> None:
    one = (Path(__file__).parent / "data" / "ris" / "asreview_embase.ris").read_bytes()
    path = tmp_path / "twice.ris"
    path.write_bytes(one + b"\n" + one)
    store = Store.open(":memory:")
    (summary,) = import_files(store, [path], source="embase")
    n = summary.n_records
    assert summary.n_new == n and n % 2 == 0
    dd = dedupe_store(store)
    assert dd.counts["duplicates"] == n // 2
    assert prisma_counts(store).dbr.identified == n
