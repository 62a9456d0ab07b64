"""Saved strategies: the shipped ones load; bad files get errors naming the file and the problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from review.errors import ConfigError
from review.queries import load_strategies, load_strategy

ROOT = Path(__file__).parent.parent


def test_shipped_strategies_load():
    names = {s.name: s for s in load_strategies(ROOT / "queries")}
    main = names["kratom_opioid_withdrawal"]
    assert '"Mitragyna"[Mesh]' in main.query and "kratom*[tiab]" in main.query
    assert "withdraw*[tiab]" in main.query and " AND " in main.query
    assert "kratom_broad" in names and " AND " not in names["kratom_broad"].query


@pytest.mark.parametrize("body,message", [
    ("name: x\nquery: kratom\nbogus: 1\n", "unknown key"),
    ("name: x\nquery: '  '\n", "'query' is missing or empty"),
    ("name: x\n", "'query' is missing or empty"),
    ("name: x\nquery: kratom\nmindate: 2020-13\n", "mindate"),
    ("name: x\nquery: kratom\nmindate: 2020/13\n", "not a valid date"),
    ("name: x\nquery: kratom\nmindate: 2021\nmaxdate: 2020\n", "after maxdate"),
    ("name: x\nquery: (kratom\n", "unbalanced parentheses"),
    ("name: x\nquery: kratom\ndatabase: embase\n", "not supported"),
    ("name: x\nquery: kratom\ndatetype: foo\n", "datetype"),
    ("- a\n- b\n", "must be a mapping"),
    ("name: [x\n", "not valid YAML"),
])
def test_bad_strategy_files(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_strategy(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_duplicate_names_and_unknown_selection(tmp_path):
    (tmp_path / "a.yaml").write_text("name: same\nquery: kratom\n")
    (tmp_path / "b.yaml").write_text("name: same\nquery: ketum\n")
    with pytest.raises(ConfigError, match="also used by"):
        load_strategies(tmp_path)
    (tmp_path / "b.yaml").write_text("name: other\nquery: ketum\n")
    with pytest.raises(ConfigError, match="no strategy named nope"):
        load_strategies(tmp_path, ["nope"])
    assert [s.name for s in load_strategies(tmp_path, ["other"])] == ["other"]
