"""GPU probe: paper-size PPO and distillation throughput on this machine, and the hours the paper's budgets take.

``python benchmarks/gpu_probe.py [--device cuda] [--task ft] [--ppo-iterations 2] [--distill-steps 30]``

Measures, in one run (under 10 minutes on a CUDA machine with the defaults):

1. **PPO**: the paper's teacher configuration (ModuMorph, 32 subprocess envs × 2560 steps, 8 epochs of
   minibatch 5120; docs/networks.md §7) for ``--ppo-iterations`` iterations; env steps/s of iterations 2…
   (the first is warm-up), rollout and update included.
2. **Distillation**: optimiser steps of HyperDistill and the multi-robot MLP at the paper's size on
   batches of 5120 samples drawn from 64 and from 1000 distinct robots (contexts of real robots and
   their mutants, random proprioception and targets: throughput does not depend on the values); samples/s,
   and the FLOPs of one forward + backward. HyperDistill generates weights once per distinct robot in a
   batch, so its FLOPs per sample grow with the robots per batch (×11.5 from 64 to 1000 at the paper's
   size, FT): the time ratio can only stay near 1 on a device where the 64-robot step is not
   compute-bound.

Prints a table and the projected hours for the paper's budgets: 1e8 PPO env steps per teacher, and 150
epochs over 1000 robots × 8000 transitions per student. ``--device cpu --quick`` runs the same code at
tiny sizes in seconds (the test suite does, so the probe is known to run before a GPU is at hand).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.common.envs import robot_files
from baselines.distill import kl_loss
from baselines.nets import build_network, to_torch
from baselines.ppo import PRESETS, train
from unimal_gym.envs.errors import RobotTooLargeError
from unimal_gym.envs.robots import check_robot_size
from unimal_gym.layout import ACTION_DIM, HFIELD_DIM, PROPRIOCEPTIVE_DIM, TASKS
from unimal_gym.morphology import load
from unimal_gym.morphology.context import context
from unimal_gym.morphology.sample import pd_robots

PPO_BUDGET = 100_000_000  # docs/networks.md §7: env steps per teacher
DISTILL_BUDGET = 150 * 1000 * 8000  # docs/networks.md §9: epochs × robots × transitions per robot


def ppo_rate(task: str, device: str, iterations: int, quick: bool) -> float:
    """Median env steps/s of PPO iterations 2… at the paper's configuration (``quick``: tiny, few steps)."""
    config = replace(PRESETS["paper"], task=task, device=device, log_every=10**6)
    if quick:
        config = replace(config, net="tiny", n_envs=2, n_steps=64, batch_size=64, n_epochs=1, vec_env="dummy")
    config = replace(config, total_timesteps=iterations * config.steps_per_iteration, checkpoint_every=10**6)
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run", quiet=True)
        with (Path(tmp) / "run" / "progress.csv").open(newline="") as f:
            rates = [float(r["steps_per_s"]) for r in csv.DictReader(f)]
    return float(np.median(rates[1:] if len(rates) > 1 else rates))


def robot_contexts(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Context and masks of ``n`` distinct robots: the bundled training robots, then PD mutants of them."""
    parents = [load(f) for f in robot_files("train")]
    obs = [context(r) for r in parents[:n]]
    seen = {o["context"].tobytes() for o in obs}
    rng = np.random.default_rng(seed)
    while len(obs) < n:  # new mutants the environment accepts (at most 16 hinges, 11 bodies)
        for mutant in pd_robots(parents, 1, rng):
            try:
                check_robot_size(mutant.robot)
            except RobotTooLargeError:
                continue
            o = context(mutant.robot)
            if o["context"].tobytes() not in seen and len(obs) < n:
                seen.add(o["context"].tobytes())
                obs.append(o)
    return {k: np.stack([o[k] for o in obs]) for k in ("context", "obs_padding_mask", "act_padding_mask")}


def distill_batch(
    task: str, device: str, robots: dict[str, np.ndarray], batch: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A random batch of ``batch`` samples spread evenly over the given robots, and random targets.

    Returns ``(obs, target)``: observations as the student reads them (``proprioceptive`` (batch, 204),
    the robots' ``context`` and masks, ``hfield`` (batch, 1410) on VT/Obstacle) and actions (batch, 24).
    """
    dev = torch.device(device)
    which = torch.arange(batch) % len(robots["context"])
    g = torch.Generator().manual_seed(1)
    obs = {
        "proprioceptive": torch.randn(batch, PROPRIOCEPTIVE_DIM, generator=g),
        **to_torch({k: v[which.numpy()] for k, v in robots.items()}),
    }
    if task != "ft":
        obs["hfield"] = 0.1 * torch.randn(batch, HFIELD_DIM, generator=g)
    target = torch.randn(batch, ACTION_DIM, generator=g)
    return {k: v.to(dev) for k, v in obs.items()}, target.to(dev)


def distill_flops(arch: str, task: str, robots: dict[str, np.ndarray], batch: int, net: str = "") -> float:
    """Floating-point operations of one distillation forward + backward on such a batch (torch's counter of
    matrix products, on the CPU: the count does not depend on the device). Per sample it is the floor of
    the time per sample wherever the step is compute-bound."""
    torch.manual_seed(0)
    student = build_network(arch, task, net).train()
    obs, target = distill_batch(task, "cpu", robots, batch)
    counter = FlopCounterMode(display=False)
    with counter:
        kl_loss(student(obs), target, obs["act_padding_mask"]).backward()
    return float(counter.get_total_flops())


def distill_rate(
    arch: str, task: str, device: str, robots: dict[str, np.ndarray], batch: int, steps: int, net: str = ""
) -> float:
    """Samples/s of distillation steps (forward, KL loss, backward, clip, Adam) on random batches of ``batch``
    samples spread evenly over the given robots; the first 3 steps are warm-up."""
    torch.manual_seed(0)
    dev = torch.device(device)
    student = build_network(arch, task, net).to(dev).train()
    optimiser = torch.optim.Adam(student.parameters(), lr=3e-4, eps=1e-5)
    obs, target = distill_batch(task, device, robots, batch)

    def step() -> None:
        loss = kl_loss(student(obs), target, obs["act_padding_mask"])
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 0.5)
        optimiser.step()

    for _ in range(3):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    """Command line: measure and print the table and the projections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--task", choices=TASKS, default="ft")
    parser.add_argument("--ppo-iterations", type=int, default=2, help="PPO iterations (the first is warm-up)")
    parser.add_argument("--distill-steps", type=int, default=30, help="timed distillation steps per row")
    parser.add_argument("--quick", action="store_true", help="tiny networks and batches (a smoke test)")
    args = parser.parse_args(argv)
    net, batch = ("tiny", 256) if args.quick else ("", 5120)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"GPU probe on {name} ({args.device}), task {args.task}, torch {torch.__version__}")
    ppo = ppo_rate(args.task, args.device, args.ppo_iterations, args.quick)
    print("| measurement | rate | paper budget | projected hours |\n|---|---|---|---|")
    teacher = "tiny, 2 envs" if args.quick else "paper size, 32 envs"
    print(
        f"| PPO, ModuMorph teacher ({teacher}) | {ppo:,.0f} env steps/s | 1e8 steps | {PPO_BUDGET / ppo / 3600:.1f} |"
    )
    few, many = (4, 16) if args.quick else (64, 1000)
    rates: dict[tuple[str, int], float] = {}
    flops: dict[tuple[str, int], float] = {}
    for robots in (few, many):
        contexts = robot_contexts(robots)
        for arch in ("hyperdistill", "mlp"):
            rates[arch, robots] = distill_rate(arch, args.task, args.device, contexts, batch, args.distill_steps, net)
            flops[arch, robots] = distill_flops(arch, args.task, contexts, batch, net)
            hours = DISTILL_BUDGET / rates[arch, robots] / 3600
            row = f"distillation, {arch}, {robots} robots per batch"
            print(f"| {row} | {rates[arch, robots]:,.0f} samples/s | 150 epochs | {hours:.1f} |")
    print(
        f"\nTime and FLOPs per sample, {many} vs {few} distinct robots per batch of {batch}"
        " (target for HyperDistill: time ≤ ×1.3):"
    )
    for arch in ("hyperdistill", "mlp"):
        time_ratio = rates[arch, few] / rates[arch, many]
        flop_ratio = flops[arch, many] / flops[arch, few]
        gflop = ", ".join(f"{flops[arch, r] / 1e9:.3g}" for r in (few, many))
        print(f"  {arch}: time ×{time_ratio:.2f}, FLOPs ×{flop_ratio:.2f} ({gflop} GFLOP per forward + backward)")


if __name__ == "__main__":
    main()
