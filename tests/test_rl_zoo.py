"""RL Zoo trains the paper's teacher network from the shipped ``ppo.yml`` (baselines.zoo), and the model it
saves is an SB3 PPO with our policy class."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import baselines.zoo as zoo
from unimal_gym.layout import ENV_IDS

pytest.importorskip("rl_zoo3")


def test_the_yml_has_every_task_with_the_paper_settings() -> None:
    config = yaml.safe_load(zoo.YAML.read_text())
    assert set(config) == set(ENV_IDS.values())
    for task, env_id in ENV_IDS.items():
        c = config[env_id]
        assert c["policy"] == "baselines.ppo.policy.UnimalPolicy" and f"task='{task}'" in c["policy_kwargs"]
        assert (c["n_envs"], c["n_steps"], c["batch_size"], c["n_epochs"], c["n_timesteps"]) == (32, 2560, 5120, 8, 1e8)
        keys = c["env_wrapper"][0]["gymnasium.wrappers.FilterObservation"]["filter_keys"]
        assert ("hfield" in keys) == (task != "ft")


@pytest.mark.slow
def test_rl_zoo_trains_and_saves_a_loadable_model(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    from baselines.ppo.policy import UnimalPolicy

    command = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", "Unimal-FT-v0",
        "--gym-packages", "unimal_gym", "--conf-file", str(zoo.YAML), "-n", "128", "--eval-freq", "-1",
        "--save-freq", "-1", "-f", str(tmp_path / "logs"), "--seed", "0", "--vec-env", "dummy",
        "--env-kwargs", "robots:'unimal-train-000'",
        "--hyperparams", "n_envs:2", "n_steps:64", "batch_size:64", "n_epochs:1",
        "policy_kwargs:dict(arch='modumorph', task='ft', net='tiny')",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (saved,) = (tmp_path / "logs" / "ppo").glob("Unimal-FT-v0_*/Unimal-FT-v0.zip")
    model = PPO.load(saved, device="cpu")
    assert isinstance(model.policy, UnimalPolicy) and model.num_timesteps == 128
    assert (saved.parent / "Unimal-FT-v0" / "vecnormalize.pkl").is_file()
