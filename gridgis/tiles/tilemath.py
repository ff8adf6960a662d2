"""Web Mercator tile addresses ({z}/{x}/{y}, XYZ scheme as Leaflet, MapLibre and OpenLayers use)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridgis.errors import InvalidValueError

ORIGIN = 20037508.342789244  # half the Web Mercator world width, metres
MAX_ZOOM = 24
EXTENT = 4096  # tile coordinate units per side, as ST_AsMVT uses by default
BUFFER = 64  # units drawn beyond the edge so that strokes join across tiles


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> TileAddress:
        if not 0 <= z <= MAX_ZOOM:
            raise InvalidValueError(f"zoom {z} is outside 0…{MAX_ZOOM}")
        last = 2**z - 1
        if not (0 <= x <= last and 0 <= y <= last):
            raise InvalidValueError(f"tile {z}/{x}/{y} does not exist: x and y run 0…{last}")
        return cls(z, x, y)

    @classmethod
    def containing(cls, lon: float, lat: float, z: int) -> TileAddress:
        """The tile at zoom ``z`` holding a lon/lat point (clamped to the Mercator world)."""
        n = 2**z
        x = int((lon + 180.0) / 360.0 * n)
        y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
        return cls(z, min(max(x, 0), n - 1), min(max(y, 0), n - 1))

    def __str__(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"

    @property
    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857 metres."""
        size = 2 * ORIGIN / 2**self.z
        minx = -ORIGIN + self.x * size
        maxy = ORIGIN - self.y * size
        return minx, maxy - size, minx + size, maxy
