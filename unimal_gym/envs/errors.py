"""Named exceptions for everything a user can get wrong when making or stepping an environment.

All of them subclass :class:`ValueError`, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from ..morphology.errors import MorphologyError


class UnknownRobotError(MorphologyError):
    """A robot name matched no file in the robot folders searched.

    The message lists the folders searched and the closest names found there.
    """


class RobotTooLargeError(MorphologyError):
    """A robot has more limbs or joints than the observation layout can hold.

    The layout pads to ``MAX_LIMBS = 12`` limb slots with at least one padding slot, so a robot may
    have at most 11 bodies (torso included) and at most ``MAX_JOINTS = 16`` hinge joints.
    """


class InvalidActionError(ValueError):
    """An action has the wrong shape or contains NaN or infinity."""


class InvalidStateError(ValueError):
    """A state passed to ``set_state`` or ``reset(options=...)`` has the wrong size or is not finite."""
