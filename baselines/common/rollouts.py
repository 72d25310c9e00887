"""The evaluation harness: episodes of one robot with an agent, and per-set summaries (docs/networks.md §10).

For every robot: ``episodes`` envs of that robot (env i seeded ``seed + i``, the agent's action noise
reseeded with ``seed``), one episode each (up to the 1000-step limit, or a job's shorter ``max_steps``; fall
termination on), stepped
together on threads (:func:`~.envs.make_robot_envs`) with one batched ``act`` call per step;
the agent's observation statistics are frozen and rewards are raw. A robot's score is its mean
undiscounted return; a set's score is the mean over its robots with the standard error over robots.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unimal_gym import MAX_EPISODE_STEPS
from unimal_gym.deploy import RobotMismatchError
from unimal_gym.layout import ACTION_DIM

from .agents import Agent, load_agent
from .envs import make_robot_envs, map_with_agent, obs_keys, robot_files

SMOKE_EPISODE_STEPS = 100
"""The smoke presets' evaluation episodes stop here: a smoke policy that stands would run all 1000 steps, and
the tests would spend their time on it."""


@dataclass(frozen=True)
class RobotJob:
    """One robot to evaluate: its set's label, its XML file and how."""

    set: str
    robot: str
    episodes: int
    deterministic: bool
    seed: int
    max_steps: int = MAX_EPISODE_STEPS
    """Time limit of each episode (the benchmark's 1000; shorter only for quick checks such as the tests)."""


def per_robot(episodes: int) -> str:
    """``"1 episode per robot"``, ``"4 episodes per robot"``: how reports name their evaluation's episodes."""
    return f"{episodes} episode{'s' * (episodes != 1)} per robot"


def cut_note(max_steps: int) -> str:
    """What a report says of its episodes' time limit: ``""`` at the benchmark's, else where they were cut."""
    return (
        ""
        if max_steps == MAX_EPISODE_STEPS
        else f", episodes cut at {max_steps} steps (not the benchmark's {MAX_EPISODE_STEPS})"
    )


def run_robot(agent: Agent, job: RobotJob) -> dict[str, Any]:
    """Run ``job.episodes`` single-episode envs of one robot with ``agent``.

    :return: ``{"set", "robot", "returns", "lengths", "return_mean", "return_se"}``, or
        ``{"set", "robot", "error"}`` when the robot cannot become an env (reported, not raised).
    """
    name = Path(job.robot).stem
    try:
        envs = make_robot_envs(agent.task, job.robot, job.episodes, autoreset="disabled", max_steps=job.max_steps)
    except Exception as exc:  # any reason a robot file cannot become an env is reported, not raised
        return {"set": job.set, "robot": name, "error": f"{type(exc).__name__}: {exc}"}
    keys = obs_keys(agent.task)
    obs, _ = envs.reset(seed=job.seed)  # env i seeded seed + i
    try:
        agent.check_robot({k: obs[k] for k in keys})
    except RobotMismatchError as exc:  # an exported student evaluated on another robot: reported, not raised
        envs.close()
        return {"set": job.set, "robot": name, "error": f"{type(exc).__name__}: {exc}"}
    agent.reseed(job.seed)  # a robot's result depends on the seed only, not on the worker or the order
    returns, lengths = np.zeros(job.episodes), np.zeros(job.episodes, dtype=int)
    active = np.ones(job.episodes, dtype=bool)
    actions = np.zeros((job.episodes, ACTION_DIM))
    while active.any():
        index = np.flatnonzero(active)
        batch = {k: obs[k][index] for k in keys}  # the envs still running, in env order
        actions[index] = np.clip(agent.act(batch, job.deterministic), -1.0, 1.0)
        envs.step_all(actions, active)
        returns[index] += envs.rewards[index]
        lengths[index] += 1
        active[index] = ~(envs.terminations[index] | envs.truncations[index])
    envs.close()
    se = float(returns.std(ddof=1) / np.sqrt(len(returns))) if len(returns) > 1 else float("nan")
    return {
        "set": job.set,
        "robot": name,
        "returns": returns.tolist(),
        "lengths": lengths.tolist(),
        "return_mean": float(returns.mean()),
        "return_se": se,
    }


def robot_jobs(
    robot_sets: Iterable[tuple[str, str | os.PathLike[str]]],
    limit: int,
    episodes: int,
    deterministic: bool,
    seed: int,
    limits: Mapping[str, int] | None = None,
    max_steps: int = MAX_EPISODE_STEPS,
) -> list[RobotJob]:
    """One job per robot of every set.

    :param robot_sets: (label, bundled set or folder) pairs, e.g. ``dict.items()``.
    :param limit: first N robots of each set (0 = all) …
    :param limits: … unless this gives the set's label its own limit.
    :param max_steps: every episode's time limit.
    """
    limits = limits or {}
    return [
        RobotJob(label, str(f), episodes, deterministic, seed, max_steps)
        for label, spec in robot_sets
        for f in robot_files(spec, limits.get(label, limit), check=False)  # unusable robots are reported
    ]


def evaluate_robots(
    source: str | os.PathLike[str],
    jobs: list[RobotJob],
    workers: int,
    task: str | None = None,
    seed: int = 0,
    on_result: Callable[[int, dict[str, Any]], None] | None = None,
    executor: str = "local",
    address: str = "",
) -> list[dict[str, Any]]:
    """Results of :func:`run_robot` for every job, in job order, each worker loading the agent once.

    :param source: what :func:`~.agents.load_agent` takes (``random``, ``zero``, a checkpoint, a run).
    :param task: the task of a reference policy or an exported student.
    :param seed: seed of a reference policy's random actions.
    :param on_result: called with (number done, result) as results arrive (progress lines).
    :param executor: ``local`` or ``ray`` (robots as Ray tasks on the cluster at ``address``), the same results.
    """
    results: list[dict[str, Any]] = []
    stream: Iterator[dict[str, Any]] = map_with_agent(
        run_robot, jobs, load_agent, (str(source), task, seed), workers, executor=executor, address=address
    )
    for k, result in enumerate(stream, 1):
        results.append(result)
        if on_result is not None:
            on_result(k, result)
    return results


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per set: number of robots scored and skipped, mean over robots of the per-robot mean return, its s.e."""
    out: dict[str, dict[str, float]] = {}
    for set_name in dict.fromkeys(r["set"] for r in results):
        means = [r["return_mean"] for r in results if r["set"] == set_name and "error" not in r]
        skipped = sum(1 for r in results if r["set"] == set_name and "error" in r)
        se = float(np.std(means, ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
        out[set_name] = {
            "robots": len(means),
            "skipped": skipped,
            "mean": float(np.mean(means)) if means else float("nan"),
            "se": se,
        }
    return out


__all__ = ["SMOKE_EPISODE_STEPS", "RobotJob", "cut_note", "evaluate_robots", "robot_jobs", "run_robot", "summarise"]
