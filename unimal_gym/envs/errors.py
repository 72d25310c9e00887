"""Named exceptions for everything a user can get wrong when making or stepping an environment.

All of them subclass :class:`ValueError`, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from ..morphology.errors import MorphologyError, RobotTooLargeError

__all__ = ["InvalidActionError", "InvalidStateError", "RobotTooLargeError", "UnknownRobotError"]


class UnknownRobotError(MorphologyError):
    """A robot name matched no file in the robot folders searched.

    The message lists the folders searched and the closest names found there.
    """


class InvalidActionError(ValueError):
    """An action has the wrong shape or contains NaN or infinity."""


class InvalidStateError(ValueError):
    """A state passed to ``set_state`` or ``reset(options=...)`` has the wrong size or is not finite."""
