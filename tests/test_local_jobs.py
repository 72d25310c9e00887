"""Stages run at once on this machine (``--jobs N`` with the local executor): results in order and equal to one
after another, errors and Ctrl-C/SIGTERM handled as in this process.

(The smoke pipeline with ``jobs=2`` giving the students of ``jobs=1``: tests/test_pipeline.py.)"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from baselines.common import interrupt
from baselines.common.config import ConfigError
from baselines.common.executor import Stage, StageFailed, run_at_once, run_stages
from baselines.common.progress import Progress


def _double(x: int, log=print) -> int:
    log(f"doubling {x}")
    if x < 0:
        raise ConfigError(f"x={x} is not allowed")
    if x == 99:
        raise ZeroDivisionError("a bug")
    return 2 * x


def _wait_for_stop(folder: str, log=print) -> None:
    """A stage that marks that it runs, then waits for a stop request and saves, as a real stage's loop does."""
    Path(folder).mkdir()
    for _ in range(600):
        interrupt.check(f"saved {Path(folder).name}")
        time.sleep(0.05)
    raise AssertionError("never asked to stop")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _draws_a_bar_on_a_terminal(log=print) -> bool:
    return Progress(3, "PPO", write=log, bar_stream=_Terminal()).has_bar


def _never_stops(folder: str, log=print) -> None:
    Path(folder).mkdir()
    time.sleep(600)


def test_stages_at_once_give_their_results_in_order_with_numbered_progress_lines() -> None:
    lines: list[str] = []
    stages = [Stage(f"s{k}", _double, (k,)) for k in range(3)]
    assert run_stages(stages, "local", log=lines.append, jobs=2) == [0, 2, 4]
    for k in range(3):
        assert f"[{k + 1}] doubling {k}" in lines
        assert f"== [{k + 1}] s{k}: done" in lines
    assert sum("started in worker process" in line for line in lines) == 3
    assert not multiprocessing.active_children()


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_users_error_comes_back_as_itself_after_the_others_finish_and_a_bug_with_its_traceback() -> None:
    lines: list[str] = []
    with pytest.raises(ConfigError, match=r"^x=-1 is not allowed$"):
        run_at_once([Stage("bad", _double, (-1,)), Stage("good", _double, (5,))], 2, lines.append)
    assert "== [2] good: done" in lines and "== [1] bad: failed" in lines  # the running one finished
    with pytest.raises(StageFailed, match=r"(?s)^buggy failed:\nTraceback.*ZeroDivisionError: a bug"):
        run_at_once([Stage("buggy", _double, (99,)), Stage("good", _double, (1,))], 1, lambda line: None)


def _signal_when(folders: list[Path], signum: int, times: int = 1) -> threading.Thread:
    """Send this process ``signum`` (``times`` times, a second apart) once every folder exists."""

    def send() -> None:
        deadline = time.monotonic() + 60
        while not all(f.is_dir() for f in folders) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(times):
            os.kill(os.getpid(), signum)
            time.sleep(1.0)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_sigterm_to_the_main_process_stops_every_running_stage_at_its_safe_point(tmp_path: Path) -> None:
    """SIGTERM to the main process alone (``kill PID``): it is relayed, each running stage saves and stops, the
    stage not started yet stays unstarted, and one Interrupted names what each saved."""
    folders = [tmp_path / "a", tmp_path / "b"]
    stages = [Stage(f.name, _wait_for_stop, (str(f),)) for f in folders] + [Stage("c", _double, (1,))]
    _signal_when(folders, signal.SIGTERM)
    with interrupt.stop_on_signals(), pytest.raises(interrupt.Interrupted) as caught:
        run_at_once(stages, 2, lambda line: None)
    assert caught.value.signal_name == "SIGTERM"
    assert str(caught.value) == "0 of 3 stages finished; [1] saved a; [2] saved b; 3 resume from there"
    assert not multiprocessing.active_children()


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_worker_signalled_alone_saves_and_nothing_more_starts(tmp_path: Path) -> None:
    """``kill PID`` of one worker (its pid is in the progress lines): that stage saves and stops, the waiting one
    is not started, and the call ends in Interrupted (this process got no signal)."""
    lines: list[str] = []
    folder = tmp_path / "a"

    def kill_the_worker() -> None:
        deadline = time.monotonic() + 60
        while not folder.is_dir() and time.monotonic() < deadline:
            time.sleep(0.05)
        (pid,) = [int(line.rsplit(" ", 1)[1]) for line in list(lines) if "started in worker process" in line]
        os.kill(pid, signal.SIGTERM)

    threading.Thread(target=kill_the_worker, daemon=True).start()
    with pytest.raises(interrupt.Interrupted) as caught:
        run_at_once([Stage("a", _wait_for_stop, (str(folder),)), Stage("b", _double, (1,))], 1, lines.append)
    assert caught.value.signal_name == "SIGTERM"
    assert str(caught.value) == "0 of 2 stages finished; [1] saved a; 2 resume from there"
    assert not any(line.startswith("== [2]") for line in lines)


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_ctrl_c_that_reaches_a_worker_while_it_starts_waits_for_its_handlers(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C in a worker's first seconds (its imports, before its handlers) is held until they are in place:
    the stage then stops at its first safe point like any other, with no KeyboardInterrupt traceback."""
    lines: list[str] = []

    def interrupt_the_starting_worker() -> None:
        deadline = time.monotonic() + 60
        while not any("started in worker process" in line for line in list(lines)):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        (pid,) = [int(line.rsplit(" ", 1)[1]) for line in list(lines) if "started in worker process" in line]
        os.kill(pid, signal.SIGINT)

    threading.Thread(target=interrupt_the_starting_worker, daemon=True).start()
    # a worker inherits an ignored SIGINT (this suite run in the background, under nohup) and keeps ignoring it,
    # as a command does: here it must be a terminal's Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(interrupt.Interrupted) as caught:
            run_at_once([Stage("a", _wait_for_stop, (str(tmp_path / "a"),))], 1, lines.append)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught.value.signal_name == "SIGINT"
    assert str(caught.value) == "0 of 1 stages finished; [1] saved a; 1 resume from there"
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_worker_prints_lines_but_draws_no_bar_of_its_own() -> None:
    """Its lines go to the main process; two workers' bars on one terminal would overwrite each other."""
    assert _draws_a_bar_on_a_terminal(log=lambda line: None)  # in this process: a bar on a terminal
    assert run_at_once([Stage("a", _draws_a_bar_on_a_terminal, ())] * 2, 2, lambda line: None) == [False, False]


@pytest.mark.slow  # worker processes start in 2–3 s each
def test_a_second_signal_stops_the_workers_at_once(tmp_path: Path) -> None:
    folders = [tmp_path / "a", tmp_path / "b"]
    _signal_when(folders, signal.SIGTERM, times=2)
    t0 = time.monotonic()
    with interrupt.stop_on_signals(), pytest.raises(KeyboardInterrupt):
        run_at_once([Stage(f.name, _never_stops, (str(f),)) for f in folders], 2, lambda line: None)
    assert time.monotonic() - t0 < 60 and not multiprocessing.active_children()


def test_jobs_on_the_command_line_must_be_a_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from baselines.hyperdistill.__main__ import main

    assert main(["--preset", "smoke", "--jobs", "0", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == "error: jobs=0 is not allowed: 1 ≤ jobs\n"
    assert not (tmp_path / "run").exists()
    assert main(["--preset", "smoke", "--jobs", "2", "--executor", "ray", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "error: jobs=2 is for the local executor; on Ray every stage runs at once already\n"
    )
