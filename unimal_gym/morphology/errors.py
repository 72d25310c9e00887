"""Named exceptions for everything a user can get wrong about a robot."""

from __future__ import annotations


class MorphologyError(ValueError):
    """Base class of all errors about a UNIMAL robot (file, structure or operation)."""


class RobotFileError(MorphologyError):
    """A robot file cannot be used: missing, malformed XML, or not a UNIMAL robot.

    The message always names the file and what is wrong with it.
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RobotTooLargeError(MorphologyError):
    """A robot has more limbs or joints than the environments' observation layout can hold.

    The layout pads to ``MAX_LIMBS = 12`` limb slots with at least one padding slot, so a robot may
    have at most 11 bodies (torso included) and at most ``MAX_JOINTS = 16`` hinge joints
    (docs/environment.md §3.5). The design space allows more hinges (10 limbs with 2 each); such a robot
    is a valid file but cannot be simulated by the environments.
    """


class MutationError(MorphologyError):
    """A mutation cannot be applied to this robot (for example no operator is allowed)."""


class GrowthFailedError(MutationError):
    """``grow_limb`` found no valid placement within its attempt budget."""


class OperatorNotAllowedError(MutationError):
    """An operator was applied to a robot for which docs/design_space.md §4.1 excludes it.

    For example ``grow_limb`` on a robot with 10 limbs, ``delete_limb`` on one with 2 or fewer,
    or any other operator on a robot without limbs.
    """


class NoOperatorError(MutationError):
    """No mutation operator is allowed for this robot (the allowed list of §4.1 is empty)."""
