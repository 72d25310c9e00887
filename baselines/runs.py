"""Run directories: the exact config, atomic checkpoints, resume, CSV and TensorBoard logs.

Layout of ``RUN_DIR``::

    config.json                  the exact PPOConfig of the run
    checkpoints/iter_000100.pt   policy + optimiser + VecNormalize statistics + sampler state
    checkpoints/final.pt         the last iteration's checkpoint (same content)
    progress.csv                 one row per iteration (losses, KL, clip fraction, returns, steps/s)
    robots.csv                   one row per robot and iteration (episodes, mean return and length, weight)
    tb/                          TensorBoard events (``tensorboard``, in the baselines extra)

Checkpoints and ``config.json`` are written to a temporary file and renamed, so an interrupted write
never leaves a truncated file under the real name.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, PPOConfig

CHECKPOINT_FORMAT = "unimal-ppo-1"
PROGRESS_FIELDS = (
    "iteration",
    "timesteps",
    "wall_time",
    "steps_per_s",
    "learning_rate",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "updates",
    "kl_stopped",
    "explained_variance",
    "episodes",
    "return_mean",
    "length_mean",
)
ROBOT_FIELDS = ("iteration", "robot", "episodes", "return_mean", "length_mean", "weight")


class CheckpointError(RuntimeError):
    """A checkpoint or run directory that cannot be used: missing, corrupted, or not matching the config."""


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_checkpoint_file(path: str | os.PathLike[str], fmt: str, kind: str) -> dict[str, Any]:
    """Load a checkpoint dict (on the CPU, tensors only) and check its ``format`` tag.

    :param fmt: the expected ``format`` value. :param kind: what it should be, for the message.
    :raises CheckpointError: the file is missing, unreadable, or not a ``kind`` checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise CheckpointError(f"checkpoint {path} is not a {kind} checkpoint (format {fmt})")
    return data


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a PPO checkpoint file.

    :raises CheckpointError: the file is missing, unreadable, or not one of ours.
    """
    data = read_checkpoint_file(path, CHECKPOINT_FORMAT, "unimal PPO")
    try:
        PPOConfig.from_dict(data["config"])
    except (ConfigError, TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} has an invalid config: {exc}") from None
    return data


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file, or a run directory's ``final.pt`` (else its latest ``iter_*.pt``).

    :raises CheckpointError: nothing usable at ``path``.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"{path} is neither a checkpoint file nor a run directory")
    run = RunDir(path)
    final = run.checkpoints / "final.pt"
    if final.is_file():
        return final
    latest = run.latest_checkpoint()
    if latest is None:
        raise CheckpointError(f"run directory {path} has no checkpoint in {run.checkpoints}")
    return latest


class RunDir:
    """One training run's folder (see the module docstring).

    :param root: the folder (created on :meth:`start`).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.config_path = self.root / "config.json"
        self._tb: Any = None
        self._tb_purge_step: int | None = None

    # ------------------------------------------------------------------ config
    def read_config(self) -> PPOConfig:
        """:raises CheckpointError: no or a broken ``config.json``."""
        if not self.config_path.is_file():
            raise CheckpointError(f"{self.root} is not a run directory (no config.json)")
        try:
            return PPOConfig.from_dict(json.loads(self.config_path.read_text()))
        except (json.JSONDecodeError, ConfigError, TypeError) as exc:
            raise CheckpointError(f"{self.config_path} is broken: {exc}") from None

    def start(self, config: PPOConfig, resume: bool) -> dict[str, Any] | None:
        """Prepare the folder; check everything before anything is written.

        :param config: the run's configuration.
        :param resume: continue the run in this folder from its latest checkpoint.
        :return: the checkpoint to resume from, or None for a fresh start.
        :raises CheckpointError: a fresh start in a folder that already holds a run, a resume without
            a run, or a checkpoint that does not match the config.
        """
        if not resume:
            if self.config_path.exists() or (self.checkpoints.exists() and any(self.checkpoints.iterdir())):
                raise CheckpointError(
                    f"{self.root} already holds a run; pass --resume to continue it or choose a new --out"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(self.config_path, lambda p: p.write_text(json.dumps(config.to_dict(), indent=2) + "\n"))
            return None
        saved = self.read_config()
        if saved != config:
            diff = {k: (v, config.to_dict()[k]) for k, v in saved.to_dict().items() if config.to_dict()[k] != v}
            raise CheckpointError(f"--resume with a config that differs from {self.config_path}: {diff}")
        latest = self.latest_checkpoint()
        if latest is None:
            return None
        state = load_checkpoint(latest)
        if state["config"] != config.to_dict():
            raise CheckpointError(f"checkpoint {latest} was written by a different config than {self.config_path}")
        return state

    # ------------------------------------------------------------------ checkpoints
    def latest_checkpoint(self) -> Path | None:
        """The ``iter_*.pt`` with the highest iteration, or None."""
        files = sorted(self.checkpoints.glob("iter_*.pt"))
        return files[-1] if files else None

    def save_checkpoint(self, state: dict[str, Any], iteration: int, final: bool) -> Path:
        """Write ``iter_{iteration}.pt`` (and ``final.pt``) atomically. :return: the file written last."""
        state = {"format": CHECKPOINT_FORMAT, **state}
        path = self.checkpoints / f"iter_{iteration:06d}.pt"
        atomic_write(path, lambda p: torch.save(state, p))
        if final:
            path = self.checkpoints / "final.pt"
            atomic_write(path, lambda p: torch.save(state, p))
        return path

    # ------------------------------------------------------------------ logs
    def truncate_logs(self, last_iteration: int) -> None:
        """Drop log rows after ``last_iteration`` (written by an interrupted run after its last checkpoint).

        TensorBoard events cannot be edited: the next writer is opened with a purge step (the first
        timestep after ``last_iteration``), which makes TensorBoard hide the interrupted run's later events.
        """
        for name in ("progress.csv", "robots.csv"):
            path = self.root / name
            if not path.is_file():
                continue
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
                header = list(rows[0]) if rows else None
            kept = [r for r in rows if int(r["iteration"]) <= last_iteration]
            if name == "progress.csv":
                self._tb_purge_step = (int(kept[-1]["timesteps"]) if kept else 0) + 1
            fieldnames = header or (PROGRESS_FIELDS if name == "progress.csv" else ROBOT_FIELDS)
            atomic_write(path, lambda p, k=kept, h=fieldnames: _write_csv(p, h, k))

    def log(self, progress: Mapping[str, Any], robots: Iterable[Mapping[str, Any]]) -> None:
        """Append one iteration's row to ``progress.csv``, its robot rows to ``robots.csv``, and TensorBoard."""
        append_csv(self.root / "progress.csv", PROGRESS_FIELDS, [progress])
        robot_rows = list(robots)
        append_csv(self.root / "robots.csv", ROBOT_FIELDS, robot_rows)
        writer = self._tensorboard()
        if writer is not None:
            step = int(progress["timesteps"])
            for key, value in progress.items():
                if key not in ("iteration", "timesteps") and isinstance(value, (int, float)):
                    writer.add_scalar(f"train/{key}", value, step)
            for row in robot_rows:
                if row["episodes"]:
                    writer.add_scalar(f"return/{row['robot']}", row["return_mean"], step)
            writer.flush()

    def _tensorboard(self) -> Any:
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._tb = False
            else:
                self._tb = SummaryWriter(str(self.root / "tb"), purge_step=self._tb_purge_step)
        return self._tb or None

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self._tb:
            self._tb.close()


def append_csv(path: Path, fieldnames: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Append rows to a CSV file, writing the header first when the file is new."""
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _write_csv(path: Path, fieldnames: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames))
        writer.writeheader()
        writer.writerows(rows)


__all__ = ["CheckpointError", "RunDir", "atomic_write", "load_checkpoint", "resolve_checkpoint"]
