"""A quick physical sanity check of a robot: drop it on flat ground and hold zero action.

Used to vet generated robot sets (``morphologies/``): every robot must come to rest standing
(torso above the FT fall threshold, docs/environment.md §0) with no physics error as the environment defines
it (a MuJoCo warning: bad qacc/qpos/qvel; more contacts or constraint rows than the original's
buffers held). The model is the FT task's own, assembled by :func:`.assembly.ft_model`: the robot
raised by the 1 m terrain thickness onto a box floor whose top is at z = 1, parent–child contacts
filtered, sibling contacts live, MuJoCo 2.0 capsule masses.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from ..layout import TERRAIN_THICKNESS
from ..morphology.tree import FLOOR_OFFSET, Morphology
from .assembly import MAX_CONSTRAINT_ROWS, MAX_CONTACTS, ft_model
from .unimal_env import PHYSICS_WARNINGS, STAND_HEIGHT_RATIO


@dataclass(frozen=True)
class RestReport:
    """Outcome of :func:`rest_rollout`.

    :param physics_ok: no physics error (a MuJoCo warning, a contact or constraint buffer overrun)
        and finite positions throughout the rollout.
    :param stands: the torso height above the floor stayed above the fall threshold at the end.
    :param torso_height: final torso height above the floor (m).
    :param fall_threshold: ``0.5 · (z_xml − 0.2)`` (m), the FT termination height.
    """

    physics_ok: bool
    stands: bool
    torso_height: float
    fall_threshold: float

    @property
    def ok(self) -> bool:
        """Both checks passed."""
        return self.physics_ok and self.stands


def rest_rollout(morph: Morphology, steps: int = 150, frame_skip: int = 4) -> RestReport:
    """Simulate ``steps`` control steps of zero action from the file's rest pose on FT's model.

    The rollout stops at the first substep with a physics error (``physics_ok`` is then False).

    :param steps: control steps of 0.02 s (150 = 3 s, enough to drop and settle).
    :param frame_skip: physics substeps per control step (4, docs/environment.md §0).
    :returns: the report; ``torso_height`` where the rollout ended.
    """
    model = ft_model(morph)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    torso = model.body("torso/0").id
    physics_ok = True  # the warning counters and maxuse_con/maxuse_efc only grow from MjData's creation
    for _ in range(steps * frame_skip):
        mujoco.mj_step(model, data)
        if (
            any(data.warning[w].number for w in PHYSICS_WARNINGS)
            or data.maxuse_con > MAX_CONTACTS
            or data.maxuse_efc > MAX_CONSTRAINT_ROWS
            or not np.all(np.isfinite(data.qpos))
        ):
            physics_ok = False
            break
    height = float(data.xpos[torso, 2] - TERRAIN_THICKNESS)
    threshold = STAND_HEIGHT_RATIO["ft"] * (morph.torso_z - FLOOR_OFFSET)
    return RestReport(physics_ok, physics_ok and height > threshold, height, threshold)
