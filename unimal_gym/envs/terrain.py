"""VT's terrain corridor and the Obstacle course (docs/environment.md §2.3–2.4).

A corridor is a row of segments along +x starting at x = −start_flat: flat boxes ``floor/k`` of
half-size (ℓ, w, 1) and heightfield geoms ``floor/k`` (hills, steps, rubble). The height array H
(0.1 m cells, rows ↔ y with row 0 at y = +w, columns ↔ x) holds absolute heights (1.0 on flat
ground) and is padded for the observation with −10 ("gap") and, with boundary walls, a 4.0 strip.

**Row-order quirk (kept by default).** MuJoCo stores heightfield row 0 at y = −w, but the original
writes the profile with row 0 meant as y = +w. Only rubble (``rugged_square``) depends on y, so the
physical rubble at (x, y) equals H at (x, −y). ``TerrainConfig(mirror_rugged=False)`` flips the rows
before writing them so that physics and observation agree.

**One model per robot, rewritten in place.** A corridor's ground is compiled once per robot as *slots*: as
many world geoms as any corridor the config can draw has segments (:class:`Capacity`), each a box or a
heightfield as its segment needs, all heightfields drawing their data from one pool. A new corridor puts
segment k into slot k (type, position, size; a heightfield points at its stretch of the pool through
``hfield_adr`` / ``hfield_ncol`` and gets its data), parks the other slots 100 m below the ground, and
refits the world body's bounding-volume tree (:meth:`TerrainCorridor.update_model`): no recompiling. The
model differs from one compiled for that corridor alone only in its parked slots and the shape of that tree
(``tests/test_env_terrain.py`` steps both side by side). ``TerrainCorridor(config, in_place=False)``
compiles each corridor instead.

**Replaying a recorded terrain.** ``reset(options={"terrain": layout})`` with a
:class:`TerrainLayout` (for example :meth:`TerrainLayout.from_mjcf` on a recorded model XML and its
``terrain_hfield``), or ``options={"terrain_hfield": H}`` alone, in which case the segments are the
runs of flat and non-flat columns of H. Obstacle layouts replay with
``options={"obstacles": array}`` of rows (x, y, half_length, half_width), e.g. from
:func:`obstacles_from_mjcf`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import mujoco
import numpy as np
from lxml import etree

from ..layout import TERRAIN_THICKNESS
from .arenas import Arena
from .assembly import ground_asset
from .hfield import CELLS_PER_METRE, HFIELD_OBS_SIZE, HeightMap, cell_index

Range = tuple[float, float, float]


def range_values(r: Range) -> np.ndarray:
    """The values ``sample_from_range([a, b, s])`` draws from: arange(a, b, s) rounded to 2 decimals, plus b.

    Read-only and cached per range (a corridor draws from the same few ranges hundreds of times).
    """
    return _range_values(*(float(v) for v in r))


@functools.lru_cache(maxsize=64)
def _range_values(a: float, b: float, s: float) -> np.ndarray:
    values = np.append(np.round(np.arange(a, b, s), 2), b)
    values.setflags(write=False)
    return values


def cells(metres: float) -> int:
    """Metres to 0.1 m cells, robust to float noise (0.7 m → 7 cells)."""
    return math.ceil(round(metres * CELLS_PER_METRE, 6))


@dataclass(frozen=True)
class TerrainConfig:
    """VT corridor generator settings; defaults are the original's ``csr.yaml`` (docs/environment.md §2.3)."""

    size: tuple[float, float, float] = (55.0, 20.0, TERRAIN_THICKNESS)  # TERRAIN.SIZE: half-lengths x, y; thickness
    start_flat: float = 3.0  # START_FLAT: the first box spans x ∈ [−3, 3]
    flat_length_range: Range = (1.0, 3.0, 1.0)  # half-lengths {1, 2, 3}
    hfield_length_range: Range = (4.0, 8.0, 4.0)  # hills and rubble: half-lengths {4, 8}
    step_length_range: Range = (12.0, 16.0, 4.0)  # steps: half-lengths {12, 16}
    curve_height_range: Range = (0.6, 1.2, 0.1)  # hill peak {0.6, …, 1.2}
    rugged_clip_range: Range = (0.2, 0.3, 0.1)  # rubble plateau {0.2, 0.3}
    rugged_band_rows: tuple[int, int] = (10, 20)  # band width drawn from [10, 20) rows
    rugged_frequencies: tuple[float, ...] = (10.0, 15.0)  # triangle-wave frequencies
    num_steps: int = 8  # NUM_STEPS: 3 up, a double-width top, 3 down
    step_height: float = 0.2  # STEP_HEIGHT (m)
    types: tuple[str, ...] = ("curve_slope", "steps", "rugged_square")  # "flat" adds no obstacle segment
    padding: float = 10.0  # HFIELD.PADDING (m) of gap around H for the observation
    gap_depth: float = -10.0  # HFIELD.GAP_DEPTH
    boundary_walls: bool = False
    wall_length: float = 0.5  # wall half-thickness (m)
    wall_height: float = 2.0  # wall half-height (m): top at 3.0
    wall_obs_height: float = 4.0  # H value of the wall strip (quirk: the wall top is at 3.0)
    edge_margin: float = 1.0  # terminate when half-width − |y| ≤ this
    mirror_rugged: bool = True  # keep the original's row order (see module docstring)
    obs_size: tuple[float, float, float, float] = HFIELD_OBS_SIZE  # [behind, front, right, left] (m)

    @property
    def rows(self) -> int:
        """Rows of the unpadded H (400)."""
        return cells(2 * self.size[1])

    @property
    def cols(self) -> int:
        """Columns of the unpadded H (1100 for VT, 1000 for Obstacle)."""
        return cells(2 * self.size[0])


@dataclass(frozen=True)
class ObstacleConfig:
    """Obstacle task settings; defaults are the original's ``obstacle.yaml`` (docs/environment.md §2.4)."""

    terrain: TerrainConfig = field(
        default_factory=lambda: TerrainConfig(
            size=(50.0, 20.0, TERRAIN_THICKNESS),
            flat_length_range=(50.0, 20.0, 1.0),  # arange is empty: every flat piece is 20 (then cut)
            types=("flat",),
            boundary_walls=True,
        )
    )
    num_obstacles: int = 50  # NUM_OBSTACLES
    length_range: Range = (0.5, 1.0, 0.1)  # OBSTACLE_LEN_RANGE, half-sizes along x
    width_range: Range = (0.5, 1.0, 0.1)  # OBSTACLE_WIDTH_RANGE, half-sizes along y
    placement_buffer_len: float = 3.0  # PLACEMENT_BUFFER_LEN: kept free after the start box (m)
    placement_tries: int = 10  # tries per obstacle before skipping it
    half_height: float = 2.0  # box half-height (m)
    float_gap: float = 0.1  # quirk: boxes float this far above the ground
    obs_height: float = 3.0  # H value written over an obstacle


ConfigT = TypeVar("ConfigT", TerrainConfig, ObstacleConfig)


def coerce_config(cls: type[ConfigT], value: ConfigT | Mapping[str, Any], where: str) -> ConfigT:
    """A :class:`TerrainConfig` / :class:`ObstacleConfig` from itself or from a dict of its fields (as
    ``EnvSpec.to_json`` writes it: tuples become lists, a nested config a dict).

    :raises ValueError: not a mapping, or a field the class does not have.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a {cls.__name__} or a dict of its fields, not {type(value).__name__}")
    defaults = cls()
    unknown = sorted(set(value) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(
            f"{where}: {cls.__name__} has no field {unknown[0]!r}; its fields: {', '.join(f.name for f in fields(cls))}"
        )
    kwargs: dict[str, Any] = {}
    for name, item in value.items():
        default = getattr(defaults, name)
        if isinstance(default, TerrainConfig):
            item = coerce_config(TerrainConfig, item, f"{where}.{name}")
        elif isinstance(default, tuple) and isinstance(item, list):
            item = tuple(item)
        kwargs[name] = item
    return cls(**kwargs)


@dataclass
class Segment:
    """One ground piece: a box (``profile is None``) or a heightfield with absolute heights.

    :param x: centre (m). :param half_length: half-length along x (m).
    :param profile: (rows, ncol) absolute surface heights, row 0 at y = +w.
    """

    x: float
    half_length: float
    profile: np.ndarray | None = None


@dataclass
class TerrainLayout:
    """A corridor: its segments and the unpadded height array H (rows, cols)."""

    segments: list[Segment]
    heights: np.ndarray

    @classmethod
    def from_heights(cls, padded: np.ndarray, config: TerrainConfig) -> TerrainLayout:
        """Segments from a padded H: runs of all-flat columns become boxes, other runs heightfields."""
        pad = cells(config.padding) + (cells(config.wall_length * 2) if config.boundary_walls else 0)
        heights = padded[pad:-pad, pad:-pad]
        flat = np.all(heights == TERRAIN_THICKNESS, axis=0)
        cuts = np.flatnonzero(np.diff(flat.astype(int))) + 1
        segments = []
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(flat)], strict=True):
            half = (stop - start) / (2 * CELLS_PER_METRE)
            x = start / CELLS_PER_METRE - config.start_flat + half
            segments.append(Segment(x, half, None if flat[start] else heights[:, start:stop].copy()))
        return cls(segments, heights.copy())

    @classmethod
    def from_mjcf(cls, xml: str, padded: np.ndarray, config: TerrainConfig) -> TerrainLayout:
        """Segments of an original model XML (``floor/k`` geoms), heights from its padded H."""
        root = etree.fromstring(xml.encode())
        pad = cells(config.padding) + (cells(config.wall_length * 2) if config.boundary_walls else 0)
        heights = padded[pad:-pad, pad:-pad]
        hfields = {h.get("name"): h for h in root.iter("hfield")}
        segments = []
        for geom in root.find("worldbody").findall("geom"):
            if not re.fullmatch(r"floor/\d+", geom.get("name", "")):
                continue
            x = float(geom.get("pos").split()[0])
            if geom.get("type") == "hfield":
                asset = hfields[geom.get("hfield")]
                half = float(asset.get("size").split()[0])
                start = cells(x - half + config.start_flat)
                segments.append(Segment(x, half, heights[:, start : start + int(asset.get("ncol"))].copy()))
            else:
                segments.append(Segment(x, float(geom.get("size").split()[0])))
        return cls(segments, heights.copy())


def triangle_wave(t: np.ndarray) -> np.ndarray:
    """A triangle wave in [−1, 1] with period 2π, −1 at t = 0 and 1 at t = π."""
    phase = np.mod(t, 2 * np.pi) / (2 * np.pi)
    return np.where(phase < 0.5, 4 * phase - 1, 3 - 4 * phase)


def generate_corridor(config: TerrainConfig, rng: np.random.Generator) -> TerrainLayout:
    """Draw a corridor (docs/environment.md §2.3 ``create_corridor``).

    :returns: the layout; H rounded to 3 decimals, heights absolute (1.0 on flat ground).
    """
    rows, total = config.rows, config.cols
    heights = np.zeros((rows, total))
    first = cells(2 * config.start_flat)
    heights[:, :first] = TERRAIN_THICKNESS
    segments = [Segment(0.0, config.start_flat)]
    end = first  # columns used so far

    def add(half: float, profile: np.ndarray | None, rounded: np.ndarray | None = None) -> None:
        nonlocal end
        prev = segments[-1]
        segments.append(Segment(round(prev.x + prev.half_length + half, 2), half, profile))
        ncol = cells(2 * half)
        # H is rounded to 3 decimals; only profiles need it (TERRAIN_THICKNESS = 1.0 and 0 are exact)
        heights[:, end : end + ncol] = TERRAIN_THICKNESS if profile is None else rounded
        end += ncol

    while end < total:
        kind = config.types[rng.integers(len(config.types))]
        half = float(_pick(rng, range_values(config.flat_length_range)))
        if end + cells(2 * half) > total:
            half = (total - end) / (2 * CELLS_PER_METRE)
        if half > 0:
            add(half, None)
        if kind == "flat":
            continue
        lengths = config.step_length_range if kind == "steps" else config.hfield_length_range
        half = float(_pick(rng, range_values(lengths)))
        if end + cells(2 * half) > total:
            continue
        profile, rounded = _profile(kind, rows, cells(2 * half), config, rng)
        add(half, profile, rounded)
    return TerrainLayout(segments, heights)


def _profile(
    kind: str, rows: int, ncol: int, config: TerrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One obstacle segment's absolute surface heights (rows, ncol) (docs/environment.md §2.3 step 6) and the same
    rounded to 3 decimals (H's values). Hills and steps repeat one row, rubble one row per band: each distinct row
    is computed and rounded once (the same numbers as rounding the whole array)."""
    if kind == "curve_slope":
        peak = float(_pick(rng, range_values(config.curve_height_range)))
        return _repeat_row(TERRAIN_THICKNESS + peak * np.sin(np.linspace(0, np.pi, ncol)), rows)
    if kind == "steps":
        up = config.num_steps // 2
        levels = config.step_height * np.r_[np.arange(up), np.arange(up - 1, -1, -1)]
        return _repeat_row(TERRAIN_THICKNESS + np.repeat(levels, ncol // config.num_steps), rows)
    if kind == "rugged_square":
        out, rounded = np.empty((rows, ncol)), np.empty((rows, ncol))
        waves: dict[float, np.ndarray] = {}  # triangle_wave + 1 along the segment, per frequency
        bands: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}  # a band's row, raw and rounded
        frequencies = np.asarray(config.rugged_frequencies, dtype=float)
        row = 0
        while row < rows:
            width = int(rng.integers(*config.rugged_band_rows))
            freq = float(_pick(rng, frequencies))
            clip = float(_pick(rng, range_values(config.rugged_clip_range)))
            if (freq, clip) not in bands:
                if freq not in waves:
                    waves[freq] = triangle_wave(np.linspace(0, freq * np.pi, ncol)) + 1
                band = np.minimum(waves[freq], clip) + TERRAIN_THICKNESS
                bands[freq, clip] = band, np.round(band, 3)
            out[row : row + width], rounded[row : row + width] = bands[freq, clip]
            row += width
        return out, rounded
    raise ValueError(f"terrain type {kind!r}; allowed: curve_slope, steps, rugged_square, flat")


def _pick(rng: np.random.Generator, values: np.ndarray) -> float:
    """One of ``values`` (1-D), uniformly: the same draw as ``rng.choice(values)`` (one ``integers`` call)
    without its per-call overhead, which dominated a corridor's generation."""
    return values[rng.integers(len(values))]


def _repeat_row(row: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` copies of ``row`` (a read-only view) and of the row rounded to 3 decimals."""
    return np.broadcast_to(row, (rows, len(row))), np.broadcast_to(np.round(row, 3), (rows, len(row)))


def pad_heights(heights: np.ndarray, config: TerrainConfig) -> np.ndarray:
    """H padded for the observation: a wall strip (with boundary walls), then the gap (docs/environment.md §2.3–2.4)."""
    gap = cells(config.padding)
    wall = cells(2 * config.wall_length) if config.boundary_walls else 0
    rows, cols = heights.shape
    out = np.full((rows + 2 * (gap + wall), cols + 2 * (gap + wall)), float(config.gap_depth))
    if wall:
        out[gap : -gap or None, gap : -gap or None] = config.wall_obs_height
    out[gap + wall : gap + wall + rows, gap + wall : gap + wall + cols] = heights
    return out


@dataclass(frozen=True)
class Capacity:
    """How much ground an in-place corridor model holds: box slots, heightfield slots, pool columns."""

    boxes: int
    hfields: int
    columns: int

    @property
    def slots(self) -> int:
        """Ground slots of a model: one per segment, box or heightfield."""
        return self.boxes + self.hfields

    @classmethod
    def of(cls, config: TerrainConfig) -> Capacity:
        """Enough for every corridor :func:`generate_corridor` can draw with ``config``.

        After the first box of ``start_flat``, every pass adds one flat box (at least the shortest flat length F,
        or the rest of the corridor, which ends it) and then an obstacle segment if the one drawn fits. Passes
        with an obstacle take at least F + the shortest obstacle each; a pass without one (its obstacle did not
        fit) leaves less than the longest obstacle after its box, so all of those lie in the corridor's last
        (longest obstacle + longest flat) columns, F or more each (with ``"flat"`` among the types any pass
        may be one: at most rest / F).
        """
        rest = config.cols - cells(2 * config.start_flat)
        flats = [cells(2 * v) for v in range_values(config.flat_length_range)]
        shortest, longest = max(min(flats), 1), max(flats)
        lengths = {"curve_slope": config.hfield_length_range, "rugged_square": config.hfield_length_range}
        lengths["steps"] = config.step_length_range
        obstacles = [cells(2 * v) for kind in config.types if kind in lengths for v in range_values(lengths[kind])]
        with_obstacle = rest // (shortest + min(obstacles)) if obstacles else 0
        without = math.ceil((max(obstacles, default=0) + longest) / shortest)
        if "flat" in config.types or not obstacles:
            without = math.ceil(rest / shortest)
        boxes = 1 + min(with_obstacle + without, math.ceil(rest / shortest))
        return cls(boxes, max(with_obstacle, 1), config.cols)

    @classmethod
    def needed(cls, layout: TerrainLayout) -> Capacity:
        """Exactly what ``layout`` takes: its boxes, its heightfields and their columns."""
        columns = [s.profile.shape[1] for s in layout.segments if s.profile is not None]
        return cls(len(layout.segments) - len(columns), len(columns), sum(columns))

    def holds(self, layout: TerrainLayout) -> bool:
        """Whether ``layout`` fits."""
        need = Capacity.needed(layout)
        return need.boxes <= self.boxes and need.hfields <= self.hfields and need.columns <= self.columns

    def grown(self, layout: TerrainLayout) -> Capacity:
        """A capacity holding both this one and ``layout``."""
        need = Capacity.needed(layout)
        return Capacity(max(self.boxes, need.boxes), max(self.hfields, need.hfields), max(self.columns, need.columns))


PARK_DEPTH = -100.0  # z of unused ground slots (m): far below anything a robot touches


def _park_x(k: int) -> float:
    """x of parked slot k: in slot order, beyond any corridor (the world body's tree keeps that order)."""
    return 1000.0 + 10.0 * k


def refit_world_tree(model: mujoco.MjModel) -> None:
    """Refit the world body's bounding-volume tree (midphase collision) around its geoms where they are now.

    The compiler builds the tree once, from where the geoms were; its shape stays (children after parents,
    leaves in slot order) and every node's box is recomputed, leaves from their geom (axis-aligned: ``geom_pos``
    + ``geom_aabb``), inner nodes as the union of their two children, from the last node up.
    """
    start, count = int(model.body_bvhadr[0]), int(model.body_bvhnum[0])
    nodes = model.bvh_aabb[start : start + count]
    children, leaves = model.bvh_child[start : start + count], model.bvh_nodeid[start : start + count]
    for i in range(count - 1, -1, -1):
        g = leaves[i]
        if g >= 0:
            nodes[i, :3] = model.geom_pos[g] + model.geom_aabb[g, :3]
            nodes[i, 3:] = model.geom_aabb[g, 3:]
            continue
        a, b = nodes[children[i, 0]], nodes[children[i, 1]]
        lo = np.minimum(a[:3] - a[3:], b[:3] - b[3:])
        hi = np.maximum(a[:3] + a[3:], b[:3] + b[3:])
        nodes[i, :3], nodes[i, 3:] = 0.5 * (hi + lo), 0.5 * (hi - lo)


def _mjcf_number(value: float) -> float:
    """``value`` as the XML path writes it (``%g``) and MuJoCo reads it back: in-place values are the same bits."""
    return float(f"{value:g}")


class TerrainCorridor(Arena):
    """VT's ground: a new corridor every episode, written into each robot's model in place (module docstring).

    :param config: the generator's settings.
    :param in_place: False compiles every corridor into a model of its own (the reference the in-place models
        are tested against; 12 ms a reset instead of about 1).
    """

    camera = "vt_view"
    has_hfield_observation = True

    def __init__(self, config: TerrainConfig, in_place: bool = True) -> None:
        self.config = config
        self.in_place = in_place
        self.layout: TerrainLayout | None = None
        self.map: HeightMap | None = None
        self.capacity = Capacity.of(config)
        self._padded: np.ndarray | None = None  # the observation's padded H, rewritten in place
        self._interior: np.ndarray | None = None
        self._home: tuple | None = None  # the heightfield slots as compiled (capacity, adr, ncol, sizes, bounds)

    @property
    def rewrites_hfields(self) -> bool:  # type: ignore[override]
        """In place, every reset writes new heightfield data into the model."""
        return self.in_place

    def history(self) -> dict[str, int]:
        """The slot capacity of the in-place models (a replayed corridor may have grown it)."""
        c = self.capacity
        return {"boxes": c.boxes, "hfields": c.hfields, "columns": c.columns} if self.in_place else {}

    def adopt_history(self, history: dict[str, int]) -> None:
        """The same capacity as the arena that wrote ``history`` (models with other slot counts collide their
        geoms in another order), recompiling when it differs."""
        if not history or not self.in_place:
            return
        capacity = Capacity(int(history["boxes"]), int(history["hfields"]), int(history["columns"]))
        if capacity != self.capacity:
            self.capacity = capacity
            self.layout_version += 1

    def _col_origin(self) -> int:
        walls = 2 * self.config.wall_length if self.config.boundary_walls else 0.0
        return cells(self.config.start_flat + self.config.padding + walls)

    def new_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        if "terrain" in options:
            layout = options["terrain"]
        elif "terrain_hfield" in options:
            layout = TerrainLayout.from_heights(np.asarray(options["terrain_hfield"], float), self.config)
        else:
            layout = generate_corridor(self.config, rng)
        self._show(layout)
        if not self.in_place:
            self.layout_version += 1
        elif not self.capacity.holds(layout):  # a replayed layout beyond the generator's: bigger slots, recompile
            self.capacity = self.capacity.grown(layout)
            self.layout_version += 1

    def _show(self, layout: TerrainLayout) -> None:
        """Make ``layout`` current and write its heights into the observation's padded H (allocated once)."""
        self.layout = layout
        if self._padded is None or self._interior.shape != layout.heights.shape:
            self._padded = pad_heights(layout.heights, self.config)
            gap = cells(self.config.padding)
            wall = cells(2 * self.config.wall_length) if self.config.boundary_walls else 0
            rows, cols = layout.heights.shape
            self._interior = self._padded[gap + wall : gap + wall + rows, gap + wall : gap + wall + cols]
            self.map = HeightMap(self._padded, self._col_origin(), self.config.obs_size)
        else:
            np.copyto(self._interior, layout.heights)
            self.map.refresh()

    def add_ground(self, root: etree._Element) -> None:
        if self.layout is None:
            self.new_episode(np.random.default_rng(), {})
        if self.in_place:
            self._add_slots(root)
        else:
            self._add_segments(root)
        if self.config.boundary_walls:
            world = root.find("worldbody")
            self._add_walls(world, 1 + self._ground_count())

    def _ground_count(self) -> int:
        """Ground elements :meth:`add_ground` inserts at worldbody index 1 before the walls."""
        return self.capacity.slots if self.in_place else len(self.layout.segments)

    def _add_segments(self, root: etree._Element) -> None:
        """One world geom per segment of the current layout (a model for this corridor only)."""
        world = root.find("worldbody")
        assets = ground_asset(root)
        w, thickness = self.config.size[1], self.config.size[2]
        for k, seg in enumerate(self.layout.segments):
            name = f"floor/{k}"
            pos = f"{seg.x:g} 0 0"
            if seg.profile is None:
                geom = etree.Element("geom", name=name, type="box", material="grid", pos=pos)
                geom.set("size", f"{seg.half_length:g} {w:g} {thickness:g}")
            else:
                top = round(float(seg.profile.max()), 2)
                nrow, ncol = seg.profile.shape
                size = f"{seg.half_length:g} {w:g} {top:g} 0.1"
                assets.append(etree.Element("hfield", name=name, nrow=str(nrow), ncol=str(ncol), size=size))
                geom = etree.Element("geom", name=name, type="hfield", hfield=name, material="hfield", pos=pos)
            world.insert(1 + k, geom)

    def _add_slots(self, root: etree._Element) -> None:
        """The slots of :class:`Capacity`: world geoms ``floor/{k}`` at worldbody index 1 (where the XML path puts
        its ground), parked in a row at x = k; segment k of a corridor goes into slot k as a box or a heightfield,
        so the ground keeps the corridor's order. Slot k owns heightfield asset ``floor/{k}``; the first holds the
        whole pool (rows × capacity columns) that every heightfield slot reads its stretch of, the others 2
        columns of their own."""
        world = root.find("worldbody")
        assets = ground_asset(root)
        w, thickness = self.config.size[1], self.config.size[2]
        rows, cap = self.config.rows, self.capacity
        for k in range(cap.slots):
            name = f"floor/{k}"
            ncol = cap.columns if k == 0 else 2
            assets.append(etree.Element("hfield", name=name, nrow=str(rows), ncol=str(ncol), size=f"1 {w:g} 1 0.1"))
            geom = etree.Element("geom", name=name, type="box", material="grid", size=f"1 {w:g} {thickness:g}")
            geom.set("pos", f"{_park_x(k):g} 0 {PARK_DEPTH:g}")  # not at the body's origin: geom_pos stays live
            world.insert(1 + k, geom)

    def _add_walls(self, world: etree._Element, at: int) -> None:
        """Four boxes around the corridor (docs/environment.md §2.4 table)."""
        c = self.config
        length, width, thick = c.size[0], c.size[1], c.wall_length
        centre = length - c.start_flat
        walls = (
            ("front", (2 * length - c.start_flat + thick, 0), (thick, width + 2 * thick)),
            ("back", (-c.start_flat - thick, 0), (thick, width + 2 * thick)),
            ("right", (centre, width + thick), (length, thick)),
            ("left", (centre, -width - thick), (length, thick)),
        )
        for k, (name, (x, y), (hx, hy)) in enumerate(walls):
            wall = etree.Element("geom", name=f"boundary/{name}", type="box", material="boundary")
            wall.set("pos", f"{x:g} {y:g} {c.size[2]:g}")
            wall.set("size", f"{hx:g} {hy:g} {c.wall_height:g}")
            world.insert(at + k, wall)

    def after_compile(self, model: mujoco.MjModel) -> None:
        """Write the normalised heightfield data (the original writes it after compiling), or the whole layout
        into the slots."""
        if self.in_place:
            self.update_model(model)
            return
        hfields = [s.profile for s in self.layout.segments if s.profile is not None]
        for k, profile in enumerate(hfields):
            adr, n = model.hfield_adr[k], model.hfield_nrow[k] * model.hfield_ncol[k]
            model.hfield_data[adr : adr + n] = self._hfield_data(profile).reshape(-1)

    def _hfield_data(self, profile: np.ndarray) -> np.ndarray:
        """A profile as MuJoCo's heightfield data: divided by its maximum, rows flipped unless mirrored (quirk).

        A profile that repeats one row (hills, steps: a broadcast view) is computed on that row and broadcast
        back: the same numbers, without touching every cell twice.
        """
        if profile.strides[0] == 0:
            row = profile[0]
            return np.broadcast_to(row / row.max(), profile.shape)  # the same in either row order
        data = profile / profile.max()
        return data if self.config.mirror_rugged else data[::-1]

    def update_model(self, model: mujoco.MjModel) -> None:
        """Write the current layout into a slot model (in place): segment k into slot k, a box or a heightfield
        (type, position, size, data; the numbers the XML path compiles, positions and sizes through ``%g``),
        the other slots parked, then the world body's bounding-volume tree refitted around them."""
        if not self.in_place:
            return
        cap, segments = self.capacity, self.layout.segments
        geom0 = model.geom("floor/0").id
        geoms = slice(geom0, geom0 + cap.slots)
        if self._home is None or self._home[0] != cap:  # a model as compiled: what a parked slot goes back to
            self._home = (
                cap,
                model.hfield_adr[: cap.slots].copy(),
                model.hfield_ncol[: cap.slots].copy(),
                model.hfield_size[: cap.slots].copy(),
                model.geom_pos[geoms].copy(),
                model.geom_size[geoms].copy(),
                model.geom_rbound[geoms].copy(),
                model.geom_aabb[geoms].copy(),
            )
        _, model.hfield_adr[: cap.slots], model.hfield_ncol[: cap.slots], model.hfield_size[: cap.slots] = self._home[
            :4
        ]
        model.geom_pos[geoms], model.geom_size[geoms], model.geom_rbound[geoms], model.geom_aabb[geoms] = self._home[4:]
        model.geom_type[geoms] = mujoco.mjtGeom.mjGEOM_BOX
        model.geom_dataid[geoms] = -1
        model.geom_matid[geoms] = model.material("grid").id
        hfield_material = model.material("hfield").id
        w, thickness = _mjcf_number(self.config.size[1]), _mjcf_number(self.config.size[2])
        nrow, adr = self.config.rows, int(model.hfield_adr[0])  # the pool
        for k, seg in enumerate(segments):
            geom = geom0 + k
            hx = _mjcf_number(seg.half_length)
            model.geom_pos[geom] = (_mjcf_number(seg.x), 0.0, 0.0)
            if seg.profile is None:
                model.geom_size[geom] = (hx, w, thickness)
                model.geom_rbound[geom] = math.sqrt(hx * hx + w * w + thickness * thickness)
                model.geom_aabb[geom] = (0.0, 0.0, 0.0, hx, w, thickness)
                continue
            ncol = seg.profile.shape[1]
            top, base = _mjcf_number(round(float(seg.profile.max()), 2)), 0.1
            model.hfield_size[k] = (hx, w, top, base)
            model.hfield_nrow[k], model.hfield_ncol[k], model.hfield_adr[k] = nrow, ncol, adr
            model.hfield_data[adr : adr + nrow * ncol].reshape(nrow, ncol)[:] = self._hfield_data(seg.profile)
            adr += nrow * ncol
            model.geom_type[geom] = mujoco.mjtGeom.mjGEOM_HFIELD
            model.geom_dataid[geom] = k
            model.geom_matid[geom] = hfield_material
            # what MuJoCo's compiler derives for a heightfield geom (checked against it: tests/test_env_terrain.py)
            model.geom_size[geom] = (hx, w, 0.25 * top + 0.5 * base)
            model.geom_rbound[geom] = math.sqrt(hx * hx + w * w + top * top)
            model.geom_aabb[geom] = (0.0, 0.0, 0.5 * (top - base), hx, w, 0.5 * (top + base))
        refit_world_tree(model)

    def ground_height(self, x: float, y: float) -> float:
        """The H cell under (x, y), clipped at ≥ 0 (quirk: a gap reads 0, not −10)."""
        return max(0.0, self.map.height(x, y))

    def off_edge(self, y: float) -> bool:
        return self.config.size[1] - abs(y) <= self.config.edge_margin

    def hfield_observation(self, x: float, y: float, heading: np.ndarray | None) -> tuple[np.ndarray, float]:
        """The ``hfield`` key and the ground height under (x, y), from one :meth:`HeightMap.observe`.

        :returns: ``(hfield, ground)``: hfield (1410,) heights relative to the H cell under (x, y);
            ground that cell clipped at ≥ 0, equal to :meth:`ground_height` ``(x, y)``.
        """
        values, centre_height = self.map.observe(x, y, heading)
        return values, max(0.0, centre_height)


class ObstacleCourse(TerrainCorridor):
    """Obstacle's ground: a fixed walled corridor; 50 boxes moved and resized in place every episode."""

    camera = "obstacle_view"

    def __init__(self, config: ObstacleConfig) -> None:
        super().__init__(config.terrain, in_place=False)  # the corridor itself never changes: compiled once
        self.obstacle_config = config
        self.layout = generate_corridor(config.terrain, np.random.default_rng(0))  # deterministic: "flat" only
        self.obstacles = np.zeros((0, 4))
        self._base = pad_heights(self.layout.heights, self.config)  # H without boxes
        self._written: list[tuple[slice, slice]] = []  # the blocks of H the current boxes overwrote

    def new_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        if "obstacles" in options:
            self.obstacles = np.asarray(options["obstacles"], dtype=float).reshape(-1, 4)
        else:
            self.obstacles = self._place(rng)
        if self.map is None:  # H with the boxes in it, rewritten in place from now on
            self.map = HeightMap(self._base.copy(), self._col_origin(), self.config.obs_size)
        heights = self.map.heights
        for rows, cols in self._written:  # back to the bare corridor where the last boxes were
            heights[rows, cols] = self._base[rows, cols]
        self._z = self._write_obstacles(heights)
        self.map.refresh()

    def _place(self, rng: np.random.Generator) -> np.ndarray:
        """Rows (x, y, half_length, half_width) of the placed boxes (docs/environment.md §2.4 steps 1–4)."""
        c, t = self.obstacle_config, self.config
        rows, cols = t.rows, t.cols
        margin = cells(t.start_flat + c.placement_buffer_len)
        used = np.zeros((rows, cols), dtype=bool)
        placed = []
        lengths, widths = range_values(c.length_range), range_values(c.width_range)
        for _ in range(c.num_obstacles):
            # values[rng.integers(n)] draws exactly what rng.choice(values) draws, without its overhead
            bl, bw = float(lengths[rng.integers(len(lengths))]), float(widths[rng.integers(len(widths))])
            sx, sy = cells(bl), cells(bw)
            for _ in range(c.placement_tries):
                row = int(rng.integers(sy, rows - sy))
                col = int(rng.integers(sx + margin, cols - sx - margin))
                block = used[row - sy : row + sy, col - sx : col + sx]
                if not block.any():
                    block[:] = True
                    x = round(col / CELLS_PER_METRE - t.start_flat, 2)
                    y = round(row / CELLS_PER_METRE - t.size[1], 2)
                    placed.append((x, y, bl, bw))
                    break
        return np.array(placed, dtype=float).reshape(-1, 4)

    def _write_obstacles(self, heights: np.ndarray) -> np.ndarray:
        """Write the obstacle blocks into the padded H (docs/environment.md §2.4 step 7), in place.

        :returns: (n,) the boxes' centre heights (step 5), each from H before its own block is written.
        """
        c = self.obstacle_config
        z = np.zeros(len(self.obstacles))
        col_origin = self._col_origin()
        self._written = []
        for k, (x, y, bl, bw) in enumerate(self.obstacles):
            row, col = cell_index(x, y, heights.shape, col_origin)
            sx, sy = cells(bl), cells(bw)
            rows, cols = slice(row - sy, row + sy), slice(col - sx, col + sx)
            block = heights[rows, cols]
            z[k] = c.half_height + block.max() + c.float_gap
            block[:] = c.obs_height
            self._written.append((rows, cols))
        return z

    def add_ground(self, root: etree._Element) -> None:
        if self.map is None:
            self.new_episode(np.random.default_rng(), {})
        super().add_ground(root)
        world = root.find("worldbody")
        for k in range(self.obstacle_config.num_obstacles):
            body = etree.SubElement(world, "body", name=f"obstacle/{k}", pos="0 0 0")
            etree.SubElement(body, "geom", name=f"obstacle/{k}", type="box", size="1 1 1", mass="1", material="self")

    def after_compile(self, model: mujoco.MjModel) -> None:
        self.update_model(model)

    def update_model(self, model: mujoco.MjModel) -> None:
        """Move and resize the obstacle boxes; unplaced ones are parked 100 m below the ground."""
        c = self.obstacle_config
        n = len(self.obstacles)
        if n > c.num_obstacles:
            raise ValueError(f"options['obstacles'] has {n} boxes; this env holds at most {c.num_obstacles}")
        body0 = model.body("obstacle/0").id
        geom0 = model.geom("obstacle/0").id
        bodies, geoms = np.arange(body0, body0 + c.num_obstacles), np.arange(geom0, geom0 + c.num_obstacles)
        size = np.tile([0.5, 0.5, c.half_height], (c.num_obstacles, 1))
        pos = np.tile([0.0, 0.0, -100.0], (c.num_obstacles, 1))
        size[:n, :2] = self.obstacles[:, 2:4]
        pos[:n, :2] = self.obstacles[:, :2]
        pos[:n, 2] = self._z
        model.body_pos[bodies] = pos
        model.geom_size[geoms] = size
        model.geom_rbound[geoms] = np.linalg.norm(size, axis=1)
        model.geom_aabb[geoms] = np.hstack([np.zeros_like(size), size])


def obstacles_from_mjcf(xml: str) -> np.ndarray:
    """Rows (x, y, half_length, half_width) of the ``obstacle/k`` boxes in an original model XML."""
    root = etree.fromstring(xml.encode())
    rows = []
    for body in root.find("worldbody").findall("body"):
        if body.get("name", "").startswith("obstacle/"):
            x, y, _ = (float(v) for v in body.get("pos").split())
            hx, hy, _ = (float(v) for v in body.find("geom").get("size").split())
            rows.append((x, y, hx, hy))
    return np.array(rows, dtype=float).reshape(-1, 4)
