"""Compiling a robot with modern MuJoCo so that its masses are the original's.

MuJoCo 2.0 computed a capsule's mass as ρ·π·r²·(2h + r) (h = half-length), modern MuJoCo as a
true capsule. The original benchmark's physics and context features depend on 2.0's value, so
every limb body gets an explicit ``<inertial>`` with that mass and the inertia of a solid
cylinder of length 2h + r, centred on the capsule and aligned with its axis (docs/environment.md
§6.3). The torso sphere is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import mujoco
from lxml import etree

from .errors import RobotFileError
from .geometry import capsule_inertial, capsule_quat
from .mjcf import fmt, load, to_xml
from .tree import Morphology

MASS_CONVENTIONS = ("mujoco200", "modern")


def add_capsule_inertials(root: etree._Element) -> None:
    """Give every capsule-limb body under ``root`` MuJoCo 2.0's explicit inertial (in place).

    :param root: an lxml element (a whole ``<mujoco>`` document or a ``torso/0`` body).
    """
    for body in root.iter("body"):
        name = body.get("name", "")
        if not name.startswith("limb/") or body.find("inertial") is not None:
            continue
        geom = body.find(f"geom[@name='{name}']")
        if geom is None or geom.get("fromto") is None:
            continue
        vals = [float(v) for v in geom.get("fromto").split()]
        to = (vals[3] - vals[0], vals[4] - vals[1], vals[5] - vals[2])
        radius = float(geom.get("size").split()[0])
        density = float(geom.get("density", "1000"))
        mass, centre, inertia = capsule_inertial(to, radius, density)
        centre = (centre[0] + vals[0], centre[1] + vals[1], centre[2] + vals[2])
        inertial = etree.Element(
            "inertial",
            pos=fmt(centre),
            quat=fmt(tuple(capsule_quat(to))),
            mass=repr(mass),
            diaginertia=fmt(inertia),
        )
        body.insert(0, inertial)


def robot_xml(
    robot: Morphology | str | os.PathLike[str],
    z_offset: float = 0.0,
    mass_convention: str = "mujoco200",
) -> str:
    """MJCF text of a robot, ready to compile.

    :param robot: a :class:`Morphology` or the path of a robot file.
    :param z_offset: added to the torso height (the environments add the terrain thickness, 1.0).
    :param mass_convention: ``"mujoco200"`` (default, the original's masses) or ``"modern"``.
    """
    if mass_convention not in MASS_CONVENTIONS:
        raise ValueError(f"mass_convention={mass_convention!r}; allowed: {MASS_CONVENTIONS}")
    morph = robot if isinstance(robot, Morphology) else load(Path(robot))
    root = etree.fromstring(to_xml(morph, excludes=False).encode())
    torso = root.find("./worldbody/body[@name='torso/0']")
    torso.set("pos", f"0 0 {morph.torso_z + z_offset}")
    if mass_convention == "mujoco200":
        add_capsule_inertials(torso)
    return etree.tostring(root, encoding="unicode")


def compile_robot(
    robot: Morphology | str | os.PathLike[str],
    z_offset: float = 0.0,
    mass_convention: str = "mujoco200",
) -> mujoco.MjModel:
    """Compile a robot alone (no floor) into an ``MjModel``; see :func:`robot_xml`.

    :raises RobotFileError: MuJoCo cannot compile it (the message names the robot's file).
    """
    morph = robot if isinstance(robot, Morphology) else load(Path(robot))
    return compile_xml(robot_xml(morph, z_offset, mass_convention), morph)


def compile_xml(xml: str, robot: Morphology | None = None) -> mujoco.MjModel:
    """``MjModel.from_xml_string`` with MuJoCo's refusal turned into a :class:`RobotFileError` naming the
    robot (its file when it was read from one) and MuJoCo's first line."""
    try:
        return mujoco.MjModel.from_xml_string(xml)
    except ValueError as e:
        where = (robot.source or f"robot {robot.name!r}") if robot is not None else "<model>"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RobotFileError(where, f"MuJoCo cannot compile it: {first}") from None
