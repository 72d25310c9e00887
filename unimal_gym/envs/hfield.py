"""The ``hfield`` observation: terrain heights around the torso on a non-uniform grid (docs/environment.md §3.6).

The terrain is a padded height array H (rows ↔ y, row 0 at the +y edge, rows increasing toward −y;
columns ↔ x; 10 cells per metre). The grid has 47 row offsets DR (rightward, −y) and 30 column
offsets DX (forward, +x), dense near the torso; it is rotated by the torso's yaw on steps.
:meth:`HeightMap.observe` returns the sampled heights together with the height of the centre cell
(the one under the torso) that they are relative to; the environment's ``torso_height`` uses that
value, so a step looks the terrain up once.
"""

from __future__ import annotations

import math

import numpy as np

from ..layout import HFIELD_SHAPE
from . import kernels as _kernels

HFIELD_OBS_SIZE = (1.0, 4.0, 4.0, 4.0)  # docs/environment.md §3.6: metres behind, in front, right, left
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
if (len(DR), len(DX)) != HFIELD_SHAPE:  # the layout every policy reads
    raise ImportError(f"hfield grid {len(DR)} × {len(DX)} does not match the layout's {HFIELD_SHAPE}")


def cell_index(x: float, y: float, shape: tuple[int, int], col_origin: int) -> tuple[int, int]:
    """(row, col) of the cell under world (x, y) (``pos_to_idx``) in a padded H of ``shape``, clipped to it.

    :param col_origin: column of world x = 0; world y = 0 is row ``shape[0] // 2``.
    """
    rows, cols = shape
    row = int(rows // 2 - math.floor(CELLS_PER_METRE * y))
    col = int(col_origin + math.floor(CELLS_PER_METRE * x))
    return min(max(row, 0), rows - 1), min(max(col, 0), cols - 1)


class HeightMap:
    """A padded terrain height array with the world ↔ cell mapping of docs/environment.md §2.3.

    :param heights: (rows, cols) padded H, complete, C-contiguous float64: the kernel reads the array itself,
        the numpy sampler a copy made here; after writing into it call :meth:`refresh`.
    :param col_origin: column of world x = 0 (``10 · (start_flat + padding [+ 1 with walls])``).
    :param obs_size: [behind, front, right, left] of the observation grid (m).
    :param compiled: sample the grid with the compiled kernel (True; an error if it is not
        built), with numpy (False), or with the kernel when available (None); bitwise the same.
    """

    def __init__(
        self,
        heights: np.ndarray,
        col_origin: int,
        obs_size: tuple[float, float, float, float] = HFIELD_OBS_SIZE,
        compiled: bool | None = None,
    ) -> None:
        self.heights = heights
        self.col_origin = int(col_origin)
        self.row_origin = heights.shape[0] // 2
        self._rows, self._cols = heights.shape
        dr, dx = grid_offsets(obs_size)
        grid_dr, grid_dc = np.meshgrid(dr.astype(float), dx.astype(float), indexing="ij")  # (47, 30)
        # rotation as two products of stacked grids: [dc; dr]·cos ψ + [dr; −dc]·sin ψ = [col'; row'] (pre-rounding)
        self._grid = np.stack([grid_dc.reshape(-1), grid_dr.reshape(-1)])  # (2, 1410)
        kernels = _kernels.require(compiled)
        if kernels is not None:  # the numpy arithmetic below in one call, clipping indices itself
            self._sampler = kernels.HfieldSampler(
                np.ascontiguousarray(heights, dtype=float),
                self._grid,
                self._cols,
                self.row_origin,
                self.col_origin,
                float(CELLS_PER_METRE),
            )
            return
        self._sampler = None
        # Clipping an index to the array equals reading an edge-padded copy of it: pad by the
        # longest rotated offset and sample with one flat gather, no clipping on the step path.
        pad = int(np.ceil(np.hypot(np.abs(dr).max(), np.abs(dx).max()))) + 1
        self._pad = pad
        self._padded = np.pad(heights, pad, mode="edge").reshape(-1)
        self._stride = self._cols + 2 * pad  # padded row length
        self._grid_swapped = np.stack([grid_dr.reshape(-1), -grid_dc.reshape(-1)])
        self._flat_weights = np.array([1.0, float(self._stride)])  # (col', row') → flat offset
        self._unrotated = (self._flat_weights @ self._grid).astype(np.intp)
        self._rotated = np.empty_like(self._grid)
        self._work = np.empty_like(self._grid)

    def refresh(self) -> None:
        """Take up writes made to ``heights`` since construction (the kernel reads the array itself; the numpy
        sampler re-pads its copy)."""
        if self._sampler is None:
            self._padded = np.pad(self.heights, self._pad, mode="edge").reshape(-1)

    def index(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the cell under world (x, y), clipped to the array (:func:`cell_index`)."""
        return cell_index(x, y, (self._rows, self._cols), self.col_origin)

    def height(self, x: float, y: float) -> float:
        """H at the cell under (x, y), i.e. at :meth:`index` (the centre height :meth:`observe` returns there)."""
        return float(self.heights[self.index(x, y)])

    def observe(self, x: float, y: float, heading: np.ndarray | None) -> tuple[np.ndarray, float]:
        """The relative heights around (x, y) and the height they are relative to.

        Cell (row0 + r', col0 + c') with c' = round(cos ψ·dc + sin ψ·dr), r' = round(−sin ψ·dc + cos ψ·dr)
        (half to even), indices clipped to the array, minus the height at (row0, col0) = :meth:`index`
        (docs/environment.md §3.6).

        :param heading: the torso's local x axis in the world (its xy part, (2,)); ``None`` samples
            the unrotated grid (the original's reset observation).
        :returns: ``(values, centre_height)``: values (1410,) float64, rows DR outer, columns DX inner,
            a new array; centre_height the H cell under (x, y), equal to :meth:`height` ``(x, y)``.
        """
        if self._sampler is not None:
            values = np.empty(self._grid.shape[1])
            if heading is None:  # cos 0 = 1, sin 0 = 0 reproduce the unrotated offsets exactly
                centre_height = self._sampler(values, x, y, 1.0, 0.0)
            else:
                psi = np.arctan2(heading[1], heading[0])
                centre_height = self._sampler(values, x, y, np.cos(psi), np.sin(psi))
            return values, centre_height
        row0, col0 = self.index(x, y)
        centre = (row0 + self._pad) * self._stride + col0 + self._pad
        if heading is None:
            flat = self._unrotated + centre
        else:
            psi = np.arctan2(heading[1], heading[0])
            rotated, work = self._rotated, self._work
            np.multiply(self._grid, np.cos(psi), out=rotated)
            np.multiply(self._grid_swapped, np.sin(psi), out=work)
            np.add(rotated, work, out=rotated)
            np.rint(rotated, out=rotated)  # numpy's around with 0 decimals: half to even
            flat = np.dot(self._flat_weights, rotated).astype(np.intp)
            flat += centre
        values = self._padded.take(flat)
        centre_height = float(self._padded[centre])
        values -= centre_height
        return values, centre_height
