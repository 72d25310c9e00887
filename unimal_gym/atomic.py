"""Files written whole or not at all: a temporary file beside the target, renamed over it when complete.

:func:`temp_beside` creates the temporary file. Unlike :func:`tempfile.mkstemp`, whose files are private
(mode 0600), it opens the file as a plain ``open(path, "w")`` would (mode 0666 less the process's umask), so
that what is renamed into place is as readable as any other file the user writes: robot files, checkpoints
and exported students are shared.

Temporary names are ``.NAME.<8 hex digits>.tmp``, hidden beside ``NAME``; a write that a killed process never
finished leaves one behind, never a half-written ``NAME``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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


__all__ = ["temp_beside"]
