"""Per-limb observation builders: the 52 proprioceptive features (docs/environment.md §3.3) and the morphology keys.

Everything that depends only on the model (static columns, gather and scatter indices) is computed
once per compiled model in :class:`AgentObservation`; a step calls ``mj_comVel`` and gathers from
``MjData`` with one compiled kernel (``_kernels.c``) or, without it, a fixed sequence of numpy calls,
whatever the number of limbs (no Python loops); both give bitwise the same vector.
Limbs are in MuJoCo body order (depth-first pre-order, torso first) and the (12, 52) matrix is
flattened limb-major.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ..layout import LIMB_OBS_DIM, MAX_LIMBS
from ..morphology.context import (
    AgentLayout,
    adjacency_matrix,
    agent_layout,
    context_from_model,
    edges,
    padding_masks,
)
from . import kernels as _kernels

JOINT_SLOT_DIM = 11  # qpos_n, qvel, jnt_pos (3), jnt_range (2), jnt_axis (3), gear
JOINT_SLOT_START = 30  # slot A at 30–40, slot B at 41–51


def _consecutive(ids: np.ndarray, what: str) -> slice:
    """``ids`` as a slice; they must be consecutive and increasing (true of every model the env compiles)."""
    if len(ids) == 0:
        return slice(0, 0)
    if not np.array_equal(ids, np.arange(ids[0], ids[0] + len(ids))):
        raise ValueError(f"{what} must be consecutive and increasing; got {ids.tolist()}")
    return slice(int(ids[0]), int(ids[0]) + len(ids))


class AgentObservation:
    """The agent part of the observation for one compiled model.

    :param model: a compiled environment model (agent bodies named ``torso…``/``limb…``).
    :param compiled: build the dynamic columns with the compiled kernel (True; an error if it is not
        built), with numpy (False), or with the kernel when available (None, the default).

    Attributes computed once: ``layout`` (:class:`AgentLayout`), ``morphology`` (a dict of the
    constant keys ``context`` (636,), ``edges`` (32,), ``obs_padding_mask`` (12,),
    ``act_padding_mask`` (24,), ``adjacency_matrix`` (12, 12)), ``torso_id`` and ``actuated``
    (the (nu,) flat action slots that become ``ctrl``, in actuator order).
    """

    def __init__(self, model: mujoco.MjModel, compiled: bool | None = None) -> None:
        self._kernels = _kernels.require(compiled)
        self._kernel = None
        layout = agent_layout(model)
        self.layout: AgentLayout = layout
        b = layout.body_ids
        n = layout.num_limbs
        self.torso_id = int(b[0])
        self._n = n
        self._body_rows = _consecutive(b, "agent body ids")  # torso first, ids 1..n in the env's models
        roots = model.body_rootid[b]
        if not np.all(roots == roots[0]):
            raise ValueError(f"agent bodies must form one kinematic tree; root bodies {sorted(set(roots.tolist()))}")
        self._root_row = int(roots[0])

        static = np.zeros((MAX_LIMBS, LIMB_OBS_DIM))
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

        self._qpos_flat = limb * LIMB_OBS_DIM + col  # where qpos_n goes in the flat vector; qvel follows
        self._qpos_rows = _consecutive(model.jnt_qposadr[j], "hinge qpos addresses")
        self._qvel_rows = _consecutive(model.jnt_dofadr[j], "hinge dof addresses")
        lo, hi = model.jnt_range[j].T
        self._range_lo = np.ascontiguousarray(lo)
        self._range_span = hi - lo

        # actuator k drives joint k + 1; its action slot is the joint's slot
        slot_of_joint = dict(zip(layout.joint_ids.tolist(), layout.joint_slots.tolist(), strict=True))
        self.actuated = np.array([slot_of_joint[int(model.actuator_trnid[a, 0])] for a in range(model.nu)], dtype=int)

        self._data: mujoco.MjData | None = None
        obs_mask, act_mask = padding_masks(layout)
        self.morphology: dict[str, np.ndarray] = {
            "context": context_from_model(model, layout).reshape(-1),
            "edges": edges(layout),
            "obs_padding_mask": obs_mask,
            "act_padding_mask": act_mask,
            "adjacency_matrix": adjacency_matrix(layout),
        }

    def _bind(self, data: mujoco.MjData) -> None:
        """Prepare the step-time gathers from ``data`` (its arrays are views of memory fixed for its life).

        On arrays this small numpy's per-call overhead, not arithmetic, is the cost, and it is lowest
        for contiguous 1-D operands. So every dynamic value lives in one work vector ``w`` (below),
        filled by three ``take`` gathers and a few 1-D ufuncs, and reaches the output in one scatter.
        With ω, v the angular and subtree-COM linear velocity (``cvel``), x the body origin, c the
        subtree COM and (A, B) = ([1, 2, 0], [2, 0, 1]) per limb, ``ω × (x − c) = ω_A r_B − ω_B r_A``::

            w = [ω_A ω_B v | ω | lin | quat | qpos_n | qvel | pos r_B r_A]   (3n each, quat 4n, joints nj)
                 cvel gather ↑                               ↑ x gather − [x_torso·e_x, c_B, c_A]
        """
        rows, n, nj = self._body_rows, self._n, len(self._qpos_flat)
        self._data = data
        self._cvel = data.cvel[rows].reshape(-1)  # (6n,) views
        self._xpos = data.xpos[rows].reshape(-1)  # (3n,)
        self._xquat = data.xquat[rows].reshape(-1)  # (4n,)
        self._com = data.subtree_com[self._root_row]  # (3,)
        self._torso_x = data.xpos[rows][0:1, 0]  # (1,)
        self._joint_qpos, self._joint_qvel = data.qpos[self._qpos_rows], data.qvel[self._qvel_rows]
        for view, source in ((self._cvel, data.cvel), (self._xpos, data.xpos), (self._xquat, data.xquat)):
            assert np.shares_memory(view, source)

        limb3, axis3 = np.repeat(np.arange(n), 3), np.tile(np.arange(3), n)
        rot_a, rot_b = np.array([1, 2, 0])[axis3], np.array([2, 0, 1])[axis3]
        row6 = 6 * limb3
        self._cvel_index = np.concatenate([row6 + rot_a, row6 + rot_b, row6 + 3 + axis3, row6 + axis3])
        self._xpos_index = np.concatenate([3 * limb3 + axis3, 3 * limb3 + rot_b, 3 * limb3 + rot_a])
        self._com_index = np.concatenate([rot_b, rot_a])
        self._x_axis = (axis3 == 0).astype(float)

        w = np.empty(9 * n + 3 * n + 3 * n + 4 * n + 2 * nj + 9 * n)
        o_lin, o_quat, o_jq = 12 * n, 15 * n, 19 * n
        o_jv, o_pos = o_jq + nj, o_jq + 2 * nj
        self._w_cvel, self._w_omega_ab, self._w_v = w[: 12 * n], w[: 6 * n], w[6 * n : 9 * n]
        self._w_angular, self._w_linear = w[9 * n : o_lin], w[o_lin:o_quat]
        self._w_quat, self._w_qpos, self._w_qvel = w[o_quat:o_jq], w[o_jq:o_jv], w[o_jv:o_pos]
        self._w_rel, self._w_arm = w[o_pos:], w[o_pos + 3 * n :]  # [pos r_B r_A], [r_B r_A]
        self._w_out = w[9 * n : o_pos + 3 * n]  # everything that reaches the observation
        self._xpos_gather = np.empty(9 * n)  # [x, x_B, x_A]
        self._origin = np.empty(9 * n)  # [x_torso·e_x, c_B, c_A]
        self._origin_x, self._origin_com = self._origin[: 3 * n], self._origin[3 * n :]
        self._products = np.empty(6 * n)
        self._products_a, self._products_b = self._products[: 3 * n], self._products[3 * n :]
        self._cross = np.empty(3 * n)

        base = LIMB_OBS_DIM * limb3 + axis3
        base4 = LIMB_OBS_DIM * np.repeat(np.arange(n), 4) + np.tile(np.arange(4), n)
        self._scatter = np.concatenate(
            [base + 6, base + 3, base4 + 9, self._qpos_flat, self._qpos_flat + 1, base]
        )  # output positions of w_out: angular 6–8, linear 3–5, quat 9–12, qpos_n, qvel, pos 0–2
        self._buffer = self._static.copy()
        if self._kernels is not None:  # the same arithmetic in one call, bound to the same views
            self._kernel = self._kernels.Proprioceptive(
                cvel=self._cvel,
                xpos=self._xpos,
                xquat=self._xquat,
                com=self._com,
                qpos=self._joint_qpos,
                qvel=self._joint_qvel,
                range_lo=self._range_lo,
                range_span=self._range_span,
                slots=self._qpos_flat.tolist(),
            )

    def _velocities(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Fill ``w``'s velocity and position parts (see :meth:`_bind`)."""
        if data is not self._data:
            self._bind(data)
        mujoco.mj_comVel(model, data)
        self._gather_velocities()

    def _gather_velocities(self) -> None:
        self._cvel.take(self._cvel_index, out=self._w_cvel)
        self._xpos.take(self._xpos_index, out=self._xpos_gather)
        self._com.take(self._com_index, out=self._origin_com)
        np.multiply(self._x_axis, self._torso_x, out=self._origin_x)
        np.subtract(self._xpos_gather, self._origin, out=self._w_rel)
        np.multiply(self._w_omega_ab, self._w_arm, out=self._products)
        np.subtract(self._products_a, self._products_b, out=self._cross)
        np.add(self._w_v, self._cross, out=self._w_linear)

    def body_velocities(self, model: mujoco.MjModel, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """World-frame linear and angular velocities of the agent's body-frame origins, (n, 3) each.

        Equal to ``mj_jacBody(body) @ qvel`` for every body at once: ``mj_comVel`` sums the dof
        motion axes ``cdof`` over each body's ancestry with the current ``qvel`` (``cvel``: angular,
        linear at the tree's subtree COM), then the linear part is moved from the COM point to the
        body origin. Like the Jacobian, this uses the kinematics stored in ``data`` (stale right after
        ``mj_step``, docs/environment.md §6.4) and the new ``qvel``; it overwrites ``data.cvel``/``cdof_dot``,
        which the next ``mj_step`` recomputes before using.
        """
        self._velocities(model, data)
        return self._w_linear.reshape(-1, 3).copy(), self._w_angular.reshape(-1, 3).copy()

    def proprioceptive(self, model: mujoco.MjModel, data: mujoco.MjData, velocities: bool = True) -> np.ndarray:
        """The (624,) float64 ``proprioceptive`` vector from the state in ``data`` (docs/environment.md §3.3).

        Calls ``mj_comVel`` (see :meth:`body_velocities`); no other simulator state changes.

        :param velocities: False: the caller has just called ``mj_comVel`` on this state (the env's step
            does it right after ``mj_step``, outside the GIL), so it is not repeated.
        """
        if data is not self._data:
            self._bind(data)
        if velocities:
            mujoco.mj_comVel(model, data)
        if self._kernel is not None:
            out = self._static.copy()
            self._kernel(out)
            return out
        self._gather_velocities()
        np.copyto(self._w_quat, self._xquat)
        np.subtract(self._joint_qpos, self._range_lo, out=self._w_qpos)
        np.divide(self._w_qpos, self._range_span, out=self._w_qpos)
        np.copyto(self._w_qvel, self._joint_qvel)
        out = self._buffer
        out[self._scatter] = self._w_out
        return out.copy()
