"""Runs killed at random points (SIGKILL, several seeds) resume to the same result.

The smoke pipeline on a fixed teacher (expert data, two students distilled, every evaluation, the report) is
killed at a random point (the first time once it has written a random number of its files, later after a random
delay), run again with the same command, killed again, … until it completes; its
``results.json`` must equal an uninterrupted run's (timings aside). SIGKILL gives the process no chance to clean
up: locks, half-written files and log rows past the last checkpoint are all left behind.

A PPO run killed at random points and resumed each time ends with the uninterrupted run's final checkpoint, byte
for byte, and logs every iteration exactly once with the same values (its checkpoints hold the environments'
mid-episode states and the random generators: ``baselines.ppo.trainer.run_state``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from baselines.ppo import PRESETS, run_dir, train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
TIMING_KEYS = ("distill_samples_per_s", "latency_s", "timings_s", "done_before_s", "machine")  # where, how fast


def _files(out: Path) -> int:
    return sum(1 for f in out.rglob("*") if f.is_file()) if out.is_dir() else 0


def _run_killed(
    cmd: list[str], out: Path, rng: np.random.Generator, longest: float, files: int, attempts: int = 12
) -> int:
    """Run ``cmd`` (writing into ``out``) again and again, each time SIGKILLed (its whole process group), until a
    run completes. The first run is killed once it has written a random number of files in [1, ``files`` / 2]
    (``files``: what a whole run writes), so at least one kill lands mid-run however loaded the machine is; each
    later run after a random delay in [0.2, ``longest``] s. :return: how many runs were killed."""
    killed = 0
    for attempt in range(attempts):
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            if attempt == 0:
                threshold = int(rng.integers(1, max(1, files // 2) + 1))
                while proc.poll() is None and _files(out) < threshold:
                    time.sleep(0.02)
                if proc.poll() is None:
                    raise subprocess.TimeoutExpired(cmd, 0)
            _, err = proc.communicate(timeout=float(rng.uniform(0.2, longest)))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
            continue
        assert proc.returncode == 0, err.decode()
        return killed
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)  # the last, uninterrupted
    assert proc.returncode == 0, proc.stderr
    return killed


def _without_timings(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "run"
    train(PRESETS["smoke"], out, quiet=True)
    return out / "checkpoints" / "final.pt"


@pytest.fixture(scope="module")
def uninterrupted(teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, float, int]:
    """The whole run's results, its seconds and how many files it wrote."""
    out = tmp_path_factory.mktemp("whole") / "run"
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "baselines.hyperdistill", "--preset", "smoke", "--teacher", str(teacher)]
    subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, check=True, capture_output=True, timeout=600)
    return _results(out), time.perf_counter() - t0, _files(out)


def _results(out: Path) -> dict:
    """A run's results.json with its own folder written as OUT (a near-unseen set lives inside it)."""
    return json.loads((out / "report" / "results.json").read_text().replace(str(out), "OUT"))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_pipeline_killed_at_random_points_resumes_to_the_same_result(
    seed: int, teacher: Path, uninterrupted: tuple[dict, float, int], tmp_path: Path
) -> None:
    expected, seconds, files = uninterrupted
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "baselines.hyperdistill", "--preset", "smoke", "--teacher", str(teacher)]
    killed = _run_killed([*cmd, "--out", str(out)], out, np.random.default_rng(seed), seconds, files)
    assert killed >= 1, "every run finished before its kill: the test tested nothing"
    assert _without_timings(_results(out)) == _without_timings(expected)
    assert not list(out.rglob(".*.tmp")) and not list(out.rglob(".tmp-*"))  # no litter left once complete


@pytest.mark.parametrize("seed", [3])  # more seeds: the deterministic resume test in test_ppo.py covers FT and Obstacle
def test_a_ppo_run_killed_at_random_points_resumes_to_the_uninterrupted_run(seed: int, tmp_path: Path) -> None:
    """Killed again and again and resumed each time, the run ends with the uninterrupted run's final checkpoint,
    byte for byte, and the same log rows (wall-clock columns aside): every env's mid-episode state, the
    return normaliser's accumulator and the random generators are in each checkpoint."""
    iterations = 24
    args = ["--preset", "smoke", "--quiet", "--total-timesteps", str(iterations * 128), "--n-steps", "64"]
    args += ["--checkpoint-every", "3"]
    whole = tmp_path / "whole"
    subprocess.run([sys.executable, "-m", "baselines.ppo", *args, "--out", str(whole)], cwd=ROOT, check=True)
    out = tmp_path / "run"
    first = [sys.executable, "-m", "baselines.ppo", *args, "--out", str(out)]
    rng = np.random.default_rng(seed)
    killed = resumed_mid_run = 0

    def checkpointed() -> bool:
        return (out / "checkpoints").is_dir() and run_dir(out).latest_checkpoint() is not None

    for attempt in range(4):  # killed up to 4 times (a process start takes ~3 s here), then left to finish
        cmd = [*first, "--resume"] if (out / "config.json").is_file() else first
        resumed_mid_run += checkpointed()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        wait = float(rng.uniform(2.0, 6.0))
        if attempt == 0:  # the first kill after the first checkpoint, so that a resume starts mid-run
            deadline = time.time() + 120
            while proc.poll() is None and not checkpointed() and time.time() < deadline:
                time.sleep(0.02)
            wait = float(rng.uniform(0.0, 2.0))
        try:
            _, err = proc.communicate(timeout=wait)
            assert proc.returncode == 0, err.decode()
            break
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed += 1
    else:
        resumed_mid_run += checkpointed()
        cmd = [*first, "--resume"] if (out / "config.json").is_file() else first
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=600)
    assert killed >= 1 and resumed_mid_run >= 1, "no resume started from a checkpoint: the test tested nothing"
    rows = {}
    for run in (whole, out):
        with (run / "progress.csv").open(newline="") as f:
            rows[run] = [
                {k: v for k, v in r.items() if k not in ("wall_time", "steps_per_s")} for r in csv.DictReader(f)
            ]
    assert [int(r["iteration"]) for r in rows[out]] == list(range(1, iterations + 1))
    assert rows[out] == rows[whole]  # returns, losses, KL, … of every iteration
    final = (out / "checkpoints" / "final.pt").read_bytes()
    assert final == (whole / "checkpoints" / "final.pt").read_bytes()
    assert not list(out.rglob(".*.tmp"))
