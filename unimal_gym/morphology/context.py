"""Morphology context: the 53 per-limb features, masks, edges and adjacency (docs/environment.md §3.4–3.5, §5).

The context is a fixed description of the robot, computed once per model. Limbs are in MuJoCo
body order (depth-first pre-order, torso first) and padded to ``MAX_LIMBS = 12``; joints sit in
two slots per limb (slot A = ``limbx/N``, slot B = ``limby/N``).

Columns of one limb's 53-vector (fixed-range normalisation maps [lo, hi] to [−1, 1] by
``v' = −[lo ≠ hi] + 2 (v − lo) / (hi − lo + 1e-8)``):

======  ====================  ======  =========================================================
cols    name                  unit    normalisation
======  ====================  ======  =========================================================
0–2     absolute_body_pos     m       raw: body origin at qpos0 in the world, torso at (0, 0, z+1)
3–5     absolute_body_ipos    m       raw: absolute_body_pos + body_ipos (centre of mass)
6–9     body_iquat            –       fixed range lo (c, −c, −c, 0), hi (1, c, c, 0), c = 0.70710678
10      body_mass             kg      fixed range lo 1.17809725, hi 4.1887902 (MuJoCo 2.0 masses)
11–12   body_shape            m       ``geom_size[:2]``; lo (0.05, 0), hi (0.1, 0.22627417)
13–25   A joint_range_onehot  –       one-hot of the nearest of the 13 UNIMAL ranges (degrees)
26–28   A joint_axis          –       hinge axis in the body frame; lo (−0.5000024, −0.5000024, −1), hi (1, 1, 1)
29–32   A gear_onehot         –       one-hot over gears (150, 200, 250, 300)
33–45   B joint_range_onehot  –       as slot A
46–48   B joint_axis          –       as slot A
49–52   B gear_onehot         –       as slot A
======  ====================  ======  =========================================================

Empty joint slots, the torso's slots and padded limbs are all zeros.

docs/environment.md §3.4 prints the quaternion bound as 0.7071; the oracle recordings are reproduced to 1e-15
only with 0.70710678 (with 0.7071 a horizontal limb is off by 4.6e-5), so that is the value used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mujoco
import numpy as np

from ..layout import CONTEXT_DIM, MAX_JOINTS, MAX_LIMBS, TERRAIN_THICKNESS
from .compile import compile_robot
from .tree import Morphology

JOINT_RANGES_DEG = np.array(  # docs/environment.md §3.4, order of the one-hot
    [
        [-30, 0],
        [0, 30],
        [-30, 30],
        [-45, 45],
        [-45, 0],
        [0, 45],
        [-60, 0],
        [0, 60],
        [-60, 60],
        [-90, 0],
        [0, 90],
        [-60, 30],
        [-30, 60],
    ],
    dtype=float,
)
GEARS = np.array([150.0, 200.0, 250.0, 300.0])  # docs/environment.md §3.4

_IQUAT_LO = np.array([0.70710678, -0.70710678, -0.70710678, 0.0])
_IQUAT_HI = np.array([1.0, 0.70710678, 0.70710678, 0.0])
_MASS_LO, _MASS_HI = 1.17809725, 4.1887902
_SHAPE_LO = np.array([0.05, 0.0])
_SHAPE_HI = np.array([0.1, 0.22627417])
_AXIS_LO = np.array([-0.5000024, -0.5000024, -1.0])
_AXIS_HI = np.array([1.0, 1.0, 1.0])


def fixed_range_normalise(v: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """``−[lo ≠ hi] + 2 (v − lo) / (hi − lo + 1e-8)``, element-wise (docs/environment.md §3.4)."""
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    return -1.0 * (lo != hi) + 2.0 * (v - lo) / (hi - lo + 1e-8)


@dataclass(frozen=True)
class AgentLayout:
    """Where a robot sits in a compiled model and how its joints map to limb slots.

    :param body_ids: (n,) MuJoCo ids of the agent bodies, torso first.
    :param joint_ids: (nu,) ids of the hinge joints in joint order.
    :param joint_slots: (nu,) flat slot index ``2·limb + {0: x, 1: y}`` of each hinge.
    :param parent_limb: (n,) limb index of each limb's parent (−1 for the torso).
    :param actuator_gear: (nu,) motor gears in actuator (= joint) order.
    """

    body_ids: np.ndarray
    joint_ids: np.ndarray
    joint_slots: np.ndarray
    parent_limb: np.ndarray
    actuator_gear: np.ndarray

    @property
    def num_limbs(self) -> int:
        """Number of agent bodies, torso included."""
        return len(self.body_ids)


def agent_layout(model: mujoco.MjModel) -> AgentLayout:
    """Read the agent's bodies and joints from a compiled model (torso first, DFS order).

    Agent bodies are those named ``torso…`` or ``limb…`` (docs/environment.md §3.2); obstacle and terrain
    bodies are ignored. Joint slots follow ``joint_mask_for_node_graph``: slot A holds
    ``limbx/N``, slot B ``limby/N``.
    """
    names = [model.body(i).name for i in range(model.nbody)]
    body_ids = np.array([i for i, n in enumerate(names) if n.startswith(("torso", "limb"))], dtype=int)
    limb_of_body = {int(b): k for k, b in enumerate(body_ids)}
    parent_limb = np.array([limb_of_body.get(int(model.body_parentid[b]), -1) for b in body_ids], dtype=int)
    joint_ids, slots = [], []
    for j in range(model.njnt):
        if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_HINGE:
            continue
        b = int(model.jnt_bodyid[j])
        if b not in limb_of_body:
            continue
        joint_ids.append(j)
        slot_b = model.joint(j).name.startswith("limby")
        slots.append(2 * limb_of_body[b] + int(slot_b))
    gear_by_joint = {int(model.actuator_trnid[a, 0]): float(model.actuator_gear[a, 0]) for a in range(model.nu)}
    gears = np.array([gear_by_joint.get(j, 0.0) for j in joint_ids])
    return AgentLayout(
        body_ids=body_ids,
        joint_ids=np.array(joint_ids, dtype=int),
        joint_slots=np.array(slots, dtype=int),
        parent_limb=parent_limb,
        actuator_gear=gears,
    )


def absolute_body_pos(model: mujoco.MjModel, layout: AgentLayout) -> np.ndarray:
    """(n, 3) sum of ``body_pos`` along the path from the torso, torso included (docs/environment.md §5)."""
    pos = model.body_pos[layout.body_ids].copy()
    for k in range(1, layout.num_limbs):  # parents precede children in DFS order
        pos[k] += pos[layout.parent_limb[k]]
    return pos


def context_from_model(model: mujoco.MjModel, layout: AgentLayout | None = None) -> np.ndarray:
    """The (12, 53) context matrix of the agent in a compiled model (see the module table)."""
    layout = layout or agent_layout(model)
    n = layout.num_limbs
    b = layout.body_ids
    ctx = np.zeros((MAX_LIMBS, CONTEXT_DIM))
    abs_pos = absolute_body_pos(model, layout)
    ctx[:n, 0:3] = abs_pos
    ctx[:n, 3:6] = abs_pos + model.body_ipos[b]
    ctx[:n, 6:10] = fixed_range_normalise(model.body_iquat[b], _IQUAT_LO, _IQUAT_HI)
    ctx[:n, 10] = fixed_range_normalise(model.body_mass[b], _MASS_LO, _MASS_HI)
    geom_of_body = np.array([model.body_geomadr[i] for i in b])
    ctx[:n, 11:13] = fixed_range_normalise(model.geom_size[geom_of_body, :2], _SHAPE_LO, _SHAPE_HI)

    j = layout.joint_ids
    slots = np.zeros((2 * MAX_LIMBS, 20))
    rng_deg = np.degrees(model.jnt_range[j])  # (nu, 2)
    nearest = np.argmin(((rng_deg[:, None, :] - JOINT_RANGES_DEG[None]) ** 2).sum(-1), axis=1)
    slots[layout.joint_slots, nearest] = 1.0
    slots[layout.joint_slots, 13:16] = fixed_range_normalise(model.jnt_axis[j], _AXIS_LO, _AXIS_HI)
    gear_idx = np.argmin(np.abs(layout.actuator_gear[:, None] - GEARS[None]), axis=1)
    slots[layout.joint_slots, 16 + gear_idx] = 1.0
    ctx[:, 13:] = slots.reshape(MAX_LIMBS, 40)
    return ctx


def padding_masks(layout: AgentLayout) -> tuple[np.ndarray, np.ndarray]:
    """``obs_padding_mask`` (12,) and ``act_padding_mask`` (24,); True = padded (docs/environment.md §3.5)."""
    obs = np.ones(MAX_LIMBS, dtype=bool)
    obs[: layout.num_limbs] = False
    act = np.ones(2 * MAX_LIMBS, dtype=bool)
    act[layout.joint_slots] = False
    return obs, act


def edges(layout: AgentLayout) -> np.ndarray:
    """(32,) int: ``[child, parent]`` limb indices per joint, padded with 11 (docs/environment.md §3.5)."""
    child = layout.joint_slots // 2
    parent = layout.parent_limb[child]
    out = np.full(2 * MAX_JOINTS, MAX_LIMBS - 1, dtype=np.int64)
    pairs = np.stack([child, parent], axis=1).reshape(-1)
    out[: len(pairs)] = pairs
    return out


def adjacency_matrix(layout: AgentLayout) -> np.ndarray:
    """(12, 12) row-normalised adjacency with self-loops, one link per joint (docs/environment.md §3.5)."""
    a = np.eye(MAX_LIMBS)
    child = layout.joint_slots // 2
    parent = layout.parent_limb[child]
    a[parent, child] = 1.0
    a[child, parent] = 1.0
    return a / a.sum(axis=1, keepdims=True)


def context(robot: Morphology | str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The morphology part of the environments' observation for one robot.

    The robot is compiled with MuJoCo 2.0 masses and raised by the terrain thickness (1 m), as
    the environments do. Returns a dict with ``context`` (636,) float64, ``edges`` (32,) int64,
    ``obs_padding_mask`` (12,) bool, ``act_padding_mask`` (24,) bool and ``adjacency_matrix``
    (12, 12) float64.
    """
    model = compile_robot(robot, z_offset=TERRAIN_THICKNESS)
    layout = agent_layout(model)
    obs_mask, act_mask = padding_masks(layout)
    return {
        "context": context_from_model(model, layout).reshape(-1),
        "edges": edges(layout),
        "obs_padding_mask": obs_mask,
        "act_padding_mask": act_mask,
        "adjacency_matrix": adjacency_matrix(layout),
    }
