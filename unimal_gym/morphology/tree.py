"""The UNIMAL robot as data: a torso sphere and a tree of capsule limbs.

A :class:`Morphology` holds everything the robot XML holds that matters (geometry, joints, gears,
densities, symmetry) and nothing of the MJCF boilerplate. Read one with
:func:`unimal_gym.morphology.load`, write it with :func:`unimal_gym.morphology.save`.

Limb geometry is stored explicitly (body position, capsule end, sites, joint anchor) exactly as
the file has it, because the original's history-dependent rounding (docs/design_space.md §2.4, §4.5,
§4.9 B1) cannot be recomputed from the direction alone. The design-space operators compute new
geometry with the formulas of docs/design_space.md §2.4.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .geometry import Vec3, add, joint_axis_vector, round2, sph2cart

TORSO_RADIUS = 0.10  # docs/design_space.md §2.1
LIMB_RADIUS = 0.05  # docs/design_space.md §2.2
FLOOR_OFFSET = 0.2  # docs/design_space.md §4.8, BODY.FLOOR_OFFSET
MAX_DESIGN_LIMBS = 10  # docs/design_space.md §2.9: limbs excluding the torso
DESIGN_HEIGHTS = (0.2, 0.3, 0.4)  # docs/design_space.md §2.2: limb "height" h
TORSO_SITE = "torso/0"


@dataclass
class Joint:
    """One hinge of a limb.

    :param axis: slot label, ``"x"`` (joint ``limbx/N``) or ``"y"`` (``limby/N``).
    :param range: joint range in degrees ``(lo, hi)``.
    :param gear: motor gear (150–300 in the design space).
    :param vector: hinge axis in the body frame, as written to the XML (4 decimals).
    :param damping: joint damping, ``None`` = the ``normal_joint`` class default (1).
    :param armature: joint armature, ``None`` = the ``normal_joint`` class default (1).
    """

    axis: str
    range: tuple[float, float]
    gear: float
    vector: Vec3
    damping: float | None = None
    armature: float | None = None


@dataclass
class Limb:
    """One capsule limb ``limb/<index>``.

    :param index: the N of ``limb/N`` (an evolution id: not contiguous, not in tree order).
    :param parent: index of the parent limb, or ``-1`` for the torso.
    :param site: name of the parent's site this limb grows from (``torso/0``, ``limb/mid/P``,
        ``limb/btm/P``).
    :param theta: azimuth in degrees on the 45° grid (0 for straight-down limbs).
    :param phi: polar angle in degrees: 90, 135 or 180.
    :param height: the design-space "height" h ∈ {0.2, 0.3, 0.4}; the capsule segment is r + h long.
    :param pos: body position in the parent's frame.
    :param to: capsule segment end (``fromto="0 0 0 to"``).
    :param joint_pos: anchor of all joints of the limb (body frame).
    :param mid: position of site ``limb/mid/N``.
    :param btm: position of site ``limb/btm/N``.
    :param btm_pos: position of site ``limb/btm_pos/N`` (see docs/design_space.md §4.9 B1).
    :param mirror: sites have class ``mirror_growth_site`` (limb grown as part of a pair).
    :param joints: 1 or 2 hinges, x before y.
    :param children: child limb indices in document order.
    """

    index: int
    parent: int
    site: str
    theta: int
    phi: int
    height: float
    pos: Vec3
    to: Vec3
    joint_pos: Vec3
    mid: Vec3
    btm: Vec3
    btm_pos: Vec3
    mirror: bool
    joints: list[Joint]
    radius: float = LIMB_RADIUS
    children: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Body and geom name, ``limb/N``."""
        return f"limb/{self.index}"

    @property
    def joint_set(self) -> str:
        """``"x"``, ``"y"`` or ``"xy"``."""
        return "".join(j.axis for j in self.joints)

    @property
    def direction(self) -> tuple[int, int]:
        """``(θ, φ)`` in degrees."""
        return self.theta, self.phi


@dataclass
class Morphology:
    """A UNIMAL robot.

    :param name: robot id (file stem).
    :param torso_z: initial torso height in the robot file (before the env's +1 terrain offset).
    :param torso_density: density of the torso sphere.
    :param limb_density: density shared by all limbs.
    :param limbs: limbs by index.
    :param torso_children: limb indices attached to the torso, in document order.
    :param symmetric_pairs: mirrored limb pairs ``(a, b)``, a < b, in growth order.
    :param torso_mode: ``"horizontal_y"`` or ``"vertical"`` (names one unused site, §2.1).
    :param angmom_sensor: the file has the ``subtreeangmom`` sensor (33 original robots lack it).
    :param next_index: the next limb index ``grow_limb`` will use (never decremented, §3).
    :param contact_pairs: geom-name pairs allowed to touch at rest (parent/child and same-site
        pairs), as the mutator's state keeps them (docs/design_space.md §3).
    :param source: the file it was read from (``""`` for a robot made in memory); error messages name
        it. Not part of the robot: two robots that differ only in ``source`` are equal.
    """

    name: str
    torso_z: float
    torso_density: float
    limb_density: float
    limbs: dict[int, Limb] = field(default_factory=dict)
    torso_children: list[int] = field(default_factory=list)
    symmetric_pairs: list[tuple[int, int]] = field(default_factory=list)
    torso_mode: str = "horizontal_y"
    angmom_sensor: bool = True
    next_index: int = 0
    contact_pairs: set[tuple[str, str]] = field(default_factory=set)
    source: str = field(default="", compare=False)

    # ------------------------------------------------------------------ structure
    @property
    def num_limbs(self) -> int:
        """Number of limbs, torso excluded (the metadata JSON's ``num_limbs``)."""
        return len(self.limbs)

    @property
    def num_bodies(self) -> int:
        """Number of bodies including the torso (the env's number of limbs ``n``)."""
        return len(self.limbs) + 1

    @property
    def dof(self) -> int:
        """Number of actuated hinges (= motors)."""
        return sum(len(limb.joints) for limb in self.limbs.values())

    def children_of(self, parent: int) -> list[int]:
        """Child limb indices of ``parent`` (``-1`` = torso) in document order."""
        return self.torso_children if parent < 0 else self.limbs[parent].children

    def iter_limbs(self) -> Iterator[Limb]:
        """Limbs in depth-first pre-order, children in document order (MuJoCo body order)."""
        stack = list(reversed(self.torso_children))
        while stack:
            limb = self.limbs[stack.pop()]
            yield limb
            stack.extend(reversed(limb.children))

    def body_names(self) -> list[str]:
        """``["torso/0", "limb/…", …]`` in MuJoCo body order."""
        return ["torso/0"] + [limb.name for limb in self.iter_limbs()]

    def joint_names(self) -> list[str]:
        """Hinge names in MuJoCo joint (= actuator) order."""
        return [f"limb{j.axis}/{limb.index}" for limb in self.iter_limbs() for j in limb.joints]

    def units(self) -> list[tuple[int, ...]]:
        """Growth units (docs/design_space.md §3 ``limb_list``): pairs and singletons, by first index."""
        paired = {i for pair in self.symmetric_pairs for i in pair}
        units: list[tuple[int, ...]] = [tuple(p) for p in self.symmetric_pairs]
        units += [(i,) for i in self.limbs if i not in paired]
        return sorted(units)

    def mirror_of(self, index: int) -> int | None:
        """The other member of ``index``'s symmetric pair, or ``None``."""
        for a, b in self.symmetric_pairs:
            if index == a:
                return b
            if index == b:
                return a
        return None

    def site_position(self, site: str) -> Vec3:
        """Position of a growth site in its owner body's frame."""
        if site == TORSO_SITE:
            return (0.0, 0.0, 0.0)
        _, kind, idx = site.split("/")
        limb = self.limbs[int(idx)]
        return limb.mid if kind == "mid" else limb.btm

    def world_positions(self) -> dict[int, Vec3]:
        """Body origin of every limb relative to the torso origin at rest (frames never rotate)."""
        out: dict[int, Vec3] = {}

        def visit(parent_pos: Vec3, children: list[int]) -> None:
            for c in children:
                limb = self.limbs[c]
                p = (parent_pos[0] + limb.pos[0], parent_pos[1] + limb.pos[1], parent_pos[2] + limb.pos[2])
                out[c] = p
                visit(p, limb.children)

        visit((0.0, 0.0, 0.0), self.torso_children)
        return out

    def reshape_limb(
        self, index: int, theta: int, phi: int, height: float, *, round_pos: bool = True, btm_pos_bug: bool = False
    ) -> None:
        """Re-place limb ``index`` at its site with a new direction and height, moving its children.

        Geometry, sites and joint axes follow docs/design_space.md §2.4–2.5; the limb keeps its site,
        joints' ranges and gears. Direct children keep their sites and directions and move with
        them: child pos = new site position + sph2cart(r, child θ, child φ) (§4.5). The head
        height is not re-placed (call :meth:`place_head`).

        :param round_pos: round the body position to 2 decimals (``limb_params`` does, §4.5).
        :param btm_pos_bug: set ``btm_pos`` to r+h like the original ``limb_params`` (bug B1, §4.9).
        """
        limb = self.limbs[index]
        parent_radius = TORSO_RADIUS if limb.parent < 0 else self.limbs[limb.parent].radius
        geo = limb_geometry(self.site_position(limb.site), parent_radius, theta, phi, height, limb.radius)
        limb.theta, limb.phi, limb.height = (0 if phi == 180 else theta), phi, height
        limb.pos = round2(geo["pos"]) if round_pos else geo["pos"]
        limb.to, limb.joint_pos, limb.mid, limb.btm = geo["to"], geo["joint_pos"], geo["mid"], geo["btm"]
        limb.btm_pos = geo["btm"] if btm_pos_bug else geo["btm_pos"]
        for joint in limb.joints:
            joint.vector = joint_axis_vector(limb.to, joint.axis)
        for c in limb.children:
            child = self.limbs[c]
            child.pos = add(self.site_position(child.site), sph2cart(limb.radius, child.theta, child.phi))

    def copy(self) -> Morphology:
        """A deep copy (mutation operators never touch their input); it has no ``source``: it is a new robot."""
        out = copy.deepcopy(self)
        out.source = ""
        return out

    # ------------------------------------------------------------------ head height
    def head_height(self) -> float:
        """Torso z that puts the lowest ``btm_pos`` site 0.2 above z = 0 (docs/design_space.md §4.8)."""
        lowest = -TORSO_RADIUS  # site torso/btm_pos/0
        for idx, p in self.world_positions().items():
            lowest = min(lowest, p[2] + self.limbs[idx].btm_pos[2])
        return _round2(-lowest + FLOOR_OFFSET)

    def place_head(self) -> None:
        """Set :attr:`torso_z` from :meth:`head_height` (done after ``grow_limb`` and ``limb_params``)."""
        self.torso_z = self.head_height()


def _round2(x: float) -> float:
    """Round a scalar to 2 decimals the numpy way; −0.0 becomes 0.0."""
    v = float(np.round(np.float64(x), 2))
    return 0.0 if v == 0.0 else v


def limb_geometry(
    site_pos: Vec3, parent_radius: float, theta: int, phi: int, height: float, radius: float = LIMB_RADIUS
) -> dict[str, Vec3]:
    """Positions of a newly grown limb (docs/design_space.md §2.4).

    Returns a dict with ``pos`` (body position in the parent frame, ``s + sph2cart(p_r)``, not
    re-rounded), ``to``, ``joint_pos``, ``mid``, ``btm`` and ``btm_pos``.
    """
    theta_back = (theta + 180) % 360
    return {
        "pos": add(site_pos, sph2cart(parent_radius, theta, phi)),
        "joint_pos": sph2cart(radius, theta_back, 180 - phi),
        "to": sph2cart(radius + height, theta, phi),
        "mid": sph2cart(radius + height / 2, theta, phi),
        "btm": sph2cart(radius + height, theta, phi),
        "btm_pos": sph2cart(2 * radius + height, theta, phi),
    }


def make_joint(axis: str, to: Vec3, lo_hi: tuple[float, float], gear: float) -> Joint:
    """A hinge whose axis vector is computed from the capsule frame (docs/design_space.md §2.5)."""
    return Joint(axis=axis, range=(lo_hi[0], lo_hi[1]), gear=gear, vector=joint_axis_vector(to, axis))
