"""What a robot file may hold: the one place robot files are checked (docs/design_space.md §5.13).

Everything the reader (:mod:`.mjcf`) takes from a file passes through this module, so a bad file
ends in one :class:`~unimal_gym.morphology.errors.RobotFileError` that names the file, the element
and what is allowed, never in a Python or MuJoCo traceback, and never silently (a value the
simulator would accept but that makes no physical sense, such as a negative gear, is refused too):

* :func:`parse_xml` parses with an explicit hardened parser: no DTD (a ``<!DOCTYPE`` is refused, so
  no entity, internal or external, is ever expanded), no network, no XInclude, at most
  :data:`MAX_XML_BYTES` bytes and :data:`MAX_XML_DEPTH` levels of nesting;
* :func:`numbers` parses an attribute's numbers and checks them against :data:`LIMITS`;
* :func:`read_metadata` reads the sibling metadata JSON (at most :data:`MAX_METADATA_BYTES`, an
  object whose known keys have the right types; unknown keys are ignored);
* :func:`check_layout` checks that the environments' padded observation can hold a robot (at most
  11 bodies and 16 hinges, docs/environment.md §3.5), so ``unimal-gym validate`` and the
  environments agree on every file.

The limits are wide enough for every robot of the design space and its dynamics variations
(:mod:`.variations`), and narrow enough that no accepted file puts a non-finite number into an
observation.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..layout import MAX_JOINTS, MAX_LIMBS
from .errors import RobotFileError, RobotTooLargeError
from .tree import Morphology

MAX_XML_BYTES = 1 << 20  # an original robot file is ~10 KB
MAX_XML_DEPTH = 64  # a 10-limb chain nests 14 elements deep
MAX_METADATA_BYTES = 1 << 16  # the original metadata files are < 200 bytes
MAX_BODIES = MAX_LIMBS - 1  # docs/environment.md §3.5: at least one padding limb slot is always left


@dataclass(frozen=True)
class Limit:
    """The allowed values of one kind of number: ``lo < x`` (or ``lo <= x`` when ``closed``), ``x <= hi``."""

    lo: float
    hi: float
    closed: bool = False
    what: str = ""

    def allows(self, x: float) -> bool:
        return math.isfinite(x) and (x >= self.lo if self.closed else x > self.lo) and x <= self.hi

    def describe(self) -> str:
        return f"{'[' if self.closed else '('}{self.lo:g}, {self.hi:g}]"


LIMITS: dict[str, Limit] = {
    "density": Limit(0.0, 1e5, what="a density in kg/m³"),
    "radius": Limit(0.0, 1.0, what="a radius in m"),
    "gear": Limit(0.0, 1e4, what="a motor gear"),
    "damping": Limit(0.0, 1e4, closed=True, what="a joint damping"),
    "armature": Limit(0.0, 1e4, closed=True, what="a joint armature"),
    "angle": Limit(-360.0, 360.0, closed=True, what="a joint limit in degrees"),
    "position": Limit(-10.0, 10.0, closed=True, what="a coordinate in m"),
    "height": Limit(0.0, 10.0, what="a torso height in m"),
    "axis": Limit(-1e3, 1e3, closed=True, what="an axis component"),
}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_pis=True,
)


def parse_xml(data: bytes, source: object) -> etree._Element:
    """The root element of a robot document, parsed with the hardened parser (see the module doc).

    :raises RobotFileError: too large, malformed, a DOCTYPE, or nested deeper than :data:`MAX_XML_DEPTH`.
    """
    if len(data) > MAX_XML_BYTES:
        raise RobotFileError(source, f"{len(data):,} bytes; robot files are at most {MAX_XML_BYTES:,} bytes")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:  # lxml appends the place to the message, then the place again: once here
        line, column = e.position
        what = re.sub(r", line \d+, column \d+$", "", e.msg or str(e))
        raise RobotFileError(source, f"malformed XML at line {line}, column {column}: {what}") from None
    if root is None:
        raise RobotFileError(source, "malformed XML: no root element")
    doc = root.getroottree().docinfo
    if doc.doctype or doc.internalDTD is not None or doc.externalDTD is not None:
        raise RobotFileError(source, "a <!DOCTYPE> (DTD or entities) is not allowed in a robot file")
    depth = _depth(root)
    if depth > MAX_XML_DEPTH:
        raise RobotFileError(source, f"elements nested {depth} deep; at most {MAX_XML_DEPTH} are allowed")
    return root


def _depth(root: etree._Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        el, d = stack.pop()
        deepest = max(deepest, d)
        if d <= MAX_XML_DEPTH:
            stack.extend((child, d + 1) for child in el)
    return deepest


def numbers(text: str | None, n: int, source: object, what: str, kind: str) -> tuple[float, ...]:
    """``n`` numbers of an attribute, each within ``LIMITS[kind]``.

    :param text: the attribute's value (``None``: missing).
    :param what: names the element and attribute in the message (``"joint limbx/3 range"``).
    :raises RobotFileError: missing, not ``n`` numbers, or a number outside the limit.
    """
    if text is None:
        raise RobotFileError(source, f"{what}: attribute missing")
    try:
        vals = tuple(float(v) for v in text.split())
    except ValueError:
        raise RobotFileError(source, f"{what}: not a list of numbers: {text!r}") from None
    if len(vals) != n:
        raise RobotFileError(source, f"{what}: expected {n} number{'s' if n > 1 else ''}, got {text!r}")
    for v in vals:
        check_number(v, source, what, kind)
    return vals


def check_number(value: float, source: object, what: str, kind: str) -> None:
    """Refuse a number outside ``LIMITS[kind]`` (NaN and infinities always)."""
    limit = LIMITS[kind]
    if not limit.allows(value):
        raise RobotFileError(source, f"{what}: {value:g} is not {limit.what} in {limit.describe()}")


def check_range(lo: float, hi: float, source: object, what: str) -> None:
    """A joint range must be increasing: ``lo < hi``."""
    if not lo < hi:
        raise RobotFileError(source, f"{what}: lower limit {lo:g} is not below upper limit {hi:g}")


def check_axis(vec: tuple[float, ...], source: object, what: str) -> None:
    """A hinge axis must have a direction: norm above 1e-6."""
    if math.sqrt(sum(c * c for c in vec)) <= 1e-6:
        raise RobotFileError(source, f"{what}: zero vector; a hinge needs a direction")


def read_metadata(path: Path) -> dict:
    """The metadata JSON of a robot, checked for shape (docs/design_space.md §5.9).

    :returns: the JSON object; ``symmetric_limbs`` (if present) is a list of 2-lists of ints,
        ``num_limbs`` and ``dof`` (if present) are ints.
    :raises RobotFileError: unreadable, too large, not JSON, nested too deep, or a known key of the
        wrong type.
    """
    try:
        size = path.stat().st_size
        if size > MAX_METADATA_BYTES:
            raise RobotFileError(path, f"{size:,} bytes; a metadata file is at most {MAX_METADATA_BYTES:,}")
        meta = json.loads(path.read_bytes())
    except RobotFileError:
        raise
    except OSError as e:
        raise RobotFileError(path, f"cannot read metadata JSON: {e.strerror}") from None
    except RecursionError:
        raise RobotFileError(path, "metadata JSON nested too deeply") from None
    except ValueError as e:
        raise RobotFileError(path, f"cannot read metadata JSON: {e}") from None
    return check_metadata(meta, path)


def check_metadata(meta: object, source: object) -> dict:
    """``meta`` if it has the metadata JSON's shape (see :func:`read_metadata`), else RobotFileError."""
    if not isinstance(meta, dict):
        raise RobotFileError(source, f"metadata must be a JSON object, got {type(meta).__name__}")
    pairs = meta.get("symmetric_limbs", [])
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(_is_int(v) for v in p) for p in pairs
    ):
        raise RobotFileError(source, "symmetric_limbs must be a list of [limb id, limb id] pairs of integers")
    for key in ("num_limbs", "dof"):
        if key in meta and not _is_int(meta[key]):
            raise RobotFileError(source, f"{key} must be an integer, got {meta[key]!r:.40}")
    return meta


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_layout(robot: Morphology) -> None:
    """Check that the environments' padded observation can hold a robot (docs/environment.md §3.5).

    :raises RobotTooLargeError: more than 11 bodies (torso included) or more than 16 hinges; the message
        names the robot's file when it was read from one.
    """
    where = f"{robot.source}: robot {robot.name!r}" if robot.source else f"robot {robot.name!r}"
    if robot.num_bodies > MAX_BODIES:
        raise RobotTooLargeError(
            f"{where} has {robot.num_bodies} bodies (torso included); the environments hold at most {MAX_BODIES} "
            f"(MAX_LIMBS = {MAX_LIMBS} limb slots, one always padding)"
        )
    if robot.dof > MAX_JOINTS:
        raise RobotTooLargeError(
            f"{where} has {robot.dof} hinge joints; the environments hold at most MAX_JOINTS = {MAX_JOINTS}"
        )
