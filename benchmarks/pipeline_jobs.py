"""Wall time of a pipeline's students one after another (``--jobs 1``) against side by side (``--jobs N``).

``python benchmarks/pipeline_jobs.py RUN --task ft --preset laptop [--jobs 2] [--rounds 1] [--seeds 1] [--out DIR]``

``RUN`` is a finished ``python -m baselines.hyperdistill`` run of that task and preset (else its stages are not
found and are made anew, and timed too). Each way starts from a fresh folder that links RUN's expert data,
near-unseen robots and reference evaluations (teacher, zero action, random), so what is timed is what ``--jobs``
changes: the students' distillations (``--seeds`` each), their final evaluations and the report. Within each
round both ways run, one after the other, the order swapped between rounds; printed per way: the wall time of
every round, their median, and the per-round ratio. Both ways must give the same students (checked: every
student's final weights equal), or the script stops.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from baselines.common.files import DISTILL_CHECKPOINT, read_artifact
from baselines.hyperdistill import pipeline_preset, run_pipeline
from unimal_gym.machine import machine_line

REFERENCES = ("teacher", "zero", "random")


def fresh(run: Path, folder: Path) -> None:
    """A new run folder holding links to RUN's data, near-unseen robots and reference evaluations."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "eval").mkdir(parents=True)
    for stage in [*run.glob("data-*"), *run.glob("near-*")]:
        os.symlink(stage.resolve(), folder / stage.name)
    for path in (run / "eval").glob("*.json"):
        if path.name.split("-")[0] in REFERENCES:
            os.symlink(path.resolve(), folder / "eval" / path.name)


def students(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Every student's final weights, by its folder's name."""
    return {
        p.name: read_artifact(p / "checkpoints" / "final.pt", DISTILL_CHECKPOINT)["student"]
        for p in sorted((folder / "students").iterdir())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished pipeline run (python -m baselines.hyperdistill)")
    parser.add_argument("--task", default="ft")
    parser.add_argument("--preset", default="laptop")
    parser.add_argument("--jobs", type=int, default=2, help="the side-by-side way's --jobs (default 2)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="distillation seeds per student")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-pipeline-jobs"))
    args = parser.parse_args()
    if args.jobs < 2 or args.rounds < 1:
        parser.error("--jobs must be at least 2 (it is compared with 1) and --rounds at least 1")

    results = json.loads((args.run / "report" / "results.json").read_text())
    config = replace(pipeline_preset(args.preset, args.task), seeds=args.seeds)
    print(
        f"# benchmarks/pipeline_jobs.py {args.run} --jobs {args.jobs} --rounds {args.rounds} --seeds {args.seeds}; "
        f"{config.task}, students {', '.join(config.students)} × {args.seeds} seeds; {machine_line()}"
    )
    ways = {1: [], args.jobs: []}
    weights: dict[int, dict] = {}
    for r in range(args.rounds):
        for jobs in list(ways) if r % 2 == 0 else list(ways)[::-1]:
            folder = args.out / f"jobs{jobs}"
            fresh(args.run, folder)
            t0 = time.perf_counter()
            run_pipeline(replace(config, jobs=jobs), folder, teacher=results["teacher"], log=lambda line: None)
            ways[jobs].append(time.perf_counter() - t0)
            weights[jobs] = students(folder)
            print(f"round {r + 1}, --jobs {jobs}: {ways[jobs][-1] / 60:.2f} min", flush=True)
        a, b = weights[1], weights[args.jobs]
        if a.keys() != b.keys() or any(not torch.equal(a[s][k], b[s][k]) for s in a for k in a[s]):
            raise SystemExit("the two ways gave different students")
    for jobs, times in ways.items():
        print(
            f"--jobs {jobs}: median {statistics.median(times) / 60:.2f} min (rounds: "
            + ", ".join(f"{t / 60:.2f}" for t in times)
            + ")"
        )
    ratios = [one / many for one, many in zip(ways[1], ways[args.jobs], strict=True)]
    print(f"ratio --jobs 1 / --jobs {args.jobs}: " + ", ".join(f"{x:.2f}" for x in ratios) + " (per round)")


if __name__ == "__main__":
    main()
