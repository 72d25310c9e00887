"""Evaluation harness: per-robot mean return of a policy on robot sets (MODELS.md §10, ENV.md §7).

``python -m baselines.evaluate RUN_OR_CHECKPOINT --robots test [--robots train] [--episodes 16] [--deterministic]``

For every robot: ``episodes`` envs of that robot (seeds seed + 0…episodes−1), one episode each (up to
the 1000-step limit, fall termination on), the training run's observation statistics frozen, no reward
normalisation; the robot's score is the mean undiscounted return. Robots run in parallel processes.
The source is a PPO checkpoint (or a run directory: its ``final.pt``, else its latest checkpoint), or
``random`` / ``zero`` (reference policies: uniform actions in [−1, 1] / all-zero actions). Another kind
of policy (a distilled or an exported numpy student) only needs a loader in :func:`load_agent`
returning an object with ``act``.

Output folder (``--out``; default ``RUN/eval/<sets>-<mode>``): ``results.json`` and ``results.csv`` (one
row per robot), ``summary.md`` (mean ± standard error over the robots of each set), ``returns.png``
(per-robot returns) and ``learning_curve.png`` (from the run's ``progress.csv``) when matplotlib is
installed. A robot that cannot be loaded is reported by name, listed as skipped, and not scored.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from .config import ENVS, ConfigError, PPOConfig
from .nets import to_torch
from .nets.obs import ACTION_DIM
from .ppo import NORM_KEYS, obs_keys, robot_files
from .runs import CheckpointError, load_checkpoint, resolve_checkpoint
from .sb3_policy import build_actor_critic

REFERENCE_POLICIES = ("random", "zero")


class Agent(Protocol):
    """Anything that acts on a batch of raw observations of one robot."""

    task: str

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """:param obs: batched raw observation dict ((B, 624), …). :return: (B, 24) actions."""
        ...


class CheckpointAgent:
    """A PPO checkpoint's actor with its frozen ``proprioceptive`` statistics.

    :param path: checkpoint file.
    :raises CheckpointError: unreadable file, or weights that do not fit the network of its config.
    """

    def __init__(self, path: str | Path) -> None:
        state = load_checkpoint(path)
        self.config = PPOConfig.from_dict(state["config"])
        self.task = self.config.env
        self.iteration = int(state["iteration"])
        self.ac = build_actor_critic(self.config.model, self.task, self.config.net, self.config.action_std)
        weights = {k.removeprefix("ac."): v for k, v in state["policy"].items() if k.startswith("ac.")}
        try:
            self.ac.load_state_dict(weights)
        except RuntimeError as exc:
            head = " ".join(str(exc).strip().splitlines()[:3])
            raise CheckpointError(f"checkpoint {path}: weights do not fit its network: {head}") from None
        self.ac.eval()
        self.stats = {k: (v["mean"].numpy(), v["var"].numpy()) for k, v in state["obs_rms"].items()}
        for key, (mean, _) in self.stats.items():
            if mean.shape != (624,):
                raise CheckpointError(f"checkpoint {path}: '{key}' statistics have shape {mean.shape}, expected (624,)")

    def normalise(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Frozen VecNormalize: clip((o − μ)/√(σ² + 1e-8), ±clip) on ``proprioceptive`` only (ENV.md §3.7)."""
        out = dict(obs)
        for key in NORM_KEYS:
            mean, var = self.stats[key]
            out[key] = np.clip((obs[key] - mean) / np.sqrt(var + 1e-8), -self.config.norm_clip, self.config.norm_clip)
        return out

    @torch.no_grad()
    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        dist = self.ac.distribution(to_torch(self.normalise(obs)))
        return (dist.mode() if deterministic else dist.sample()).numpy()


@dataclass
class ReferenceAgent:
    """``random``: uniform actions in [−1, 1]; ``zero``: all-zero actions.

    :param kind: ``"random"`` or ``"zero"``.
    :param task: the task it is evaluated on.
    :param seed: seed of the random actions.
    """

    kind: str
    task: str
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        n = len(obs["act_padding_mask"])
        if self.kind == "zero":
            return np.zeros((n, ACTION_DIM))
        return self.rng.uniform(-1.0, 1.0, (n, ACTION_DIM))


def load_agent(source: str, task: str | None = None, seed: int = 0) -> Agent:
    """The policy named by ``source``: ``random``, ``zero``, a checkpoint file or a run directory.

    :param task: the task for reference policies (checkpoints carry their own).
    :raises CheckpointError: nothing usable at ``source``.
    """
    if source in REFERENCE_POLICIES:
        return ReferenceAgent(source, task or "ft", seed)
    return CheckpointAgent(resolve_checkpoint(source))


# ---------------------------------------------------------------------------------------------- one robot
_AGENT: Agent | None = None


def set_worker_agent(agent: Agent) -> None:
    """Install the agent that :func:`evaluate_robot` uses in this process (a pool initializer's job)."""
    global _AGENT
    torch.set_num_threads(1)
    _AGENT = agent


def _init_worker(source: str, task: str | None, seed: int) -> None:
    set_worker_agent(load_agent(source, task, seed))


def evaluate_robot(job: tuple[str, str, int, bool, int]) -> dict[str, Any]:
    """:func:`run_robot` with the agent installed by :func:`set_worker_agent` (for process pools)."""
    if _AGENT is None:
        raise RuntimeError("evaluate_robot needs an agent: call set_worker_agent first (pool initializer)")
    return run_robot(_AGENT, job)


def run_robot(agent: Agent, job: tuple[str, str, int, bool, int]) -> dict[str, Any]:
    """Run ``episodes`` single-episode envs of one robot with ``agent``.

    :param job: (set name, robot XML path, episodes, deterministic, seed).
    :return: ``{"set", "robot", "returns", "lengths"}``, or ``{"set", "robot", "error"}`` if the robot
        cannot be loaded.
    """
    set_name, path, episodes, deterministic, seed = job
    name = Path(path).stem
    try:
        envs = [
            gym.wrappers.FilterObservation(gym.make(ENVS[agent.task], robot=path), obs_keys(agent.task))
            for _ in range(episodes)
        ]
    except Exception as exc:  # any reason a robot file cannot become an env is reported, not raised
        return {"set": set_name, "robot": name, "error": f"{type(exc).__name__}: {exc}"}
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=int)
    active = list(range(episodes))
    while active:
        batch = {k: np.stack([obs[i][k] for i in active]) for k in obs[active[0]]}
        actions = agent.act(batch, deterministic)
        still = []
        for i, action in zip(active, actions, strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(np.clip(action, -1.0, 1.0))
            returns[i] += reward
            lengths[i] += 1
            if not (terminated or truncated):
                still.append(i)
        active = still
    for env in envs:
        env.close()
    return {"set": set_name, "robot": name, "returns": returns.tolist(), "lengths": lengths.tolist()}


# ---------------------------------------------------------------------------------------------- reports
def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per set: number of robots, mean over robots of the per-robot mean return, its standard error."""
    out: dict[str, dict[str, float]] = {}
    for set_name in dict.fromkeys(r["set"] for r in results):
        means = [r["return_mean"] for r in results if r["set"] == set_name and "error" not in r]
        skipped = sum(1 for r in results if r["set"] == set_name and "error" in r)
        se = float(np.std(means, ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
        out[set_name] = {
            "robots": len(means),
            "skipped": skipped,
            "mean": float(np.mean(means)) if means else float("nan"),
            "se": se,
        }
    return out


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
        f"{meta['episodes']} episodes per robot, {mode} actions, seed {meta['seed']}, task {meta['task']}.",
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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional
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
    """Training return (mean of the episodes finished in each iteration) against env steps."""
    import matplotlib.pyplot as plt

    with progress_csv.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["return_mean"]]
    if not rows:
        return
    steps = np.array([float(r["timesteps"]) for r in rows])
    ret = np.array([float(r["return_mean"]) for r in rows])
    window = max(1, len(ret) // 20)
    smooth = np.convolve(ret, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, ret, alpha=0.3, label="per iteration")
    ax.plot(steps[window - 1 :], smooth, label=f"moving mean ({window} iterations)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("training episode return (raw)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- entry
def evaluate(
    source: str,
    robot_sets: list[str],
    out: str | Path | None = None,
    episodes: int = 16,
    deterministic: bool = False,
    seed: int = 1409,
    limit: int = 0,
    workers: int = 2,
    task: str | None = None,
) -> dict[str, dict[str, float]]:
    """Evaluate ``source`` on every robot of ``robot_sets`` and write the reports.

    :param source: checkpoint file, run directory, ``random`` or ``zero``.
    :param robot_sets: bundled set names or folders.
    :param out: output folder (default ``RUN/eval/<sets>-<mode>``, or ``eval/<source>-<sets>-<mode>``).
    :param episodes: episodes (envs) per robot.
    :param deterministic: act with the mean instead of sampling.
    :param seed: env i of a robot is seeded ``seed + i``.
    :param limit: first ``limit`` robots of each set; 0 = all.
    :param workers: parallel processes.
    :param task: task of a reference policy (ft, vt, obstacle); checkpoints carry theirs.
    :return: the per-set summary.
    :raises ConfigError: missing robot folder, bad numbers. :raises CheckpointError: bad checkpoint.
    """
    if episodes < 1 or workers < 1 or limit < 0:
        raise ConfigError("--episodes and --workers must be at least 1, --limit at least 0")
    if task is not None and task not in ENVS:
        raise ConfigError(f"--env {task!r} is not allowed; choose one of {', '.join(ENVS)}")
    agent = load_agent(source, task, seed)  # every check before work starts
    jobs = []
    for spec in robot_sets:
        jobs += [(Path(spec).name, str(f), episodes, deterministic, seed) for f in robot_files(spec, limit)]
    run_dir = None
    if source not in REFERENCE_POLICIES:
        ckpt = resolve_checkpoint(source)
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
    mode = "deterministic" if deterministic else "stochastic"
    tag = "+".join(Path(s).name for s in robot_sets)
    if out is None:
        out = run_dir / "eval" / f"{tag}-{mode}" if run_dir else Path("eval") / f"{Path(source).name}-{tag}-{mode}"
    out = Path(out)

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(source, task, seed)) as pool:
        results = []
        for k, r in enumerate(pool.imap(evaluate_robot, jobs), 1):
            if "error" in r:
                print(f"[{k}/{len(jobs)}] {r['set']}/{r['robot']}: SKIPPED, cannot be loaded: {r['error']}", flush=True)
            else:
                ret = np.asarray(r["returns"])
                r["return_mean"] = float(ret.mean())
                r["return_se"] = float(ret.std(ddof=1) / np.sqrt(len(ret))) if len(ret) > 1 else float("nan")
                print(f"[{k}/{len(jobs)}] {r['set']}/{r['robot']}: {r['return_mean']:.1f}", flush=True)
            results.append(r)
    meta = {
        "source": str(source),
        "task": agent.task,
        "episodes": episodes,
        "deterministic": deterministic,
        "seed": seed,
        "sets": list(robot_sets),
        "iteration": getattr(agent, "iteration", None),
    }
    write_reports(out, meta, results, run_dir)
    summary = summarise(results)
    for name, s in summary.items():
        print(f"{name}: {s['mean']:.1f} ± {s['se']:.1f} over {s['robots']} robots ({s['skipped']} skipped)")
    print(f"reports in {out}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.evaluate --help``."""
    parser = argparse.ArgumentParser(prog="python -m baselines.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="checkpoint file, run directory, 'random' or 'zero'")
    parser.add_argument("--robots", action="append", required=True, help="robot set or folder (repeatable)")
    parser.add_argument("--episodes", type=int, default=16, help="episodes (envs) per robot (default 16)")
    parser.add_argument("--deterministic", action="store_true", help="act with the mean action")
    parser.add_argument("--seed", type=int, default=1409, help="env i of a robot gets seed + i (default 1409)")
    parser.add_argument("--limit", type=int, default=0, help="first N robots of each set (default all)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--env", default=None, help="task of random/zero: ft, vt or obstacle (default ft)")
    parser.add_argument("--out", default=None, help="output folder")
    args = parser.parse_args(argv)
    try:
        evaluate(
            args.source,
            args.robots,
            args.out,
            args.episodes,
            args.deterministic,
            args.seed,
            args.limit,
            args.workers,
            args.env,
        )
    except (ConfigError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
