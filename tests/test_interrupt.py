"""Ctrl-C and SIGTERM: the step in hand is finished and saved, workers stop quietly, one line says how to resume.

Real signals are sent: to the whole process group (what a terminal's Ctrl-C does, env subprocesses included) and
to the main process alone (what ``kill PID`` or a scheduler's SIGTERM does). In-process tests send the signal to
this process from a progress callback, at a known point of the loop.
"""

from __future__ import annotations

import csv
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from baselines.collect import COLLECT_PRESETS, collect
from baselines.common import interrupt
from baselines.common.config import ConfigError, run_cli
from baselines.distill import DISTILL_PRESETS, distill
from baselines.ppo import PRESETS, train
from baselines.ppo.__main__ import main as ppo_main

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SMOKE = replace(PRESETS["smoke"], vec_env="dummy")


@pytest.fixture(autouse=True)
def default_sigint():
    """Python's own SIGINT handler for the test, as in a foreground terminal: a run started in the background
    (CI may be one) inherits SIGINT ignored, and an ignored signal is left ignored by design."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _sigint_default_in_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # undo an inherited SIG_IGN before the child's Python starts


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _ppo_command(out: Path, iterations: int) -> list[str]:
    return [
        "--preset", "smoke", "--out", str(out), "--total-timesteps", str(iterations * 128), "--n-steps", "64",
        "--n-envs", "2", "--vec-env", "subproc", "--checkpoint-every", "1000",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("to_group", [True, False], ids=["sigint-to-process-group", "sigterm-to-main-process"])
def test_a_signalled_ppo_run_saves_its_iteration_and_says_how_to_resume(to_group: bool, tmp_path: Path) -> None:
    out, iterations = tmp_path / "run", 20
    proc = subprocess.Popen(
        [sys.executable, "-m", "baselines.ppo", *_ppo_command(out, iterations)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_default_in_child,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(_rows(out / "progress.csv") if (out / "progress.csv").is_file() else []) < 3:
        time.sleep(0.05)
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == interrupt.EXIT_INTERRUPTED, err
    assert "Traceback" not in err and err.count("\n") == 1, err  # one line, no worker tracebacks
    name = "SIGINT" if to_group else "SIGTERM"
    assert err.startswith(f"interrupted by {name}: checkpoint {out}/checkpoints/iter_"), err
    saved = sorted((out / "checkpoints").glob("iter_*.pt"))
    assert len(saved) == 1  # checkpoint_every is 1000: this one was written because of the signal
    step = int(saved[0].stem.split("_")[1])
    assert 3 <= step < iterations and f"(iteration {step} of {iterations})" in err
    assert [int(r["iteration"]) for r in _rows(out / "progress.csv")] == list(range(1, step + 1))

    resume = err.split("; resume: ", 1)[1].strip()
    argv = shlex.split(resume)
    assert argv[:3] == ["python", "-m", "baselines.ppo"] and argv[-1] == "--resume"
    assert ppo_main([*argv[3:], "--total-timesteps", str((step + 2) * 128), "--quiet"]) == 2  # another config
    # the hint resumes the run as it was started (here cut short: same config, fewer iterations is refused above)
    assert ppo_main([*argv[3:], "--quiet"]) == 0
    assert [int(r["iteration"]) for r in _rows(out / "progress.csv")] == list(range(1, iterations + 1))


def test_checkpoints_come_by_time_too_and_old_ones_are_pruned(tmp_path: Path) -> None:
    config = replace(SMOKE, total_timesteps=6 * 128, checkpoint_every=1000)
    train(config, tmp_path / "timed", quiet=True, checkpoint_minutes=1e-9, keep_checkpoints=2)
    names = sorted(p.name for p in (tmp_path / "timed" / "checkpoints").glob("*.pt"))
    assert names == ["final.pt", "iter_000005.pt", "iter_000006.pt"]  # one per iteration, the newest two kept
    train(config, tmp_path / "all", quiet=True, checkpoint_minutes=1e-9, keep_checkpoints=0)
    assert len(list((tmp_path / "all" / "checkpoints").glob("iter_*.pt"))) == 6
    train(config, tmp_path / "by-iteration", quiet=True)  # default: 10 minutes, far longer than this run
    assert sorted(p.name for p in (tmp_path / "by-iteration" / "checkpoints").glob("*.pt")) == [
        "final.pt",
        "iter_000006.pt",
    ]
    with pytest.raises(ConfigError, match=r"checkpoint_minutes=0.0 is not allowed: 0 < checkpoint_minutes"):
        train(config, tmp_path / "bad", checkpoint_minutes=0.0)
    assert not (tmp_path / "bad").exists()


def test_a_resumed_run_says_where_it_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(__import__("json").dumps(replace(SMOKE, total_timesteps=2 * 128).to_dict()))
    train(replace(SMOKE, total_timesteps=2 * 128), out, resume=True)  # killed before its first checkpoint
    assert f"{out}: no checkpoint yet, from 0" in capsys.readouterr().out
    train(replace(SMOKE, total_timesteps=2 * 128), out, resume=True)
    assert f"resuming from iteration 2 ({out}/checkpoints/iter_000002.pt)" in capsys.readouterr().out


def _signal_on(prefix: str):
    """A progress callback that sends this process SIGINT when it is given a line starting with ``prefix``."""

    def progress(line: str) -> None:
        if line.startswith(prefix):
            os.kill(os.getpid(), signal.SIGINT)

    return progress


def test_distillation_stops_after_the_epoch_in_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teacher = tmp_path / "teacher"
    train(SMOKE, teacher, quiet=True)
    data = tmp_path / "data"
    collect(teacher, data, replace(COLLECT_PRESETS["smoke"], steps=24), progress=None)
    config = replace(DISTILL_PRESETS["smoke"], epochs=6, checkpoint_every=1000, eval_every=0)

    def body() -> None:
        distill(data, config, tmp_path / "student", progress=_signal_on("[epoch 2/"))  # at epoch 2's end

    assert run_cli(body, resume="python -m baselines.distill … --resume") == interrupt.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.startswith("interrupted by SIGINT: checkpoint ") and "(epoch 2 of 6)" in err, err
    assert err.rstrip().endswith("resume: python -m baselines.distill … --resume")
    assert [int(r["epoch"]) for r in _rows(tmp_path / "student" / "progress.csv")] == [1, 2]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    distill(data, config, tmp_path / "student", resume=True, progress=None)
    assert [int(r["epoch"]) for r in _rows(tmp_path / "student" / "progress.csv")] == list(range(1, 7))


def test_collection_stops_after_the_robot_in_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teacher = tmp_path / "teacher"
    train(SMOKE, teacher, quiet=True)
    config = replace(COLLECT_PRESETS["smoke"], steps=24)
    out = tmp_path / "data"
    assert run_cli(lambda: collect(teacher, out, config, progress=_signal_on("[1/"))) == interrupt.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.startswith("interrupted by SIGINT: 1 of ") and "robots collected" in err
    assert err.rstrip().endswith("run the same command again to continue")
    manifest = collect(teacher, out, config, progress=None)
    assert manifest["complete"] and len(manifest["counts"]) == len(manifest["robots"])


def test_a_second_signal_stops_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested() == "SIGINT"
        os.kill(os.getpid(), signal.SIGINT)  # raises KeyboardInterrupt here
        raise AssertionError("not reached")

    assert run_cli(body, resume="X --resume") == interrupt.EXIT_INTERRUPTED
    assert capsys.readouterr().err == (
        "interrupted: stopped at once (files written so far are whole); resume: X --resume\n"
    )
    assert interrupt.requested() is None


def test_an_ignored_signal_stays_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with interrupt.stop_on_signals():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # SIGTERM is still caught
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_resume_command_quotes_and_adds_the_flag() -> None:
    assert (
        interrupt.resume_command("python -m baselines.ppo", ["--out", "my run", "--preset", "laptop"], "--resume")
        == "python -m baselines.ppo --out 'my run' --preset laptop --resume"
    )
    assert interrupt.resume_command("p", ["--resume"], "--resume") == "p --resume"


def test_workers_killed_by_the_signal_end_in_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    """A scheduler's SIGTERM to every process of the job kills the pool workers: the step in hand cannot finish
    (the main process sees a closed pipe), and the command still ends in its one line."""

    def body() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        raise EOFError  # what multiprocessing raises when a worker died mid-step

    assert run_cli(body, resume="X") == interrupt.EXIT_INTERRUPTED
    assert capsys.readouterr().err == (
        "interrupted by SIGTERM: the signal stopped the worker processes before the step in hand finished; "
        "the last checkpoint stands; resume: X\n"
    )
    with pytest.raises(EOFError):  # without a signal it is a bug, and shows as one
        run_cli(lambda: (_ for _ in ()).throw(EOFError))


def test_a_pool_stops_its_workers_when_done(tmp_path: Path) -> None:
    """Pool workers ignore Ctrl-C but not SIGTERM, which ``Pool.terminate`` uses: a pool of 2 ends (no hang)."""
    from baselines.common.envs import map_with_agent

    assert list(map_with_agent(_square, [1, 2, 3], _no_agent, (), workers=2)) == [1, 4, 9]


def _no_agent() -> None:
    return None


def _square(agent: None, x: int) -> int:
    return x * x
