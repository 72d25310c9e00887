"""The expert-data folder: what ``collect`` writes and ``distill`` reads (docs/networks.md §8–9).

Layout of ``DATA``::

    manifest.json          format, task, teacher (path, sha256, arch, iteration), config, robots (id = index),
                           per-robot transition counts once complete
    obs_norm.npz           the teacher's frozen observation statistics (:mod:`unimal_gym.normalization`)
    robots/xml, metadata   the robots collected on (the PD robots and their parents)
    shards/<robot>/        one folder per robot, written to a temporary name and renamed when complete:
        proprioceptive.npy   (N, 204) float32: the 17 features per limb that change from step to step,
                             normalised with obs_norm and clipped (the HyperDistill student's input)
        act_mean.npy         (N, 24) float32 teacher mean μ (the distillation target)
        act.npy              (N, 24) float32 the sampled action that stepped the env
        hfield.zlib          VT, Obstacle: the raw terrain heights, each row (1410,) float32 compressed
        hfield_offsets.npy   by itself with zlib; row i is bytes offsets[i]:offsets[i + 1] (N + 1,) int64
        robot.npz            per robot, not per transition (every transition of a shard is that robot):
                             context (636,), obs_padding_mask (12,), act_padding_mask (24,), and with
                             ``features=full`` proprioceptive_static (624,): the normalised observation's
                             other 35 features per limb, which are properties of the robot and the same
                             in every row (checked when the shard is written)
        meta.json            robot, id, transitions, episodes and returns of the rollouts, and the SHA-256 of
                             every other file of the shard (checked by every reader: a damaged file is named,
                             and deleting its shard folder makes the next collection run redo that robot)

**Size.** A row of the 624-wide observation is rebuilt exactly as ``proprioceptive_static`` with the 204
stored columns written into it, and an hfield row is decompressed; the student sees the same float32
values as from dense arrays. Per VT/Obstacle transition that is ~1.0 kB plus the compressed hfield
(measured in ``benchmarks/expert_data_size.py``) instead of 8.3 kB, so the paper's 8M transitions fit a
GPU machine's disk and, more often, its memory. Format-2 folders (dense ``proprioceptive.npy`` of width
624 and ``hfield.npy``) are still read.

Rows are time-major (row = t·num_envs + e), so the first k rows of a shard are the first k/num_envs
steps of every env. A shard is one robot, so a transition's robot is its shard's. :class:`ExpertData`
memory-maps the files and never loads more than the rows it uses.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from unimal_gym.layout import ACTION_DIM, CONTEXT_DIM, HFIELD_DIM, LIMB_OBS_DIM, MAX_LIMBS, TASKS
from unimal_gym.normalization import NormalizerError, ObservationNormalizer

from ..nets.obs import STATE_DIM, student_state_index
from .config import UserError
from .files import file_sha256, safe_name, write_json
from .legacy import EXPERT_DATA_FORMAT_1, normalizer_arrays, upgrade_manifest

DATA_FORMAT = "unimal-expert-data-3"
DATA_FORMAT_2 = "unimal-expert-data-2"  # dense 624-wide proprioceptive.npy and hfield.npy
ROBOT_KEYS = ("context", "obs_padding_mask", "act_padding_mask")
READABLE_FORMATS = (DATA_FORMAT, DATA_FORMAT_2, EXPERT_DATA_FORMAT_1)
STATIC_KEY = "proprioceptive_static"
HFIELD_BYTES, HFIELD_OFFSETS = "hfield.zlib", "hfield_offsets.npy"
HFIELD_LEVEL = 6  # zlib level: VT rows shrink ~20× (flat ground is long runs); decompression ~µs per row
SHARD_META = "meta.json"
ARRAY_WIDTHS = {
    "proprioceptive": (MAX_LIMBS * STATE_DIM, MAX_LIMBS * LIMB_OBS_DIM),  # the stored columns, or dense rows (format 2)
    "act_mean": ACTION_DIM,
    "act": ACTION_DIM,
    "hfield": HFIELD_DIM,  # dense rows (format 2)
}
ROBOT_SHAPES = {
    "context": (MAX_LIMBS * CONTEXT_DIM,),
    "obs_padding_mask": (MAX_LIMBS,),
    "act_padding_mask": (ACTION_DIM,),
    STATIC_KEY: (MAX_LIMBS * LIMB_OBS_DIM,),
}
NORMALIZER_FILE = "obs_norm.npz"
LEGACY_NORMALIZER_FILE = "obs_rms.npz"  # format-1 folders (mean, var, clip)


class DataError(UserError, RuntimeError):
    """An expert-data folder that cannot be used: missing or broken files, or made by another teacher or task."""


def features_needed(arch: str) -> int:
    """Proprioceptive features per limb a student reads: 17 (HyperDistill) or all 52."""
    return STATE_DIM if arch == "hyperdistill" else LIMB_OBS_DIM


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


_MANIFEST_FIELDS = (
    ("task", f"one of {', '.join(TASKS)}", lambda v: v in TASKS),
    ("features", "a string", lambda v: isinstance(v, str)),
    ("complete", "true or false", lambda v: isinstance(v, bool)),
    (
        "counts",
        "an object of robot name: transitions",
        lambda v: isinstance(v, dict) and all(map(_is_count, v.values())),
    ),
    ("errors", "an object of robot name: message", lambda v: isinstance(v, dict)),
    ("transitions", "a count", _is_count),
    ("teacher", "an object", lambda v: isinstance(v, dict)),
    ("config", "an object", lambda v: isinstance(v, dict)),
)
"""Known manifest keys: what each must hold where present (older formats lack some)."""


def read_manifest(root: Path) -> dict[str, Any]:
    """:raises DataError: no, a broken, or a foreign ``manifest.json``."""
    path = root / "manifest.json"
    if not path.is_file():
        raise DataError(f"{root} is not an expert-data folder (no manifest.json)")
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:  # unreadable, not JSON, not UTF-8, nested too deeply
        raise DataError(f"{path} is broken: {type(exc).__name__}: {str(exc)[:200]}") from None
    if isinstance(manifest, dict):
        manifest = upgrade_manifest(manifest)
    if not isinstance(manifest, dict) or manifest.get("format") not in (
        DATA_FORMAT,
        DATA_FORMAT_2,
        EXPERT_DATA_FORMAT_1,
    ):
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DataError(f"{path}: format {found!r}, expected {DATA_FORMAT}")
    robots = manifest.get("robots")
    if not isinstance(robots, list):
        raise DataError(f"{path}: 'robots' is not a list of robot names")
    for key, kind, ok in _MANIFEST_FIELDS:
        if key in manifest and not ok(manifest[key]):
            raise DataError(f"{path}: {key!r} must be {kind}, got {json.dumps(manifest[key])[:80]}")
    if "task" not in manifest:
        raise DataError(f"{path}: no 'task'")
    try:  # names become paths (shards/NAME, robots/xml/NAME.xml): none may leave the folder
        for name in robots:
            safe_name(name, f"{path}: robots")
    except UserError as exc:
        raise DataError(str(exc)) from None
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


def split_proprioceptive(full: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored form of normalised observations of one robot.

    :param full: (N, 624) float32 rows of one robot.
    :return: (N, 204) the columns of :func:`~baselines.nets.obs.student_state_index` and (624,) the first
        row, whose other columns every row shares.
    :raises DataError: a column outside the 204 changes between rows (the rebuild would not be exact).
    """
    index = student_state_index()
    static = np.ones(full.shape[1], dtype=bool)
    static[index] = False
    varying = np.flatnonzero((full[:, static] != full[:1, static]).any(axis=0))
    if len(varying):
        columns = np.flatnonzero(static)[varying[:5]].tolist()
        raise DataError(
            f"{where}: observation columns {columns} change between rows of one robot; cannot store them once"
        )
    return np.ascontiguousarray(full[:, index]), full[0].copy()


def compress_rows(rows: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Each row of ``rows`` (N, D) float32 compressed by itself. :return: (bytes, offsets (N + 1,) int64)."""
    chunks = [zlib.compress(row.tobytes(), HFIELD_LEVEL) for row in np.ascontiguousarray(rows, dtype=np.float32)]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=offsets[1:])
    return b"".join(chunks), offsets


def write_shard(
    root: Path,
    name: str,
    robot_id: int,
    arrays: dict[str, np.ndarray],
    robot: dict[str, np.ndarray],
    stats: dict[str, Any],
) -> Path:
    """Write one robot's shard to a temporary folder and rename it to ``shards/<name>`` (atomic).

    :param arrays: the per-transition arrays, dense: ``proprioceptive`` (N, 624) or (N, 204) normalised,
        ``act_mean`` and ``act`` (N, 24), [``hfield`` (N, 1410)]; stored as the module docstring says.
    :param robot: the robot's context and masks. :param stats: rollout statistics for ``meta.json``.
    :raises DataError: a full observation whose robot columns are not constant (see :func:`split_proprioceptive`).
    """
    shards = root / "shards"
    tmp = shards / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    robot = dict(robot)
    for key, array in arrays.items():
        if key == "proprioceptive" and array.shape[1] == MAX_LIMBS * LIMB_OBS_DIM:
            array, robot[STATIC_KEY] = split_proprioceptive(array, f"robot {name}")
        if key == "hfield":
            data, offsets = compress_rows(array)
            (tmp / HFIELD_BYTES).write_bytes(data)
            np.save(tmp / HFIELD_OFFSETS, offsets)
            continue
        np.save(tmp / f"{key}.npy", array)
    np.savez(tmp / "robot.npz", **robot)
    n = len(arrays["act_mean"])
    digests = {f.name: file_sha256(f) for f in sorted(tmp.iterdir())}
    meta = {"robot": name, "id": robot_id, "transitions": n, **stats, "sha256": digests}
    meta[META_DIGEST] = _meta_digest(meta)
    (tmp / SHARD_META).write_text(json.dumps(meta))
    final = shards / name
    tmp.rename(final)
    return final


def complete_shards(root: Path) -> set[str]:
    """Names of the robots whose shard is complete; half-written temporary folders are removed."""
    shards = root / "shards"
    for tmp in shards.glob(".tmp-*"):  # half-written by an interrupted run
        shutil.rmtree(tmp)
    return {p.name for p in shards.iterdir() if (p / SHARD_META).is_file()} if shards.is_dir() else set()


META_DIGEST = "meta_sha256"
"""The key of a shard's ``meta.json`` holding the SHA-256 of the rest of it."""


def _meta_digest(meta: dict[str, Any]) -> str:
    rest = {k: v for k, v in meta.items() if k != META_DIGEST}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def check_shard(shard: Path, files: bool = True) -> dict[str, Any]:
    """A shard's ``meta.json``, with every file it lists checked against its SHA-256 (shards written before
    checksums were recorded list none, and pass).

    :param files: hash the shard's files (False: check ``meta.json`` alone, for a shard this process just wrote).

    :raises DataError: a broken ``meta.json``, or a missing or damaged file, naming it and how to redo the robot.
    """
    meta_file = shard / SHARD_META
    redo = f"delete {shard} and run the same collection again to redo this robot"
    try:
        meta = json.loads(meta_file.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        raise DataError(f"{meta_file} is broken ({type(exc).__name__}: {str(exc)[:120]}); {redo}") from None
    if not isinstance(meta, dict) or ("sha256" in meta) != (META_DIGEST in meta):
        raise DataError(f"{meta_file}: expected an object with 'sha256' and {META_DIGEST!r} (or neither); {redo}")
    if META_DIGEST in meta and meta[META_DIGEST] != _meta_digest(meta):
        raise DataError(f"{meta_file}: its contents do not match their checksum (a damaged file); {redo}")
    digests = meta.get("sha256", {})
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise DataError(f"{meta_file}: expected an object with 'sha256': {{file: digest}}; {redo}")
    for name, digest in digests.items() if files else ():
        file = shard / safe_name(name, f"{meta_file}: sha256")
        if not file.is_file():
            raise DataError(f"{file} is missing; {redo}")
        if file_sha256(file) != digest:
            raise DataError(f"{file}: its contents do not match the checksum in {meta_file} (a damaged file); {redo}")
    return meta


def load_array(file: Path, width: int | tuple[int, ...] | None = None, mmap: bool = True) -> np.ndarray:
    """A stored ``.npy`` array (memory-mapped), checked: 2-D float32 ``(N, width)``, or 1-D int64 when ``width``
    is None (row offsets).

    :raises DataError: unreadable (truncated, not numpy, pickled objects), or another shape or type; names the file.
    """
    try:
        array = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{file} cannot be read as a numpy array ({type(exc).__name__}: {str(exc)[:120]})") from None
    if width is None:
        ok, expected = array.ndim == 1 and array.dtype == np.int64, "(N,) int64"
    else:
        widths = (width,) if isinstance(width, int) else width
        ok = array.ndim == 2 and array.shape[1] in widths and array.dtype == np.float32
        expected = f"(N, {' or '.join(map(str, widths))}) float32"
    if not ok:
        raise DataError(f"{file}: holds {array.dtype} {array.shape}, expected {expected}")
    return array


def load_robot_arrays(file: Path) -> dict[str, np.ndarray]:
    """A shard's ``robot.npz``: context (636,), obs_padding_mask (12,), act_padding_mask (24,) [and
    proprioceptive_static (624,)].

    :raises DataError: missing, unreadable, a key missing or of another shape; names the file.
    """
    if not file.is_file():
        raise DataError(f"shard file {file} is missing")
    try:
        with np.load(file, allow_pickle=False) as r:
            out = {key: np.asarray(r[key]) for key in (*ROBOT_KEYS, STATIC_KEY) if key in r.files or key in ROBOT_KEYS}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{file} cannot be read ({type(exc).__name__}: {str(exc)[:120]})") from None
    for key, shape in ROBOT_SHAPES.items():
        if key in out and out[key].shape != shape:
            raise DataError(f"{file}: {key} has shape {out[key].shape}, expected {shape}")
    return out


class CompressedRows:
    """Rows stored each compressed by itself (``hfield.zlib`` + ``hfield_offsets.npy``), read on demand.

    :param data: the concatenated compressed rows (a memory map). :param offsets: (N + 1,) int64.
    :param width: values per row. :param where: the file, for errors.
    """

    def __init__(self, data: np.ndarray, offsets: np.ndarray, width: int, where: Path) -> None:
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(data):
            raise DataError(f"{where}: the row offsets do not cover the file ({len(data)} bytes)")
        self.data, self.offsets, self.width, self.where = data, offsets, width, where
        self.shape = (len(offsets) - 1, width)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, index: np.ndarray, out: np.ndarray) -> None:
        """Decompress the rows ``index`` into ``out`` (len(index), width) float32."""
        data, offsets = self.data, self.offsets
        for k, i in enumerate(index):
            try:
                out[k] = np.frombuffer(zlib.decompress(data[offsets[i] : offsets[i + 1]]), dtype=np.float32)
            except (zlib.error, ValueError) as exc:
                raise DataError(f"{self.where}: row {int(i)} is damaged ({exc})") from None

    def __getitem__(self, rows: slice) -> np.ndarray:
        """Dense rows of a slice (N', width) float32."""
        index = np.arange(len(self))[rows]
        out = np.empty((len(index), self.width), dtype=np.float32)
        self.rows(index, out)
        return out


Rows = np.ndarray | CompressedRows


class ExpertData:
    """A complete expert-data folder, first ``per_robot`` rows of every robot.

    :param root: the folder.
    :param per_robot: transitions per robot (capped at the smallest robot's count).
    :param memory_limit_gb: load the used rows into memory (decompressed) below this size; otherwise
        gather from memory-mapped shards per batch.
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
        keys = ["proprioceptive", "act_mean", *(["hfield"] if self.task != "ft" else [])]
        maps: dict[str, list[Rows]] = {k: [] for k in keys}
        robot: dict[str, list[np.ndarray]] = {k: [] for k in (*ROBOT_KEYS, STATIC_KEY)}
        for name in self.names:
            shard = self.root / "shards" / name
            check_shard(shard)
            for key in keys:
                array = self._open(shard, key)
                if len(array) != self.manifest["counts"][name]:
                    raise DataError(
                        f"{shard / key}: {len(array)} rows, the manifest says {self.manifest['counts'][name]}"
                    )
                maps[key].append(array)
            arrays = load_robot_arrays(shard / "robot.npz")
            for key in (*ROBOT_KEYS, STATIC_KEY):
                if key in arrays:
                    robot[key].append(arrays[key])
        widths = {m.shape[1] for m in maps["proprioceptive"]}
        if len(widths) != 1 or len(robot[STATIC_KEY]) not in (0, len(self.names)):
            raise DataError(f"{self.root}: the shards store different observation widths; collect into one folder once")
        self.stored_width = widths.pop()
        # (R, 624) the robot's constant columns, or None: rows are the stored width as they are
        self.static = torch.as_tensor(np.stack(robot[STATIC_KEY])) if robot[STATIC_KEY] else None
        self._state_index = torch.as_tensor(student_state_index())
        self.per_robot = min(per_robot, *(self.manifest["counts"][n] for n in self.names))
        self.context = torch.as_tensor(np.stack(robot["context"]))  # (R, 636)
        self.obs_padding_mask = torch.as_tensor(np.stack(robot["obs_padding_mask"]))  # (R, 12)
        self.act_padding_mask = torch.as_tensor(np.stack(robot["act_padding_mask"]))  # (R, 24)
        self.normalizer = load_normalizer(self.root)
        row_bytes = 4 * sum(v[0].shape[1] for v in maps.values())
        self.in_memory = row_bytes * len(self) <= memory_limit_gb * 2**30
        if self.in_memory:  # (R·k, D) contiguous: the fastest gathers
            self.arrays = {
                k: torch.as_tensor(np.concatenate([m[: self.per_robot] for m in v])) for k, v in maps.items()
            }
        self.maps = maps

    def _open(self, shard: Path, key: str) -> Rows:
        """One per-transition array of a shard: a memory map, or the compressed hfield rows."""
        file = shard / f"{key}.npy"
        if key == "hfield" and not file.is_file() and (shard / HFIELD_OFFSETS).is_file():
            data_file = shard / HFIELD_BYTES
            if not data_file.is_file():
                raise DataError(f"{self.root}: shard file {data_file.relative_to(self.root)} is missing")
            data = np.memmap(data_file, dtype=np.uint8, mode="r") if data_file.stat().st_size else np.zeros(0, np.uint8)
            offsets = load_array(shard / HFIELD_OFFSETS, None, mmap=False)
            return CompressedRows(data, offsets, HFIELD_DIM, data_file)
        if not file.is_file():
            raise DataError(f"{self.root}: shard file {file.relative_to(self.root)} is missing")
        return load_array(file, ARRAY_WIDTHS[key])

    def __len__(self) -> int:
        return len(self.names) * self.per_robot

    @property
    def features_per_limb(self) -> int:
        """Proprioceptive features per limb a batch carries: 52 (full) or 17 (student)."""
        width = MAX_LIMBS * LIMB_OBS_DIM if self.static is not None else self.stored_width
        return width // MAX_LIMBS

    def check_student(self, arch: str) -> None:
        """:raises DataError: the stored observation does not have the features the student reads."""
        if self.features_per_limb < features_needed(arch):
            raise DataError(
                f"student {arch!r} reads {features_needed(arch)} proprioceptive features per limb, but "
                f"{self.root} stores {self.features_per_limb} (features={self.features}); collect with --features full"
            )

    def batch(self, index: np.ndarray) -> tuple[dict[str, Tensor], Tensor]:
        """Observation dict and teacher means of the transitions ``index`` (flat: robot · per_robot + row).

        :return: ({proprioceptive (B, 624|204), context (B, 636), masks, [hfield (B, 1410)]}, act_mean (B, 24)).
        """
        robot = torch.as_tensor(index // self.per_robot)
        if self.in_memory:
            rows = {k: v[index] for k, v in self.arrays.items()}
        else:
            rows = {k: torch.as_tensor(self._gather(v, index)) for k, v in self.maps.items()}
        proprioceptive = rows["proprioceptive"]
        if self.static is not None and proprioceptive.shape[1] != self.static.shape[1]:
            full = self.static[robot]  # (B, 624) a new tensor: the robots' constant columns
            full[:, self._state_index] = proprioceptive
            proprioceptive = full
        obs = {
            "proprioceptive": proprioceptive,
            "context": self.context[robot],
            "obs_padding_mask": self.obs_padding_mask[robot],
            "act_padding_mask": self.act_padding_mask[robot],
        }
        if "hfield" in rows:
            obs["hfield"] = rows["hfield"]
        self._check_numbers(obs, rows["act_mean"], robot)
        return obs, rows["act_mean"]

    def _check_numbers(self, obs: dict[str, Tensor], act_mean: Tensor, robot: Tensor) -> None:
        """Numbers enter training only if they are finite, and the normalised state within the teacher's clip.

        :raises DataError: naming the shards that hold a NaN, an infinity or an out-of-range state value.
        """
        limit = self.normalizer.clip_obs * (1 + 1e-6)
        bad = ~torch.isfinite(act_mean).all(dim=1) | ~torch.isfinite(obs["proprioceptive"]).all(dim=1)
        bad |= obs["proprioceptive"].abs().amax(dim=1) > limit
        if "hfield" in obs:
            bad |= ~torch.isfinite(obs["hfield"]).all(dim=1)
        if bool(bad.any()):
            names = sorted({self.names[int(r)] for r in robot[bad]})
            raise DataError(
                f"{self.root}: shards {names[:3]}{' …' if len(names) > 3 else ''} hold NaN, infinite or out-of-range"
                f" values (normalised states must lie within ±{self.normalizer.clip_obs:g}); collect them again"
            )

    def _gather(self, maps: list[Rows], index: np.ndarray) -> np.ndarray:
        robot, row = np.divmod(index, self.per_robot)
        out = np.empty((len(index), maps[0].shape[1]), dtype=np.float32)
        for r in np.unique(robot):
            sel = np.flatnonzero(robot == r)
            order = np.argsort(row[sel])
            source = maps[r]
            if isinstance(source, CompressedRows):
                block = np.empty((len(sel), source.width), dtype=np.float32)
                source.rows(row[sel][order], block)
                out[sel[order]] = block
            else:
                out[sel[order]] = source[row[sel][order]]
        return out


__all__ = [
    "DATA_FORMAT",
    "NORMALIZER_FILE",
    "CompressedRows",
    "DataError",
    "ExpertData",
    "complete_shards",
    "compress_rows",
    "features_needed",
    "read_manifest",
    "split_proprioceptive",
    "write_manifest",
    "write_shard",
]
