"""unimal-gym: the UNIMAL universal-morphology benchmark on modern MuJoCo and Gymnasium.

Importing the package registers the three tasks with Gymnasium (the environment module itself,
MuJoCo and lxml are imported only when an environment is made)::

    import gymnasium as gym
    import unimal_gym  # noqa: F401

    env = gym.make("Unimal-FT-v0", robot="path/to/robot.xml")
    envs = gym.make_vec("Unimal-FT-v0", num_envs=16, vectorization_mode="vector_entry_point", robots="train")

``make_vec`` with ``vector_entry_point`` gives :class:`~unimal_gym.envs.UnimalVectorEnv` (sub-environments
stepped on threads in this process); ``"sync"`` and ``"async"`` give Gymnasium's own vector envs.
"""

from gymnasium.envs.registration import register

from .layout import ENV_IDS

__version__ = "0.1.0"

MAX_EPISODE_STEPS = 1000  # docs/environment.md §0: 20 s at 50 Hz

for _task, _env_id in ENV_IDS.items():
    register(
        id=_env_id,
        entry_point="unimal_gym.envs:UnimalEnv",
        vector_entry_point="unimal_gym.envs:UnimalVectorEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
        kwargs={"task": _task},
    )
