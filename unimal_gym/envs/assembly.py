"""The environment's MuJoCo model: UNIMAL template + robot + arena (docs/environment.md §1.3).

:func:`agent_scene` builds everything except the ground: the robot's torso subtree raised by the
terrain thickness, its motors and sensors, the template's physics settings with the env's overrides
(``filterparent`` enabled, default geom condim 3 and friction 0.7 0.1 0.1, the robot's
``<exclude>`` pairs dropped), MuJoCo 2.0 capsule masses (docs/environment.md §6.3), the original's 11 cameras,
materials and visual settings. The arenas (:mod:`.arenas`) then insert their ground geoms at
worldbody index 1 and their hfield assets: :func:`compile_scene` does that and compiles, for the
environment and for :func:`ft_model`, the FT model of a robot that the robot-set generator's rest
check (:func:`unimal_gym.envs.rest.rest_rollout`) simulates.

Differences that affect nothing but memory or rendering, and why:

* ``<size njmax="1000" nconmax="200">`` is not written: modern MuJoCo only sizes its memory arena
  from it (52 MB per env). The original's hard limits (a MuJoCo 2.0 warning, i.e. a physics error,
  beyond :data:`MAX_CONTACTS` contacts or :data:`MAX_CONSTRAINT_ROWS` constraint rows) are enforced
  by the environment instead.
* The skybox gradient is 128×128 instead of 800×800 and the shadow map 4096 instead of 16384: the
  original spent ~50 ms per compile on the skybox (docs/environment.md §1.3), and 16384 shadow maps fail on
  many offscreen GL contexts.
"""

from __future__ import annotations

import copy

import mujoco
from lxml import etree

from ..layout import TERRAIN_THICKNESS
from ..morphology import Morphology, robot_xml
from ..morphology.compile import compile_xml
from .arenas import Arena, FlatFloor

GEOM_CONDIM = "3"  # docs/environment.md §1.3 step 3 (XML.GEOM_CONDIM)
GEOM_FRICTION = "0.7 0.1 0.1"  # docs/environment.md §1.3 step 3 (XML.GEOM_FRICTION)
MAX_CONTACTS = 200  # docs/environment.md §1.3: the original's nconmax; more contacts in a substep is a physics error
MAX_CONSTRAINT_ROWS = 1000  # docs/environment.md §1.3: the original's njmax; more constraint rows is a physics error

# docs/environment.md §1.3 (Agent module): 9 body-tracking cameras inserted after the torso's "side" camera
TORSO_CAMERAS = (
    ("incline_view", {"pos": "-1 -10 2", "xyaxes": "1 -0.25 0 0 0.75 2"}),
    ("mani_view", {"pos": "-7.65528549 -0.24869655 4.65546087", "quat": "0.5949708 0.3811095 -0.38163278 -0.59592086"}),
    ("obstacle_view", {"pos": "-9 -1.09046514 7.51348819", "quat": "0.5953303 0.3934467 -0.37115008 -0.5941626"}),
    ("ft_view", {"pos": "-4 -6 2", "xyaxes": "1 -1 0 0 1 2"}),
    ("vt_view", {"pos": "-1 -7 2", "xyaxes": "1 -0.25 0 0 0.75 2"}),
    ("left_view", {"pos": "0 -6 6", "xyaxes": "1 0 0 0 0.7 0.75"}),
    ("top_down", {"pos": "0 0 20", "xyaxes": "1 0 0 0 1 0"}),
    ("front_view", {"pos": "-6 0 6", "xyaxes": "0 -1 0 0.7 0 0.75"}),
    ("rear_view", {"pos": "6 0 6", "xyaxes": "0 1 0 -0.7 0 0.75"}),
)
# ... and 2 fixed world cameras inserted at worldbody index 1
WORLD_CAMERAS = (
    ("patrol_view", {"pos": "0 -8 5", "xyaxes": "1 0 0 0 1 2", "fovy": "50"}),
    ("tune_camera", {"pos": "6 0 6", "xyaxes": "0 1 0 -0.7 0 0.75"}),
)
CAMERAS = ("side", *(n for n, _ in TORSO_CAMERAS), *(n for n, _ in WORLD_CAMERAS))

_ASSETS = """<asset>
  <texture name="grid" type="2d" builtin="checker" rgb1="0.4 0.4 0.4" rgb2="0.4 0.4 0.4" width="300" height="300"
           mark="edge" markrgb="0.2 0.2 0.2"/>
  <texture name="hfield" type="2d" builtin="checker" rgb1="0.4 0.4 0.4" rgb2="0.4 0.4 0.4" width="300" height="300"
           mark="edge" markrgb="0.2 0.2 0.2"/>
  <texture name="boundary" type="2d" builtin="flat" rgb1="0.3 0.3 0.3" rgb2="0.3 0.3 0.3" width="300" height="300"/>
  <texture name="skybox" type="skybox" builtin="gradient" rgb1="1 1 1" rgb2="0.6 0.6 0.6" width="128" height="128"/>
  <material name="grid" texture="grid" texrepeat="1 1" texuniform="true" reflectance="0.1"/>
  <material name="hfield" texture="hfield" texrepeat="1 1" texuniform="true" reflectance="0.1"/>
  <material name="boundary" texture="boundary" texrepeat="1 1" texuniform="true" reflectance=".5"/>
  <material name="self" rgba=".7 .5 .3 1"/>
  <material name="food" rgba="0 0 1 1" emission="1"/>
</asset>"""
_VISUAL = """<visual>
  <headlight ambient="0.6 0.6 0.6" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  <map znear=".01" shadowclip="0.5"/>
  <quality shadowsize="4096"/>
</visual>"""


def agent_scene(robot: Morphology, terrain_thickness: float = TERRAIN_THICKNESS) -> etree._Element:
    """The MJCF tree of the template with the robot and no ground (docs/environment.md §1.3 steps 1–3, Agent module).

    The torso is the last child of ``<worldbody>``, raised by ``terrain_thickness``; the 2 world
    cameras sit at worldbody index 1, so an arena inserting its ground at index 1 reproduces the
    original's order (light, ground, cameras, torso).
    """
    root = etree.fromstring(robot_xml(robot, z_offset=terrain_thickness).encode())
    size = root.find("size")
    for attr in ("njmax", "nconmax"):
        size.attrib.pop(attr, None)
    root.find("option/flag").set("filterparent", "enable")
    geom_default = root.find("default/geom")
    geom_default.set("condim", GEOM_CONDIM)
    geom_default.set("friction", GEOM_FRICTION)
    for contact in root.findall("contact"):
        contact.clear()
    world = root.find("worldbody")
    for k, (name, attrs) in enumerate(WORLD_CAMERAS):
        world.insert(1 + k, etree.Element("camera", name=name, mode="fixed", **attrs))
    torso = world.find("body[@name='torso/0']")
    side = torso.find("camera[@name='side']")
    at = list(torso).index(side) + 1
    for k, (name, attrs) in enumerate(TORSO_CAMERAS):
        torso.insert(at + k, etree.Element("camera", name=name, mode="trackcom", **attrs))
    for old in root.findall("visual") + [a for a in root.findall("asset") if len(a)]:
        root.remove(old)
    root.append(etree.fromstring(_ASSETS))
    root.append(etree.fromstring(_VISUAL))
    return root


def ground_asset(root: etree._Element) -> etree._Element:
    """The ``<asset>`` element arenas append hfields to (created before the materials if absent)."""
    for asset in root.findall("asset"):
        if asset.find("material") is None and asset.find("texture") is None:
            return asset
    asset = etree.Element("asset")
    root.append(asset)
    return asset


def compile_scene(scene: etree._Element, arena: Arena, robot: Morphology | None = None) -> mujoco.MjModel:
    """Compile a scene of :func:`agent_scene` on the arena's current ground.

    :param scene: the robot's scene without ground; it is copied, not changed.
    :param arena: inserts its ground into the copy (:meth:`Arena.add_ground`) and writes what XML
        cannot say into the compiled model (:meth:`Arena.after_compile`).
    :param robot: the robot of the scene, named (with its file) if MuJoCo refuses the model.
    :returns: the complete model, ready for ``MjData``.
    :raises RobotFileError: MuJoCo cannot compile the scene.
    """
    root = copy.deepcopy(scene)
    arena.add_ground(root)
    model = compile_xml(etree.tostring(root, encoding="unicode"), robot)
    arena.after_compile(model)
    return model


def ft_model(robot: Morphology) -> mujoco.MjModel:
    """The model ``UnimalEnv(task="ft")`` compiles for ``robot``: its scene on a default :class:`FlatFloor`."""
    return compile_scene(agent_scene(robot), FlatFloor(), robot)
