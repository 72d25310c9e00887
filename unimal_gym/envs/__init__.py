"""Gymnasium environments of the UNIMAL benchmark: :class:`UnimalEnv` (FT, VT, Obstacle)."""

from .errors import InvalidActionError, InvalidStateError, RobotTooLargeError, UnknownRobotError
from .unimal_env import UnimalEnv

__all__ = ["InvalidActionError", "InvalidStateError", "RobotTooLargeError", "UnimalEnv", "UnknownRobotError"]
