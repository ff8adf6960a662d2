"""GeoPackage geometry blobs (OGC 12-128r18 §2.1.3): a small header, then standard WKB.

We write the blobs ourselves so that the embedded store can use plain ``sqlite3`` with
real transactions; GDAL/QGIS read the result like any other GeoPackage.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.crs import CGCS2000

_MAGIC = b"GP"
# flags: bit0 = little-endian, bits1-3 = envelope code (1 → [minx, maxx, miny, maxy]),
# bit4 = empty geometry.
_FLAGS_ENVELOPE_XY = 0b0000_0011
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

_HEADER = np.dtype(
    [
        ("magic", "S2"),
        ("version", "u1"),
        ("flags", "u1"),
        ("srs_id", "<i4"),
        ("envelope", "<f8", (4,)),
    ]
)


def encode(geoms: NDArray[np.object_], srs_id: int = CGCS2000) -> list[bytes | None]:
    """Shapely geometries → GeoPackage blobs (``None`` stays ``None``)."""
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    out: list[bytes | None] = [None] * len(geoms)
    if not present.any():
        return out
    valid = geoms[present]
    header = np.zeros(len(valid), dtype=_HEADER)
    header["magic"] = _MAGIC
    header["flags"] = _FLAGS_ENVELOPE_XY
    header["srs_id"] = srs_id
    bounds = shapely.bounds(valid)  # minx, miny, maxx, maxy
    header["envelope"] = bounds[:, [0, 2, 1, 3]]
    wkb = shapely.to_wkb(valid, byte_order=1, flavor="iso")
    raw = header.tobytes()
    size = _HEADER.itemsize
    for slot, i, blob in zip(np.flatnonzero(present), range(len(valid)), wkb, strict=True):
        out[slot] = raw[i * size : (i + 1) * size] + blob
    return out


def decode(blobs: list[bytes | None] | NDArray[np.object_]) -> NDArray[np.object_]:
    """GeoPackage blobs (from any writer: any envelope, either byte order) → geometries."""
    wkb: list[bytes | None] = []
    for blob in blobs:
        if blob is None:
            wkb.append(None)
            continue
        blob = bytes(blob)
        if blob[:2] != _MAGIC:  # plain WKB, as some tools write into GeoPackages
            wkb.append(blob)
            continue
        flags = blob[3]
        envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
        if envelope is None:
            raise ValueError(f"bad GeoPackage geometry header flags {flags:#04x}")
        wkb.append(blob[8 + envelope :])
    return shapely.from_wkb(np.array(wkb, dtype=object))
