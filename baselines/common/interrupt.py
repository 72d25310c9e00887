"""Ctrl-C and SIGTERM: finish the step in hand, save it, stop the workers, and say how to resume.

Every command runs its body under :func:`stop_on_signals` (through
:func:`~baselines.common.config.run_cli`). The first SIGINT or SIGTERM only sets a flag; the long loops look
at it at their safe points (PPO after an iteration, distillation after an epoch, collection after a robot),
save what they have, and raise :class:`Interrupted`, which the command turns into one line on stderr::

    interrupted by SIGINT: checkpoint …/iter_000123.pt (iteration 123 of 732); resume: python -m baselines.ppo …

and exit status 130. A second signal stops at once (``KeyboardInterrupt``, the same one line without a
checkpoint); every file is written atomically, so what was written stays whole either way.

Worker processes call :func:`ignore_in_worker`: a terminal's Ctrl-C reaches the whole process group, and
without it each worker would die with its own traceback while the main process still needs it to finish the
step. SB3's env subprocesses ignore SIGTERM too (they end when the main process closes their pipe); the
collection and evaluation pools must not, because ``Pool.terminate`` stops its workers with SIGTERM. Where a
SIGTERM does reach the workers (a scheduler signalling every process of a job), the step in hand cannot
finish: the command then says so in its one line, and the last checkpoint stands.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130
"""Exit status of an interrupted command (the shell's convention for SIGINT: 128 + 2)."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[str] = []  # the name of the first signal received, while a body runs


class Interrupted(Exception):
    """A loop stopped at a safe point because a signal asked it to; the message says what was saved.

    :param saved: what is on disk now.
    :param signal_name: the signal that asked (``"SIGINT"``, ``"SIGTERM"``).
    """

    def __init__(self, saved: str, signal_name: str) -> None:
        super().__init__(saved)
        self.signal_name = signal_name


def requested() -> str | None:
    """The name of the signal that asked to stop (``"SIGINT"``, ``"SIGTERM"``), or None."""
    return _requested[0] if _requested else None


def request(signal_name: str) -> None:
    """Ask the running body to stop at its next safe point, as the first signal ``signal_name`` would (a stage in
    a worker process, told by its main process); nothing when a stop was asked for already."""
    if not _requested:
        _requested.append(signal_name)


def check(saved: str) -> None:
    """At a safe point: raise :class:`Interrupted` (saying ``saved``) if a signal asked to stop.

    :param saved: what is on disk now, e.g. ``"checkpoint RUN/checkpoints/iter_000040.pt (iteration 40 of 732)"``.
    """
    if _requested:
        raise Interrupted(saved, _requested[0])


def _handler(signum: int, frame: FrameType | None) -> None:
    if _requested:
        raise KeyboardInterrupt  # the second signal: stop now
    _requested.append(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Install the first-signal-sets-a-flag handlers for SIGINT and SIGTERM (main thread only; elsewhere, and
    in nested use, a no-op), restoring the previous handlers afterwards. A signal the process was told to ignore
    (a job started in the background ignores SIGINT, ``nohup`` SIGHUP) stays ignored."""
    if threading.current_thread() is not threading.main_thread() or any(
        signal.getsignal(s) is _handler for s in _SIGNALS
    ):
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    _requested.clear()
    for s in previous:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested.clear()


def ignore_in_worker(sigterm: bool = True) -> None:
    """In a worker process: ignore SIGINT, and SIGTERM unless ``sigterm`` is False (a ``multiprocessing.Pool``
    worker, which ``Pool.terminate`` stops with SIGTERM); the main process stops the workers when it is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def resume_command(prog: str, argv: Sequence[str] | None, flag: str | None = None) -> str:
    """The command that continues an interrupted run: ``prog`` with the same arguments (``argv``; None: this
    process's), plus ``flag`` (e.g. ``--resume``) when they lack it, shell-quoted."""
    args = list(sys.argv[1:] if argv is None else argv)
    if flag is not None and flag not in args:
        args.append(flag)
    return " ".join([prog, *(shlex.quote(a) for a in args)])


__all__ = [
    "EXIT_INTERRUPTED",
    "Interrupted",
    "check",
    "ignore_in_worker",
    "request",
    "requested",
    "resume_command",
    "stop_on_signals",
]
