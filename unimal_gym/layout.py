"""The observation and action layout every UNIMAL policy sees, defined once for the whole project.

Every robot, whatever its number of limbs, is presented to a policy in the same fixed-size layout:
``MAX_LIMBS`` limb slots (torso first, in MuJoCo body order, the rest zero-padded), two joint slots
per limb, and on the terrain tasks a 47 × 30 height map around the torso. The environments build
observations in this layout, and the baselines' networks, data files and exported students read it;
all of them import these numbers from here.

==========================  =======  ============================================================
name                        value    meaning
==========================  =======  ============================================================
``TASKS``                   3        ``"ft"`` flat terrain, ``"vt"`` variable terrain, ``"obstacle"``
``ENV_IDS``                          task → Gymnasium id (``Unimal-FT-v0``, …)
``MAX_LIMBS``               12       limb slots (torso included); one is always padding
``MAX_JOINTS``              16       hinge joints a robot may have (the ``edges`` key has 2 × 16)
``LIMB_OBS_DIM``            52       proprioceptive features per limb slot (30 limb + 2 × 11 joint)
``PROPRIOCEPTIVE_DIM``      624      ``MAX_LIMBS · LIMB_OBS_DIM``, the ``proprioceptive`` key
``CONTEXT_DIM``             53       morphology-context features per limb slot
``ACTS_PER_LIMB``           2        joint (action) slots per limb: A = ``limbx/N``, B = ``limby/N``
``ACTION_DIM``              24       ``MAX_LIMBS · ACTS_PER_LIMB``, the action vector
``HFIELD_SHAPE``            (47, 30) height-map grid: rows (sideways offsets) × columns (forward)
``HFIELD_DIM``              1410     the flattened ``hfield`` key (VT and Obstacle only)
``TERRAIN_THICKNESS``       1.0      height of the floor's top (m): the robots stand at z ≥ 1
==========================  =======  ============================================================
"""

from __future__ import annotations

TASKS: tuple[str, ...] = ("ft", "vt", "obstacle")
ENV_IDS: dict[str, str] = {"ft": "Unimal-FT-v0", "vt": "Unimal-VT-v0", "obstacle": "Unimal-Obstacle-v0"}

MAX_LIMBS = 12
MAX_JOINTS = 16
LIMB_OBS_DIM = 52
PROPRIOCEPTIVE_DIM = MAX_LIMBS * LIMB_OBS_DIM
CONTEXT_DIM = 53
ACTS_PER_LIMB = 2
ACTION_DIM = MAX_LIMBS * ACTS_PER_LIMB
HFIELD_SHAPE = (47, 30)
HFIELD_DIM = HFIELD_SHAPE[0] * HFIELD_SHAPE[1]
TERRAIN_THICKNESS = 1.0


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`.

    :raises ValueError: another name (the message lists the allowed ones).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return task


__all__ = [
    "ACTION_DIM",
    "ACTS_PER_LIMB",
    "CONTEXT_DIM",
    "ENV_IDS",
    "HFIELD_DIM",
    "HFIELD_SHAPE",
    "LIMB_OBS_DIM",
    "MAX_JOINTS",
    "MAX_LIMBS",
    "PROPRIOCEPTIVE_DIM",
    "TASKS",
    "TERRAIN_THICKNESS",
    "check_task",
]
