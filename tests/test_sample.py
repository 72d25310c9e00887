"""Random initial robots (docs/design_space.md §6.1) and PD mutants (§7)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from conftest import require_shared, train_robot_files
from test_mutate import check_robot, subtree_com_y

from unimal_gym.morphology import OPERATORS, Morphology, load, mutate, to_xml
from unimal_gym.morphology.mutate import validity_failure
from unimal_gym.morphology.sample import pd_robots, random_robot, sample_random_robot, torso_alone
from unimal_gym.morphology.tree import MAX_DESIGN_LIMBS

SEED = 2024


@pytest.fixture(scope="module")
def robots() -> list[Morphology]:
    """The original training robots: the tests that use them are skipped without ../shared."""
    require_shared()
    return [load(p) for p in train_robot_files()]


@pytest.fixture(scope="module")
def randoms() -> list:
    rng = np.random.default_rng(SEED)
    return [sample_random_robot(rng, f"random-{i}") for i in range(40)]


def test_torso_alone() -> None:
    robot = torso_alone(np.random.default_rng(0), "t")
    assert robot.num_limbs == 0 and robot.torso_z == 0.3 and robot.torso_mode in ("horizontal_y", "vertical")
    assert robot.torso_density in range(500, 1001, 100) and robot.limb_density in range(500, 1001, 100)
    check_robot(robot)


def test_random_robots(randoms: list) -> None:
    modes = Counter()
    for r in randoms:
        robot = r.robot
        assert 2 <= r.target <= 8 and robot.num_limbs in (r.target, r.target + 1)
        assert r.operations[0].name == "grow_limb"
        assert sum(op.name == "grow_limb" and op.applied for op in r.operations) >= 1
        assert subtree_com_y(robot) == 0.0  # all end symmetric (§6.1)
        modes[robot.torso_mode] += 1
        check_robot(robot)
    assert len(modes) == 2
    assert Counter(r.robot.num_limbs - r.target for r in randoms).keys() == {0, 1}


def test_random_robot_is_reproducible() -> None:
    a = random_robot(np.random.default_rng(7), name="x")
    b = random_robot(np.random.default_rng(7), name="x")
    c = random_robot(np.random.default_rng(8), name="x")
    assert a.name == "x" and to_xml(a) == to_xml(b) != to_xml(c)


@pytest.mark.slow
def test_fuzz_chains_from_random_robots(randoms: list) -> None:
    """Long op chains from random robots: only valid robots, every op kind seen, never above 10 limbs."""
    rng = np.random.default_rng(SEED + 1)
    names = Counter()
    for r in randoms:
        robot = r.robot
        for step in range(40):
            child, ops = mutate(robot, 1, rng)
            op = ops[0]
            names[op.name] += 1
            assert child.num_limbs <= MAX_DESIGN_LIMBS
            if op.name == "grow_limb" and op.applied:
                assert validity_failure(child) is None
            if step % 8 == 0:
                check_robot(child)
            robot = child
    assert set(names) == set(OPERATORS)


def test_pd_robots(robots: list[Morphology]) -> None:
    """The PD recipe on 40 parents (360 mutants), with a loose check of the §7 Δlimbs histogram."""
    parents = robots[::2][:40]
    before = [to_xml(p, excludes=False) for p in parents]
    mutants = pd_robots(parents, 9, np.random.default_rng(SEED))
    assert [to_xml(p, excludes=False) for p in parents] == before
    assert len(mutants) == 9 * len(parents)
    by_parent = {p.name: p for p in parents}
    delta, ms = Counter(), Counter()
    for j, mutant in enumerate(mutants):
        parent = by_parent[mutant.parent]
        ops = [op.name for op in mutant.operations]
        ms[len(ops)] += 1
        assert 1 <= len(ops) <= 3
        assert mutant.robot.name == f"{parent.name}-mutate-{j % 9}-" + "-".join(ops)
        assert re.fullmatch(rf"{re.escape(parent.name)}-mutate-\d-[a-z_]+(-[a-z_]+){{0,2}}", mutant.robot.name)
        if parent.num_limbs == MAX_DESIGN_LIMBS:
            assert ops[0] != "grow_limb"
        delta[mutant.robot.num_limbs - parent.num_limbs] += 1
        assert mutant.robot.num_limbs <= MAX_DESIGN_LIMBS
    assert set(ms) == {1, 2, 3}
    zero_share = delta[0] / len(mutants)
    assert 0.42 < zero_share < 0.63, f"Δlimbs = 0 share {zero_share:.3f}, spec 0.525 (§7)"
    assert delta[-2] > delta[-1] and delta[2] > delta[1]  # pairs dominate single limbs (§7)
    for mutant in mutants[::15]:
        check_robot(mutant.robot)
