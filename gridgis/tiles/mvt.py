"""Mapbox Vector Tile 2.1 encoding, for the embedded store (PostGIS has ST_AsMVT).

The protobuf messages are few and fixed, so they are written by hand: no protobuf
runtime, and geometry commands are built with numpy per ring. Geometries arrive in tile
units (0…4096, y down), snapped to integers and oriented as the spec wants: exterior
rings with positive area by the surveyor's formula in tile coordinates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.tiles.tilemath import EXTENT

MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
LINESTRING, POLYGON = 2, 3  # MVT geometry types


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _packed(field: int, values: Iterable[int]) -> bytes:
    return _bytes_field(field, b"".join(_varint(v) for v in values))


def _zigzag(values: NDArray[np.int64]) -> NDArray[np.int64]:
    return (values << 1) ^ (values >> 63)


def _command(cmd: int, count: int) -> int:
    return (count << 3) | cmd


class _Cursor:
    """Geometry commands are relative to the previous point, across parts and rings."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.out: list[int] = []

    def path(self, xy: NDArray[np.int64], close: bool) -> None:
        if close:
            xy = xy[:-1]  # the closing point is implied by ClosePath
        # Repeated points carry no information and some readers reject them.
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = (np.diff(xy, axis=0) != 0).any(axis=1)
        xy = xy[keep]
        if len(xy) < (3 if close else 2):
            return
        deltas = np.diff(xy, axis=0, prepend=[[self.x, self.y]])
        encoded = _zigzag(deltas.astype(np.int64)).ravel().tolist()
        self.out += [_command(MOVE_TO, 1), *encoded[:2], _command(LINE_TO, len(xy) - 1)]
        self.out += encoded[2:]
        if close:
            self.out.append(_command(CLOSE_PATH, 1))
        self.x, self.y = int(xy[-1, 0]), int(xy[-1, 1])


def _geometry(geom: shapely.Geometry) -> tuple[int, list[int]]:
    cursor = _Cursor()
    kind = shapely.get_type_id(geom)
    if kind in (3, 6):  # (Multi)Polygon
        for part in shapely.get_parts(geom):
            for ring in (part.exterior, *part.interiors):
                cursor.path(shapely.get_coordinates(ring).astype(np.int64), close=True)
        return POLYGON, cursor.out
    if kind in (1, 5):  # (Multi)LineString
        for part in shapely.get_parts(geom):
            cursor.path(shapely.get_coordinates(part).astype(np.int64), close=False)
        return LINESTRING, cursor.out
    return 0, []


class _Values:
    """A layer's key and value tables; features refer to them by position."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.values: dict[tuple[type, Any], int] = {}

    def tags(self, properties: dict[str, Any]) -> list[int]:
        out: list[int] = []
        for name, value in properties.items():
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if isinstance(value, np.generic):
                value = value.item()
            k = self.keys.setdefault(name, len(self.keys))
            v = self.values.setdefault((type(value), value), len(self.values))
            out += [k, v]
        return out

    def encode(self) -> bytes:
        out = b"".join(_bytes_field(3, k.encode()) for k in self.keys)
        for kind, value in self.values:
            if kind is bool:
                payload = _key(7, 0) + _varint(int(value))
            elif kind is int:
                payload = (
                    _key(5, 0) + _varint(value)
                    if value >= 0
                    else _key(6, 0) + _varint((value << 1) ^ (value >> 63))
                )
            elif kind is float:
                payload = _key(3, 1) + np.float64(value).tobytes()
            else:
                payload = _bytes_field(1, str(value).encode())
            out += _bytes_field(4, payload)
        return out


def encode_layer(
    name: str,
    geometries: Sequence[shapely.Geometry],
    properties: Sequence[dict[str, Any]],
    ids: Sequence[int] | None = None,
) -> bytes:
    """One layer message; geometries already in tile units. Empty input gives b''."""
    values = _Values()
    features = b""
    for i, geom in enumerate(geometries):
        kind, commands = _geometry(geom)
        if not commands:
            continue
        feature = b""
        if ids is not None:
            feature += _key(1, 0) + _varint(int(ids[i]))
        feature += _packed(2, values.tags(properties[i]))
        feature += _key(3, 0) + _varint(kind)
        feature += _packed(4, commands)
        features += _bytes_field(2, feature)
    if not features:
        return b""
    body = _key(15, 0) + _varint(2) + _bytes_field(1, name.encode()) + features
    body += values.encode() + _key(5, 0) + _varint(EXTENT)
    return _bytes_field(3, body)
