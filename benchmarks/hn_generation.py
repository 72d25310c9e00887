"""Training throughput of the HyperDistill student: per-robot vs per-sample weight generation.

One distillation step (forward, the KL loss of docs/networks.md §9.3, backward) on a batch of 5120 samples
spread evenly over the 100 robots of the project's training set, model in train mode (context
dropout on). ``per_sample`` generates every sample's weights, as the original does; ``per_robot``
generates them once per robot in the batch and applies them with one batched matmul per layer::

    python benchmarks/hn_generation.py [--task ft] [--batch 5120] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from baselines.nets import HyperDistill, hyperdistill
from unimal_gym.layout import HFIELD_DIM, LIMB_OBS_DIM, MAX_LIMBS
from unimal_gym.morphology.context import context

ROBOT_DIR = Path(__file__).resolve().parents[1] / "morphologies" / "train" / "xml"


def make_batch(
    task: str, batch: int, seed: int = 0, robots: int | None = None
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Observations of ``batch`` samples over the robots in ROBOT_DIR (all, or the first ``robots``;
    shuffled), with random states, and random teacher means."""
    morph = [context(p) for p in sorted(ROBOT_DIR.glob("*.xml"))[:robots]]
    rng = np.random.default_rng(seed)
    robot = rng.permutation(np.arange(batch) % len(morph))
    obs = {
        k: torch.as_tensor(np.stack([morph[r][k] for r in robot]))
        for k in ("context", "obs_padding_mask", "act_padding_mask")
    }
    obs["context"] = obs["context"].float()
    obs["proprioceptive"] = torch.as_tensor(rng.normal(size=(batch, MAX_LIMBS * LIMB_OBS_DIM)), dtype=torch.float32)
    if task != "ft":
        obs["hfield"] = torch.as_tensor(rng.normal(0, 0.1, size=(batch, HFIELD_DIM)), dtype=torch.float32)
    return obs, torch.as_tensor(rng.normal(size=(batch, 2 * MAX_LIMBS)), dtype=torch.float32)


def step_time(student: HyperDistill, obs: dict[str, torch.Tensor], target: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward distillation step."""
    student.train()
    valid = (~obs["act_padding_mask"]).float()
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        start = time.perf_counter()
        student.zero_grad(set_to_none=True)
        mu = student(obs)
        loss = (0.5 * ((mu - target) ** 2 * valid).sum(-1) / valid.sum(-1)).mean()
        loss.backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main(argv: list[str] | None = None) -> None:
    """Command line: measure both modes and print samples/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("ft", "vt", "obstacle"), default="ft")
    parser.add_argument("--batch", type=int, default=5120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    obs, target = make_batch(args.task, args.batch)
    per_robot = HyperDistill(hyperdistill(args.task))
    per_sample = HyperDistill(replace(per_robot.config, generation="per_sample"))
    per_sample.load_state_dict(per_robot.state_dict())
    print(f"HyperDistill {args.task.upper()} distillation step, batch {args.batch}, {torch.get_num_threads()} threads")
    results = {}
    for name, net in (("per_robot", per_robot), ("per_sample", per_sample)):
        results[name] = step_time(net, obs, target, args.repeats)
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(
            f"{name:<11} {results[name]:8.3f} s/step {args.batch / results[name]:10.0f} samples/s",
            f"(peak RSS so far {peak_gb:.1f} GB)",
        )
    print(f"per_robot is {results['per_sample'] / results['per_robot']:.1f}× faster than per_sample")


if __name__ == "__main__":
    main()
