"""Agents: anything that acts on a batch of raw observations of one robot, loaded from any artifact.

:func:`load_agent` reads the ``kind`` a file names itself by (:mod:`.files`) and returns

=====================  ==========================================================================
source                 agent
=====================  ==========================================================================
``random`` / ``zero``  :class:`ReferenceAgent`: uniform actions in [−1, 1] / all-zero actions
PPO checkpoint / run   :class:`TeacherAgent`: the actor of the actor-critic, σ = the run's fixed std
distillation ckpt/run  :class:`StudentAgent`: the distilled student (HyperDistill acts through the
                       plain MLP it generates, once per robot), σ = 0.9 for stochastic actions
exported ``.npz``      :class:`ExportedAgent`: :class:`unimal_gym.deploy.StudentPolicy` (numpy only)
=====================  ==========================================================================

Every agent takes the raw observation dict (``proprioceptive`` unnormalised) and applies its frozen
:class:`~unimal_gym.normalization.ObservationNormalizer` itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from unimal_gym.deploy import StudentFileError, StudentPolicy
from unimal_gym.layout import ACTION_DIM, TASKS, check_task
from unimal_gym.normalization import NormalizerError, ObservationNormalizer

from ..nets import ACTION_STD, HyperDistill, build_actor_critic, build_network, student_state, to_torch
from ..nets.registry import UnknownNetworkError
from .config import ConfigError
from .files import (
    DISTILL_CHECKPOINT,
    EXPORTED_STUDENT,
    PPO_CHECKPOINT,
    CheckpointError,
    arrays,
    artifact_kind,
    read_artifact,
)
from .run_dir import resolve_checkpoint

REFERENCE_POLICIES = ("random", "zero")


class Agent(Protocol):
    """Anything that acts on a batch of raw observations of one robot."""

    task: str
    """``ft``, ``vt`` or ``obstacle``."""
    iteration: int | None
    """The training step the policy was saved at (PPO iteration, distillation epoch), None for others."""

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:param obs: batched raw observation dict ((B, 624), …) of one robot. :return: (B, 24) actions."""
        ...

    def reseed(self, seed: int) -> None:
        """Restart the agent's own action noise from ``seed`` (the harness does so for every robot)."""
        ...

    def check_robot(self, obs: Mapping[str, np.ndarray]) -> None:
        """:raises unimal_gym.deploy.RobotMismatchError: the agent cannot act for this robot (an exported
        student made for another)."""
        ...


class AgentBase:
    """What the agents share: :meth:`reseed` of a numpy ``rng`` (the teacher overrides it: its noise is
    torch's) and :meth:`check_robot` accepting every robot (an exported student overrides it)."""

    iteration: int | None = None

    def reseed(self, seed: int) -> None:
        """Restart the action noise from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def check_robot(self, obs: Mapping[str, np.ndarray]) -> None:
        """Every robot is fine."""


def _header(state: Mapping[str, Any], step: str, source: Path) -> tuple[str, str, str, int]:
    """(task, arch, net, step) a checkpoint names. :raises CheckpointError: one is missing or of the wrong type."""
    try:
        task, arch, net, at = str(state["task"]), str(state["arch"]), str(state["net"]), int(state[step])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: the checkpoint does not name its network and step ({exc!r})") from None
    if task not in TASKS:
        raise CheckpointError(f"{source}: task {task!r} is not one of {', '.join(TASKS)}")
    return task, arch, net, at


def _normalizer(state: Mapping[str, Any], source: Path) -> ObservationNormalizer:
    try:
        return ObservationNormalizer.from_arrays(arrays(state["obs_norm"]), str(source))
    except (NormalizerError, KeyError) as exc:
        raise CheckpointError(f"{source}: broken observation statistics ({exc})") from None


def _build_loaded(build: Callable[[], nn.Module], weights: Mapping[str, Any], source: Path) -> nn.Module:
    """The network a checkpoint names, with its weights; the sizes are checked before anything is allocated.

    The network is first built on torch's ``meta`` device (no memory; the registry also bounds its size), and its
    parameter names and shapes must equal the stored tensors', so a checkpoint whose recorded size was edited
    (``d_model=6000`` in a 220 KB file) is refused before it can allocate gigabytes.

    :raises CheckpointError: a network that cannot be built, or weights that do not fit it.
    """
    try:
        with torch.device("meta"):
            skeleton = build()
    except (UnknownNetworkError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: names a network that cannot be built ({exc})") from None
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in weights.items() if isinstance(v, torch.Tensor)}
    if expected != stored or len(stored) != len(weights):
        wrong = sorted(set(expected) ^ set(weights)) or [k for k in expected if expected[k] != stored.get(k)]
        detail = ", ".join(
            f"{k}: stored {stored.get(k, 'none')}, expected {expected.get(k, 'none')}" for k in wrong[:3]
        )
        raise CheckpointError(
            f"{source}: weights do not fit the network it names (another architecture or size; {len(wrong)} "
            f"tensors differ: {detail})"
        )
    module = build()
    module.load_state_dict(weights)
    return module


class TeacherAgent(AgentBase):
    """A PPO checkpoint's actor with its frozen observation statistics.

    :param path: a ``ppo-checkpoint`` file.
    :raises CheckpointError: unreadable, another kind, or weights that do not fit the network it names.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        state = read_artifact(self.path, PPO_CHECKPOINT)
        self.task, self.arch, self.net, self.iteration = _header(state, "iteration", self.path)
        try:
            self.robots: list[str] = list(state["robots"])
            config = state["config"]
            self.training_set: tuple[str, int] = (str(config["robots"]), int(config["robot_limit"]))
            """The robot set it was trained on: (bundled set or folder, first-N limit; 0 = all)."""
            self.ppo_config: dict[str, Any] = dict(config)
            """The PPO configuration it was trained with, as its run recorded it (``PPOConfig.to_dict``)."""
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: no valid training robots recorded ({exc!r})") from None
        try:
            action_std = float(state["action_std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.path}: no valid action_std recorded ({exc!r})") from None
        self.ac = _build_loaded(
            lambda: build_actor_critic(self.arch, self.task, self.net, action_std=action_std),
            {k.removeprefix("ac."): v for k, v in state["policy"].items()},
            self.path,
        )
        self.ac.eval()
        self.normalizer = _normalizer(state, self.path)
        self.generator = torch.Generator().manual_seed(0)

    @property
    def actor(self) -> nn.Module:
        """The actor network: normalised observation dict → (B, 24) action means."""
        return self.ac.actor

    def reseed(self, seed: int) -> None:
        """Restart the action noise (the agent's own torch generator) from ``seed``."""
        self.generator.manual_seed(seed)

    @torch.no_grad()
    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:return: (B, 24) the mean, or mean + σ · N(0, 1) from the agent's generator; padded slots 0."""
        dist = self.ac.distribution(to_torch(self.normalizer.normalise_obs(obs)))
        if deterministic:
            return dist.mode().numpy()
        noise = torch.randn(dist.mean.shape, generator=self.generator)
        return ((dist.mean + dist.std * noise) * dist.valid).numpy()


class StudentAgent(AgentBase):
    """A distilled student acting from raw observations with the teacher's frozen statistics.

    HyperDistill acts through the plain MLP it generates, once per robot (docs/networks.md §5.4).

    :param path: a ``distill-checkpoint`` file.
    :raises CheckpointError: unreadable, another kind, or weights that do not fit the student it names.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        state = read_artifact(self.path, DISTILL_CHECKPOINT)
        self.task, self.arch, self.net, self.iteration = _header(state, "epoch", self.path)
        self.data_path = str(state.get("data", {}).get("path", ""))
        """The expert-data folder the student was distilled from (its robots are in ``robots/xml``)."""
        overrides = state["overrides"]
        if not isinstance(overrides, dict):
            raise CheckpointError(f"{self.path}: overrides must be a dict, got {type(overrides).__name__}")
        self.student = _build_loaded(
            lambda: build_network(self.arch, self.task, self.net, **overrides), state["student"], self.path
        )
        self.student.eval()
        self.normalizer = _normalizer(state, self.path)
        self.rng = np.random.default_rng(0)
        self._generated: dict[bytes, nn.Module] = {}

    @property
    def actor(self) -> nn.Module:
        """The student network: normalised observation dict → (B, 24) action means."""
        return self.student

    @torch.no_grad()
    def mean_action(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """:param obs: raw batched observation of one robot. :return: (B, 24) student means."""
        x = to_torch(self.normalizer.normalise_obs(obs))
        if not isinstance(self.student, HyperDistill):
            return self.student(x).numpy()
        key = obs["context"][0].tobytes() + obs["obs_padding_mask"][0].tobytes()
        if key not in self._generated:
            self._generated[key] = self.student.generate(
                x["context"][0], x["obs_padding_mask"][0], x["act_padding_mask"][0]
            )
        return self._generated[key](student_state(x["proprioceptive"]).flatten(1), x.get("hfield")).numpy()

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:return: (B, 24) the mean, or mean + 0.9 · N(0, 1) (numpy's RNG); padded slots 0."""
        return _sample(self.mean_action(obs), obs, deterministic, self.rng)


class ExportedAgent(AgentBase):
    """An exported ``.npz`` student (numpy only) for the robot it was generated for.

    :param path: the ``.npz`` file.
    :param task: the task it acts on: the one the file names (exported since the file names it), else
        this one (default ft).
    :raises CheckpointError: not an exported student. :raises ConfigError: ``task`` contradicts the file.
    """

    def __init__(self, path: str | os.PathLike[str], task: str | None = None) -> None:
        self.path = Path(path)
        try:
            self.policy = StudentPolicy.load(self.path)
        except StudentFileError as exc:
            raise CheckpointError(str(exc)) from None
        if self.policy.task and task is not None and task != self.policy.task:
            raise ConfigError(f"{self.path} is a {self.policy.task} student; it cannot act on task {task}")
        self.task = check_task(self.policy.task or task or "ft")
        self.iteration = None
        self.rng = np.random.default_rng(0)

    def check_robot(self, obs: Mapping[str, np.ndarray]) -> None:
        """:param obs: one robot's batched observation.
        :raises unimal_gym.deploy.RobotMismatchError: not the robot the file was made for."""
        self.policy.check_robot({k: v[0] for k, v in obs.items()})

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:return: (B, 24) the exported MLP's means (or a σ = 0.9 sample)."""
        return _sample(self.policy(obs).astype(np.float64), obs, deterministic, self.rng)


class ReferenceAgent(AgentBase):
    """``random``: uniform actions in [−1, 1]; ``zero``: all-zero actions.

    :param kind: ``"random"`` or ``"zero"``. :param task: the task it is evaluated on. :param seed: of the actions.
    """

    def __init__(self, kind: str, task: str, seed: int = 0) -> None:
        self.kind, self.task, self.seed = kind, check_task(task), seed
        self.iteration = None
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:return: (B, 24) zeros or uniform actions (``deterministic`` is ignored)."""
        n = len(obs["act_padding_mask"])
        if self.kind == "zero":
            return np.zeros((n, ACTION_DIM))
        return self.rng.uniform(-1.0, 1.0, (n, ACTION_DIM))


def _sample(
    mean: np.ndarray, obs: Mapping[str, np.ndarray], deterministic: bool, rng: np.random.Generator
) -> np.ndarray:
    if deterministic:
        return mean
    valid = ~np.asarray(obs["act_padding_mask"], dtype=bool)
    return (mean + ACTION_STD * rng.standard_normal(mean.shape)) * valid


def load_agent(source: str | os.PathLike[str], task: str | None = None, seed: int = 0) -> Agent:
    """The agent of ``source``: ``random``, ``zero``, a checkpoint or exported student, or a run directory.

    :param task: the task of a reference policy or an exported student (checkpoints carry their own;
        a different one given here is an error).
    :param seed: seed of a reference policy's random actions.
    :raises CheckpointError: nothing usable at ``source``. :raises ConfigError: a conflicting task.
    """
    if str(source) in REFERENCE_POLICIES:
        return ReferenceAgent(str(source), task or "ft", seed)
    path = resolve_checkpoint(source)
    kind = artifact_kind(path)
    if kind == EXPORTED_STUDENT:
        return ExportedAgent(path, task)
    agent: Agent = TeacherAgent(path) if kind == PPO_CHECKPOINT else StudentAgent(path)
    if task is not None and task != agent.task:
        raise ConfigError(f"{path} is a {agent.task} policy; it cannot act on task {task}")
    return agent


__all__ = [
    "REFERENCE_POLICIES",
    "Agent",
    "ExportedAgent",
    "ReferenceAgent",
    "StudentAgent",
    "TeacherAgent",
    "load_agent",
]
