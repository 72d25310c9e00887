"""Teacher rollouts as a Minari dataset: whole episodes with raw observations, rewards and episode ends that
replay exactly in the environment, and a dataset environment that is the same task on the same robots."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("h5py")
minari = pytest.importorskip("minari")

import unimal_gym  # noqa: E402, F401
from baselines.common.config import ConfigError  # noqa: E402
from baselines.minari_export import SEED_STRIDE, export, main  # noqa: E402
from baselines.ppo import PRESETS, train  # noqa: E402


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo") / "run"
    train(replace(PRESETS["smoke"], vec_env="dummy"), out, quiet=True)
    return out


@pytest.mark.slow
def test_episodes_replay_exactly_and_the_dataset_env_is_the_task(
    teacher: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    ds = export(teacher, "unimal/ft-test-v0", "train", robot_limit=2, episodes=2, max_steps=40, seed=3, progress=None)
    assert ds.total_episodes == 4
    names = ["unimal-train-000", "unimal-train-001"]
    for k, ep in enumerate(ds.iterate_episodes()):
        robot, j = names[k // 2], k % 2
        steps = len(ep.rewards)
        assert (1 <= steps <= 40 and ep.terminations[-1]) or ep.truncations[-1]
        assert all(v.shape[0] == steps + 1 for v in ep.observations.values())
        assert np.abs(ep.actions).max() <= 1.0
        env = gym.make("Unimal-FT-v0", robot=robot, max_episode_steps=40)
        obs, _ = env.reset(seed=3 + SEED_STRIDE * (k // 2) + j)
        for key, value in obs.items():
            np.testing.assert_array_equal(ep.observations[key][0], value)
        for t in range(steps):
            obs, reward, terminated, truncated, _ = env.step(ep.actions[t])
            assert reward == ep.rewards[t] and terminated == ep.terminations[t] and truncated == ep.truncations[t]
        np.testing.assert_array_equal(ep.observations["proprioceptive"][-1], obs["proprioceptive"])
    recovered = ds.recover_environment()
    assert recovered.spec.id == "Unimal-FT-v0" and len(recovered.unwrapped.robot_names) == 2
    with pytest.raises(ConfigError, match="exists"):
        export(teacher, "unimal/ft-test-v0", "train", robot_limit=1, episodes=1, max_steps=5, progress=None)


def test_bad_numbers_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nothing"), "--dataset-id", "x/y-v0", "--episodes", "0"]) == 2
    assert "--episodes" in capsys.readouterr().err
