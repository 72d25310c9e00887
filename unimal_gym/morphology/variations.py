"""Dynamics and kinematics variations of a robot (MetaMorph's zero-shot generalisation sets).

MetaMorph's benchmark describes, next to the 100 training robots, 1600 **dynamics** variants
(16 per robot: armature, density, damping, motor gear) and 800 **kinematics** variants (8 per
robot: limb length, limb orientation). Neither the variants nor the code that made them is public
(docs/design_space.md §6.3, docs/environment.md §8), so the ranges below are this project's documented choice:
each keeps the robot inside what the design space and the simulator handle well, and every
variant keeps the robot's left/right symmetry (pair members receive identical values).

Dynamics (one parameter kind per variant, drawn independently for every joint or body):

=========  =====================================  ===============================================
kind       what changes                           distribution
=========  =====================================  ===============================================
armature   every hinge's armature                 U(0.1, 2.0)   (template default 1)
damping    every hinge's damping                  U(0.1, 2.0)   (template default 1)
gear       every motor's gear                     original × U(0.75, 1.25)
density    torso density and limb density         original × U(0.75, 1.25), independently
=========  =====================================  ===============================================

Kinematics (one kind per variant; the robot is re-validated and re-placed on the ground):

============  ==========================================================================
kind          what changes
============  ==========================================================================
length        one growth unit gets a new height h ∈ {0.2, 0.3, 0.4} ≠ its current one
orientation   one growth unit gets a new direction allowed for its kind of growth site
============  ==========================================================================
"""

from __future__ import annotations

import numpy as np

from .errors import MutationError
from .geometry import same_direction
from .mutate import HEIGHTS, validity_failure
from .tree import Limb, Morphology

DYNAMICS_KINDS = ("armature", "damping", "gear", "density")
KINEMATICS_KINDS = ("length", "orientation")
ARMATURE_RANGE = (0.1, 2.0)
DAMPING_RANGE = (0.1, 2.0)
GEAR_SCALE = (0.75, 1.25)
DENSITY_SCALE = (0.75, 1.25)


def _round(x: float, decimals: int) -> float:
    return float(np.round(x, decimals))


def dynamics_variation(robot: Morphology, rng: np.random.Generator, kind: str | None = None) -> Morphology:
    """A copy of ``robot`` with one kind of dynamics parameter re-drawn (see the module table).

    :param robot: the robot to vary (not modified).
    :param rng: source of randomness.
    :param kind: ``"armature"``, ``"damping"``, ``"gear"`` or ``"density"``; ``None`` draws one.
    :raises MutationError: unknown ``kind``.
    """
    if kind is None:
        kind = str(rng.choice(DYNAMICS_KINDS))
    if kind not in DYNAMICS_KINDS:
        raise MutationError(f"{robot.name}: unknown dynamics variation {kind!r}; allowed: {DYNAMICS_KINDS}")
    out = robot.copy()
    if kind == "density":
        out.torso_density = _round(robot.torso_density * rng.uniform(*DENSITY_SCALE), 1)
        out.limb_density = _round(robot.limb_density * rng.uniform(*DENSITY_SCALE), 1)
        return out
    for unit in out.units():
        limbs = [out.limbs[i] for i in unit]
        for slot, joint in enumerate(limbs[0].joints):
            if kind == "armature":
                value = _round(rng.uniform(*ARMATURE_RANGE), 3)
            elif kind == "damping":
                value = _round(rng.uniform(*DAMPING_RANGE), 3)
            else:
                value = _round(joint.gear * rng.uniform(*GEAR_SCALE), 1)
            for limb in limbs:  # pair members stay identical
                setattr(limb.joints[slot], kind, value)
    return out


KINEMATICS_ATTEMPTS = 50  # like grow_limb's budget (docs/design_space.md §4.2)


def _unit_directions(robot: Morphology, unit: tuple[int, ...]) -> list[list[tuple[int, int]]]:
    """Direction assignments a unit may take and stay symmetric (docs/design_space.md §2.7, §2.10).

    Returns one list of per-limb ``(θ, φ)`` per option: a single limb on the symmetry plane points
    in-plane or straight down; a pair at one site is mirrored (θ, 360 − θ); a pair at two mirror
    sites shares one in-plane or straight-down direction.
    """
    in_plane = [(t, p) for p in (90, 135) for t in (0, 180)] + [(0, 180)]
    limbs = [robot.limbs[i] for i in unit]
    if len(unit) == 1:
        options = [[d] for d in in_plane]
    elif limbs[0].site == limbs[1].site:
        options = [[(t, p), (360 - t, p)] for p in (90, 135) for t in (45, 90, 135)]
    else:
        options = [[d, d] for d in in_plane]

    def continues_parent_at_mid(limb_dir: tuple[int, int], limb: Limb) -> bool:
        # §4.2 step 4: a child at a mid site may not point along its parent
        return "/mid/" in limb.site and same_direction(limb_dir, robot.limbs[limb.parent].direction)

    return [o for o in options if not any(continues_parent_at_mid(d, lb) for d, lb in zip(o, limbs, strict=True))]


def kinematics_variation(
    robot: Morphology, rng: np.random.Generator, kind: str | None = None, attempts: int = KINEMATICS_ATTEMPTS
) -> Morphology:
    """A copy of ``robot`` with one growth unit re-shaped (see the module table).

    ``length`` draws a new height for a unit, ``orientation`` a new direction. Each attempt is
    checked like a growth (exact left/right symmetry, no contact at rest beyond the allowed
    parent/child and same-site pairs, docs/design_space.md §4.3); the head is then re-placed so the
    lowest tip starts 0.2 above the ground (§4.8).

    :param kind: ``"length"`` or ``"orientation"``; ``None`` draws one.
    :param attempts: checked attempts before giving up.
    :raises MutationError: unknown ``kind``, or no valid variation within ``attempts``.
    """
    if kind is None:
        kind = str(rng.choice(KINEMATICS_KINDS))
    if kind not in KINEMATICS_KINDS:
        raise MutationError(f"{robot.name}: unknown kinematics variation {kind!r}; allowed: {KINEMATICS_KINDS}")
    units = robot.units()
    if not units:
        raise MutationError(f"{robot.name}: a robot without limbs has no kinematics to vary")
    for _ in range(attempts):
        unit = units[int(rng.integers(len(units)))]
        limbs = [robot.limbs[i] for i in unit]
        if kind == "length":
            heights = [h for h in HEIGHTS if h != limbs[0].height]
            height = heights[int(rng.integers(len(heights)))]
            directions = [limb.direction for limb in limbs]
        else:
            options = [d for d in _unit_directions(robot, unit) if d != [limb.direction for limb in limbs]]
            directions = options[int(rng.integers(len(options)))]
            height = limbs[0].height
        out = robot.copy()
        for index, (theta, phi) in zip(unit, directions, strict=True):
            out.reshape_limb(index, theta, phi, height)
        if validity_failure(out) is None:
            out.place_head()
            return out
    raise MutationError(f"{robot.name}: no valid {kind} variation in {attempts} attempts")


def variants(
    robot: Morphology, rng: np.random.Generator, n_dynamics: int = 16, n_kinematics: int = 8
) -> list[Morphology]:
    """MetaMorph-style variant set of one robot: ``n_dynamics`` + ``n_kinematics`` robots.

    The defaults (16 + 8) are MetaMorph's numbers per robot (1600 and 800 for 100 robots). The
    dynamics kinds cycle through :data:`DYNAMICS_KINDS`, the kinematics kinds through
    :data:`KINEMATICS_KINDS`, so each kind is equally represented. Names are
    ``<robot>-dynamics-<k>-<kind>`` and ``<robot>-kinematics-<k>-<kind>``.
    """
    out = []
    for k in range(n_dynamics):
        kind = DYNAMICS_KINDS[k % len(DYNAMICS_KINDS)]
        v = dynamics_variation(robot, rng, kind)
        v.name = f"{robot.name}-dynamics-{k}-{kind}"
        out.append(v)
    for k in range(n_kinematics):
        kind = KINEMATICS_KINDS[k % len(KINEMATICS_KINDS)]
        v = kinematics_variation(robot, rng, kind)
        v.name = f"{robot.name}-kinematics-{k}-{kind}"
        out.append(v)
    return out
