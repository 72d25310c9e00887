"""Inference latency per control step: batch 1, one CPU thread (the paper's deployment setting).

:func:`latency` times any callable; :func:`actor_latency` times an agent's network on a real
observation of a robot (the torch networks under ``inference_mode``; HyperDistill as the plain MLP it
generates for that robot, as it is deployed). ``benchmarks/inference.py`` and the pipeline's report use
these functions, so the installed package measures the same way as the checkout's benchmark.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nets import HyperDistill, student_state, to_torch
from .envs import make_robot_env
from .threads import torch_threads


def latency(fn: Callable[[], object], min_time: float = 0.2, rounds: int = 7) -> float:
    """Median over ``rounds`` of the mean seconds per call, each round running at least ``min_time / 4``
    after calibration (20 warm-up calls first)."""
    for _ in range(20):
        fn()
    n = 1
    while True:  # calibrate the number of calls per round
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - start > min_time / 4:
            break
        n *= 2
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return float(np.median(times))


def robot_observation(task: str, robot: str | os.PathLike[str], seed: int = 0) -> dict[str, np.ndarray]:
    """The first observation of one robot's env (the network keys), raw."""
    env = make_robot_env(task, robot)
    obs, _ = env.reset(seed=seed)
    env.close()
    return obs


def network_step(net: nn.Module, raw: dict[str, np.ndarray]) -> Callable[[], Any]:
    """One control step of ``net`` on ``raw`` as deployed: HyperDistill as the MLP it generates for the robot."""
    obs = to_torch(raw)
    if isinstance(net, HyperDistill):
        mlp = net.generate(obs["context"][0], obs["obs_padding_mask"][0], obs["act_padding_mask"][0])
        state, hfield = student_state(obs["proprioceptive"]).flatten(1), obs.get("hfield")
        return lambda: mlp(state, hfield)
    return lambda: net(obs)


def actor_latency(
    nets: dict[str, nn.Module], raw: dict[str, np.ndarray], min_time: float = 0.2, rounds: int = 5
) -> dict[str, float]:
    """Seconds per control step of each network on the observation ``raw``, one thread, batch 1."""
    out = {}
    with torch_threads(1), torch.inference_mode():
        for label, net in nets.items():
            net.eval()
            out[label] = latency(network_step(net, raw), min_time=min_time, rounds=rounds)
    return out


__all__ = ["actor_latency", "latency", "network_step", "robot_observation"]
