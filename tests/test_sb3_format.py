"""Teachers in stable-baselines3's own format: every PPO run writes ``sb3/model.zip`` + ``sb3/vecnormalize.pkl``,
``python -m baselines.ppo.sb3`` exports any checkpoint, and ``PPO.load`` / ``VecNormalize.load`` act exactly as the
project's own teacher agent does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import unimal_gym  # noqa: F401
from baselines.common.agents import TeacherAgent
from baselines.common.envs import make_env
from baselines.ppo import PRESETS, train
from baselines.ppo.sb3 import main as sb3_main


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo") / "run"
    train(replace(PRESETS["smoke"], vec_env="dummy"), out, quiet=True)
    return out


def _same_actions(folder: Path, checkpoint: Path) -> None:
    venv = VecNormalize.load(
        str(folder / "vecnormalize.pkl"),
        DummyVecEnv([lambda: make_env("ft", ["unimal-train-000", "unimal-train-001"]) for _ in range(3)]),
    )
    assert not venv.training and not venv.norm_reward
    model = PPO.load(folder / "model.zip", env=venv, device="cpu")
    venv.seed(5)
    obs = venv.reset()
    teacher = TeacherAgent(checkpoint)
    for _ in range(4):
        ours = teacher.act(venv.get_original_obs(), deterministic=True)
        theirs, _ = model.predict(obs, deterministic=True)
        np.testing.assert_allclose(theirs, np.clip(ours, -1, 1), atol=1e-5)
        obs, *_ = venv.step(theirs)
    venv.close()


@pytest.mark.slow
def test_a_run_writes_its_final_teacher_for_ppo_load(run: Path) -> None:
    _same_actions(run / "sb3", run / "checkpoints" / "final.pt")


@pytest.mark.slow
def test_any_checkpoint_exports_and_bad_sources_exit_2(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = run / "checkpoints" / "iter_000001.pt"
    assert sb3_main([str(checkpoint), "--out", str(tmp_path / "first")]) == 0
    _same_actions(tmp_path / "first", checkpoint)
    assert sb3_main([str(tmp_path / "nothing.pt"), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
