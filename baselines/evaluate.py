"""Evaluation harness: per-robot mean return of a policy on robot sets (docs/networks.md §10, docs/environment.md §7).

``python -m baselines.evaluate SOURCE --robots test [--robots train] [--preset laptop] [--episodes 16]``

For every robot: ``episodes`` envs of that robot (seeds seed + 0…episodes−1), one episode each (up to
the 1000-step limit, fall termination on), the policy's observation statistics frozen, no reward
normalisation; the robot's score is the mean undiscounted return (the harness:
:mod:`baselines.common.rollouts`). Robots run in parallel processes. The source is anything
:func:`baselines.common.agents.load_agent` takes: a PPO or distillation checkpoint (or a run
directory: its ``final.pt``, else its latest checkpoint), an exported ``.npz`` student, or ``random``
/ ``zero`` (reference policies: uniform actions in [−1, 1] / all-zero actions).

Output folder (``--out``; default ``RUN/eval/<sets>-<mode>``): ``results.json`` and ``results.csv`` (one
row per robot), ``summary.md`` (mean ± standard error over the robots of each set), ``returns.png``
(per-robot returns) and ``learning_curve.png`` (from the run's ``progress.csv``) when matplotlib is
installed. A robot that cannot be loaded is reported by name, listed as skipped, and not scored.
"""

from __future__ import annotations

import csv
import json
import sys
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from unimal_gym import MAX_EPISODE_STEPS
from unimal_gym.arguments import ArgumentParser
from unimal_gym.layout import TASKS

from .common.agents import REFERENCE_POLICIES, load_agent
from .common.config import ConfigError, add_config_arguments, check_fields, config_from_args, config_from_dict, run_cli
from .common.envs import named_sets
from .common.executor import check_executor
from .common.lock import writable_folder
from .common.plotting import pyplot
from .common.progress import Progress
from .common.rollouts import SMOKE_EPISODE_STEPS, cut_note, evaluate_robots, per_robot, robot_jobs, summarise
from .common.run_dir import resolve_checkpoint


@dataclass(frozen=True)
class EvalConfig:
    """How a policy is evaluated (docs/networks.md §10); saved in ``results.json`` (``config``)."""

    episodes: int = 16
    """Episodes (envs) per robot (docs/networks.md §10: 16)."""
    deterministic: bool = False
    """Act with the mean action instead of sampling."""
    seed: int = 1409
    """Env i of a robot is seeded seed + i (and the random reference policy's actions with seed)."""
    limit: int = 0
    """First N robots of each set; 0 = all."""
    max_steps: int = MAX_EPISODE_STEPS
    """Time limit of each episode (the benchmark's 1000; the smoke preset's 100 keeps tests quick)."""
    workers: int = 2
    """Parallel processes (1 = in this process)."""
    task: str = ""
    """Task of a reference policy or an exported student: ft, vt or obstacle ('' = ft; checkpoints carry theirs)."""
    executor: str = "local"
    """Where the robots run: local (worker processes) or ray (Ray tasks; the same results)."""
    ray_address: str = ""
    """With executor=ray: the cluster's address ('' = a new local Ray instance)."""

    RANGES: ClassVar[dict[str, str]] = {
        "episodes": "[1, inf)",
        "seed": "[0, 4294967295]",
        "limit": "[0, inf)",
        "max_steps": "[1, inf)",
        "workers": "[1, inf)",
    }
    """The values each numeric field may take (checked by :func:`~baselines.common.config.check_fields`)."""

    def validate(self) -> EvalConfig:
        """:raises ConfigError: impossible numbers or an unknown task. :return: self."""
        check_fields(self)
        if self.task and self.task not in TASKS:
            raise ConfigError(f"task={self.task!r} is not allowed; choose one of {', '.join(TASKS)}")
        check_executor(self.executor, self.ray_address)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalConfig:
        """:raises ConfigError: unknown fields."""
        return config_from_dict(cls, data, "evaluation config")


EVAL_PRESETS: dict[str, EvalConfig] = {
    "paper": EvalConfig(),
    "laptop": EvalConfig(episodes=4, limit=16),
    "smoke": EvalConfig(episodes=1, limit=1, workers=1, max_steps=SMOKE_EPISODE_STEPS),
}
"""``paper`` (16 episodes on every robot), ``laptop`` (4 episodes, first 16 robots), ``smoke`` (tests)."""


# ---------------------------------------------------------------------------------------------- reports
def write_reports(out: Path, meta: dict[str, Any], results: list[dict[str, Any]], run_dir: Path | None) -> None:
    """results.json, results.csv, summary.md and (with matplotlib) returns.png / learning_curve.png."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    (out / "results.json").write_text(json.dumps({**meta, "summary": summary, "robots": results}, indent=1) + "\n")
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["set", "robot", "episodes", "return_mean", "return_se", "length_mean", "error"])
        for r in results:
            if "error" in r:
                writer.writerow([r["set"], r["robot"], 0, "", "", "", r["error"]])
            else:
                n = len(r["returns"])
                writer.writerow(
                    [r["set"], r["robot"], n, r["return_mean"], r["return_se"], float(np.mean(r["lengths"])), ""]
                )
    if meta["source"] in REFERENCE_POLICIES:
        mode = f"{meta['source']} (reference policy)"
    else:
        mode = "deterministic (mean)" if meta["deterministic"] else "stochastic"
    lines = [
        f"# Evaluation of `{meta['source']}`",
        "",
        f"{per_robot(meta['episodes'])}, {mode} actions, seed {meta['seed']}, task {meta['task']}"
        f"{cut_note(meta.get('max_steps', MAX_EPISODE_STEPS))}.",
        "",
        "| set | robots | mean return ± s.e. over robots | skipped |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['robots']} | {v['mean']:.1f} ± {v['se']:.1f} | {v['skipped']} |" for k, v in summary.items()]
    skipped = [r for r in results if "error" in r]
    if skipped:
        lines += ["", "Skipped robots (could not be loaded):", ""]
        lines += [f"- `{r['robot']}` ({r['set']}): {r['error']}" for r in skipped]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    _plots(out, results, run_dir)


def _plots(out: Path, results: list[dict[str, Any]], run_dir: Path | None) -> None:
    plt = pyplot()
    if plt is None:  # plots are optional
        print("matplotlib is not installed: no PNG plots", file=sys.stderr)
        return
    scored = [r for r in results if "error" not in r]
    if scored:
        fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(scored)), 4))
        sets = list(dict.fromkeys(r["set"] for r in scored))
        for k, set_name in enumerate(sets):
            idx = [i for i, r in enumerate(scored) if r["set"] == set_name]
            ax.bar(
                idx,
                [scored[i]["return_mean"] for i in idx],
                yerr=[scored[i]["return_se"] for i in idx],
                color=f"C{k}",
                label=set_name,
            )
        ax.set_xticks(range(len(scored)), [r["robot"] for r in scored], rotation=90, fontsize=6)
        ax.set_ylabel("mean episode return")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "returns.png", dpi=120)
        plt.close(fig)
    progress = run_dir / "progress.csv" if run_dir is not None else None
    if progress is not None and progress.is_file():
        plot_learning_curve(progress, out / "learning_curve.png")


def plot_learning_curve(progress_csv: Path, png: Path) -> None:
    """Training return (mean of the episodes finished in each iteration) against env steps; with the run's
    ``robots.csv`` beside it, the moving mean of the robots' own returns with a band of ± s.e. across robots."""
    import matplotlib.pyplot as plt

    with progress_csv.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("return_mean") and r.get("timesteps")]  # a PPO run's
    if not rows:
        return
    steps = np.array([float(r["timesteps"]) for r in rows])
    ret = np.array([float(r["return_mean"]) for r in rows])
    window = max(1, len(ret) // 20)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, ret, alpha=0.3, label="per iteration")
    band = robot_band(progress_csv.parent / "robots.csv", [int(r["iteration"]) for r in rows], window)
    if band is not None:
        mid, se, n = band
        ax.plot(steps, mid, label=f"robots' moving mean ({window} iterations)")
        ax.fill_between(steps, mid - se, mid + se, alpha=0.25, label=f"± s.e. across {n} robots")
    else:
        smooth = np.convolve(ret, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, label=f"moving mean ({window} iterations)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("training episode return (raw, stochastic)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


def robot_band(robots_csv: Path, iterations: list[int], window: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Per iteration of ``iterations``: the mean across robots of each robot's return over the last ``window``
    iterations (episode-weighted), and its standard error across robots. None without ``robots_csv``.

    :return: (mean (I,), s.e. (I,), number of robots).
    """
    if not robots_csv.is_file():
        return None
    with robots_csv.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("return_mean") not in (None, "", "nan")]
    names = sorted({r["robot"] for r in rows})
    if len(names) < 2:
        return None
    at = {it: k for k, it in enumerate(iterations)}
    col = {name: j for j, name in enumerate(names)}
    total = np.zeros((len(iterations), len(names)))  # Σ return over episodes, per iteration and robot
    count = np.zeros_like(total)
    for r in rows:
        k = at.get(int(r["iteration"]))
        if k is not None and int(r["episodes"]) > 0:
            total[k, col[r["robot"]]] += float(r["return_mean"]) * int(r["episodes"])
            count[k, col[r["robot"]]] += int(r["episodes"])

    def last_window(a: np.ndarray) -> np.ndarray:  # (I, R): sums over the last ``window`` iterations
        c = np.cumsum(a, axis=0)
        c[window:] -= c[:-window].copy()
        return c

    total_w, count_w = last_window(total), last_window(count)
    per_robot = np.full_like(total_w, np.nan)
    np.divide(total_w, count_w, out=per_robot, where=count_w > 0)  # (I, R)
    seen = np.isfinite(per_robot).sum(axis=1)
    with warnings.catch_warnings():  # iterations before any robot finished an episode stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mid = np.nanmean(per_robot, axis=1)
        se = np.nanstd(per_robot, axis=1, ddof=1) / np.sqrt(seen)
    return mid, np.nan_to_num(se), len(names)


# ---------------------------------------------------------------------------------------------- entry
def evaluate(
    source: str | Path,
    robot_sets: list[str],
    config: EvalConfig = EvalConfig(),
    out: str | Path | None = None,
) -> dict[str, dict[str, float]]:
    """Evaluate ``source`` on every robot of ``robot_sets`` and write the reports.

    :param source: checkpoint file, run directory, exported ``.npz`` student, ``random`` or ``zero``.
    :param robot_sets: bundled set names or folders.
    :param config: how (episodes, seeds, workers, ...).
    :param out: output folder (default ``RUN/eval/<sets>-<mode>``, or ``eval/<source>-<sets>-<mode>``).
    :return: the per-set summary.
    :raises ConfigError: missing robot folder, bad numbers. :raises CheckpointError: bad checkpoint.
    """
    config.validate()
    task = config.task or None
    agent = load_agent(source, task, config.seed)  # every check before work starts
    jobs = robot_jobs(
        named_sets(robot_sets, "--robots"),
        config.limit,
        config.episodes,
        config.deterministic,
        config.seed,
        max_steps=config.max_steps,
    )
    run_dir = None
    if str(source) not in REFERENCE_POLICIES:
        ckpt = resolve_checkpoint(source)
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
    mode = "deterministic" if config.deterministic else "stochastic"
    tag = "+".join(Path(s).name for s in robot_sets)
    if out is None:
        out = run_dir / "eval" / f"{tag}-{mode}" if run_dir else Path("eval") / f"{Path(source).name}-{tag}-{mode}"
    out = writable_folder(out)  # before the work: a folder that cannot take the reports would lose it

    bar = Progress(len(jobs), f"evaluating {Path(str(source)).name}", "robot")

    def report(k: int, r: dict[str, Any]) -> None:
        bar.advance(1)
        if "error" in r:
            bar.write(f"[{k}/{len(jobs)}] {r['set']}/{r['robot']}: SKIPPED, cannot be loaded: {r['error']}")
        else:
            bar.write(f"[{k}/{len(jobs)}] {r['set']}/{r['robot']}: {r['return_mean']:.1f}")

    with bar:
        results = evaluate_robots(
            source, jobs, config.workers, task, config.seed, report, config.executor, config.ray_address
        )
    meta = {
        "source": str(source),
        "task": agent.task,
        "episodes": config.episodes,
        "max_steps": config.max_steps,
        "deterministic": config.deterministic,
        "seed": config.seed,
        "sets": list(robot_sets),
        "iteration": agent.iteration,
        "config": config.to_dict(),
    }
    write_reports(out, meta, results, run_dir)
    summary = summarise(results)
    for name, s in summary.items():
        print(f"{name}: {s['mean']:.1f} ± {s['se']:.1f} over {s['robots']} robots ({s['skipped']} skipped)")
    print(f"reports in {out}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.evaluate --help``."""
    parser = ArgumentParser(prog="python -m baselines.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="checkpoint, run directory, exported .npz student, 'random' or 'zero'")
    parser.add_argument(
        "--robots", action="append", required=True, help="robot set or folder, or NAME=SET_OR_DIR (repeatable)"
    )
    parser.add_argument("--out", default=None, help="output folder")
    add_config_arguments(parser, EvalConfig, EVAL_PRESETS)
    args = parser.parse_args(argv)

    def body() -> int:
        summary = evaluate(args.source, args.robots, config_from_args(args, EvalConfig, EVAL_PRESETS), args.out)
        if not any(s["robots"] for s in summary.values()):  # every robot skipped: nothing was measured
            print(
                f"error: no robot of {', '.join(summary)} could be evaluated with {args.source} (each skipped robot's "
                "reason is in the reports)",
                file=sys.stderr,
            )
            return 2
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
