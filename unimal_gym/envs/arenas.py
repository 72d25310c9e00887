"""The ground of each task: what goes into the MuJoCo model and how high the terrain is.

An arena inserts its geoms at worldbody index 1 of the scene built by :func:`.assembly.agent_scene`
(docs/environment.md §1.3), may draw a new layout at every reset, and answers terrain-height queries used by
``torso_height``: arenas with an ``hfield`` observation give the ground height with each sample of it.
:class:`FlatFloor` is FT's; the terrain arenas live in :mod:`.terrain`.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from lxml import etree

from ..layout import TERRAIN_THICKNESS


class Arena:
    """Interface of a task's ground (FT, VT, Obstacle).

    ``layout_version`` increases whenever :meth:`new_episode` changes the geometry in a way the
    current model cannot represent, which makes the environment recompile the scene; otherwise the
    environment calls :meth:`update_model` on the robot's model at every reset.
    """

    camera: str = "side"
    has_hfield_observation: bool = False
    layout_version: int = 0
    rewrites_hfields: bool = False  # update_model writes heightfield data (a renderer must upload it again)

    def add_ground(self, root: etree._Element) -> None:
        """Insert the ground's geoms, bodies and assets into a scene tree (before compiling)."""
        raise NotImplementedError

    def after_compile(self, model: mujoco.MjModel) -> None:
        """Write what cannot be said in XML into a freshly compiled model (hfield data)."""

    def new_episode(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        """Draw the next episode's layout (or replay one given in ``options``)."""

    def update_model(self, model: mujoco.MjModel) -> None:
        """Write the current layout into a model compiled for the same ``layout_version``."""

    def ground_height(self, x: float, y: float) -> float:
        """Terrain height used by ``torso_height`` at world (x, y) (m)."""
        raise NotImplementedError

    def hfield_observation(self, x: float, y: float, heading: np.ndarray | None) -> tuple[np.ndarray, float]:
        """The ``hfield`` key around world (x, y) and :meth:`ground_height` there, from one lookup.

        Only arenas with ``has_hfield_observation``.

        :param heading: the xy part (2,) of the torso's x axis the grid is rotated to; ``None``: unrotated.
        :returns: ``(hfield, ground)``: hfield (1410,) float64; ground the terrain height (m).
        """
        raise NotImplementedError

    def off_edge(self, y: float) -> bool:
        """Whether the torso is at the terrain's side edge (VT, Obstacle: docs/environment.md §2.1)."""
        return False

    def history(self) -> dict[str, int]:
        """What earlier episodes left that later ones depend on (an env snapshot carries it); none here."""
        return {}

    def adopt_history(self, history: dict[str, int]) -> None:
        """Take on another arena's :meth:`history` (before replaying its episode)."""


class FlatFloor(Arena):
    """FT's ground: one box ``floor/0`` of half-size (100, 100, 1) centred at the origin (docs/environment.md §2.2).

    :param size: box half-sizes (x, y, z); the top is at z = size[2].
    """

    camera = "ft_view"

    def __init__(self, size: tuple[float, float, float] = (100.0, 100.0, TERRAIN_THICKNESS)) -> None:
        self.size = tuple(float(s) for s in size)

    def add_ground(self, root: etree._Element) -> None:
        floor = etree.Element(
            "geom", name="floor/0", type="box", material="grid", pos="0 0 0", size=" ".join(map(str, self.size))
        )
        root.find("worldbody").insert(1, floor)

    def ground_height(self, x: float, y: float) -> float:
        return self.size[2]
