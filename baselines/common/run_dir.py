"""Run directories: one type for PPO and distillation runs.

Layout of a run directory ``RUN``::

    config.json                 the run's exact configuration (a frozen config dataclass as JSON)
    checkpoints/<p>_<n>.pt      checkpoint after step n (p = iter for PPO, epoch for distillation)
    checkpoints/final.pt        the last step's checkpoint (same content)
    progress.csv, ...           the run's CSV logs, one row per step (and per robot or set)
    tb/                         TensorBoard events, when the run logs scalars (``tensorboard`` installed)

Every file is written atomically (:mod:`.files`). A fresh start refuses a folder that already holds a
run; ``resume`` requires the same configuration, continues after the latest checkpoint, and first drops
the log rows an interrupted run wrote after that checkpoint (TensorBoard's later events are hidden by
opening the writer with a purge step).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError
from .files import CheckpointError, append_csv, artifact_kind, read_csv, save_artifact, write_csv, write_json


@dataclass(frozen=True)
class RunLayout:
    """What differs between kinds of runs: checkpoint names and logs.

    :param kind: the artifact kind of the checkpoints (``ppo-checkpoint``, ``distill-checkpoint``).
    :param prefix: checkpoint file prefix; ``width``: digits of the step number.
    :param step: the log column holding the step (``iteration``, ``epoch``).
    :param logs: CSV file name → its columns.
    :param tensorboard_step: the progress column used as TensorBoard's step, or None for no TensorBoard.
    """

    kind: str
    prefix: str
    width: int
    step: str
    logs: Mapping[str, Sequence[str]]
    tensorboard_step: str | None = None


class RunDir:
    """One run's folder (see the module docstring).

    :param root: the folder (created by :meth:`start`).
    :param layout: checkpoint names and logs of this kind of run.
    """

    def __init__(self, root: str | os.PathLike[str], layout: RunLayout) -> None:
        self.root = Path(root)
        self.layout = layout
        self.checkpoints = self.root / "checkpoints"
        self.config_path = self.root / "config.json"
        self._tb: Any = None
        self._tb_purge_step: int | None = None

    # ------------------------------------------------------------------ config
    def read_config(self, cls: type) -> Any:
        """The saved configuration as a ``cls`` (a config dataclass with ``from_dict``).

        :raises CheckpointError: no or a broken ``config.json``.
        """
        if not self.config_path.is_file():
            raise CheckpointError(f"{self.root} is not a run directory (no config.json)")
        try:
            return cls.from_dict(json.loads(self.config_path.read_text()))
        except (json.JSONDecodeError, ConfigError, TypeError) as exc:
            raise CheckpointError(f"{self.config_path} is broken: {exc}") from None

    def start(self, config: Any, resume: bool) -> Path | None:
        """Prepare the folder; check everything before anything is written.

        :param config: the run's configuration (a config dataclass with ``to_dict``).
        :param resume: continue the run in this folder.
        :return: the checkpoint to resume from, or None for a fresh start (or a resume before the first one).
        :raises CheckpointError: a fresh start in a folder that holds a run, a resume without a run, or a
            resume with another configuration.
        """
        if not resume:
            if self.config_path.exists() or (self.checkpoints.exists() and any(self.checkpoints.iterdir())):
                raise CheckpointError(
                    f"{self.root} already holds a run; pass --resume to continue it or choose a new --out"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            write_json(self.config_path, config.to_dict(), indent=2)
            return None
        saved = self.read_config(type(config))
        self.remove_stale_temporaries()
        # a config with ``identity()`` may change its execution-only fields (how the envs run) on a resume
        new, old = (config.identity(), saved.identity()) if hasattr(config, "identity") else (config, saved)
        if new != old:
            new, old = config.to_dict(), saved.to_dict()
            diff = {k: (v, new[k]) for k, v in old.items() if new[k] != v}
            raise CheckpointError(f"--resume with a config that differs from {self.config_path} (saved, given): {diff}")
        return self.latest_checkpoint()

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the half-written temporary files (``.NAME.*.tmp``) of writes a killed run never finished.

        Every file of a run folder is written to such a temporary next to it and renamed into place
        (:func:`~baselines.common.files.atomic_write`), so a temporary is never a file anything reads.
        :return: the files removed.
        """
        stale = [p for folder in (self.root, self.checkpoints) if folder.is_dir() for p in folder.glob(".*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, step: int) -> Path:
        """Where the checkpoint after ``step`` goes."""
        return self.checkpoints / f"{self.layout.prefix}_{step:0{self.layout.width}d}.pt"

    def latest_checkpoint(self) -> Path | None:
        """The step checkpoint with the highest step, or None."""
        files = sorted(self.checkpoints.glob(f"{self.layout.prefix}_*.pt"))
        return files[-1] if files else None

    def save_checkpoint(self, payload: Mapping[str, Any], step: int, final: bool, keep: int = 0) -> Path:
        """Write the step's checkpoint (and ``final.pt``) atomically, then prune old step checkpoints.

        ``final.pt`` is written first: a step checkpoint on disk means everything of its step is (a run killed
        between the two resumes from the step before and writes both again).

        :param keep: keep only the newest ``keep`` step checkpoints (0: keep all); ``final.pt`` is never pruned,
            and a checkpoint is deleted only after a newer one is safely on disk.
        :return: ``final.pt`` after the last step, else the step's checkpoint.
        """
        step_path, final_path = self.checkpoint_path(step), self.checkpoints / "final.pt"
        if final:
            save_artifact(final_path, self.layout.kind, payload)
        save_artifact(step_path, self.layout.kind, payload)
        if keep > 0:
            for old in sorted(self.checkpoints.glob(f"{self.layout.prefix}_*.pt"))[:-keep]:
                old.unlink(missing_ok=True)
        return final_path if final else step_path

    # ------------------------------------------------------------------ logs
    def truncate_logs(self, last_step: int, names: Iterable[str] | None = None) -> None:
        """Drop the log rows after ``last_step`` (written by an interrupted run after its last checkpoint).

        :param names: the logs to truncate (default: all of the layout's).
        """
        for name in self.layout.logs if names is None else names:
            columns = self.layout.logs[name]
            path = self.root / name
            if not path.is_file():
                continue
            rows = read_csv(path)
            kept = [r for r in rows if int(r[self.layout.step]) <= last_step]
            if self.layout.tensorboard_step and name == "progress.csv":
                self._tb_purge_step = (int(kept[-1][self.layout.tensorboard_step]) if kept else 0) + 1
            write_csv(path, list(rows[0]) if rows else columns, kept)

    def log(self, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows to the CSV log ``name`` (one of the layout's logs)."""
        append_csv(self.root / name, self.layout.logs[name], rows)

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Add scalars to TensorBoard at ``step`` (nothing when tensorboard is not installed)."""
        writer = self._tensorboard()
        if writer is not None:
            for key, value in scalars.items():
                writer.add_scalar(key, value, step)
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


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file as it is, or a run directory's ``final.pt`` (else its latest checkpoint).

    :raises CheckpointError: nothing usable at ``path``.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CheckpointError(f"{path} is neither a checkpoint file nor a run directory")
    final = path / "checkpoints" / "final.pt"
    if final.is_file():
        return final
    latest = sorted((path / "checkpoints").glob("*_*.pt"))
    if not latest:
        raise CheckpointError(f"run directory {path} has no checkpoint in {path / 'checkpoints'}")
    artifact_kind(latest[-1])  # a readable artifact, or a clear error now
    return latest[-1]


__all__ = ["RunDir", "RunLayout", "resolve_checkpoint"]
