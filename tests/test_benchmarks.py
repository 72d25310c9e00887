"""Smoke tests of the benchmark scripts (no timing is asserted: timing belongs in benchmarks/)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import TRAIN_XML, needs_shared

from unimal_gym.envs import UnimalEnv

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@needs_shared
@pytest.mark.parametrize("task", ["ft", "vt"])
def test_env_speed_raw_replay_follows_the_env_exactly(task: str) -> None:
    """The raw side replays the env's own trajectory: the same states, bit for bit, so both time the same physics."""
    env_speed = load_script("env_speed")
    env = UnimalEnv(robot=TRAIN_XML / "floor-1409-5-4-01-13-42-51.xml", task=task, terminate_on_fall=False)
    env.reset(seed=0)
    start = env_speed.snapshot(env)
    ctrls = []
    rng = np.random.default_rng(0)
    for _ in range(25):
        env.step(rng.uniform(-1, 1, 24))
        ctrls.append(env.data.ctrl.copy())
    seconds = env_speed.replay(env.model, start, ctrls, env.frame_skip)
    assert seconds > 0
    np.testing.assert_array_equal(start.qpos, env.data.qpos)
    np.testing.assert_array_equal(start.qvel, env.data.qvel)


@needs_shared
def test_env_speed_measure_once_reports_both_regimes() -> None:
    env_speed = load_script("env_speed")
    path = TRAIN_XML / "floor-5506-3-10-01-14-19-06.xml"
    falls = env_speed.measure_once(path, "ft", steps=150, resets=2, falls=True)
    steady = env_speed.measure_once(path, "ft", steps=150, resets=2, falls=False)
    for r in (falls, steady):
        assert r["limbs"] == 5 and r["env"] > 0 and r["raw"] > 0 and r["reset_ms"] > 0
        assert r["env_with_resets"] <= r["env"]
    assert steady["episode"] == 150  # no falls: one episode
    assert falls["episode"] < 150  # random actions fell this robot within 150 steps


@pytest.mark.slow
def test_gpu_probe_runs_on_the_cpu_at_tiny_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    """The probe's whole path (PPO at the paper's configuration, distillation with few and many robots per
    batch, the projections) runs here, so it is known to run before a GPU machine is at hand."""
    pytest.importorskip("stable_baselines3")
    probe = load_script("gpu_probe")
    probe.main(["--device", "cpu", "--quick", "--ppo-iterations", "2", "--distill-steps", "2"])
    out = capsys.readouterr().out
    assert "| PPO, ModuMorph teacher (tiny, 2 envs) |" in out
    for robots in (4, 16):
        for arch in ("hyperdistill", "mlp"):
            assert f"| distillation, {arch}, {robots} robots per batch |" in out
    # per-robot weight generation: more distinct robots, more FLOPs per sample; the MLP's do not change
    ratios = dict(re.findall(r"  (\w+): time ×[\d.]+, FLOPs ×([\d.]+)", out))
    assert float(ratios["hyperdistill"]) > 1.2 and float(ratios["mlp"]) == 1.0
    contexts = probe.robot_contexts(110)  # the 100 bundled training robots and 10 of their mutants, all distinct
    assert len({c.tobytes() for c in contexts["context"]}) == 110


@pytest.mark.slow
def test_data_checks_runs_on_a_smoke_collection(
    tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    from baselines.collect import COLLECT_PRESETS, collect
    from baselines.ppo import PRESETS, train

    train(replace(PRESETS["smoke"], vec_env="dummy"), tmp_path / "teacher", quiet=True)
    collect(tmp_path / "teacher", tmp_path / "data", replace(COLLECT_PRESETS["smoke"], steps=24), progress=None)
    monkeypatch.setattr(
        sys, "argv", ["data_checks.py", "--data", str(tmp_path / "data"), "--batch", "16", "--repeats", "1"]
    )
    load_script("data_checks").main()
    out = capsys.readouterr().out
    assert "open with checksums" in out and "the check adds" in out


def test_vector_env_benchmark_runs_every_way(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The side-by-side benchmark of the native vector env runs each way and prints its ratios (no timing judged)."""
    vector_env = load_script("vector_env")
    argv = ["vector_env.py", "--envs", "2", "--robots", "2", "--steps", "3", "--rounds", "1", "--skip", "sb3 subproc"]
    monkeypatch.setattr(sys, "argv", argv)
    vector_env.main()
    out = capsys.readouterr().out
    for way in ("one env", "native", "native 1 thread", "gymnasium sync", "sb3 native", "sb3 dummy"):
        assert re.search(rf"^{way} +[\d,]+ ", out, re.MULTILINE), way
    assert "ratio native / one env:" in out and "sb3 subproc" not in out


def test_padded_limbs_benchmark_checks_both_forms_are_one_function(capsys: pytest.CaptureFixture) -> None:
    """The side-by-side benchmark of skipping padded limbs runs both forms on the smoke teacher, finds them the
    same function and prints the ratios (no timing judged)."""
    padded_limbs = load_script("padded_limbs")
    result = padded_limbs.measure("ft", "smoke", None, rounds=1, per_round=1)
    diff, rel = result["check"]
    assert diff < 1e-6 and rel < 1e-4
    assert 0 < result["fill"] < 1  # the smoke robots leave slots padded
    padded_limbs.main(["--preset", "smoke", "--rounds", "1", "--per-round", "1"])
    out = capsys.readouterr().out
    assert re.search(r"^update +[\d.]+ \[", out, re.MULTILINE) and re.search(r"^rollout step ", out, re.MULTILINE)


def test_adam_fused_benchmark_finds_the_same_update_and_prints_every_row(capsys: pytest.CaptureFixture) -> None:
    """The side-by-side benchmark of fused Adam steps both forms (distillation of both laptop students, the PPO
    clip and step of the laptop teacher), finds them the same update to rounding and prints a row each."""
    adam_fused = load_script("adam_fused")
    rows = adam_fused.measure("ft", rounds=1, per_round=1, threads=1, batch_size=32, robots=4)
    assert list(rows) == ["distil hyperdistill", "distil mlp", "PPO clip + step"]
    for row in rows.values():
        diff, change = row["check"]
        assert 0 < change and diff <= 1e-3 * change  # Adam moved every network; both forms to rounding
        assert all(len(t) == 1 and (t > 0).all() for t in row["times"].values())
    adam_fused.main(["--rounds", "1", "--per-round", "1", "--batch-size", "32", "--robots", "4"])
    out = capsys.readouterr().out
    for name in rows:
        assert re.search(rf"^{re.escape(name)} +[\d,]+ +[\d.]+ \[", out, re.MULTILINE), name
