"""``UnimalVectorEnv``: N UNIMAL environments stepped in one call on a pool of threads.

``gym.make_vec("Unimal-FT-v0", num_envs=16, vectorization_mode="vector_entry_point", robots="train")``
makes one (``Unimal-VT-v0`` and ``Unimal-Obstacle-v0`` likewise). Every sub-environment is a full
:class:`~unimal_gym.envs.UnimalEnv` with its own models, data and random generator, living in this
process. A step runs in three parts: every action is written into its env's ``ctrl`` (this thread), the
physics of all envs runs on the threads (MuJoCo releases the GIL while it simulates; each thread takes the
next env not yet taken), and the observations, rewards and infos are read off (this thread). The threads
thus run nothing but MuJoCo, and there is no inter-process traffic at all (SB3's
``SubprocVecEnv`` pickles every observation through a pipe).

Per sub-environment, everything is what a single ``gym.make`` environment with the same seed gives,
bitwise: sub-environment ``i`` runs exactly the calls a single env would, in the same order, on
memory no other thread touches (``tests/test_vector_env.py`` compares against Gymnasium's
``SyncVectorEnv`` of ``gym.make`` envs in every autoreset mode, on all three tasks, with mixed robots).

Semantics (Gymnasium 1.x):

* ``reset(seed=s)`` seeds sub-environment ``i`` with ``s + i`` (a list gives one seed per
  sub-environment; ``None`` leaves them as they are); ``options`` go to every sub-environment, except
  ``"reset_mask"`` (a (N,) bool array: reset only those) and ``"per_env"`` (a list of N dicts or
  ``None``, merged into the options of each sub-environment: ``{"per_env": [{"robot": name}, ...]}``).
* ``max_episode_steps`` (1000 from ``gym.make_vec``) truncates an episode as ``TimeLimit`` does.
* ``autoreset_mode``: :attr:`AutoresetMode.NEXT_STEP` (default, as Gymnasium's vector envs): the step
  after an episode ended resets that sub-environment, ignores its action and reports reward 0;
  :attr:`AutoresetMode.SAME_STEP`: the ended sub-environment is reset in the same step, its last
  observation and info under ``info["final_obs"]`` / ``info["final_info"]``;
  :attr:`AutoresetMode.DISABLED`: reset ended sub-environments yourself with ``reset_mask``.
* ``info`` is Gymnasium's dict of arrays, each key ``k`` with its mask ``"_k"``.

Observations are new arrays on every call (``copy=True``, as Gymnasium's default); ``copy=False`` returns
the internal buffers, which the next call overwrites.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..machine import available_cpus
from .errors import InvalidStateError
from .robots import RobotSpec, resolve_robots
from .unimal_env import DEFAULT_ROBOTS, UnimalEnv

Obs = dict[str, np.ndarray]


def autoreset_mode_of(mode: AutoresetMode | str) -> AutoresetMode:
    """An :class:`AutoresetMode` from itself, its value (``"NextStep"``) or its name in any case (``"next_step"``).

    :raises ValueError: anything else, naming the allowed values.
    """
    if isinstance(mode, AutoresetMode):
        return mode
    for m in AutoresetMode:
        if str(mode) == m.value or str(mode).upper() == m.name:
            return m
    allowed = [m.name.lower() for m in AutoresetMode]
    raise ValueError(f"autoreset_mode={mode!r}; allowed: {allowed} (or gymnasium.vector.AutoresetMode)")


class UnimalVectorEnv(VectorEnv):
    """``num_envs`` :class:`UnimalEnv` sub-environments stepped together on ``num_threads`` threads.

    :param num_envs: number of sub-environments (≥ 1).
    :param robot: one robot for every sub-environment (path, name or Morphology).
    :param robots: several robots (names, paths, folders, set names); each sub-environment draws one at
        every reset (uniformly or by ``robot_weights``), each with its own generator. Neither: the
        bundled ``train`` set. Robot files are read once, for all sub-environments.
    :param robot_weights: sampling weights of ``robots`` (see :meth:`UnimalEnv.set_robot_weights`).
    :param robot_dirs: extra folders searched for robot names.
    :param max_episode_steps: episode length limit (``None``: none); ``gym.make_vec`` passes 1000.
    :param num_threads: threads that step the sub-environments (default: the CPUs this process may use,
        at most ``num_envs``; 1 steps them in the calling thread).
    :param autoreset_mode: see the module docstring.
    :param copy: return new observation arrays on every call (True) or the internal buffers (False).
    :param env_kwargs: every other :class:`UnimalEnv` keyword (``task``, reward weights, ``terrain``, …).
    :raises ValueError: ``num_envs`` or ``num_threads`` < 1, an unknown autoreset mode, or any error
        :class:`UnimalEnv` raises for its arguments.
    """

    metadata = {  # noqa: RUF012 (gymnasium convention)
        "render_modes": ["rgb_array", "depth_array"],
        "render_fps": 50,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int,
        robot: RobotSpec | None = None,
        robots: RobotSpec | Sequence[RobotSpec] | None = None,
        robot_weights: Sequence[float] | dict[str, float] | None = None,
        robot_dirs: Sequence[str | os.PathLike[str]] = (),
        max_episode_steps: int | None = None,
        num_threads: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        **env_kwargs: Any,
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs={num_envs}; must be at least 1")
        if num_threads is not None and int(num_threads) < 1:
            raise ValueError(f"num_threads={num_threads}; must be at least 1 (or None: one per CPU)")
        if max_episode_steps is not None and int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps={max_episode_steps}; must be at least 1 (or None: no limit)")
        self.autoreset_mode = autoreset_mode_of(autoreset_mode)
        if robot is not None and robots is not None:
            raise ValueError("give one of robot=... (one robot) or robots=[...] (several), not both")
        specs = [robot] if robot is not None else (DEFAULT_ROBOTS if robots is None else robots)
        morphologies = resolve_robots(specs, robot_dirs)  # read once; every sub-env builds its own models

        self.num_envs = int(num_envs)
        self.envs: list[UnimalEnv] = [
            UnimalEnv(robots=morphologies, robot_weights=robot_weights, **env_kwargs) for _ in range(self.num_envs)
        ]
        first = self.envs[0]
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = first.render_mode
        self.robot_names: list[str] = list(first.robot_names)
        self.task: str = first.task
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.copy = bool(copy)

        self.single_observation_space: spaces.Dict = first.observation_space
        self.single_action_space: spaces.Box = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        n = self.num_envs
        self._obs: Obs = {
            key: np.zeros((n, *space.shape), dtype=space.dtype) for key, space in self.single_observation_space.items()
        }
        self._rewards = np.zeros(n)
        self._terminations = np.zeros(n, dtype=bool)
        self._truncations = np.zeros(n, dtype=bool)
        self._autoreset = np.zeros(n, dtype=bool)
        self._elapsed = np.zeros(n, dtype=np.int64)
        self._infos: list[dict[str, Any]] = [{} for _ in range(n)]
        self._finals: list[tuple[Obs, dict[str, Any]] | None] = [None] * n

        threads = min(n, available_cpus() if num_threads is None else int(num_threads))
        self.num_threads = threads
        self._pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="unimal-env") if threads > 1 else None

    # ------------------------------------------------------------------ running blocks on the threads
    def _run(self, indices: Sequence[int], work: Callable[[int], None]) -> None:
        """``work(i)`` for every sub-environment ``i`` of ``indices``, on all threads (this one included).

        Each thread takes the next sub-environment not yet taken until none is left (robots differ in cost,
        so fixed blocks would leave a thread idle). Every one is worked on even when another raises; then
        the exception of the lowest-numbered one is raised (the same whatever the timing).
        """
        errors: dict[int, BaseException] = {}
        n = len(indices)
        taken = itertools.count()  # next() on it is atomic under the GIL

        def worker() -> None:
            while (k := next(taken)) < n:
                try:
                    work(indices[k])
                except BaseException as e:  # re-raised below, after the other envs
                    errors[indices[k]] = e

        threads = 1 if self._pool is None else min(self.num_threads, n)
        futures = [self._pool.submit(worker) for _ in range(threads - 1)] if self._pool is not None else []
        worker()
        for f in futures:
            f.result()
        if errors:
            raise errors[min(errors)]

    def _store(self, i: int, obs: Obs) -> None:
        """Write sub-environment ``i``'s observation (all keys, or those a step changes) into row ``i``."""
        for key, value in obs.items():
            self._obs[key][i] = value

    def _batched_infos(self, indices: Sequence[int], infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Gymnasium's dict-of-arrays form of sub-environment infos (as ``VectorEnv._add_info`` builds it).

        Each key ``k`` becomes an array over the sub-environments, typed by the first value (a Python
        int, float, bool or numpy number: that dtype; an array: its shape and dtype per row; anything else:
        objects), with the bool mask ``"_k"`` of who has it; dicts recurse, ``final_obs`` stays objects.
        One pass per key instead of one per sub-environment and key.
        """
        n = self.num_envs
        out: dict[str, Any] = {}
        keys = dict.fromkeys(key for info in infos for key in info)
        for key in keys:
            owners = [(i, info[key]) for i, info in zip(indices, infos, strict=True) if key in info]
            first = owners[0][1]
            if key != "final_obs" and isinstance(first, dict):
                ids = [i for i, _ in owners]
                array: Any = self._batched_infos(ids, [v for _, v in owners])
            else:
                if key == "final_obs":
                    array = np.full(n, None, dtype=object)
                elif type(first) in (int, float, bool) or isinstance(first, np.number):
                    array = np.zeros(n, dtype=type(first))
                elif isinstance(first, np.ndarray):
                    array = np.zeros((n, *first.shape), dtype=first.dtype)
                else:
                    array = np.full(n, None, dtype=object)
                for i, value in owners:
                    array[i] = value
            mask = np.zeros(n, dtype=bool)
            mask[[i for i, _ in owners]] = True
            out[key], out[f"_{key}"] = array, mask
        return out

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """Reset every sub-environment (or those in ``options["reset_mask"]``); see the module docstring.

        :returns: ``(obs, info)``: obs a dict of (num_envs, ...) arrays; info Gymnasium's dict of arrays.
        :raises ValueError: a seed list or ``per_env`` of the wrong length, a bad ``reset_mask``.
        """
        n = self.num_envs
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds: list[int | None] = [None if seed is None else int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
            if len(seeds) != n:
                raise ValueError(f"seed is a list of {len(seeds)}; expected {n} (one per sub-environment)")
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(n, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a ({n},) bool array with at least one True; "
                    f"got shape {mask.shape}, dtype {mask.dtype}"
                )
        per_env = options.pop("per_env", None)
        if per_env is not None and len(per_env) != n:
            raise ValueError(f"options['per_env'] has {len(per_env)} entries; expected {n} (one per sub-environment)")

        def reset_one(i: int) -> None:
            if not mask[i]:
                return
            opts = options if per_env is None or per_env[i] is None else {**options, **per_env[i]}
            obs, self._infos[i] = self.envs[i].reset(seed=seeds[i], options=opts)
            self._store(i, obs)

        self._run(range(n), reset_one)
        self._elapsed[mask] = 0
        self._terminations[mask] = self._truncations[mask] = self._autoreset[mask] = False
        indices = np.flatnonzero(mask).tolist()
        return self._observations(), self._batched_infos(indices, [self._infos[i] for i in indices])

    def step(self, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment with its row of ``actions`` (num_envs, 24).

        :returns: ``(obs, rewards, terminations, truncations, info)``: obs a dict of (num_envs, ...)
            arrays, rewards (num_envs,) float64, the flags (num_envs,) bool, info a dict of arrays.
        :raises InvalidActionError: an action row of the wrong shape or with NaN / inf (naming the robot).
        :raises ValueError: ``actions`` without one row per sub-environment.
        """
        self.step_all(actions)
        infos = []
        for info, final in zip(self._infos, self._finals, strict=True):
            infos.append(info if final is None else {"final_obs": final[0], "final_info": final[1], **info})
        return (
            self._observations(),
            self._rewards.copy(),
            self._terminations.copy(),
            self._truncations.copy(),
            self._batched_infos(range(self.num_envs), infos),
        )

    def step_all(self, actions: np.ndarray, active: np.ndarray | None = None) -> None:
        """:meth:`step` without building its results: the observations are left in :attr:`buffers`, rewards
        and flags in :attr:`rewards`, :attr:`terminations`, :attr:`truncations`, each sub-environment's info
        dict in :attr:`infos` and ended episodes in :attr:`final_observations` (for adapters such as
        ``baselines.common.vec_env``, which want per-env dicts, not Gymnasium's dict of arrays).

        :param actions: (num_envs, 24), one row per sub-environment (rows of inactive ones are not read).
        :param active: (num_envs,) bool, step only these; the others keep their row, reward, flags and info
            as they are (e.g. with ``autoreset_mode="disabled"``, run every episode to its end once).
        """
        if len(actions) != self.num_envs:
            raise ValueError(f"actions has {len(actions)} rows; expected {self.num_envs} (one per sub-environment)")
        if active is not None:
            active = np.asarray(active)
            if active.shape != (self.num_envs,) or active.dtype != np.bool_:
                raise ValueError(f"active must be a ({self.num_envs},) bool array; got shape {active.shape}")
        mode = self.autoreset_mode
        ended_active = self._autoreset if active is None else self._autoreset & active
        if mode is AutoresetMode.DISABLED and ended_active.any():
            ended = np.flatnonzero(ended_active).tolist()
            raise RuntimeError(
                f"sub-environments {ended} ended their episodes; with autoreset_mode=DISABLED reset them first "
                "with reset(options={'reset_mask': mask})"
            )
        limit = self.max_episode_steps
        envs = self.envs
        indices = range(self.num_envs) if active is None else np.flatnonzero(active).tolist()
        resets = [i for i in indices if mode is AutoresetMode.NEXT_STEP and self._autoreset[i]]
        stepping = [i for i in indices if not (mode is AutoresetMode.NEXT_STEP and self._autoreset[i])]
        # 1. every action checked and written into ctrl (a refused one raises before any env is stepped)
        before = {i: envs[i]._prepare_step(actions[i]) for i in stepping}
        # 2. the physics, on all threads
        self._run(stepping, lambda i: envs[i]._physics())
        # 3. the results, and the resets
        for i in resets:
            obs, self._infos[i] = envs[i].reset()
            self._finals[i] = None
            self._elapsed[i] = 0
            self._rewards[i], self._terminations[i], self._truncations[i] = 0.0, False, False
            self._store(i, obs)
        for i in stepping:
            env = envs[i]
            self._finals[i] = None
            obs, reward, terminated, truncated, self._infos[i] = env._finish_step(before[i])
            self._elapsed[i] += 1
            if limit is not None and self._elapsed[i] >= limit:
                truncated = True
            self._rewards[i], self._terminations[i], self._truncations[i] = reward, terminated, truncated
            if mode is AutoresetMode.SAME_STEP and (terminated or truncated):
                self._finals[i] = (env._with_morphology(obs), self._infos[i])
                obs, self._infos[i] = env.reset()
                self._elapsed[i] = 0
            self._store(i, obs)
        np.logical_or(self._terminations, self._truncations, out=self._autoreset)

    def _observations(self) -> Obs:
        return {key: value.copy() for key, value in self._obs.items()} if self.copy else dict(self._obs)

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> dict[str, Any]:
        """Every sub-environment's :meth:`UnimalEnv.snapshot` and this env's own state (observation batch,
        rewards, flags, pending autoresets, steps into each episode), as plain numbers and arrays: restore it
        into a vector env made with the same arguments and both go on bit for bit alike.

        :raises RuntimeError: a sub-environment has not been reset.
        """
        return {
            "envs": [env.snapshot() for env in self.envs],
            "obs": {key: value.copy() for key, value in self._obs.items()},
            "rewards": self._rewards.copy(),
            "terminations": self._terminations.copy(),
            "truncations": self._truncations.copy(),
            "autoreset": self._autoreset.copy(),
            "elapsed": self._elapsed.copy(),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Continue from a :meth:`snapshot`. :raises InvalidStateError: one that does not fit this vector env."""
        try:
            envs = list(snapshot["envs"])
            arrays = {
                name: np.asarray(snapshot[name])
                for name in ("rewards", "terminations", "truncations", "autoreset", "elapsed")
            }
            obs = {key: np.asarray(value) for key, value in dict(snapshot["obs"]).items()}
        except KeyError as exc:
            raise InvalidStateError(f"snapshot lacks {exc}: not a UnimalVectorEnv.snapshot()") from None
        n = self.num_envs
        if len(envs) != n or any(a.shape != (n,) for a in arrays.values()):
            raise InvalidStateError(f"snapshot of {len(envs)} sub-environments; this vector env has {n}")
        if set(obs) != set(self._obs) or any(obs[k].shape != v.shape for k, v in self._obs.items()):
            raise InvalidStateError(f"snapshot observations {sorted(obs)} do not fit this vector env's")
        for env, state in zip(self.envs, envs, strict=True):
            env.restore(state)
        for key, value in obs.items():
            self._obs[key][:] = value
        self._rewards[:] = arrays["rewards"]
        self._terminations[:] = arrays["terminations"]
        self._truncations[:] = arrays["truncations"]
        self._autoreset[:] = arrays["autoreset"]
        self._elapsed[:] = arrays["elapsed"]
        self._infos = [{} for _ in range(n)]
        self._finals = [None] * n

    # ------------------------------------------------------------------ sub-environment access
    @property
    def buffers(self) -> Obs:
        """The observation batch as the last call left it (num_envs, ...) per key; overwritten by the next."""
        return self._obs

    @property
    def rewards(self) -> np.ndarray:
        """The last step's rewards (num_envs,); overwritten by the next."""
        return self._rewards

    @property
    def terminations(self) -> np.ndarray:
        """The last step's ``terminated`` flags (num_envs,); overwritten by the next."""
        return self._terminations

    @property
    def truncations(self) -> np.ndarray:
        """The last step's ``truncated`` flags (num_envs,), time limit included; overwritten by the next."""
        return self._truncations

    @property
    def infos(self) -> list[dict[str, Any]]:
        """The last ``info`` of every sub-environment as it returned it (a list of dicts, not Gymnasium's
        dict of arrays); after a SAME_STEP autoreset, the reset's info."""
        return self._infos

    @property
    def final_observations(self) -> list[tuple[Obs, dict[str, Any]] | None]:
        """Per sub-environment, ``(obs, info)`` of the episode that ended in the last step (SAME_STEP
        autoreset only), else ``None``."""
        return self._finals

    def set_robot_weights(self, weights: Sequence[float] | dict[str, float]) -> None:
        """Set the robot sampling weights of every sub-environment (see :meth:`UnimalEnv.set_robot_weights`)."""
        for env in self.envs:
            env.set_robot_weights(weights)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method ``name`` of every sub-environment (or read attribute ``name``); one result per env."""
        results = []
        for env in self.envs:
            attr = getattr(env, name)
            results.append(attr(*args, **kwargs) if callable(attr) else attr)
        return tuple(results)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute ``name`` of every sub-environment."""
        return tuple(getattr(env, name) for env in self.envs)

    def set_attr(self, name: str, values: Any | Sequence[Any]) -> None:
        """Set attribute ``name`` of every sub-environment (a list/tuple: one value per sub-environment)."""
        if not isinstance(values, (list, tuple)):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ValueError(f"set_attr({name!r}) got {len(values)} values; expected {self.num_envs}")
        for env, value in zip(self.envs, values, strict=True):
            setattr(env, name, value)

    def render(self) -> tuple[np.ndarray | None, ...]:
        """Every sub-environment's image (see :meth:`UnimalEnv.render`)."""
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the threads and close every sub-environment."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for env in self.envs:
            env.close()
