"""Gymnasium environments of the UNIMAL benchmark: :class:`UnimalEnv` (FT, VT, Obstacle)."""

from .. import gl  # noqa: F401  (first: sets MUJOCO_GL on a headless machine before MuJoCo is imported)
from .errors import InvalidActionError, InvalidStateError, RobotTooLargeError, UnknownRobotError
from .kernels import ACCELERATED
from .unimal_env import UnimalEnv

__all__ = [
    "ACCELERATED",
    "InvalidActionError",
    "InvalidStateError",
    "RobotTooLargeError",
    "UnimalEnv",
    "UnknownRobotError",
]
