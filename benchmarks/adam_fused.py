"""Adam fused against Adam as it was (a loop over tensors, or foreach): distillation steps and the PPO update's step.

``python benchmarks/adam_fused.py [--task ft] [--rounds 15] [--per-round 2] [--threads 1] [--batch-size 1024]``

``baselines.distill`` and the PPO policy build ``torch.optim.Adam(..., fused=True)``: the whole update of a
tensor (moments, bias correction, square root, division) in one pass over it. Before, distillation used torch's
default on CPU (a Python loop over tensors, each update several passes over memory) and PPO ``foreach=True``.
On the paper-size HyperDistill student (9.6M parameters, most of them in the hypernetwork's heads) the loop's
passes over memory took a quarter of a distillation step on one CPU thread.

Measured on the laptop FT pipeline's students (the paper's sizes) and the laptop teacher:

1. **distillation step** (ms): a minibatch of the laptop preset's size (1024 samples over 64 training robots,
   random states and teacher means) through the student, the KL loss, backward, the gradient clip and Adam's step,
   as ``baselines.distill`` does;
2. **clip + step** (ms): the gradient clip and Adam's step alone, on fixed random gradients, for the laptop
   teacher's ModuMorph (actor and critic), as in every PPO minibatch update.

The two forms run on copies of one network, alternating step by step within every round (the order swaps between
rounds), so a drift of the machine's speed falls on both. Prints the median over rounds with min-max and the
median of the per-round ratios (before / fused). Before timing, it checks that both give the same parameters to
rounding after a few identical steps (``max |diff|`` against the largest change the steps made).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from baselines.common.threads import torch_threads
from baselines.distill import DISTILL_PRESETS, adam, build_student, distill_step
from baselines.hyperdistill.config import LAPTOP_FT_STUDENTS
from baselines.nets import build_actor_critic
from baselines.ppo.config import PRESETS
from unimal_gym.machine import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the batch of benchmarks/hn_generation.py
from hn_generation import make_batch

BEFORE = {"distillation": {}, "ppo": {"foreach": True}}
"""The Adam options each use had before: the default (a loop over tensors on CPU), and PPO's foreach."""


def optimisers(net: nn.Module, use: str) -> dict[str, tuple[nn.Module, torch.optim.Adam]]:
    """Two copies of ``net``: one with Adam as before (lr 3e-4, eps 1e-5), one with ``baselines.distill.adam``
    (fused; the PPO policy's options are the same)."""
    pair = {}
    for name in ("before", "fused"):
        copy_ = copy.deepcopy(net)
        if use == "ppo":
            fixed_gradients(copy_)
        if name == "before":
            optimiser = torch.optim.Adam(copy_.parameters(), lr=3e-4, eps=1e-5, **BEFORE[use])
        else:
            optimiser = adam(copy_, 3e-4)
        pair[name] = (copy_, optimiser)
    return pair


def distillation_step(batch: tuple[dict[str, Tensor], Tensor]) -> Callable[[nn.Module, torch.optim.Adam], None]:
    """One step of ``baselines.distill`` on ``batch`` (its ``distill_step``, gradient clip 0.5)."""
    obs, target = batch

    def step(net: nn.Module, optimiser: torch.optim.Adam) -> None:
        distill_step(net, optimiser, obs, target, 0.5)

    return step


def clip_and_step(net: nn.Module, optimiser: torch.optim.Adam) -> None:
    """The end of a PPO minibatch update on gradients already there: clip 0.5, Adam."""
    nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    optimiser.step()


def fixed_gradients(net: nn.Module) -> None:
    """Random gradients (seeded; the same for every copy), to step the optimiser on without a loss."""
    generator = torch.Generator().manual_seed(0)
    for p in net.parameters():
        p.grad = torch.randn(p.shape, generator=generator) * 1e-3


def same_update(pair: dict[str, tuple[nn.Module, torch.optim.Adam]], step, steps: int = 3) -> tuple[float, float]:
    """(max |diff| between the two copies' parameters, largest change of a parameter) after ``steps`` steps."""
    start = torch.cat([p.detach().flatten().clone() for p in pair["before"][0].parameters()])
    for net, optimiser in pair.values():
        torch.manual_seed(1)  # the same dropout masks for both
        for _ in range(steps):
            step(net, optimiser)
    before, fused = (torch.cat([p.detach().flatten() for p in net.parameters()]) for net, _ in pair.values())
    return float((before - fused).abs().max()), float((before - start).abs().max())


def timed(pair, step, rounds: int, per_round: int) -> dict[str, np.ndarray]:
    """Milliseconds per step of each form, ``per_round`` steps per round, alternating (order swapped per round)."""
    times: dict[str, list[float]] = {name: [] for name in pair}
    for r in range(rounds + 1):  # round 0 warms up
        names = list(pair) if r % 2 == 0 else list(pair)[::-1]
        spent = dict.fromkeys(names, 0.0)
        for _ in range(per_round):
            for name in names:
                t0 = time.perf_counter()
                step(*pair[name])
                spent[name] += time.perf_counter() - t0
        if r:
            for name in names:
                times[name].append(spent[name] / per_round * 1000)
    return {name: np.array(v) for name, v in times.items()}


def measure(
    task: str, rounds: int, per_round: int, threads: int, batch_size: int | None = None, robots: int = 64
) -> dict[str, dict]:
    """Check and time every measurement; returns, per row, the parameters, the check (max |diff|, largest
    change) and the times (ms per step of each form, one per round).

    :param batch_size: the distillation minibatch (default: the laptop preset's).
    :param robots: distinct robots in it.
    """
    torch.manual_seed(0)
    distill = replace(DISTILL_PRESETS["laptop"], **LAPTOP_FT_STUDENTS)
    teacher = PRESETS["laptop"]
    batch = make_batch(task, batch_size or distill.batch_size, robots=robots)
    rows = {}
    with torch.random.fork_rng():
        for student in ("hyperdistill", "mlp"):
            net = build_student(replace(distill, student=student), task).train()
            step = distillation_step(batch)
            rows[f"distil {student}"] = _row(net, "distillation", step, rounds, per_round, threads)
        ac = build_actor_critic(teacher.arch, task, teacher.net)
        rows["PPO clip + step"] = _row(ac, "ppo", clip_and_step, rounds, per_round, teacher.torch_threads)
    return rows


def _row(net: nn.Module, use: str, step, rounds: int, per_round: int, threads: int) -> dict:
    with torch_threads(threads):
        check = same_update(optimisers(net, use), step)
        times = timed(optimisers(net, use), step, rounds, per_round)
    return {"params": sum(p.numel() for p in net.parameters()), "check": check, "times": times}


def _span(values: np.ndarray, digits: int = 2) -> str:
    return f"{np.median(values):.{digits}f} [{values.min():.{digits}f}, {values.max():.{digits}f}]"


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ft", choices=("ft", "vt", "obstacle"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the students (laptop preset: 1)")
    parser.add_argument("--batch-size", type=int, default=0, help="distillation minibatch (0: the laptop preset's)")
    parser.add_argument("--robots", type=int, default=64, help="distinct training robots in it")
    args = parser.parse_args(argv)
    rows = measure(args.task, args.rounds, args.per_round, args.threads, args.batch_size or None, args.robots)
    batch = args.batch_size or DISTILL_PRESETS["laptop"].batch_size
    print(machine_line())
    print(
        f"{args.task.upper()}, laptop FT students (paper size, batch {batch} over {args.robots} robots) and the "
        f"laptop teacher (modumorph 'small'); torch threads: students {args.threads}, teacher "
        f"{PRESETS['laptop'].torch_threads} (its preset's); {args.rounds} rounds × {args.per_round}"
    )
    print(f"{'ms per step':<20}{'params':>11}{'before':>24}{'fused':>24}   ratio before / fused (median, min-max)")
    for name, row in rows.items():
        t = row["times"]
        print(
            f"{name:<20}{row['params']:>11,}{_span(t['before']):>24}{_span(t['fused']):>24}   "
            f"{_span(t['before'] / t['fused'], 3)}"
        )
    for name, row in rows.items():
        diff, change = row["check"]
        print(f"same update, {name}: parameters max |diff| {diff:.1e} after 3 steps changing them by ≤ {change:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
