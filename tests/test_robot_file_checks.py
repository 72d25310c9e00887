"""Robot files a careless or hostile user could write: every one ends in one error naming the file.

The checks live in one layer (``unimal_gym.morphology.checks``, docs/design_space.md §5.13). These tests feed it
generated bad files, not a hand-picked list: a seeded generator puts bad numbers into every kind of attribute of
bundled robots, and the property checked is the one a user relies on: ``unimal-gym validate`` and the environment
agree on every file; what they refuse is refused with one line naming the file and the element; what they accept
gives a finite first observation. Metadata JSON, the XML parser's hardening and robot sets (checked before any
worker starts) follow.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from baselines.common.config import ConfigError
from baselines.common.envs import robot_files
from unimal_gym.cli import main as gym_main
from unimal_gym.envs import UnimalEnv
from unimal_gym.envs.robots import bundled_robot_dirs
from unimal_gym.morphology import MorphologyError, RobotFileError, load, to_xml
from unimal_gym.morphology.checks import LIMITS, MAX_XML_DEPTH
from unimal_gym.morphology.errors import RobotTooLargeError

TRAIN = next(d for d in bundled_robot_dirs() if d.name == "train") / "xml"
ROBOTS = [TRAIN / f"unimal-train-{k:03d}.xml" for k in (0, 17, 86)]

# (XPath of the elements, attribute, how many numbers it holds)
ATTRIBUTES = [
    (".//body[@name='torso/0']/geom[@name='torso/0']", "density", 1),
    (".//body[@name='torso/0']/geom[@name='torso/0']", "size", 1),
    (".//body[@name='torso/0']", "pos", 3),
    (".//body[@name='torso/0']//body", "pos", 3),
    (".//body[@name='torso/0']//body/geom", "density", 1),
    (".//body[@name='torso/0']//body/geom", "size", 1),
    (".//body[@name='torso/0']//body/geom", "fromto", 6),
    (".//body[@name='torso/0']//body/joint", "range", 2),
    (".//body[@name='torso/0']//body/joint", "axis", 3),
    (".//body[@name='torso/0']//body/joint", "pos", 3),
    (".//body[@name='torso/0']//body/joint", "damping", 1),
    (".//body[@name='torso/0']//body/joint", "armature", 1),
    (".//body[@name='torso/0']//body/site", "pos", 3),
    ("./actuator/motor", "gear", 1),
]
BAD_NUMBERS = ["abc", "", "nan", "inf", "-inf", "1e400", "0", "-1", "-0.05", "1e6", "1e300", "0x10", "1,2"]


def _one_line_naming(message: str, path: Path) -> bool:
    return "\n" not in message and message.startswith(str(path))


def _env_verdict(path: Path) -> str | None:
    """None if the environment takes the robot (and its first observation is finite), else the error."""
    try:
        env = UnimalEnv(robot=path)
    except MorphologyError as e:
        return str(e)
    obs, _ = env.reset(seed=0)
    assert all(np.isfinite(v).all() for v in obs.values()), f"{path}: accepted but the observation is not finite"
    env.close()
    return None


def _validate_verdict(path: Path, capsys: pytest.CaptureFixture[str]) -> str | None:
    code = gym_main(["validate", str(path)])
    out = capsys.readouterr().out.splitlines()
    assert code in (0, 1) and len(out) == 2, out
    return None if code == 0 else out[0].removeprefix("FAIL ")


def _bad_files(tmp_path: Path, n: int, seed: int) -> list[tuple[Path, str]]:
    """``n`` robot files, each a bundled robot with one attribute given a bad value (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        source = ROBOTS[int(rng.integers(len(ROBOTS)))]
        root = etree.parse(str(source)).getroot()
        xpath, attr, count = ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))]
        elements = root.findall(xpath)
        el = elements[int(rng.integers(len(elements)))]
        good = (el.get(attr) or " ".join(["1"] * count)).split()
        bad = str(BAD_NUMBERS[int(rng.integers(len(BAD_NUMBERS)))])
        if rng.random() < 0.5 and count > 1:  # one coordinate wrong, the others kept
            good[int(rng.integers(count))] = bad
            value = " ".join(good)
        else:
            value = bad
        el.set(attr, value)
        path = tmp_path / f"bad-{k:03d}.xml"
        path.write_bytes(etree.tostring(root))
        out.append((path, f"{el.get('name') or el.tag} {attr}={value!r}"))
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_bad_numbers_validate_and_env_agree(seed: int, tmp_path: Path, capsys) -> None:
    refused = 0
    for path, what in _bad_files(tmp_path, 40, seed):
        by_env, by_validate = _env_verdict(path), _validate_verdict(path, capsys)
        assert (by_env is None) == (by_validate is None), f"{what}: env {by_env!r} vs validate {by_validate!r}"
        if by_env is not None:
            refused += 1
            assert _one_line_naming(by_env, path), by_env
            assert by_env == by_validate
    assert refused >= 30  # the generator mostly writes values no robot may hold


@pytest.mark.parametrize(
    ("xpath", "attr", "value", "message"),
    [
        (".//geom[@name='torso/0']", "density", "abc", r"geom torso/0 density: not a list of numbers: 'abc'"),
        (".//geom[@name='torso/0']", "density", "inf", r"geom torso/0 density: inf is not a density .* \(0, 100000\]"),
        (".//geom[@name='torso/0']", "size", "0.2", r"geom torso/0: a UNIMAL torso is a sphere of size 0.1"),
        (".//body[@name='limb/0']/geom", "size", "0", r"geom limb/0 size: 0 is not a radius in m in \(0, 1\]"),
        (".//joint[@name='limbx/0']", "range", "30 -30", r"range: lower limit 30 is not below upper limit -30"),
        (".//joint[@name='limbx/0']", "axis", "0 0 0", r"joint limbx/0 axis: zero vector"),
        (".//motor[@joint='limbx/0']", "gear", "-150", r"motor limbx/0 gear: -150 is not a motor gear in \(0, 10000\]"),
        (".//body[@name='torso/0']", "pos", "0 0 -1", r"body torso/0 pos z: -1 is not a torso height"),
        (".//body[@name='torso/0']", "pos", "1 0 1", r"body torso/0 pos: x and y must be 0"),
    ],
)  # fmt: skip
def test_each_limit_names_element_and_what_is_allowed(xpath, attr, value, message, tmp_path: Path) -> None:
    root = etree.parse(str(ROBOTS[0])).getroot()
    root.find(xpath).set(attr, value)
    path = tmp_path / "robot.xml"
    path.write_bytes(etree.tostring(root))
    with pytest.raises(RobotFileError, match=message) as err:
        load(path)
    assert _one_line_naming(str(err.value), path)


def test_limits_hold_every_bundled_robot_and_its_variations() -> None:
    """The limits are wide enough for the design space: every bundled robot loads (the oracle robots are loaded by
    the env tests), and the dynamics variations' ranges lie inside them."""
    from unimal_gym.morphology import variations

    for folder in bundled_robot_dirs():
        for f in sorted((folder / "xml").glob("*.xml")):
            load(f)
    assert LIMITS["damping"].allows(variations.DAMPING_RANGE[1]) and LIMITS["armature"].allows(0.1)
    assert LIMITS["gear"].allows(300 * variations.GEAR_SCALE[1])
    assert LIMITS["density"].allows(1000 * variations.DENSITY_SCALE[1])


def test_a_robot_with_more_hinges_than_the_layout_holds_fails_validate_like_the_env(tmp_path: Path, capsys) -> None:
    robot = load(ROBOTS[2])  # 10 limbs
    for limb in robot.limbs.values():  # every limb two hinges: 20 > MAX_JOINTS = 16
        if len(limb.joints) == 1:
            other = "y" if limb.joints[0].axis == "x" else "x"
            limb.joints = sorted(
                [limb.joints[0], dataclasses.replace(limb.joints[0], axis=other)], key=lambda j: j.axis
            )
    path = tmp_path / "many-hinges.xml"
    path.write_text(to_xml(robot, excludes=False))
    assert load(path).dof == 20  # a valid design-space file ...
    with pytest.raises(RobotTooLargeError, match="20 hinge joints; the environments hold at most") as err:
        UnimalEnv(robot=path)  # ... that the environments cannot hold
    assert _one_line_naming(str(err.value), path)
    assert _validate_verdict(path, capsys) == str(err.value)


def test_validate_goes_on_after_a_bad_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "a-bad.xml"
    bad.write_text(ROBOTS[0].read_text().replace('density="', 'density="x', 1))
    good = tmp_path / "b-good.xml"
    good.write_text(ROBOTS[1].read_text())
    assert gym_main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"FAIL {bad}: ") and out[1].startswith(f"ok   {good}") and out[2] == "1 valid, 1 invalid"


# ---------------------------------------------------------------------------- metadata JSON
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "metadata must be a JSON object, got list"),
        ('"text"', "metadata must be a JSON object, got str"),
        ('{"symmetric_limbs": "ab"}', "symmetric_limbs must be a list of"),
        ('{"symmetric_limbs": [["a", "b"]]}', "symmetric_limbs must be a list of"),
        ('{"symmetric_limbs": [[1, 2, 3]]}', "symmetric_limbs must be a list of"),
        ('{"symmetric_limbs": [[true, false]]}', "symmetric_limbs must be a list of"),
        ('{"num_limbs": "seven"}', "num_limbs must be an integer"),
        ('{"dof": 2.5}', "dof must be an integer"),
        ('{"num_limbs": 99}', "metadata says num_limbs=99 but the XML has"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply|bytes; a metadata file is at most"),
        ("{" * 30_000, "nested too deeply|bytes; a metadata file is at most|cannot read metadata JSON"),
        ("[" * 5_000 + "]" * 5_000, "nested too deeply|must be a JSON object"),
        ("{not json", "cannot read metadata JSON"),
        ("\xff\xfe", "cannot read metadata JSON"),
    ],
)
def test_malformed_metadata_is_one_error_naming_the_json(content: str, message: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "xml").mkdir()
    (tmp_path / "metadata").mkdir()
    xml = tmp_path / "xml" / "robot.xml"
    xml.write_text(ROBOTS[0].read_text())
    meta = tmp_path / "metadata" / "robot.json"
    meta.write_text(content, encoding="latin-1" if content.startswith("\xff") else "utf-8")
    with pytest.raises(RobotFileError, match=message) as err:
        load(xml)
    assert _one_line_naming(str(err.value), meta)
    assert _env_verdict(xml) == str(err.value)
    assert _validate_verdict(xml, capsys) == str(err.value)


def test_metadata_passed_as_a_dict_is_checked_too() -> None:
    from unimal_gym.morphology import from_xml

    with pytest.raises(RobotFileError, match="<meta>: symmetric_limbs must be"):
        from_xml(ROBOTS[0].read_bytes(), metadata={"symmetric_limbs": [[None, 1]]}, metadata_source="<meta>")  # type: ignore[dict-item]
    robot = from_xml(
        ROBOTS[0].read_bytes(), metadata=json.loads((TRAIN.parent / "metadata" / "unimal-train-000.json").read_text())
    )
    assert robot.symmetric_pairs == load(ROBOTS[0]).symmetric_pairs


# ---------------------------------------------------------------------------- the XML parser
def _with_doctype(doctype: str, body_text: str = "") -> bytes:
    text = ROBOTS[0].read_text().split("\n", 1)[1]  # drop the XML declaration
    text = text.replace(
        '<geom name="torso/0"', f'<geom name="torso/0" rgba="{body_text}"' if body_text else '<geom name="torso/0"', 1
    )
    return f'<?xml version="1.0"?>\n{doctype}\n{text}'.encode()


def test_entities_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    laughs = "".join(f'<!ENTITY l{k} "{f"&l{k - 1};" * 10}">' for k in range(1, 10))
    cases = {
        "billion laughs": _with_doctype(f'<!DOCTYPE mujoco [<!ENTITY l0 "ha">{laughs}]>', "&l9;"),
        "external file": _with_doctype(f'<!DOCTYPE mujoco [<!ENTITY x SYSTEM "file://{secret}">]>', "&x;"),
        "external DTD": _with_doctype('<!DOCTYPE mujoco SYSTEM "http://example.invalid/robot.dtd">'),
        "parameter entity": _with_doctype(f'<!DOCTYPE mujoco [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'),
    }
    for name, data in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.xml"
        path.write_bytes(data)
        with pytest.raises(RobotFileError) as err:
            load(path)
        message = str(err.value)
        assert _one_line_naming(message, path) and "TOP-SECRET" not in message, (name, message)
        assert "DOCTYPE" in message or "malformed XML" in message, (name, message)


def test_xinclude_is_not_processed(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<body name="limb/77" pos="0 0 0"/>')
    text = (
        ROBOTS[0]
        .read_text()
        .replace("<mujoco", '<mujoco xmlns:xi="http://www.w3.org/2001/XInclude"', 1)
        .replace('<geom name="torso/0"', f'<xi:include href="{other}"/><geom name="torso/0"', 1)
    )
    path = tmp_path / "robot.xml"
    path.write_text(text)
    assert sorted(load(path).limbs) == sorted(load(ROBOTS[0]).limbs)  # no limb/77


def test_deep_and_huge_documents_are_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.xml"
    deep.write_text("<mujoco>" + "<a>" * (MAX_XML_DEPTH + 5) + "</a>" * (MAX_XML_DEPTH + 5) + "</mujoco>")
    with pytest.raises(RobotFileError, match=rf"nested {MAX_XML_DEPTH + 1} deep; at most {MAX_XML_DEPTH}"):
        load(deep)
    very_deep = tmp_path / "very-deep.xml"
    very_deep.write_text("<mujoco>" + "<a>" * 300_000 + "</a>" * 300_000 + "</mujoco>")
    with pytest.raises(RobotFileError, match=r"bytes; robot files are at most|malformed XML|nested"):
        load(very_deep)
    huge = tmp_path / "huge.xml"
    huge.write_text(ROBOTS[0].read_text().replace("<worldbody>", "<worldbody>" + "<!-- pad -->" * 200_000, 1))
    with pytest.raises(RobotFileError, match=r"bytes; robot files are at most 1,048,576 bytes"):
        load(huge)


# ---------------------------------------------------------------------------- robot sets
def test_a_set_with_one_bad_robot_is_refused_before_any_worker(tmp_path: Path) -> None:
    for f in ROBOTS:
        (tmp_path / f.name).write_text(f.read_text())
    bad = tmp_path / "unimal-train-050.xml"
    bad.write_text(re.sub(r'gear="[^"]*"', 'gear="nan"', ROBOTS[0].read_text(), count=1))
    with pytest.raises(ConfigError) as err:
        robot_files(tmp_path)
    message = str(err.value)
    assert "\n" not in message and re.search(
        rf"--robots '{tmp_path}': {bad}: motor .* gear: .* not a motor gear", message
    )
    assert len(robot_files(tmp_path, limit=2)) == 2  # a limit reads only the robots it keeps


def test_ppo_refuses_a_bad_set_in_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    from baselines.ppo.__main__ import main as ppo_main

    robots = tmp_path / "robots"
    robots.mkdir()
    root = etree.parse(str(ROBOTS[0])).getroot()
    root.find(".//joint[@name='limbx/0']").set("range", "90 -30")
    (robots / "r.xml").write_bytes(etree.tostring(root))
    assert ppo_main(["--preset", "smoke", "--robots", str(robots), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(robots / "r.xml") in err and "range" in err
    assert not (tmp_path / "run").exists()
