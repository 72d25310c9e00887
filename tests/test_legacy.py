"""Files written before the layer restructure (formats ``*-1``) still load, evaluate and resume."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from baselines.collect import COLLECT_PRESETS, collect
from baselines.common.agents import StudentAgent, TeacherAgent, load_agent
from baselines.common.expert_data import ExpertData
from baselines.common.files import DISTILL_CHECKPOINT, PPO_CHECKPOINT, read_artifact
from baselines.distill import DISTILL_PRESETS, distill
from baselines.ppo import PRESETS, train
from baselines.ppo.__main__ import main as ppo_main

SMOKE = replace(PRESETS["smoke"], vec_env="dummy")
OLD_NAMES = {"task": "env", "arch": "model"}


def old_config(config: dict) -> dict:
    """A config dict as the previous version saved it (``env``, ``model``, ``hn``)."""
    out = {OLD_NAMES.get(k, k): v for k, v in config.items()}
    if out.get("model") == "hn-rl":
        out["model"] = "hn"
    return out


def write_old_ppo(new: Path, old: Path) -> None:
    """Rewrite a PPO checkpoint in the previous format (``unimal-ppo-1``: no kind, ``obs_rms``)."""
    state = read_artifact(new, PPO_CHECKPOINT)
    norm = state["obs_norm"]
    payload = {
        "format": "unimal-ppo-1",
        "config": old_config(state["config"]),
        **{k: state[k] for k in ("iteration", "timesteps", "policy", "optimizer", "ret_rms", "sampler", "robots")},
        "obs_rms": {
            "proprioceptive": {"mean": norm["obs_mean"], "var": norm["obs_var"], "count": float(norm["obs_count"])}
        },
    }
    old.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, old)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("legacy") / "teacher"
    train(SMOKE, out, quiet=True)
    return out / "checkpoints" / "final.pt"


def test_old_ppo_checkpoint_acts_like_the_new_one(teacher: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.pt"
    write_old_ppo(teacher, old)
    a, b = TeacherAgent(teacher), load_agent(old)
    assert isinstance(b, TeacherAgent) and (b.task, b.arch, b.net) == (a.task, a.arch, a.net)
    np.testing.assert_array_equal(b.normalizer.mean, a.normalizer.mean)
    assert b.normalizer.clip_obs == a.normalizer.clip_obs == 10.0
    raw = {
        "proprioceptive": np.random.default_rng(0).normal(size=(3, 624)),
        "context": np.zeros((3, 636)),
        "obs_padding_mask": np.tile(np.arange(12) >= 3, (3, 1)),
        "act_padding_mask": np.tile(np.arange(24) >= 6, (3, 1)),
    }
    np.testing.assert_array_equal(b.act(raw, deterministic=True), a.act(raw, deterministic=True))


def test_an_old_ppo_run_resumes(teacher: Path, tmp_path: Path) -> None:
    """A run directory of the previous version (old config keys, old checkpoint) continues with --resume."""
    config = replace(SMOKE, total_timesteps=5 * 128)
    run = tmp_path / "run"
    train(config, run, quiet=True)  # 5 iterations, then rewritten as the previous version would have left it
    (run / "config.json").write_text(json.dumps(old_config(config.to_dict()), indent=2))
    for path in sorted((run / "checkpoints").glob("*.pt")):
        write_old_ppo(path, path)
    (run / "checkpoints" / "final.pt").unlink()
    (run / "checkpoints" / "iter_000005.pt").unlink()  # interrupted after iteration 4
    assert ppo_main(["--out", str(run), "--resume", "--quiet"]) == 0
    state = read_artifact(run / "checkpoints" / "final.pt", PPO_CHECKPOINT)
    assert state["iteration"] == 5 and state["config"]["task"] == "ft"


def test_old_expert_data_and_distillation_checkpoints_load(teacher: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    collect(teacher, data, COLLECT_PRESETS["smoke"], progress=None)
    run = tmp_path / "student"
    final = distill(data, replace(DISTILL_PRESETS["smoke"], evaluate=False, epochs=1), run, progress=None)
    new_student = StudentAgent(final)

    old_data = tmp_path / "old-data"  # format 1: manifest says env, statistics in obs_rms.npz (mean, var, clip)
    shutil.copytree(data, old_data)
    manifest = json.loads((old_data / "manifest.json").read_text())
    manifest = {"env" if k == "task" else k: v for k, v in manifest.items()}
    manifest["format"] = "unimal-expert-data-1"
    manifest["teacher"] = old_config(manifest["teacher"])
    (old_data / "manifest.json").write_text(json.dumps(manifest))
    with np.load(old_data / "obs_norm.npz") as norm:
        np.savez(old_data / "obs_rms.npz", mean=norm["obs_mean"], var=norm["obs_var"], clip=norm["clip_obs"])
    (old_data / "obs_norm.npz").unlink()
    a, b = ExpertData(data, 16), ExpertData(old_data, 16)
    assert b.task == a.task == "ft"
    np.testing.assert_array_equal(b.normalizer.std, a.normalizer.std)

    state = read_artifact(final, DISTILL_CHECKPOINT)
    norm = state["obs_norm"]
    old = {
        "format": "unimal-distill-1",
        **{k: state[k] for k in ("config", "task", "epoch", "student", "optimizer", "torch_rng", "data")},
        "obs_rms": {"mean": norm["obs_mean"], "var": norm["obs_var"], "clip": norm["clip_obs"]},
    }
    torch.save(old, tmp_path / "old-student.pt")
    old_student = load_agent(tmp_path / "old-student.pt")
    assert isinstance(old_student, StudentAgent) and old_student.arch == "hyperdistill"
    obs, _ = a.batch(np.arange(4))
    raw = {k: v.numpy().astype(np.float64) for k, v in obs.items()}
    np.testing.assert_array_equal(old_student.act(raw, True), new_student.act(raw, True))
