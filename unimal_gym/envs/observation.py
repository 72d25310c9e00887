"""Per-limb observation builders: the 52 proprioceptive features (ENV.md §3.3) and the morphology keys.

Everything that depends only on the model (static columns, index arrays, the dof-ancestry matrix)
is computed once per compiled model in :class:`AgentObservation`; a step only gathers from
``MjData`` with numpy. Limbs are in MuJoCo body order (depth-first pre-order, torso first) and the
(12, 52) matrix is flattened limb-major.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ..morphology.context import (
    MAX_LIMBS,
    AgentLayout,
    adjacency_matrix,
    agent_layout,
    context_from_model,
    edges,
    padding_masks,
)

PROPRIOCEPTIVE_DIM = 52  # ENV.md §3.3: 30 limb + 2 × 11 joint features
JOINT_SLOT_DIM = 11  # qpos_n, qvel, jnt_pos (3), jnt_range (2), jnt_axis (3), gear
JOINT_SLOT_START = 30  # slot A at 30–40, slot B at 41–51
# (a ⊗ b).reshape(9) @ _LEVI_CIVITA = a × b
_LEVI_CIVITA = np.zeros((9, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _LEVI_CIVITA[3 * _i + _j, _k] = 1.0
    _LEVI_CIVITA[3 * _j + _i, _k] = -1.0


class AgentObservation:
    """The agent part of the observation for one compiled model.

    :param model: a compiled environment model (agent bodies named ``torso…``/``limb…``).

    Attributes computed once: ``layout`` (:class:`AgentLayout`), ``morphology`` (a dict of the
    constant keys ``context`` (636,), ``edges`` (32,), ``obs_padding_mask`` (12,),
    ``act_padding_mask`` (24,), ``adjacency_matrix`` (12, 12)), ``torso_id`` and ``actuated``
    (the (nu,) flat action slots that become ``ctrl``, in actuator order).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        layout = agent_layout(model)
        self.layout: AgentLayout = layout
        b = layout.body_ids
        n = layout.num_limbs
        self.torso_id = int(b[0])
        self._bodies = b
        self._n = n
        contiguous = bool(np.all(np.diff(b) == 1))  # agent bodies are ids 1..n in the env's models
        self._body_rows: slice | np.ndarray = slice(int(b[0]), int(b[-1]) + 1) if contiguous else b
        roots = model.body_rootid[b]
        self._root_row: int | np.ndarray = int(roots[0]) if np.all(roots == roots[0]) else roots

        static = np.zeros((MAX_LIMBS, PROPRIOCEPTIVE_DIM))
        static[:n, 13:16] = model.body_pos[b]
        static[:n, 16:19] = model.body_ipos[b]
        static[:n, 19:23] = model.body_iquat[b]
        geoms = model.body_geomadr[b]
        static[:n, 23:27] = model.geom_quat[geoms]
        static[:n, 27] = model.body_mass[b]
        static[:n, 28:30] = model.geom_size[geoms, :2]

        j = layout.joint_ids
        limb = layout.joint_slots // 2
        col = JOINT_SLOT_START + JOINT_SLOT_DIM * (layout.joint_slots % 2)
        static[limb[:, None], col[:, None] + np.arange(2, 5)] = model.jnt_pos[j]
        static[limb[:, None], col[:, None] + np.arange(5, 7)] = model.jnt_range[j]
        static[limb[:, None], col[:, None] + np.arange(7, 10)] = model.jnt_axis[j]
        static[limb, col + 10] = layout.actuator_gear
        self._static = static.reshape(-1)

        self._qpos_flat = limb * PROPRIOCEPTIVE_DIM + col  # where qpos_n goes in the flat vector
        self._qvel_flat = self._qpos_flat + 1
        self._qposadr = model.jnt_qposadr[j]
        self._dofadr = model.jnt_dofadr[j]
        lo, hi = model.jnt_range[j].T
        self._range_lo = lo
        self._range_span = hi - lo

        # ancestry[k, d] = 1 when dof d moves limb k (it belongs to the limb or to an ancestor)
        ancestry = np.zeros((n, model.nv))
        for k, body in enumerate(b):
            while body > 0:
                start, num = model.body_dofadr[body], model.body_dofnum[body]
                ancestry[k, start : start + num] = 1.0
                body = model.body_parentid[body]
        self._ancestry = ancestry

        # actuator k drives joint k + 1; its action slot is the joint's slot
        slot_of_joint = dict(zip(layout.joint_ids.tolist(), layout.joint_slots.tolist(), strict=True))
        self.actuated = np.array([slot_of_joint[int(model.actuator_trnid[a, 0])] for a in range(model.nu)], dtype=int)

        obs_mask, act_mask = padding_masks(layout)
        self.morphology: dict[str, np.ndarray] = {
            "context": context_from_model(model, layout).reshape(-1),
            "edges": edges(layout),
            "obs_padding_mask": obs_mask,
            "act_padding_mask": act_mask,
            "adjacency_matrix": adjacency_matrix(layout),
        }

    def body_velocities(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World-frame linear and angular velocities of the agent's body-frame origins, (n, 3) each.

        Equal to ``mj_jacBody(body) @ qvel`` for every body at once: the dof motion axes ``cdof``
        (rotation, translation at the tree's subtree COM) are summed over each body's ancestry with
        the current ``qvel``, then the translation is moved from the COM point to the body origin.
        Like the Jacobian, this uses the kinematics stored in ``data`` (stale right after ``mj_step``,
        ENV.md §6.4) and the new ``qvel``.
        """
        spatial = (self._ancestry * data.qvel) @ data.cdof  # (n, 6): angular, linear at subtree COM
        angular = spatial[:, :3]
        offset = data.xpos[self._body_rows] - data.subtree_com[self._root_row]  # (n, 3)
        # angular × offset as one product with the Levi-Civita tensor (np.cross costs more than the rest)
        cross = (angular[:, :, None] * offset[:, None, :]).reshape(-1, 9) @ _LEVI_CIVITA
        return spatial[:, 3:] + cross, angular

    def proprioceptive(self, data: mujoco.MjData) -> np.ndarray:
        """The (624,) float64 ``proprioceptive`` vector from the state in ``data`` (ENV.md §3.3)."""
        obs = self._static.copy()
        per_limb = obs.reshape(MAX_LIMBS, PROPRIOCEPTIVE_DIM)
        n = self._n
        xpos = data.xpos[self._body_rows]
        per_limb[:n, 0:3] = xpos
        per_limb[:n, 0] -= xpos[0, 0]
        per_limb[:n, 3:6], per_limb[:n, 6:9] = self.body_velocities(data)
        per_limb[:n, 9:13] = data.xquat[self._body_rows]
        obs[self._qpos_flat] = (data.qpos[self._qposadr] - self._range_lo) / self._range_span
        obs[self._qvel_flat] = data.qvel[self._dofadr]
        return obs
