"""One writer per run folder: a lock file that names its holder, taken over when the holder is gone.

Every command that writes a run folder (PPO, collection, distillation, the pipeline) holds
``FOLDER/.lock`` while it runs. A second command on the same folder is refused at once with a message
naming the process that holds it (pid, host, start time) instead of both writing duplicate rows and
stages. A lock left by a killed process (its pid no longer runs on this host) is taken over; a lock
held from another host (a shared file system) is respected, since its process cannot be checked from
here: delete ``.lock`` by hand if that run is gone.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .files import CheckpointError

LOCK_FILE = ".lock"
F = TypeVar("F", bound=Callable[..., Any])


def _holder(lock: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(lock.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(holder: dict[str, Any]) -> bool:
    """True unless the holder is a process of this host that no longer runs."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def writable_folder(folder: str | os.PathLike[str]) -> Path:
    """``folder``, created if needed, once it is known that this process may write in it: checked by writing a
    probe file (permission bits alone say nothing for root, whose override a container may have dropped).

    :raises CheckpointError: an empty name, a file, a folder that cannot be created or written in (one line).
    """
    if str(folder).strip() == "":  # Path("") would be the current folder
        raise CheckpointError("the output folder is empty; name one")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file, not a folder; choose another output folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write in {folder} ({exc.strerror or exc}); choose another folder (nothing in it was changed)"
        ) from None
    os.close(fd)
    os.unlink(probe)
    return folder


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str = "run") -> Iterator[Path]:
    """Hold ``folder/.lock`` for the duration of the block (the folder is created if needed).

    :param what: how the message names the folder's job (``"PPO run"``, ``"pipeline"``).
    :raises CheckpointError: a live process holds the folder.
    """
    created = not Path(folder).exists()
    folder = writable_folder(folder)
    lock = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except PermissionError:
            raise CheckpointError(f"cannot write in {folder} (permission denied); choose another folder") from None
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None and _alive(holder):
                raise CheckpointError(
                    f"{folder} is in use by another {what}: process {holder.get('pid')} on {holder.get('host')} "
                    f"since {holder.get('started')}; wait for it to end or stop it (a killed run's lock is taken over)"
                ) from None
            lock.unlink(missing_ok=True)  # a killed holder's (or an unreadable) lock: take it over
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise CheckpointError(f"{folder}: could not take {lock} (another process keeps recreating it)")
    try:
        yield lock
    finally:
        if _holder(lock) == me:
            lock.unlink(missing_ok=True)
        if created and not any(folder.iterdir()):  # refused before anything was written: leave no empty folder
            folder.rmdir()


def holds_lock(param: str, what: str) -> Callable[[F], F]:
    """Decorate a function that writes the folder passed as its argument ``param``: it runs holding that
    folder's lock (:func:`folder_lock`)."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            folder = signature.bind(*args, **kwargs).arguments[param]
            with folder_lock(folder, what):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
