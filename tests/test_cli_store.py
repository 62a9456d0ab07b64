"""A mistyped --db is refused by every command that does not add records (issue 12)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from review.cli import main

ROOT = Path(__file__).parent.parent

COMMANDS = [
    ["dedupe"], ["dedupe", "export-uncertain", "--out", "u.csv"], ["classify"], ["classify", "show", "1"],
    ["screen", "status"], ["screen", "export", "--stage", "title_abstract", "--reviewer", "a", "--out", "a.csv"],
    ["screen", "history", "--out", "h.csv"], ["screen", "conflicts", "--stage", "title_abstract"],
    ["export", "records", "--out", "r.csv"], ["export", "duplicates", "--out", "d.csv"],
    ["prisma", "--out", "p"], ["prisma", "check"], ["claims", "list"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_missing_store_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    db = tmp_path / "reveiw.sqlite"
    monkeypatch.chdir(tmp_path)  # outputs of the command, if it ran, would land here
    result = CliRunner().invoke(main, [*args, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert f"no review store at {db}: check the path (a typo?)" in result.output
    assert not db.exists()


def test_import_and_search_create_the_store(tmp_path: Path) -> None:
    db = tmp_path / "new" / "review.sqlite"
    result = CliRunner().invoke(main, ["import", str(ROOT / "tests/data/ris/vendors/zotero.ris"),
                                       "--source", "zotero", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert db.is_file()
    result = CliRunner().invoke(main, ["screen", "status", "--db", str(db)])
    assert result.exit_code == 0 and "title_abstract" in result.output
