"""The expert-data folder: what ``collect`` writes and ``distill`` reads (MODELS.md §8–9).

Layout of ``DATA``::

    manifest.json          format, task, teacher (path, sha256, arch, iteration), config, robots (id = index),
                           per-robot transition counts once complete
    obs_norm.npz           the teacher's frozen observation statistics (:mod:`unimal_gym.normalization`)
    robots/xml, metadata   the robots collected on (the PD robots and their parents)
    shards/<robot>/        one folder per robot, written to a temporary name and renamed when complete:
        proprioceptive.npy   (N, 624) float32, normalised with obs_norm and clipped (``features=full``), or
                             (N, 204) the 17 student features per limb (``features=student``)
        act_mean.npy         (N, 24) float32 teacher mean μ (the distillation target)
        act.npy              (N, 24) float32 the sampled action that stepped the env
        hfield.npy           (N, 1410) float32 raw terrain heights (VT, Obstacle)
        robot.npz            the robot's context (636,), obs_padding_mask (12,), act_padding_mask (24,):
                             per robot, not per transition (every transition of a shard is that robot)
        meta.json            robot, id, transitions, episodes and returns of the rollouts

Rows are time-major (row = t·num_envs + e), so the first k rows of a shard are the first k/num_envs
steps of every env. A shard is one robot, so a transition's robot is its shard's. :class:`ExpertData`
memory-maps the ``.npy`` files and never loads more than the rows it uses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from unimal_gym.layout import LIMB_OBS_DIM, MAX_LIMBS
from unimal_gym.normalization import NormalizerError, ObservationNormalizer

from ..nets.obs import STATE_DIM
from .config import UserError
from .files import write_json
from .legacy import EXPERT_DATA_FORMAT_1, normalizer_arrays, upgrade_manifest

DATA_FORMAT = "unimal-expert-data-2"
ROBOT_KEYS = ("context", "obs_padding_mask", "act_padding_mask")
NORMALIZER_FILE = "obs_norm.npz"
LEGACY_NORMALIZER_FILE = "obs_rms.npz"  # format-1 folders (mean, var, clip)


class DataError(UserError, RuntimeError):
    """An expert-data folder that cannot be used: missing or broken files, or made by another teacher or task."""


def features_needed(arch: str) -> int:
    """Proprioceptive features per limb a student reads: 17 (HyperDistill) or all 52."""
    return STATE_DIM if arch == "hyperdistill" else LIMB_OBS_DIM


def read_manifest(root: Path) -> dict[str, Any]:
    """:raises DataError: no, a broken, or a foreign ``manifest.json``."""
    path = root / "manifest.json"
    if not path.is_file():
        raise DataError(f"{root} is not an expert-data folder (no manifest.json)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is broken: {exc}") from None
    if isinstance(manifest, dict):
        manifest = upgrade_manifest(manifest)
    if not isinstance(manifest, dict) or manifest.get("format") not in (DATA_FORMAT, EXPERT_DATA_FORMAT_1):
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DataError(f"{path}: format {found!r}, expected {DATA_FORMAT}")
    return manifest


def load_normalizer(root: Path) -> ObservationNormalizer:
    """The teacher's statistics of a data folder (``obs_norm.npz``; ``obs_rms.npz`` in format-1 folders).

    :raises DataError: missing or invalid.
    """
    try:
        if not (root / NORMALIZER_FILE).is_file() and (root / LEGACY_NORMALIZER_FILE).is_file():
            with np.load(root / LEGACY_NORMALIZER_FILE) as rms:
                arrays = normalizer_arrays(rms["mean"], rms["var"], 0.0, float(rms["clip"]))
            return ObservationNormalizer.from_arrays(arrays, str(root / LEGACY_NORMALIZER_FILE))
        return ObservationNormalizer.load(root / NORMALIZER_FILE)
    except (NormalizerError, KeyError, OSError, ValueError) as exc:
        raise DataError(f"{root}: the teacher's observation statistics cannot be read ({exc})") from None


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically."""
    write_json(root / "manifest.json", manifest)


def write_shard(
    root: Path,
    name: str,
    robot_id: int,
    arrays: dict[str, np.ndarray],
    robot: dict[str, np.ndarray],
    stats: dict[str, Any],
) -> Path:
    """Write one robot's shard to a temporary folder and rename it to ``shards/<name>`` (atomic).

    :param arrays: the per-transition arrays (see the module docstring). :param robot: the robot's
        context and masks. :param stats: rollout statistics for ``meta.json``.
    """
    shards = root / "shards"
    tmp = shards / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for key, array in arrays.items():
        np.save(tmp / f"{key}.npy", array)
    np.savez(tmp / "robot.npz", **robot)
    n = len(arrays["act_mean"])
    (tmp / "meta.json").write_text(json.dumps({"robot": name, "id": robot_id, "transitions": n, **stats}))
    final = shards / name
    tmp.rename(final)
    return final


def complete_shards(root: Path) -> set[str]:
    """Names of the robots whose shard is complete; half-written temporary folders are removed."""
    shards = root / "shards"
    for tmp in shards.glob(".tmp-*"):  # half-written by an interrupted run
        shutil.rmtree(tmp)
    return {p.name for p in shards.iterdir() if (p / "meta.json").is_file()} if shards.is_dir() else set()


class ExpertData:
    """A complete expert-data folder, first ``per_robot`` rows of every robot.

    :param root: the folder.
    :param per_robot: transitions per robot (capped at the smallest robot's count).
    :param memory_limit_gb: load the used rows into memory below this size; otherwise gather from
        memory-mapped shards per batch.
    :raises DataError: no manifest, incomplete collection, missing or inconsistent shards.
    """

    def __init__(self, root: str | Path, per_robot: int, memory_limit_gb: float = 4.0) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if not self.manifest.get("complete"):
            raise DataError(f"{self.root}: the collection is not complete; resume it with baselines.collect first")
        self.task: str = self.manifest["task"]
        self.features: str = self.manifest["features"]
        self.names = [n for n in self.manifest["robots"] if n in self.manifest["counts"]]
        if not self.names:
            raise DataError(f"{self.root}: no robot was collected")
        shards = self.root / "shards"
        keys = ["proprioceptive", "act_mean", *(["hfield"] if self.task != "ft" else [])]
        maps: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        robot: dict[str, list[np.ndarray]] = {k: [] for k in ROBOT_KEYS}
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
        self.normalizer = load_normalizer(self.root)
        row_bytes = sum(v[0][0].nbytes for v in maps.values())
        self.in_memory = row_bytes * len(self) <= memory_limit_gb * 2**30
        if self.in_memory:  # (R·k, D) contiguous: the fastest gathers
            self.arrays = {
                k: torch.as_tensor(np.concatenate([m[: self.per_robot] for m in v])) for k, v in maps.items()
            }
        self.maps = maps

    def __len__(self) -> int:
        return len(self.names) * self.per_robot

    def check_student(self, arch: str) -> None:
        """:raises DataError: the stored observation does not have the features the student reads."""
        stored = self.maps["proprioceptive"][0].shape[1] // MAX_LIMBS
        if stored < features_needed(arch):
            raise DataError(
                f"student {arch!r} reads {features_needed(arch)} proprioceptive features per limb, but "
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


__all__ = [
    "DATA_FORMAT",
    "NORMALIZER_FILE",
    "DataError",
    "ExpertData",
    "complete_shards",
    "features_needed",
    "read_manifest",
    "write_manifest",
    "write_shard",
]
