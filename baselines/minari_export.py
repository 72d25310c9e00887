"""Teacher rollouts as a Minari dataset: observations, actions, rewards and episode ends, for offline RL tools.

``python -m baselines.minari_export TEACHER --dataset-id unimal/ft-modumorph-v0 [--robots train]
[--robot-limit N] [--episodes 2] [--action-std 0.9 | --deterministic] [--max-steps 1000] [--seed 0]``

The distillation data of :mod:`baselines.collect` keeps only what a student needs (normalised
proprioception, the teacher's mean, one hfield per row, no rewards); this writes the other view of the
same teacher: whole episodes in Minari's format (``minari.load_dataset(ID)``), every observation key the
environment returns, raw (not normalised), with the final observation of each episode, the actions that
stepped the env (the teacher's mean plus σ·N(0, 1) noise on the valid slots, clipped to [−1, 1], as in
collection; ``--deterministic``: the mean), rewards, terminations and truncations. Episode k of robot i
is seeded ``seed + 1000·i + k``; episodes are stored robot by robot in set order (``description`` lists
them). The dataset's environment is ``Unimal-<TASK>-v0`` on the same robots, so
``dataset.recover_environment()`` gives it back.

Minari is an optional extra (``pip install 'unimal-gym[minari]'``); datasets go to Minari's folder
(``MINARI_DATASETS_PATH``, default ``~/.minari/datasets``), and an existing id is refused.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from unimal_gym.arguments import ArgumentParser
from unimal_gym.layout import ENV_IDS

from .common.agents import TeacherAgent
from .common.config import ConfigError, run_cli
from .common.envs import robot_files
from .common.progress import Progress
from .common.rollouts import per_robot
from .common.run_dir import resolve_checkpoint
from .nets import to_torch

SEED_STRIDE = 1000  # episode k of robot i is seeded seed + 1000·i + k


def _minari() -> Any:
    try:
        import minari
    except ImportError:
        raise ConfigError("Minari is not installed: pip install 'unimal-gym[minari]'") from None
    return minari


def episode(
    teacher: TeacherAgent, env: gym.Env, seed: int, noise: np.random.Generator, action_std: float
) -> dict[str, Any]:
    """One episode: ``observations`` (dict of (T+1, ...) arrays), ``actions`` (T, 24), ``rewards``,
    ``terminations``, ``truncations`` (T,). ``action_std`` 0 acts with the teacher's mean."""
    obs, _ = env.reset(seed=seed)
    seen, actions, rewards, terminations, truncations = [obs], [], [], [], []
    done = False
    while not done:
        batch = {k: v[None] for k, v in obs.items()}
        with torch.no_grad():
            mean = teacher.actor(to_torch(teacher.normalizer.normalise_obs(batch))).numpy()[0]
        valid = ~obs["act_padding_mask"].astype(bool)
        action = np.clip((mean + action_std * noise.standard_normal(mean.shape)) * valid, -1.0, 1.0)
        action = action.astype(np.float32)  # the action space's dtype: the stored action is the one that stepped
        obs, reward, terminated, truncated, _ = env.step(action)
        seen.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        truncations.append(bool(truncated))
        done = terminated or truncated
    return {
        "observations": {k: np.stack([o[k] for o in seen]) for k in seen[0]},
        "actions": np.stack(actions),
        "rewards": np.asarray(rewards),
        "terminations": np.asarray(terminations),
        "truncations": np.asarray(truncations),
    }


def export(
    teacher_path: str | Path,
    dataset_id: str,
    robots: str = "train",
    robot_limit: int = 0,
    episodes: int = 2,
    action_std: float = 0.9,
    max_steps: int = 1000,
    seed: int = 0,
    progress: Any = print,
) -> Any:
    """Roll the teacher out and write the dataset. :return: the ``MinariDataset``.

    :raises ConfigError: Minari missing, an id that exists, bad numbers, or a robot set that is not there.
    """
    minari = _minari()
    from minari.data_collector.episode_buffer import EpisodeBuffer

    if episodes < 1 or max_steps < 1 or action_std < 0 or robot_limit < 0:
        raise ConfigError("--episodes and --max-steps must be ≥ 1, --action-std and --robot-limit ≥ 0")
    if dataset_id in minari.list_local_datasets():
        raise ConfigError(f"--dataset-id {dataset_id}: a local Minari dataset of that id exists; choose another")
    teacher = TeacherAgent(resolve_checkpoint(teacher_path))
    files = robot_files(robots, robot_limit)
    env_id = ENV_IDS[teacher.task]
    buffers = []
    bar = Progress(len(files) * episodes, f"Minari {dataset_id}", "episode", write=progress)
    for i, xml in enumerate(files):
        env = gym.make(env_id, robot=str(xml), max_episode_steps=max_steps)
        noise = np.random.default_rng([seed, i])
        for k in range(episodes):
            data = episode(teacher, env, seed + SEED_STRIDE * i + k, noise, action_std)
            buffers.append(EpisodeBuffer(id=len(buffers), seed=seed + SEED_STRIDE * i + k, infos={}, **data))
            bar.advance(1)
            bar.write(f"{xml.stem} episode {k}: {len(data['rewards'])} steps, return {data['rewards'].sum():.1f}")
        env.close()
    bar.close()
    names = [f.stem for f in files]
    policy = "mean actions" if action_std == 0 else f"mean + {action_std} N(0, 1) on valid slots, clipped"
    dataset_env = gym.make(env_id, robots=[str(f) for f in files], max_episode_steps=max_steps)
    try:
        with warnings.catch_warnings():  # Minari asks for a code link, an e-mail and an eval env we do not have
            warnings.filterwarnings("ignore", message=".*(code_permalink|author_email|eval_env).*")
            return minari.create_dataset_from_buffers(
                dataset_id=dataset_id,
                buffer=buffers,
                env=dataset_env,
                algorithm_name=f"{teacher.arch} teacher (PPO, iteration {teacher.iteration}); {policy}",
                author="unimal-gym",
                description=(
                    f"{per_robot(episodes)} of {len(names)} robots ({robots}), robot by robot in this "
                    "order: " + ", ".join(names) + f". Episode k of robot i was seeded {seed} + {SEED_STRIDE}·i + k."
                ),
                data_format="hdf5",
            )
    finally:
        dataset_env.close()


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = ArgumentParser(prog="python -m baselines.minari_export", description=__doc__.splitlines()[0])
    parser.add_argument("teacher", help="a PPO run directory or checkpoint")
    parser.add_argument("--dataset-id", required=True, help="Minari id, e.g. unimal/ft-modumorph-v0")
    parser.add_argument("--robots", default="train", help="robot set or folder (default train)")
    parser.add_argument("--robot-limit", type=int, default=0, help="first N robots; 0 = all (default 0)")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per robot (default 2)")
    parser.add_argument("--action-std", type=float, default=0.9, help="σ of the action noise (default 0.9)")
    parser.add_argument("--deterministic", action="store_true", help="act with the teacher's mean (σ = 0)")
    parser.add_argument("--max-steps", type=int, default=1000, help="episode time limit (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = parser.parse_args(argv)

    def body() -> int:
        std = 0.0 if args.deterministic else args.action_std
        ds = export(
            args.teacher, args.dataset_id, args.robots, args.robot_limit, args.episodes, std, args.max_steps, args.seed
        )
        print(f"{args.dataset_id}: {ds.total_episodes} episodes, {ds.total_steps} steps")
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
