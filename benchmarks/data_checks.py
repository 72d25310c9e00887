"""What the expert-data integrity checks cost, side by side in one run (issue 14).

``python benchmarks/data_checks.py --data DIR [--batch 1024] [--repeats 7]``

1. **Opening a folder**: ``ExpertData(DIR)`` with the shard checksums verified (every file hashed once) and
   with the verification switched off, alternating, median of ``--repeats``.
2. **The per-batch number check** (``ExpertData._check_numbers``: every state finite and inside the teacher's
   clip, every target finite): a batch with and without it, and one distillation step of the `small`
   HyperDistill student on that batch (forward, KL loss, backward, Adam) as the yardstick.

All figures are ratios of medians measured in this process; the absolute times are this machine's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from baselines.common import expert_data
from baselines.common.expert_data import ExpertData
from baselines.distill import kl_loss
from baselines.nets import build_network


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="a collected expert-data folder")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--per-robot", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    first = next((args.data / "shards").iterdir()) / expert_data.SHARD_META
    if "sha256" not in first.read_text():
        parser.error(f"{args.data} was collected before shards recorded checksums; collect a new folder")
    real_check = expert_data.check_shard
    opened: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for _ in range(args.repeats):  # alternate so drift in the machine's load hits both alike
        for label in opened:
            expert_data.check_shard = real_check if label == "checked" else (lambda shard: {})
            opened[label].append(median_seconds(lambda: ExpertData(args.data, args.per_robot), 1))
    expert_data.check_shard = real_check
    data = ExpertData(args.data, args.per_robot)
    size = sum(f.stat().st_size for f in (args.data / "shards").rglob("*") if f.is_file())
    o_checked, o_plain = (statistics.median(v) for v in opened.values())
    print(f"{args.data}: {len(data):,} transitions used, {size / 2**20:.1f} MiB of shards, task {data.task}")
    print(f"open with checksums   {o_checked * 1e3:8.1f} ms")
    print(f"open without          {o_plain * 1e3:8.1f} ms   ratio {o_checked / o_plain:.2f}")

    rng = np.random.default_rng(0)
    index = rng.permutation(len(data))[: args.batch]
    obs, target = data.batch(index)
    real_numbers = ExpertData._check_numbers
    timed: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for _ in range(20 * args.repeats):  # alternating, as above
        for label in timed:
            data._check_numbers = real_numbers.__get__(data) if label == "checked" else (lambda *a: None)
            timed[label].append(median_seconds(lambda: data.batch(index), 1))
    del data._check_numbers
    b_checked, b_plain = (statistics.median(v) for v in timed.values())
    student = build_network("hyperdistill", data.task, "small")
    optimiser = torch.optim.Adam(student.parameters(), lr=3e-4)

    def step() -> None:
        loss = kl_loss(student(obs), target, obs["act_padding_mask"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    step()
    train = median_seconds(step, args.repeats)
    extra = b_checked - b_plain
    print(
        f"batch of {args.batch} (in memory: {data.in_memory}): {b_checked * 1e3:.2f} ms with the number check, "
        f"{b_plain * 1e3:.2f} ms without (ratio {b_checked / b_plain:.2f})"
    )
    print(
        f"one HyperDistill `small` step on it: {train * 1e3:.1f} ms; the check adds {extra / (b_plain + train):.1%} "
        "to a step with its batch"
    )


if __name__ == "__main__":
    main()
