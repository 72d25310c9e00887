"""Where the work runs: this machine (default) or a Ray cluster (``--executor ray``).

Two kinds of work:

- **Per-robot jobs.** Evaluation and expert-data collection are maps of one function over robots, each
  worker holding one loaded agent (:func:`~baselines.common.envs.map_with_agent`). With ``executor="ray"``
  every job is a Ray task (one CPU) instead of a job of a local process, the agent loaded once per Ray
  worker process.
- **Stages.** A PPO run or a distillation is one :class:`Stage` with the CPUs and GPUs it needs;
  :func:`run_stages` runs a list of them one after another in this process (local), up to ``jobs`` at once
  in worker processes of this machine (local, ``jobs`` > 1), or all at once as Ray tasks (ray), each
  declaring its needs, fitted to the cluster (:func:`fit_needs`).

On Ray, the cluster is the one at ``address`` (``""``: a Ray instance already running in this process, or a
new local one). Every job's and stage's result depends on its own seeds and settings only, so the results
are the same wherever they ran (``tests/test_executor.py`` compares them with the local executor's).

Ray is optional (``pip install 'unimal-gym[ray]'``); asking for it without it installed is one
:class:`~.config.ConfigError`, not an import crash.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from types import ModuleType
from typing import Any, TypeVar

from . import interrupt
from .config import ConfigError, UserError
from .progress import lines_only
from .threads import torch_threads

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


def connect(address: str) -> ModuleType:
    """Join the Ray cluster at ``address`` (see :func:`_connect`). :return: the ``ray`` module.
    :raises ConfigError: Ray is not installed, or nothing answers at ``address``."""
    ray = require_ray()
    _connect(ray, address)
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
    one_cpu: Callable[[], contextlib.AbstractContextManager[Any]],
) -> Iterator[Result]:
    """:func:`~.envs.map_with_agent` on Ray: every job a Ray task (one CPU), at most ``workers`` at a time; the
    task loads the agent (once per Ray worker process: a worker that ran a job of this agent before keeps it)
    and returns ``fn(agent, job)`` with one torch thread and within ``one_cpu()`` (the caller's settings for a
    process given one CPU, undone afterwards: Ray reuses the process for other tasks); results in job order
    (``ordered``) or as they finish. When the consumer stops early (an error, an interrupt), the tasks still
    running are cancelled, so none goes on writing into a folder its caller has left.

    Ray keeps its worker processes between tasks, so one evaluation after another pays no process start.
    """
    ray = connect(address)
    remote = ray.remote(num_cpus=1)(_run_job)
    jobs = list(jobs)
    queue = iter(enumerate(jobs))
    running: dict[Any, int] = {}
    done: dict[int, Any] = {}
    emitted = 0

    def submit() -> None:
        for k, job in queue:
            running[remote.remote(one_cpu, load, load_args, fn, job)] = k
            if len(running) >= max(1, workers):
                return

    try:
        submit()
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            done[running.pop(ref)] = ray.get(ref)
            submit()
            if ordered:
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
            else:
                yield from done.values()
                done.clear()
    finally:
        for ref in running:  # only when stopped early
            ray.cancel(ref)


_WORKER_AGENT: dict[str, Any] = {}  # in a Ray worker process: the last agent loaded, by what loaded it


def _file_stamp(arg: Any) -> tuple[int, int] | None:
    """(modification time, size) of ``arg`` when it names a file, else None."""
    try:
        stat = os.stat(arg) if isinstance(arg, str | os.PathLike) else None
    except (OSError, ValueError):
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat is not None else None


def _run_job(
    one_cpu: Callable[[], contextlib.AbstractContextManager[Any]],
    load: Callable[..., Any],
    load_args: tuple[Any, ...],
    fn: Callable[[Any, Any], Any],
    job: Any,
) -> Any:
    """One job in a Ray worker, its agent loaded once per process; one torch thread and ``one_cpu()`` while it
    runs (Ray gave it one CPU), the process's settings restored afterwards."""
    with torch_threads(1), one_cpu():
        key = repr((load, load_args, [_file_stamp(a) for a in load_args]))  # a rewritten checkpoint: anew
        if key not in _WORKER_AGENT:
            _WORKER_AGENT.clear()
            _WORKER_AGENT[key] = load(*load_args)
        return fn(_WORKER_AGENT[key], job)


# ---------------------------------------------------------------------------------------------- stages
CANCEL_GRACE_S = 30.0
"""Seconds cancelled Ray stages get to unwind (release their folder locks) before they are killed."""


@dataclass(frozen=True)
class Stage:
    """One heavy step of a pipeline: ``fn(*args, log=...)``, needing ``cpus`` CPUs and ``gpus`` GPUs.

    ``fn`` must be a module-level function (Ray sends it to another process) that writes its results to
    files and resumes where an earlier, interrupted call stopped; ``log`` receives its progress lines
    (on Ray: the worker's output).
    """

    name: str
    """How progress lines name it, e.g. ``"ft: distilling mlp (seed 1)"``."""
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cpus: int = 1
    """CPUs it keeps busy (PPO: its env threads; distillation: its torch threads and evaluation workers)."""
    gpus: float = 0.0
    """GPUs it uses when the cluster has them (a fraction shares one); without: 0, and it runs on CPUs."""


def fit_needs(stage: Stage, nodes: Sequence[Mapping[str, float]]) -> tuple[int, float]:
    """``(cpus, gpus)`` to ask Ray for, so that at least one node can run the stage (a task that fits no node
    would wait forever): its GPUs with no more CPUs than the largest node holding that many GPUs has; where no
    node has the GPUs, none (it trains on CPUs) and no more CPUs than the largest node has.

    :param nodes: each alive node's resources (``{"CPU": 16.0, "GPU": 1.0, ...}``, as in ``ray.nodes()``).
    """
    with_gpus = [n for n in nodes if stage.gpus > 0 and float(n.get("GPU", 0)) >= stage.gpus]
    gpus = stage.gpus if with_gpus else 0.0
    most_cpus = max((int(n.get("CPU", 0)) for n in (with_gpus or nodes)), default=1)
    return max(1, min(stage.cpus, most_cpus)), gpus


def run_stages(
    stages: Sequence[Stage], executor: str, address: str = "", log: Callable[[str], None] = print, jobs: int = 1
) -> list[Any]:
    """Run every stage; their results in order.

    ``local``: one after another in this process; with ``jobs`` > 1, up to ``jobs`` at once, each in a worker
    process of its own (:func:`run_at_once`). ``ray``: all at once as Ray tasks on the cluster at
    ``address``, each asking for :func:`fit_needs`; when one fails, the others still finish (their work is
    kept) and then the first failure is raised (a :class:`~.config.UserError` as itself: one line). A
    Ctrl-C/SIGTERM (:mod:`.interrupt`) cancels the running tasks, which resume from their last checkpoints
    when the command is run again, and raises :class:`~.interrupt.Interrupted`.
    """
    if executor != "ray":
        if jobs > 1 and len(stages) > 1:
            return run_at_once(stages, jobs, log)
        return [stage.fn(*stage.args, log=log) for stage in stages]
    if not stages:
        return []
    ray = connect(address)
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    remote = ray.remote(_run_stage)
    refs = {}
    for stage in stages:
        cpus, gpus = fit_needs(stage, nodes)
        where = f"{cpus} CPU" + (f", {gpus:g} GPU" if gpus else "")
        log(f"== {stage.name}: on Ray ({where})")
        refs[remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=0).remote(stage.fn, stage.args, cpus)] = stage
    results: dict[Any, Any] = {}
    failures: list[BaseException] = []
    pending = list(refs)
    while pending:
        finished, pending = ray.wait(pending, num_returns=1, timeout=1.0)
        for ref in finished:
            try:
                results[ref] = ray.get(ref)
                log(f"== {refs[ref].name}: done")
            except ray.exceptions.RayError as exc:  # the stage's own error, or a lost worker or node
                cause = getattr(exc, "cause", None)
                failures.append(cause if isinstance(cause, UserError | ConfigError) else exc)
                log(f"== {refs[ref].name}: failed")
        if interrupt.requested() is not None and pending:
            _cancel(ray, pending)
            interrupt.check(
                f"{len(results)} of {len(refs)} stages finished; the {len(pending)} running on Ray were stopped and "
                "resume from their last checkpoints"
            )
    if failures:
        raise failures[0]
    return [results[ref] for ref in refs]


class StageFailed(RuntimeError):
    """A stage failed in a worker process with an error that is not a user's (a bug: its traceback is the message),
    or its worker process died without a word."""


@dataclass
class _Running:
    """A stage running in a worker process: the process, its message pipe and its stop pipe."""

    number: int
    stage: Stage
    process: Any
    messages: Any
    stop: Any


def run_at_once(stages: Sequence[Stage], jobs: int, log: Callable[[str], None] = print) -> list[Any]:
    """Run the stages on this machine, up to ``jobs`` at once, each in a new (spawned) worker process; their
    results in order. A worker computes exactly what the stage computes in this process (same seeds, same
    default torch threads), so the results are those of one after another.

    The lines a stage gives its ``log`` come back to ``log``, each prefixed with the stage's number (``[2] [epoch
    3/30] …``, ``[1] [12/488] steps …``). When a stage fails, the running ones finish
    (their work is kept), none is started, and the first failure is raised (a :class:`~.config.UserError`, or the
    ``EOFError`` of a worker pool that a signal killed, as itself: one line; any other error as
    :class:`StageFailed` with the worker's traceback). Ctrl-C or SIGTERM (:mod:`.interrupt`) to this process, or
    to a worker alone: every running stage is asked to stop at its next safe point (it saves, as it would in this
    process), none is started, and :class:`~.interrupt.Interrupted` says what each saved; a second signal stops
    the workers at once. A stop asked for after the last stage finished is left to the caller's next safe point.
    """
    context = multiprocessing.get_context("spawn")
    waiting = list(enumerate(stages, start=1))
    running: dict[Any, _Running] = {}
    results: dict[int, Any] = {}
    failures: list[BaseException] = []
    saved: dict[int, str] = {}
    stopped_by: list[str] = []  # the signal that stopped a worker (a worker may be signalled alone)
    relayed = False

    def go_on() -> bool:
        return not failures and not saved and interrupt.requested() is None

    try:
        while running or (waiting and go_on()):
            while waiting and len(running) < jobs and go_on():
                number, stage = waiting.pop(0)
                messages, child_messages = context.Pipe(duplex=False)
                child_stop, stop = context.Pipe(duplex=False)
                process = context.Process(
                    target=_stage_worker, args=(child_messages, child_stop, stage), name=f"stage-{number}"
                )
                with _sigint_blocked():  # inherited: a Ctrl-C waits for the worker's handlers (see _stage_worker)
                    process.start()
                child_messages.close()
                child_stop.close()
                running[messages] = _Running(number, stage, process, messages, stop)
                log(f"== [{number}] {stage.name}: started in worker process {process.pid}")
            if interrupt.requested() is not None and not relayed:
                for job in running.values():
                    _send(job.stop, interrupt.requested())
                relayed = True
            for conn in multiprocessing.connection.wait(list(running), timeout=1.0):
                job = running[conn]
                try:
                    kind, payload = conn.recv()
                except EOFError:  # the worker died without a word (killed)
                    job.process.join()
                    kind, payload = "died", job.process.exitcode
                if kind == "log":
                    log(f"[{job.number}] {payload}")
                    continue
                del running[conn]
                job.process.join()
                conn.close()
                job.stop.close()
                if kind == "done":
                    results[job.number] = payload
                    log(f"== [{job.number}] {job.stage.name}: done")
                elif kind == "interrupted":
                    saved[job.number] = f"[{job.number}] {payload[0]}"
                    stopped_by.append(payload[1])
                elif kind == "died" and interrupt.requested() is not None:  # the signal reached it while it started
                    saved[job.number] = f"[{job.number}] stopped before its first safe point (exit code {payload})"
                elif kind == "died":
                    failures.append(StageFailed(f"{job.stage.name}: its worker process died (exit code {payload})"))
                    log(f"== [{job.number}] {job.stage.name}: died")
                else:
                    failures.append(payload)
                    log(f"== [{job.number}] {job.stage.name}: failed")
    except BaseException:  # a second signal, or an error of this process: stop the workers now
        _stop_now(list(running.values()))
        raise
    if failures:
        raise failures[0]
    if len(results) < len(stages):  # stopped by a signal, to this process or to a worker alone
        message = (
            f"{len(results)} of {len(stages)} stages finished; "
            + "".join(f"{saved[n]}; " for n in sorted(saved))
            + f"{len(stages) - len(results)} resume from there"
        )
        raise interrupt.Interrupted(message, interrupt.requested() or stopped_by[0])
    return [results[number] for number in range(1, len(stages) + 1)]


def _send(conn: Any, message: Any) -> None:
    """Send on a pipe whose other end may be gone (a worker that has just finished)."""
    with contextlib.suppress(OSError):
        conn.send(message)


def _stop_now(jobs: Sequence[_Running]) -> None:
    """Stop running workers at once: SIGTERM (a worker already asked to stop then stops where it is), and after
    :data:`CANCEL_GRACE_S` SIGKILL."""
    for job in jobs:
        job.process.terminate()
    for job in jobs:
        job.process.join(CANCEL_GRACE_S)
        if job.process.is_alive():
            job.process.kill()
            job.process.join()


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread for the block; a process started inside inherits the blocked signal.

    multiprocessing's resource tracker is started first if it is not running: starting it unblocks SIGINT in the
    calling thread (it blocks SIGINT and SIGTERM around its own start, then unblocks both)."""
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stage_worker(messages: Any, stop: Any, stage: Stage) -> None:
    """A stage in a worker process of :func:`run_at_once`: progress lines and the outcome go to ``messages``;
    a signal name arriving on ``stop`` asks the stage to stop at its next safe point, as a signal would.

    The worker handles Ctrl-C and SIGTERM as a command does (:func:`~.interrupt.stop_on_signals`): a terminal's
    Ctrl-C reaches it directly, a SIGTERM to the main process alone comes relayed on ``stop``."""

    def listen() -> None:
        try:
            interrupt.request(stop.recv())
        except (EOFError, OSError):  # the main process is gone (it closes the pipe only after the stage ends)
            interrupt.request("SIGTERM")

    with interrupt.stop_on_signals():
        # SIGINT was blocked from the process's start (run_at_once): a Ctrl-C that came while it imported is
        # delivered now, to the handler, instead of a KeyboardInterrupt traceback from the imports
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        lines_only()  # its lines are printed by the main process; a bar of its own would garble them
        threading.Thread(target=listen, daemon=True).start()  # inside: stop_on_signals starts with no request
        try:
            outcome: tuple[str, Any] = ("done", stage.fn(*stage.args, log=lambda line: messages.send(("log", line))))
        except interrupt.Interrupted as exc:
            outcome = ("interrupted", (str(exc), exc.signal_name))
        except BaseException as exc:
            # a user's error (one line) and a worker pool killed by a signal (EOFError, one line too: run_cli)
            # come back as themselves; anything else is a bug and comes back with its traceback
            own = isinstance(exc, UserError | ConfigError | EOFError) and _picklable(exc)
            outcome = ("failed", exc if own else StageFailed(f"{stage.name} failed:\n{traceback.format_exc()}"))
    _send(messages, outcome)


def _picklable(exc: BaseException) -> bool:
    """Whether an exception survives the trip to the main process as itself."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def _run_stage(fn: Callable[..., Any], args: tuple[Any, ...], cpus: int) -> Any:
    """A stage in a Ray worker: torch's default thread count is the CPUs it asked for (the process may have
    run other tasks before); its progress lines go to the worker's output."""
    with torch_threads(cpus):
        return fn(*args, log=print)


def _cancel(ray: ModuleType, refs: list[Any]) -> None:
    """Cancel running Ray tasks: first as an interrupt (``finally`` blocks run, folder locks are released), then,
    after :data:`CANCEL_GRACE_S`, by killing their workers."""
    for ref in refs:
        ray.cancel(ref, force=False)
    _, stuck = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
    for ref in stuck:
        ray.cancel(ref, force=True)


__all__ = [
    "EXECUTORS",
    "Stage",
    "StageFailed",
    "check_executor",
    "connect",
    "fit_needs",
    "kept_signal_handlers",
    "ray_map_with_agent",
    "require_ray",
    "run_at_once",
    "run_stages",
]
