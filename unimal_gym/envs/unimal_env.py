"""``UnimalEnv``: the UNIMAL locomotion benchmark (FT, VT, Obstacle) on modern MuJoCo and Gymnasium."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from lxml import etree

from ..layout import ACTION_DIM, CONTEXT_DIM, HFIELD_DIM, MAX_JOINTS, MAX_LIMBS, PROPRIOCEPTIVE_DIM, TASKS
from ..morphology import Morphology
from ..morphology.tree import FLOOR_OFFSET
from .arenas import Arena, FlatFloor
from .assembly import CAMERAS, MAX_CONSTRAINT_ROWS, MAX_CONTACTS, agent_scene, compile_scene
from .errors import InvalidActionError, InvalidStateError
from .kernels import abs_sum, kernels
from .observation import AgentObservation
from .robots import RobotSpec, resolve_robots
from .terrain import ObstacleConfig, ObstacleCourse, TerrainConfig, TerrainCorridor, coerce_config

STAND_HEIGHT_RATIO = {"ft": 0.5, "vt": 0.3, "obstacle": 0.5}  # docs/environment.md §0
PHYSICS_WARNINGS = (  # docs/environment.md §2.1
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_CONTACTFULL,
    mujoco.mjtWarning.mjWARN_CNSTRFULL,
)


@dataclass
class _Robot:
    """Everything cached per robot: its scene without ground, observation builder, compiled model."""

    morphology: Morphology
    scene: etree._Element
    fall_threshold: float
    orig_height: float
    observation: AgentObservation | None = None
    model: mujoco.MjModel | None = None
    data: mujoco.MjData | None = None
    layout_version: int = -1
    views: _DataViews | None = None


class _Before(NamedTuple):
    """What a step keeps from before its physics: the torso's xy (2,), qpos (nq,), qvel (nv,), time and the
    warning counters (to restore the state after a physics error, and for the reward and ``info``)."""

    xy: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    time: float
    warnings: list[int]


def _torso_height(z: float, ground: float) -> float:
    """The torso height reported and tested for falls: the torso's z above the ground, rounded to 1 mm (m)."""
    return round(z - ground, 3)


class _DataViews:
    """Views of one ``MjData``'s arrays read on every step (their memory is fixed for the object's life)."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, observation: AgentObservation) -> None:
        torso_id = observation.torso_id
        self.opt = model.opt  # a live view of the model's options (timestep)
        self.torso_pos = data.xpos[torso_id]  # (3,)
        self.torso_xy = self.torso_pos[:2]  # (2,)
        self.torso_xmat = data.xmat[torso_id]  # (9,)
        self.torso_heading = self.torso_xmat[0:4:3]  # (2,) the xy part of the torso's x axis
        self.ctrl = data.ctrl
        self.qpos, self.qvel = data.qpos, data.qvel
        self.joint_forces = data.qfrc_actuator[1:]  # docs/environment.md §7's energy sums |qfrc_actuator[1:]|
        self.warning_counts = data.warning.number
        # checks an action and writes its actuated slots into ctrl in one call (None: numpy does it)
        self.set_ctrl = (
            None if kernels is None else kernels.CtrlSetter(data.ctrl, observation.actuated.tolist(), ACTION_DIM)
        )


INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION
"""MuJoCo's state that determines the next step bit for bit (positions, velocities, controls, warm start, …)."""
REPLAYED_GROUND = ("terrain_hfield", "obstacles")
"""Reset options that replay a ground (numbers, so a snapshot holds them)."""
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
"""Numpy bit generators a snapshot's generator states may name."""


def _numbers(what: str, value: Any) -> np.ndarray:
    """A snapshot entry as a float array. :raises InvalidStateError: not numbers (naming the entry)."""
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidStateError(f"snapshot {what} must be numbers: {exc}") from None


def _generator(state: Mapping[str, Any]) -> np.random.Generator:
    """A numpy ``Generator`` in the given bit-generator ``state``. :raises InvalidStateError: not such a state."""
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in BIT_GENERATORS:
        raise InvalidStateError(f"snapshot generator state names {name!r}; expected one of {BIT_GENERATORS}")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidStateError(f"snapshot generator state is broken: {exc}") from None
    return np.random.Generator(bit_generator)


DEFAULT_ROBOTS = "train"
"""The robots of an env made without ``robot=`` or ``robots=``: the bundled training set."""


class UnimalEnv(gym.Env):
    r"""UNIMAL locomotion: move a UNIMAL robot forward (+x) as fast as possible.

    ## Description

    A re-implementation of the MetaMorph / ModuMorph / HyperDistill environments (docs/environment.md; the MX
    code is the reference) that reproduces the original's observations, rewards and physics: for
    all 100 training robots, replaying the original's recorded states and actions gives the
    recorded qpos, observation and reward to within 1e-6. Three tasks share this class:

    * ``"ft"`` (``Unimal-FT-v0``), flat terrain: a 200 m × 200 m box floor with its top at z = 1.
    * ``"vt"`` (``Unimal-VT-v0``), variable terrain: a 110 m × 40 m corridor of flat boxes and
      hills, steps and rubble (heightfields), new every episode, nothing beyond its edges.
    * ``"obstacle"`` (``Unimal-Obstacle-v0``): a flat 100 m × 40 m walled corridor with 50 boxes,
      placed anew every episode.

    The robot comes from ``robot=`` (a UNIMAL XML path, a :class:`~unimal_gym.morphology.Morphology`
    or a robot name) or ``robots=[...]`` (several; one is drawn at every reset, uniformly or by
    :meth:`set_robot_weights`; a set's name such as ``"train"`` or a folder expands to its robots). With
    neither, the env uses the bundled ``"train"`` set (:data:`DEFAULT_ROBOTS`), so ``gym.make("Unimal-FT-v0")``
    works as tools that make envs by id expect. One model is compiled per robot and reused across resets: FT's
    ground never changes, Obstacle moves and resizes its 50 boxes in place, VT writes each new corridor into
    ground slots of the robot's model (:mod:`unimal_gym.envs.terrain`; about 2 ms a reset on a slow 2-core VM).
    A step is one ``mj_step(model, data, nstep=frame_skip)`` call plus small compiled kernels
    (``unimal_gym/envs/_kernels.c``: action check, proprioceptive columns, hfield sample, energy sum)
    when they were built at install (``unimal_gym.envs.ACCELERATED``), numpy otherwise; both paths
    give bitwise the same observations, rewards and ``info``.

    ## Action Space

    ``Box(-1, 1, (24,), float32)``: two slots per limb slot (12 limbs × 2). Slot ``2k`` drives limb
    k's ``limbx`` hinge, slot ``2k + 1`` its ``limby`` hinge. Slots with ``act_padding_mask = True``
    (the torso's, absent joints, padded limbs) are ignored. The others are written, in actuator
    order, to ``ctrl``; MuJoCo clamps them to [−1, 1] and each motor applies torque gear × ctrl
    (gear ∈ {150, 200, 250, 300}, N·m). Actions of the wrong shape or with NaN/inf raise
    :class:`InvalidActionError`.

    ## Observation Space

    A ``Dict`` with limb-major per-limb matrices flattened and zero-padded to 12 limbs (limbs in
    MuJoCo body order: depth-first pre-order of the XML, torso first):

    ====================  ==============  =======  ==================================================
    key                   shape           dtype    content
    ====================  ==============  =======  ==================================================
    ``proprioceptive``    (624,) = 12×52  float64  state and static morphology per limb, table below
    ``context``           (636,) = 12×53  float64  normalised morphology per limb, table below
    ``edges``             (32,)           int64    (child, parent) limb index per joint, padded with 11
    ``obs_padding_mask``  (12,)           bool     True = padded limb slot
    ``act_padding_mask``  (24,)           bool     True = action slot without a joint
    ``adjacency_matrix``  (12, 12)        float64  row-normalised, self-loops, one link per joint
    ``hfield``            (1410,) = 47×30 float64  VT and Obstacle only: terrain around the torso
    ====================  ==============  =======  ==================================================

    ``proprioceptive``, 52 columns per limb (docs/environment.md §3.3; no scaling except the joint angle):

    ======  =============  ==================================================================
    cols    feature        definition
    ======  =============  ==================================================================
    0–2     body_xpos      world position of the body origin; x minus the torso's x (m)
    3–5     body_xvelp     world linear velocity of the body origin, Jacobian × qvel (m/s)
    6–8     body_xvelr     world angular velocity, Jacobian × qvel (rad/s)
    9–12    body_xquat     world orientation (w, x, y, z)
    13–15   body_pos       position in the parent frame (torso: (0, 0, z_xml + 1)) (m)
    16–18   body_ipos      centre of mass in the body frame (m)
    19–22   body_iquat     inertial-frame orientation
    23–26   geom_quat      capsule orientation in the body frame
    27      body_mass      mass with MuJoCo 2.0 capsule volumes, ρπr²(2h + r) (kg)
    28–29   body_shape     geom size: (radius, half-length); torso (0.1, 0) (m)
    30–40   joint slot A   ``limbx`` hinge: qpos_n, qvel, jnt_pos (3), jnt_range (2), jnt_axis (3), gear
    41–51   joint slot B   ``limby`` hinge: the same 11 features
    ======  =============  ==================================================================

    qpos_n = (q − lo) / (hi − lo) with the joint range (lo, hi) in radians; qvel in rad/s;
    jnt_pos in m in the body frame. Empty slots, the torso's slots and padded limbs are zeros.

    ``context``, 53 columns per limb, computed once per robot (docs/environment.md §3.4; "fixed range" maps
    [lo, hi] to [−1, 1] with v' = −[lo ≠ hi] + 2(v − lo)/(hi − lo + 1e-8)):

    ======  ====================  =============================================================
    cols    feature               transform
    ======  ====================  =============================================================
    0–2     absolute_body_pos     raw m: body origin at qpos0, torso at (0, 0, z_xml + 1)
    3–5     absolute_body_ipos    raw m: absolute_body_pos + body_ipos
    6–9     body_iquat            fixed range (c, −c, −c, 0)…(1, c, c, 0), c = 0.70710678
    10      body_mass             fixed range 1.17809725…4.1887902
    11–12   body_shape            fixed range (0.05, 0)…(0.1, 0.22627417)
    13–25   A joint_range_onehot  nearest of the 13 UNIMAL ranges (degrees)
    26–28   A joint_axis          fixed range (−0.5000024, −0.5000024, −1)…(1, 1, 1)
    29–32   A gear_onehot         one-hot over gears (150, 200, 250, 300)
    33–52   B …                   slot B, as slot A
    ======  ====================  =============================================================

    ``hfield`` (docs/environment.md §3.6): terrain heights on a non-uniform 47 × 30 grid (rows DR, columns DX,
    row-major), relative to the height under the torso, read from the padded terrain array H
    (0.1 m cells; −10 beyond the terrain; 4.0 on the Obstacle wall strip; 3.0 on obstacles):

    * DX (30, forward, 0.1 m): −10 −6 −5 −3 −2 −1 0 1 2 3 4 5 6 7 8 9 10 11 12 13 15 16 17 18 20 22 24
      28 32 40;
    * DR (47, rightward, 0.1 m): −40 −32 −28 −24 −22 −20 −18 −17 −16 −15 −13 −12 −11 … 11 12 13 15 16
      17 18 20 22 24 28 32 40 (symmetric).

    On steps the grid is rotated by the torso's yaw ψ (cell offsets rounded half-to-even); on reset
    it is not rotated (quirk, see below).

    ## Rewards

    ``r = forward_reward_weight · (x_after − x_before)/dt − ctrl_cost_weight · Σ a² +
    stand_reward_weight · min(torso_height, 2 · orig_height)``, with x the torso's x, dt = 0.02 s,
    a the unclipped action of the real joints. Defaults 1, 0, 0, so the return is 50 × the forward
    distance. ``info`` carries ``__reward__forward``, ``__reward__ctrl``, ``__reward__stand`` and
    ``__reward__energy`` = int(Σ |actuator torque|) (a metric, never added).

    ## Starting State

    qpos0 (torso at (0, 0, z_xml + 1), identity orientation, hinges at 0) and zero velocity, plus
    U(−reset_noise_scale, reset_noise_scale) on every qpos and qvel entry; the free joint's
    quaternion is then re-normalised (docs/environment.md §2.1). The robot drops 0.15–0.25 m onto the
    ground. ``reset(options={"qpos": ..., "qvel": ...})`` starts exactly from a given state (no
    noise), ``options={"robot": name}`` picks the robot, and VT/Obstacle accept a recorded layout
    (``"terrain_hfield"``, ``"obstacles"``; see :mod:`unimal_gym.envs.terrain`).

    ## Episode End

    * terminated, fall: ``torso_height ≤ stand_height_ratio · (z_xml − 0.2)`` with ``torso_height
      = round(z_torso − ground, 3)``; ground = 1 on FT, the H cell under the torso (≥ 0) on VT and
      Obstacle, the centre cell of the same step's hfield sample (``info["terminate_on_fall"] =
      True``). Off with ``terminate_on_fall=False``.
    * terminated, edge (VT, Obstacle): ``|y_torso| ≥ terrain half-width − 1`` (19 m;
      ``info["terminate_on_edge"] = True``).
    * truncated, physics error: a MuJoCo warning (bad qacc/qpos/qvel, contact or constraint
      buffer full) or more than ``max_contacts`` contacts / ``max_constraint_rows`` constraint
      rows (the original's buffer sizes) during any substep. That step's reward is 0,
      ``info["mj_step_error"]`` names the cause, ``info["timeout"] = True``, and the state is
      restored to before the step, so MuJoCo's automatic reset never teleports the robot.
    * truncated, time limit: 1000 steps (``gym.make``'s ``max_episode_steps``).

    ## Arguments

    ======================  ===============  ===========================================================
    keyword                 default          meaning
    ======================  ===============  ===========================================================
    ``robot``               –                one robot: XML path, Morphology or robot name
    ``robots``              –                several robots (names, paths, folders, Morphologies)
    ``robot_weights``       uniform          sampling weights of ``robots`` (see set_robot_weights)
    ``robot_dirs``          ()               extra folders searched for robot names
    ``task``                ``"ft"``         ``"ft"``, ``"vt"`` or ``"obstacle"``
    ``frame_skip``          4                physics steps of 0.005 s per env step
    ``forward_reward_weight``  1.0           weight of x velocity
    ``ctrl_cost_weight``    0.0              weight of Σ a²
    ``stand_reward_weight`` 0.0              weight of min(torso_height, 2 · orig_height)
    ``stand_height_ratio``  0.5 / 0.3 / 0.5  fall threshold ratio (FT / VT / Obstacle)
    ``terminate_on_fall``   True             end the episode on a fall
    ``reset_noise_scale``   0.005            half-width of the uniform reset noise
    ``max_contacts``        200              contacts per substep before a physics error (nconmax)
    ``max_constraint_rows`` 1000             constraint rows per substep before a physics error
    ``terrain``             TerrainConfig()  VT generator settings (:class:`TerrainConfig`)
    ``obstacles``           ObstacleConfig() Obstacle settings (:class:`ObstacleConfig`)
    ``rotate_reset_hfield`` False            True: rotate the hfield grid on reset too (fixes quirk 4)
    ``render_mode``         None             None, ``"rgb_array"`` or ``"depth_array"`` (metres)
    ``width``, ``height``   480, 480         image size
    ``camera_name``         task's view      one of the original's cameras: ``ft_view``, ``vt_view``, …
    ======================  ===============  ===========================================================

    ## Quirks of the original kept by default (docs/environment.md §9)

    1. The robot file's ``<exclude>`` pairs are dropped: sibling limbs collide (parent–child
       contacts are filtered).
    2. Observation and reward use the kinematics from before the last substep's integration (no
       ``mj_forward`` after stepping, docs/environment.md §6.4), with the new joint velocities. (The velocities
       come from ``mj_comVel``, so after a step ``data.cvel`` holds those kinematics with the new
       ``qvel``; nothing else in ``data`` differs from the original's.)
    3. ``proprioceptive`` includes static morphology features (cols 13–29, 32–40 and 43–51 of a limb).
    4. The hfield observation on reset is not rotated by the torso's heading
       (``rotate_reset_hfield=True`` fixes it).
    5. VT rubble (``rugged_square``) is mirrored in y between physics and observation
       (``TerrainConfig(mirror_rugged=False)`` fixes it).
    6. Obstacle boxes float 0.1 m above the ground and read 3.0 in H; the wall strip reads 4.0
       while the wall top is at 3.0 (``ObstacleConfig(float_gap=0.0, obs_height=...)`` and
       ``TerrainConfig(wall_obs_height=3.0)`` change them).
    7. ``torso_height`` uses the single H cell under the torso centre, clipped at ≥ 0.
    8. Masses follow MuJoCo 2.0's capsule convention (3–5 % lighter than modern MuJoCo's).

    Not kept: the original declared the padded action slots with high = −1 (docs/environment.md §4, quirk 5);
    here every slot is [−1, 1], because a space that forbids real joints' positive torques would
    make SB3 clip them away. Its quirk 7 (quaternion not re-normalised on reset) is settled by
    docs/environment.md §2.1, and physics errors truncate as in MX (§2.1).

    ## Version History

    * v0: first version, matched to the recordings of MX commit 18c0516 (MuJoCo 2.1 binaries).
    """

    metadata = {"render_modes": ["rgb_array", "depth_array"], "render_fps": 50}  # noqa: RUF012 (gymnasium convention)

    def __init__(
        self,
        robot: RobotSpec | None = None,
        robots: RobotSpec | Sequence[RobotSpec] | None = None,
        robot_weights: Sequence[float] | dict[str, float] | None = None,
        robot_dirs: Sequence[str | os.PathLike[str]] = (),
        task: str = "ft",
        frame_skip: int = 4,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.0,
        stand_reward_weight: float = 0.0,
        stand_height_ratio: float | None = None,
        terminate_on_fall: bool = True,
        reset_noise_scale: float = 0.005,
        max_contacts: int = MAX_CONTACTS,
        max_constraint_rows: int = MAX_CONSTRAINT_ROWS,
        terrain: TerrainConfig | Mapping[str, Any] | None = None,
        obstacles: ObstacleConfig | Mapping[str, Any] | None = None,
        rotate_reset_hfield: bool = False,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera_name: str | None = None,
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"task={task!r}; allowed: {TASKS}")
        if robot is not None and robots is not None:
            raise ValueError("give one of robot=... (one robot) or robots=[...] (several), not both")
        if robot is None and robots is None:
            robots = DEFAULT_ROBOTS
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode={render_mode!r}; allowed: None, {self.metadata['render_modes']}")
        if camera_name is not None and camera_name not in CAMERAS:
            raise ValueError(f"camera_name={camera_name!r}; allowed: {CAMERAS}")
        if frame_skip < 1:
            raise ValueError(f"frame_skip={frame_skip}; must be at least 1")
        self.task = task
        self.frame_skip = int(frame_skip)
        self.forward_reward_weight = float(forward_reward_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.stand_reward_weight = float(stand_reward_weight)
        self.stand_height_ratio = float(STAND_HEIGHT_RATIO[task] if stand_height_ratio is None else stand_height_ratio)
        self.terminate_on_fall = bool(terminate_on_fall)
        self.reset_noise_scale = float(reset_noise_scale)
        self.max_contacts = int(max_contacts)
        self.max_constraint_rows = int(max_constraint_rows)
        self.rotate_reset_hfield = bool(rotate_reset_hfield)

        self._arena: Arena
        if task == "ft":
            self._arena = FlatFloor()
        elif task == "vt":
            self._arena = TerrainCorridor(coerce_config(TerrainConfig, terrain or TerrainConfig(), "terrain"))
        else:
            self._arena = ObstacleCourse(coerce_config(ObstacleConfig, obstacles or ObstacleConfig(), "obstacles"))

        specs = [robot] if robot is not None else robots
        self._robots = [self._prepare(m) for m in resolve_robots(specs, robot_dirs)]
        self.robot_names = [r.morphology.name for r in self._robots]
        self._weights = np.full(len(self._robots), 1.0 / len(self._robots))
        if robot_weights is not None:
            self.set_robot_weights(robot_weights)

        self.render_mode = render_mode
        self.width, self.height = int(width), int(height)
        self.camera_name = camera_name or self._arena.camera
        self._renderer: mujoco.Renderer | None = None

        inf = np.inf
        keys: dict[str, spaces.Space] = {
            "proprioceptive": spaces.Box(-inf, inf, (PROPRIOCEPTIVE_DIM,), np.float64),
            "context": spaces.Box(-inf, inf, (MAX_LIMBS * CONTEXT_DIM,), np.float64),
            "edges": spaces.Box(0, MAX_LIMBS - 1, (2 * MAX_JOINTS,), np.int64),
            "obs_padding_mask": spaces.Box(0, 1, (MAX_LIMBS,), bool),
            "act_padding_mask": spaces.Box(0, 1, (ACTION_DIM,), bool),
            "adjacency_matrix": spaces.Box(0.0, 1.0, (MAX_LIMBS, MAX_LIMBS), np.float64),
        }
        if self._arena.has_hfield_observation:
            keys["hfield"] = spaces.Box(-inf, inf, (HFIELD_DIM,), np.float64)
        self.observation_space = spaces.Dict(keys)
        self.action_space = spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

        self._current = self._robots[0]
        self._activate(self._current)
        self._last_obs: dict[str, np.ndarray] | None = None
        self._episode: dict[str, Any] | None = None  # how this episode's ground was made (snapshot())

    # ------------------------------------------------------------------ robots and models
    def _prepare(self, morph: Morphology) -> _Robot:
        orig_height = morph.torso_z - FLOOR_OFFSET  # docs/environment.md §1.3 (Agent module)
        return _Robot(
            morphology=morph,
            scene=agent_scene(morph),
            orig_height=orig_height,
            fall_threshold=orig_height * self.stand_height_ratio,
        )

    def _activate(self, robot: _Robot) -> None:
        """Make ``robot`` current, compiling its model if its ground layout changed (else reuse it)."""
        if robot.model is None or robot.layout_version != self._arena.layout_version:
            robot.model = compile_scene(robot.scene, self._arena, robot.morphology)
            robot.data = mujoco.MjData(robot.model)
            robot.layout_version = self._arena.layout_version
            robot.observation = AgentObservation(robot.model)  # body ids move with the ground's slot count
            robot.views = _DataViews(robot.model, robot.data, robot.observation)
            if self._renderer is not None and robot is self._current:
                self._renderer.close()
                self._renderer = None
        else:
            self._arena.update_model(robot.model)
            if self._arena.rewrites_hfields and self._renderer is not None:  # its GPU copy of the terrain is stale
                self._renderer.close()
                self._renderer = None
        if robot is not self._current and self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._current = robot

    @property
    def model(self) -> mujoco.MjModel:
        """The current robot's compiled ``MjModel``."""
        return self._current.model

    @property
    def data(self) -> mujoco.MjData:
        """The current robot's ``MjData``."""
        return self._current.data

    @property
    def robot_name(self) -> str:
        """Name of the current robot."""
        return self._current.morphology.name

    @property
    def dt(self) -> float:
        """Control period: ``frame_skip`` × the model's timestep (0.02 s)."""
        return self.model.opt.timestep * self.frame_skip

    def set_robot_weights(self, weights: Sequence[float] | dict[str, float]) -> None:
        """Set the probabilities of drawing each robot at reset (normalised here).

        :param weights: one non-negative weight per robot in ``robot_names`` order, or a dict
            ``{name: weight}`` (robots not named get weight 0).
        :raises ValueError: wrong length, unknown name, negative or non-finite weights, all zero.
        """
        if isinstance(weights, dict):
            unknown = sorted(set(weights) - set(self.robot_names))
            if unknown:
                raise ValueError(f"robot_weights names unknown robots {unknown}; robots: {self.robot_names}")
            w = np.array([float(weights.get(n, 0.0)) for n in self.robot_names])
        else:
            w = np.asarray(weights, dtype=float).reshape(-1)
            if len(w) != len(self._robots):
                raise ValueError(f"robot_weights has {len(w)} entries; expected {len(self._robots)} (one per robot)")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise ValueError(f"robot_weights must be finite, non-negative and not all zero; got {w.tolist()}")
        w = w / w.max()  # a sum of huge weights would overflow to inf
        self._weights = w / w.sum()

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; see the class docstring's Starting State for ``options``."""
        super().reset(seed=seed)
        options = options or {}
        if "robot" in options:
            if options["robot"] not in self.robot_names:
                raise ValueError(f"options['robot']={options['robot']!r} is not one of {self.robot_names}")
            robot = self._robots[self.robot_names.index(options["robot"])]
        elif len(self._robots) > 1:
            robot = self._robots[self.np_random.choice(len(self._robots), p=self._weights)]
        else:
            robot = self._robots[0]
        replay = {k: np.array(options[k], dtype=float) for k in REPLAYED_GROUND if k in options}
        drawn_from = self.np_random.bit_generator.state  # the ground is drawn next: snapshot() redraws it
        self._episode = {"rng": drawn_from, "ground": replay} if "terrain" not in options else None
        self._arena.new_episode(self.np_random, options)
        self._activate(robot)

        model, data = self.model, self.data
        mujoco.mj_resetData(model, data)
        if "qpos" in options or "qvel" in options:
            self._write_state(options.get("qpos", model.qpos0), options.get("qvel", np.zeros(model.nv)))
        else:
            s = self.reset_noise_scale
            data.qpos[:] = model.qpos0 + self.np_random.uniform(-s, s, model.nq)
            data.qvel[:] = self.np_random.uniform(-s, s, model.nv)
            mujoco.mju_normalize4(data.qpos[3:7])  # docs/environment.md §2.1
        mujoco.mj_forward(model, data)
        x, y, z = self._current.views.torso_pos.tolist()
        obs, ground = self._observation(self.rotate_reset_hfield, x, y)
        self._last_obs = obs
        return self._with_morphology(obs), {"name": self.robot_name, "torso_height": _torso_height(z, ground)}

    def snapshot(self) -> dict[str, Any]:
        """Everything the rest of this episode depends on, as plain numbers and arrays (no objects to pickle):
        :meth:`restore` it into another env made with the same arguments, and stepping both with the same
        actions gives bit for bit the same observations, rewards and flags (also through later resets).

        Keys: ``robot`` (name), ``rng`` (the env's generator state), ``weights`` (robot sampling, (R,)),
        ``episode`` (the generator state this episode's ground was drawn from, and the ``terrain_hfield`` /
        ``obstacles`` reset options it was replayed from, if any), ``arena`` (what earlier episodes left in the
        ground that later ones depend on: VT's slot capacity), ``physics`` (MuJoCo's integration state,
        ``mjSTATE_INTEGRATION``), ``xpos`` (nbody, 3) and ``xmat`` (nbody, 9) (MuJoCo leaves them from the
        start of the last step, and the next step reads the torso's), ``last_obs`` (the last observation's
        changing keys).

        :raises RuntimeError: before the first reset, or in an episode started with ``options["terrain"]``
            (a layout object; replay it with ``options["terrain_hfield"]`` instead).
        """
        if self._last_obs is None:
            raise RuntimeError("snapshot() needs an episode: call reset() first")
        if self._episode is None:
            raise RuntimeError(
                "this episode's ground came from options['terrain'] (a layout object), which a snapshot cannot "
                "hold; start it with options['terrain_hfield'] (its heights) to snapshot it"
            )
        model, data, episode = self.model, self.data, self._episode
        physics = np.empty(mujoco.mj_stateSize(model, INTEGRATION))
        mujoco.mj_getState(model, data, physics, INTEGRATION)
        return {
            "robot": self.robot_name,
            "rng": self.np_random.bit_generator.state,
            "weights": self._weights.copy(),
            "episode": {"rng": episode["rng"], "ground": {k: v.copy() for k, v in episode["ground"].items()}},
            "arena": self._arena.history(),
            "physics": physics,
            "xpos": data.xpos.copy(),
            "xmat": data.xmat.copy(),
            "last_obs": {key: value.copy() for key, value in self._last_obs.items()},
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Continue from a :meth:`snapshot` (of this env or of one made with the same arguments): the episode's
        robot and ground, the simulator's state and the env's generator, exactly.

        Everything is checked before anything changes, except the simulator arrays' sizes, which need the
        robot's model: a snapshot of another robot's sizes leaves the env to be reset.

        :raises InvalidStateError: a snapshot that does not fit this env (another robot set, another robot's
            sizes, a missing or broken entry), naming what.
        """
        try:
            name = str(snapshot["robot"])
            if name not in self.robot_names:
                raise InvalidStateError(f"snapshot robot {name!r} is not one of this env's robots {self.robot_names}")
            episode = snapshot["episode"]
            ground = {k: _numbers(f"ground {k}", v) for k, v in dict(episode["ground"]).items()}
            unknown = set(ground) - set(REPLAYED_GROUND)
            if unknown:
                raise InvalidStateError(f"snapshot ground options {sorted(unknown)} are not {list(REPLAYED_GROUND)}")
            ground_rng, rng = _generator(episode["rng"]), _generator(snapshot["rng"])
            history = {str(k): int(v) for k, v in dict(snapshot.get("arena", {})).items()}
            weights = _numbers("weights", snapshot["weights"])
            if weights.shape != self._weights.shape or not np.all(np.isfinite(weights)):
                raise InvalidStateError(f"snapshot weights {weights.shape} do not fit {len(self._robots)} robots")
            arrays = {key: _numbers(key, snapshot[key]) for key in ("physics", "xpos", "xmat")}
            for key, value in arrays.items():
                if not np.all(np.isfinite(value)):
                    raise InvalidStateError(f"snapshot {key} for robot {name!r} holds NaN or inf")
            last_obs = {key: np.array(value) for key, value in dict(snapshot["last_obs"]).items()}
        except InvalidStateError:
            raise
        except KeyError as exc:
            raise InvalidStateError(f"snapshot lacks {exc}: not a UnimalEnv.snapshot()") from None
        except (TypeError, ValueError) as exc:  # e.g. a ground, arena or last_obs that is not a mapping
            raise InvalidStateError(f"snapshot is broken: {exc}") from None
        self._arena.adopt_history(history)
        self._arena.new_episode(ground_rng, dict(ground))
        self._activate(self._robots[self.robot_names.index(name)])
        model, data = self.model, self.data
        shapes = {
            "physics": (mujoco.mj_stateSize(model, INTEGRATION),),
            "xpos": data.xpos.shape,
            "xmat": data.xmat.shape,
        }
        for key, shape in shapes.items():
            if arrays[key].shape != shape:
                raise InvalidStateError(
                    f"snapshot {key} for robot {name!r} has shape {arrays[key].shape}; its model needs {shape} "
                    "(reset the env before using it)"
                )
        mujoco.mj_resetData(model, data)
        mujoco.mj_setState(model, data, arrays["physics"], INTEGRATION)
        mujoco.mj_forward(model, data)  # the derived quantities (for render()), then the exact warm start again
        mujoco.mj_setState(model, data, arrays["physics"], INTEGRATION)
        data.xpos[:], data.xmat[:] = arrays["xpos"], arrays["xmat"]
        self.np_random = rng
        self._weights = weights
        self._last_obs = last_obs
        self._episode = {"rng": episode["rng"], "ground": ground}

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Set the simulator's positions (nq,) and velocities (nv,), then ``mj_forward``.

        :raises InvalidStateError: wrong sizes or non-finite values.
        """
        self._write_state(qpos, qvel)
        mujoco.mj_forward(self.model, self.data)

    def _write_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        model = self.model
        qpos = np.asarray(qpos, dtype=float)
        qvel = np.asarray(qvel, dtype=float)
        for field, value, size in (("qpos", qpos, model.nq), ("qvel", qvel, model.nv)):
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                got = (
                    f"shape {value.shape}"
                    if value.shape != (size,)
                    else f"NaN or inf at {np.flatnonzero(~np.isfinite(value)).tolist()}"
                )
                name = self.robot_name
                raise InvalidStateError(f"{field} for robot {name!r} must be {size} finite numbers; got {got}")
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Advance ``frame_skip`` physics steps with the padded action (24,).

        :returns: ``(observation, reward, terminated, truncated, info)`` (see the class docstring).
        """
        obs, reward, terminated, truncated, info = self._step(action)
        return self._with_morphology(obs), reward, terminated, truncated, info

    def _step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """:meth:`step` with only the keys that change within an episode in the observation: ``proprioceptive``
        (and ``hfield``), new arrays (the vector env writes the constant keys at reset only).

        A step is three parts, which :class:`~unimal_gym.envs.UnimalVectorEnv` runs for all its envs part by
        part (the physics of many envs on threads): :meth:`_prepare_step` (action → ``ctrl``, the state
        kept for a physics error), :meth:`_physics` (MuJoCo alone) and :meth:`_finish_step` (everything
        read from the new state).
        """
        before = self._prepare_step(action)
        self._physics()
        return self._finish_step(before)

    def _prepare_step(self, action: np.ndarray) -> _Before:
        """Check ``action`` (24,), write its actuated slots into ``ctrl`` and keep what :meth:`_finish_step` needs.

        :raises InvalidActionError: a wrong shape, NaN or inf (nothing is changed then).
        """
        robot = self._current
        data, views = robot.data, robot.views
        if views.set_ctrl is None or views.set_ctrl(action):  # not a finite float vector of 24: numpy
            action = self._check_action(action)  # raises for a wrong shape, NaN or inf
            action.take(robot.observation.actuated, out=views.ctrl)
        before = _Before(
            views.torso_xy.copy(), views.qpos.copy(), views.qvel.copy(), data.time, views.warning_counts.tolist()
        )
        data.maxuse_con = data.maxuse_efc = 0
        return before

    def _physics(self) -> None:
        """``frame_skip`` substeps in one ``mj_step`` call, then ``mj_comVel`` for the observation's velocities
        (:meth:`AgentObservation.proprioceptive`); MuJoCo releases the GIL in both.

        After a physics error :meth:`_finish_step` restores the state and runs ``mj_forward``, which
        recomputes what ``mj_comVel`` wrote, so calling it unconditionally here changes nothing.
        """
        robot = self._current
        mujoco.mj_step(robot.model, robot.data, self.frame_skip)
        mujoco.mj_comVel(robot.model, robot.data)

    def _finish_step(self, before: _Before) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """The step's results from the state :meth:`_physics` left (see :meth:`_step`)."""
        robot = self._current
        model, data, views = robot.model, robot.data, robot.views
        ctrl = views.ctrl  # the actuated slots, in actuator order
        torso_pos = views.torso_pos
        xy_before = before.xy
        error = self._physics_error(robot, before)
        if error:  # the state is back to before the step: report it with that step's reward terms, reward 0
            mujoco.mj_forward(model, data)
            obs = {key: value.copy() for key, value in self._last_obs.items()}
            x, y, z = torso_pos.tolist()
            torso_height = _torso_height(z, self._arena.ground_height(x, y))
            _, forward, ctrl_cost, stand = self._reward(robot, 0.0, ctrl, torso_height)
            info = self._info(robot, xy_before, xy_before, 0.0, torso_height, forward, ctrl_cost, stand)
            info["mj_step_error"], info["timeout"] = error, True
            return obs, 0.0, False, True, info

        x, y, z = torso_pos.tolist()
        obs, ground = self._observation(True, x, y, velocities=False)
        self._last_obs = obs
        x_vel = (x - xy_before.item(0)) / (views.opt.timestep * self.frame_skip)
        torso_height = _torso_height(z, ground)
        reward, forward, ctrl_cost, stand = self._reward(robot, x_vel, ctrl, torso_height)
        info = self._info(robot, xy_before, views.torso_xy.copy(), x_vel, torso_height, forward, ctrl_cost, stand)
        terminated = False
        if self.terminate_on_fall and torso_height <= robot.fall_threshold:
            terminated = info["terminate_on_fall"] = True
        if self._arena.off_edge(y):
            terminated = info["terminate_on_edge"] = True
        return obs, reward, terminated, False, info

    def _check_action(self, action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (ACTION_DIM,):
            raise InvalidActionError(
                f"action for robot {self.robot_name!r} must have shape ({ACTION_DIM},) (2 slots × {MAX_LIMBS} limbs, "
                f"padded slots ignored); got shape {a.shape}"
            )
        # a · a is NaN or inf iff an entry is (or, rarely, when it overflows: then look element-wise)
        if not math.isfinite(a.dot(a)) and not np.isfinite(a).all():
            bad = np.flatnonzero(~np.isfinite(a)).tolist()
            raise InvalidActionError(f"action for robot {self.robot_name!r} has NaN or inf at slots {bad}")
        return a

    def _physics_error(self, robot: _Robot, before: _Before) -> str:
        """After :meth:`_physics`: on a physics error restore the pre-step state and name the error ("" if none).

        The buffer limits are checked on MuJoCo's high-water marks ``maxuse_con``/``maxuse_efc``
        (zeroed by :meth:`_prepare_step`), which are the largest ``ncon``/``nefc`` of any substep, so one
        ``mj_step`` call runs all substeps. Warning counters only grow: one look afterwards sees a warning
        raised in any.
        """
        data, views = robot.data, robot.views
        problem = ""
        if data.maxuse_con > self.max_contacts:
            problem = f"{data.maxuse_con} contacts > max_contacts={self.max_contacts}"
        elif data.maxuse_efc > self.max_constraint_rows:
            problem = f"{data.maxuse_efc} constraint rows > max_constraint_rows={self.max_constraint_rows}"
        warnings_after = views.warning_counts.tolist()
        if warnings_after != before.warnings:
            raised = [w.name for w in PHYSICS_WARNINGS if warnings_after[w] > before.warnings[w]]
            problem = ", ".join(raised) or problem
        if problem:
            views.qpos[:], views.qvel[:], data.time = before.qpos, before.qvel, before.time
            return f"physics error at t={before.time:.3f} for robot {self.robot_name!r}: {problem}"
        return ""

    def _reward(
        self, robot: _Robot, x_vel: float, ctrl: np.ndarray, torso_height: float
    ) -> tuple[float, float, float, float]:
        """The step's reward and its terms (the class docstring's Rewards).

        :param robot: the current robot (its ``orig_height`` caps the stand term).
        :param x_vel: the torso's x velocity over the step (m/s).
        :param ctrl: the actuated action slots (nu,), in actuator order.
        :param torso_height: the torso's height above the ground (m).
        :returns: ``(reward, forward, ctrl_cost, stand)``, reward = forward − ctrl_cost + stand.
        """
        forward = self.forward_reward_weight * x_vel
        # a zero weight skips its term's work (ctrl is finite: _check_action), same values
        ctrl_cost = self.ctrl_cost_weight * float(ctrl.dot(ctrl)) if self.ctrl_cost_weight else 0.0
        stand = self.stand_reward_weight * min(torso_height, 2 * robot.orig_height) if self.stand_reward_weight else 0.0
        return forward - ctrl_cost + stand, forward, ctrl_cost, stand

    def _info(
        self,
        robot: _Robot,
        xy_before: np.ndarray,
        xy_after: np.ndarray,
        x_vel: float,
        torso_height: float,
        forward: float,
        ctrl_cost: float,
        stand: float,
    ) -> dict[str, Any]:
        """The step's ``info`` from its values and :meth:`_reward`'s terms, plus the energy metric of the state.

        :param xy_before: the torso's xy (2,) before the step (kept in ``info``, not copied).
        :param xy_after: the torso's xy (2,) after the step (likewise).
        :returns: a new dict with the keys of a step without physics error.
        """
        x_after = float(xy_after[0])
        return {
            "name": robot.morphology.name,
            "x_pos": x_after,
            "metric": x_after,
            "x_vel": x_vel,
            "xy_pos_before": xy_before,
            "xy_pos_after": xy_after,
            "torso_height": torso_height,
            "mj_step_error": False,
            "timeout": False,
            "__reward__forward": forward,
            "__reward__ctrl": ctrl_cost,
            "__reward__stand": stand,
            # docs/environment.md §7: int(Σ|qfrc_actuator[1:]|)
            "__reward__energy": int(abs_sum(robot.views.joint_forces)),
        }

    def _observation(
        self, rotate_hfield: bool, x: float, y: float, velocities: bool = True
    ) -> tuple[dict[str, np.ndarray], float]:
        """The keys of the observation that change within an episode, and the ground height under the torso.

        :param rotate_hfield: rotate the hfield grid by the torso's yaw (steps) or not (reset, quirk 4).
        :param x: the torso's x (the hfield's centre).
        :param y: the torso's y.
        :param velocities: run ``mj_comVel`` first (False: :meth:`_physics` just did).
        :returns: ``(obs, ground)``: obs ``{"proprioceptive": (624,)}`` plus ``"hfield": (1410,)`` on VT and
            Obstacle, new arrays (:meth:`_with_morphology` adds the constant keys); ground the terrain height
            under (x, y) that ``torso_height`` is measured from, on VT and Obstacle the clipped centre cell of
            this very hfield sample.
        """
        robot = self._current
        obs = {"proprioceptive": robot.observation.proprioceptive(robot.model, robot.data, velocities)}
        if self._arena.has_hfield_observation:
            heading = robot.views.torso_heading if rotate_hfield else None
            obs["hfield"], ground = self._arena.hfield_observation(x, y, heading)
        else:
            ground = self._arena.ground_height(x, y)
        return obs, ground

    def _with_morphology(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The whole observation (keys in the class docstring's order) from :meth:`_observation`'s keys and the
        current robot's constant ones, copied because Gymnasium's checker requires new arrays on every call."""
        full = {"proprioceptive": obs["proprioceptive"]}
        for key, value in self._current.observation.morphology.items():
            full[key] = value.copy()
        if "hfield" in obs:
            full["hfield"] = obs["hfield"]
        return full

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        """The view from ``camera_name``: ``render_mode="rgb_array"`` gives an (height, width, 3) uint8 image,
        ``"depth_array"`` an (height, width) float32 image of distances from the camera in metres."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array' to the constructor")
            return None
        if self._renderer is None:
            model = self.model
            model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
            model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
            self._renderer = mujoco.Renderer(model, self.height, self.width)
            if self.render_mode == "depth_array":
                self._renderer.enable_depth_rendering()
        self._renderer.update_scene(self.data, camera=self.camera_name)
        return self._renderer.render()

    def __deepcopy__(self, memo: dict[int, Any]) -> UnimalEnv:
        raise TypeError(
            f"the UnimalEnv of robot {self.robot_name!r} cannot be copied (its step path holds views of its "
            "MjData); make a new env with the same arguments and replay the state with "
            "reset(options={'qpos': ..., 'qvel': ...}) (VT/Obstacle: with the terrain or obstacle layout)"
        )

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"the UnimalEnv of robot {self.robot_name!r} cannot be pickled; pickle a function that makes it "
            "(as vector envs do) instead"
        )

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
