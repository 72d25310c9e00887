"""Robot sets, environment factories and worker pools: what every stage needs to run robots.

* :func:`robot_files` expands a robot set (a bundled name such as ``train`` or a folder) into XML files;
* :func:`make_env` makes the training env (many robots, a new one per reset, monitored), and
  :func:`make_robot_env` one robot's env; both keep only the observation keys the networks read
  (:func:`obs_keys`); :func:`make_robot_envs` steps N of one robot's envs on threads (evaluation, collection);
* :func:`map_with_agent` runs a function over jobs in worker processes that each load one agent
  (or in this process with ``workers=1``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import torch

import unimal_gym  # registers the environments
from unimal_gym.envs import UnimalVectorEnv
from unimal_gym.envs.errors import UnknownRobotError
from unimal_gym.envs.robots import BUNDLED_SETS, folder_robot_files, resolve_robot, robot_set_folder
from unimal_gym.layout import ENV_IDS
from unimal_gym.machine import available_cpus
from unimal_gym.morphology import MorphologyError

from . import interrupt
from .config import ConfigError
from .threads import torch_threads

NETWORK_KEYS = ("proprioceptive", "context", "obs_padding_mask", "act_padding_mask")
"""Observation keys the networks read on every task (``edges`` and ``adjacency_matrix`` are dropped)."""

Job = TypeVar("Job")
Result = TypeVar("Result")


def robot_files(
    spec: str | os.PathLike[str], limit: int = 0, option: str = "--robots", check: bool = True
) -> list[Path]:
    """The XML files of a robot set, sorted by name.

    :param spec: a bundled set name (``train``, ``test``) or a folder (of XML files, or a set folder
        holding ``xml/``).
    :param limit: keep the first ``limit`` files; 0 = all.
    :param option: how the message names the option the set came from.
    :param check: read and check every file as the environments will, before any worker starts (evaluation
        passes False: it reports a robot that cannot become an env in its results and scores the others).
    :raises ConfigError: no such set or folder, no robot file in it, or (``check``) a robot the environments
        refuse.
    """
    try:
        path = robot_set_folder(spec)
    except UnknownRobotError as e:
        raise ConfigError(f"{option} {e}") from None
    if path is None:
        raise ConfigError(f"{option} {str(spec)!r}: no such folder and not a bundled set ({', '.join(BUNDLED_SETS)})")
    files = folder_robot_files(path)
    if not files:
        raise ConfigError(f"{option} {str(spec)!r}: folder {path} holds no .xml robot files (nor an xml/ subfolder)")
    files = files[:limit] if limit else files
    for f in files if check else ():
        try:
            resolve_robot(f)
        except MorphologyError as e:
            raise ConfigError(f"{option} {str(spec)!r}: {e}") from None
    return files


def named_sets(items: Iterable[str], option: str = "--test-robots") -> list[tuple[str, str]]:
    """``NAME=SET_OR_DIR`` items (a bare ``SET_OR_DIR`` is named after its folder) as (name, set) pairs,
    every set checked to hold robots.

    :raises ConfigError: an empty name or set, a name given twice, or a set that is not there.
    """
    pairs = []
    for item in items:
        name, sep, spec = item.partition("=")
        if not sep:
            name, spec = Path(item).name, item
        if not name or not spec:
            raise ConfigError(f"{option} {item!r}: expected NAME=SET_OR_DIR (e.g. far=test)")
        robot_files(spec, option=f"{option} {name}", check=False)  # evaluation sets: unusable robots are reported
        pairs.append((name, spec))
    names = [n for n, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{option}: set names {twice} are given twice; name each set once")
    return pairs


def obs_keys(task: str) -> list[str]:
    """Observation keys kept for the networks: :data:`NETWORK_KEYS`, plus ``hfield`` on VT / Obstacle."""
    return [*NETWORK_KEYS, *(("hfield",) if task != "ft" else ())]


def make_env(task: str, robots: Sequence[str | os.PathLike[str]], **kwargs: Any) -> gym.Env:
    """The training env: ``Unimal-*-v0`` on ``robots`` (a new one per reset), the network keys only,
    wrapped in SB3's ``Monitor`` (raw return, length and the robot's ``name`` in ``info["episode"]``)."""
    from stable_baselines3.common.monitor import Monitor

    env = gym.make(ENV_IDS[task], robots=[str(r) for r in robots], **kwargs)
    env = gym.wrappers.FilterObservation(env, obs_keys(task))
    return Monitor(env, info_keywords=("name",))


def make_robot_env(task: str, robot: str | os.PathLike[str]) -> gym.Env:
    """One robot's env (1000-step limit, fall termination on), the network keys only."""
    return gym.wrappers.FilterObservation(gym.make(ENV_IDS[task], robot=str(robot)), obs_keys(task))


def make_robot_envs(
    task: str, robot: str | os.PathLike[str], n: int, autoreset: str, max_steps: int = unimal_gym.MAX_EPISODE_STEPS
) -> UnimalVectorEnv:
    """``n`` envs of one robot as evaluation and collection step them: :func:`make_robot_env`'s envs (same
    seeds, same results, bit for bit) in one :class:`~unimal_gym.envs.UnimalVectorEnv` on :func:`env_threads`
    threads; read the network keys (:func:`obs_keys`) from its observations.

    :param autoreset: ``"same_step"`` (collection: an ended env starts its next episode at once) or
        ``"disabled"`` (evaluation: one episode per env).
    :param max_steps: the episodes' time limit (the benchmark's 1000 unless a quick check wants fewer).
    """
    return UnimalVectorEnv(
        n,
        robot=str(robot),
        task=task,
        max_episode_steps=max_steps,
        autoreset_mode=autoreset,
        num_threads=env_threads(),
        copy=False,
    )


@contextlib.contextmanager
def one_env_thread() -> Iterator[None]:
    """:func:`env_threads` is 1 in this process for the block (a job given one CPU, e.g. a Ray task)."""
    global _POOL_WORKERS
    before, _POOL_WORKERS = _POOL_WORKERS, max(1, available_cpus())
    try:
        yield
    finally:
        _POOL_WORKERS = before


def env_threads() -> int:
    """Threads for a vector env in this process: the CPUs it may use shared among the pool's workers
    (:func:`map_with_agent` sets the worker count; all CPUs outside a pool)."""
    return max(1, available_cpus() // _POOL_WORKERS)


# ---------------------------------------------------------------------------------------------- pools
_WORKER_AGENT: Any = None
_POOL_WORKERS = 1  # processes sharing this machine's CPUs (set in each worker of map_with_agent)


def _init_worker(load: Callable[..., Any], args: tuple[Any, ...], workers: int) -> None:
    global _WORKER_AGENT, _POOL_WORKERS
    interrupt.ignore_in_worker(sigterm=False)  # Ctrl-C reaches the whole group; Pool.terminate needs SIGTERM
    torch.set_num_threads(1)
    _POOL_WORKERS = workers
    _WORKER_AGENT = load(*args)


def _call(job: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    fn, item = job
    return fn(_WORKER_AGENT, item)


def map_with_agent(
    fn: Callable[[Any, Job], Result],
    jobs: Sequence[Job],
    load: Callable[..., Any],
    load_args: tuple[Any, ...],
    workers: int,
    ordered: bool = True,
    executor: str = "local",
    address: str = "",
) -> Iterator[Result]:
    """Yield ``fn(agent, job)`` for every job, the agent made once per process by ``load(*load_args)``.

    :param fn: a module-level function (it is sent to spawned processes).
    :param workers: processes; 1 runs in this process (one torch thread meanwhile; torch's RNG state and
        thread count are restored afterwards).
    :param ordered: results in job order (else as they finish).
    :param executor: ``local`` (processes of this machine) or ``ray`` (``workers`` Ray actors on the cluster at
        ``address``, :mod:`.executor`).
    """
    if not jobs:
        return
    if executor == "ray":
        from .executor import ray_map_with_agent

        yield from ray_map_with_agent(fn, jobs, load, load_args, workers, ordered, address, one_env_thread)
        return
    if workers == 1:  # as one worker would: one thread, and the caller's torch RNG left as it was
        with torch_threads(1), torch.random.fork_rng():
            agent = load(*load_args)
            for job in jobs:
                yield fn(agent, job)
        return
    ctx = multiprocessing.get_context("spawn")
    processes = min(workers, len(jobs))
    with ctx.Pool(processes, initializer=_init_worker, initargs=(load, load_args, processes)) as pool:
        mapper = pool.imap if ordered else pool.imap_unordered
        yield from mapper(_call, [(fn, job) for job in jobs])


__all__ = [
    "NETWORK_KEYS",
    "env_threads",
    "make_env",
    "make_robot_env",
    "make_robot_envs",
    "map_with_agent",
    "named_sets",
    "obs_keys",
    "robot_files",
]
