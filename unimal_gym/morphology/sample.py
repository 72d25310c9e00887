"""Generators of UNIMAL robots: DERL's random initial robots and the PD-set mutants.

* :func:`random_robot` / :func:`sample_random_robot`: DERL's ``limb_count_pop_init``
  (docs/design_space.md §6.1).
* :func:`pd_robots`: the recipe of the released ``train_mutate_1000`` set (docs/design_space.md §7):
  k mutants per parent, each made with m ~ U{1, 2, 3} random operators.

Both draw only from the ``numpy.random.Generator`` they are given, so a seed fixes the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import GrowthFailedError
from .mutate import DENSITIES, Operation, _pick, mutate
from .tree import MAX_DESIGN_LIMBS, Morphology

TORSO_MODES: tuple[str, ...] = ("horizontal_y", "vertical")  # docs/design_space.md §2.1 (dead configuration)
INIT_LIMB_COUNTS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)  # docs/design_space.md §6.1, LIMB_COUNT_RANGE [2, 8, 1]
PD_OPS_PER_MUTANT: tuple[int, ...] = (1, 2, 3)  # docs/design_space.md §7: m ~ U{1, 2, 3}
MAX_INIT_OPS = 10_000  # safety cap on §6.1's open-ended loop (the port's mean is 29 ops, 90th percentile 55)


@dataclass
class RandomRobot:
    """A random initial robot with its history.

    :param robot: the robot.
    :param target: the drawn limb count n (the result has n or n + 1 limbs).
    :param operations: every operation applied, the forced first ``grow_limb`` included.
    """

    robot: Morphology
    target: int
    operations: list[Operation] = field(default_factory=list)


@dataclass
class Mutant:
    """One PD-set mutant.

    :param robot: the mutant, named ``<parent>-mutate-<k>-<op1>[-<op2>[-<op3>]]``.
    :param parent: the parent's name.
    :param operations: the operations in the order they were applied.
    """

    robot: Morphology
    parent: str
    operations: list[Operation]


def torso_alone(rng: np.random.Generator, name: str = "random") -> Morphology:
    """A robot made of the torso only, with drawn torso mode and densities (docs/design_space.md §2.1, §6.1 step 1).

    :param rng: the random generator.
    :param name: the robot's name.
    """
    robot = Morphology(
        name=name,
        torso_z=0.0,
        torso_mode=_pick(rng, TORSO_MODES),
        torso_density=_pick(rng, DENSITIES),
        limb_density=_pick(rng, DENSITIES),
    )
    robot.place_head()
    return robot


def sample_random_robot(
    rng: np.random.Generator,
    name: str = "random",
    *,
    btm_pos_bug: bool = True,
    stale_head: bool = True,
    target_limbs: int | None = None,
) -> RandomRobot:
    """DERL's random initial robot with its history (docs/design_space.md §6.1).

    Torso alone, target n ~ U{2..8}, one forced ``grow_limb``, then random operators chosen as in
    §4.1 until the robot has at least n limbs.

    :param rng: the random generator.
    :param name: the robot's name.
    :param target_limbs: use this n (1–10) instead of drawing it from U{2..8}; the result has
        n or n + 1 limbs, at most 10.
    :param btm_pos_bug: replicate bug B1 in ``limb_params`` (docs/design_space.md §4.9).
    :param stale_head: replicate bug B2 in ``delete_limb`` (docs/design_space.md §4.9).
    :raises GrowthFailedError: the target was not reached within 10 000 operations.
    """
    if target_limbs is not None and not 1 <= target_limbs <= MAX_DESIGN_LIMBS:
        raise ValueError(f"{name}: target_limbs={target_limbs}; a UNIMAL robot has 1 to {MAX_DESIGN_LIMBS} limbs")
    robot = torso_alone(rng, name)
    target = _pick(rng, INIT_LIMB_COUNTS) if target_limbs is None else target_limbs
    robot, ops = mutate(robot, 1, rng, operators=["grow_limb"], btm_pos_bug=btm_pos_bug, stale_head=stale_head)
    while robot.num_limbs < target:
        if len(ops) >= MAX_INIT_OPS:
            raise GrowthFailedError(
                f"{name}: {robot.num_limbs} limbs after {len(ops)} operations, target {target} not reached"
            )
        robot, step = mutate(robot, 1, rng, btm_pos_bug=btm_pos_bug, stale_head=stale_head)
        ops += step
    return RandomRobot(robot=robot, target=target, operations=ops)


def random_robot(rng: np.random.Generator, name: str = "random", target_limbs: int | None = None) -> Morphology:
    """A random initial robot, as DERL generates its initial population (docs/design_space.md §6.1).

    :param rng: the random generator.
    :param name: the robot's name.
    :param target_limbs: the limb count n to reach instead of n ~ U{2..8} (see :func:`sample_random_robot`).
    """
    return sample_random_robot(rng, name, target_limbs=target_limbs).robot


def pd_robots(
    robots: Sequence[Morphology],
    k: int,
    rng: np.random.Generator,
    *,
    btm_pos_bug: bool = True,
    stale_head: bool = True,
) -> list[Mutant]:
    """The PD-robot recipe (docs/design_space.md §7): ``k`` mutants per parent, m ~ U{1,2,3} ops each.

    The released set also contains the unchanged parents; they are not repeated here.

    :param robots: the parents (not modified).
    :param k: mutants per parent (9 in the released set).
    :param rng: the random generator.
    :param btm_pos_bug: replicate bug B1 in ``limb_params`` (docs/design_space.md §4.9).
    :param stale_head: replicate bug B2 in ``delete_limb`` (docs/design_space.md §4.9).
    :return: parent by parent, the mutants ``<parent>-mutate-<j>-<ops>`` for j = 0 … k−1.
    """
    out = []
    for parent in robots:
        for j in range(k):
            m = _pick(rng, PD_OPS_PER_MUTANT)
            child, ops = mutate(parent, m, rng, btm_pos_bug=btm_pos_bug, stale_head=stale_head)
            child.name = f"{parent.name}-mutate-{j}-" + "-".join(op.name for op in ops)
            out.append(Mutant(robot=child, parent=parent.name, operations=ops))
    return out
