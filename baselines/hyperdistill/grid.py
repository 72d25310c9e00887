"""A grid of pipelines: every task × student × seed of the paper's Figures 2–3, and one table across them.

``python -m baselines.hyperdistill --grid paper [--executor ray --ray-address ADDR] [--out DIR]``

A grid (:data:`GRIDS`) names a preset, its tasks, students and distillation seeds. Each task is one
pipeline run (:func:`~.pipeline.run_pipeline`) in ``DIR/<task>/``: its teacher and expert data are shared by
all of that task's students and seeds, and every stage is cached by content, so a re-run skips the finished
cells and resumes the rest. ``DIR`` gets:

- ``grid.json``: the grid and each task's configuration;
- ``report.md``, ``results.json``: one table across the grid (every policy's return on every set of every
  task, students as mean ± s.e. across seeds), the teacher gate per task and set, and each student's paired
  difference to the teacher with its 95 % interval and verdict (as in each task's own report);
- ``curves.png``: the distillation curves of every task (rows) on training robots and its curve sets.

Executors: ``local`` runs the tasks one after another, each as ``python -m baselines.hyperdistill`` would.
``ray`` runs the tasks' pipelines side by side; their PPO runs and distillations are Ray tasks declaring
the CPUs and GPUs they need (:func:`~.pipeline.ppo_stage`, :func:`~.pipeline.student_stage`), and collection
and evaluation send each robot as a Ray task. The results are the same either way (``tests/test_grid.py``).
The pipelines' reports (latency, plots) are written one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from unimal_gym.layout import TASKS

from ..common.config import ConfigError
from ..common.executor import check_executor, connect
from ..common.files import atomic_write, write_json
from ..common.lock import holds_lock
from ..common.plotting import pyplot
from .config import HN_RL, PipelineConfig, pipeline_preset
from .pipeline import run_pipeline
from .report import REFERENCE_NAMES, draw_curves, policy_names

PAPER_STUDENTS = ("hyperdistill", "mlp", "tf-compressed", "modumorph-compressed", "modumorph")
"""The students of the paper's Figures 2–3 (the ``paper`` preset's)."""


@dataclass(frozen=True)
class Grid:
    """A named grid of pipeline runs."""

    preset: str
    """The pipeline preset every task runs (:func:`~.config.pipeline_preset`)."""
    tasks: tuple[str, ...]
    """Tasks, one pipeline each."""
    students: tuple[str, ...]
    """Students distilled on every task."""
    seeds: int
    """Distillation seeds per student."""
    about: str
    """One line on what it is for."""

    @property
    def cells(self) -> int:
        """Distillations in the grid: tasks × students × seeds."""
        return len(self.tasks) * len(self.students) * self.seeds


GRIDS: dict[str, Grid] = {
    "paper": Grid("paper", TASKS, PAPER_STUDENTS, 3, "the paper's Figures 2–3: 3 teachers, 45 distillations"),
    "laptop": Grid("laptop", TASKS, ("hyperdistill", "mlp"), 1, "every task's laptop pipeline"),
    "smoke": Grid("smoke", TASKS, ("hyperdistill", "mlp"), 2, "seconds per task: tests"),
}
"""The grids ``--grid`` accepts."""


def grid_configs(
    name: str, configure: Callable[[PipelineConfig], PipelineConfig] = lambda c: c
) -> dict[str, PipelineConfig]:
    """Each task's pipeline configuration in grid ``name``: the preset's, with the grid's students and seeds,
    then ``configure`` (the command line's other options).

    :raises ConfigError: unknown grid, or a configuration that does not validate.
    """
    if name not in GRIDS:
        raise ConfigError(f"unknown grid {name!r}; choose one of {', '.join(GRIDS)}")
    grid = GRIDS[name]
    out = {}
    for task in grid.tasks:
        config = replace(pipeline_preset(grid.preset, task), students=grid.students, seeds=grid.seeds)
        out[task] = configure(config).validate()
    return out


@holds_lock("out", "grid")
def run_grid(
    name: str, configs: dict[str, PipelineConfig], out: str | Path, log: Callable[[str], None] = print
) -> Path:
    """Run (or resume) every task's pipeline in ``out/<task>`` and write the grid's table.

    :param name: the grid's name (for the report).
    :param configs: task → its pipeline configuration (:func:`grid_configs`); the first one's executor decides
        whether the tasks run side by side (ray) or one after another.
    :return: the grid report's path.
    :raises ConfigError, CheckpointError, DataError: bad input (on Ray: the first task's that failed, once the
        others have finished; locally the first failure stops the grid, and the next call goes on from there).
    """
    out = Path(out)
    first = next(iter(configs.values()))
    check_executor(first.executor, first.ray_address)
    write_json(out / "grid.json", {"grid": name, "configs": {t: c.to_dict() for t, c in configs.items()}})

    def one(task: str) -> Path:
        return run_pipeline(configs[task], out / task, log=lambda line: log(f"[{task}] {line}"))

    if first.executor == "ray":  # the tasks side by side; each sends its stages to the cluster
        ray = connect(first.ray_address)
        pool = ThreadPoolExecutor(len(configs), thread_name_prefix="grid")
        try:
            futures = [pool.submit(one, task) for task in configs]
            errors = [f.exception() for f in futures]  # waits for every task: finished work is kept
        except KeyboardInterrupt:  # a second Ctrl-C: stop now; without Ray under them the tasks' threads end
            ray.shutdown()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            raise failed
    else:
        for task in configs:
            one(task)
    report = write_grid_report(out, name, configs)
    log(f"== grid report: {report}")
    return report


# ---------------------------------------------------------------------------------------------- report
def _cell(entry: dict[str, float]) -> str:
    return f"{entry['mean']:.1f} ± {entry['se']:.1f}"


def write_grid_report(out: Path, name: str, configs: dict[str, PipelineConfig]) -> Path:
    """``out/report.md``, ``out/results.json`` and ``out/curves.png`` from every task's ``report/results.json``.

    :return: the report's path.
    """
    results = {task: json.loads((out / task / "report" / "results.json").read_text()) for task in configs}
    grid = GRIDS.get(name)
    seeds = {c.seeds for c in configs.values()}
    lines = [
        f"# Grid `{name}`: {len(configs)} tasks × {len(next(iter(configs.values())).students)} students × "
        f"{'/'.join(map(str, sorted(seeds)))} seeds",
        "",
        *([grid.about[0].upper() + grid.about[1:] + "."] if grid else []),
        "Each task's run and full report: `<task>/report/report.md`. Returns are means over robots ± s.e. "
        "(students with several seeds: mean ± s.e. across seeds).",
        "",
    ]
    claims = ["## The paper's claim across the grid", ""]
    cells = []
    for task, res in results.items():
        config = configs[task]
        names = policy_names(config.teacher.arch)
        teacher = res["summary"]["teacher"]
        set_names = list(teacher)
        lines += [
            f"## {task.upper()}",
            "",
            "| policy | " + " | ".join(f"{k} ({teacher[k]['robots']} robots)" for k in set_names) + " |",
            "|---|" + "---|" * len(set_names),
        ]
        for label in ("teacher", *config.students, *([HN_RL] if config.hn_rl else []), *REFERENCE_NAMES):
            row = res["summary"][label]
            lines.append(f"| {names[label]} | " + " | ".join(_cell(row[s]) for s in set_names) + " |")
        lines.append("")
        for set_name, entry in res["sets"].items():
            gate = entry["gate"]
            if gate is None:
                claims.append(f"- {task.upper()} `{set_name}`: untestable (fewer than 2 robots evaluated by all).")
                continue
            text = f"teacher − zero action {gate['teacher_minus_zero']:.1f} ± {gate['se']:.1f}"
            if not gate["passed"]:
                claims.append(f"- {task.upper()} `{set_name}`: **untestable on this set** ({text}: gate failed).")
                continue
            verdicts = "; ".join(
                f"{names[s]} {c['paired_diff']['mean']:.1f} [{c['paired_diff']['ci95'][0]:.1f}, "
                f"{c['paired_diff']['ci95'][1]:.1f}] **{c['verdict']}**"
                for s, c in entry["students"].items()
            )
            claims.append(f"- {task.upper()} `{set_name}`: gate passed ({text}); student − teacher: {verdicts}.")
        for student, folders in res.get("runs", {}).items():
            for seed, folder in enumerate(folders):
                cells.append(
                    {"task": task, "student": student, "seed": config.distill.seed + seed, "folder": f"{task}/{folder}"}
                )
    lines += [*claims, "", "Figure: `curves.png` (distillation curves, a row per task)."]
    report = out / "report.md"
    atomic_write(report, lambda p: p.write_text("\n".join(lines) + "\n"))
    tables = {task: {"summary": r["summary"], "sets": r["sets"]} for task, r in results.items()}
    write_json(out / "results.json", {"grid": name, "tasks": tables, "cells": cells})
    _grid_curves(out, configs, results)
    return report


def _grid_curves(out: Path, configs: dict[str, PipelineConfig], results: dict[str, dict[str, Any]]) -> None:
    """``curves.png``: :func:`~.report.draw_curves` of every task, one row each."""
    plt = pyplot()
    if plt is None:  # plots are optional
        return
    panels = {task: list(res.get("curve_sets", ["train"])) for task, res in results.items()}
    columns = max(len(p) for p in panels.values())
    fig, axes = plt.subplots(len(results), columns, figsize=(5 * columns, 3.5 * len(results)), squeeze=False)
    for k, (row, (task, res)) in enumerate(zip(axes, results.items(), strict=True)):
        runs = {s: [out / task / f for f in folders] for s, folders in res.get("runs", {}).items()}
        sets = panels[task]
        for ax in row[len(sets) :]:
            ax.set_visible(False)
        names = policy_names(configs[task].teacher.arch)
        draw_curves(row[: len(sets)], runs, res["summary"], names, sets, legend=k == 0, title=f"{task.upper()}: ")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)


__all__ = ["GRIDS", "Grid", "grid_configs", "run_grid", "write_grid_report"]
