"""``python -m baselines.hyperdistill [--task ft] [--preset laptop] [--out RUN] [--teacher CHECKPOINT]``

Teacher (PPO, or the given checkpoint) → PD robots → expert data → HyperDistill and baseline students
→ evaluation on training and unseen test robots → FLOPs/params and latency tables → report
(``RUN/report/report.md`` + plots). Stages are cached by content and resume after an interruption.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..common.config import run_cli
from .pipeline import pipeline_preset, run_pipeline


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.hyperdistill --help``."""
    parser = argparse.ArgumentParser(prog="python -m baselines.hyperdistill", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="ft", help="ft, vt or obstacle (default ft)")
    parser.add_argument("--preset", default="laptop", help="smoke, laptop (default) or paper")
    parser.add_argument("--out", default=None, help="run folder (default runs/hyperdistill-<task>-<preset>)")
    parser.add_argument("--teacher", default=None, help="use this PPO checkpoint or run directory as the teacher")
    parser.add_argument("--students", default=None, help="comma-separated students (default hyperdistill,mlp)")
    parser.add_argument("--epochs", type=int, default=None, help="distillation epochs (default: the preset's)")
    args = parser.parse_args(argv)

    def body() -> int:
        config = pipeline_preset(args.preset, args.task)
        if args.students:
            config = replace(config, students=tuple(s.strip() for s in args.students.split(",") if s.strip()))
        if args.epochs:
            config = replace(config, distill=replace(config.distill, epochs=args.epochs))
        out = args.out or f"runs/hyperdistill-{args.task}-{args.preset}"
        report = run_pipeline(config, out, teacher=args.teacher)
        print(report.read_text())
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
