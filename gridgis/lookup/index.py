"""Which grid holds a point: a cell raster for the easy points, GEOS for the rest.

The layer's extent is cut into square cells (about 10 m at city scale). A cell that no
grid border passes through lies wholly inside one grid, or outside all of them, and
answers at once from a small integer raster; only points in the few cells a border
crosses (1.5% of the city's) go to an exact test, against just the grids that cell meets.
How the raster is built: the borders are sampled at a third of a cell and every cell they
pass through is marked (see :meth:`GridIndex._border_cells`); the unmarked cells fall into
connected regions (``scipy.ndimage.label``), and one exact test per region names its grid.

Border rule: a point on the border shared by several grids belongs to the grid whose code
sorts first (a point on a grid's outer edge belongs to it). The rule is total and
deterministic, so every point inside the layer gets exactly one grid.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from gridgis.geometry import lowest_hit

OUTSIDE = -1  # what lowest_hit gives a point no grid holds
BORDER = -2
TARGET_CELLS = 12_000_000  # about 24 MB of raster at most
MIN_CELL_DEG = 2e-5  # ~2 m: finer buys nothing
MAX_CELL_DEG = 1e-3
EDGE_MARGIN = 1e-9  # of a cell: rounding slack when marking border cells


class GridIndex:
    """Point-in-grid over polygons in lon/lat (EPSG:4490/4326), exact and fast."""

    def __init__(
        self, geometries: ArrayLike, codes: ArrayLike, cell_deg: float | None = None
    ) -> None:
        geoms = np.asarray(geometries, dtype=object)
        code_arr = np.asarray(codes, dtype=object)
        order = np.argsort(code_arr.astype(str), kind="stable")
        self.geometries: NDArray[np.object_] = geoms[order]
        self.codes: NDArray[np.object_] = code_arr[order]
        shapely.prepare(self.geometries)
        self._tree = shapely.STRtree(self.geometries)
        self._build_raster(cell_deg)

    @classmethod
    def keeping(
        cls, previous: GridIndex | None, geometries: ArrayLike, codes: ArrayLike
    ) -> GridIndex:
        """An index of these grids: ``previous`` itself when it holds exactly these shapes
        under these codes (an officer or name edit), which saves the build — seconds at
        city scale — and the edit's readers a window of stale answers."""
        if previous is not None:
            geoms = np.asarray(geometries, dtype=object)
            code_arr = np.asarray(codes, dtype=object)
            if len(code_arr) == len(previous.codes):
                order = np.argsort(code_arr.astype(str), kind="stable")
                if np.array_equal(code_arr[order], previous.codes) and bool(
                    shapely.equals_exact(geoms[order], previous.geometries, tolerance=0.0).all()
                ):
                    return previous
        return cls(geometries, codes)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        """Memory held by the raster and border lists (geometries are shared with the caller)."""
        arrays = (self.raster, self._border_ids, self._cand_grid, self._cand_start)
        return int(sum(a.nbytes for a in arrays))

    # --- building ------------------------------------------------------------------------
    def _build_raster(self, cell_deg: float | None) -> None:
        if len(self.geometries) == 0:
            self.x0 = self.y0 = 0.0
            self.cell = 1.0
            self.raster: NDArray[np.int_] = np.full((1, 1), OUTSIDE, dtype=np.int16)
            self._set_candidates(np.zeros(0, dtype=np.int64), 1)
            self.border_share = 0.0
            return
        minx, miny, maxx, maxy = shapely.total_bounds(self.geometries)
        area = max((maxx - minx) * (maxy - miny), 1e-12)
        cell = cell_deg or min(max(math.sqrt(area / TARGET_CELLS), MIN_CELL_DEG), MAX_CELL_DEG)
        self.cell = cell
        # Python floats: lookup_one's arithmetic then overflows to inf quietly for a huge
        # coordinate, where numpy scalars would print a RuntimeWarning into the server log.
        self.x0, self.y0 = float(minx - cell), float(miny - cell)
        nx = math.ceil((maxx - self.x0) / cell) + 2
        ny = math.ceil((maxy - self.y0) / cell) + 2
        border = self._border_cells(nx, ny)
        regions, count = ndimage.label(~border)
        # One cell of each region names its grid: its centre is on no border.
        _, first = np.unique(regions.ravel(), return_index=True)
        first = first[regions.ravel()[first] > 0]
        fy, fx = np.divmod(first, nx)
        value = np.full(count + 1, OUTSIDE, dtype=np.int32)
        value[regions.ravel()[first]] = self._exact(
            self.x0 + (fx + 0.5) * cell, self.y0 + (fy + 0.5) * cell
        )
        dtype = np.int16 if len(self.codes) < np.iinfo(np.int16).max else np.int32
        raster = value[regions].astype(dtype)
        raster[border] = BORDER
        self.raster = raster
        self._set_candidates(np.flatnonzero(border.ravel()), nx)
        self.border_share = float(border.mean())

    def _border_cells(self, nx: int, ny: int) -> NDArray[np.bool_]:
        """Every cell a grid edge passes through (a supercover, with a rounding margin).

        Edges are sampled at a third of a cell, so consecutive samples lie in the same or
        neighbouring cells; a diagonal step may clip either corner cell, so both are
        marked. Each sample also marks the cells it would fall in if nudged by a rounding
        error, so that a border lying on a cell edge marks both sides.
        """
        border = np.zeros((ny, nx), dtype=bool)
        edges = shapely.segmentize(shapely.boundary(self.geometries), self.cell / 3)
        xy, part = shapely.get_coordinates(edges, return_index=True)
        fx = (xy[:, 0] - self.x0) / self.cell
        fy = (xy[:, 1] - self.y0) / self.cell
        ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
        for dx in (-EDGE_MARGIN, EDGE_MARGIN):
            for dy in (-EDGE_MARGIN, EDGE_MARGIN):
                border[np.floor(fy + dy).astype(np.int64), np.floor(fx + dx).astype(np.int64)] = (
                    True
                )
        diagonal = (part[1:] == part[:-1]) & (ix[1:] != ix[:-1]) & (iy[1:] != iy[:-1])
        border[iy[:-1][diagonal], ix[1:][diagonal]] = True
        border[iy[1:][diagonal], ix[:-1][diagonal]] = True
        return border

    def _set_candidates(self, cells: NDArray[np.int64], nx: int) -> None:
        """For each border cell, the grids its square meets (CSR arrays, codes ascending)."""
        self._border_ids = cells
        iy, ix = np.divmod(cells, nx)
        boxes = shapely.box(
            self.x0 + ix * self.cell,
            self.y0 + iy * self.cell,
            self.x0 + (ix + 1) * self.cell,
            self.y0 + (iy + 1) * self.cell,
        )
        box_idx, grid_idx = self._tree.query(boxes, predicate="intersects")
        order = np.lexsort((grid_idx, box_idx))
        self._cand_grid = grid_idx[order].astype(np.int32)
        self._cand_start = np.searchsorted(box_idx[order], np.arange(len(cells) + 1))

    # --- looking up ----------------------------------------------------------------------
    def _exact(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """GEOS: the lowest-code grid that holds (or has on its edge) each point."""
        p_idx, g_idx = self._tree.query(shapely.points(x, y), predicate="intersects")
        return lowest_hit(p_idx, g_idx, len(x))

    def _near_border(
        self, x: NDArray[np.float64], y: NDArray[np.float64], cells: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """Exact answers for points in border cells, testing only that cell's grids."""
        row = np.searchsorted(self._border_ids, cells)
        start, stop = self._cand_start[row], self._cand_start[row + 1]
        counts = stop - start
        p_idx = np.repeat(np.arange(len(x)), counts)
        offsets = np.arange(len(p_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
        g_idx = self._cand_grid[np.repeat(start, counts) + offsets].astype(np.int64)
        hit = shapely.intersects_xy(self.geometries[g_idx], x[p_idx], y[p_idx])
        # Candidates are in code order, so the lowest hit per point is the lowest code.
        return lowest_hit(p_idx[hit], g_idx[hit], len(x))

    def lookup_index(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Position (in code order) of the grid holding each point; -1 outside every grid."""
        x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        ny, nx = self.raster.shape
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and 1e308 are "outside"
            fx = x - self.x0
            fx *= 1.0 / self.cell
            fy = y - self.y0
            fy *= 1.0 / self.cell
            inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)  # NaN compares False
        if inside.all():
            cells = fy.astype(np.int64)
            cells *= nx
            cells += fx.astype(np.int64)
            out = self.raster.ravel().take(cells).astype(np.int64)
        else:
            cells = np.zeros(len(x), dtype=np.int64)
            cells[inside] = fy[inside].astype(np.int64) * nx + fx[inside].astype(np.int64)
            out = np.full(len(x), OUTSIDE, dtype=np.int64)
            out[inside] = self.raster.ravel().take(cells[inside])
        near = np.flatnonzero(out == BORDER)
        if len(near):
            out[near] = self._near_border(x[near], y[near], cells[near])
        return out

    def lookup_one(self, lon: float, lat: float) -> int:
        """:meth:`lookup_index` for one point, without array overhead (the HTTP path)."""
        fx = (float(lon) - self.x0) * (1.0 / self.cell)
        fy = (float(lat) - self.y0) * (1.0 / self.cell)
        ny, nx = self.raster.shape
        if not (0 <= fx < nx and 0 <= fy < ny):  # also false for NaN
            return OUTSIDE
        value = int(self.raster[int(fy), int(fx)])
        if value != BORDER:
            return value
        cell = np.array([int(fy) * nx + int(fx)], dtype=np.int64)
        return int(self._near_border(np.array([lon]), np.array([lat]), cell)[0])

    def lookup(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """Codes of the grids holding each point (``None`` outside every grid)."""
        idx = self.lookup_index(lon, lat)
        out = np.full(len(idx), None, dtype=object)
        hit = idx >= 0
        out[hit] = self.codes[idx[hit]]
        return out
