"""The unimal-gym command: every subcommand, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared

from unimal_gym.cli import main
from unimal_gym.morphology import load, to_xml

pytestmark = needs_shared  # every test reads the original robots

EXAMPLE = SHARED / "unimal/train/xml/floor-1409-0-12-01-12-30-07.xml"


def test_info_prints_tree(capsys) -> None:
    assert main(["info", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "8 limbs (9 bodies), 11 DoF" in out
    assert "limb/16  at limb/btm/13" in out and "(mirror of limb/17)" in out


def test_validate_folder_and_bad_file(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(SHARED / "unimal/train")]) == 0
    assert "100 valid, 0 invalid" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco>")
    assert main(["validate", str(EXAMPLE), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {bad}: malformed XML" in out and "1 valid, 1 invalid" in out


def test_generate_mutate_vary_stats(tmp_path: Path, capsys) -> None:
    assert main(["generate", "--count", "1", "--limbs", "4", "--seed", "5", "--out", str(tmp_path / "g")]) == 0
    robot_path = tmp_path / "g" / "xml" / "unimal-random-000.xml"
    assert load(robot_path).num_limbs == 4
    assert main(["mutate", str(EXAMPLE), "--count", "3", "--seed", "1", "--out", str(tmp_path / "m")]) == 0
    mutants = sorted((tmp_path / "m" / "xml").glob("*.xml"))
    assert len(mutants) == 3 and all(p.stem.startswith("floor-1409-0-12-01-12-30-07-mutate-") for p in mutants)
    assert main(["vary", str(EXAMPLE), "--dynamics", "4", "--kinematics", "2", "--out", str(tmp_path / "v")]) == 0
    assert len(list((tmp_path / "v" / "xml").glob("*.xml"))) == 6
    meta = json.loads(next((tmp_path / "v" / "metadata").glob("*.json")).read_text())
    assert set(meta) == {"symmetric_limbs", "dof", "num_limbs"}
    capsys.readouterr()
    assert main(["stats", str(tmp_path / "v")]) == 0
    assert "robots: 6" in capsys.readouterr().out


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = EXAMPLE.read_text()
    cases: dict[str, tuple[Path, str]] = {}

    def write(name: str, content: str, expect: str) -> None:
        path = tmp_path / f"{name}.xml"
        path.write_text(content)
        cases[name] = (path, expect)

    cases["missing"] = (tmp_path / "missing.xml", "no such file")
    write("malformed", text[:500], "malformed XML")
    write("no_torso", text.replace('name="torso/0" pos', 'name="body" pos'), "no torso")
    write(
        "joint_class",
        text.replace('class="normal_joint" range="-30 0"', 'class="stiff_joint" range="-30 0"'),
        "unknown joint class 'stiff_joint'",
    )
    big = load(EXAMPLE)
    for k in range(3):
        leg = big.limbs[15].__class__(**{**big.limbs[15].__dict__, "index": 40 + k, "children": []})
        big.limbs[15].children.append(leg.index)
        big.limbs[leg.index] = leg
    write("too_many", to_xml(big, excludes=False), "too many limbs: 11 (at most 10 limbs, 11 bodies)")
    path = tmp_path / "asym.xml"
    path.write_text(text)
    (tmp_path / "asym.json").write_text(json.dumps({"symmetric_limbs": [[0, 10]], "dof": 11, "num_limbs": 8}))
    cases["asymmetric"] = (path, "asymmetric metadata")
    return cases


@pytest.mark.parametrize("case", ["missing", "malformed", "no_torso", "joint_class", "too_many", "asymmetric"])
def test_bad_input_gives_one_clear_line(tmp_path: Path, case: str) -> None:
    path, expect = _bad_inputs(tmp_path)[case]
    proc = subprocess.run(
        [sys.executable, "-m", "unimal_gym", "info", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("unimal-gym: error: ") and expect in lines[0]
    assert path.stem in lines[0]
    assert proc.stdout == ""


def test_an_output_folder_blocked_by_a_file_is_one_line_and_the_file_is_kept(tmp_path: Path, capsys) -> None:
    assert main(["generate", "--count", "1", "--seed", "5", "--out", str(tmp_path / "g")]) == 0
    robot = tmp_path / "g" / "xml" / "unimal-random-000.xml"
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    capsys.readouterr()
    for argv in (
        ["generate", "--count", "1", "--seed", "0", "--out", str(blocker)],
        ["mutate", str(robot), "--count", "1", "--out", str(blocker)],
        ["vary", str(robot), "--out", str(blocker / "inside")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"unimal-gym: error: {blocker}"), err
        assert "(a file stands where a folder is needed)" in err
    assert blocker.read_text() == "mine"


def test_mutate_and_vary_take_a_robot_by_name_as_info_and_render_do(tmp_path: Path, capsys) -> None:
    assert main(["mutate", "unimal-train-000", "--count", "1", "--seed", "2", "--out", str(tmp_path / "m")]) == 0
    assert [p.name.split("-mutate-")[0] for p in (tmp_path / "m" / "xml").iterdir()] == ["unimal-train-000"]
    assert main(["vary", "unimal-train-000", "--dynamics", "1", "--kinematics", "0", "--out", str(tmp_path / "v")]) == 0
    assert len(list((tmp_path / "v" / "xml").iterdir())) == 1
    capsys.readouterr()
    assert main(["mutate", "no-such-robot", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.startswith("unimal-gym: error: unknown robot 'no-such-robot'")


def test_render_refuses_an_image_name_that_is_not_png(tmp_path: Path, capsys) -> None:
    assert main(["render", "unimal-train-000", "-o", str(tmp_path / "robot.txt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"unimal-gym: error: {tmp_path / 'robot.txt'}: an image is written as PNG")
    assert not (tmp_path / "robot.txt").exists()
    assert main(["render", "unimal-train-000", "--video", "-o", str(tmp_path / "robot.png")]) == 2
    assert "a video is written as MP4; name it .mp4" in capsys.readouterr().err


def test_mutate_and_vary_never_replace_another_robot_of_the_same_name(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "v")
    assert main(["vary", "unimal-train-000", "--dynamics", "2", "--kinematics", "0", "--out", out]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "v" / "xml").iterdir()}
    assert main(["vary", "unimal-train-000", "--dynamics", "2", "--kinematics", "0", "--out", out]) == 0  # the same
    capsys.readouterr()
    assert main(["vary", "unimal-train-000", "--dynamics", "2", "--kinematics", "0", "--seed", "5", "--out", out]) == 2
    assert "holds another robot of this name (another --seed?); pass a new --out" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "v" / "xml").iterdir()} == before  # (mutate: same check)


def test_a_folder_given_as_a_robot_and_a_folder_without_robots_say_what_they_are(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["mutate", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    assert "a folder, not a robot file" in capsys.readouterr().err
    assert main(["stats", str(tmp_path / "empty")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no robots in" in captured.err  # no heading printed before the error
