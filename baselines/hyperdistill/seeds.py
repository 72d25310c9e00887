"""One table across teacher seeds: pipeline runs that differ only in the teacher's seed, combined.

``python -m baselines.hyperdistill.seeds RUN_A RUN_B RUN_C --out DIR``

Each ``RUN`` is the output folder of ``python -m baselines.hyperdistill`` (its ``pipeline.json`` and
``report/results.json``) or that folder published by ``python -m baselines.hyperdistill.publish`` (as under
``benchmarks/results/``), so a new teacher seed combines with the published ones. The runs must agree on
everything but ``teacher.seed``: task, robots, sets, students and every other setting. Each run needs its own
teacher: two runs of one teacher are refused. Two runs may share a seed when their teachers differ (a rerun of
a seed on another machine or checkout trains another teacher, docs/reproducing.md §4); the teachers are told
apart by the checkpoint's SHA-256 in ``results.json`` (``teacher_sha256``) or, for runs that do not record it,
by their PPO training logs. For every evaluated set and policy ``DIR`` gets:

- the mean over runs of the run's mean return, its standard error across runs and the runs' range
  (where a newcomer's rerun of the same command should land);
- the **gate** per run (passed in k of n) and on the run-averaged per-robot returns (teacher − zero
  action > 2 s.e. of the paired difference, as in one run);
- per student, where the pooled gate passes: the paired difference to *its own run's* teacher with a
  95 % bootstrap interval over robots and runs, the ratio of means and a verdict, and each run's verdict;
- ``teacher_curves.png``: the teachers' training return (rolling mean over 10 iterations) against
  environment steps, mean ± s.e. across runs;
- ``student_curves.png``: each student's return during distillation on the runs' curve sets, mean ± s.e.
  across all its distillations (every run's, every seed's), with the teachers' and zero action's mean
  over runs as lines (``curves.<student>.<set>`` in ``results.json``: epochs, mean, se).

Written: ``report.md``, ``results.json`` (``sets.<set>.gate``, ``sets.<set>.students.<s>``,
``summary.<policy>.<set>``, ``curves``), ``teacher_curves.png``, ``student_curves.png``. ``DIR`` must be new, empty,
or an earlier ``DIR`` of this command, which is then updated: a run's own ``report/`` is refused.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from unimal_gym.arguments import ArgumentParser

from ..collect import EXECUTION_FIELDS as COLLECT_EXECUTION_FIELDS
from ..common.config import UserError, run_cli
from ..common.files import read_json, write_json
from ..common.lock import writable_folder
from ..common.plotting import pyplot
from ..common.stats import compare, gate
from ..distill import MACHINE_FIELDS as DISTILL_MACHINE_FIELDS
from ..ppo.config import MACHINE_FIELDS
from .config import EXECUTION_FIELDS
from .publish import teacher_folder
from .report import mean_curve, policy_names, save_curves

REFERENCES = ("zero", "random")
CURVE_WINDOW = 10  # iterations in the rolling mean of the teachers' training return


class SeedsError(UserError, ValueError):
    """Runs that cannot be combined (missing results, settings other than the teacher's seed differ), or an
    ``--out`` folder that holds something else than an earlier table of this command."""


WRITTEN = ("report.md", "results.json", "teacher_curves.png", "student_curves.png")
"""The files :func:`write` puts in its folder."""


def check_out(out: Path) -> None:
    """``out`` is new, empty, or an earlier ``--out`` of this command (only its files, its ``results.json`` a
    table across seeds), which is then updated; anything else (a run's own ``report/``, a run folder) is refused
    before a file is written.

    :raises SeedsError: ``out`` holds other files.
    """
    if not out.is_dir():
        return  # new (or a file: writable_folder says so)
    held = sorted(p.name for p in out.iterdir())
    if not held:
        return
    other = [name for name in held if name not in WRITTEN]
    earlier = out / "results.json"
    if not other and earlier.is_file():
        try:
            if "teacher_seeds" in read_json(earlier, SeedsError):
                return
        except (SeedsError, TypeError):
            pass
    raise SeedsError(
        f"--out {out} holds {', '.join(other or held)}, not an earlier table across seeds; "
        "give a new or empty folder (nothing was written)"
    )


def load_run(root: Path) -> dict[str, Any]:
    """``{"root", "config", "results", "teacher_log"}`` of one pipeline run or published run (``teacher_log``:
    the teacher's ``progress.csv``, which may be absent, or None). :raises SeedsError: not a finished run."""
    published = not (root / "report").is_dir() and (root / "results.json").is_file()
    results = root / "results.json" if published else root / "report" / "results.json"
    paths = {"config": root / "pipeline.json", "results": results}
    run: dict[str, Any] = {"root": root}
    for key, path in paths.items():
        if not path.is_file():
            raise SeedsError(
                f"{root} is neither a finished pipeline run nor a published one ({path.relative_to(root)} is missing)"
            )
        run[key] = read_json(path, SeedsError)
    if not isinstance(run["config"], dict) or not isinstance(run["config"].get("teacher"), dict):
        raise SeedsError(f"{paths['config']} names no teacher configuration: not a pipeline's pipeline.json")
    if not isinstance(run["results"], dict) or "returns" not in run["results"]:
        raise SeedsError(f"{paths['results']} has no per-robot returns (written by an older version); rerun its report")
    if published:
        run["teacher_log"] = root / "teacher" / "progress.csv"
    else:
        folder = teacher_folder(root, str(run["results"].get("teacher", "")))
        run["teacher_log"] = folder / "progress.csv" if folder is not None else None  # a bare checkpoint: none
    return run


HOW_FIELDS: dict[str, tuple[str, ...]] = {
    "": EXECUTION_FIELDS,
    "teacher": MACHINE_FIELDS,
    "collect": COLLECT_EXECUTION_FIELDS,
    "distill": DISTILL_MACHINE_FIELDS,
}
"""Settings of ``pipeline.json`` (top level, and per stage) that say where and how a run was computed, not what it
computed: runs that differ in them combine (one run on a laptop, another with ``--jobs 2`` or on Ray)."""


def _without_seed(config: dict[str, Any]) -> dict[str, Any]:
    """A run's settings without the teacher's seed and the :data:`HOW_FIELDS`: what must be equal to combine."""
    out = {k: v for k, v in config.items() if k not in HOW_FIELDS[""]}
    for stage, names in HOW_FIELDS.items():
        if stage and isinstance(out.get(stage), dict):
            out[stage] = {k: v for k, v in out[stage].items() if k not in names}
    out["teacher"] = {k: v for k, v in out["teacher"].items() if k != "seed"}
    return out


TIMING_COLUMNS = ("wall_time", "steps_per_s")
"""Columns of a PPO ``progress.csv`` that say how fast a run went, not what it learnt: left out when two training
logs are compared."""


def training_log(run: dict[str, Any]) -> list[dict[str, str]] | None:
    """The rows of a run's teacher ``progress.csv`` without :data:`TIMING_COLUMNS`, or None when it has none.
    Two teachers trained alike to the last bit have equal rows; two draws differ from the first update on."""
    path = run["teacher_log"]
    if path is None or not path.is_file():
        return None
    with path.open(newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(f)]


def same_teacher(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether two runs distilled the same teacher: by the checkpoints' SHA-256 where both runs record it, else
    by their training logs; None when neither tells."""
    sha = [r["results"].get("teacher_sha256") for r in (a, b)]
    if all(sha):
        return sha[0] == sha[1]
    logs = [training_log(r) for r in (a, b)]
    if logs[0] is not None and logs[1] is not None:
        return logs[0] == logs[1]
    return None


def check_comparable(runs: list[dict[str, Any]]) -> None:
    """:raises SeedsError: fewer than 2 runs, one teacher in two runs (or two runs of one seed whose teachers
    cannot be told apart), or any other setting that differs."""
    if len(runs) < 2:
        raise SeedsError("give at least 2 runs to combine")
    seeds = [r["config"]["teacher"]["seed"] for r in runs]
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            same = same_teacher(a, b)
            if same:
                raise SeedsError(f"{a['root']} and {b['root']} distilled the same teacher: each run needs its own")
            if same is None and a["config"]["teacher"]["seed"] == b["config"]["teacher"]["seed"]:
                raise SeedsError(
                    f"teacher seeds {seeds} repeat and {a['root']} and {b['root']} record neither a teacher "
                    "checksum nor a training log to tell their teachers apart: each run needs its own teacher"
                )
    first = _without_seed(runs[0]["config"])
    for run in runs[1:]:
        other = _without_seed(run["config"])
        if other != first:
            stages = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
            raise SeedsError(
                f"{run['root']} differs from {runs[0]['root']} in {stages}, not only in the teacher's seed"
            )


def per_robot(run: dict[str, Any], label: str, set_name: str, robots: list[str]) -> np.ndarray:
    """(robots,) a policy's return per robot in one run (mean over its distillation seeds)."""
    returns = run["results"]["returns"][label][set_name]
    return np.array([float(np.mean(returns[r])) for r in robots])


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The combined results (see the module docstring); robots any run or policy skipped are left out."""
    first = runs[0]["results"]
    labels = [label for label in first["returns"] if all(label in r["results"]["returns"] for r in runs)]
    students = [label for label in labels if label != "teacher" and label not in REFERENCES]
    summary: dict[str, dict[str, Any]] = {label: {} for label in labels}
    sets: dict[str, Any] = {}
    for set_name in first["summary"]["teacher"]:
        names = [set(r["results"]["returns"][label].get(set_name, {})) for r in runs for label in labels]
        robots = sorted(set.intersection(*names))
        values = {label: np.stack([per_robot(r, label, set_name, robots) for r in runs]) for label in labels}
        for label, v in values.items():  # (runs, robots)
            means = v.mean(axis=1)
            summary[label][set_name] = {
                "mean": float(means.mean()),
                "se": float(means.std(ddof=1) / np.sqrt(len(means))),
                "run_means": means.tolist(),
                "robots": len(robots),
            }
        entry: dict[str, Any] = {"robots": len(robots), "runs": len(runs), "gate": None, "students": {}}
        if len(robots) >= 2:
            pooled = gate(values["teacher"].mean(axis=0), values["zero"].mean(axis=0))
            per_run = [gate(values["teacher"][i], values["zero"][i]).passed for i in range(len(runs))]
            entry["gate"] = {**pooled.to_dict(), "passed_runs": int(sum(per_run)), "runs": len(runs)}
            if pooled.passed:
                for s in students:
                    c = compare(values[s], values["teacher"]).to_dict()
                    c["run_verdicts"] = [compare(values[s][i], values["teacher"][i]).verdict for i in range(len(runs))]
                    entry["students"][s] = c
        sets[set_name] = entry
    return {
        "task": first.get("task"),
        "runs": [str(r["root"]) for r in runs],
        "teacher_seeds": [r["config"]["teacher"]["seed"] for r in runs],
        "summary": summary,
        "sets": sets,
    }


def teacher_curves(runs: list[dict[str, Any]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per run with a readable teacher ``progress.csv``: (timesteps, rolling-mean training return)."""
    curves = []
    for run in runs:
        progress = run["teacher_log"]
        if progress is None or not progress.is_file():
            continue
        with progress.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["return_mean"] not in ("", "nan")]
        if len(rows) < CURVE_WINDOW:
            continue
        steps = np.array([float(r["timesteps"]) for r in rows])
        ret = np.convolve([float(r["return_mean"]) for r in rows], np.ones(CURVE_WINDOW) / CURVE_WINDOW, "valid")
        curves.append((steps[CURVE_WINDOW - 1 :], ret))
    return curves


def plot_teacher_curves(curves: list[tuple[np.ndarray, np.ndarray]], path: Path) -> bool:
    """Mean ± s.e. across runs of the teachers' curves (cut to the shortest). :return: written."""
    if len(curves) < 2:
        return False
    plt = pyplot()
    if plt is None:  # plots are optional
        return False
    n = min(len(c[1]) for c in curves)
    steps, values = curves[0][0][:n], np.stack([c[1][:n] for c in curves])
    mid, band = values.mean(0), values.std(0, ddof=1) / np.sqrt(len(curves))
    fig, ax = plt.subplots(figsize=(6, 4))
    for v in values:
        ax.plot(steps, v, color="0.7", linewidth=0.8)
    ax.plot(steps, mid, color="C0", label=f"mean of {len(curves)} teacher seeds")
    ax.fill_between(steps, mid - band, mid + band, color="C0", alpha=0.25, label="± s.e. across seeds")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"training return (stochastic,\nrolling mean of {CURVE_WINDOW} iterations)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def student_folders(runs: list[dict[str, Any]]) -> dict[str, list[Path]]:
    """Student → its distillation run folders in every run (each run's seeds in order), for the students
    every run has."""
    listed = [run["results"].get("runs", {}) for run in runs]
    students = [s for s in listed[0] if all(s in other for other in listed)]
    return {s: [run["root"] / p for run, own in zip(runs, listed, strict=True) for p in own[s]] for s in students}


def student_curves(runs: list[dict[str, Any]], folders: dict[str, list[Path]]) -> dict[str, dict[str, Any]]:
    """``{student: {set: {"epochs", "mean", "se", "se_over"}}}`` on the first run's curve sets (where every
    distillation has the curve, at the same epochs: :func:`~.report.mean_curve`)."""
    splits = runs[0]["results"].get("curve_sets", [])
    curves: dict[str, dict[str, Any]] = {}
    for student, seeds in folders.items():
        per_set = {split: mean_curve(seeds, split) for split in splits}
        curves[student] = {split: c for split, c in per_set.items() if c is not None}
    return curves


def plot_student_curves(
    runs: list[dict[str, Any]], folders: dict[str, list[Path]], combined: dict[str, Any], path: Path
) -> bool:
    """:func:`~.report.save_curves` over every run's distillations. :return: written."""
    sets = list(runs[0]["results"].get("curve_sets", []))
    if not sets or not any(combined["curves"].values()):
        return False
    names = policy_names(runs[0]["config"]["teacher"]["arch"])
    return save_curves(path, folders, combined["summary"], names, sets)


def report_lines(combined: dict[str, Any]) -> list[str]:
    """``report.md``: the table across runs and the claim per set."""
    summary, sets = combined["summary"], combined["sets"]
    set_names = list(sets)
    n = len(combined["runs"])
    lines = [
        f"# Across {n} teacher seeds ({(combined['task'] or '?').upper()})",
        "",
        f"Runs (teacher seeds {combined['teacher_seeds']}): " + ", ".join(f"`{r}`" for r in combined["runs"]) + ".",
        *(
            [
                "A seed appears more than once: those runs trained different teachers (their checkpoints or "
                "training logs differ), as a rerun of a seed on another machine or checkout does."
            ]
            if len(set(combined["teacher_seeds"])) < n
            else []
        ),
        "Each cell: mean over runs of the run's mean return ± s.e. across runs [lowest run, highest run].",
        "",
        "| policy | " + " | ".join(f"{s} ({sets[s]['robots']} robots)" for s in set_names) + " |",
        "|---|" + "---|" * len(set_names),
    ]
    for label, per_set in summary.items():
        cells = []
        for s in set_names:
            v = per_set[s]
            cells.append(f"{v['mean']:.1f} ± {v['se']:.1f} [{min(v['run_means']):.1f}, {max(v['run_means']):.1f}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "## The paper's claim across seeds", ""]
    for s, entry in sets.items():
        g = entry["gate"]
        if g is None:
            lines.append(f"- `{s}`: untestable (fewer than 2 robots evaluated by every policy in every run).")
            continue
        text = (
            f"teacher − zero action = {g['teacher_minus_zero']:.1f} ± {g['se']:.1f} (s.e. over {g['robots']} "
            f"robots, returns averaged over runs); passed in {g['passed_runs']} of {g['runs']} runs"
        )
        if not g["passed"]:
            lines.append(f"- `{s}`: **untestable on this set** ({text}); no ratio is printed.")
            continue
        lines.append(f"- `{s}`: gate passed ({text}).")
        for student, c in entry["students"].items():
            lo, hi = c["paired_diff"]["ci95"]
            lines.append(
                f"  - {student}: student − its teacher = {c['paired_diff']['mean']:.1f} (95 % bootstrap CI over "
                f"robots and runs [{lo:.1f}, {hi:.1f}]), ratio of means {c['ratio']:.2f}: **{c['verdict']}** "
                f"(per run: {', '.join(c['run_verdicts'])})."
            )
    return lines


def write(runs: list[Path], out: Path) -> Path:
    """Combine the runs into ``out``. :return: the report. :raises SeedsError: see :func:`check_comparable`."""
    loaded = [load_run(Path(r)) for r in runs]
    check_comparable(loaded)
    check_out(out)
    out = writable_folder(out)
    combined = combine(loaded)
    folders = student_folders(loaded)
    combined["curves"] = student_curves(loaded, folders)
    lines = report_lines(combined)
    for plot in ("teacher_curves.png", "student_curves.png"):  # an earlier table's plot of other runs would stay
        (out / plot).unlink(missing_ok=True)
    if plot_teacher_curves(teacher_curves(loaded), out / "teacher_curves.png"):
        lines += ["", "`teacher_curves.png`: the teachers' training return, mean ± s.e. across seeds."]
    if plot_student_curves(loaded, folders, combined, out / "student_curves.png"):
        lines += [
            "",
            "`student_curves.png`: each student's return during distillation, mean ± s.e. across its "
            f"{max(len(f) for f in folders.values())} distillations (all runs); lines: the teachers' and zero "
            "action's final return, mean over runs, on the same robots.",
        ]
    write_json(out / "results.json", combined, indent=1)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m baselines.hyperdistill.seeds RUN RUN ... --out DIR``."""
    parser = ArgumentParser(prog="python -m baselines.hyperdistill.seeds", description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", help="pipeline output folders, or published ones, that differ only in the teacher's seed"
    )
    parser.add_argument("--out", required=True, help="folder for report.md, results.json and teacher_curves.png")
    args = parser.parse_args(argv)

    def body() -> int:
        print(write([Path(r) for r in args.runs], Path(args.out)))
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
