"""PPO trainer: masked Gaussian in the loss, schedules, sampling, SB3 plumbing, smoke runs, resume, bad input."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from baselines.common.envs import make_env, robot_files
from baselines.common.files import PPO_CHECKPOINT, CheckpointError, read_artifact
from baselines.common.vec_env import NativeVecEnv
from baselines.nets import UnknownNetworkError, network_config
from baselines.ppo import PRESETS, PPOConfig, RobotSampler, UnimalPolicy, learning_rate, make_vec_env, run_dir, train
from baselines.ppo.__main__ import main
from baselines.ppo.trainer import MODEL, SB3_FOLDER, STATISTICS

REPO = Path(__file__).resolve().parents[1]
SMOKE = PRESETS["smoke"]


def _obs_batch(n: int = 6) -> dict[str, np.ndarray]:
    """Observations of robots with different numbers of limbs (so both masks have True entries)."""
    files = robot_files("train", 3)
    env = make_env("ft", files)
    rows = []
    for i in range(n):
        obs, _ = env.reset(seed=i)
        rows.append(obs)
    env.close()
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def load_checkpoint(path: Path) -> dict:
    return read_artifact(path, PPO_CHECKPOINT)


def _policy(arch: str = "modumorph") -> UnimalPolicy:
    env = make_env("ft", robot_files("train", 1))
    policy = UnimalPolicy(env.observation_space, env.action_space, lambda _: 3e-4, arch=arch, task="ft", net="tiny")
    env.close()
    return policy


@pytest.mark.parametrize("arch", ["modumorph", "tf-compressed", "mlp", "hn-rl"])
def test_ppo_loss_gradient_ignores_padded_action_slots(arch: str) -> None:
    """log π and entropy are sums over real slots only: the PPO loss has zero gradient w.r.t. the means
    of padded slots, and changing the action in a padded slot changes nothing."""
    policy = _policy(arch)
    obs = {k: torch.as_tensor(v) for k, v in _obs_batch().items()}
    mask = obs["act_padding_mask"]
    assert mask.any() and (~mask).any()
    captured = {}

    def keep_mean(_module: torch.nn.Module, _inputs: object, out: torch.Tensor) -> None:
        captured["mean"] = out  # the μ (B, 24) that the masked Gaussian receives

    policy.ac.actor.register_forward_hook(keep_mean)
    actions = torch.randn(len(mask), 24)
    values, log_prob, entropy = policy.evaluate_actions(obs, actions)
    captured["mean"].retain_grad()
    ratio = torch.exp(log_prob - log_prob.detach())
    adv = torch.randn(len(mask))
    loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean() + 0.5 * values.pow(2).mean() - entropy.mean()
    loss.backward()
    grad = captured["mean"].grad
    assert torch.all(grad[mask] == 0) and torch.any(grad[~mask] != 0)

    poked = actions.clone()
    poked[mask] += 100.0
    _, log_prob2, entropy2 = policy.evaluate_actions(obs, poked)
    assert torch.equal(log_prob, log_prob2) and torch.equal(entropy, entropy2)
    n_real = (~mask).sum(-1).float()
    assert torch.allclose(entropy, n_real * (0.5 * math.log(2 * math.pi * math.e) + math.log(0.9)))


def test_action_std_is_fixed_and_not_optimised_and_adam_is_fused() -> None:
    policy = _policy()
    assert not policy.ac.log_std.requires_grad
    assert torch.allclose(policy.ac.log_std.exp(), torch.full((1, 24), 0.9))
    sampled = policy(_obs_batch())[0]
    assert sampled.shape == (6, 24)
    assert all(group["fused"] and group["eps"] == 1e-5 for group in policy.optimizer.param_groups)  # one Adam


def test_learning_rate_cosine_with_warmup() -> None:
    cfg = replace(PPOConfig(), total_timesteps=100 * 2560 * 32)  # 100 iterations
    assert learning_rate(0, cfg) == pytest.approx(3e-4 * 0.1)
    assert learning_rate(2, cfg) == pytest.approx(3e-4 * 0.5 * (1 + math.cos(math.pi * 2 / 100)) * (0.1 * 0.6 + 0.4))
    assert learning_rate(5, cfg) == pytest.approx(3e-4 * 0.5 * (1 + math.cos(math.pi * 5 / 100)))
    assert learning_rate(99, cfg) < 1e-6
    assert cfg.kl_limit == pytest.approx(0.05) and replace(cfg, task="vt").kl_limit == pytest.approx(0.03)


def test_robot_sampler_uniform_then_inverse_episode_length() -> None:
    sampler = RobotSampler(["a", "b", "c"], "balanced", uniform_iters=2, ema_alpha=0.1)
    for _ in range(10):
        sampler.record("a", 100)
        sampler.record("b", 400)
    assert np.allclose(sampler.weights(1), 1 / 3)
    w = sampler.weights(2)  # c unknown: length 1000
    assert np.allclose(w / w[2], [10, 2.5, 1])
    sampler.record("a", 200)  # EMA: 0.9 · 100 + 0.1 · 200
    assert sampler.ema["a"] == pytest.approx(110)
    restored = RobotSampler(["a", "b", "c"], "balanced", 2, 0.1)
    restored.load_state_dict(sampler.state_dict())
    assert np.allclose(restored.weights(5), sampler.weights(5))
    assert np.allclose(RobotSampler(["a", "b"], "uniform", 0, 0.1).weights(50), 0.5)


def test_time_limit_truncation_reaches_sb3_for_bootstrapping() -> None:
    """SB3 bootstraps a step with ``TimeLimit.truncated`` and ``terminal_observation`` in its info."""
    venv = DummyVecEnv([lambda: make_env("ft", robot_files("train", 1), max_episode_steps=3)])
    venv.reset()
    for _ in range(3):
        _, _, dones, infos = venv.step(np.zeros((1, 24)))
    assert dones[0] and infos[0]["TimeLimit.truncated"] and "terminal_observation" in infos[0]
    assert infos[0]["episode"]["l"] == 3 and infos[0]["episode"]["name"] == "unimal-train-000"
    venv.close()


@pytest.mark.parametrize("task", ["ft", "obstacle"])
def test_native_vec_env_returns_what_dummy_vec_env_of_make_env_returns(task: str) -> None:
    """Observations, float32 rewards, dones and infos (time limit, terminal observation, Monitor's episode but
    its wall time) bitwise as SB3's DummyVecEnv of the training envs, through autoresets."""
    robots = robot_files("train", 3)
    native = NativeVecEnv(task, robots, 3, num_threads=2, max_episode_steps=30)
    dummy = DummyVecEnv([partial(make_env, task, robots, max_episode_steps=30)] * 3)
    native.seed(4)
    dummy.seed(4)
    got, want = native.reset(), dummy.reset()
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    assert native.reset_infos == dummy.reset_infos
    rng = np.random.default_rng(0)
    episodes = 0
    for _ in range(70):
        actions = rng.uniform(-1, 1, (3, 24)).astype(np.float32)
        (obs, rewards, dones, infos), (obs_d, rewards_d, dones_d, infos_d) = native.step(actions), dummy.step(actions)
        assert all(np.array_equal(obs[k], obs_d[k]) for k in obs_d)
        assert rewards.dtype == rewards_d.dtype == np.float32 and np.array_equal(rewards, rewards_d)
        assert np.array_equal(dones, dones_d)
        for info, info_d in zip(infos, infos_d, strict=True):
            assert info.keys() == info_d.keys()
            for key, value in info_d.items():
                if key == "terminal_observation":
                    assert all(np.array_equal(info[key][k], value[k]) for k in value)
                elif key == "episode":
                    episodes += 1
                    assert {**info[key], "t": 0} == {**value, "t": 0}
                else:
                    assert np.array_equal(info[key], value), key
    assert episodes >= 6 and native.env_is_wrapped(Monitor) == [False] * 3
    native.env_method("set_robot_weights", [0.0, 0.0, 1.0])
    native.reset()
    assert native.get_attr("robot_name") == ["unimal-train-002"] * 3
    native.close()
    dummy.close()


@pytest.mark.slow
def test_sampling_weights_reach_subprocesses() -> None:
    cfg = replace(SMOKE, n_envs=2, vec_env="subproc")
    venv = make_vec_env(cfg, robot_files("train", 3))
    try:
        venv.env_method("set_robot_weights", [0.0, 1.0, 0.0])
        names = set()
        for _ in range(2):
            venv.venv.reset()  # bypass VecNormalize: raw resets in each worker
            names.update(venv.get_attr("robot_name"))
        assert names == {"unimal-train-001"}
        assert venv.norm_obs_keys == ["proprioceptive"]
    finally:
        venv.close()


def test_network_sizes_and_overrides() -> None:
    assert network_config("modumorph", "ft", "tiny").d_model == 8
    assert network_config("modumorph", "ft", "small,n_layers=2").n_layers == 2
    assert network_config("mlp", "vt", "").terrain
    with pytest.raises(UnknownNetworkError, match="d_model"):
        network_config("mlp", "ft", "d_model=4")
    with pytest.raises(UnknownNetworkError, match="unknown architecture"):
        network_config("gnn", "ft")


def _params(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["policy"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_smoke_run_is_reproducible_and_writes_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one config train the same weights, whichever way the envs run (native threads, one after
    another, subprocesses): ``vec_env`` is how, not what. A run writes only into its run directory: no
    ``SB3-<time>`` folder lands in the temporary folder (SB3's default logger makes an empty one per run)."""
    assert SMOKE.vec_env == "native"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    final_a = train(SMOKE, tmp_path / "a", quiet=True)
    assert not list(scratch.glob("SB3-*"))  # (torch may put its one shared compile cache there: not ours)
    final_b = train(replace(SMOKE, vec_env="dummy"), tmp_path / "b", quiet=True)
    a, b = _params(final_a), _params(final_b)
    c = _params(train(replace(SMOKE, vec_env="subproc"), tmp_path / "c", quiet=True))
    assert a.keys() == c.keys() and all(torch.equal(a[k], c[k]) for k in a)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    run = tmp_path / "a"
    assert PPOConfig.from_dict(json.loads((run / "config.json").read_text())) == SMOKE
    state = load_checkpoint(run / "checkpoints" / "final.pt")
    assert state["iteration"] == SMOKE.iterations and state["timesteps"] == SMOKE.iterations * 128
    assert state["obs_norm"]["obs_mean"].shape == (624,)
    progress = _rows(run / "progress.csv")
    assert [int(r["iteration"]) for r in progress] == list(range(1, SMOKE.iterations + 1))
    for key in ("approx_kl", "clip_fraction", "policy_loss", "value_loss", "steps_per_s"):
        assert all(math.isfinite(float(r[key])) for r in progress)
    robots = _rows(run / "robots.csv")
    assert {r["robot"] for r in robots} == {"unimal-train-000", "unimal-train-001", "unimal-train-002"}
    # log_std never moved
    assert torch.allclose(state["policy"]["ac.log_std"].exp(), torch.full((1, 24), 0.9))


@pytest.mark.parametrize("task", ["ft", "obstacle"])
def test_a_resumed_run_is_the_uninterrupted_run_byte_for_byte(
    task: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resumed from a checkpoint in the middle (envs mid-episode), the run writes the uninterrupted run's final
    checkpoint byte for byte; on a vec_env whose envs the checkpoint cannot hold it says it starts fresh episodes."""
    config = replace(PRESETS["smoke"], task=task, total_timesteps=4 * 128)
    train(config, tmp_path / "whole", quiet=True, keep_checkpoints=0)
    for vec_env in ("native", "dummy"):
        copy = tmp_path / vec_env
        shutil.copytree(tmp_path / "whole", copy)
        for checkpoint in (copy / "checkpoints").iterdir():
            if checkpoint.name != "iter_000002.pt":
                checkpoint.unlink()
        capsys.readouterr()
        train(replace(config, vec_env=vec_env), copy, resume=True, keep_checkpoints=0)
        said = capsys.readouterr().out
        whole, resumed = ((run / "checkpoints" / "final.pt").read_bytes() for run in (tmp_path / "whole", copy))
        if vec_env == "native":
            assert "continuing exactly where it stopped" in said and resumed == whole
        else:
            assert "continuing with fresh episodes" in said and resumed != whole


@pytest.mark.slow
def test_killed_run_resumes_without_losing_or_repeating_iterations(tmp_path: Path) -> None:
    out = tmp_path / "run"
    iterations = 12
    cmd = [sys.executable, "-m", "baselines.ppo", "--preset", "smoke", "--quiet", "--out", str(out)]
    cmd += ["--total-timesteps", str(iterations * 128), "--n-steps", "64", "--vec-env", "dummy"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "checkpoints" / "iter_000003.pt").exists():
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = run_dir(out).latest_checkpoint()
    assert done is not None and int(done.stem.split("_")[1]) < iterations, "the run finished before it was killed"
    assert not (out / "checkpoints" / "final.pt").exists()

    # a kill during a checkpoint write leaves its temporary: resume removes it (nothing reads temporaries)
    litter = out / "checkpoints" / f".{done.name}.x1y2.tmp"
    litter.write_bytes(b"half a checkpoint")
    assert main(["--out", str(out), "--resume", "--quiet"]) == 0
    assert not litter.exists()
    state = load_checkpoint(out / "checkpoints" / "final.pt")
    assert state["iteration"] == iterations and state["timesteps"] == iterations * 128
    progress = _rows(out / "progress.csv")
    assert [int(r["iteration"]) for r in progress] == list(range(1, iterations + 1))
    assert [int(r["timesteps"]) for r in progress] == [128 * i for i in range(1, iterations + 1)]


def test_bad_input_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    for args, message in [
        (["--arch", "gnn"], "arch='gnn'"),
        (["--preset", "huge"], "unknown preset"),
        (["--task", "water"], "task='water'"),
        (["--robots", str(tmp_path / "missing")], "no such folder"),
        (["--n-envs", "two"], "expected int"),
        (["--batch-size", "100000"], "exceeds"),
    ]:
        assert main(["--preset", "smoke", "--out", str(out), *args]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    (tmp_path / "empty").mkdir()
    assert main(["--preset", "smoke", "--out", str(out), "--robots", str(tmp_path / "empty")]) == 2
    assert "no .xml" in capsys.readouterr().err

    # an existing run is never overwritten; a resume must match its config
    out.mkdir()
    (out / "config.json").write_text(json.dumps(SMOKE.to_dict()))
    before = (out / "config.json").read_bytes()
    assert main(["--preset", "smoke", "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--out", str(out), "--resume", "--seed", "3"]) == 2
    assert "differs" in capsys.readouterr().err
    assert (out / "config.json").read_bytes() == before

    # a corrupted checkpoint is named, not loaded
    ckpt = out / "checkpoints" / "iter_000001.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"not a checkpoint")
    assert main(["--out", str(out), "--resume"]) == 2
    assert "cannot be read" in capsys.readouterr().err
    with pytest.raises(CheckpointError):
        load_checkpoint(ckpt)


def test_progress_lines_go_to_the_callers_logger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The pipeline hands its logger (in a ``--jobs`` worker: the numbered relay) to the PPO stage."""
    lines: list[str] = []
    config = replace(SMOKE, total_timesteps=2 * 128)
    train(config, tmp_path / "run", progress=lines.append)
    assert [line.split("]")[0] for line in lines] == ["[1/2", "[2/2"] and "steps/s" in lines[0]
    assert capsys.readouterr().out == ""
    train(config, tmp_path / "run", resume=True, progress=lines.append)
    assert lines[2].startswith("resuming from iteration 2")
    train(config, tmp_path / "quiet", quiet=True, progress=lines.append)
    assert len(lines) == 4  # quiet: nothing (the resume's two lines: resuming, continuing)


def test_a_run_killed_while_it_writes_its_last_iteration_completes_on_resume(tmp_path: Path) -> None:
    """The last iteration writes the SB3 files, then ``final.pt``, then its step checkpoint: a kill between them
    leaves the step before as the latest checkpoint, and the resume does the last iteration again, ending with the
    uninterrupted run's files byte for byte."""
    config = replace(SMOKE, total_timesteps=2 * 128, checkpoint_every=1)
    out = tmp_path / "run"
    train(config, out, quiet=True, keep_checkpoints=0)
    final, last = out / "checkpoints" / "final.pt", out / "checkpoints" / "iter_000002.pt"
    whole = final.read_bytes()
    written = [p.stat().st_mtime_ns for p in (out / SB3_FOLDER / MODEL, out / SB3_FOLDER / STATISTICS, final, last)]
    assert written == sorted(written)  # the step checkpoint last: on disk, it means the run is complete
    for lost in ([last], [last, final]):  # killed after final.pt; after the SB3 files
        for path in lost:
            path.unlink()
        assert train(config, out, resume=True, quiet=True, keep_checkpoints=0) == final
        assert final.read_bytes() == whole == last.read_bytes()
        assert (out / SB3_FOLDER / STATISTICS).is_file() and (out / SB3_FOLDER / MODEL).is_file()
        assert [int(r["iteration"]) for r in _rows(out / "progress.csv")] == [1, 2]


def test_a_resume_may_change_how_envs_run_but_not_what_the_run_is(tmp_path: Path) -> None:
    """``vec_env`` is an execution field (every backend trains the same weights): a resume may switch it; any
    other difference is refused, naming the field."""
    run = run_dir(tmp_path / "run")
    run.start(replace(SMOKE, vec_env="dummy"), resume=False)
    assert run.start(replace(SMOKE, vec_env="subproc"), resume=True) is None  # no checkpoint yet: from 0
    assert SMOKE.identity() == replace(SMOKE, vec_env="dummy").identity() and "vec_env" not in SMOKE.identity()
    with pytest.raises(CheckpointError, match=r"differs from .*config.json \(saved, given\): \{'gamma': \(0.99, 0.9\)"):
        run.start(replace(SMOKE, gamma=0.9), resume=True)
