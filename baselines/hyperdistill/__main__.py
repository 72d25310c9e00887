"""The HyperDistill pipeline, end to end: teacher, expert data, students, evaluation, report.

``python -m baselines.hyperdistill [--task ft] [--preset laptop] [--out RUN] [--teacher CHECKPOINT]``
``python -m baselines.hyperdistill --grid paper [--executor ray [--address ADDR]] [--out DIR]``

Teacher (PPO, or the given checkpoint) → PD robots → expert data → HyperDistill and baseline students
→ evaluation on training and unseen test robots → FLOPs/params and latency tables → report
(``RUN/report/report.md`` + plots). Stages are cached by content and resume after an interruption.
``--grid NAME`` runs the pipeline of every task of a grid (:mod:`.grid`: ``paper`` is every task × student ×
seed of the paper's Figures 2–3) and writes one table across them.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from unimal_gym.arguments import ArgumentParser

from ..common.agents import TeacherAgent
from ..common.config import ConfigError, run_cli
from ..common.envs import named_sets
from ..common.interrupt import resume_command
from ..common.run_dir import resolve_checkpoint
from .config import NEAR_SET, PipelineConfig, pipeline_preset
from .grid import GRIDS, grid_configs, run_grid
from .pipeline import run_pipeline

GRID_FIXED = ("task", "preset", "teacher")
"""Options a grid sets itself (refused with --grid)."""


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.hyperdistill --help``."""
    parser = ArgumentParser(prog="python -m baselines.hyperdistill", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=None, help="ft, vt or obstacle (default ft)")
    parser.add_argument("--preset", default=None, help="smoke, laptop (default) or paper")
    parser.add_argument(
        "--grid",
        default=None,
        help=f"run a grid of pipelines instead: {', '.join(f'{k} ({g.about})' for k, g in GRIDS.items())}",
    )
    parser.add_argument(
        "--out", default=None, help="run folder (default runs/hyperdistill-<task>-<preset>, runs/grid-<grid>)"
    )
    parser.add_argument("--teacher", default=None, help="use this PPO checkpoint or run directory as the teacher")
    parser.add_argument(
        "--students",
        default=None,
        help="comma-separated students: hyperdistill, mlp, tf-compressed, modumorph-compressed, modumorph, tf "
        "(default hyperdistill,mlp; the paper preset: the first five)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="distillation epochs (default: the preset's)")
    parser.add_argument(
        "--student-net",
        default=None,
        metavar="NET",
        help="the students' size: '' (the paper's), small, tiny and/or field=value,... overrides (default: the "
        "preset's; laptop: the paper's on FT, small on VT and Obstacle)",
    )
    parser.add_argument(
        "--collect-std",
        type=float,
        default=None,
        help="std of the teacher's sampled actions while collecting expert data (default: the preset's, the "
        "paper's 0.9)",
    )
    parser.add_argument(
        "--robots",
        default=None,
        help="the teacher's training robots: a bundled set or a folder (default: the preset's; with --teacher, "
        "the set it was trained on)",
    )
    parser.add_argument("--robot-limit", type=int, default=None, help="first N training robots (0 = all)")
    parser.add_argument(
        "--test-robots",
        nargs="+",
        default=None,
        metavar="NAME=SET_OR_DIR",
        help="evaluation sets besides the training robots and the built-in near-unseen set (default: far=test)",
    )
    parser.add_argument(
        "--curve-sets",
        nargs="*",
        default=None,
        metavar="NAME",
        help="sets besides train the students are evaluated on while they learn (curves.png): near or a test "
        "set's name (default: the preset's that this run has; laptop near, others far)",
    )
    parser.add_argument("--near-per-robot", type=int, default=None, help="near-unseen mutants per training robot")
    parser.add_argument("--seeds", type=int, default=None, help="distillation seeds per student (default 1)")
    parser.add_argument(
        "--teacher-seed",
        type=int,
        default=None,
        help="seed of the teacher's PPO run (default: the preset's); runs that differ only in it combine with "
        "python -m baselines.hyperdistill.seeds",
    )
    parser.add_argument("--hn-rl", action="store_true", help="also train HN-RL with PPO (the teacher's budget)")
    parser.add_argument(
        "--executor", default=None, help="where collection and the final evaluations run: local (default) or ray"
    )
    parser.add_argument(
        "--ray-address", "--address", default=None, help="with --executor ray: the cluster ('' = a local instance)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="with the local executor: PPO runs and students at once, each in its own process (default 1: one "
        "after another; the same results)",
    )
    args = parser.parse_args(argv)

    def configure(config: PipelineConfig) -> PipelineConfig:
        """The preset's configuration with the command line's options on top."""
        if args.robots is not None or args.robot_limit is not None:
            robots = args.robots if args.robots is not None else config.teacher.robots
            limit = args.robot_limit if args.robot_limit is not None else config.teacher.robot_limit
            if args.teacher is not None:
                trained = TeacherAgent(resolve_checkpoint(args.teacher)).training_set
                if (robots, limit) != trained:
                    raise ConfigError(
                        f"--robots {robots} (limit {limit}) contradicts the teacher, which was trained on "
                        f"{trained[0]} (limit {trained[1]}); leave --robots out to use its robots"
                    )
            config = config.with_training_set(robots, limit)
        if args.test_robots is not None:
            config = replace(config, test_sets=tuple(named_sets(args.test_robots)))
        if args.near_per_robot is not None:
            config = replace(config, near_per_robot=args.near_per_robot)
        if args.curve_sets is not None:
            config = replace(config, curve_sets=tuple(args.curve_sets))
        else:  # the preset's curve sets that this run still has (--test-robots and --near-per-robot 0 drop some)
            there = {name for name, _ in config.test_sets} | ({NEAR_SET} if config.near_per_robot else set())
            config = replace(config, curve_sets=tuple(n for n in config.curve_sets if n in there))
        if args.seeds is not None:
            config = replace(config, seeds=args.seeds)
        if args.teacher_seed is not None:
            if args.teacher is not None:
                raise ConfigError("--teacher-seed trains a teacher; it cannot be combined with --teacher")
            config = replace(config, teacher=replace(config.teacher, seed=args.teacher_seed))
        if args.hn_rl:
            config = replace(config, hn_rl=True)
        if args.executor is not None or args.ray_address is not None:
            config = replace(config, executor=args.executor or "local", ray_address=args.ray_address or "")
        if args.jobs is not None:
            config = replace(config, jobs=args.jobs)
        if args.students is not None:  # "" names none: refused below, not the default
            config = replace(config, students=tuple(s.strip() for s in args.students.split(",") if s.strip()))
        if args.epochs is not None:
            config = replace(config, distill=replace(config.distill, epochs=args.epochs))
        if args.student_net is not None:
            config = replace(config, distill=replace(config.distill, net=args.student_net))
        if args.collect_std is not None:
            config = replace(config, collect=replace(config.collect, action_std=args.collect_std))
        return config

    def body() -> int:
        if args.grid is not None:
            fixed = [f"--{name}" for name in GRID_FIXED if getattr(args, name) is not None]
            if fixed:
                raise ConfigError(f"--grid {args.grid} sets its own tasks, preset and teachers; leave out {fixed}")
            report = run_grid(args.grid, grid_configs(args.grid, configure), args.out or f"runs/grid-{args.grid}")
        else:
            task, preset = args.task or "ft", args.preset or "laptop"
            config = configure(pipeline_preset(preset, task))
            report = run_pipeline(config, args.out or f"runs/hyperdistill-{task}-{preset}", teacher=args.teacher)
        print(report.read_text())
        return 0

    return run_cli(body, resume=resume_command("python -m baselines.hyperdistill", argv))


if __name__ == "__main__":
    sys.exit(main())
