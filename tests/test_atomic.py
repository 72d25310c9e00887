"""Whole-or-nothing writes (unimal_gym.atomic): the files they leave are as readable as open() makes them.

(tempfile.mkstemp's files are private, mode 0600: robot files, checkpoints and exported students written
through it could not be read by the user's group or a shared results folder.)"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from baselines.common.files import save_npz, write_json
from unimal_gym import atomic
from unimal_gym.atomic import temp_beside
from unimal_gym.media import write_png
from unimal_gym.morphology import random_robot, save


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_get_the_mode_open_gives_them(tmp_path: Path, umask: int) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = 0o666 & ~umask
    assert _mode(plain) == expected
    xml = save(random_robot(np.random.default_rng(0), name="r0"), tmp_path / "robots")
    write_json(tmp_path / "config.json", {"a": 1})
    save_npz(tmp_path / "student.npz", w=np.zeros(3))
    write_png(tmp_path / "robot.png", np.zeros((2, 2, 3), dtype=np.uint8))
    written = [xml, tmp_path / "robots" / "metadata" / "r0.json", tmp_path / "config.json", tmp_path / "student.npz"]
    written.append(tmp_path / "robot.png")
    assert {str(p.relative_to(tmp_path)): _mode(p) for p in written} == {
        str(p.relative_to(tmp_path)): expected for p in written
    }
    assert not list(tmp_path.rglob("*.tmp"))  # nothing left behind


def test_a_taken_temporary_name_is_skipped_and_never_overwritten(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "f.json"
    taken = tmp_path / ".f.json.00000000.tmp"
    taken.write_text("someone else's")
    names = iter(["00000000", "00000001"])
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: next(names))
    fd, tmp = temp_beside(target)
    os.close(fd)
    assert tmp == tmp_path / ".f.json.00000001.tmp" and taken.read_text() == "someone else's"
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "00000000")
    with pytest.raises(FileExistsError, match=r"no free temporary name beside .*f.json after 100 tries"):
        temp_beside(target)
