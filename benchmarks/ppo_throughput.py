"""PPO throughput (env steps/s including learning) against the bare environments on the same machine.

``python benchmarks/ppo_throughput.py --preset laptop --iterations 3 [--arch modumorph] [--net small]
[--set n_epochs=2 --set batch_size=1024 ...]``

Measures, one after the other on the same robots:

1. one env in this process, random actions (the environment alone);
2. the preset's ``n_envs`` envs in its VecEnv (SubprocVecEnv or DummyVecEnv) + VecNormalize, random
   actions — the collection machinery without a policy;
3. PPO with the preset for a few iterations (rollouts + updates; the first iteration is skipped as warm-up).

Prints a table and the ratios PPO / bare (target ≥ 0.5 on CPU, issue 5).
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
    parser.add_argument("--arch", default=None)
    parser.add_argument("--net", default=None)
    parser.add_argument("--vec-env", default=None, help="subproc or dummy (default: the preset's)")
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
    if args.vec_env:
        config = replace(config, vec_env=args.vec_env)
    robots = robot_files(config.robots, config.robot_limit)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    single = bare_single(robots, 5000)
    vec = bare_vec(config, robots, 1000)
    learn = ppo(config)
    print(f"robots: {len(robots)} of '{config.robots}', arch {config.arch} '{config.net}', n_envs {config.n_envs}")
    if args.set:
        print(f"overrides: {', '.join(args.set)}")
    print("| measurement | env steps/s |")
    print("|---|---|")
    print(f"| one env, this process, random actions | {single:,.0f} |")
    print(f"| {config.n_envs} envs ({config.vec_env} VecEnv) + VecNormalize, random actions | {vec:,.0f} |")
    print(f"| PPO ({config.arch}, rollout + {config.n_epochs} epochs of updates) | {learn:,.0f} |")
    print(f"ratio PPO / the same VecEnv: {learn / vec:.3f}; PPO / one env: {learn / single:.3f}")


if __name__ == "__main__":
    main()
