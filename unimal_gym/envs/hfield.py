"""The ``hfield`` observation: terrain heights around the torso on a non-uniform grid (ENV.md §3.6).

The terrain is a padded height array H (rows ↔ y, row 0 at the +y edge, rows increasing toward −y;
columns ↔ x; 10 cells per metre). The grid has 47 row offsets DR (rightward, −y) and 30 column
offsets DX (forward, +x), dense near the torso; it is rotated by the torso's yaw on steps.
"""

from __future__ import annotations

import numpy as np

HFIELD_OBS_SIZE = (1.0, 4.0, 4.0, 4.0)  # ENV.md §3.6: metres behind, in front, right, left
CELLS_PER_METRE = 10  # HFIELD.NUM_DIVS


def log_offsets(n: int) -> np.ndarray:
    """S(n): 0…n in integer cells, dense near 0 (−ln(1 − k/n) rescaled to [0, n], truncated, unique)."""
    q = -np.log(1.0 - np.arange(n) / n)
    return np.unique((q / q[-1] * n).astype(int))


def grid_offsets(obs_size: tuple[float, float, float, float] = HFIELD_OBS_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(DR, DX): row offsets (47,) and column offsets (30,) in cells for [behind, front, right, left]."""
    behind, front, right, left = (round(s * CELLS_PER_METRE) for s in obs_size)
    dx = np.unique(np.concatenate([-log_offsets(behind)[::-1], log_offsets(front)]))
    dr = np.unique(np.concatenate([-log_offsets(left)[::-1], log_offsets(right)]))
    return dr, dx


DR, DX = grid_offsets()
HFIELD_DIM = len(DR) * len(DX)  # 47 × 30 = 1410


class HeightMap:
    """A padded terrain height array with the world ↔ cell mapping of ENV.md §2.3.

    :param heights: (rows, cols) padded H.
    :param col_origin: column of world x = 0 (``10 · (start_flat + padding [+ 1 with walls])``).
    :param obs_size: [behind, front, right, left] of the observation grid (m).
    """

    def __init__(
        self,
        heights: np.ndarray,
        col_origin: int,
        obs_size: tuple[float, float, float, float] = HFIELD_OBS_SIZE,
    ) -> None:
        self.heights = heights
        self.col_origin = int(col_origin)
        self.row_origin = heights.shape[0] // 2
        dr, dx = grid_offsets(obs_size)
        self._dr, self._dc = np.meshgrid(dr.astype(float), dx.astype(float), indexing="ij")  # (47, 30)
        self._dr_int, self._dc_int = self._dr.astype(int), self._dc.astype(int)

    def index(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the cell under world (x, y) (``pos_to_idx``), clipped to the array."""
        row = int(self.row_origin - np.floor(CELLS_PER_METRE * y))
        col = int(self.col_origin + np.floor(CELLS_PER_METRE * x))
        rows, cols = self.heights.shape
        return min(max(row, 0), rows - 1), min(max(col, 0), cols - 1)

    def height(self, x: float, y: float) -> float:
        """H at the cell under (x, y)."""
        return float(self.heights[self.index(x, y)])

    def observe(self, x: float, y: float, heading: np.ndarray | None) -> np.ndarray:
        """The (1410,) relative heights around (x, y), rows DR outer, columns DX inner.

        :param heading: the torso's local x axis in the world (its xy part, (2,)); ``None`` samples
            the unrotated grid (the original's reset observation).
        """
        row0, col0 = self.index(x, y)
        if heading is None:
            dr, dc = self._dr_int, self._dc_int
        else:
            psi = np.arctan2(heading[1], heading[0])
            c, s = np.cos(psi), np.sin(psi)
            dc = np.around(c * self._dc + s * self._dr).astype(int)
            dr = np.around(-s * self._dc + c * self._dr).astype(int)
        rows, cols = self.heights.shape
        r = np.clip(row0 + dr, 0, rows - 1)
        k = np.clip(col0 + dc, 0, cols - 1)
        return (self.heights[r, k] - self.heights[row0, col0]).reshape(-1)
