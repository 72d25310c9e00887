"""Reading and writing UNIMAL robot files (MJCF XML + metadata JSON), docs/design_space.md §5.

``load`` parses any UNIMAL robot file (the original benchmark's and ours) into a
:class:`~unimal_gym.morphology.tree.Morphology`; ``to_xml`` / ``save`` write the same document
layout back: the UNIMAL template header, the torso and limb bodies, motors in joint order, the
sensor block, and the ``<exclude>`` pairs of siblings that touch at rest.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import mujoco
import numpy as np
from lxml import etree

from ..atomic import atomic_write
from . import checks
from .checks import check_axis, check_number, check_range, numbers
from .errors import RobotFileError
from .geometry import Vec3, direction_from_vector, sph2cart
from .tree import DESIGN_HEIGHTS, LIMB_RADIUS, MAX_DESIGN_LIMBS, TORSO_RADIUS, TORSO_SITE, Joint, Limb, Morphology

_LIMB_RE = re.compile(r"^limb/(\d+)$")
_JOINT_RE = re.compile(r"^limb([xy])/(\d+)$")

# The UNIMAL template around the robot (docs/design_space.md §5.1): compiler, sizes, defaults.
_HEADER = """<mujoco model="unimal">
  <compiler angle="degree"/>
  <size njmax="2000" nconmax="500"/>
  <option timestep=".005">
    <flag filterparent="disable"/>
  </option>
  <default>
    <motor ctrlrange="-1 1" ctrllimited="true"/>
    <default class="normal_joint">
      <joint type="hinge" damping="1" stiffness="1" armature="1" limited="true" range="-120 120"
             solimplimit="0 0.99 0.01"/>
    </default>
    <default class="walker_joint">
      <joint type="hinge" damping="0.2" stiffness="1" armature=".01" limited="true" range="-120 120"
             solimplimit="0 0.99 0.01"/>
    </default>
    <default class="stiff_joint">
      <joint type="hinge" damping="5" stiffness="10" armature=".01" limited="true" solimplimit="0 0.99 0.01"/>
    </default>
    <default class="free">
      <joint limited="false" damping="0" armature="0" stiffness="0"/>
    </default>
    <default class="growth_site"><site size="1e-6 1e-6 1e-6"/></default>
    <default class="torso_growth_site"><site size="1e-6 1e-6 1e-6"/></default>
    <default class="mirror_growth_site"><site size="1e-6 1e-6 1e-6"/></default>
    <default class="btm_pos_site"><site size="1e-6 1e-6 1e-6"/></default>
    <default class="box_face_site"><site size="1e-6 1e-6 1e-6"/></default>
    <default class="imu_vel"><site type="box" size="0.05" rgba="1 0 0 1"/></default>
    <default class="touch_site"><site group="3" rgba="0 0 1 .3"/></default>
    <default class="food_site"><site material="food" size="0.15"/></default>
    <geom type="capsule" condim="3" friction="0.7 0.1 0.1" material="self"/>
  </default>
  <worldbody>
    <light diffuse="1 1 1" directional="true" pos="0 0 8" dir="0 0 -1" specular=".1 .1 .1"/>
  </worldbody>
  <actuator/>
  <sensor/>
  <asset/>
  <contact/>
  <asset>
    <material name="grid" texture="grid" texrepeat="1 1" texuniform="true" reflectance="0"/>
    <material name="self" rgba=".7 .5 .3 1"/>
    <material name="food" rgba="0 0 1 1" emission="1"/>
    <texture name="grid" type="2d" builtin="checker" rgb1=".1 .2 .3" rgb2=".2 .3 .4" width="300"
             height="300" mark="edge" markrgb=".2 .3 .4"/>
  </asset>
  <visual>
    <headlight ambient=".6 .6 .6" diffuse=".3 .3 .3" specular="0 0 0"/>
    <map znear=".01"/>
  </visual>
</mujoco>
"""


# ---------------------------------------------------------------------------- number formatting
def fmt(values: Vec3 | tuple[float, ...] | list[float]) -> str:
    """Space-joined ``str()`` of floats, the original's ``"{}".format`` convention (§5.7)."""
    return " ".join(str(float(v)) for v in values)


def _fmt_num(x: float) -> str:
    """Integers without a decimal point (densities, gears, ranges: ``900``), else ``str``."""
    return str(int(x)) if float(x).is_integer() else str(float(x))


# ---------------------------------------------------------------------------- reading
def metadata_path_for(xml_path: str | os.PathLike[str]) -> Path | None:
    """Where the metadata JSON of a robot file lives, if it exists.

    Looks for ``../metadata/<stem>.json`` (the benchmark's folder layout) and then for
    ``<stem>.json`` beside the XML.
    """
    p = Path(xml_path)
    for cand in (p.parent.parent / "metadata" / f"{p.stem}.json", p.with_suffix(".json")):
        if cand.is_file():
            return cand
    return None


def load(path: str | os.PathLike[str], metadata: str | os.PathLike[str] | None = None) -> Morphology:
    """Read a UNIMAL robot file.

    :param path: the robot's MJCF XML.
    :param metadata: its metadata JSON; by default found with :func:`metadata_path_for`.
        Without one, symmetric pairs are inferred from the mirror growth sites.
    :raises RobotFileError: file missing or unreadable, malformed XML, not a UNIMAL robot, a number
        outside what a robot file may hold (docs/design_space.md §5.13), more than 10 limbs, or metadata
        that is malformed or contradicts the XML.
    """
    p = Path(path)
    if p.is_dir():
        raise RobotFileError(p, "a folder, not a robot file (a robot set's files are in its xml/ folder)")
    if not p.is_file():
        raise RobotFileError(p, "no such file")
    try:
        text = p.read_bytes()
    except OSError as e:
        raise RobotFileError(p, f"cannot read: {e.strerror}") from None
    meta_path = Path(metadata) if metadata is not None else metadata_path_for(p)
    meta = checks.read_metadata(meta_path) if meta_path is not None else None
    return from_xml(text, name=p.stem, source=p, metadata=meta, metadata_source=meta_path)


def from_xml(
    text: str | bytes,
    name: str = "robot",
    source: object = "<string>",
    metadata: dict | None = None,
    metadata_source: object = None,
) -> Morphology:
    """Parse a UNIMAL robot from an XML string (see :func:`load`)."""
    root = checks.parse_xml(text.encode() if isinstance(text, str) else text, source)
    if root.tag != "mujoco":
        raise RobotFileError(source, f"root element is <{root.tag}>, expected <mujoco>")
    torso = root.find("./worldbody/body[@name='torso/0']")
    if torso is None:
        raise RobotFileError(source, 'no torso: <worldbody> has no <body name="torso/0">')

    gears: dict[str, float] = {}
    for motor in root.iterfind("./actuator/motor"):
        joint_name = motor.get("joint")
        gears[str(joint_name)] = numbers(motor.get("gear", "1"), 1, source, f"motor {joint_name} gear", "gear")[0]

    torso_geom = torso.find("./geom[@name='torso/0']")
    if torso_geom is None:
        raise RobotFileError(source, "torso/0 has no geom named torso/0")
    pos = numbers(torso.get("pos", "0 0 0"), 3, source, "body torso/0 pos", "position")
    if pos[:2] != (0.0, 0.0):
        raise RobotFileError(source, f"body torso/0 pos: x and y must be 0 (the environments place the robot): {pos}")
    check_number(pos[2], source, "body torso/0 pos z", "height")
    torso_size = numbers(torso_geom.get("size", str(TORSO_RADIUS)), 1, source, "geom torso/0 size", "radius")[0]
    if torso_geom.get("type", "sphere") != "sphere" or torso_size != TORSO_RADIUS:
        raise RobotFileError(
            source,
            f"geom torso/0: a UNIMAL torso is a sphere of size {TORSO_RADIUS}, got type "
            f"{torso_geom.get('type', 'sphere')!r} size {torso_size:g}",
        )
    morph = Morphology(
        name=name,
        torso_z=pos[2],
        torso_density=numbers(torso_geom.get("density", "1000"), 1, source, "geom torso/0 density", "density")[0],
        limb_density=float("nan"),
        torso_mode="vertical" if torso.find("./site[@name='torso/vertical/0']") is not None else "horizontal_y",
        angmom_sensor=root.find("./sensor/subtreeangmom") is not None,
        source=str(source),
    )
    for child in torso.iterfind("./body"):
        morph.torso_children.append(_read_limb(child, -1, morph, gears, source))
    if morph.num_limbs > MAX_DESIGN_LIMBS:
        raise RobotFileError(
            source,
            f"too many limbs: {morph.num_limbs} (at most {MAX_DESIGN_LIMBS} limbs, {MAX_DESIGN_LIMBS + 1} bodies)",
        )
    densities = set(_limb_densities(torso, source))
    if len(densities) > 1:
        raise RobotFileError(source, f"limbs have different densities {sorted(densities)}; UNIMAL uses one")
    morph.limb_density = densities.pop() if densities else morph.torso_density
    morph.next_index = max(morph.limbs, default=-1) + 1

    if metadata is not None:
        meta = checks.check_metadata(metadata, metadata_source or source)
        morph.symmetric_pairs = _pairs_from_metadata(morph, meta, metadata_source or source)
    else:
        morph.symmetric_pairs = infer_symmetric_pairs(morph)
    morph.contact_pairs = allowed_contacts(morph)
    return morph


def _limb_densities(torso: etree._Element, source: object) -> list[float]:
    return [
        numbers(g.get("density", "1000"), 1, source, f"geom {g.get('name')} density", "density")[0]
        for g in torso.iterfind(".//body/geom")
    ]


def _read_limb(body: etree._Element, parent: int, morph: Morphology, gears: dict[str, float], source: object) -> int:
    name = body.get("name", "")
    m = _LIMB_RE.match(name)
    if m is None:
        raise RobotFileError(source, f"body {name!r}: limb bodies must be named limb/N")
    index = int(m.group(1))
    if index in morph.limbs:
        raise RobotFileError(source, f"body {name!r} appears twice")
    pos = numbers(body.get("pos", "0 0 0"), 3, source, f"body {name} pos", "position")
    geom = body.find(f"./geom[@name='{name}']")
    if geom is None:
        raise RobotFileError(source, f"{name}: no capsule geom named {name}")
    fromto = numbers(geom.get("fromto"), 6, source, f"geom {name} fromto", "position")
    if any(fromto[:3]):
        raise RobotFileError(source, f"geom {name}: capsule must start at the body origin (fromto 0 0 0 …)")
    to = fromto[3:]
    radius = numbers(geom.get("size", str(LIMB_RADIUS)), 1, source, f"geom {name} size", "radius")[0]
    rho = math.sqrt(sum(c * c for c in to))
    if rho == 0.0:
        raise RobotFileError(source, f"geom {name}: zero-length capsule")
    theta, phi = direction_from_vector(to)

    joints: list[Joint] = []
    joint_pos: Vec3 | None = None
    for j in body.iterfind("./joint"):
        jname = j.get("name", "")
        jm = _JOINT_RE.match(jname)
        if jm is None or int(jm.group(2)) != index:
            raise RobotFileError(
                source, f"joint {jname!r} in {name}: hinges must be named limbx/{index} or limby/{index}"
            )
        if j.get("class", "normal_joint") != "normal_joint" or j.get("type", "hinge") != "hinge":
            raise RobotFileError(
                source,
                f"joint {jname}: unknown joint class {j.get('class')!r} / type {j.get('type')!r} "
                "(UNIMAL limbs use hinge joints of class normal_joint)",
            )
        if jname not in gears:
            raise RobotFileError(source, f"joint {jname} has no <motor> in <actuator>")
        rng = numbers(j.get("range"), 2, source, f"joint {jname} range", "angle")
        check_range(*rng, source, f"joint {jname} range")
        jpos = numbers(j.get("pos", "0 0 0"), 3, source, f"joint {jname} pos", "position")
        joint_pos = jpos  # type: ignore[assignment]
        vec = numbers(j.get("axis", "0 0 1"), 3, source, f"joint {jname} axis", "axis")
        check_axis(vec, source, f"joint {jname} axis")
        extra = {
            key: numbers(j.get(key), 1, source, f"joint {jname} {key}", key)[0]
            for key in ("damping", "armature")
            if j.get(key) is not None
        }
        joints.append(Joint(axis=jm.group(1), range=(rng[0], rng[1]), gear=gears[jname], vector=vec, **extra))  # type: ignore[arg-type]
    if not joints:
        raise RobotFileError(source, f"{name} has no hinge joint (each limb has 1 or 2)")
    if [j.axis for j in joints] not in (["x"], ["y"], ["x", "y"]):
        raise RobotFileError(source, f"{name}: joints must be limbx then limby, got {[j.axis for j in joints]}")

    sites: dict[str, etree._Element] = {s.get("name", ""): s for s in body.iterfind("./site")}

    def site_pos(kind: str) -> Vec3:
        s = sites.get(f"limb/{kind}/{index}")
        if s is None:
            raise RobotFileError(source, f"{name}: site limb/{kind}/{index} missing")
        return numbers(s.get("pos", "0 0 0"), 3, source, f"site limb/{kind}/{index} pos", "position")  # type: ignore[return-value]

    mid, btm, btm_pos = site_pos("mid"), site_pos("btm"), site_pos("btm_pos")
    mid_class = sites[f"limb/mid/{index}"].get("class", "growth_site")
    limb = Limb(
        index=index,
        parent=parent,
        site="",
        theta=theta,
        phi=phi,
        height=_height_of(to, radius, theta, phi),
        pos=pos,  # type: ignore[arg-type]
        to=to,  # type: ignore[arg-type]
        joint_pos=joint_pos,  # type: ignore[arg-type]
        mid=mid,
        btm=btm,
        btm_pos=btm_pos,
        mirror=mid_class == "mirror_growth_site",
        joints=joints,
        radius=radius,
    )
    morph.limbs[index] = limb
    limb.site = _attachment_site(morph, limb)
    for child in body.iterfind("./body"):
        limb.children.append(_read_limb(child, index, morph, gears, source))
    return index


def _height_of(to: Vec3, radius: float, theta: int, phi: int) -> float:
    """The design-space height h of a capsule ``fromto="0 0 0 to"``.

    The h ∈ {0.2, 0.3, 0.4} whose segment ``sph2cart(r + h, θ, φ)`` is exactly ``to``; for a file
    outside the design space, round(|to| − r, 2) (docs/design_space.md §5.12). The exact match matters
    for diagonal directions: a (135°, 135°) limb with h = 0.3 has |to| − r = 0.3097.
    """
    for h in DESIGN_HEIGHTS:
        if sph2cart(radius + h, theta, phi) == tuple(to):
            return h
    return float(np.round(math.sqrt(sum(c * c for c in to)) - radius, 2))


def _attachment_site(morph: Morphology, limb: Limb) -> str:
    """The parent site closest to ``body_pos − p_r·u`` (docs/design_space.md §5.12)."""
    if limb.parent < 0:
        return TORSO_SITE
    parent = morph.limbs[limb.parent]
    u = np.asarray(limb.to) / np.linalg.norm(limb.to)
    origin = np.asarray(limb.pos) - parent.radius * u
    cands = {f"limb/mid/{parent.index}": parent.mid, f"limb/btm/{parent.index}": parent.btm}
    return min(cands, key=lambda k: float(np.linalg.norm(origin - np.asarray(cands[k]))))


def infer_symmetric_pairs(morph: Morphology) -> list[tuple[int, int]]:
    """Symmetric pairs without metadata: consecutive indices whose sites are mirror sites.

    A pair is always grown with consecutive indices and deleted as a whole (docs/design_space.md §2.7,
    §4.4), so pairing mirror-site limbs greedily by index recovers ``limb_list``.
    """
    mirrored = sorted(i for i, limb in morph.limbs.items() if limb.mirror)
    pairs = []
    k = 0
    while k + 1 < len(mirrored):
        a, b = mirrored[k], mirrored[k + 1]
        if b == a + 1:
            pairs.append((a, b))
            k += 2
        else:
            k += 1
    return pairs


def _pairs_from_metadata(morph: Morphology, meta: dict, source: object) -> list[tuple[int, int]]:
    pairs = []
    seen: set[int] = set()
    for pair in meta.get("symmetric_limbs", []):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise RobotFileError(source, f"symmetric_limbs entry {pair!r} is not a pair of limb ids")
        a, b = (int(v) for v in pair)
        for i in (a, b):
            if i not in morph.limbs:
                raise RobotFileError(source, f"symmetric_limbs pair {pair}: limb/{i} is not in the XML")
            if i in seen:
                raise RobotFileError(source, f"symmetric_limbs: limb/{i} is in two pairs")
        la, lb = morph.limbs[a], morph.limbs[b]
        if a == b or la.height != lb.height or la.joint_set != lb.joint_set or la.phi != lb.phi:
            raise RobotFileError(
                source,
                f"asymmetric metadata: pair {pair} members differ (height, joints or direction) or are the same limb",
            )
        seen.update((a, b))
        pairs.append((min(a, b), max(a, b)))
    for key, value in (("num_limbs", morph.num_limbs), ("dof", morph.dof)):
        if key in meta and int(meta[key]) != value:
            raise RobotFileError(source, f"metadata says {key}={meta[key]} but the XML has {value}")
    return sorted(pairs)


def allowed_contacts(morph: Morphology) -> set[tuple[str, str]]:
    """Geom pairs allowed to touch at rest: parent/child, and pairs grown at one site (§3)."""
    out: set[tuple[str, str]] = set()
    for limb in morph.limbs.values():
        parent = "torso/0" if limb.parent < 0 else f"limb/{limb.parent}"
        out.add(tuple(sorted((parent, limb.name))))  # type: ignore[arg-type]
    for a, b in morph.symmetric_pairs:
        if morph.limbs[a].site == morph.limbs[b].site:
            out.add(tuple(sorted((f"limb/{a}", f"limb/{b}"))))  # type: ignore[arg-type]
    return out


# ---------------------------------------------------------------------------- writing
def _add_robot_body(worldbody: etree._Element, morph: Morphology) -> None:
    torso = etree.SubElement(worldbody, "body", name="torso/0", pos=f"0 0 {morph.torso_z}")
    etree.SubElement(torso, "joint", name="root", type="free", **{"class": "free"})
    etree.SubElement(torso, "site", name="root", **{"class": "imu_vel"})
    etree.SubElement(
        torso,
        "geom",
        name="torso/0",
        type="sphere",
        size=str(TORSO_RADIUS),
        condim="3",
        density=_fmt_num(morph.torso_density),
    )
    etree.SubElement(torso, "camera", name="side", pos="0 -7 2", xyaxes="1 0 0 0 1 2", mode="trackcom")
    etree.SubElement(torso, "site", name="torso/0", pos="0 0 0", **{"class": "growth_site"})
    etree.SubElement(torso, "site", name="torso/btm_pos/0", pos="0 0 -0.1", **{"class": "btm_pos_site"})
    etree.SubElement(torso, "site", name="torso/touch/0", size="0.11", **{"class": "touch_site"})
    mode_pos = "-0.1 0 0" if morph.torso_mode == "horizontal_y" else "0 0 -0.1"
    etree.SubElement(torso, "site", name=f"torso/{morph.torso_mode}/0", pos=mode_pos, **{"class": "torso_growth_site"})
    for c in morph.torso_children:
        _add_limb_body(torso, morph, morph.limbs[c])


def _add_limb_body(parent_el: etree._Element, morph: Morphology, limb: Limb) -> None:
    n = limb.index
    body = etree.SubElement(parent_el, "body", name=limb.name, pos=fmt(limb.pos))
    for j in limb.joints:
        el = etree.SubElement(
            body,
            "joint",
            name=f"limb{j.axis}/{n}",
            type="hinge",
            range=f"{_fmt_num(j.range[0])} {_fmt_num(j.range[1])}",
            pos=fmt(limb.joint_pos),
            axis=fmt(j.vector),
            **{"class": "normal_joint"},
        )
        for key in ("damping", "armature"):
            if getattr(j, key) is not None:
                el.set(key, _fmt_num(getattr(j, key)))
    fromto = fmt((0.0, 0.0, 0.0, *limb.to))
    etree.SubElement(
        body,
        "geom",
        name=limb.name,
        type="capsule",
        fromto=fromto,
        size=str(limb.radius),
        density=_fmt_num(morph.limb_density),
    )
    site_class = "mirror_growth_site" if limb.mirror else "growth_site"
    etree.SubElement(body, "site", name=f"limb/mid/{n}", pos=fmt(limb.mid), **{"class": site_class})
    etree.SubElement(body, "site", name=f"limb/btm/{n}", pos=fmt(limb.btm), **{"class": site_class})
    etree.SubElement(body, "site", name=f"limb/btm_pos/{n}", pos=fmt(limb.btm_pos), **{"class": "btm_pos_site"})
    etree.SubElement(
        body,
        "site",
        name=f"limb/touch/{n}",
        type="capsule",
        size=str(limb.radius + 0.01),
        fromto=fromto,
        **{"class": "touch_site"},
    )
    for c in limb.children:
        _add_limb_body(body, morph, morph.limbs[c])


def _build_tree(morph: Morphology) -> etree._Element:
    """The lxml document of a robot with an empty ``<contact>`` (``filterparent`` disabled)."""
    root = etree.fromstring(_HEADER, etree.XMLParser(remove_blank_text=True))
    _add_robot_body(root.find("worldbody"), morph)
    actuator = root.find("actuator")
    for limb in morph.iter_limbs():
        for j in limb.joints:
            jn = f"limb{j.axis}/{limb.index}"
            etree.SubElement(actuator, "motor", joint=jn, gear=_fmt_num(j.gear), name=jn)
    sensor = root.find("sensor")
    etree.SubElement(sensor, "accelerometer", name="torso_accel", site="root")
    etree.SubElement(sensor, "gyro", name="torso_gyro", site="root")
    etree.SubElement(sensor, "velocimeter", name="torso_vel", site="root")
    if morph.angmom_sensor:
        etree.SubElement(sensor, "subtreeangmom", name="unimal_am", body="torso/0")
    etree.SubElement(sensor, "touch", name="torso/0", site="torso/touch/0")
    for limb in morph.iter_limbs():
        etree.SubElement(sensor, "touch", name=limb.name, site=f"limb/touch/{limb.index}")
    return root


def _add_sibling_excludes(root: etree._Element) -> None:
    """Add an ``<exclude>`` for every body pair that touches at rest once parent–child contacts are
    filtered (docs/design_space.md §5.4): compiled once with ``filterparent`` enabled, then set back."""
    flag = root.find("option/flag")
    flag.set("filterparent", "enable")
    model = mujoco.MjModel.from_xml_string(etree.tostring(root, encoding="unicode"))
    flag.set("filterparent", "disable")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    pairs = {
        tuple(sorted(model.body(model.geom_bodyid[g]).name for g in data.contact.geom[k])) for k in range(data.ncon)
    }
    contact = root.find("contact")
    for a, b in sorted(pairs):
        etree.SubElement(contact, "exclude", name=f"{a}:{b}", body1=a, body2=b)


def to_xml(morph: Morphology, excludes: bool = True) -> str:
    """The robot as a complete UNIMAL MJCF document (UTF-8 declaration, pretty-printed).

    :param excludes: compute and write the ``<exclude>`` pairs of siblings touching at rest
        (one extra compile). The environments drop them anyway (docs/environment.md §1.3).
    """
    root = _build_tree(morph)
    if excludes:
        _add_sibling_excludes(root)
    etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="unicode")
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + body + "\n"


def metadata(morph: Morphology) -> dict:
    """The benchmark's metadata JSON content: ``symmetric_limbs``, ``dof``, ``num_limbs`` (§5.9)."""
    return {
        "symmetric_limbs": [list(p) for p in sorted(morph.symmetric_pairs)],
        "dof": morph.dof,
        "num_limbs": morph.num_limbs,
    }


def save(morph: Morphology, folder: str | os.PathLike[str], name: str | None = None) -> Path:
    """Write ``folder/xml/<name>.xml`` and ``folder/metadata/<name>.json`` atomically.

    This is the benchmark's folder layout, so ``folder`` can be passed wherever a robot set is
    expected. Returns the XML path.
    """
    name = name or morph.name
    folder = Path(folder)
    xml_path = folder / "xml" / f"{name}.xml"
    atomic_write(xml_path, lambda tmp: tmp.write_text(to_xml(morph)))
    meta = json.dumps(metadata(morph), indent=2) + "\n"
    atomic_write(folder / "metadata" / f"{name}.json", lambda tmp: tmp.write_text(meta))
    return xml_path
