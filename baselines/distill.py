"""Policy distillation of a teacher's expert data into a student (MODELS.md §9, paper §3.3).

``python -m baselines.distill --data DATA --student hyperdistill|mlp|tf|tf-compressed|modumorph-compressed|modumorph
--out RUN [--preset laptop] [--resume]``

The loss is the KL mean-matching loss over valid action slots (MODELS.md §9, ``LOSS_TYPE KL``,
``BALANCED_LOSS True``)::

    ℓ_b = ½ Σ_j v_bj (μ^s_bj − μ^t_bj)² / Σ_j v_bj,   loss = mean_b ℓ_b,   v = 1 − act_padding_mask

(σ²/valid dims × KL(N(μ^t, σ²) ‖ N(μ^s, σ²))). Adam (eps 1e-5, no schedule), batch 5120, global
gradient clip 0.5, train mode throughout (context-embedding dropout 0.1 on HyperDistill), every robot
contributes its first ``per_robot_samples`` transitions (robots balanced). HyperDistill generates its
weights once per robot present in a minibatch (``baselines.nets.HyperDistill``, ``per_robot``).

Unlike the original, the student is evaluated during distillation (every ``eval_every`` epochs, on the
training and the test robots, deterministic actions, through :mod:`baselines.evaluate`), giving the
learning curves of the paper's Figures 2–3 directly.

Run directory ``RUN``::

    config.json                 the exact DistillConfig
    checkpoints/epoch_0010.pt   student, optimiser, RNG state, teacher observation statistics
    checkpoints/final.pt        the last epoch's checkpoint
    progress.csv                one row per epoch: loss, seconds, samples/s
    eval.csv                    one row per evaluation and robot set: mean return ± s.e. over robots
    eval/epoch_0010.json        per-robot returns of that evaluation

Resume continues after the latest checkpoint; epoch e always shuffles with the seed (seed, e) and
the torch RNG state is restored, so a resumed run is the uninterrupted run.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from . import evaluate as harness
from .collect import DATA_FORMAT, DataError, file_sha256
from .config import ConfigError, add_config_arguments, config_from_args, config_from_dict
from .evaluate import CheckpointAgent, summarise
from .nets import HyperDistill, LimbTransformer, MultiRobotMLP, to_torch
from .nets.obs import LIMB_OBS_DIM, MAX_LIMBS, STATE_DIM, student_state
from .ppo import robot_files
from .runs import CheckpointError, append_csv, atomic_write, read_checkpoint_file
from .sb3_policy import network_config

DISTILL_FORMAT = "unimal-distill-1"
STUDENTS: dict[str, tuple[type[nn.Module], str]] = {
    "hyperdistill": (HyperDistill, "hn"),
    "mlp": (MultiRobotMLP, "mlp"),
    "tf": (LimbTransformer, "tf"),
    "tf-compressed": (LimbTransformer, "tf-compressed"),
    "modumorph-compressed": (LimbTransformer, "modumorph-compressed"),
    "modumorph": (LimbTransformer, "modumorph"),
}
"""Student name → (network class, the model name of :func:`baselines.sb3_policy.network_config`)."""
PROGRESS_FIELDS = ("epoch", "samples", "loss", "seconds", "samples_per_s", "wall_time")
EVAL_FIELDS = ("epoch", "set", "robots", "mean", "se", "skipped")
ACTION_STD = 0.9  # MODELS.md §3.8: stochastic evaluation samples with the teacher's fixed std


@dataclass(frozen=True)
class DistillConfig:
    """Everything that defines one distillation run (MODELS.md §9); saved as ``config.json``."""

    student: str = "hyperdistill"
    """Student: hyperdistill, mlp, tf, tf-compressed, modumorph-compressed or modumorph."""
    net: str = ""
    """Student size: '' (the paper's), 'small', 'tiny', and/or 'field=value,...' overrides."""
    embedding_dropout: float = 0.1
    """HyperDistill context-embedding dropout (paper 0.1); ignored by other students."""
    epochs: int = 150
    """Passes over the data (paper: 150 main runs, 50 ablations)."""
    batch_size: int = 5120
    """Minibatch size (shuffled, last incomplete batch kept)."""
    learning_rate: float = 3e-4
    """Adam learning rate, constant."""
    grad_norm: float = 0.5
    """Global gradient-norm clip."""
    per_robot_samples: int = 8000
    """First N transitions of every robot (env_first); all robots get the same number."""
    seed: int = 0
    """Seed of the student's initialisation, the shuffling and dropout."""
    checkpoint_every: int = 10
    """Save a checkpoint every N epochs (and at every evaluation and the end)."""
    evaluate: bool = True
    """Evaluate the student during distillation (False: checkpoints only)."""
    eval_every: int = 10
    """Evaluate on the training and test robots every N epochs (and at the end); 0 = only at the end."""
    eval_train: str = "train"
    """Training robots to evaluate on (bundled set or folder)."""
    eval_test: str = "test"
    """Unseen test robots to evaluate on."""
    eval_limit: int = 0
    """First N robots of each evaluation set; 0 = all."""
    eval_episodes: int = 16
    """Episodes per robot (MODELS.md §10: 16)."""
    eval_deterministic: bool = True
    """Evaluate with the mean action (the original's commands for distilled policies)."""
    eval_seed: int = 1409
    """Env i of an evaluated robot is seeded eval_seed + i."""
    eval_workers: int = 2
    """Parallel evaluation processes (1 = in this process)."""
    memory_limit_gb: float = 4.0
    """Load the used transitions into memory when they fit in this; otherwise read memory-mapped shards."""
    torch_threads: int = 0
    """Torch CPU threads; 0 = torch's default."""
    device: str = "cpu"
    """Where the student trains: cpu, cuda or auto (cuda when available); evaluation always runs on the CPU."""

    def validate(self) -> DistillConfig:
        """:raises ConfigError: unknown student, impossible sizes. :return: self."""
        if self.student not in STUDENTS:
            raise ConfigError(f"student={self.student!r} is not allowed; choose one of {', '.join(STUDENTS)}")
        for name in ("epochs", "batch_size", "per_robot_samples", "checkpoint_every", "eval_episodes", "eval_workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be at least 1")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"device={self.device!r} is not allowed; choose cpu, cuda or auto")
        if self.eval_every < 0 or self.eval_limit < 0 or not 0 <= self.embedding_dropout < 1:
            raise ConfigError("eval_every and eval_limit must be ≥ 0 and embedding_dropout in [0, 1)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistillConfig:
        """:raises ConfigError: unknown fields."""
        return config_from_dict(cls, data, "distillation config")


DISTILL_PRESETS: dict[str, DistillConfig] = {
    "paper": DistillConfig(device="auto"),
    "laptop": DistillConfig(
        net="small",
        epochs=30,
        batch_size=1024,
        per_robot_samples=2000,
        eval_every=10,
        eval_limit=16,
        eval_episodes=4,
        torch_threads=1,  # two threads on a busy 2-core machine were ~4× slower here
    ),
    "smoke": DistillConfig(
        net="tiny",
        epochs=2,
        batch_size=32,
        per_robot_samples=32,
        checkpoint_every=1,
        eval_every=0,
        eval_limit=1,
        eval_episodes=1,
        eval_workers=1,
        torch_threads=1,
    ),
}
"""``paper`` (MODELS.md §9), ``laptop`` (a 2-core machine: small students, 30 epochs), ``smoke`` (tests)."""


# ---------------------------------------------------------------------------------------------- students
def build_student(student: str, task: str, net: str = "", embedding_dropout: float = 0.1) -> nn.Module:
    """The student's actor network (24 action means) on ``task``.

    :raises ConfigError: unknown student or size.
    """
    if student not in STUDENTS:
        raise ConfigError(f"unknown student {student!r}; choose one of {', '.join(STUDENTS)}")
    cls, model = STUDENTS[student]
    config = network_config(model, task, net)
    if cls is HyperDistill:
        config = dataclasses.replace(config, embedding_dropout=embedding_dropout)
    return cls(config, 2)


def features_needed(student: str) -> int:
    """Proprioceptive features per limb the student reads: 17 (HyperDistill) or all 52."""
    return STATE_DIM if student == "hyperdistill" else LIMB_OBS_DIM


def kl_loss(student_mean: Tensor, teacher_mean: Tensor, act_padding_mask: Tensor) -> Tensor:
    """MODELS.md §9 balanced KL loss: mean over samples of ½ Σ_valid (μ^s − μ^t)² / number of valid slots."""
    valid = (~act_padding_mask).to(student_mean.dtype)
    per_sample = 0.5 * ((student_mean - teacher_mean) ** 2 * valid).sum(-1) / valid.sum(-1).clamp(min=1.0)
    return per_sample.mean()


# ---------------------------------------------------------------------------------------------- data
class ExpertData:
    """An expert-data folder (see :mod:`baselines.collect`), first ``per_robot`` rows of every robot.

    :param root: the folder.
    :param per_robot: transitions per robot (capped at the smallest robot's count).
    :param memory_limit_gb: load the used rows into memory below this size; otherwise gather from
        memory-mapped shards per batch.
    :raises DataError: no manifest, incomplete collection, missing or inconsistent shards.
    """

    def __init__(self, root: str | Path, per_robot: int, memory_limit_gb: float = 4.0) -> None:
        self.root = Path(root)
        path = self.root / "manifest.json"
        if not path.is_file():
            raise DataError(f"{self.root} is not an expert-data folder (no manifest.json)")
        try:
            self.manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is broken: {exc}") from None
        if self.manifest.get("format") != DATA_FORMAT:
            raise DataError(f"{path}: format {self.manifest.get('format')!r}, expected {DATA_FORMAT}")
        if not self.manifest.get("complete"):
            raise DataError(f"{self.root}: the collection is not complete; resume it with baselines.collect first")
        self.task: str = self.manifest["env"]
        self.features: str = self.manifest["features"]
        self.names = [n for n in self.manifest["robots"] if n in self.manifest["counts"]]
        if not self.names:
            raise DataError(f"{self.root}: no robot was collected")
        shards = self.root / "shards"
        keys = ["proprioceptive", "act_mean", *(["hfield"] if self.task != "ft" else [])]
        maps: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        robot: dict[str, list[np.ndarray]] = {"context": [], "obs_padding_mask": [], "act_padding_mask": []}
        for name in self.names:
            for key in keys:
                file = shards / name / f"{key}.npy"
                if not file.is_file():
                    raise DataError(f"{self.root}: shard file {file.relative_to(self.root)} is missing")
                array = np.load(file, mmap_mode="r")
                if len(array) != self.manifest["counts"][name]:
                    raise DataError(f"{file}: {len(array)} rows, the manifest says {self.manifest['counts'][name]}")
                maps[key].append(array)
            robot_file = shards / name / "robot.npz"
            if not robot_file.is_file():
                raise DataError(f"{self.root}: shard file {robot_file.relative_to(self.root)} is missing")
            with np.load(robot_file) as r:
                for key in robot:
                    robot[key].append(r[key])
        self.per_robot = min(per_robot, *(self.manifest["counts"][n] for n in self.names))
        self.context = torch.as_tensor(np.stack(robot["context"]))  # (R, 636)
        self.obs_padding_mask = torch.as_tensor(np.stack(robot["obs_padding_mask"]))  # (R, 12)
        self.act_padding_mask = torch.as_tensor(np.stack(robot["act_padding_mask"]))  # (R, 24)
        with np.load(self.root / "obs_rms.npz") as rms:
            self.obs_rms = {k: rms[k] for k in ("mean", "var", "clip")}
        row_bytes = sum(v[0][0].nbytes for v in maps.values())
        self.in_memory = row_bytes * len(self) <= memory_limit_gb * 2**30
        if self.in_memory:  # (R·k, D) contiguous: the fastest gathers
            self.arrays = {
                k: torch.as_tensor(np.concatenate([m[: self.per_robot] for m in v])) for k, v in maps.items()
            }
        self.maps = maps

    def __len__(self) -> int:
        return len(self.names) * self.per_robot

    def check_student(self, student: str) -> None:
        """:raises DataError: the stored observation does not have the features the student reads."""
        stored = self.maps["proprioceptive"][0].shape[1] // MAX_LIMBS
        if stored < features_needed(student):
            raise DataError(
                f"student {student!r} reads {features_needed(student)} proprioceptive features per limb, but "
                f"{self.root} stores {stored} (features={self.features}); collect with --features full"
            )

    def batch(self, index: np.ndarray) -> tuple[dict[str, Tensor], Tensor]:
        """Observation dict and teacher means of the transitions ``index`` (flat: robot · per_robot + row).

        :return: ({proprioceptive (B, 624|204), context (B, 636), masks, [hfield]}, act_mean (B, 24)).
        """
        robot = torch.as_tensor(index // self.per_robot)
        if self.in_memory:
            rows = {k: v[index] for k, v in self.arrays.items()}
        else:
            rows = {k: torch.as_tensor(self._gather(v, index)) for k, v in self.maps.items()}
        obs = {
            "proprioceptive": rows["proprioceptive"],
            "context": self.context[robot],
            "obs_padding_mask": self.obs_padding_mask[robot],
            "act_padding_mask": self.act_padding_mask[robot],
        }
        if "hfield" in rows:
            obs["hfield"] = rows["hfield"]
        return obs, rows["act_mean"]

    def _gather(self, maps: list[np.ndarray], index: np.ndarray) -> np.ndarray:
        robot, row = np.divmod(index, self.per_robot)
        out = np.empty((len(index), maps[0].shape[1]), dtype=np.float32)
        for r in np.unique(robot):
            sel = np.flatnonzero(robot == r)
            order = np.argsort(row[sel])
            out[sel[order]] = maps[r][row[sel][order]]
        return out


# ---------------------------------------------------------------------------------------------- checkpoints
class StudentAgent:
    """A distilled student acting from raw observations (teacher statistics frozen), for the harness.

    HyperDistill acts through the plain MLP it generates, once per robot (MODELS.md §5.4).

    :param path: distillation checkpoint.
    :raises CheckpointError: unreadable, or weights that do not fit the student of its config.
    """

    def __init__(self, path: str | Path) -> None:
        state = load_distill_checkpoint(path)
        self.config = DistillConfig.from_dict(state["config"])
        self.task: str = state["task"]
        self.iteration = int(state["epoch"])
        self.student = build_student(self.config.student, self.task, self.config.net, self.config.embedding_dropout)
        try:
            self.student.load_state_dict(state["student"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path}: weights do not fit its student: {str(exc)[:200]}") from None
        self.student.eval()
        self.mean, self.var, self.clip = (state["obs_rms"][k].numpy() for k in ("mean", "var", "clip"))
        self.rng = np.random.default_rng(0)
        self._generated: dict[bytes, nn.Module] = {}

    def normalise(self, proprioceptive: np.ndarray) -> np.ndarray:
        """clip((o − μ)/√(σ² + 1e-8), ±clip), as the teacher's frozen VecNormalize."""
        return np.clip((proprioceptive - self.mean) / np.sqrt(self.var + 1e-8), -self.clip, self.clip)

    @torch.no_grad()
    def mean_action(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """:param obs: raw batched observation of one robot. :return: (B, 24) student means."""
        x = to_torch({**obs, "proprioceptive": self.normalise(obs["proprioceptive"])})
        if not isinstance(self.student, HyperDistill):
            return self.student(x).numpy()
        key = obs["context"][0].tobytes() + obs["obs_padding_mask"][0].tobytes()
        if key not in self._generated:
            self._generated[key] = self.student.generate(
                x["context"][0], x["obs_padding_mask"][0], x["act_padding_mask"][0]
            )
        return self._generated[key](student_state(x["proprioceptive"]).flatten(1), x.get("hfield")).numpy()

    def act(self, obs: Mapping[str, np.ndarray], deterministic: bool) -> np.ndarray:
        mean = self.mean_action(obs)
        if deterministic:
            return mean
        valid = ~np.asarray(obs["act_padding_mask"], dtype=bool)
        return (mean + ACTION_STD * self.rng.standard_normal(mean.shape)) * valid


def load_distill_checkpoint(path: str | Path) -> dict[str, Any]:
    """:raises CheckpointError: missing, unreadable or not a distillation checkpoint."""
    return read_checkpoint_file(path, DISTILL_FORMAT, "distillation")


def load_policy(path: str | Path) -> harness.Agent:
    """A distillation checkpoint's :class:`StudentAgent` or a PPO checkpoint's teacher."""
    try:
        return StudentAgent(path)
    except CheckpointError:
        return CheckpointAgent(path)


# ---------------------------------------------------------------------------------------------- evaluation
def _init_eval_worker(path: str) -> None:
    harness.set_worker_agent(load_policy(path))


def evaluate_policy(
    path: str | Path,
    robot_sets: Mapping[str, str],
    limit: int,
    episodes: int,
    deterministic: bool,
    seed: int,
    workers: int,
) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    """Per-robot returns of a student or teacher checkpoint with the harness's :func:`evaluate_robot`.

    :param robot_sets: label → bundled set or folder (e.g. ``{"train": "train", "test": "test"}``).
    :return: the per-set summary (mean ± s.e. over robots) and the per-robot results.
    """
    jobs = [
        (label, str(f), episodes, deterministic, seed)
        for label, spec in robot_sets.items()
        for f in robot_files(spec, limit)
    ]
    if workers == 1:
        agent = load_policy(path)
        results = [harness.run_robot(agent, job) for job in jobs]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(workers, len(jobs)), initializer=_init_eval_worker, initargs=(str(path),)) as pool:
            results = pool.map(harness.evaluate_robot, jobs)
    for r in results:
        if "error" not in r:
            ret = np.asarray(r["returns"])
            r["return_mean"] = float(ret.mean())
            r["return_se"] = float(ret.std(ddof=1) / np.sqrt(len(ret))) if len(ret) > 1 else float("nan")
    return summarise(results), results


# ---------------------------------------------------------------------------------------------- the run


def _truncate_csv(path: Path, names: tuple[str, ...], last_epoch: int) -> None:
    """Drop rows an interrupted run wrote after its last checkpoint."""
    if not path.is_file():
        return
    with path.open(newline="") as f:
        kept = [r for r in csv.DictReader(f) if int(r["epoch"]) <= last_epoch]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(names))
            writer.writeheader()
            writer.writerows(kept)

    atomic_write(path, write)


def _evaluate_epoch(checkpoint: Path, epoch: int, config: DistillConfig, out: Path) -> dict[str, dict[str, float]]:
    """Evaluate a checkpoint on the training and test robots; append to eval.csv and write eval/epoch_N.json."""
    sets = {"train": config.eval_train, "test": config.eval_test}
    summary, results = evaluate_policy(
        checkpoint,
        sets,
        config.eval_limit,
        config.eval_episodes,
        config.eval_deterministic,
        config.eval_seed,
        config.eval_workers,
    )
    _truncate_csv(out / "eval.csv", EVAL_FIELDS, epoch - 1)
    append_csv(out / "eval.csv", EVAL_FIELDS, [{"epoch": epoch, "set": k, **v} for k, v in summary.items()])
    report = {"summary": summary, "robots": results}
    atomic_write(out / "eval" / f"epoch_{epoch:04d}.json", lambda p: p.write_text(json.dumps(report)))
    return summary


def data_identity(data: ExpertData) -> dict[str, Any]:
    """What a checkpoint records of its data: folder, manifest hash, teacher hash, robots, per-robot rows."""
    return {
        "path": str(data.root.resolve()),
        "manifest_sha256": file_sha256(data.root / "manifest.json"),
        "teacher_sha256": data.manifest["teacher"]["sha256"],
        "robots": len(data.names),
        "per_robot": data.per_robot,
    }


def distill(
    data_dir: str | Path,
    config: DistillConfig,
    out: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: Callable[[str], None] | None = print,
) -> Path:
    """Distil the expert data into a student; every input is checked before training starts.

    :param data_dir: expert-data folder.
    :param config: the run's configuration.
    :param out: run directory.
    :param resume: continue the run in ``out`` after its latest checkpoint.
    :param stop_after: stop (with a checkpoint) after this many epochs in total, to split a run.
    :param progress: called with one line per epoch (None = silent).
    :return: the last checkpoint written.
    :raises ConfigError, DataError, CheckpointError: bad input.
    """
    config.validate()
    out = Path(out)
    data = ExpertData(data_dir, config.per_robot_samples, config.memory_limit_gb)
    data.check_student(config.student)
    identity = data_identity(data)
    config_path, ckpts = out / "config.json", out / "checkpoints"
    state = None
    if resume:
        if not config_path.is_file():
            raise CheckpointError(f"{out} holds no distillation run to resume (no config.json)")
        saved = DistillConfig.from_dict(json.loads(config_path.read_text()))
        if saved != config:
            diff = {k: v for k, v in saved.to_dict().items() if config.to_dict()[k] != v}
            raise CheckpointError(f"--resume with a config that differs from {config_path} in {diff}")
        latest = sorted(ckpts.glob("epoch_*.pt"))
        if latest:
            state = load_distill_checkpoint(latest[-1])
            if state["data"]["manifest_sha256"] != identity["manifest_sha256"]:
                raise CheckpointError(f"{latest[-1]} was distilled from other data than {data_dir}")
    else:
        if config_path.exists():
            raise CheckpointError(f"{out} already holds a distillation run; pass --resume or choose a new --out")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(config_path, lambda p: p.write_text(json.dumps(config.to_dict(), indent=2) + "\n"))

    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    device = torch.device(
        "cuda" if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()) else "cpu"
    )
    student = build_student(config.student, data.task, config.net, config.embedding_dropout).to(device)
    optimiser = torch.optim.Adam(student.parameters(), lr=config.learning_rate, eps=1e-5)
    start = 0
    if state is not None:
        student.load_state_dict(state["student"])
        optimiser.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["epoch"])
    for name, fields_ in (("progress.csv", PROGRESS_FIELDS), ("eval.csv", EVAL_FIELDS)):
        _truncate_csv(out / name, fields_, start)
    obs_rms = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in data.obs_rms.items()}
    if progress:
        mode = "in memory" if data.in_memory else "memory-mapped"
        params = sum(p.numel() for p in student.parameters())
        progress(
            f"distilling {len(data):,} transitions ({len(data.names)} robots × {data.per_robot}, {mode}) into "
            f"{config.student} ({params:,} params), epochs {start}→{config.epochs}"
        )

    def checkpoint(epoch: int, final: bool) -> Path:
        payload = {
            "format": DISTILL_FORMAT,
            "config": config.to_dict(),
            "task": data.task,
            "epoch": epoch,
            "student": {k: v.cpu() for k, v in student.state_dict().items()},
            "optimizer": optimiser.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "obs_rms": obs_rms,
            "data": identity,
        }
        path = ckpts / f"epoch_{epoch:04d}.pt"
        atomic_write(path, lambda p: torch.save(payload, p))
        if final:
            path = ckpts / "final.pt"
            atomic_write(path, lambda p: torch.save(payload, p))
        return path

    path = ckpts / "final.pt"
    due = start == config.epochs or (config.eval_every > 0 and start % config.eval_every == 0)
    if state is not None and config.evaluate and due and not (out / "eval" / f"epoch_{start:04d}.json").is_file():
        _evaluate_epoch(sorted(ckpts.glob("epoch_*.pt"))[-1], start, config, out)  # interrupted during evaluation
    end = config.epochs if stop_after is None else min(config.epochs, stop_after)
    t_run = time.perf_counter()
    student.train()  # MODELS.md §9.5: train mode throughout (dropout on)
    for epoch in range(start, end):
        t0 = time.perf_counter()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(data))
        total = 0.0
        for b in range(0, len(order), config.batch_size):
            obs, teacher_mean = data.batch(order[b : b + config.batch_size])
            obs, teacher_mean = {k: v.to(device) for k, v in obs.items()}, teacher_mean.to(device)
            loss = kl_loss(student(obs), teacher_mean, obs["act_padding_mask"])
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(student.parameters(), config.grad_norm)
            optimiser.step()
            total += loss.item() * len(teacher_mean)
        seconds = time.perf_counter() - t0
        e = epoch + 1
        row = {
            "epoch": e,
            "samples": len(data),
            "loss": total / len(data),
            "seconds": round(seconds, 3),
            "samples_per_s": round(len(data) / seconds, 1),
            "wall_time": round(time.perf_counter() - t_run, 3),
        }
        done = e == config.epochs
        evaluate_now = config.evaluate and (done or (config.eval_every > 0 and e % config.eval_every == 0))
        if evaluate_now or done or e == end or e % config.checkpoint_every == 0:
            path = checkpoint(e, final=done)
        append_csv(out / "progress.csv", PROGRESS_FIELDS, [row])
        evals = ""
        if evaluate_now:
            summary = _evaluate_epoch(path, e, config, out)
            evals = " | " + " ".join(f"{k} {v['mean']:.1f}" for k, v in summary.items())
        if progress:
            eta = (end - e) * seconds / 60
            progress(
                f"[epoch {e}/{config.epochs}] loss {row['loss']:.4f} | {row['samples_per_s']:,.0f} samples/s"
                f"{evals} | eta {eta:.1f} min"
            )
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.distill --help``."""
    parser = argparse.ArgumentParser(prog="python -m baselines.distill", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="expert-data folder (baselines.collect)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this many epochs in total")
    add_config_arguments(parser, DistillConfig, DISTILL_PRESETS)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, cls=DistillConfig, presets=DISTILL_PRESETS)
        path = distill(args.data, config, args.out, resume=args.resume, stop_after=args.stop_after)
    except (ConfigError, CheckpointError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
