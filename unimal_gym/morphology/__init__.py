"""The UNIMAL design space: robots as data, their MJCF files, context features and mutations."""

from .compile import add_capsule_inertials, compile_robot, robot_xml
from .errors import (
    GrowthFailedError,
    MorphologyError,
    MutationError,
    NoOperatorError,
    OperatorNotAllowedError,
    RobotFileError,
)
from .mjcf import from_xml, load, metadata, save, to_xml
from .mutate import (
    OPERATORS,
    Operation,
    allowed_operators,
    apply_operator,
    delete_limb,
    density,
    dof,
    gear,
    grow_limb,
    joint_angle,
    limb_params,
    mutate,
)
from .sample import Mutant, RandomRobot, pd_robots, random_robot, sample_random_robot
from .tree import Joint, Limb, Morphology

__all__ = [
    "OPERATORS",
    "GrowthFailedError",
    "Joint",
    "Limb",
    "Morphology",
    "MorphologyError",
    "Mutant",
    "MutationError",
    "NoOperatorError",
    "Operation",
    "OperatorNotAllowedError",
    "RandomRobot",
    "RobotFileError",
    "add_capsule_inertials",
    "allowed_operators",
    "apply_operator",
    "compile_robot",
    "delete_limb",
    "density",
    "dof",
    "from_xml",
    "gear",
    "grow_limb",
    "joint_angle",
    "limb_params",
    "load",
    "metadata",
    "mutate",
    "pd_robots",
    "random_robot",
    "robot_xml",
    "sample_random_robot",
    "save",
    "to_xml",
]
