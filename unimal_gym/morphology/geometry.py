"""Geometry of the UNIMAL design space: direction grid, rounding, capsule frames and inertia.

All conventions follow docs/design_space.md §1 and §2.4–2.5: directions are spherical angles on a
45° grid (θ azimuth from +x, φ polar from +z), positions are rounded to 2 decimals with numpy's
round-half-to-even, and a capsule's frame is MuJoCo's minimal rotation taking +z onto the
capsule axis (from − to).
"""

from __future__ import annotations

import math

import numpy as np

Vec3 = tuple[float, float, float]

THETAS: tuple[int, ...] = (0, 45, 90, 135, 180, 225, 270, 315)  # docs/design_space.md §1
PHIS: tuple[int, ...] = (90, 135, 180)  # docs/design_space.md §1: horizontal or downward only


def _clean(x: float) -> float:
    """Return ``x`` as a plain float with −0.0 replaced by 0.0."""
    x = float(x)
    return 0.0 if x == 0.0 else x


def unit_vector(theta_deg: float, phi_deg: float) -> np.ndarray:
    """Unit vector u(θ, φ) = (sinφ·cosθ, sinφ·sinθ, cosφ), shape (3,), unrounded."""
    theta = np.radians(theta_deg)
    phi = np.radians(phi_deg)
    return np.array([np.sin(phi) * np.cos(theta), np.sin(phi) * np.sin(theta), np.cos(phi)])


def sph2cart(rho: float, theta_deg: float, phi_deg: float) -> Vec3:
    """ρ·u(θ, φ) with each component rounded to 2 decimals the numpy way (docs/design_space.md §1).

    The original rounds ``np.float64`` values, i.e. half-to-even on the scaled value; plain
    Python ``round`` differs on the diagonal directions. −0.0 becomes 0.0.
    """
    theta = np.radians(theta_deg)
    phi = np.radians(phi_deg)
    x = rho * np.sin(phi) * np.cos(theta)
    y = rho * np.sin(phi) * np.sin(theta)
    z = rho * np.cos(phi)
    return (_clean(np.round(x, 2)), _clean(np.round(y, 2)), _clean(np.round(z, 2)))


def add(a: Vec3, b: Vec3) -> Vec3:
    """Component-wise float sum of two 3-vectors, without re-rounding (as the original does)."""
    return (_clean(a[0] + b[0]), _clean(a[1] + b[1]), _clean(a[2] + b[2]))


def round2(v: Vec3) -> Vec3:
    """Round every component to 2 decimals (numpy half-to-even)."""
    return (_clean(np.round(v[0], 2)), _clean(np.round(v[1], 2)), _clean(np.round(v[2], 2)))


def direction_from_vector(vec: Vec3) -> tuple[int, int]:
    """Snap a limb's capsule vector to the (θ, φ) grid, in integer degrees.

    Straight-down limbs (φ = 180°) get θ = 0 because their azimuth is undefined.
    """
    x, y, z = (float(c) for c in vec)
    rho = math.sqrt(x * x + y * y + z * z)
    if rho == 0.0:
        raise ValueError("zero-length limb vector")
    phi = math.degrees(math.acos(max(-1.0, min(1.0, z / rho))))
    phi_snap = round(phi / 45.0) * 45
    if phi_snap >= 180:
        return 0, 180
    theta = math.degrees(math.atan2(y, x)) % 360.0
    theta_snap = round(theta / 45.0) * 45 % 360
    return theta_snap, phi_snap


def same_direction(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Directions "equal" in the original's sense: same (θ, φ), or both straight down."""
    if a[1] == 180 and b[1] == 180:
        return True
    return a == b


def capsule_quat(to: Vec3) -> np.ndarray:
    """Quaternion (w, x, y, z) of the frame MuJoCo gives a capsule ``fromto="0 0 0 to"``.

    The frame's z axis is v = (from − to)/|from − to| and the rotation is the minimal one taking
    +z onto v (MuJoCo's ``mju_quatZ2Vec``). Shape (4,).
    """
    v = -np.asarray(to, dtype=float)
    v = v / np.linalg.norm(v)
    a = np.array([-v[1], v[0], 0.0])
    s = np.linalg.norm(a)
    if s < 1e-15:
        return np.array([1.0, 0.0, 0.0, 0.0]) if v[2] >= 0 else np.array([0.0, 1.0, 0.0, 0.0])
    a /= s
    ang = math.acos(max(-1.0, min(1.0, v[2])))
    return np.concatenate([[math.cos(ang / 2)], a * math.sin(ang / 2)])


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def joint_axis_vector(to: Vec3, axis: str) -> Vec3:
    """Axis of hinge ``limbx``/``limby``: column 0 or 1 of the capsule frame, rounded to 4 decimals.

    docs/design_space.md §2.5: the original reads the compiled ``geom_xmat`` at save time.
    −0.0 is kept as it is (the original files print it), it does not affect MuJoCo.
    """
    col = {"x": 0, "y": 1}[axis]
    mat = quat_to_mat(capsule_quat(to))
    return tuple(float(np.round(c, 4)) for c in mat[:, col])  # type: ignore[return-value]


def capsule_inertial(to: Vec3, radius: float, density: float) -> tuple[float, Vec3, Vec3]:
    """MuJoCo 2.0's capsule mass and inertia (docs/environment.md §6.3).

    With h the capsule's half-length: mass = ρ·π·r²·(2h + r); the diagonal inertia is that of a
    solid cylinder of that mass, radius r and length L = 2h + r, in the capsule's own frame
    (x, y transverse, z axial). Returns ``(mass, centre, (Ixx, Iyy, Izz))``.
    """
    t = np.asarray(to, dtype=float)
    half = float(np.linalg.norm(t)) / 2.0
    length = 2.0 * half + radius
    mass = density * math.pi * radius * radius * length
    axial = mass * radius * radius / 2.0
    transverse = mass * (3.0 * radius * radius + length * length) / 12.0
    centre = (float(t[0] / 2), float(t[1] / 2), float(t[2] / 2))
    return mass, centre, (transverse, transverse, axial)
