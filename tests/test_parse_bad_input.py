"""Bad input: every damaged file is refused with file name, record number, line and reason.

The files are in tests/data/bad (README there says how each was made). Expected lines are
found in the files by the tests themselves, not copied from the parser's output.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from review.errors import InputError
from review.parse import parse_file

BAD = Path(__file__).parent / "data" / "bad"


def nth_line_matching(path: Path, pattern: str, n: int) -> int:
    """1-based line number of the n-th line (1-based) matching the regex."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
            if re.match(pattern, line)]
    return hits[n - 1]


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").split("\n"))


# id, file, bad record number, its start line (pattern, occurrence), total records, reason words
CASES = [
    ("ris-missing-er", "ris_missing_er.ris", 3, (r"TY  -", 3), 6,
     ["no 'ER  - ' end tag before the next record's TY on line {ty4}"]),
    ("ris-truncated", "ris_truncated.ris", 6, (r"TY  -", 6), 6,
     ["truncated", "line {last}"]),
    ("medline-garbage", "medline_garbage.nbib", 2, (r"PMID- ", 2), 4,
     ["neither a tag line", "'this line lost its tag'", "line {garbage}"]),
    ("medline-truncated", "medline_truncated.nbib", 4, (r"PMID- ", 4), 4,
     ["truncated", "line {last}"]),
    ("bibtex-unclosed-brace", "bad.bib", 2, (r"@article\{broken2019", 1), 3,
     ["BibTeX syntax error", "closing `}}`", "gave up on line {next_entry}"]),
    ("bibtex-bad-year", "bad_year.bib", 2, (r"@article\{second", 1), 2,
     ["'second'", "year '20I9' is not a year"]),
    ("csv-bad-year", "bad_year.csv", 3, (r"r3,", 1), 4,
     ["column 'year'", "year '20l9' is not a year"]),
]


def _expand(words: list[str], path: Path) -> list[str]:
    values = {
        "ty4": nth_line_matching(path, r"TY  -", 4) if path.suffix == ".ris" else 0,
        "next_entry": nth_line_matching(path, r"@article\{fine2018", 1)
        if path.name == "bad.bib" else 0,
        "last": line_count(path),
        "garbage": nth_line_matching(path, r"this line lost its tag", 1)
        if path.name == "medline_garbage.nbib" else 0,
    }
    return [w.format(**values) for w in words]


@pytest.mark.parametrize("name,record,start,total,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_record_rejects_whole_file(name: str, record: int, start: tuple[str, int], total: int,
                                       words: list[str]) -> None:
    path = BAD / name
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    line = nth_line_matching(path, *start)
    unit = "row" if path.suffix == ".csv" else "record"
    assert len(exc.value.problems) == 1
    problem = exc.value.problems[0]
    prefix = f"{path}: {unit} {record} (line {line}): "
    assert problem.startswith(prefix)
    for word in _expand(words, path):
        assert word in problem[len(prefix):]
    message = str(exc.value)
    assert message.startswith(f"{path}: 1 of {total} ")
    assert "nothing was imported" in message and "--skip-bad" in message


@pytest.mark.parametrize("name,record,start,total,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_skip_bad_imports_the_good_records(name: str, record: int, start: tuple[str, int],
                                           total: int, words: list[str]) -> None:
    path = BAD / name
    result = parse_file(path, source="test", skip_bad=True)
    assert len(result.records) == total - 1
    line = nth_line_matching(path, *start)
    unit = "row" if path.suffix == ".csv" else "record"
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith(f"{path}: {unit} {record} (line {line}): ")


def test_tag_garbage_lists_every_bad_record() -> None:
    path = BAD / "ris_tag_garbage.ris"
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    ti_line = nth_line_matching(path, r"TI - ", 1)
    control_line = nth_line_matching(path, r"\x01", 1)
    assert exc.value.problems == [
        f"{path}: record 4 (line {nth_line_matching(path, 'TY  -', 4)}): line {ti_line}: "
        "malformed tag line 'TI - Mindfulness-Based Cognitive Therapy' "
        "(a tag is two capitals, two spaces, a hyphen, a space)",
        f"{path}: record 5 (line {nth_line_matching(path, 'TY  -', 5)}): line {control_line}: "
        "unreadable control characters (binary data?)",
    ]
    assert str(exc.value).startswith(f"{path}: 2 of 6 RIS records are malformed")
    result = parse_file(path, source="test", skip_bad=True)
    assert len(result.records) == 4 and len(result.skipped) == 2


def test_zero_records() -> None:
    path = BAD / "zero_records.ris"
    for skip_bad in (False, True):
        with pytest.raises(InputError) as exc:
            parse_file(path, source="test", skip_bad=skip_bad)
        message = str(exc.value)
        lines = line_count(path) - 1  # the file ends with a newline
        assert message.startswith(f"{path}: no RIS records found in lines 1-{lines}, so nothing "
                                  "was imported")
        assert "'TY  - '" in message


def test_all_records_bad_is_an_error_even_with_skip_bad(tmp_path: Path) -> None:
    path = tmp_path / "allbad.ris"
    path.write_text("TY  - JOUR\nTI - broken\nER  - \n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test", skip_bad=True)
    assert str(exc.value).startswith(f"{path}: none of the 1 RIS records could be read")
    assert exc.value.problems[0].startswith(f"{path}: record 1 (line 1): line 2: malformed tag")


def test_binary_file() -> None:
    path = BAD / "binary.ris"
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    assert str(exc.value).startswith(f"{path}: this is a PDF document, not a bibliographic "
                                     "export (line 1)")


def test_binary_noise() -> None:
    path = BAD / "binary_noise.ris"
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    first_control = re.search(rb"[\x00-\x08\x0e-\x1f]", path.read_bytes())
    line = path.read_bytes().count(b"\n", 0, first_control.start()) + 1
    assert str(exc.value).startswith(
        f"{path}: binary content (byte 0x{first_control.group(0)[0]:02x} at line {line})")


def test_html_error_page_saved_as_ris() -> None:
    path = BAD / "html_error.ris"
    for fmt in (None, "ris"):  # refused whether detected or forced
        with pytest.raises(InputError) as exc:
            parse_file(path, source="test", fmt=fmt)
        message = str(exc.value)
        assert message.startswith(f"{path}: this is a web page titled "
                                  "'Session expired - Please sign in' (HTML at line 1)")
        assert "Download the export again" in message


def test_csv_without_title_column() -> None:
    path = BAD / "no_title.csv"
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    assert str(exc.value) == (
        f"{path}: line 1: no title column (the header has 'ID', 'authors', 'year', 'journal'); "
        "name the title column 'title' (accepted names are listed in docs/import-formats.md)")


def test_csv_row_with_a_stray_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "stray.csv"
    path.write_text("ID,title,year\n1,First,2020\n2,Second, with comma,2021\n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    assert exc.value.problems == [f"{path}: row 2 (line 3): 4 values but the header has 3 "
                                  "columns (a stray delimiter or quote?)"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.ris"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.ris: the file is empty \(0 bytes"):
        parse_file(path, source="test")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.ris: cannot read the file"):
        parse_file(tmp_path / "nope.ris", source="test")


def test_record_without_ty(tmp_path: Path) -> None:
    path = tmp_path / "noty.ris"
    path.write_text("TY  - JOUR\nTI  - ok\nER  - \n\nTI  - lost its TY\nAU  - Smith, J\nER  - \n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    assert exc.value.problems == [f"{path}: record 2 (line 5): starts with TI on line 5, not "
                                  "'TY  - ' (a missing or damaged TY line?)"]


def test_empty_record(tmp_path: Path) -> None:
    path = tmp_path / "emptyrec.ris"
    path.write_text("TY  - JOUR\nTI  - ok\nER  - \n\nTY  - JOUR\nPY  - 2020\nER  - \n")
    with pytest.raises(InputError) as exc:
        parse_file(path, source="test")
    assert exc.value.problems == [f"{path}: record 2 (line 5): empty record: no title, abstract, "
                                  "authors, DOI or PMID"]
