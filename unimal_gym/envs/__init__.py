"""Gymnasium environments of the UNIMAL benchmark: :class:`UnimalEnv` (FT, VT, Obstacle) and
:class:`UnimalVectorEnv` (N of them stepped on threads)."""

from .. import gl  # noqa: F401  (first: sets MUJOCO_GL on a headless machine before MuJoCo is imported)
from .errors import InvalidActionError, InvalidStateError, RobotTooLargeError, UnknownRobotError
from .kernels import ACCELERATED
from .unimal_env import UnimalEnv
from .vector import UnimalVectorEnv

__all__ = [
    "ACCELERATED",
    "InvalidActionError",
    "InvalidStateError",
    "RobotTooLargeError",
    "UnimalEnv",
    "UnimalVectorEnv",
    "UnknownRobotError",
]
