"""Real observations for the network tests, read from the oracle recordings of the original env.

FT: every recorded observation (reset and 2 × 5 steps) of a few training robots. VT/Obstacle: the
reset observations of the 5 recorded robots with ``hfield`` taken from the terrain probes (the reset
hfield is all zeros on the flat start), so the terrain encoder sees real, nonzero heights.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch
from conftest import ORACLE, require_shared

KEYS = ("proprioceptive", "context", "obs_padding_mask", "act_padding_mask")
ORACLE_FILES = {"ft": "ft_train.npz", "vt": "vt_train5.npz", "obstacle": "obstacle_train5.npz"}


@cache
def _load(task: str) -> dict[str, np.ndarray]:
    """The recordings of a task: the test reading them is skipped without ../shared."""
    require_shared()
    with np.load(ORACLE / ORACLE_FILES[task]) as npz:
        return {k: npz[k] for k in npz.files}


def robots(task: str) -> list[str]:
    """Robot names recorded for a task, sorted."""
    return sorted({k.split("/")[0] for k in _load(task) if k.endswith("/reset/proprioceptive")})


def raw_batch(task: str, n_robots: int = 3, per_robot: int = 4) -> dict[str, np.ndarray]:
    """Raw (unnormalised) observations of ``n_robots`` robots, ``per_robot`` each, robots interleaved.

    :return: the observation dict with a leading batch dimension (n_robots · per_robot, …).
    """
    data = _load(task)
    rows: list[dict[str, np.ndarray]] = []
    for name in robots(task)[:n_robots]:
        reset = {k: data[f"{name}/reset/{k}"] for k in KEYS}
        steps = [data[f"{name}/{a}/obs/proprioceptive"] for a in ("zero", "rand")]
        props = [reset["proprioceptive"], *np.concatenate(steps)]
        for i in range(per_robot):
            row = dict(reset, proprioceptive=props[i % len(props)])
            if task != "ft":
                row["hfield"] = data[f"{name}/probe/hfield_rot"][7 * i % 48]
            rows.append(row)
    order = np.arange(len(rows)).reshape(n_robots, per_robot).T.reshape(-1)
    return {k: np.stack([rows[i][k] for i in order]) for k in rows[0]}


def normalisation(task: str) -> tuple[np.ndarray, np.ndarray]:
    """Plausible VecNormalize statistics (624,) from the recorded observations of all robots of a task."""
    data = _load(task)
    props = [data[f"{r}/reset/proprioceptive"][None] for r in robots(task)]
    props += [data[f"{r}/{a}/obs/proprioceptive"] for r in robots(task) for a in ("zero", "rand")]
    stacked = np.concatenate(props)
    return stacked.mean(0), stacked.var(0) + 1e-2


def normalised(obs: dict[str, np.ndarray], task: str) -> dict[str, np.ndarray]:
    """VecNormalize's transform of ``proprioceptive``: clip((o − μ)/√(σ² + 1e-8), ±10), float64."""
    mean, var = normalisation(task)
    out = dict(obs)
    out["proprioceptive"] = np.clip((obs["proprioceptive"] - mean) / np.sqrt(var + 1e-8), -10, 10)
    return out


def batch(task: str, n_robots: int = 3, per_robot: int = 4) -> dict[str, np.ndarray]:
    """Normalised observations, as the networks receive them."""
    return normalised(raw_batch(task, n_robots, per_robot), task)


def morphology(obs: dict[str, np.ndarray], i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample i's ``context`` (636,), ``obs_padding_mask`` (12,), ``act_padding_mask`` (24,): the
    arguments of ``HyperDistill.generate``."""
    return tuple(torch.as_tensor(obs[k][i]) for k in ("context", "obs_padding_mask", "act_padding_mask"))  # type: ignore[return-value]


@cache
def network(arch: str, task: str, out_per_limb: int = 2) -> torch.nn.Module:
    """A network with every parameter moved off its initialisation (the hypernetworks' bias-init gives
    every robot the same weights and their encoders no gradient), built once per test session.

    Tests share it: they may switch its mode and compute gradients (then reset them), never change
    its parameters.
    """
    from baselines.nets import build_network

    torch.manual_seed(0)
    net = build_network(arch, task, out_per_limb=out_per_limb)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g))
    return net.eval()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> object:
    """Run a test module's tiny batches on one torch thread, restored afterwards: on a busy 2-core
    machine two threads per op wait on each other (measured 35× slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
