"""Reading and writing robot files: round trip on the 100 original robots, and bad input."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import mujoco
import numpy as np
import pytest
from conftest import SHARED, needs_shared, train_robot_files

from unimal_gym.morphology import RobotFileError, from_xml, load, metadata, save, to_xml
from unimal_gym.morphology.geometry import joint_axis_vector, round2, sph2cart
from unimal_gym.morphology.tree import TORSO_RADIUS, limb_geometry

COMPILED_FIELDS = [
    "body_pos",
    "body_quat",
    "body_parentid",
    "body_mass",
    "body_inertia",
    "body_ipos",
    "body_iquat",
    "geom_type",
    "geom_size",
    "geom_pos",
    "geom_quat",
    "geom_bodyid",
    "geom_friction",
    "geom_condim",
    "jnt_type",
    "jnt_axis",
    "jnt_range",
    "jnt_pos",
    "jnt_bodyid",
    "dof_damping",
    "dof_armature",
    "jnt_stiffness",
    "actuator_gear",
    "actuator_trnid",
    "actuator_ctrlrange",
    "site_pos",
]


@needs_shared
@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_round_trip_compiles_identically(path: Path) -> None:
    morph = load(path)
    original = mujoco.MjModel.from_xml_path(str(path))
    written = mujoco.MjModel.from_xml_string(to_xml(morph))
    for field in COMPILED_FIELDS:
        a, b = getattr(original, field), getattr(written, field)
        assert a.shape == b.shape and np.array_equal(a, b), f"{path.stem}: {field} differs"
    names = [original.actuator(i).name for i in range(original.nu)]
    assert names == [written.actuator(i).name for i in range(written.nu)]
    assert names == morph.joint_names()


@needs_shared
@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_metadata_matches_original(path: Path) -> None:
    morph = load(path)
    meta = json.loads((path.parent.parent / "metadata" / f"{path.stem}.json").read_text())
    ours = metadata(morph)
    assert ours["num_limbs"] == meta["num_limbs"] and ours["dof"] == meta["dof"]
    assert ours["symmetric_limbs"] == sorted(meta["symmetric_limbs"])
    # without the JSON, pairs are inferred from the mirror sites and agree
    inferred = from_xml(path.read_bytes(), name=path.stem)
    assert inferred.symmetric_pairs == morph.symmetric_pairs


@needs_shared
def test_limb_tree_of_worked_example() -> None:
    """docs/design_space.md §5.11: floor-1409-0-12-01-12-30-07."""
    morph = load(SHARED / "unimal/train/xml/floor-1409-0-12-01-12-30-07.xml")
    assert [limb.index for limb in morph.iter_limbs()] == [0, 15, 10, 12, 13, 16, 14, 17]
    expect = {
        0: ("torso/0", (0, 90), 0.2),
        15: ("limb/btm/0", (0, 180), 0.4),
        10: ("torso/0", (180, 135), 0.4),
        12: ("limb/mid/10", (0, 180), 0.2),
        13: ("limb/btm/12", (90, 90), 0.3),
        14: ("limb/btm/12", (270, 90), 0.3),
        16: ("limb/btm/13", (180, 90), 0.4),
        17: ("limb/btm/14", (180, 90), 0.4),
    }
    for idx, (site, direction, h) in expect.items():
        limb = morph.limbs[idx]
        assert (limb.site, limb.direction, limb.height) == (site, direction, h)
    assert morph.symmetric_pairs == [(13, 14), (16, 17)]
    assert morph.torso_z == 0.75 and morph.head_height() == 0.75
    assert morph.limbs[15].joint_set == "xy" and morph.limbs[15].joints[0].range == (-30.0, 60.0)
    assert ("limb/13", "limb/14") in morph.contact_pairs


@needs_shared
def test_excludes_written_for_touching_siblings() -> None:
    xml = to_xml(load(SHARED / "unimal/train/xml/floor-1409-0-12-01-12-30-07.xml"))
    assert re.findall(r'<exclude name="([^"]+)"', xml) == ["limb/13:limb/14"]


@needs_shared
@pytest.mark.parametrize("path", train_robot_files()[:20], ids=lambda p: p.stem)
def test_axis_formula_matches_compiled_geom_frame(path: Path) -> None:
    """docs/design_space.md §2.5: joint axes are the capsule frame's columns, rounded to 4 decimals."""
    morph = load(path)
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    for limb in morph.limbs.values():
        xmat = data.geom(limb.name).xmat.reshape(3, 3)
        for j in limb.joints:
            col = xmat[:, {"x": 0, "y": 1}[j.axis]]
            assert np.array_equal(np.round(col, 4) + 0.0, np.array(joint_axis_vector(limb.to, j.axis)) + 0.0)
            assert np.array_equal(np.array(j.vector) + 0.0, np.round(col, 4) + 0.0)


@needs_shared
@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_placement_formulas_reproduce_original_limbs(path: Path) -> None:
    """docs/design_space.md §2.4: every limb's geometry follows from (site, θ, φ, h).

    Body positions are the unrounded sum (grow_limb) or its 2-decimal rounding (limb_params);
    ``btm_pos`` is the capsule tip, or the ``btm`` site for limbs that carry bug B1.
    """
    morph = load(path)
    for limb in morph.limbs.values():
        parent_radius = TORSO_RADIUS if limb.parent < 0 else morph.limbs[limb.parent].radius
        geo = limb_geometry(morph.site_position(limb.site), parent_radius, limb.theta, limb.phi, limb.height)
        assert (limb.to, limb.mid, limb.btm, limb.joint_pos) == (geo["to"], geo["mid"], geo["btm"], geo["joint_pos"])
        assert limb.pos in (geo["pos"], round2(geo["pos"]))
        assert limb.btm_pos in (geo["btm_pos"], geo["btm"])


def test_sph2cart_rounds_half_to_even_and_drops_negative_zero() -> None:
    assert sph2cart(0.125, 0, 90) == (0.12, 0.0, 0.0)  # 12.5 → 12 (half to even)
    assert sph2cart(0.35, 0, 180) == (0.0, 0.0, -0.35)
    assert str(sph2cart(0.1, 180, 90)[1]) == "0.0"


@needs_shared
def test_save_writes_benchmark_layout(tmp_path: Path) -> None:
    morph = load(SHARED / "unimal/train/xml/floor-1409-0-12-01-12-30-07.xml")
    xml_path = save(morph, tmp_path)
    assert xml_path == tmp_path / "xml" / f"{morph.name}.xml"
    meta = json.loads((tmp_path / "metadata" / f"{morph.name}.json").read_text())
    assert meta == {"symmetric_limbs": [[13, 14], [16, 17]], "dof": 11, "num_limbs": 8}
    again = load(xml_path)
    assert to_xml(again) == to_xml(morph)
    assert not list(tmp_path.rglob("*.tmp"))


# ------------------------------------------------------------------------------------ bad input
EXAMPLE = SHARED / "unimal/train/xml/floor-1409-0-12-01-12-30-07.xml"


def _edit(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "robot.xml"
    path.write_text(text.replace(old, new, count))
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RobotFileError, match=r"nope\.xml: no such file"):
        load(tmp_path / "nope.xml")


def test_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<mujoco><worldbody></mujoco>")
    with pytest.raises(RobotFileError, match=r"bad\.xml: malformed XML at line 1, column \d+: [^,]*$") as err:
        load(path)
    assert str(err.value).count("line 1") == 2  # the place once, and the tag's line inside libxml2's message


@needs_shared
def test_no_torso(tmp_path: Path) -> None:
    with pytest.raises(RobotFileError, match="no torso"):
        load(_edit(tmp_path, 'body name="torso/0"', 'body name="head"'))


@needs_shared
def test_unknown_joint_class(tmp_path: Path) -> None:
    path = _edit(
        tmp_path, 'name="limby/0" type="hinge" class="normal_joint"', 'name="limby/0" type="hinge" class="wobbly"'
    )
    with pytest.raises(RobotFileError, match="limby/0: unknown joint class 'wobbly'"):
        load(path)


@needs_shared
def test_asymmetric_metadata(tmp_path: Path) -> None:
    path = tmp_path / "robot.xml"
    path.write_text(EXAMPLE.read_text())
    meta = tmp_path / "robot.json"
    meta.write_text(json.dumps({"symmetric_limbs": [[0, 15]], "dof": 11, "num_limbs": 8}))
    with pytest.raises(RobotFileError, match=r"robot\.json: asymmetric metadata: pair \[0, 15\]"):
        load(path)
    meta.write_text(json.dumps({"symmetric_limbs": [[13, 99]]}))
    with pytest.raises(RobotFileError, match="limb/99 is not in the XML"):
        load(path)


@needs_shared
def test_too_many_limbs(tmp_path: Path) -> None:
    morph = load(EXAMPLE)
    for k in range(3):  # three more straight-down legs under limb 15: 11 limbs
        leg = copy.deepcopy(morph.limbs[15])
        leg.index, leg.parent, leg.children = 30 + k, 15 if k == 0 else 29 + k, []
        morph.limbs[leg.parent].children.append(leg.index)
        morph.limbs[leg.index] = leg
    path = tmp_path / "big.xml"
    path.write_text(to_xml(morph, excludes=False))
    with pytest.raises(RobotFileError, match=r"big\.xml: too many limbs: 11 \(at most 10 limbs, 11 bodies\)"):
        load(path)


def test_height_of_diagonal_limb_is_exact() -> None:
    """A (135°, 135°) limb with h = 0.3 has |to| − r = 0.3097; the exact match gives h = 0.3."""
    from unimal_gym.morphology.mjcf import _height_of

    assert _height_of((-0.18, 0.18, -0.25), 0.05, 135, 135) == 0.3
    assert _height_of((0.0, 0.0, -0.33), 0.05, 0, 180) == 0.28  # outside the design space: rounded
