"""Evaluation harness: checkpoint round trip, reports, reference policies, unloadable robots, bad checkpoints."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from conftest import TRAIN_XML, needs_shared

from baselines.common import agents
from baselines.common.agents import TeacherAgent as CheckpointAgent
from baselines.common.agents import load_agent
from baselines.common.config import ConfigError
from baselines.common.envs import robot_files
from baselines.common.files import CONTENT_KEY, PPO_CHECKPOINT, CheckpointError, content_digest, read_artifact
from baselines.evaluate import EvalConfig, evaluate, main
from baselines.ppo import PRESETS, make_vec_env, train

SMOKE = replace(PRESETS["smoke"], vec_env="dummy", total_timesteps=256)


def load_checkpoint(path: Path) -> dict:
    return read_artifact(path, PPO_CHECKPOINT)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "run"
    train(SMOKE, out, quiet=True)
    return out


def test_checkpoint_round_trip_acts_like_the_trained_policy(run_dir: Path) -> None:
    """A reloaded checkpoint gives the trained policy's deterministic actions on VecNormalize'd observations."""
    from baselines.ppo import build_model

    state = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    venv = make_vec_env(SMOKE, robot_files("train", 3))
    try:
        model = build_model(SMOKE, venv)
        model.policy.load_state_dict(state["policy"])
        stats = state["obs_norm"]
        venv.obs_rms["proprioceptive"].mean = stats["obs_mean"].numpy()
        venv.obs_rms["proprioceptive"].var = stats["obs_var"].numpy()
        venv.training = False
        raw = venv.venv.reset()
        normalised = venv.normalize_obs(raw)
        expected, _ = model.predict(normalised, deterministic=True)
    finally:
        venv.close()
    agent = CheckpointAgent(run_dir / "checkpoints" / "final.pt")
    got = agent.act(raw, deterministic=True)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert agent.iteration == SMOKE.iterations


@needs_shared
@pytest.mark.slow
def test_evaluate_writes_reports_and_skips_unloadable_robots(run_dir: Path, tmp_path: Path) -> None:
    robots = tmp_path / "robots"
    robots.mkdir()
    for f in sorted(TRAIN_XML.glob("*.xml"))[:2]:
        shutil.copy(f, robots / f.name)  # a temporary copy, deleted with tmp_path
    (robots / "broken.xml").write_text("<mujoco><worldbody>")
    out = tmp_path / "report"
    summary = evaluate(str(run_dir), [str(robots), "test"], EvalConfig(episodes=2, limit=3, workers=2), out)
    assert summary["robots"]["robots"] == 2 and summary["robots"]["skipped"] == 1
    assert summary["test"]["robots"] == 3 and summary["test"]["skipped"] == 0

    data = json.loads((out / "results.json").read_text())
    skipped = [r for r in data["robots"] if "error" in r]
    assert [r["robot"] for r in skipped] == ["broken"]
    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["robots"])
    text = (out / "summary.md").read_text()
    assert "broken" in text and "± " in text
    pytest.importorskip("matplotlib")
    assert (out / "returns.png").stat().st_size > 0 and (out / "learning_curve.png").stat().st_size > 0


@pytest.mark.slow
def test_reference_policies_and_returns_are_raw(tmp_path: Path) -> None:
    zero = evaluate("zero", ["train"], EvalConfig(episodes=2, limit=2, workers=1), tmp_path / "zero")
    config = EvalConfig(episodes=2, limit=2, workers=1, deterministic=True)
    rand = evaluate("random", ["train"], config, tmp_path / "random")
    assert np.isfinite(zero["train"]["mean"]) and np.isfinite(rand["train"]["mean"])
    data = json.loads((tmp_path / "zero" / "results.json").read_text())
    assert all(len(r["returns"]) == 2 and max(r["lengths"]) <= 1000 for r in data["robots"])
    assert load_agent("zero").act({"act_padding_mask": np.zeros((3, 24), bool)}, False).shape == (3, 24)


def test_a_shorter_time_limit_keeps_the_first_steps_of_each_episode(tmp_path: Path, capsys) -> None:
    """max_steps N: each episode is the first N steps of the benchmark's episode (same seeds, same rewards), and
    the reports say the episodes were cut; N < 1 is a one-line error."""
    import gymnasium as gym

    config = EvalConfig(episodes=2, limit=2, workers=1, max_steps=60)
    evaluate("zero", ["train"], config, tmp_path / "cut")
    data = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert data["max_steps"] == 60
    for r, xml in zip(data["robots"], robot_files("train", 2), strict=True):
        for i in range(2):
            env = gym.make("Unimal-FT-v0", robot=str(xml))
            env.reset(seed=config.seed + i)
            rewards = []
            for _ in range(60):
                _, reward, terminated, _, _ = env.step(np.zeros(env.action_space.shape))
                rewards.append(reward)
                if terminated:
                    break
            env.close()
            assert r["lengths"][i] == len(rewards)
            assert r["returns"][i] == pytest.approx(float(np.sum(rewards)), rel=1e-12, abs=1e-12)
    assert "episodes cut at 60 steps (not the benchmark's 1000)" in (tmp_path / "cut" / "summary.md").read_text()
    capsys.readouterr()
    assert main(["zero", "--robots", "train", "--max-steps", "0", "--out", str(tmp_path / "x")]) == 2
    assert "max_steps" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_bad_checkpoints_and_sets_fail_before_work(run_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x00garbage")
    assert main([str(broken), "--robots", "train", "--out", str(tmp_path / "o")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    npz = np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
    for content in (b"", b"PK\x03\x04" + npz[:30], npz):  # empty, a truncated zip, garbage: not a zip traceback
        (tmp_path / "student.npz").write_bytes(content)
        assert main([str(tmp_path / "student.npz"), "--robots", "train", "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "student.npz cannot be read as an exported student" in err, err
    assert main([str(tmp_path / "nothing"), "--robots", "train"]) == 2
    assert "neither a checkpoint" in capsys.readouterr().err
    assert main([str(run_dir), "--robots", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

    # weights of another architecture under a valid config
    state = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    state["net"] = "d_model=16,n_layers=1,n_heads=1,ff_dim=16"
    mismatched = tmp_path / "mismatched.pt"
    torch.save(state, mismatched)  # edited without a new content checksum: a damaged file
    with pytest.raises(CheckpointError, match="do not match their checksum"):
        CheckpointAgent(mismatched)
    state[CONTENT_KEY] = content_digest(state)  # sealed again: now the weights are what does not fit
    torch.save(state, mismatched)
    with pytest.raises(CheckpointError, match=r"do not fit the network it names .* tensors differ: "):
        CheckpointAgent(mismatched)
    # an edited size is refused before anything is allocated: bounded (2.9G parameters) or checked against the
    # stored tensors (d_model=512: weights the file does not hold); the network is only ever built on the meta device
    devices: list[torch.device] = []
    real_build = agents.build_actor_critic

    def spy(*args, **kwargs):
        devices.append(torch.get_default_device())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(agents, "build_actor_critic", spy)
    for net, message in (
        ("d_model=6000", "has 2,870,783,122 parameters; at most 200,000,000"),
        ("d_model=512", "do not fit"),
    ):
        state["net"] = net
        state[CONTENT_KEY] = content_digest(state)
        torch.save(state, mismatched)
        with pytest.raises(CheckpointError, match=message):
            CheckpointAgent(mismatched)
    assert len(devices) == 2 and all(d.type == "meta" for d in devices)
    monkeypatch.undo()

    # a damaged weight (a flipped exponent: 3.4e38) is caught by the checksum, a NaN one even when re-sealed
    state = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    name = next(k for k, v in state["policy"].items() if v.is_floating_point() and v.numel() > 1)
    state["policy"][name].view(-1)[0] = 3.4e38
    torch.save(state, tmp_path / "flipped.pt")
    with pytest.raises(CheckpointError, match=r"flipped\.pt: its contents do not match their checksum"):
        CheckpointAgent(tmp_path / "flipped.pt")
    state["policy"][name].view(-1)[0] = float("nan")
    state[CONTENT_KEY] = content_digest(state)
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=rf"nan\.pt: /policy/{name} holds NaN or infinite values"):
        CheckpointAgent(tmp_path / "nan.pt")
    # observation statistics of another size
    state = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    state["obs_norm"]["obs_mean"] = torch.zeros(204)
    state[CONTENT_KEY] = content_digest(state)
    other = tmp_path / "obs.pt"
    torch.save(state, other)
    with pytest.raises(CheckpointError, match="shape"):
        CheckpointAgent(other)
    with pytest.raises(ConfigError):
        evaluate("zero", ["train"], EvalConfig(episodes=0), tmp_path / "o2")


def test_stochastic_returns_depend_on_the_seed_not_on_the_workers(run_dir: Path, tmp_path: Path) -> None:
    """Each robot's action noise is reseeded: one process or two give the same per-robot returns, and a
    set given twice under two names is evaluated under both (one name twice is an error)."""
    one = EvalConfig(episodes=2, limit=2, workers=1)
    a = evaluate(str(run_dir), ["one=train", "two=train"], one, tmp_path / "a")
    b = evaluate(str(run_dir), ["one=train", "two=train"], replace(one, workers=2), tmp_path / "b")
    assert a == b and a["one"]["robots"] == a["two"]["robots"] == 2
    with pytest.raises(ConfigError, match="given twice"):
        evaluate(str(run_dir), ["train", "train"], one, tmp_path / "c")
    ra = json.loads((tmp_path / "a" / "results.json").read_text())["robots"]
    rb = json.loads((tmp_path / "b" / "results.json").read_text())["robots"]
    assert [r["returns"] for r in ra] == [r["returns"] for r in rb]
    assert ra[0]["returns"] == ra[2]["returns"]  # the same robot and seed: the same noise
    assert json.loads((tmp_path / "a" / "results.json").read_text())["config"]["workers"] == 1


def test_boolean_options_are_flags_that_never_take_the_source(run_dir: Path, tmp_path: Path) -> None:
    args = ["--deterministic", str(run_dir), "--robots", "train", "--limit", "1", "--episodes", "1", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "det")]) == 0
    assert json.loads((tmp_path / "det" / "results.json").read_text())["deterministic"] is True
    assert main([*args[1:], "--no-deterministic", "--out", str(tmp_path / "sto")]) == 0
    assert json.loads((tmp_path / "sto" / "results.json").read_text())["deterministic"] is False


def test_network_sizes_that_cannot_be_built_are_one_line_errors(tmp_path: Path, capsys) -> None:
    from baselines.ppo.__main__ import main as ppo_main

    assert ppo_main(["--preset", "smoke", "--out", str(tmp_path / "r"), "--net", "d_model=32,n_heads=3"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: net='d_model=32,n_heads=3'") and "cannot be built" in err and len(err.splitlines()) == 1
    )
    assert not (tmp_path / "r").exists()


def test_training_curve_band_is_the_robots_moving_mean_and_standard_error(tmp_path: Path) -> None:
    """robot_band: per robot the episode-weighted return over the last `window` iterations, then mean and
    s.e. across the robots that finished an episode in that window."""
    from baselines.evaluate import robot_band

    rows = ["iteration,robot,episodes,return_mean,length_mean,weight"]
    rows += ["1,a,1,10.0,5,0.5", "1,b,0,nan,0,0.5", "2,a,3,20.0,5,0.5", "2,b,2,40.0,5,0.5", "3,b,1,100.0,5,0.5"]
    (tmp_path / "robots.csv").write_text("\n".join(rows) + "\n")
    mid, se, n = robot_band(tmp_path / "robots.csv", [1, 2, 3], window=2)
    assert n == 2
    a2, b2, b3 = (10 + 3 * 20) / 4, 40.0, (2 * 40 + 100) / 3  # iteration 3's window is iterations 2–3
    np.testing.assert_allclose(mid, [10.0, (a2 + b2) / 2, (20.0 + b3) / 2])
    np.testing.assert_allclose(se[1:], [abs(a2 - b2) / 2, abs(20.0 - b3) / 2])  # two robots: s.e. = |a − b| / 2
