"""Dynamics and kinematics variations of a robot (MetaMorph's zero-shot generalisation sets).

MetaMorph's benchmark describes, next to the 100 training robots, 1600 **dynamics** variants
(16 per robot: armature, density, damping, motor gear) and 800 **kinematics** variants (8 per
robot: limb length, limb orientation). Neither the variants nor the code that made them is public
(DESIGN_SPACE.md §6.3, ENV.md §8), so the ranges below are this project's documented choice:
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
from .tree import Morphology

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
