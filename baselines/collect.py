"""Expert data for distillation: PD robots and stochastic teacher rollouts (MODELS.md §8, paper §3.3).

``python -m baselines.collect --teacher RUN_OR_CHECKPOINT --out DATA [--preset laptop]``

1. **PD robots.** From each training robot, ``pd_per_robot`` mutants with m ~ U{1,2,3} mutation
   operators (:func:`unimal_gym.morphology.pd_robots`), written to ``DATA/robots/`` in the benchmark
   layout, plus the parents themselves (as in the paper's set of 100 + 900 robots).
2. **Rollouts.** For every robot, ``num_envs`` envs of that robot (env e seeded ``seed + 1000·id + e``)
   run ``steps`` steps each with the teacher's **sampled** actions (σ = 0.9), resetting at the end of
   an episode, with the teacher's frozen observation statistics. Rows are time-major
   (row = t·num_envs + e), so the first k rows are the first k/num_envs steps of every env.

Layout of ``DATA``::

    manifest.json          format, task, teacher (path, sha256, model, iteration), config, robots (id = index),
                           per-robot transition counts once complete
    obs_rms.npz            the teacher's proprioceptive statistics: mean, var (624,), count, clip
    robots/xml, metadata   the PD robots (and parents) collected on
    shards/<robot>/        one folder per robot, written to a temporary name and renamed when complete:
        proprioceptive.npy   (N, 624) float32, normalised with obs_rms and clipped (``features=full``), or
                             (N, 204) the 17 student features per limb (``features=student``)
        act_mean.npy         (N, 24) float32 teacher mean μ (the distillation target)
        act.npy              (N, 24) float32 the sampled action that stepped the env
        hfield.npy           (N, 1410) float32 raw terrain heights (VT, Obstacle)
        robot.npz            the robot's context (636,), obs_padding_mask (12,), act_padding_mask (24,):
                             per robot, not per transition (every transition of a shard is that robot)
        meta.json            robot, id, transitions, episodes and returns of the rollouts

A shard is one robot, so the robot id of a transition is its shard's id. Distillation memory-maps the
``.npy`` files and never loads the whole set (the paper's 1000 × 8000 transitions are 20 GB at 624
features, 6.5 GB with ``features=student``). Collection resumes robot by robot: complete shards are
kept, half-written temporary folders are discarded, and a folder made by another teacher, task or
config is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import unimal_gym  # noqa: F401  (registers the environments)
from unimal_gym.morphology import load, pd_robots, save

from .config import ENVS, ConfigError, add_config_arguments, config_from_args
from .evaluate import CheckpointAgent
from .nets import to_torch
from .nets.obs import student_state_index
from .ppo import obs_keys, robot_files
from .runs import CheckpointError, atomic_write, resolve_checkpoint

DATA_FORMAT = "unimal-expert-data-1"
ARRAYS = ("proprioceptive", "act_mean", "act")
ENV_SEED_STRIDE = 1000  # env e of robot i is seeded seed + 1000·i + e


class DataError(RuntimeError):
    """An expert-data folder that cannot be used: missing or broken files, or made by another teacher or task."""


@dataclass(frozen=True)
class CollectConfig:
    """Everything that defines one expert data set (MODELS.md §8); saved in ``manifest.json``."""

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
    """Std of the teacher's sampled actions that step the envs (MODELS.md §8: σ = 0.9)."""
    features: str = "full"
    """Stored observation: full (52 per limb, every student) or student (17 per limb, HyperDistill only)."""
    seed: int = 0
    """Seed of the PD mutations, the env seeds and the action noise."""
    workers: int = 2
    """Parallel processes, one robot at a time each (1 = in this process)."""

    @property
    def transitions_per_robot(self) -> int:
        """num_envs · steps."""
        return self.num_envs * self.steps

    def validate(self) -> CollectConfig:
        """:raises ConfigError: impossible sizes or unknown names. :return: self."""
        if self.features not in ("full", "student"):
            raise ConfigError(f"features={self.features!r} is not allowed; choose full or student")
        if min(self.num_envs, self.steps, self.workers) < 1 or self.robot_limit < 0 or self.pd_per_robot < 0:
            raise ConfigError("num_envs, steps and workers must be ≥ 1; robot_limit and pd_per_robot ≥ 0")
        if not self.include_parents and self.pd_per_robot == 0:
            raise ConfigError("include_parents=false with pd_per_robot=0 leaves no robot to collect on")
        if self.action_std <= 0:
            raise ConfigError("action_std must be > 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the ``workers`` count does not change the data and is left out)."""
        data = asdict(self)
        data.pop("workers")
        return data


COLLECT_PRESETS: dict[str, CollectConfig] = {
    "paper": CollectConfig(),
    "laptop": CollectConfig(robot_limit=16, pd_per_robot=3, num_envs=8, steps=250),
    "smoke": CollectConfig(robot_limit=2, pd_per_robot=1, num_envs=2, steps=16, workers=1),
}
"""``paper``: 100 parents × (1 + 9) robots × 8000 transitions; ``laptop``: 16 × 4 robots × 2000;
``smoke``: 2 × 2 robots × 32 (tests)."""


# ---------------------------------------------------------------------------------------------- helpers
def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1) + "\n"))


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write an ``.npz`` atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def make_pd_robots(config: CollectConfig, out: Path) -> list[Path]:
    """Write the PD robots (and the parents) to ``out`` in the benchmark layout; deterministic in the seed.

    :return: the XML files, parents first then their mutants, in collection order (= robot ids).
    """
    parents = [load(f) for f in robot_files(config.robots, config.robot_limit)]
    mutants = pd_robots(parents, config.pd_per_robot, np.random.default_rng(config.seed)) if config.pd_per_robot else []
    robots = (parents if config.include_parents else []) + [m.robot for m in mutants]
    return [save(robot, out) for robot in robots]


# ---------------------------------------------------------------------------------------------- one robot
_TEACHER: CheckpointAgent | None = None


def _init_worker(teacher: str) -> None:
    global _TEACHER
    torch.set_num_threads(1)
    _TEACHER = CheckpointAgent(teacher)


def rollout(teacher: CheckpointAgent, xml: Path, robot_id: int, config: CollectConfig) -> dict[str, Any]:
    """Run ``num_envs`` envs of one robot for ``steps`` steps with sampled teacher actions.

    :return: arrays ``proprioceptive`` (N, 624 or 204), ``act_mean`` (N, 24), ``act`` (N, 24),
        [``hfield`` (N, 1410)], ``robot`` (context and masks of the robot), and rollout statistics.
    """
    task, n = teacher.task, config.num_envs
    envs = [gym.wrappers.FilterObservation(gym.make(ENVS[task], robot=str(xml)), obs_keys(task)) for _ in range(n)]
    base = config.seed + ENV_SEED_STRIDE * robot_id
    obs = [env.reset(seed=base + e)[0] for e, env in enumerate(envs)]
    noise = np.random.default_rng([config.seed, robot_id])
    keep = student_state_index() if config.features == "student" else slice(None)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in (*ARRAYS, *(("hfield",) if task != "ft" else ()))}
    returns, episode_returns = np.zeros(n), []
    for _ in range(config.steps):
        batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
        normalised = teacher.normalise(batch)
        with torch.no_grad():
            mean = teacher.ac.actor(to_torch(normalised)).numpy()  # (n, 24), padded slots 0
        valid = ~batch["act_padding_mask"].astype(bool)
        action = (mean + config.action_std * noise.standard_normal(mean.shape)) * valid
        rows["proprioceptive"].append(normalised["proprioceptive"][:, keep].astype(np.float32))
        rows["act_mean"].append(mean.astype(np.float32))
        rows["act"].append(action.astype(np.float32))
        if "hfield" in rows:
            rows["hfield"].append(batch["hfield"].astype(np.float32))
        for e, env in enumerate(envs):
            obs[e], reward, terminated, truncated, _ = env.step(np.clip(action[e], -1.0, 1.0))
            returns[e] += reward
            if terminated or truncated:
                episode_returns.append(float(returns[e]))
                returns[e] = 0.0
                obs[e] = env.reset()[0]
    for env in envs:
        env.close()
    first = obs[0]
    robot = {
        "context": first["context"].astype(np.float32),
        "obs_padding_mask": first["obs_padding_mask"].astype(bool),
        "act_padding_mask": first["act_padding_mask"].astype(bool),
    }
    arrays = {k: np.concatenate(v) for k, v in rows.items()}  # time-major: row = t·n + e
    stats = {
        "episodes": len(episode_returns),
        "episode_return_mean": float(np.mean(episode_returns)) if episode_returns else None,
    }
    return {"arrays": arrays, "robot": robot, "stats": stats}


def write_shard(out: Path, name: str, robot_id: int, result: dict[str, Any]) -> Path:
    """Write one robot's shard to a temporary folder and rename it to ``shards/<name>`` (atomic)."""
    shards = out / "shards"
    tmp = shards / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for key, array in result["arrays"].items():
        np.save(tmp / f"{key}.npy", array)
    np.savez(tmp / "robot.npz", **result["robot"])
    n = len(result["arrays"]["act_mean"])
    (tmp / "meta.json").write_text(json.dumps({"robot": name, "id": robot_id, "transitions": n, **result["stats"]}))
    final = shards / name
    tmp.rename(final)
    return final


def collect_robot(job: tuple[str, int, str, dict[str, Any]]) -> dict[str, Any]:
    """Worker entry: roll out one robot and write its shard. :param job: (out dir, id, XML path, config)."""
    out, robot_id, xml, config_dict = job
    teacher = _TEACHER
    assert teacher is not None, "collect_robot runs after _init_worker"
    config = CollectConfig(**config_dict)
    name = Path(xml).stem
    t0 = time.perf_counter()
    try:
        result = rollout(teacher, Path(xml), robot_id, config)
    except Exception as exc:  # a robot that cannot become an env is reported, not fatal
        return {"robot": name, "id": robot_id, "error": f"{type(exc).__name__}: {exc}"}
    write_shard(Path(out), name, robot_id, result)
    n = len(result["arrays"]["act_mean"])
    return {"robot": name, "id": robot_id, "transitions": n, "seconds": time.perf_counter() - t0, **result["stats"]}


# ---------------------------------------------------------------------------------------------- the set
def teacher_info(teacher: str | Path) -> dict[str, Any]:
    """Identity of a teacher checkpoint: resolved path, SHA-256, task, model, net, iteration."""
    path = resolve_checkpoint(teacher)
    agent = CheckpointAgent(path)
    return {
        "path": str(path.resolve()),
        "sha256": file_sha256(path),
        "env": agent.task,
        "model": agent.config.model,
        "net": agent.config.net,
        "iteration": agent.iteration,
        "norm_clip": agent.config.norm_clip,
    }


def check_manifest(manifest: dict[str, Any], teacher: dict[str, Any], config: CollectConfig, where: Path) -> None:
    """:raises DataError: the folder's data was made by another teacher, task or config."""
    if manifest.get("format") != DATA_FORMAT:
        raise DataError(f"{where} is not an expert-data folder (format {manifest.get('format')!r})")
    if manifest["teacher"]["sha256"] != teacher["sha256"]:
        saved = manifest["teacher"]
        raise DataError(
            f"{where} holds data of teacher {saved['path']} (sha256 {saved['sha256'][:12]}),"
            f" not of {teacher['path']} (sha256 {teacher['sha256'][:12]}); choose another --out"
        )
    if manifest["env"] != teacher["env"]:
        raise DataError(f"{where} holds {manifest['env']} data; the teacher is a {teacher['env']} policy")
    if manifest["config"] != config.to_dict():
        diff = {k: (v, config.to_dict().get(k)) for k, v in manifest["config"].items() if config.to_dict().get(k) != v}
        raise DataError(f"{where} was collected with another config (saved, given): {diff}")


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
    :param progress: called with one line per finished robot (None = silent).
    :return: the final manifest.
    :raises ConfigError, CheckpointError, DataError: bad input, before any rollout starts.
    """
    config.validate()
    out = Path(out)
    info = teacher_info(teacher)
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        check_manifest(manifest, info, config, out)
        xmls = [out / "robots" / "xml" / f"{name}.xml" for name in manifest["robots"]]
        missing = [x for x in xmls if not x.is_file()]
        if missing:
            raise DataError(f"{out}: robot files {[str(m) for m in missing[:3]]} of the manifest are missing")
    else:
        if out.exists() and any(out.iterdir()):
            raise DataError(f"{out} is not empty and holds no manifest.json; choose a new --out")
        xmls = make_pd_robots(config, out / "robots")
        state = CheckpointAgent(info["path"])
        mean, var = state.stats["proprioceptive"]
        save_npz(out / "obs_rms.npz", mean=mean, var=var, clip=np.float64(info["norm_clip"]))
        manifest = {
            "format": DATA_FORMAT,
            "env": info["env"],
            "teacher": info,
            "config": config.to_dict(),
            "features": config.features,
            "robots": [x.stem for x in xmls],
            "complete": False,
        }
        write_json(manifest_path, manifest)

    shards = out / "shards"
    for tmp in shards.glob(".tmp-*"):  # half-written by an interrupted run
        shutil.rmtree(tmp)
    done = {p.name for p in shards.iterdir() if (p / "meta.json").is_file()} if shards.is_dir() else set()
    jobs = [(str(out), i, str(x), asdict(config)) for i, x in enumerate(xmls) if x.stem not in done]
    if progress and done:
        progress(f"resuming: {len(done)} of {len(xmls)} robots already collected")
    errors: dict[str, str] = dict(manifest.get("errors", {}))
    t0 = time.perf_counter()
    for k, r in enumerate(_run_jobs(info["path"], jobs, config.workers), 1):
        if "error" in r:
            errors[r["robot"]] = r["error"]
            line = f"SKIPPED: {r['error']}"
        else:
            ret = r["episode_return_mean"]
            line = f"{r['transitions']} transitions, {r['episodes']} episodes" + (
                f", return {ret:.1f}" if ret is not None else ""
            )
        if progress:
            rate = k / (time.perf_counter() - t0)
            eta = (len(jobs) - k) / rate / 60
            progress(f"[{len(done) + k}/{len(xmls)}] {r['robot']}: {line} | eta {eta:.1f} min")
    counts = {}
    for name in manifest["robots"]:
        meta = shards / name / "meta.json"
        if meta.is_file():
            counts[name] = json.loads(meta.read_text())["transitions"]
    manifest.update(counts=counts, errors=errors, transitions=sum(counts.values()), complete=True)
    write_json(manifest_path, manifest)
    return manifest


def _run_jobs(teacher: str, jobs: list[tuple[str, int, str, dict[str, Any]]], workers: int) -> Any:
    """Yield each robot's result: in this process (workers = 1) or in a spawn pool."""
    if not jobs:
        return
    if workers == 1:
        threads = torch.get_num_threads()
        _init_worker(teacher)
        try:
            yield from map(collect_robot, jobs)
        finally:
            torch.set_num_threads(threads)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(teacher,)) as pool:
        yield from pool.imap_unordered(collect_robot, jobs)


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.collect --help``."""
    parser = argparse.ArgumentParser(prog="python -m baselines.collect", description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher PPO checkpoint or run directory")
    parser.add_argument("--out", required=True, help="data folder (an existing one is resumed)")
    add_config_arguments(parser, CollectConfig, COLLECT_PRESETS)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, cls=CollectConfig, presets=COLLECT_PRESETS)
        manifest = collect(args.teacher, args.out, config)
    except (ConfigError, CheckpointError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{manifest['transitions']:,} transitions of {len(manifest['counts'])} robots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
