"""The native vector env as a stable-baselines3 ``VecEnv``: what training, collection and evaluation step.

:class:`NativeVecEnv` wraps :class:`unimal_gym.envs.UnimalVectorEnv` (N environments stepped on threads in
this process, no pipes) and returns exactly what SB3's ``DummyVecEnv`` of :func:`~.envs.make_env`'s
environments returns: the network observation keys only, float32 rewards, ``done = terminated or
truncated``, per-env ``info`` dicts with ``"TimeLimit.truncated"``, the ended episode's
``"terminal_observation"`` and, as SB3's ``Monitor`` writes it, ``info["episode"] = {"r", "l", "t",
"name"}`` (the return summed in Python floats, rounded to 6 digits). Seeds and reset options follow SB3's
``seed()`` / ``set_options()`` (env ``i`` gets ``seed + i`` at the next reset). A PPO run on it is bitwise the
run on ``DummyVecEnv`` (``tests/test_ppo.py``), only faster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

import unimal_gym
from unimal_gym.envs import UnimalVectorEnv
from unimal_gym.envs.errors import InvalidStateError

from .envs import obs_keys

MONITOR_KEYWORDS = ("name",)
"""Info keys copied into ``info["episode"]``, as ``Monitor(env, info_keywords=...)`` in :func:`~.envs.make_env`."""


class NativeVecEnv(VecEnv):
    """``n_envs`` UNIMAL environments of ``task`` on ``robots`` as one SB3 ``VecEnv`` (see the module docstring).

    :param task: ``"ft"``, ``"vt"`` or ``"obstacle"``.
    :param robots: the robots every env draws from at each reset (files, names or a set).
    :param n_envs: number of environments.
    :param keys: observation keys returned (default: :func:`~.envs.obs_keys` of the task).
    :param num_threads: threads stepping the environments (default: one per CPU this process may use).
    :param max_episode_steps: the time limit (``gym.make``'s 1000 by default).
    :param env_kwargs: other :class:`~unimal_gym.envs.UnimalEnv` keywords.
    """

    def __init__(
        self,
        task: str,
        robots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        n_envs: int,
        keys: Iterable[str] | None = None,
        num_threads: int | None = None,
        max_episode_steps: int = unimal_gym.MAX_EPISODE_STEPS,
        **env_kwargs: Any,
    ) -> None:
        specs = [str(robots)] if isinstance(robots, (str, os.PathLike)) else [str(r) for r in robots]
        self.venv = UnimalVectorEnv(
            n_envs,
            robots=specs,
            task=task,
            max_episode_steps=max_episode_steps,
            num_threads=num_threads,
            autoreset_mode=AutoresetMode.SAME_STEP,
            copy=False,
            **env_kwargs,
        )
        self.keys = list(obs_keys(task) if keys is None else keys)
        single = self.venv.single_observation_space
        unknown = [k for k in self.keys if k not in single.spaces]
        if unknown:
            raise ValueError(f"keys {unknown} are not observation keys of task {task!r}: {list(single.spaces)}")
        space = spaces.Dict({k: single[k] for k in self.keys})
        super().__init__(n_envs, space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._episode_returns = [0.0] * n_envs
        self._episode_lengths = [0] * n_envs
        self._episode_start = [time.time()] * n_envs

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> VecEnvObs:
        """Reset every env (with the seeds and options set since the last reset, then forgotten)."""
        per_env = [dict(o) if o else None for o in self._options]
        _, _ = self.venv.reset(seed=list(self._seeds), options={"per_env": per_env})
        self.reset_infos = [dict(info) for info in self.venv.infos]
        self._reset_seeds()
        self._reset_options()
        now = time.time()
        self._episode_returns = [0.0] * self.num_envs
        self._episode_lengths = [0] * self.num_envs
        self._episode_start = [now] * self.num_envs
        return self._observations()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env; an ended episode's env is reset at once (its last observation in the info)."""
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        venv = self.venv
        venv.step_all(self._actions)
        self._actions = None
        terminated, truncated, rewards = venv.terminations, venv.truncations, venv.rewards
        infos: list[dict[str, Any]] = []
        for i, final in enumerate(venv.final_observations):
            self._episode_returns[i] += float(rewards[i])
            self._episode_lengths[i] += 1
            if final is None:
                info = dict(venv.infos[i])
            else:
                last_obs, info = final[0], dict(final[1])
                info["terminal_observation"] = {k: last_obs[k] for k in self.keys}
                episode = {
                    "r": round(self._episode_returns[i], 6),
                    "l": self._episode_lengths[i],
                    "t": round(time.time() - self._episode_start[i], 6),
                }
                for key in MONITOR_KEYWORDS:
                    episode[key] = info[key]
                info["episode"] = episode
                self.reset_infos[i] = dict(venv.infos[i])
                self._episode_returns[i], self._episode_lengths[i] = 0.0, 0
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            infos.append(info)
        dones = terminated | truncated
        return self._observations(), rewards.astype(np.float32), dones, infos

    def snapshot(self) -> dict[str, Any]:
        """The vector env's :meth:`~unimal_gym.envs.UnimalVectorEnv.snapshot` and the episodes' running return
        and length (Monitor's): what :meth:`restore` needs to go on bit for bit (PPO's exact resume)."""
        return {
            "vector": self.venv.snapshot(),
            "episode_returns": np.array(self._episode_returns),
            "episode_lengths": np.array(self._episode_lengths),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot` (episode wall-clock times start anew).

        :raises InvalidStateError: one that does not fit these envs.
        """
        try:
            returns = [float(r) for r in snapshot["episode_returns"]]
            lengths = [int(n) for n in snapshot["episode_lengths"]]
            vector = snapshot["vector"]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidStateError(f"not a NativeVecEnv snapshot ({exc})") from None
        if len(returns) != self.num_envs or len(lengths) != self.num_envs:
            raise InvalidStateError(f"snapshot of {len(returns)} envs; this VecEnv has {self.num_envs}")
        self.venv.restore(vector)
        self._episode_returns, self._episode_lengths = returns, lengths
        self._episode_start = [time.time()] * self.num_envs

    def _observations(self) -> dict[str, np.ndarray]:
        buffers = self.venv.buffers
        return {k: buffers[k].copy() for k in self.keys}

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return list(self.venv.render())

    def _envs(self, indices: VecEnvIndices) -> list[Any]:
        return [self.venv.envs[i] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(env, attr_name) for env in self._envs(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for env in self._envs(indices):
            setattr(env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return [getattr(env, method_name)(*method_args, **method_kwargs) for env in self._envs(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No env is wrapped: the time limit, key filter and episode statistics are this class's own."""
        return [False] * len(self._get_indices(indices))


__all__ = ["MONITOR_KEYWORDS", "NativeVecEnv"]
