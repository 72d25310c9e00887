"""Writing files so that nothing is ever half-written, and reading the project's artifacts by kind.

Every file a run writes goes to a temporary name in the same folder and is renamed over the real
one (:func:`atomic_write`), so an interruption leaves either the old or the new file, never a
truncated one. The project's torch artifacts are dicts saved with ``torch.save`` that name
themselves: ``kind`` (what they are, one of :data:`KINDS`) and ``format`` (its version). Readers ask
for the kind they expect (:func:`read_artifact`) or look at it first (:func:`artifact_kind`); no
reader ever guesses by trying another reader.

=====================  ==================================  =====================================
kind                   written by                          read by
=====================  ==================================  =====================================
``ppo-checkpoint``     :mod:`baselines.ppo`                resume, every stage as the teacher
``distill-checkpoint`` :mod:`baselines.distill`            resume, evaluation, export
``exported-student``   :mod:`baselines.export` (``.npz``)  :mod:`unimal_gym.deploy`, evaluation
=====================  ==================================  =====================================
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unimal_gym.atomic import atomic_write  # re-exported: the baselines' one way to write a file
from unimal_gym.deploy import FORMAT as STUDENT_FORMAT
from unimal_gym.deploy import KIND as EXPORTED_STUDENT

from . import legacy
from .config import UserError

PPO_CHECKPOINT = "ppo-checkpoint"
DISTILL_CHECKPOINT = "distill-checkpoint"
KINDS = (PPO_CHECKPOINT, DISTILL_CHECKPOINT, EXPORTED_STUDENT)
FORMATS = {PPO_CHECKPOINT: "unimal-ppo-2", DISTILL_CHECKPOINT: "unimal-distill-2"}
"""The current format of each torch kind. Files of the formats before it (``unimal-ppo-1``,
``unimal-distill-1``, which named no kind) are read through :mod:`.legacy`."""
LEGACY_KINDS = {legacy.PPO_FORMAT_1: PPO_CHECKPOINT, legacy.DISTILL_FORMAT_1: DISTILL_CHECKPOINT}


class CheckpointError(UserError, RuntimeError):
    """A checkpoint, exported student or run directory that cannot be used: missing, corrupted, of another
    kind, or not matching the configuration."""


SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def safe_name(name: object, where: str) -> str:
    """A name read from a file (a robot, a set) that is about to become part of a path: one path component
    of letters, digits and ``._+-``, not starting with a dot, at most 200 characters.

    :raises UserError: anything else (``../x``, ``a/b``, an empty or non-string name), naming ``where``.
    """
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        raise UserError(f"{where}: {name!r} is not a valid name (one path component of letters, digits, '._+-')")
    return name


def write_json(path: str | os.PathLike[str], data: Any, indent: int | None = 1) -> None:
    """Write ``data`` as JSON atomically."""
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=indent) + "\n"))


def read_json(path: str | os.PathLike[str], error: type[Exception] = UserError) -> Any:
    """The JSON value in ``path``.

    :raises error: (default :class:`UserError`) the file cannot be read or is not JSON, naming the path.
    """
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} is broken: {exc}") from None


def save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """Write an ``.npz`` atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def append_csv(path: str | os.PathLike[str], fieldnames: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Append rows to a CSV file, writing the header first when the file is new."""
    path = Path(path)
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def write_csv(path: str | os.PathLike[str], fieldnames: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a whole CSV file atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fieldnames))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """All rows of a CSV file as dicts; ``[]`` when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------- artifacts
def save_artifact(path: str | os.PathLike[str], kind: str, payload: Mapping[str, Any]) -> None:
    """``torch.save`` a dict that names its ``kind`` and ``format``, atomically.

    The bytes depend on the contents only: torch names the records inside its zip after the file it writes,
    so the archive is made in memory (torch's fixed name) and then written; and pickle writes a string seen
    before as a reference to it, so every string is made a new object first (whether two equal strings were one
    object depends on the run's history, e.g. a resumed run's names come from its checkpoint). Identical runs,
    and a resumed run and the uninterrupted one, write identical files (the pipeline keys stages by file
    contents).

    :param kind: one of the torch kinds of :data:`FORMATS`.
    :param payload: tensors, numbers, strings and containers of them (what ``weights_only`` loading reads).
    """
    state = {"kind": kind, "format": FORMATS[kind], **payload}
    state[CONTENT_KEY] = content_digest(state)
    buffer = io.BytesIO()
    torch.save(_unshared_strings(state), buffer)
    atomic_write(path, lambda p: p.write_bytes(buffer.getbuffer()))


def _unshared_strings(value: Any) -> Any:
    """``value`` with every string (keys too) a new object of its own, dicts, lists and tuples rebuilt."""
    if isinstance(value, str):
        return value if len(value) < 2 else (value + " ")[:-1]  # 0/1-character strings are shared singletons
    if isinstance(value, Mapping):
        items = ((_unshared_strings(k), _unshared_strings(v)) for k, v in value.items())
        if not isinstance(value, OrderedDict):
            return dict(items)
        rebuilt = OrderedDict(items)  # a module's state_dict, with torch's version metadata
        if hasattr(value, "_metadata"):
            rebuilt._metadata = value._metadata  # type: ignore[attr-defined]
        return rebuilt
    if isinstance(value, (list, tuple)):
        return type(value)(_unshared_strings(v) for v in value)
    return value


CONTENT_KEY = "content_sha256"
"""The key under which an artifact stores the digest of everything else in it."""


def content_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 of an artifact's contents: every key, number, string and tensor (dtype, shape and bytes), in a
    fixed order, independent of how torch lays the file out. A reader recomputes it to catch damaged files."""
    digest = hashlib.sha256()

    def walk(where: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key in sorted(value, key=str):
                if not (where == "" and key == CONTENT_KEY):
                    walk(f"{where}/{key}", value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"{where}:{type(value).__name__}{len(value)}".encode())
            for i, item in enumerate(value):
                walk(f"{where}[{i}]", item)
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{where}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(value, np.ndarray):
            digest.update(f"{where}:{value.dtype}:{value.shape}".encode() + np.ascontiguousarray(value).tobytes())
        else:
            digest.update(f"{where}={value!r}".encode())

    walk("", state)
    return digest.hexdigest()


def check_content(path: Path, data: Mapping[str, Any]) -> None:
    """An artifact's stored digest matches its contents (files written before digests were stored pass),
    and its floating-point tensors are finite.

    :raises CheckpointError: a damaged file or non-finite numbers, naming the file (and the tensor).
    """
    stored = data.get(CONTENT_KEY)
    if stored is not None and stored != content_digest(data):
        raise CheckpointError(f"{path}: its contents do not match their checksum (a damaged file); use another copy")

    def walk(where: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{where}/{key}", item)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(f"{where}[{i}]", item)
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: {where} holds NaN or infinite values")

    walk("", data)


def _load_torch(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} is not one of this project's checkpoints")
    return legacy.upgrade_checkpoint(data, LEGACY_KINDS, FORMATS)


def artifact_kind(path: str | os.PathLike[str]) -> str:
    """The ``kind`` a file names itself by (``.npz`` files: an exported student's).

    :raises CheckpointError: missing, unreadable, or not one of the project's artifacts.
    """
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                kind = str(npz["kind"]) if "kind" in npz.files else ""
                if not kind and "format" in npz.files and str(npz["format"]) == STUDENT_FORMAT:
                    kind = EXPORTED_STUDENT  # exported before files named their kind
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:  # as deploy's loader
            why = f"{type(exc).__name__}: {exc}"
            raise CheckpointError(f"{path} cannot be read as an exported student ({why})") from None
        if kind != EXPORTED_STUDENT:
            raise CheckpointError(f"{path} is not an exported student (kind {kind or 'missing'!r})")
        return kind
    kind = _load_torch(path).get("kind")
    if kind not in FORMATS:
        raise CheckpointError(f"{path} names no known kind ({kind!r}); expected one of {', '.join(KINDS)}")
    return str(kind)


def read_artifact(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Load a torch artifact (on the CPU, tensors only) and check that it is a ``kind`` of the current format.

    :raises CheckpointError: missing, unreadable, another kind, or an older format.
    """
    path = Path(path)
    data = _load_torch(path)
    if data.get("kind") != kind:
        raise CheckpointError(f"{path} is a {data.get('kind') or 'foreign'!s} file, not a {kind}")
    if data.get("format") != FORMATS[kind]:
        raise CheckpointError(
            f"{path} has format {data.get('format')!r}; this version reads {FORMATS[kind]!r} (re-run the stage)"
        )
    check_content(path, data)
    return data


def to_payload(value: Any) -> Any:
    """Numpy arrays (at any depth of dicts, lists and tuples) → tensors, for an artifact's payload; exact."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, Mapping):
        return {k: to_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_payload(v) for v in value)
    return value


def from_payload(value: Any) -> Any:
    """Inverse of :func:`to_payload`: tensors (at any depth) → numpy arrays."""
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, Mapping):
        return {k: from_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(from_payload(v) for v in value)
    return value


def tensors(arrays: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Numpy arrays (or numbers) → tensors, for an artifact's payload; values are kept exactly."""
    return {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()}


def arrays(tensors_: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Inverse of :func:`tensors`."""
    return {k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in tensors_.items()}


__all__ = [
    "DISTILL_CHECKPOINT",
    "EXPORTED_STUDENT",
    "KINDS",
    "PPO_CHECKPOINT",
    "CheckpointError",
    "append_csv",
    "arrays",
    "artifact_kind",
    "atomic_write",
    "file_sha256",
    "from_payload",
    "read_artifact",
    "read_csv",
    "save_artifact",
    "save_npz",
    "tensors",
    "to_payload",
    "write_csv",
    "write_json",
]
