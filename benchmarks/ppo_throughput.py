"""PPO throughput (env steps/s including learning) against the bare environments, per way of running the envs.

``python benchmarks/ppo_throughput.py --preset laptop --iterations 3 [--arch mlp] [--net small]
[--vec-env native dummy subproc] [--rounds 2] [--set n_epochs=2 --set batch_size=1024 ...]``

Measures on the same robots, for every ``--vec-env`` in turn within a round (the order rotates between
rounds):

1. one env in this process, random actions (the environment alone; once per round);
2. the preset's ``n_envs`` envs in that VecEnv + VecNormalize, random actions: the collection machinery
   without a policy;
3. PPO with the preset for a few iterations (rollouts + updates; the first iteration is skipped as warm-up).

Prints a table (median over rounds, min–max) and the ratios PPO / bare and between the ways
(``native``: :class:`baselines.common.vec_env.NativeVecEnv`, threads; ``dummy``: SB3's DummyVecEnv, one
after another; ``subproc``: SB3's SubprocVecEnv, a process per env). All three train the same weights.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from baselines.common.config import parse_field
from baselines.common.envs import make_env, robot_files
from baselines.ppo import PRESETS, PPOConfig, make_vec_env, train
from unimal_gym.machine import machine_line


def bare_single(robots: list[Path], steps: int, seed: int = 0) -> float:
    """Steps/s of one env in this process with uniform random actions (resets included)."""
    env = make_env("ft", robots)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 24))
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def bare_vec(config, robots: list[Path], steps_per_env: int) -> float:
    """Steps/s of the training VecEnv (subprocesses + VecNormalize) with random actions."""
    venv = make_vec_env(config, robots)
    rng = np.random.default_rng(0)
    venv.reset()
    t0 = time.perf_counter()
    for _ in range(steps_per_env):
        venv.step(rng.uniform(-1, 1, (config.n_envs, 24)))
    rate = config.n_envs * steps_per_env / (time.perf_counter() - t0)
    venv.close()
    return rate


def ppo(config) -> float:
    """Median steps/s of PPO iterations 2… (rollout + update)."""
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run", quiet=True)
        with (Path(tmp) / "run" / "progress.csv").open(newline="") as f:
            rates = [float(r["steps_per_s"]) for r in csv.DictReader(f)]
    return float(np.median(rates[1:] if len(rates) > 1 else rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="laptop")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--arch", default=None)
    parser.add_argument("--net", default=None)
    parser.add_argument("--vec-env", nargs="+", default=None, help="native, dummy, subproc (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a config field")
    args = parser.parse_args()
    config = PRESETS[args.preset]
    fields = [f.name for f in dataclasses.fields(PPOConfig)]
    for item in args.set:
        name, equals, text = item.partition("=")
        if not equals or name not in fields:
            parser.error(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        config = replace(config, **{name: parse_field(PPOConfig, name, text)})
    config = replace(config, total_timesteps=args.iterations * config.steps_per_iteration)
    if args.arch:
        config = replace(config, arch=args.arch)
    if args.net is not None:
        config = replace(config, net=args.net)
    ways = args.vec_env or [config.vec_env]
    robots = robot_files(config.robots, config.robot_limit)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    single: list[float] = []
    vec: dict[str, list[float]] = {w: [] for w in ways}
    learn: dict[str, list[float]] = {w: [] for w in ways}
    for r in range(args.rounds):
        single.append(bare_single(robots, 5000))
        for way in ways[r % len(ways) :] + ways[: r % len(ways)]:
            cfg = replace(config, vec_env=way)
            vec[way].append(bare_vec(cfg, robots, 1000))
            learn[way].append(ppo(cfg))

    def cell(values: list[float]) -> str:
        return f"{np.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"

    print(f"machine: {machine_line()}")
    print(
        f"robots: {len(robots)} of '{config.robots}', arch {config.arch} '{config.net}', n_envs {config.n_envs}, "
        f"{args.rounds} round(s)"
    )
    if args.set:
        print(f"overrides: {', '.join(args.set)}")
    print("| measurement | env steps/s, median (min–max) |")
    print("|---|---|")
    print(f"| one env, this process, random actions | {cell(single)} |")
    for way in ways:
        print(f"| {config.n_envs} envs ({way} VecEnv) + VecNormalize, random actions | {cell(vec[way])} |")
        print(f"| PPO on {way} ({config.arch}, rollout + {config.n_epochs} epochs of updates) | {cell(learn[way])} |")
    for way in ways:
        print(
            f"ratio PPO / the same VecEnv ({way}): {np.median(learn[way]) / np.median(vec[way]):.3f}; "
            f"PPO / one env: {np.median(learn[way]) / np.median(single):.3f}"
        )
    for way in ways[1:]:
        ratio = np.array(learn[ways[0]]) / np.array(learn[way])
        print(
            f"ratio PPO on {ways[0]} / PPO on {way}: {np.median(ratio):.2f} "
            f"(rounds {ratio.min():.2f}–{ratio.max():.2f})"
        )


if __name__ == "__main__":
    main()
