"""The pipeline's report (step 5 of :func:`~.pipeline.run_pipeline`): parameters and FLOPs of every network,
each policy's returns summarised over seeds, the paired statistics behind the paper's claim (the gate against
zero action, each student against its teacher), ``report.md``, ``results.json`` and the plots (``curves.png``,
``returns.png``, ``teacher_curve.png``). :func:`mean_curve`, :func:`draw_curves` and :func:`save_curves` also
draw the curves of :mod:`.seeds` (across teacher seeds) and :mod:`.grid` (one row per task).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from unimal_gym.machine import machine, machine_line

from ..common.agents import REFERENCE_POLICIES
from ..common.expert_data import read_manifest
from ..common.files import file_sha256, read_csv
from ..common.plotting import pyplot
from ..common.rollouts import cut_note, per_robot
from ..common.stats import compare, gate
from ..evaluate import plot_learning_curve
from ..flops import count, example_observation, format_table, table
from ..nets import ARCHITECTURES, HyperDistill, student_state
from .config import HN_RL, PipelineConfig


def policy_names(teacher_arch: str) -> dict[str, str]:
    """How the report names each policy: the teacher by its architecture, students by theirs."""
    return (
        {"teacher": f"Teacher ({ARCHITECTURES[teacher_arch].label}, PPO)"}
        | {name: spec.label for name, spec in ARCHITECTURES.items()}
        | REFERENCE_NAMES
    )


PAPER_CLAIM = {"train": 0.95, "test": 0.9}  # paper §4: HyperDistill / teacher on training and test robots
REFERENCE_NAMES = {"zero": "Zero action", "random": "Random actions"}


# ---------------------------------------------------------------------------------------------- tables
def student_costs(task: str, actors: dict[str, nn.Module]) -> dict[str, Any]:
    """Parameters and FLOPs per step (docs/networks.md §11) of the networks as trained here, HyperDistill as the
    plain MLP it generates; and the paper-size Table 1 from :func:`baselines.flops.table`."""
    obs = example_observation(task)
    rows = {}
    for label, net in actors.items():
        net.eval()
        if isinstance(net, HyperDistill):
            generated = net.generate(obs["context"][0], obs["obs_padding_mask"][0], obs["act_padding_mask"][0])
            rows[label] = count(generated, (student_state(obs["proprioceptive"]).flatten(1), obs.get("hfield")))
        else:
            rows[label] = count(net, (obs,))
    return {"ours": rows, "paper_sizes": format_table(table(task))}


# ---------------------------------------------------------------------------------------------- statistics
def combined_summary(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """A policy's per-set summary: its evaluation's, or with several seeds the mean over seeds of the
    per-seed means with the standard error across seeds (``seeds`` says how many, ``seed_means`` lists them)."""
    if len(per_seed) == 1:
        return per_seed[0]["summary"]
    out = {}
    for set_name, first in per_seed[0]["summary"].items():
        means = np.array([e["summary"][set_name]["mean"] for e in per_seed])
        se = float(means.std(ddof=1) / np.sqrt(len(means)))
        out[set_name] = {
            **first,
            "mean": float(means.mean()),
            "se": se,
            "seeds": len(means),
            "seed_means": means.tolist(),
        }
    return out


def paired_statistics(evals: dict[str, list[dict[str, Any]]], students: list[str]) -> dict[str, dict[str, Any]]:
    """Per evaluated set: the teacher gate and, where it passes, every student against the teacher.

    Robots are paired by name; a robot that any policy (or seed) could not be evaluated on is left out of
    every comparison on that set. A student with several seeds is compared with every seed's returns.

    :param evals: label → one evaluation per seed (``{"summary", "robots"}``).
    :return: set → ``{"robots", "gate", "students"}``, where ``gate`` is
    :meth:`baselines.common.stats.Gate.to_dict` (or ``None`` with fewer than 2 robots) and ``students``
    maps a student to :meth:`baselines.common.stats.Comparison.to_dict` (empty where the gate fails).
    """
    out: dict[str, dict[str, Any]] = {}
    for set_name in evals["teacher"][0]["summary"]:
        returns = {  # label → per seed: robot → mean return
            label: [
                {r["robot"]: r["return_mean"] for r in e["robots"] if r["set"] == set_name and "error" not in r}
                for e in per_seed
            ]
            for label, per_seed in evals.items()
        }
        robots = sorted(set.intersection(*(set(seed) for per_seed in returns.values() for seed in per_seed)))
        column = {
            label: np.array([[seed[r] for r in robots] for seed in per_seed]) for label, per_seed in returns.items()
        }
        entry: dict[str, Any] = {"robots": len(robots), "gate": None, "students": {}}
        if len(robots) >= 2:
            g = gate(column["teacher"][0], column["zero"][0])
            entry["gate"] = g.to_dict()
            if g.passed:
                entry["students"] = {s: compare(column[s], column["teacher"][0]).to_dict() for s in students}
        out[set_name] = entry
    return out


def per_robot_returns(evals: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """label → set → robot → that robot's mean return per seed (robots an evaluation skipped are absent)."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for label, per_seed in evals.items():
        sets: dict[str, dict[str, list[float]]] = {}
        for evaluation in per_seed:
            for r in evaluation["robots"]:
                if "error" not in r:
                    sets.setdefault(r["set"], {}).setdefault(r["robot"], []).append(float(r["return_mean"]))
        out[label] = sets
    return out


def _claim(statistics: dict[str, dict[str, Any]], names: dict[str, str]) -> list[str]:
    """The report's verdicts: the gate per set, then each student against the teacher where it passed."""
    lines = ["## The paper's claim on this run", ""]
    for set_name, entry in statistics.items():
        g = entry["gate"]
        if g is None:
            lines.append(
                f"- `{set_name}`: untestable on this set (fewer than 2 robots were evaluated by every policy)."
            )
            continue
        gate_text = (
            f"teacher − zero action = {g['teacher_minus_zero']:.1f} ± {g['se']:.1f} (s.e., {g['robots']} robots paired)"
        )
        if not g["passed"]:
            lines.append(
                f"- `{set_name}`: **untestable on this set**: the teacher does not beat zero action by more than two "
                f"standard errors ({gate_text}), so no ratio to it is printed."
            )
            continue
        lines.append(f"- `{set_name}`: gate passed ({gate_text}).")
        for student, c in entry["students"].items():
            lo, hi = c["paired_diff"]["ci95"]
            lines.append(
                f"  - {names[student]}: student − teacher = {c['paired_diff']['mean']:.1f} (95 % bootstrap CI "
                f"[{lo:.1f}, {hi:.1f}]), ratio of means {c['ratio']:.2f}: **{c['verdict']}**."
            )
    lines += [
        "",
        f"The paper reports HyperDistill at ≥ {PAPER_CLAIM['train']} of the teacher on training robots and ≥ "
        f"{PAPER_CLAIM['test']} on unseen ones, and the multi-robot MLP behind on unseen robots.",
    ]
    return lines


# ---------------------------------------------------------------------------------------------- report
def write_report(
    folder: Path,
    config: PipelineConfig,
    teacher: Path,
    data: Path,
    runs: dict[str, list[Path]],
    evals: dict[str, list[dict[str, Any]]],
    costs: dict[str, Any],
    latencies: dict[str, float],
    timings: dict[str, float],
    names: dict[str, str],
    sets: dict[str, str],
    before: dict[str, float | None] | None = None,
    learnt: dict[str, Path] | None = None,
) -> Path:
    """``report.md`` (+ ``results.json``, ``curves.png``, ``returns.png``): students against the teacher.

    :param timings: this run's seconds per stage (0.0: found done).
    :param names: label (``teacher``, student names) → how the report names it (:func:`policy_names`).
    :param sets: evaluation set name → the bundled set or folder it was read from.
    :param before: the stages this run found done → the seconds they took in the run that did them (None: not
        recorded).
    :param learnt: policies learnt by RL beside the teacher (``hn-rl``) → their checkpoints (``learnt`` in
        ``results.json``, as ``teacher``).
    """
    before = before or {}
    machine_info = machine()
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(data)
    curve = _teacher_curve(teacher, folder / "teacher_curve.png")
    summary = {label: combined_summary(per_seed) for label, per_seed in evals.items()}
    set_names = list(summary["teacher"])
    teacher_mean = {s: summary["teacher"][s]["mean"] for s in set_names}
    learners = [*runs, *(label for label in evals if label == HN_RL)]  # compared with the teacher
    statistics = paired_statistics(evals, learners)
    d = config.distill
    curve_sets = ["train", *config.curve_sets]  # the sets the students were evaluated on while distilling
    mode = "deterministic (mean)" if d.eval_deterministic else "stochastic"
    throughput = {}
    for student, seeds in runs.items():
        rows = [row for run in seeds for row in read_csv(run / "progress.csv")]
        if rows:
            throughput[student] = float(np.median([float(r["samples_per_s"]) for r in rows]))
    lines = [
        f"# HyperDistill pipeline report ({config.task.upper()})",
        "",
        f"Teacher `{teacher}`; expert data: {manifest['transitions']:,} transitions of {len(manifest['counts'])} "
        f"robots ({config.collect.num_envs} envs × {config.collect.steps} steps each, σ = {config.collect.action_std});"
        f" students distilled for {d.epochs} epochs on {d.per_robot_samples} transitions per robot "
        f"(batch {d.batch_size}, Adam {d.learning_rate:g}, clip {d.grad_norm}, size '{d.net or 'paper'}').",
        f"Evaluation: {per_robot(d.eval_episodes)}{cut_note(d.eval_max_steps)}, {mode} actions, "
        f"seed {d.eval_seed}, first "
        f"{d.eval_limit or 'all'} robots of each set: " + "; ".join(f"`{k}` = `{v}`" for k, v in sets.items()) + ".",
        "",
        "| policy | "
        + " | ".join(f"{k} return ± s.e." for k in set_names)
        + " | "
        + " | ".join(f"{k} / teacher" for k in set_names)
        + " | params | FLOPs | µs/step (batch 1, 1 thread) | "
        "distill samples/s |",
        "|---|" + "---|" * (2 * len(set_names) + 4),
    ]
    if config.seeds > 1:
        lines.insert(
            -3, f"Students: mean ± s.e. across {config.seeds} distillation seeds; other rows: ± s.e. over robots."
        )
        lines.insert(-3, "")
    for label in ("teacher", *learners, *REFERENCE_POLICIES):
        s = summary[label]
        # a ratio to the teacher only where it beats zero action (the gate): otherwise it means nothing
        ratio = {
            k: f"{s[k]['mean'] / teacher_mean[k]:.2f}" if _gate_passed(statistics, k) else "n/a" for k in set_names
        }
        cost = costs["ours"].get(label)
        params, flops = (f"{cost.params:,}", f"{cost.flops:,}") if cost else ("-", "-")
        lat = f"{latencies[label] * 1e6:.1f}" if label in latencies else "-"
        thr = f"{throughput[label]:,.0f}" if label in throughput else "-"
        returns = " | ".join(f"{s[k]['mean']:.1f} ± {s[k]['se']:.1f}" for k in set_names)
        ratios = " | ".join(ratio[k] for k in set_names)
        lines.append(f"| {names[label]} | {returns} | {ratios} | {params} | {flops} | {lat} | {thr} |")
    lines += ["", *_claim(statistics, names), ""]
    lines += [
        "Parameters and FLOPs above are of the networks as trained in this run (HyperDistill: the plain MLP it",
        "generates per robot). At the paper's sizes (`python -m baselines.flops`, docs/networks.md §11):",
        "",
        "```",
        costs["paper_sizes"],
        "```",
        "",
        f"Figures: `curves.png` (student return on {', '.join(curve_sets)} "
        + (f"every {d.eval_every or d.epochs} epochs of distillation" if d.evaluate else "after distillation only")
        + f", band ± s.e. {'across seeds' if config.seeds > 1 else 'over robots'}; teacher and zero action as "
        "lines: the paper's Figures 2–3), `returns.png` (final returns)"
        + (", `teacher_curve.png` (the teacher's PPO training return, ± s.e. across its robots)." if curve else "."),
        "",
        "Stage times (s; a student's is the sum over its seeds, which may overlap on Ray; 0.0 = done before): "
        + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()),
        *(
            [
                "Stages done before this run, as long as they took in the run that did them (s): "
                + ", ".join(f"{k} {'not recorded' if v is None else f'{v:.1f}'}" for k, v in before.items())
            ]
            if before
            else []
        ),
        f"Machine of this run's stages and latencies: {machine_line(machine_info)}.",
    ]
    report = folder / "report.md"
    report.write_text("\n".join(lines) + "\n")
    results = {
        "task": config.task,
        "out": str(folder.parent),  # the run folder as given: what publish writes as OUT
        "teacher": str(teacher),
        "teacher_sha256": file_sha256(teacher),  # tells this run's teacher from another draw of its seed
        "learnt": {label: str(path) for label, path in (learnt or {}).items()},
        "summary": summary,
        "sets": statistics,
        "returns": per_robot_returns(evals),
        "costs": {k: asdict(v) for k, v in costs["ours"].items()},
        "latency_s": latencies,
        "distill_samples_per_s": throughput,
        "timings_s": timings,
        "done_before_s": before,
        "machine": machine_info,
        "runs": {s: [str(run.relative_to(folder.parent)) for run in seeds] for s, seeds in runs.items()},
        "curve_sets": curve_sets,
    }
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    _plots(folder, runs, summary, teacher_mean, names, curve_sets)
    return report


def _teacher_curve(teacher: Path, png: Path) -> bool:
    """The teacher's training curve from its run's ``progress.csv`` (when it is there and matplotlib is)."""
    progress = teacher.parent.parent / "progress.csv"
    if not progress.is_file():
        return False
    if pyplot() is None:
        return False
    plot_learning_curve(progress, png)
    return png.is_file()


def _gate_passed(statistics: dict[str, dict[str, Any]], set_name: str) -> bool:
    gate_ = statistics.get(set_name, {}).get("gate")
    return bool(gate_ and gate_["passed"])


def mean_curve(folders: list[Path], split: str) -> dict[str, Any] | None:
    """The distillation curve on set ``split`` of runs that differ in their seed: ``{"epochs", "mean",
    "se", "se_over"}``, the mean over the runs at each evaluated epoch and its standard error across them
    (``se_over`` ``"runs"``), or for one run its standard error over robots (``"robots"``); None when a run
    has no curve on that set or the runs were evaluated at other epochs."""
    curves = [[r for r in read_csv(run / "eval.csv") if r["set"] == split] for run in folders]
    epochs = [[int(r["epoch"]) for r in c] for c in curves]
    if not folders or not all(curves) or any(e != epochs[0] for e in epochs):
        return None
    means = np.array([[float(r["mean"]) for r in c] for c in curves])  # (runs, evaluations)
    if len(folders) > 1:
        se, over = means.std(0, ddof=1) / np.sqrt(len(folders)), "runs"
    else:
        se, over = np.array([float(r["se"]) for r in curves[0]]), "robots"
    return {"epochs": epochs[0], "mean": means.mean(0).tolist(), "se": se.tolist(), "se_over": over}


def draw_curves(
    axes: Any,
    runs: dict[str, list[Path]],
    summary: dict[str, Any],
    names: dict[str, str],
    sets: Sequence[str],
    legend: bool = True,
    title: str = "",
) -> None:
    """The paper's Figures 2–3, one axes per set: each student's return during distillation on the sets it
    was evaluated on while distilling (``train`` and the curve sets: mean over seeds with a band of ± s.e.
    across them, or with one seed ± s.e. over robots; :func:`mean_curve`), the teacher's and the zero-action
    policy's final return on the same robots as lines.

    :param summary: policy → set → ``{"mean", ...}``: the final returns (the teacher's and zero action's lines).
    :param sets: the sets the students were evaluated on while distilling, one axes each.
    :param legend: put a legend on the last axes with something drawn.
    :param title: before each axes' title (``"<set> robots"``).
    """
    for ax, split in zip(axes, sets, strict=True):
        for k, (student, seeds) in enumerate(runs.items()):
            curve = mean_curve(seeds, split)
            if curve is not None:
                ax.plot(curve["epochs"], curve["mean"], "o-", color=f"C{k}", label=names[student])
                mid, band = np.array(curve["mean"]), np.nan_to_num(np.array(curve["se"]))
                ax.fill_between(curve["epochs"], mid - band, mid + band, color=f"C{k}", alpha=0.15)
            elif split in summary[student]:  # no curve: the final point only, at the last epoch
                last = json.loads((seeds[0] / "config.json").read_text())["epochs"]
                ax.plot([last], [summary[student][split]["mean"]], "o", color=f"C{k}", label=names[student])
        for label, style in (("teacher", dict(color="k", ls="--")), ("zero", dict(color="0.5", ls=":"))):
            if split in summary.get(label, {}):
                ax.axhline(summary[label][split]["mean"], label=names[label], **style)
        ax.set_xlabel("distillation epoch")
        ax.set_title(f"{title}{split} robots")
    axes[0].set_ylabel("mean episode return")
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if legend and drawn:
        drawn[-1].legend(fontsize=8)


def save_curves(
    path: Path, runs: dict[str, list[Path]], summary: dict[str, Any], names: dict[str, str], sets: Sequence[str]
) -> bool:
    """:func:`draw_curves` on a row of axes, saved to ``path``. :return: written (matplotlib is optional)."""
    plt = pyplot()
    if plt is None:
        return False
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), sharey=True, squeeze=False)
    draw_curves(axes[0], runs, summary, names, sets)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _plots(
    folder: Path,
    runs: dict[str, list[Path]],
    summary: dict[str, Any],
    teacher: dict[str, float],
    names: dict[str, str],
    curve_sets: Sequence[str],
) -> None:
    """``curves.png`` (:func:`save_curves`); ``returns.png``: every policy's final return on every set."""
    if not save_curves(folder / "curves.png", runs, summary, names, curve_sets):  # plots are optional
        return
    plt = pyplot()
    labels = list(summary)
    fig, ax = plt.subplots(figsize=(8, 4))
    splits = list(teacher)
    width = 0.8 / len(splits)
    for j, split in enumerate(splits):
        ax.bar(
            np.arange(len(labels)) + (j - (len(splits) - 1) / 2) * width,
            [summary[lb][split]["mean"] for lb in labels],
            width,
            yerr=[summary[lb][split]["se"] for lb in labels],
            label=f"{split} robots",
        )
    ax.set_xticks(range(len(labels)), [names[lb] for lb in labels], rotation=15, fontsize=8)
    ax.set_ylabel("mean episode return")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "returns.png", dpi=120)
    plt.close(fig)
