"""A quick physical sanity check of a robot: drop it on flat ground and hold zero action.

Used to vet generated robot sets (``morphologies/``): every robot must come to rest standing
(torso above the FT fall threshold, ENV.md §0) with no MuJoCo warning (bad qacc/qpos/qvel,
contact or constraint buffer full). The scene mirrors the FT task's physics: the robot raised
by the 1 m terrain thickness onto a box floor whose top is at z = 1, parent–child contacts
filtered, sibling contacts live, MuJoCo 2.0 capsule masses.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from lxml import etree

from ..layout import TERRAIN_THICKNESS
from .compile import robot_xml
from .tree import FLOOR_OFFSET, Morphology

FALL_RATIO_FT = 0.5  # ENV.md §0: STAND_HEIGHT_RATIO for FT and Obstacle
_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_CONTACTFULL,
    mujoco.mjtWarning.mjWARN_CNSTRFULL,
)


@dataclass(frozen=True)
class RestReport:
    """Outcome of :func:`rest_rollout`.

    :param physics_ok: no MuJoCo warning was raised during the rollout.
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


def floor_scene_xml(morph: Morphology) -> str:
    """The robot on a 200 m × 200 m box floor (top at z = 1), FT's physics settings."""
    root = etree.fromstring(robot_xml(morph, z_offset=TERRAIN_THICKNESS).encode())
    root.find("size").attrib.update({"njmax": "1000", "nconmax": "200"})
    root.find("option/flag").set("filterparent", "enable")
    contact = root.find("contact")
    for ex in list(contact):
        contact.remove(ex)
    floor = etree.Element("geom", name="floor/0", type="box", size="100 100 1", pos="0 0 0", material="grid")
    root.find("worldbody").insert(1, floor)
    return etree.tostring(root, encoding="unicode")


def rest_rollout(morph: Morphology, steps: int = 150, frame_skip: int = 4) -> RestReport:
    """Simulate ``steps`` control steps of zero action from the file's rest pose.

    :param steps: control steps of 0.02 s (150 = 3 s, enough to drop and settle).
    :param frame_skip: physics substeps per control step (4, ENV.md §0).
    """
    model = mujoco.MjModel.from_xml_string(floor_scene_xml(morph))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    torso = model.body("torso/0").id
    physics_ok = True
    for _ in range(steps * frame_skip):
        mujoco.mj_step(model, data)
        if any(data.warning[w].number for w in _WARNINGS) or not np.all(np.isfinite(data.qpos)):
            physics_ok = False
            break
    height = float(data.xpos[torso, 2] - TERRAIN_THICKNESS)
    threshold = FALL_RATIO_FT * (morph.torso_z - FLOOR_OFFSET)
    return RestReport(physics_ok, physics_ok and height > threshold, height, threshold)
