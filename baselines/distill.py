"""Policy distillation of a teacher's expert data into a student (docs/networks.md §9, paper §3.3).

``python -m baselines.distill --data DATA --student hyperdistill --out RUN [--preset laptop] [--resume]``

The loss is the KL mean-matching loss over valid action slots (docs/networks.md §9, ``LOSS_TYPE KL``,
``BALANCED_LOSS True``)::

    ℓ_b = ½ Σ_j v_bj (μ^s_bj − μ^t_bj)² / Σ_j v_bj,   loss = mean_b ℓ_b,   v = 1 − act_padding_mask

(σ²/valid dims × KL(N(μ^t, σ²) ‖ N(μ^s, σ²))). Adam (eps 1e-5, no schedule), batch 5120, global
gradient clip 0.5, train mode throughout (context-embedding dropout 0.1 on HyperDistill), every robot
contributes its first ``per_robot_samples`` transitions (robots balanced). HyperDistill generates its
weights once per robot present in a minibatch (``baselines.nets.HyperDistill``, ``per_robot``).

Unlike the original, the student is evaluated during distillation (every ``eval_every`` epochs, on the
training and the test robots, through the evaluation harness :mod:`baselines.common.rollouts`),
giving the learning curves of the paper's Figures 2–3 directly.

Run directory ``RUN`` (:class:`baselines.common.run_dir.RunDir`)::

    config.json                   the exact DistillConfig
    checkpoints/epoch_0010.pt     distill-checkpoint: student, optimiser, RNG state, observation statistics
    checkpoints/final.pt          the last epoch's checkpoint
    progress.csv                  one row per epoch: loss, seconds, samples/s
    eval.csv                      one row per evaluation and robot set: mean return ± s.e. over robots
    eval/epoch_0010.json          per-robot returns of that evaluation

Resume continues after the latest checkpoint; epoch e always shuffles with the seed (seed, e) and
the torch RNG state is restored, so a resumed run is the uninterrupted run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from unimal_gym import MAX_EPISODE_STEPS
from unimal_gym.arguments import ArgumentParser

from .common import interrupt
from .common.config import (
    ConfigError,
    add_config_arguments,
    check_device,
    check_fields,
    config_from_args,
    config_from_dict,
    run_cli,
)
from .common.envs import named_sets
from .common.expert_data import ExpertData
from .common.files import DISTILL_CHECKPOINT, CheckpointError, atomic_write, file_sha256, read_artifact, tensors
from .common.interrupt import resume_command
from .common.lock import holds_lock
from .common.progress import Progress
from .common.rollouts import SMOKE_EPISODE_STEPS, evaluate_robots, robot_jobs, summarise
from .common.run_dir import RunDir, RunLayout
from .nets import ARCHITECTURES, build_network
from .nets.registry import UnknownNetworkError, check_network

STUDENTS = tuple(a for a in ARCHITECTURES if a != "hn-rl")
"""The architectures a teacher can be distilled into: every one of :data:`baselines.nets.ARCHITECTURES` but
HN-RL (the hypernetwork trained by PPO; its distilled form is ``hyperdistill``)."""
PROGRESS_FIELDS = ("epoch", "samples", "loss", "seconds", "samples_per_s", "wall_time")
EVAL_FIELDS = ("epoch", "set", "robots", "mean", "se", "skipped")
LAYOUT = RunLayout(
    kind=DISTILL_CHECKPOINT,
    prefix="epoch",
    width=4,
    step="epoch",
    logs={"progress.csv": PROGRESS_FIELDS, "eval.csv": EVAL_FIELDS},
)
"""A distillation run directory: ``epoch_NNNN.pt`` checkpoints, progress and evaluation CSV logs."""


MACHINE_FIELDS = ("device", "torch_threads", "eval_workers", "memory_limit_gb", "checkpoint_every")
"""Settings of a distillation that say where and how it ran (and how often it saved), not what it computed: runs
that differ only in them combine across seeds (:mod:`baselines.hyperdistill.seeds`)."""


@dataclass(frozen=True)
class DistillConfig:
    """Everything that defines one distillation run (docs/networks.md §9); saved as ``config.json``."""

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
    """Unseen test robots to evaluate on (the set named test); '' = none."""
    eval_sets: str = ""
    """More evaluation sets, 'name=set_or_dir,...' (also --test-robots NAME=SET_OR_DIR ...)."""
    eval_limit: int = 0
    """First N robots of each evaluation set; 0 = all."""
    eval_limits: str = ""
    """Limits of single sets other than train, 'name=N,...' (0 = all), instead of eval_limit."""
    eval_train_limit: int = -1
    """First N robots of the training set evaluated (the teacher's own robot count); −1 = eval_limit."""
    eval_episodes: int = 16
    """Episodes per robot (docs/networks.md §10: 16)."""
    eval_deterministic: bool = True
    """Evaluate with the mean action (the original's commands for distilled policies)."""
    eval_max_steps: int = MAX_EPISODE_STEPS
    """Time limit of evaluation episodes (the benchmark's 1000; the smoke preset's 100 keeps tests quick)."""
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

    KEY_NEUTRAL: ClassVar[dict[str, Any]] = {}
    """Fields added since the stage keys were frozen, each with the value under which it changes nothing
    (see :func:`~baselines.common.config.key_dict`): a field added from now on goes here."""

    RANGES: ClassVar[dict[str, str]] = {
        "embedding_dropout": "[0, 1)",
        "epochs": "[1, inf)",
        "batch_size": "[1, inf)",
        "learning_rate": "(0, inf)",
        "grad_norm": "(0, inf)",
        "per_robot_samples": "[1, inf)",
        "seed": "[0, 4294967295]",
        "checkpoint_every": "[1, inf)",
        "eval_every": "[0, inf)",
        "eval_limit": "[0, inf)",
        "eval_train_limit": "[-1, inf)",
        "eval_episodes": "[1, inf)",
        "eval_seed": "[0, 4294967295]",
        "eval_max_steps": "[1, inf)",
        "eval_workers": "[1, inf)",
        "memory_limit_gb": "[0, inf)",
        "torch_threads": "[0, inf)",
    }
    """The values each numeric field may take (checked by :func:`~baselines.common.config.check_fields`)."""

    def validate(self) -> DistillConfig:
        """:raises ConfigError: unknown student, impossible sizes. :return: self."""
        check_fields(self)
        if self.student not in STUDENTS:
            raise ConfigError(f"student={self.student!r} is not allowed; choose one of {', '.join(STUDENTS)}")
        try:
            check_network(self.student, "ft", self.net, **self.network_overrides)
        except UnknownNetworkError as exc:
            raise ConfigError(f"net={self.net!r}: {exc}") from None
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"device={self.device!r} is not allowed; choose cpu, cuda or auto")
        _ = self.set_limits
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DistillConfig:
        """:raises ConfigError: unknown fields."""
        return config_from_dict(cls, data, "distillation config")

    @property
    def extra_sets(self) -> dict[str, str]:
        """``eval_sets`` as name → set (checked to exist by :meth:`validate`)."""
        return dict(named_sets(filter(None, self.eval_sets.split(",")), "eval_sets"))

    @property
    def set_limits(self) -> dict[str, int]:
        """``eval_limits`` as name → N, with ``train`` → ``eval_train_limit`` where that is set.

        :raises ConfigError: an item that is not NAME=N with N ≥ 0, a name given twice, or ``train``.
        """
        limits: dict[str, int] = {}
        for item in filter(None, self.eval_limits.split(",")):
            name, _, number = item.partition("=")
            if not name or name == "train" or name in limits or not number.isdigit():
                raise ConfigError(
                    f"eval_limits item {item!r}: expected NAME=N (N ≥ 0), each set once, not train "
                    "(its limit is eval_train_limit)"
                )
            limits[name] = int(number)
        return limits | ({"train": self.eval_train_limit} if self.eval_train_limit >= 0 else {})

    @property
    def network_overrides(self) -> dict[str, Any]:
        """Configuration fields of the student set by this config (HyperDistill's context dropout)."""
        return {"embedding_dropout": self.embedding_dropout} if self.student == "hyperdistill" else {}


DISTILL_PRESETS: dict[str, DistillConfig] = {
    "paper": DistillConfig(device="auto"),
    "laptop": DistillConfig(
        net="small",
        epochs=30,
        batch_size=1024,
        per_robot_samples=2000,
        eval_every=5,  # curves of 6 points
        eval_limit=16,
        eval_episodes=4,
        torch_threads=1,  # two threads on a busy 2-core VM: ~16× slower (benchmarks/results/distill_throughput.txt)
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
        eval_max_steps=SMOKE_EPISODE_STEPS,
        eval_workers=1,
        torch_threads=1,
    ),
}
"""``paper`` (docs/networks.md §9), ``laptop`` (a 2-core machine: small students, 30 epochs), ``smoke`` (tests)."""


# ---------------------------------------------------------------------------------------------- parts
def build_student(config: DistillConfig, task: str) -> nn.Module:
    """The student's actor network (24 action means) on ``task``."""
    return build_network(config.student, task, config.net, **config.network_overrides)


def kl_loss(student_mean: Tensor, teacher_mean: Tensor, act_padding_mask: Tensor) -> Tensor:
    """docs/networks.md §9 balanced KL loss: mean over samples of ½ Σ_valid (μ^s − μ^t)² / number of valid slots."""
    valid = (~act_padding_mask).to(student_mean.dtype)
    per_sample = 0.5 * ((student_mean - teacher_mean) ** 2 * valid).sum(-1) / valid.sum(-1).clamp(min=1.0)
    return per_sample.mean()


def adam(student: nn.Module, learning_rate: float) -> torch.optim.Adam:
    """docs/networks.md §9.4: Adam, eps 1e-5, fused (the whole update in one pass per tensor; HyperDistill at the
    paper's size, 9.6M parameters: the distillation step 1.19x faster on one CPU thread than torch's default loop,
    benchmarks/adam_fused.py; the same update to the last bits)."""
    return torch.optim.Adam(student.parameters(), lr=learning_rate, eps=1e-5, fused=True)


def distill_step(
    student: nn.Module,
    optimiser: torch.optim.Optimizer,
    obs: Mapping[str, Tensor],
    teacher_mean: Tensor,
    grad_norm: float,
) -> Tensor:
    """One minibatch: the KL loss of the student's means (B, 24) to the teacher's (B, 24), backward, the global
    gradient-norm clip, the optimiser's step. :return: the loss (a scalar tensor)."""
    loss = kl_loss(student(obs), teacher_mean, obs["act_padding_mask"])
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(student.parameters(), grad_norm)
    optimiser.step()
    return loss


def run_dir(root: str | Path) -> RunDir:
    """The distillation run directory at ``root``."""
    return RunDir(root, LAYOUT)


T = TypeVar("T")
R = TypeVar("R")


def prefetched(load: Callable[[T], R], items: Sequence[T], ahead: bool) -> Iterator[R]:
    """``load(item)`` for every item, in order. With ``ahead`` the next item is loaded in a background
    thread while the caller works on the current one: reading memory-mapped shards and decompressing
    hfield rows (zlib and numpy copies release the GIL) overlaps the training step. The same values
    either way."""
    if not ahead:
        for item in items:
            yield load(item)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, items[0]) if items else None
        for k in range(len(items)):
            assert pending is not None
            result = pending.result()
            pending = pool.submit(load, items[k + 1]) if k + 1 < len(items) else None
            yield result


def data_identity(data: ExpertData) -> dict[str, Any]:
    """What a checkpoint records of its data: folder, manifest hash, teacher hash, robots, per-robot rows."""
    return {
        "path": str(data.root.resolve()),
        "manifest_sha256": file_sha256(data.root / "manifest.json"),
        "teacher_sha256": data.manifest["teacher"]["sha256"],
        "robots": len(data.names),
        "per_robot": data.per_robot,
    }


def evaluate_checkpoint(
    checkpoint: Path, epoch: int, config: DistillConfig, run: RunDir
) -> dict[str, dict[str, float]]:
    """Evaluate a checkpoint on the training robots, the test robots (when ``eval_test`` names a set) and the
    ``eval_sets``; log to eval.csv and write eval/epoch_N.json."""
    sets = {"train": config.eval_train, **({"test": config.eval_test} if config.eval_test else {}), **config.extra_sets}
    jobs = robot_jobs(
        sets.items(),
        config.eval_limit,
        config.eval_episodes,
        config.eval_deterministic,
        config.eval_seed,
        config.set_limits,
        config.eval_max_steps,
    )
    results = evaluate_robots(checkpoint, jobs, config.eval_workers)
    summary = summarise(results)
    run.truncate_logs(epoch - 1, ["eval.csv"])  # rows of an evaluation interrupted before its JSON was written
    run.log("eval.csv", [{"epoch": epoch, "set": k, **v} for k, v in summary.items()])
    report = {"summary": summary, "robots": results}
    atomic_write(run.root / "eval" / f"epoch_{epoch:04d}.json", lambda p: p.write_text(json.dumps(report)))
    return summary


def open_run(
    data_dir: str | Path, config: DistillConfig, out: str | Path, resume: bool
) -> tuple[ExpertData, RunDir, dict[str, Any] | None]:
    """Check every input, then open the run directory.

    :return: the data, the run directory, and the checkpoint to resume from (None for a fresh start).
    :raises ConfigError, DataError, CheckpointError: bad input, before anything is written.
    """
    config.validate()
    check_device(config.device)
    if config.evaluate:
        _ = config.extra_sets  # every evaluation set is there before anything is written
    data = ExpertData(data_dir, config.per_robot_samples, config.memory_limit_gb)
    data.check_student(config.student)
    run = run_dir(out)
    latest = run.start(config, resume)
    state = read_artifact(latest, DISTILL_CHECKPOINT) if latest is not None else None
    if state is not None and state["data"]["manifest_sha256"] != file_sha256(data.root / "manifest.json"):
        raise CheckpointError(f"{latest} was distilled from other data than {data_dir}")
    return data, run, state


# ---------------------------------------------------------------------------------------------- the run
@holds_lock("out", "distillation run")
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
    :param progress: called with one line per epoch, below a bar on a terminal (None = silent).
    :return: the last checkpoint written.
    :raises ConfigError, DataError, CheckpointError: bad input.
    """
    data, run, state = open_run(data_dir, config, out, resume)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    student = build_student(config, data.task).to(device)
    # a run resumed from a checkpoint keeps the Adam it was started with (the saved param group says: fused or not)
    optimiser = adam(student, config.learning_rate)
    start = 0
    if state is not None:
        student.load_state_dict(state["student"])
        optimiser.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["epoch"])
    run.truncate_logs(start)
    identity, obs_norm = data_identity(data), tensors(data.normalizer.to_arrays())

    def save(epoch: int, final: bool) -> Path:
        payload = {
            "config": config.to_dict(),
            "task": data.task,
            "arch": config.student,
            "net": config.net,
            "overrides": config.network_overrides,
            "epoch": epoch,
            "student": {k: v.cpu() for k, v in student.state_dict().items()},
            "optimizer": optimiser.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "obs_norm": obs_norm,
            "data": identity,
        }
        return run.save_checkpoint(payload, epoch, final)

    def due_for_evaluation(epoch: int) -> bool:
        return config.evaluate and (
            epoch == config.epochs or (config.eval_every > 0 and epoch % config.eval_every == 0)
        )

    if progress:
        params = sum(p.numel() for p in student.parameters())
        progress(
            f"distilling {len(data):,} transitions ({len(data.names)} robots × {data.per_robot}, "
            f"{'in memory' if data.in_memory else 'memory-mapped'}) into {config.student} ({params:,} params), "
            f"epochs {start}→{config.epochs}"
        )

    if (
        state is not None
        and due_for_evaluation(start)
        and not (run.root / "eval" / f"epoch_{start:04d}.json").is_file()
    ):
        evaluate_checkpoint(run.latest_checkpoint(), start, config, run)  # interrupted during that evaluation
    path = run.checkpoints / "final.pt"
    end = config.epochs if stop_after is None else min(config.epochs, stop_after)
    t_run = time.perf_counter()
    student.train()  # docs/networks.md §9.5: train mode throughout (dropout on)
    bar = Progress(end, f"distilling {config.student}", "epoch", start, progress)
    for epoch in range(start + 1, end + 1):
        t0 = time.perf_counter()
        order = np.random.default_rng([config.seed, epoch - 1]).permutation(len(data))
        total = 0.0
        slices = [order[b : b + config.batch_size] for b in range(0, len(order), config.batch_size)]
        for obs, teacher_mean in prefetched(data.batch, slices, ahead=not data.in_memory):
            obs, teacher_mean = {k: v.to(device) for k, v in obs.items()}, teacher_mean.to(device)
            loss = distill_step(student, optimiser, obs, teacher_mean, config.grad_norm)
            total += loss.item() * len(teacher_mean)

        seconds = time.perf_counter() - t0
        row = {
            "epoch": epoch,
            "samples": len(data),
            "loss": total / len(data),
            "seconds": round(seconds, 3),
            "samples_per_s": round(len(data) / seconds, 1),
            "wall_time": round(time.perf_counter() - t_run, 3),
        }
        evaluate_now = due_for_evaluation(epoch)
        # the row first: a crash before the checkpoint leaves a row that resume drops (truncate_logs), never a
        # checkpoint whose epoch has no row
        run.log("progress.csv", [row])
        saved = evaluate_now or epoch == config.epochs or epoch == end or epoch % config.checkpoint_every == 0
        if saved:
            path = save(epoch, final=epoch == config.epochs)
        evals = ""
        if evaluate_now:
            summary = evaluate_checkpoint(path, epoch, config, run)
            evals = " | " + " ".join(f"{k} {v['mean']:.1f}" for k, v in summary.items())
        bar.advance(1, f"loss {row['loss']:.4f}")
        bar.write(
            f"[epoch {epoch}/{config.epochs}] loss {row['loss']:.4f} | {row['samples_per_s']:,.0f} samples/s"
            f"{evals} | eta {(end - epoch) * seconds / 60:.1f} min"
        )
        if interrupt.requested() is not None and epoch < end:  # Ctrl-C / SIGTERM: keep this epoch, then stop
            path = path if saved else save(epoch, final=False)
            interrupt.check(f"checkpoint {path} (epoch {epoch} of {config.epochs})")
    bar.close()
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.distill --help``."""
    parser = ArgumentParser(prog="python -m baselines.distill", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="expert-data folder (baselines.collect)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this many epochs in total")
    parser.add_argument(
        "--test-robots", nargs="+", default=None, metavar="NAME=SET_OR_DIR", help="more evaluation sets"
    )
    add_config_arguments(parser, DistillConfig, DISTILL_PRESETS)
    args = parser.parse_args(argv)

    def body() -> int:
        if args.stop_after is not None and args.stop_after < 1:
            raise ConfigError(f"--stop-after {args.stop_after} is not allowed: at least 1 (epochs in total)")
        if args.test_robots:
            args.eval_sets = ",".join(f"{n}={s}" for n, s in named_sets(args.test_robots))
        config = config_from_args(args, DistillConfig, DISTILL_PRESETS)
        path = distill(args.data, config, args.out, resume=args.resume, stop_after=args.stop_after)
        print(f"checkpoint: {path}")
        return 0

    return run_cli(body, resume=resume_command("python -m baselines.distill", argv, "--resume"))


if __name__ == "__main__":
    sys.exit(main())
