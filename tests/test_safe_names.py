"""Names read from files never become paths outside their folder (issue 14: manifest robot names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.common.config import UserError
from baselines.common.expert_data import DATA_FORMAT, DataError, read_manifest
from baselines.common.files import safe_name

BAD = ["../../outside/victim", "..", "a/b", "a\\b", "", ".hidden", "x" * 201, "név/../x", None, 3, ["a"], "a\x00b"]


@pytest.mark.parametrize("name", BAD, ids=repr)
def test_bad_names_are_refused_naming_where(name: object) -> None:
    with pytest.raises(UserError, match=r"manifest\.json: robots: .* is not a valid name"):
        safe_name(name, "manifest.json: robots")


@pytest.mark.parametrize("name", ["unimal-train-000", "floor-1409-0-12-01-12-30-07", "near-a_b+1.2"])
def test_robot_names_in_use_pass(name: str) -> None:
    assert safe_name(name, "x") == name


@pytest.mark.parametrize("robots", [["../../outside/victim"], ["ok", "a/b"], "not-a-list"], ids=repr)
def test_an_expert_data_manifest_with_unsafe_robot_names_is_refused(tmp_path: Path, robots: object) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"format": DATA_FORMAT, "robots": robots}))
    with pytest.raises(DataError, match=r"manifest\.json"):
        read_manifest(tmp_path)
