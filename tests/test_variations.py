"""Dynamics and kinematics variations, and the zero-action rest check."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_shared, train_robot_files

from unimal_gym.envs.rest import rest_rollout
from unimal_gym.morphology import MutationError, compile_robot, from_xml, load, to_xml
from unimal_gym.morphology.mutate import validity_failure
from unimal_gym.morphology.variations import (
    ARMATURE_RANGE,
    DAMPING_RANGE,
    DENSITY_SCALE,
    DYNAMICS_KINDS,
    GEAR_SCALE,
    KINEMATICS_KINDS,
    dynamics_variation,
    kinematics_variation,
    variants,
)

pytestmark = needs_shared  # every test reads the original robots

ROBOTS = train_robot_files()[::10]


@pytest.mark.parametrize("kind", DYNAMICS_KINDS)
@pytest.mark.parametrize("path", ROBOTS[:4], ids=lambda p: p.stem)
def test_dynamics_variation_changes_only_its_parameter(path, kind) -> None:
    robot = load(path)
    varied = dynamics_variation(robot, np.random.default_rng(0), kind)
    assert to_xml(load(path)) == to_xml(robot), "input must not be modified"
    a, b = compile_robot(robot), compile_robot(varied)
    same = {"body_pos", "geom_size", "jnt_range", "jnt_axis", "jnt_pos"}
    for field in same:
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    changed = {"armature": b.dof_armature[6:], "damping": b.dof_damping[6:], "gear": b.actuator_gear[:, 0]}
    if kind == "density":
        assert not np.array_equal(a.body_mass, b.body_mass)
        assert DENSITY_SCALE[0] * robot.limb_density <= varied.limb_density <= DENSITY_SCALE[1] * robot.limb_density
    elif kind == "gear":
        ratio = changed["gear"] / a.actuator_gear[:, 0]
        assert np.all((ratio >= GEAR_SCALE[0] - 1e-3) & (ratio <= GEAR_SCALE[1] + 1e-3))
        assert np.array_equal(a.body_mass, b.body_mass)
    else:
        lo, hi = ARMATURE_RANGE if kind == "armature" else DAMPING_RANGE
        assert np.all((changed[kind] >= lo) & (changed[kind] <= hi))
        assert len(np.unique(changed[kind])) > 1
    # pair members stay identical, the file round-trips
    for x, y in varied.symmetric_pairs:

        def params(i: int) -> list[tuple]:
            return [(j.axis, j.range, j.gear, j.damping, j.armature) for j in varied.limbs[i].joints]

        assert params(x) == params(y)
    assert to_xml(from_xml(to_xml(varied))) == to_xml(varied)


def test_dynamics_variation_is_reproducible_and_checks_kind() -> None:
    robot = load(ROBOTS[0])
    one = dynamics_variation(robot, np.random.default_rng(7))
    two = dynamics_variation(robot, np.random.default_rng(7))
    assert to_xml(one) == to_xml(two)
    with pytest.raises(MutationError, match="unknown dynamics variation 'mass'"):
        dynamics_variation(robot, np.random.default_rng(0), "mass")


@pytest.mark.parametrize("path", train_robot_files(), ids=lambda p: p.stem)
def test_original_robots_survive_zero_action(path) -> None:
    """Every original robot drops and rests without a physics error (some sag below the threshold)."""
    report = rest_rollout(load(path), steps=50)
    assert report.physics_ok
    assert 0.0 < report.torso_height < load(path).torso_z + 0.01


def test_rest_check_flags_a_robot_that_cannot_stand() -> None:
    """A torso with one horizontal stub limb falls below the FT threshold."""
    robot = load(ROBOTS[0])
    keep = robot.torso_children[0]
    robot.torso_children = [keep]
    robot.limbs[keep].children = []
    robot.limbs = {keep: robot.limbs[keep]}
    robot.symmetric_pairs = []
    robot.torso_z = 2.0  # dropped from high above: must land far below 0.5·(2.0 − 0.2)
    report = rest_rollout(robot)
    assert report.physics_ok and not report.stands and not report.ok


@pytest.mark.parametrize("kind", KINEMATICS_KINDS)
@pytest.mark.parametrize("path", ROBOTS, ids=lambda p: p.stem)
def test_kinematics_variation_is_valid_and_changes_one_unit(path, kind) -> None:
    robot = load(path)
    varied = kinematics_variation(robot, np.random.default_rng(3), kind)
    assert validity_failure(varied) is None  # symmetric, no contact outside the allowed pairs
    assert varied.torso_z == varied.head_height()
    changed = [
        i
        for i in robot.limbs
        if robot.limbs[i].direction != varied.limbs[i].direction or robot.limbs[i].height != varied.limbs[i].height
    ]
    assert changed and tuple(changed) in varied.units()
    if kind == "length":
        assert all(robot.limbs[i].direction == varied.limbs[i].direction for i in changed)
    else:
        assert all(robot.limbs[i].height == varied.limbs[i].height for i in changed)
    assert [j.range for limb in varied.iter_limbs() for j in limb.joints] == [
        j.range for limb in robot.iter_limbs() for j in limb.joints
    ]
    assert to_xml(from_xml(to_xml(varied))) == to_xml(varied)
    assert rest_rollout(varied, steps=25).physics_ok


def test_variants_follow_metamorph_counts() -> None:
    robot = load(ROBOTS[1])
    out = variants(robot, np.random.default_rng(0))
    assert len(out) == 24
    assert [v.name.split("-")[-1] for v in out[:4]] == list(DYNAMICS_KINDS)
    assert {v.name.split("-")[-1] for v in out[16:]} == set(KINEMATICS_KINDS)
    assert len({to_xml(v) for v in out}) == 24


def test_kinematics_variation_bad_kind() -> None:
    with pytest.raises(MutationError, match="unknown kinematics variation 'twist'"):
        kinematics_variation(load(ROBOTS[0]), np.random.default_rng(0), "twist")
