"""The seven UNIMAL mutation operators and ``mutate`` (docs/design_space.md §4).

Every public function takes a robot and a ``numpy.random.Generator`` and returns a **new**
robot together with an :class:`Operation` that records what changed; the input is never
modified. Draws use only the generator, so a seed fixes the result.

Choices the original code leaves open (docs/design_space.md §4.3, §4.9, §9):

* **Touching capsules (§4.3).** The validity check of ``grow_limb`` uses MuJoCo's contact
  list as it is after ``mj_forward``: every reported contact counts, whatever its distance.
  Exactly touching capsules that MuJoCo reports (distance ≈ −1e‑17) therefore reject the
  attempt, and touching points MuJoCo does not report are accepted.
* **B1 (§4.9):** ``limb_params`` sets ``limb/btm_pos/N`` to r+h like the original when
  ``btm_pos_bug=True`` (default); ``btm_pos_bug=False`` uses the capsule tip 2r+h.
* **B2 (§4.9):** ``delete_limb`` leaves the head height stale like the original when
  ``stale_head=True`` (default); ``stale_head=False`` re-places the head after a deletion.
  The other operators that do not re-place the head (density and the joint ops) do not move
  any limb, so the head height they leave is exact anyway.
* **Unused draws (B5):** the original's unused gear draw in ``grow_limb`` is not made; it only
  mattered for replaying the original's Python RNG stream, which a numpy generator cannot do.
* **Straight-down limbs** store θ = 0 (their azimuth is undefined), as :func:`load` does, so
  a robot written and read back equals itself.
* A ``grow_limb`` that exhausts its 50 attempts leaves the robot unchanged apart from the head
  re-placement, and its :class:`Operation` has ``applied=False`` (as in the original).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import mujoco
import numpy as np
from lxml import etree

from .errors import MutationError, NoOperatorError, OperatorNotAllowedError
from .geometry import PHIS, THETAS, same_direction
from .mjcf import _build_tree
from .tree import (
    DESIGN_HEIGHTS,
    MAX_DESIGN_LIMBS,
    TORSO_RADIUS,
    TORSO_SITE,
    Limb,
    Morphology,
    limb_geometry,
    make_joint,
)

# docs/design_space.md §4.1: MUTATION_OPS, in the original's order (the choice is uniform over the allowed ones).
OPERATORS: tuple[str, ...] = ("grow_limb", "joint_angle", "limb_params", "dof", "density", "gear", "delete_limb")
HEIGHTS: tuple[float, ...] = DESIGN_HEIGHTS  # docs/design_space.md §2.2, §2.8
DENSITIES: tuple[float, ...] = (500.0, 600.0, 700.0, 800.0, 900.0, 1000.0)  # docs/design_space.md §2.1, §2.2, §2.8
GEARS: tuple[float, ...] = (150.0, 200.0, 250.0, 300.0)  # docs/design_space.md §2.6
AXIS_SETS: tuple[str, ...] = ("x", "y", "xy")  # docs/design_space.md §2.5
# docs/design_space.md §2.5: the 13 joint ranges (degrees).
JOINT_RANGES: tuple[tuple[float, float], ...] = (
    (-30.0, 0.0),
    (0.0, 30.0),
    (-30.0, 30.0),
    (-45.0, 45.0),
    (-45.0, 0.0),
    (0.0, 45.0),
    (-60.0, 0.0),
    (0.0, 60.0),
    (-60.0, 60.0),
    (-90.0, 0.0),
    (0.0, 90.0),
    (-60.0, 30.0),
    (-30.0, 60.0),
)
GROW_ATTEMPTS = 50  # docs/design_space.md §4.2
MIN_LIMBS_FOR_DELETE = 3  # docs/design_space.md §4.1: delete_limb is removed if num_limbs <= 2

T = TypeVar("T")


@dataclass
class Operation:
    """One mutation step.

    :param name: the operator (one of :data:`OPERATORS`).
    :param applied: ``False`` only for a ``grow_limb`` whose attempts all failed (robot unchanged).
    :param details: what changed, per operator: ``grow_limb`` → ``added`` (limb indices),
        ``sites``, ``directions`` ((θ, φ) per new limb), ``height``, ``joints``, ``attempts``,
        ``failures`` (rejection reason → count: ``limit``, ``direction``, ``symmetry``,
        ``contact``); ``delete_limb`` → ``removed``; ``limb_params`` → ``unit``, ``old_height``,
        ``height``; ``density`` → ``limb_density``, ``torso_density``; ``gear`` / ``joint_angle`` /
        ``dof`` → ``scope`` (``"all"`` or ``"one"``), ``units`` and the new ``values`` per unit.
    """

    name: str
    applied: bool = True
    details: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers
def _pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One element of ``options``, uniformly (docs/design_space.md §2.8)."""
    return options[int(rng.integers(len(options)))]


def _site_owner(site: str) -> int:
    """Index of the limb that owns a growth site, ``-1`` for the torso site."""
    return -1 if site == TORSO_SITE else int(site.rsplit("/", 1)[1])


def _site_kind(site: str) -> str:
    """``"torso"``, ``"mid"`` or ``"btm"``."""
    return "torso" if site == TORSO_SITE else site.split("/")[1]


def _parent_radius(robot: Morphology, owner: int) -> float:
    return TORSO_RADIUS if owner < 0 else robot.limbs[owner].radius


def _geom_name(index: int) -> str:
    return TORSO_SITE if index < 0 else f"limb/{index}"


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def growth_sites(robot: Morphology) -> list[str]:
    """All growth sites in document order: ``torso/0``, then ``limb/mid/N``, ``limb/btm/N`` per limb (§4.2)."""
    sites = [TORSO_SITE]
    for limb in robot.iter_limbs():
        sites += [f"limb/mid/{limb.index}", f"limb/btm/{limb.index}"]
    return sites


def mirror_site(robot: Morphology, site: str) -> str:
    """The site mirrored to a ``mirror_growth_site`` (same kind, on the pair partner; §3 ``mirror_sites``).

    :raises MutationError: the site's limb is marked as a pair member but has no partner.
    """
    owner = _site_owner(site)
    partner = robot.mirror_of(owner)
    if partner is None:
        raise MutationError(f"{robot.name}: limb/{owner} has mirror growth sites but is in no symmetric pair")
    return f"limb/{_site_kind(site)}/{partner}"


def allowed_operators(robot: Morphology, operators: Sequence[str] = OPERATORS) -> list[str]:
    """The operators docs/design_space.md §4.1 allows for ``robot``, restricted to ``operators``.

    :param robot: the robot to mutate.
    :param operators: the candidate pool (default all seven, in the original's order).
    """
    n = robot.num_limbs
    if n == 0:
        allowed = ["grow_limb"]
    else:
        allowed = [
            op
            for op in OPERATORS
            if not (op == "grow_limb" and n >= MAX_DESIGN_LIMBS)
            and not (op == "delete_limb" and n < MIN_LIMBS_FOR_DELETE)
        ]
    return [op for op in allowed if op in operators]


def _require_allowed(robot: Morphology, name: str) -> None:
    if name not in allowed_operators(robot):
        raise OperatorNotAllowedError(
            f"{robot.name}: {name} is not allowed on a robot with {robot.num_limbs} limbs "
            "(docs/design_space.md §4.1: no grow_limb at 10 limbs, no delete_limb at <= 2, only grow_limb at 0)"
        )


# ---------------------------------------------------------------------------- grow_limb
@dataclass
class _Growth:
    """One drawn growth: placements (site, θ, φ) and the shared limb parameters."""

    placements: list[tuple[str, int, int]]
    height: float
    joints: list[tuple[str, tuple[float, float], float]]
    same_site: bool


def _draw_growth(robot: Morphology, rng: np.random.Generator) -> _Growth | str:
    """Steps 1–4 of docs/design_space.md §4.2: a candidate growth, or the reason the attempt failed."""
    sites = growth_sites(robot)
    site = _pick(rng, sites)
    owner = _site_owner(site)
    other: str | None = None
    if owner >= 0 and robot.limbs[owner].mirror:
        count = 2
        other = mirror_site(robot, site)
        if other < site:  # the lexicographically smaller site is the primary (§2.7)
            site, other = other, site
    else:
        count = int(rng.integers(2)) + 1
    if robot.num_limbs + count > MAX_DESIGN_LIMBS:
        return "limit"
    height = _pick(rng, HEIGHTS)
    axes = _pick(rng, AXIS_SETS)
    joints = [(axis, _pick(rng, JOINT_RANGES), _pick(rng, GEARS)) for axis in axes]
    theta, phi = _pick(rng, THETAS), _pick(rng, PHIS)
    if count == 2 and theta > 180:
        theta = 360 - theta
    owner = _site_owner(site)
    if _site_kind(site) == "mid" and same_direction((theta, phi), robot.limbs[owner].direction):
        return "direction"
    if count == 1:
        placements = [(site, theta, phi)]
    elif other is None:
        if theta in (0, 180) or phi == 180:
            return "direction"
        placements = [(site, theta, phi), (site, 360 - theta, phi)]
    else:
        placements = [(site, theta, phi), (other, theta, phi)]
    return _Growth(placements=placements, height=height, joints=joints, same_site=other is None and count == 2)


def _attach(robot: Morphology, growth: _Growth) -> list[int]:
    """Step 5 of §4.2: add the new limbs (indices from ``next_index``) as last children of their owners."""
    added = []
    for k, (site, theta, phi) in enumerate(growth.placements):
        index = robot.next_index + k
        owner = _site_owner(site)
        theta = 0 if phi == 180 else theta
        geo = limb_geometry(robot.site_position(site), _parent_radius(robot, owner), theta, phi, growth.height)
        robot.limbs[index] = Limb(
            index=index,
            parent=owner,
            site=site,
            theta=theta,
            phi=phi,
            height=growth.height,
            pos=geo["pos"],
            to=geo["to"],
            joint_pos=geo["joint_pos"],
            mid=geo["mid"],
            btm=geo["btm"],
            btm_pos=geo["btm_pos"],
            mirror=len(growth.placements) == 2,
            joints=[make_joint(axis, geo["to"], lo_hi, gear) for axis, lo_hi, gear in growth.joints],
        )
        robot.children_of(owner).append(index)
        added.append(index)
    return added


def _detach(robot: Morphology, added: list[int]) -> None:
    for index in reversed(added):
        limb = robot.limbs.pop(index)
        robot.children_of(limb.parent).remove(index)


def _new_contact_pairs(robot: Morphology, added: list[int], same_site: bool) -> set[tuple[str, str]]:
    """Contacts a growth is allowed to add: each new limb with its parent, a same-site pair with itself (§4.3)."""
    pairs = {_pair(_geom_name(robot.limbs[i].parent), _geom_name(i)) for i in added}
    if same_site:
        pairs.add(_pair(_geom_name(added[0]), _geom_name(added[1])))
    return pairs


def validity_failure(robot: Morphology, allowed: set[tuple[str, str]] | None = None) -> str | None:
    """The validity check of docs/design_space.md §4.3 on the compiled robot, at rest.

    Compiles the robot with an empty ``<contact>`` and ``filterparent="disable"`` and runs
    ``mj_forward``. Every contact MuJoCo reports counts (the touching-capsule rule, see the
    module docstring).

    :param robot: the candidate.
    :param allowed: geom-name pairs allowed to touch (sorted tuples); default ``robot.contact_pairs``.
    :return: ``None`` if valid, ``"symmetry"`` if ``subtree_com[torso].y`` is not exactly 0,
        ``"contact"`` if two geoms touch that are not allowed to.
    """
    allowed = robot.contact_pairs if allowed is None else allowed
    model = mujoco.MjModel.from_xml_string(etree.tostring(_build_tree(robot), encoding="unicode"))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    if data.subtree_com[model.body(TORSO_SITE).id][1] != 0.0:
        return "symmetry"
    for g1, g2 in data.contact.geom[: data.ncon]:
        if _pair(model.geom(int(g1)).name, model.geom(int(g2)).name) not in allowed:
            return "contact"
    return None


def _grow_limb(robot: Morphology, rng: np.random.Generator, attempts: int = GROW_ATTEMPTS) -> Operation:
    """docs/design_space.md §4.2 in place."""
    failures: Counter[str] = Counter()
    op = Operation("grow_limb", applied=False)
    for attempt in range(1, attempts + 1):
        growth = _draw_growth(robot, rng)
        if isinstance(growth, str):
            failures[growth] += 1
            continue
        added = _attach(robot, growth)
        extra = _new_contact_pairs(robot, added, growth.same_site)
        reason = validity_failure(robot, robot.contact_pairs | extra)
        if reason is not None:
            failures[reason] += 1
            _detach(robot, added)
            continue
        robot.next_index += len(added)
        robot.contact_pairs |= extra
        if len(added) == 2:
            robot.symmetric_pairs.append((added[0], added[1]))
        op.applied = True
        op.details.update(
            added=added,
            sites=[p[0] for p in growth.placements],
            directions=[robot.limbs[i].direction for i in added],
            height=growth.height,
            joints="".join(j[0] for j in growth.joints),
            attempts=attempt,
        )
        break
    else:
        op.details.update(added=[], attempts=attempts)
    op.details["failures"] = dict(failures)
    robot.place_head()
    return op


# ---------------------------------------------------------------------------- the other operators
def _delete_limb(robot: Morphology, rng: np.random.Generator, stale_head: bool = True) -> Operation:
    """docs/design_space.md §4.4 in place: remove one leaf unit (a pair as a whole)."""
    # The original tests the unit's first limb; growth on mirror sites always adds to both pair
    # members, so testing all members is the same and never orphans a child.
    leaves = [u for u in robot.units() if all(not robot.limbs[i].children for i in u)]
    unit = _pick(rng, leaves)
    removed_names = set()
    for index in unit:
        limb = robot.limbs.pop(index)
        robot.children_of(limb.parent).remove(index)
        removed_names.add(limb.name)
    if len(unit) == 2:
        robot.symmetric_pairs.remove((unit[0], unit[1]))
    robot.contact_pairs = {p for p in robot.contact_pairs if not removed_names & set(p)}
    if not stale_head:
        robot.place_head()
    return Operation("delete_limb", details={"removed": list(unit)})


def _limb_params(robot: Morphology, rng: np.random.Generator, btm_pos_bug: bool = True) -> Operation:
    """docs/design_space.md §4.5 in place: new height for one unit, children moved along."""
    unit = _pick(rng, robot.units())
    height = _pick(rng, HEIGHTS)
    old_height = robot.limbs[unit[0]].height
    for index in unit:
        limb = robot.limbs[index]
        robot.reshape_limb(index, limb.theta, limb.phi, height, round_pos=True, btm_pos_bug=btm_pos_bug)
    robot.place_head()
    return Operation("limb_params", details={"unit": list(unit), "old_height": old_height, "height": height})


def _density(robot: Morphology, rng: np.random.Generator) -> Operation:
    """docs/design_space.md §4.6 in place."""
    robot.limb_density = _pick(rng, DENSITIES)
    robot.torso_density = _pick(rng, DENSITIES)
    return Operation("density", details={"limb_density": robot.limb_density, "torso_density": robot.torso_density})


def _affected_units(robot: Morphology, rng: np.random.Generator) -> tuple[str, list[tuple[int, ...]]]:
    """docs/design_space.md §4.7: all units with probability ½, else one unit chosen uniformly."""
    units = robot.units()
    if rng.random() < 0.5:
        return "all", units
    return "one", [_pick(rng, units)]


def _joint_op(robot: Morphology, rng: np.random.Generator, name: str) -> Operation:
    """``gear``, ``joint_angle`` or ``dof`` (docs/design_space.md §4.7) in place; pair members get identical values."""
    scope, units = _affected_units(robot, rng)
    values: list[Any] = []
    for unit in units:
        first = robot.limbs[unit[0]]
        if name in ("gear", "joint_angle"):
            attr, pool = ("gear", GEARS) if name == "gear" else ("range", JOINT_RANGES)
            drawn = [_pick(rng, pool) for _ in first.joints]
            for index in unit:
                for joint, value in zip(robot.limbs[index].joints, drawn, strict=True):
                    setattr(joint, attr, value)
            values.append(drawn)
        else:
            axes = _pick(rng, AXIS_SETS)
            spec = [(axis, _pick(rng, JOINT_RANGES), _pick(rng, GEARS)) for axis in axes]
            for index in unit:
                limb = robot.limbs[index]
                limb.joints = [make_joint(axis, limb.to, lo_hi, g) for axis, lo_hi, g in spec]
            values.append(spec)
    return Operation(name, details={"scope": scope, "units": [list(u) for u in units], "values": values})


def _apply(
    robot: Morphology, name: str, rng: np.random.Generator, *, btm_pos_bug: bool = True, stale_head: bool = True
) -> Operation:
    """Apply operator ``name`` to ``robot`` in place."""
    if name == "grow_limb":
        return _grow_limb(robot, rng)
    if name == "delete_limb":
        return _delete_limb(robot, rng, stale_head)
    if name == "limb_params":
        return _limb_params(robot, rng, btm_pos_bug)
    if name == "density":
        return _density(robot, rng)
    if name in ("gear", "joint_angle", "dof"):
        return _joint_op(robot, rng, name)
    raise ValueError(f"unknown mutation operator {name!r}; known: {', '.join(OPERATORS)}")


# ---------------------------------------------------------------------------- public API
def apply_operator(
    robot: Morphology,
    name: str,
    rng: np.random.Generator,
    *,
    btm_pos_bug: bool = True,
    stale_head: bool = True,
) -> tuple[Morphology, Operation]:
    """Apply one named operator to a copy of ``robot``.

    :param robot: the parent (not modified).
    :param name: one of :data:`OPERATORS`.
    :param rng: the random generator.
    :param btm_pos_bug: replicate bug B1 in ``limb_params`` (docs/design_space.md §4.9).
    :param stale_head: replicate bug B2 in ``delete_limb`` (docs/design_space.md §4.9).
    :raises OperatorNotAllowedError: docs/design_space.md §4.1 excludes ``name`` for this robot.
    """
    if name not in OPERATORS:
        raise ValueError(f"unknown mutation operator {name!r}; known: {', '.join(OPERATORS)}")
    _require_allowed(robot, name)
    child = robot.copy()
    op = _apply(child, name, rng, btm_pos_bug=btm_pos_bug, stale_head=stale_head)
    return child, op


def grow_limb(robot: Morphology, rng: np.random.Generator) -> tuple[Morphology, Operation]:
    """Grow one limb or a symmetric pair (docs/design_space.md §4.2), up to 50 checked attempts.

    :param robot: the parent (not modified).
    :param rng: the random generator.
    :return: the child and the operation; ``op.applied`` is ``False`` if every attempt failed.
    :raises OperatorNotAllowedError: the robot already has 10 limbs.
    """
    return apply_operator(robot, "grow_limb", rng)


def delete_limb(
    robot: Morphology, rng: np.random.Generator, *, stale_head: bool = True
) -> tuple[Morphology, Operation]:
    """Delete one leaf unit, a pair as a whole (docs/design_space.md §4.4).

    :param stale_head: keep the old head height like the original (bug B2, §4.9).
    :raises OperatorNotAllowedError: the robot has 2 or fewer limbs.
    """
    return apply_operator(robot, "delete_limb", rng, stale_head=stale_head)


def limb_params(
    robot: Morphology, rng: np.random.Generator, *, btm_pos_bug: bool = True
) -> tuple[Morphology, Operation]:
    """Redraw the height of one unit and move its children (docs/design_space.md §4.5).

    :param btm_pos_bug: set ``btm_pos`` to r+h like the original (bug B1, §4.9).
    """
    return apply_operator(robot, "limb_params", rng, btm_pos_bug=btm_pos_bug)


def density(robot: Morphology, rng: np.random.Generator) -> tuple[Morphology, Operation]:
    """Redraw the limb and torso densities (docs/design_space.md §4.6)."""
    return apply_operator(robot, "density", rng)


def gear(robot: Morphology, rng: np.random.Generator) -> tuple[Morphology, Operation]:
    """Redraw the gears of one unit or of all units (docs/design_space.md §4.7)."""
    return apply_operator(robot, "gear", rng)


def joint_angle(robot: Morphology, rng: np.random.Generator) -> tuple[Morphology, Operation]:
    """Redraw the joint ranges of one unit or of all units (docs/design_space.md §4.7)."""
    return apply_operator(robot, "joint_angle", rng)


def dof(robot: Morphology, rng: np.random.Generator) -> tuple[Morphology, Operation]:
    """Redraw the joint set (with fresh ranges and gears) of one unit or of all units (docs/design_space.md §4.7)."""
    return apply_operator(robot, "dof", rng)


def mutate(
    robot: Morphology,
    n: int,
    rng: np.random.Generator,
    *,
    operators: Sequence[str] = OPERATORS,
    btm_pos_bug: bool = True,
    stale_head: bool = True,
) -> tuple[Morphology, list[Operation]]:
    """Apply ``n`` random operators in sequence, each chosen uniformly among the allowed ones (§4.1).

    :param robot: the parent (not modified; the child keeps its name).
    :param n: number of mutation steps (a failed ``grow_limb`` counts as a step).
    :param rng: the random generator; the same seed gives the same child.
    :param operators: restrict the pool (default all seven).
    :param btm_pos_bug: replicate bug B1 in ``limb_params`` (docs/design_space.md §4.9).
    :param stale_head: replicate bug B2 in ``delete_limb`` (docs/design_space.md §4.9).
    :raises NoOperatorError: at some step no operator of the pool is allowed.
    """
    if n < 0:
        raise ValueError(f"{robot.name}: number of mutations must be >= 0, got {n}")
    unknown = [op for op in operators if op not in OPERATORS]
    if unknown:
        raise ValueError(f"unknown mutation operators {unknown}; known: {', '.join(OPERATORS)}")
    child = robot.copy()
    ops: list[Operation] = []
    for _ in range(n):
        allowed = allowed_operators(child, operators)
        if not allowed:
            raise NoOperatorError(
                f"{robot.name}: no operator of {list(operators)} is allowed on a robot with {child.num_limbs} limbs "
                "(docs/design_space.md §4.1)"
            )
        ops.append(_apply(child, _pick(rng, allowed), rng, btm_pos_bug=btm_pos_bug, stale_head=stale_head))
    return child, ops
