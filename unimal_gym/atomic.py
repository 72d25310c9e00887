"""Files written whole or not at all: a temporary file beside the target, renamed over it when complete.

:func:`atomic_write` is the one way the project writes such a file (robot files, PNGs, configs, checkpoints,
exported students, manifests); :func:`temp_beside` creates its temporary file. Unlike :func:`tempfile.mkstemp`,
whose files are private (mode 0600), it opens the file as a plain ``open(path, "w")`` would (mode 0666 less the
process's umask), so that what is renamed into place is as readable as any other file the user writes.

Temporary names are ``.NAME.<8 hex digits>.tmp``, hidden beside ``NAME``; a write that a killed process never
finished leaves one behind, never a half-written ``NAME``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

TRIES = 100
"""New random names tried before giving up (each collision is a 1-in-4-billion event)."""


def temp_beside(path: str | os.PathLike[str]) -> tuple[int, Path]:
    """Create and open a new, empty temporary file in ``path``'s folder for writing.

    :param path: the file the temporary one will replace (its folder must exist).
    :return: an OS-level file descriptor open for writing (the caller closes it) and the temporary file's path.
    :raises OSError: the folder cannot be written in (as ``open`` raises it).
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(TRIES):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path} after {TRIES} tries")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp_path)`` on a new temporary file beside ``path`` (:func:`temp_beside`; the folder is made if
    missing), then rename it over ``path``; on any failure the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(path)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


__all__ = ["atomic_write", "temp_beside"]
