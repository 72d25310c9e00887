"""The UNIMAL design space: robots as data, their MJCF files, context features and mutations."""

from .compile import add_capsule_inertials, compile_robot, robot_xml
from .errors import GrowthFailedError, MorphologyError, MutationError, RobotFileError
from .mjcf import from_xml, load, metadata, save, to_xml
from .tree import Joint, Limb, Morphology

__all__ = [
    "GrowthFailedError",
    "Joint",
    "Limb",
    "Morphology",
    "MorphologyError",
    "MutationError",
    "RobotFileError",
    "add_capsule_inertials",
    "compile_robot",
    "from_xml",
    "load",
    "metadata",
    "robot_xml",
    "save",
    "to_xml",
]
