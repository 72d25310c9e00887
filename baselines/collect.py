"""Expert data for distillation: PD robots and stochastic teacher rollouts (docs/networks.md §8, paper §3.3).

``python -m baselines.collect --teacher RUN_OR_CHECKPOINT --out DATA [--preset laptop]``

1. **PD robots.** From each training robot, ``pd_per_robot`` mutants with m ~ U{1,2,3} mutation
   operators (:func:`unimal_gym.morphology.pd_robots`), written to ``DATA/robots/`` in the benchmark
   layout, plus the parents themselves (as in the paper's set of 100 + 900 robots).
2. **Rollouts.** For every robot, ``num_envs`` envs of that robot (env e seeded ``seed + 1000·id + e``)
   run ``steps`` steps each with the teacher's **sampled** actions (σ = 0.9), resetting at the end of
   an episode, with the teacher's frozen observation statistics. Rows are time-major
   (row = t·num_envs + e), so the first k rows are the first k/num_envs steps of every env.

The folder's layout is :mod:`baselines.common.expert_data`'s. Collection resumes robot by robot:
complete shards are kept, half-written temporary folders are discarded, and a folder made by another
teacher, task or config is refused.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from unimal_gym.arguments import ArgumentParser
from unimal_gym.morphology import load, pd_robots, save

from .common import interrupt
from .common.agents import TeacherAgent
from .common.config import ConfigError, add_config_arguments, check_fields, config_from_args, run_cli
from .common.envs import make_robot_envs, map_with_agent, obs_keys, robot_files
from .common.executor import check_executor
from .common.expert_data import (
    DATA_FORMAT,
    NORMALIZER_FILE,
    SHARD_META,
    DataError,
    check_shard,
    complete_shards,
    read_manifest,
    write_manifest,
    write_shard,
)
from .common.files import atomic_write, file_sha256
from .common.interrupt import resume_command
from .common.lock import LOCK_FILE, holds_lock
from .common.progress import Progress
from .common.run_dir import resolve_checkpoint
from .nets import to_torch
from .nets.obs import student_state_index

ARRAYS = ("proprioceptive", "act_mean", "act")
ENV_SEED_STRIDE = 1000  # env e of robot i is seeded seed + 1000·i + e


@dataclass(frozen=True)
class CollectConfig:
    """Everything that defines one expert data set (docs/networks.md §8); saved in ``manifest.json``."""

    robots: str = "train"
    """Parent robots: a bundled set (train, test) or a folder of UNIMAL XML files."""
    robot_limit: int = 0
    """Use only the first N parents (sorted by name); 0 = all."""
    pd_per_robot: int = 9
    """PD mutants per parent (paper: 9, giving 100 + 900 robots); 0 = the parents only."""
    include_parents: bool = True
    """Collect on the parents too (the paper's PD set contains them)."""
    num_envs: int = 16
    """Envs per robot (original example commands: 16)."""
    steps: int = 500
    """Steps per env; transitions per robot = num_envs · steps (paper: 8000 used per robot)."""
    action_std: float = 0.9
    """Std of the teacher's sampled actions that step the envs (docs/networks.md §8: σ = 0.9)."""
    features: str = "full"
    """Stored observation: full (52 per limb, every student; the 35 that are properties of the robot are
    stored once per robot) or student (17 per limb, HyperDistill only)."""
    seed: int = 0
    """Seed of the PD mutations, the env seeds and the action noise."""
    workers: int = 2
    """Parallel processes, one robot at a time each (1 = in this process)."""
    executor: str = "local"
    """Where the robots run: local (worker processes) or ray (Ray tasks; the same data)."""
    ray_address: str = ""
    """With executor=ray: the cluster's address ('' = a new local Ray instance)."""

    @property
    def transitions_per_robot(self) -> int:
        """num_envs · steps."""
        return self.num_envs * self.steps

    KEY_NEUTRAL: ClassVar[dict[str, Any]] = {}
    """Fields added since the stage keys were frozen, each with the value under which it changes nothing
    (see :func:`~baselines.common.config.key_dict`): a field added from now on goes here."""

    RANGES: ClassVar[dict[str, str]] = {
        "robot_limit": "[0, inf)",
        "pd_per_robot": "[0, inf)",
        "num_envs": "[1, inf)",
        "steps": "[1, inf)",
        "action_std": "(0, inf)",
        "seed": "[0, 4294967295]",
        "workers": "[1, inf)",
    }
    """The values each numeric field may take (checked by :func:`~baselines.common.config.check_fields`)."""

    def validate(self) -> CollectConfig:
        """:raises ConfigError: impossible sizes or unknown names. :return: self."""
        check_fields(self)
        if self.features not in ("full", "student"):
            raise ConfigError(f"features={self.features!r} is not allowed; choose full or student")
        if not self.include_parents and self.pd_per_robot == 0:
            raise ConfigError("include_parents=false with pd_per_robot=0 leaves no robot to collect on")
        check_executor(self.executor, self.ray_address)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (``workers``, ``executor`` and ``ray_address`` do not change the data and are
        left out)."""
        data = asdict(self)
        for name in EXECUTION_FIELDS:
            data.pop(name)
        return data


EXECUTION_FIELDS = ("workers", "executor", "ray_address")
"""Fields of :class:`CollectConfig` that say where and how the data is collected, not what it holds."""


COLLECT_PRESETS: dict[str, CollectConfig] = {
    "paper": CollectConfig(),
    "laptop": CollectConfig(robot_limit=16, pd_per_robot=3, num_envs=8, steps=250),
    "smoke": CollectConfig(robot_limit=2, pd_per_robot=1, num_envs=2, steps=16, workers=1),
}
"""``paper``: 100 parents × (1 + 9) robots × 8000 transitions; ``laptop``: 16 × 4 robots × 2000;
``smoke``: 2 × 2 robots × 32 (tests)."""


# ---------------------------------------------------------------------------------------------- robots
def make_pd_robots(config: CollectConfig, out: Path) -> list[Path]:
    """Write the PD robots (and the parents) to ``out`` in the benchmark layout; deterministic in the seed.

    :return: the XML files, parents first then their mutants, in collection order (= robot ids).
    """
    parents = [load(f) for f in robot_files(config.robots, config.robot_limit)]
    mutants = pd_robots(parents, config.pd_per_robot, np.random.default_rng(config.seed)) if config.pd_per_robot else []
    robots = (parents if config.include_parents else []) + [m.robot for m in mutants]
    return [save(robot, out) for robot in robots]


# ---------------------------------------------------------------------------------------------- one robot
def rollout(teacher: TeacherAgent, xml: Path, robot_id: int, config: CollectConfig) -> dict[str, Any]:
    """Run ``num_envs`` envs of one robot for ``steps`` steps with sampled teacher actions.

    :return: arrays ``proprioceptive`` (N, 624 or 204), ``act_mean`` (N, 24), ``act`` (N, 24),
        [``hfield`` (N, 1410)], ``robot`` (context and masks of the robot), and rollout statistics.
    """
    task, n = teacher.task, config.num_envs
    envs = make_robot_envs(task, xml, n, autoreset="same_step")  # an ended env starts its next episode at once
    keys = obs_keys(task)
    obs, _ = envs.reset(seed=config.seed + ENV_SEED_STRIDE * robot_id)  # env e seeded base + e
    noise = np.random.default_rng([config.seed, robot_id])
    keep = student_state_index() if config.features == "student" else slice(None)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in (*ARRAYS, *(("hfield",) if task != "ft" else ()))}
    returns, episode_returns = np.zeros(n), []
    for _ in range(config.steps):
        batch = {k: obs[k] for k in keys}  # the envs' buffers, overwritten by the next step
        normalised = teacher.normalizer.normalise_obs(batch)
        with torch.no_grad():
            mean = teacher.actor(to_torch(normalised)).numpy()  # (n, 24), padded slots 0
        valid = ~batch["act_padding_mask"].astype(bool)
        action = (mean + config.action_std * noise.standard_normal(mean.shape)) * valid
        rows["proprioceptive"].append(normalised["proprioceptive"][:, keep].astype(np.float32))
        rows["act_mean"].append(mean.astype(np.float32))
        rows["act"].append(action.astype(np.float32))
        if "hfield" in rows:
            rows["hfield"].append(batch["hfield"].astype(np.float32))
        envs.step_all(np.clip(action, -1.0, 1.0))
        returns += envs.rewards
        for e in np.flatnonzero(envs.terminations | envs.truncations):
            episode_returns.append(float(returns[e]))
            returns[e] = 0.0
    robot = {
        "context": obs["context"][0].astype(np.float32),
        "obs_padding_mask": obs["obs_padding_mask"][0].astype(bool),
        "act_padding_mask": obs["act_padding_mask"][0].astype(bool),
    }
    envs.close()
    arrays = {k: np.concatenate(v) for k, v in rows.items()}  # time-major: row = t·n + e
    stats = {
        "episodes": len(episode_returns),
        "episode_return_mean": float(np.mean(episode_returns)) if episode_returns else None,
    }
    return {"arrays": arrays, "robot": robot, "stats": stats}


def collect_robot(teacher: TeacherAgent, job: tuple[str, int, str, dict[str, Any]]) -> dict[str, Any]:
    """Roll out one robot and write its shard. :param job: (data folder, robot id, XML path, config)."""
    out, robot_id, xml, config_dict = job
    config = CollectConfig(**config_dict)
    name = Path(xml).stem
    t0 = time.perf_counter()
    try:
        result = rollout(teacher, Path(xml), robot_id, config)
    except Exception as exc:  # a robot that cannot become an env is reported, not fatal
        return {"robot": name, "id": robot_id, "error": f"{type(exc).__name__}: {exc}"}
    write_shard(Path(out), name, robot_id, result["arrays"], result["robot"], result["stats"])
    n = len(result["arrays"]["act_mean"])
    return {"robot": name, "id": robot_id, "transitions": n, "seconds": time.perf_counter() - t0, **result["stats"]}


# ---------------------------------------------------------------------------------------------- the set
def teacher_info(teacher: TeacherAgent) -> dict[str, Any]:
    """Identity of a teacher checkpoint: resolved path, SHA-256, task, architecture, size, iteration."""
    return {
        "path": str(teacher.path.resolve()),
        "sha256": file_sha256(teacher.path),
        "task": teacher.task,
        "arch": teacher.arch,
        "net": teacher.net,
        "iteration": teacher.iteration,
        "norm_clip": teacher.normalizer.clip_obs,
    }


def check_manifest(manifest: dict[str, Any], teacher: dict[str, Any], config: CollectConfig, where: Path) -> None:
    """:raises DataError: the folder's data was made by another teacher, task or config, or in an older format."""
    if manifest["format"] != DATA_FORMAT:
        raise DataError(
            f"{where} was collected in format {manifest['format']}, not {DATA_FORMAT}; distill can read it, but"
            " resuming would mix the two; collect into a new --out"
        )
    if manifest["teacher"]["sha256"] != teacher["sha256"]:
        saved = manifest["teacher"]
        raise DataError(
            f"{where} holds data of teacher {saved['path']} (sha256 {saved['sha256'][:12]}),"
            f" not of {teacher['path']} (sha256 {teacher['sha256'][:12]}); choose another --out"
        )
    if manifest["task"] != teacher["task"]:
        raise DataError(f"{where} holds {manifest['task']} data; the teacher is a {teacher['task']} policy")
    if manifest["config"] != config.to_dict():
        diff = {k: (v, config.to_dict().get(k)) for k, v in manifest["config"].items() if config.to_dict().get(k) != v}
        raise DataError(f"{where} was collected with another config (saved, given): {diff}")


@holds_lock("out", "expert-data collection")
def collect(
    teacher: str | Path,
    out: str | Path,
    config: CollectConfig,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Generate the PD robots and collect the expert data, resuming an interrupted collection.

    :param teacher: PPO checkpoint or run directory.
    :param out: data folder (see the module docstring).
    :param config: what to collect.
    :param progress: called with one line per finished robot, below a bar on a terminal (None = silent).
    :return: the final manifest.
    :raises ConfigError, CheckpointError, DataError: bad input, before any rollout starts.
    """
    config.validate()
    out = Path(out)
    agent = TeacherAgent(resolve_checkpoint(teacher))
    info = teacher_info(agent)
    if (out / "manifest.json").is_file():
        manifest = read_manifest(out)
        check_manifest(manifest, info, config, out)
        xmls = [out / "robots" / "xml" / f"{name}.xml" for name in manifest["robots"]]
        missing = [x for x in xmls if not x.is_file()]
        if missing:
            raise DataError(f"{out}: robot files {[str(m) for m in missing[:3]]} of the manifest are missing")
    else:
        if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):
            raise DataError(f"{out} is not empty and holds no manifest.json; choose a new --out")
        xmls = make_pd_robots(config, out / "robots")
        atomic_write(out / NORMALIZER_FILE, agent.normalizer.save)
        manifest = {
            "format": DATA_FORMAT,
            "task": info["task"],
            "teacher": info,
            "config": config.to_dict(),
            "features": config.features,
            "robots": [x.stem for x in xmls],
            "complete": False,
        }
        write_manifest(out, manifest)

    done = complete_shards(out)
    jobs = [(str(out), i, str(x), asdict(config)) for i, x in enumerate(xmls) if x.stem not in done]
    if progress and done:
        progress(f"resuming: {len(done)} of {len(xmls)} robots already collected")
    errors: dict[str, str] = dict(manifest.get("errors", {}))
    t0 = time.perf_counter()
    bar = Progress(len(xmls), "expert data", "robot", len(done), progress)
    results = map_with_agent(
        collect_robot,
        jobs,
        TeacherAgent,
        (info["path"],),
        config.workers,
        ordered=False,
        executor=config.executor,
        address=config.ray_address,
    )
    for k, r in enumerate(results, 1):
        if "error" in r:
            errors[r["robot"]] = r["error"]
            line = f"SKIPPED: {r['error']}"
        else:
            ret = r["episode_return_mean"]
            line = f"{r['transitions']} transitions, {r['episodes']} episodes" + (
                f", return {ret:.1f}" if ret is not None else ""
            )
        rate = k / (time.perf_counter() - t0)
        eta = (len(jobs) - k) / rate / 60
        bar.advance(1)
        bar.write(f"[{len(done) + k}/{len(xmls)}] {r['robot']}: {line} | eta {eta:.1f} min")
        if k < len(jobs):
            interrupt.check(f"{len(done) + k} of {len(xmls)} robots collected in {out}")
    bar.close()
    counts = {}
    for name in manifest["robots"]:
        if (out / "shards" / name / SHARD_META).is_file():  # shards of earlier runs: their files are hashed again
            counts[name] = int(check_shard(out / "shards" / name, files=name in done)["transitions"])
    manifest.update(counts=counts, errors=errors, transitions=sum(counts.values()), complete=True)
    write_manifest(out, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.collect --help``."""
    parser = ArgumentParser(prog="python -m baselines.collect", description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher PPO checkpoint or run directory")
    parser.add_argument("--out", required=True, help="data folder (an existing one is resumed)")
    add_config_arguments(parser, CollectConfig, COLLECT_PRESETS)
    args = parser.parse_args(argv)

    def body() -> int:
        config = config_from_args(args, CollectConfig, COLLECT_PRESETS)
        manifest = collect(args.teacher, args.out, config)
        print(f"{manifest['transitions']:,} transitions of {len(manifest['counts'])} robots in {args.out}")
        return 0

    return run_cli(body, resume=resume_command("python -m baselines.collect", argv))


if __name__ == "__main__":
    sys.exit(main())
