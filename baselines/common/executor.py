"""Where per-robot jobs run: local worker processes (default) or Ray tasks on a cluster (``--executor ray``).

Evaluation and expert-data collection are maps of one function over robots, each worker holding one loaded
agent (:func:`~baselines.common.envs.map_with_agent`). With ``executor="ray"`` the workers are Ray actors
(one CPU each) instead of local processes, on the cluster at ``address`` (``""``: a Ray instance already
running in this process, or a new local one). Every job's result depends on its own seeds only, so the
results are the same wherever they ran (``tests/test_executor.py`` compares them with the local executor's).

Ray is optional (``pip install 'unimal-gym[ray]'``); asking for it without it installed is one
:class:`~.config.ConfigError`, not an import crash.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any, TypeVar

from .config import ConfigError

EXECUTORS = ("local", "ray")
"""The executors every ``executor`` config field and ``--executor`` option accept."""

Job = TypeVar("Job")
Result = TypeVar("Result")


def check_executor(executor: str, address: str) -> None:
    """:raises ConfigError: an unknown executor, an address without Ray, or Ray asked for but not installed."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor={executor!r} is not allowed; choose one of {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        raise ConfigError(f"ray_address={address!r} is given but executor={executor!r}; use it with executor=ray")
    if executor == "ray":
        require_ray()


def require_ray() -> ModuleType:
    """The ``ray`` module. :raises ConfigError: it is not installed (naming the extra that installs it)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "executor=ray needs Ray, which is not installed: pip install 'unimal-gym[ray]' (or pip install ray)"
        ) from None
    return ray


def _connect(ray: ModuleType, address: str) -> None:
    """Join the cluster at ``address``, or use the Ray instance of this process (a new local one if none).

    ``ray.init`` installs its own SIGTERM handler; the handlers in place before it are put back, so Ctrl-C and
    SIGTERM still stop a job as :mod:`.interrupt` says (save what is in hand, one line, exit 130).
    """
    if ray.is_initialized():
        return
    with kept_signal_handlers():
        try:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise ConfigError(f"ray_address={address!r}: no Ray cluster answers there ({exc})") from None


@contextlib.contextmanager
def kept_signal_handlers() -> Iterator[None]:
    """Restore this process's SIGINT and SIGTERM handlers on leaving (in the main thread, where they live)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def ray_map_with_agent(
    fn: Callable[[Any, Job], Result],
    jobs: Sequence[Job],
    load: Callable[..., Any],
    load_args: tuple[Any, ...],
    workers: int,
    ordered: bool,
    address: str,
    setup: Callable[[], None],
) -> Iterator[Result]:
    """:func:`~.envs.map_with_agent` on Ray: ``workers`` actors (one CPU each) each run ``setup()``, load the agent
    once and run ``fn(agent, job)`` for the jobs they are handed; results in job order (``ordered``) or as they
    finish."""
    ray = require_ray()
    from ray.util import ActorPool

    _connect(ray, address)
    actor = ray.remote(num_cpus=1)(_AgentWorker)
    pool = ActorPool([actor.remote(setup, load, load_args) for _ in range(min(workers, len(jobs)))])
    mapper = pool.map if ordered else pool.map_unordered
    yield from mapper(lambda worker, job: worker.run.remote(fn, job), list(jobs))


class _AgentWorker:
    """A Ray actor holding one loaded agent (one torch thread: Ray gave it one CPU)."""

    def __init__(self, setup: Callable[[], None], load: Callable[..., Any], load_args: tuple[Any, ...]) -> None:
        import torch

        torch.set_num_threads(1)
        setup()
        self.agent = load(*load_args)

    def run(self, fn: Callable[[Any, Any], Any], job: Any) -> Any:
        return fn(self.agent, job)


__all__ = ["EXECUTORS", "check_executor", "kept_signal_handlers", "ray_map_with_agent", "require_ray"]
