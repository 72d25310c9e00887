"""The PPO stage: multi-robot PPO for the universal teachers and HN-RL (docs/networks.md §7).

``python -m baselines.ppo --task ft --arch modumorph --robots train --preset laptop --out runs/ft``

==============  ======================================================================
module          what it holds
==============  ======================================================================
``config``      :class:`PPOConfig` and its presets (``paper``, ``laptop``, ``smoke``)
``policy``      :class:`UnimalPolicy`: our networks as a stable-baselines3 policy
``trainer``     :func:`train`: the PPO object, the update of docs/networks.md §7, the loop, checkpoints
``__main__``    the command line
==============  ======================================================================
"""

from .config import KL_TARGET_COEF, PRESETS, PPOConfig
from .policy import UnimalPolicy
from .trainer import RobotSampler, build_model, learning_rate, make_vec_env, run_dir, train

__all__ = [
    "KL_TARGET_COEF",
    "PRESETS",
    "PPOConfig",
    "RobotSampler",
    "UnimalPolicy",
    "build_model",
    "learning_rate",
    "make_vec_env",
    "run_dir",
    "train",
]
