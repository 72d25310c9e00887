"""The seven mutation operators of docs/design_space.md §4 on the original training robots."""

from __future__ import annotations

from collections import Counter

import mujoco
import numpy as np
import pytest
from conftest import require_shared, train_robot_files
from lxml import etree

from unimal_gym.morphology import (
    OPERATORS,
    Morphology,
    NoOperatorError,
    OperatorNotAllowedError,
    allowed_operators,
    apply_operator,
    compile_robot,
    delete_limb,
    from_xml,
    grow_limb,
    limb_params,
    load,
    mutate,
    to_xml,
)
from unimal_gym.morphology.geometry import joint_axis_vector, sph2cart
from unimal_gym.morphology.mjcf import _build_tree
from unimal_gym.morphology.mutate import GEARS, JOINT_RANGES, growth_sites, validity_failure
from unimal_gym.morphology.tree import MAX_DESIGN_LIMBS, limb_geometry


@pytest.fixture(scope="module")
def robots() -> list[Morphology]:
    """The original training robots: the tests that use them are skipped without ../shared."""
    require_shared()
    return [load(p) for p in train_robot_files()]


def subtree_com_y(robot: Morphology) -> float:
    model = mujoco.MjModel.from_xml_string(etree.tostring(_build_tree(robot), encoding="unicode"))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return float(data.subtree_com[model.body("torso/0").id][1])


def check_robot(robot: Morphology) -> None:
    """Compiles, writes and re-reads to the same file, has at most 10 limbs and consistent bookkeeping."""
    compile_robot(robot)
    text = to_xml(robot, excludes=False)
    again = from_xml(text, name=robot.name)
    assert to_xml(again, excludes=False) == text
    assert again.symmetric_pairs == sorted(robot.symmetric_pairs)
    assert again.contact_pairs == robot.contact_pairs
    assert robot.num_limbs <= MAX_DESIGN_LIMBS
    assert robot.next_index > max(robot.limbs, default=-1)
    assert len(list(robot.iter_limbs())) == robot.num_limbs


def without(robot: Morphology, *fields: str) -> dict:
    """The robot's state as a dict, minus the named fields (for "nothing else changed" checks)."""
    state = dict(vars(robot.copy()))
    for f in fields:
        state.pop(f)
    return state


def without_pos(limb: object) -> dict:
    state = dict(vars(limb))
    state.pop("pos")
    return state


# ---------------------------------------------------------------------------- §4.1 operator choice
def test_exclusion_rules(robots: list[Morphology]) -> None:
    torso = Morphology(name="torso", torso_z=0.3, torso_density=500.0, limb_density=500.0)
    assert allowed_operators(torso) == ["grow_limb"]
    assert allowed_operators(torso, ["density"]) == []
    with pytest.raises(NoOperatorError, match="torso"):
        mutate(torso, 1, np.random.default_rng(0), operators=["density"])
    with pytest.raises(OperatorNotAllowedError, match="torso"):
        apply_operator(torso, "gear", np.random.default_rng(0))
    ten = next(r for r in robots if r.num_limbs == MAX_DESIGN_LIMBS)
    assert "grow_limb" not in allowed_operators(ten) and len(allowed_operators(ten)) == 6
    with pytest.raises(OperatorNotAllowedError, match=ten.name):
        grow_limb(ten, np.random.default_rng(0))
    two = ten.copy()
    rng = np.random.default_rng(1)
    while two.num_limbs > 2:
        two, _ = mutate(two, 1, rng, operators=["delete_limb"])
    assert two.num_limbs in (1, 2)
    assert "delete_limb" not in allowed_operators(two) and "grow_limb" in allowed_operators(two)
    with pytest.raises(OperatorNotAllowedError):
        delete_limb(two, rng)
    with pytest.raises(ValueError, match="unknown"):
        mutate(ten, 1, rng, operators=["explode"])


def test_ten_limb_robot_never_grows(robots: list[Morphology]) -> None:
    rng = np.random.default_rng(2)
    tens = [r for r in robots if r.num_limbs == MAX_DESIGN_LIMBS]
    assert tens
    names = Counter()
    for k in range(300):
        _, ops = mutate(tens[k % len(tens)], 1, rng)
        names[ops[0].name] += 1
    assert "grow_limb" not in names and set(names) == set(OPERATORS) - {"grow_limb"}


def test_choice_is_uniform(robots: list[Morphology]) -> None:
    rng = np.random.default_rng(3)
    names = Counter(mutate(robots[0], 1, rng, operators=[op for op in OPERATORS if op != "grow_limb"])[1][0].name
                    for _ in range(1200))  # fmt: skip
    assert len(names) == 6 and all(150 < c < 250 for c in names.values())


def test_mutate_returns_new_robot_and_is_reproducible(robots: list[Morphology]) -> None:
    parent = robots[5]
    before = to_xml(parent, excludes=False)
    a, ops_a = mutate(parent, 6, np.random.default_rng(42))
    b, ops_b = mutate(parent, 6, np.random.default_rng(42))
    assert to_xml(parent, excludes=False) == before
    assert to_xml(a) == to_xml(b) and ops_a == ops_b and len(ops_a) == 6
    c, _ = mutate(parent, 6, np.random.default_rng(43))
    assert to_xml(c) != to_xml(a)
    same, none = mutate(parent, 0, np.random.default_rng(0))
    assert none == [] and to_xml(same, excludes=False) == before
    with pytest.raises(ValueError, match=">= 0"):
        mutate(parent, -1, np.random.default_rng(0))


# ---------------------------------------------------------------------------- §4.2 grow_limb
def test_grow_limb_effects(robots: list[Morphology]) -> None:
    rng = np.random.default_rng(4)
    outcomes = Counter()
    for robot in robots[::3]:
        if robot.num_limbs == MAX_DESIGN_LIMBS:
            continue
        child, op = grow_limb(robot, rng)
        added = op.details["added"]
        outcomes[len(added)] += 1
        assert child.num_limbs - robot.num_limbs == len(added) and op.applied == bool(added)
        assert child.torso_z == child.head_height()
        if not added:
            assert without(child, "torso_z") == without(robot, "torso_z")
            continue
        assert added == list(range(robot.next_index, robot.next_index + len(added)))
        assert child.next_index == robot.next_index + len(added)
        assert validity_failure(child) is None and subtree_com_y(child) == 0.0
        for i in robot.limbs:  # old limbs keep everything but their child lists
            old, new = robot.limbs[i], child.limbs[i]
            assert (old.pos, old.to, old.joints, old.btm_pos) == (new.pos, new.to, new.joints, new.btm_pos)
        for i, site, (theta, phi) in zip(added, op.details["sites"], op.details["directions"], strict=True):
            limb = child.limbs[i]
            assert limb.site == site and limb.children == []
            old_children = robot.children_of(limb.parent)
            new_children = child.children_of(limb.parent)  # appended as last child(ren)
            assert new_children[: len(old_children)] == old_children and i in new_children[len(old_children) :]
            geo = limb_geometry(child.site_position(site), 0.1 if limb.parent < 0 else 0.05, theta, phi, limb.height)
            assert (limb.pos, limb.to, limb.mid, limb.btm, limb.btm_pos) == (
                geo["pos"],
                geo["to"],
                geo["mid"],
                geo["btm"],
                geo["btm_pos"],
            )
            assert all(j.vector == joint_axis_vector(limb.to, j.axis) for j in limb.joints)
        if len(added) == 2:
            a, b = (child.limbs[i] for i in added)
            assert (a.index, b.index) in child.symmetric_pairs and a.mirror and b.mirror
            assert a.height == b.height and [(j.axis, j.range, j.gear) for j in a.joints] == [
                (j.axis, j.range, j.gear) for j in b.joints
            ]
            if a.site == b.site:  # pair at one growth site: mirrored direction (§2.7)
                assert (b.theta, b.phi) == ((360 - a.theta) % 360, a.phi) and a.theta not in (0, 180)
            else:  # pair at mirror sites: same direction, primary site is the lexicographically smaller
                assert a.direction == b.direction and a.site < b.site
        check_robot(child)
    assert outcomes[1] and outcomes[2]


def test_grow_from_torso_alone() -> None:
    torso = Morphology(name="torso", torso_z=0.3, torso_density=700.0, limb_density=800.0)
    rng = np.random.default_rng(5)
    for _ in range(20):
        child, op = grow_limb(torso, rng)
        assert op.applied and child.num_limbs in (1, 2) and set(child.torso_children) == set(child.limbs)
        assert all(limb.site == "torso/0" for limb in child.limbs.values())
        assert validity_failure(child) is None
        check_robot(child)


def test_validity_check_rejects_asymmetry_and_contacts() -> None:
    torso = Morphology(name="t", torso_z=0.3, torso_density=700.0, limb_density=800.0)
    child, _ = grow_limb(torso, np.random.default_rng(6))
    assert validity_failure(child) is None
    assert validity_failure(child, set()) == "contact"  # the parent–child contacts are reported
    side, _ = grow_limb(torso, np.random.default_rng(6))
    limb = side.limbs[side.torso_children[0]]
    geo = limb_geometry((0.0, 0.0, 0.0), 0.1, 90, 90, limb.height)
    limb.theta, limb.phi, limb.pos, limb.to = 90, 90, geo["pos"], geo["to"]
    side.symmetric_pairs, side.limbs = [], {limb.index: limb}
    side.torso_children = [limb.index]
    assert validity_failure(side, {("limb/0", "torso/0")}) == "symmetry"


def test_growth_sites_order(robots: list[Morphology]) -> None:
    robot = robots[0]
    sites = growth_sites(robot)
    assert sites[0] == "torso/0" and len(sites) == 1 + 2 * robot.num_limbs
    assert sites[1:3] == [f"limb/mid/{robot.torso_children[0]}", f"limb/btm/{robot.torso_children[0]}"]


# ---------------------------------------------------------------------------- §4.4–4.7
def test_delete_limb_effects(robots: list[Morphology]) -> None:
    rng = np.random.default_rng(7)
    sizes = Counter()
    for robot in robots[::4]:
        child, op = delete_limb(robot, rng)
        removed = op.details["removed"]
        sizes[len(removed)] += 1
        assert tuple(removed) in robot.units() and all(not robot.limbs[i].children for i in removed)
        assert set(robot.limbs) - set(child.limbs) == set(removed)
        assert child.torso_z == robot.torso_z and child.next_index == robot.next_index  # B2, §3
        assert not any(f"limb/{i}" in pair for i in removed for pair in child.contact_pairs)
        for i in child.limbs:
            assert child.limbs[i].pos == robot.limbs[i].pos and child.limbs[i].joints == robot.limbs[i].joints
        fixed, _ = delete_limb(robot, np.random.default_rng(len(sizes)), stale_head=False)
        assert fixed.torso_z == fixed.head_height()
        check_robot(child)
    assert sizes[1] and sizes[2]


def test_limb_params_effects(robots: list[Morphology]) -> None:
    rng = np.random.default_rng(8)
    for robot in robots[::5]:
        child, op = limb_params(robot, rng)
        unit, h = op.details["unit"], op.details["height"]
        moved = set(unit) | {c for i in unit for c in robot.limbs[i].children}
        for i, limb in child.limbs.items():
            old = robot.limbs[i]
            if i in unit:
                assert limb.height == h and limb.direction == old.direction
                assert limb.btm_pos == limb.btm == sph2cart(0.05 + h, limb.theta, limb.phi)  # B1
            elif i in moved:  # a direct child: only its position follows the new site
                assert without_pos(limb) == without_pos(old)
            else:
                assert limb == old
        assert child.torso_z == child.head_height()
        assert child.torso_density == robot.torso_density and child.symmetric_pairs == robot.symmetric_pairs
        fixed, op2 = limb_params(robot, np.random.default_rng(int(h * 10)), btm_pos_bug=False)
        for i in op2.details["unit"]:
            limb = fixed.limbs[i]
            assert limb.btm_pos == sph2cart(0.1 + limb.height, limb.theta, limb.phi)
        check_robot(child)


@pytest.mark.parametrize("name", ["density", "gear", "joint_angle", "dof"])
def test_value_ops_change_only_their_values(robots: list[Morphology], name: str) -> None:
    rng = np.random.default_rng(9)
    scopes = Counter()
    for robot in robots[::5]:
        child, op = apply_operator(robot, name, rng)
        if name == "density":
            assert without(child, "limb_density", "torso_density") == without(robot, "limb_density", "torso_density")
            check_robot(child)
            continue
        scopes[op.details["scope"]] += 1
        units = op.details["units"]
        assert len(units) == (len(robot.units()) if op.details["scope"] == "all" else 1)
        touched = {i for u in units for i in u}
        assert child.torso_z == robot.torso_z and child.limb_density == robot.limb_density
        for i, limb in child.limbs.items():
            old = robot.limbs[i]
            assert (limb.pos, limb.to, limb.joint_pos, limb.children) == (old.pos, old.to, old.joint_pos, old.children)
            if i not in touched:
                assert limb.joints == old.joints
                continue
            if name == "gear":
                assert [(j.axis, j.range) for j in limb.joints] == [(j.axis, j.range) for j in old.joints]
                assert all(j.gear in GEARS for j in limb.joints)
            elif name == "joint_angle":
                assert [(j.axis, j.gear) for j in limb.joints] == [(j.axis, j.gear) for j in old.joints]
                assert all(j.range in JOINT_RANGES for j in limb.joints)
            else:
                assert limb.joint_set in ("x", "y", "xy")
                assert all(j.vector == joint_axis_vector(limb.to, j.axis) for j in limb.joints)
        for a, b in child.symmetric_pairs:  # pair members always agree
            ja, jb = child.limbs[a].joints, child.limbs[b].joints
            assert [(j.axis, j.range, j.gear) for j in ja] == [(j.axis, j.range, j.gear) for j in jb]
        check_robot(child)
    if name != "density":
        assert scopes["all"] and scopes["one"]


# ---------------------------------------------------------------------------- fuzz
@pytest.mark.slow
def test_fuzz_chains_from_training_robots(robots: list[Morphology]) -> None:
    """Random op chains stay valid: compile, round trip, ≤ 10 limbs, symmetric, contact-free grows."""
    rng = np.random.default_rng(10)
    names = Counter()
    robot = robots[0]
    for step in range(1500):
        if step % 15 == 0:  # chains of 15 ops, each from the next training robot
            robot = robots[(step // 15) % len(robots)]
        symmetric = subtree_com_y(robot) == 0.0
        child, ops = mutate(robot, 1, rng)
        op = ops[0]
        names[(op.name, op.applied)] += 1
        assert child.num_limbs <= MAX_DESIGN_LIMBS
        if op.name == "grow_limb" and op.applied:
            assert validity_failure(child) is None
        elif op.name != "limb_params" and symmetric:
            assert subtree_com_y(child) == 0.0
        if step % 10 == 0:
            check_robot(child)
        robot = child
    assert {n for n, _ in names} == set(OPERATORS)
