"""A teacher checkpoint as a stable-baselines3 model: ``model.zip`` for ``PPO.load`` and ``vecnormalize.pkl``.

``python -m baselines.ppo.sb3 RUN_OR_CHECKPOINT --out DIR`` writes, atomically:

* ``DIR/model.zip``: SB3's own save format (``PPO.save``) of the teacher: our :class:`~baselines.ppo.UnimalPolicy`
  with the checkpoint's weights, so ``PPO.load("DIR/model.zip")`` works wherever this package is installed
  (the zip names the policy class; SB3 imports it), RL Zoo's enjoy/record scripts included;
* ``DIR/vecnormalize.pkl``: SB3's ``VecNormalize`` statistics of the run (``proprioceptive`` normalised,
  clipped at 10), set to evaluation mode (frozen, rewards not normalised); load it with
  ``VecNormalize.load("DIR/vecnormalize.pkl", venv)`` around the envs (below).

Every PPO run writes this pair for its final checkpoint into ``RUN/sb3/`` (``trainer.save_sb3``). The
policy reads the observation keys the networks use (:func:`baselines.common.envs.make_env` keeps
exactly those; with plain Gymnasium, ``FilterObservation(env, baselines.common.envs.obs_keys(task))``)::

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
    from baselines.common.envs import make_env

    envs = DummyVecEnv([lambda: make_env("ft", ["unimal-train-000"]) for _ in range(4)])
    venv = VecNormalize.load("DIR/vecnormalize.pkl", envs)
    model = PPO.load("DIR/model.zip", env=venv)
    actions, _ = model.predict(venv.reset(), deterministic=True)
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from unimal_gym.arguments import ArgumentParser

from ..common.config import ConfigError, run_cli
from ..common.envs import robot_files
from ..common.files import PPO_CHECKPOINT, read_artifact
from ..common.run_dir import resolve_checkpoint
from .config import PPOConfig
from .trainer import build_model, load_policy_state, make_vec_env, restore_statistics, save_sb3


def export_sb3(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The SB3 pair of a PPO checkpoint (a file or a run directory's final/latest checkpoint).

    :raises CheckpointError: not a readable PPO checkpoint, or weights that do not fit its network.
    """
    path = resolve_checkpoint(source)
    state = read_artifact(path, PPO_CHECKPOINT)
    config = replace(PPOConfig.from_dict(state["config"]), n_envs=1, vec_env="dummy", device="cpu")
    # the observation and action spaces are the same for every robot of a task: one bundled robot serves
    venv = make_vec_env(config, robot_files("train", 1))
    try:
        model = build_model(config, venv)
        load_policy_state(model.policy, state, str(path))
        restore_statistics(venv, state, str(path))
        model.num_timesteps = int(state["timesteps"])
        return save_sb3(model, venv, out)
    finally:
        venv.close()


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m baselines.ppo.sb3 RUN_OR_CHECKPOINT --out DIR``."""
    parser = ArgumentParser(prog="python -m baselines.ppo.sb3", description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a PPO run directory or checkpoint")
    parser.add_argument("--out", required=True, help="folder for model.zip and vecnormalize.pkl")
    args = parser.parse_args(argv)

    def body() -> int:
        if Path(args.out).is_file():
            raise ConfigError(f"--out {args.out}: is a file, not a folder")
        model, stats = export_sb3(args.source, args.out)
        print(f"{model}\n{stats}")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
