#!/usr/bin/python3
"""Does QGIS read what gridgis serves? Every OGC API collection, and the grid tiles.

    apt-get install qgis python3-qgis        # once; too heavy for `make test`
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/check-qgis.py http://127.0.0.1:8000

Run with Debian's Python (where python3-qgis lives) against a running `gridgis serve`.
Loads each collection with QGIS's own OAPIF provider (not GDAL's), counts the features
it reads and compares them with the server's numberMatched; exits 1 on any difference.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from typing import Any


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def main(base: str) -> int:
    from qgis.core import Qgis, QgsApplication, QgsVectorLayer, QgsVectorTileLayer

    app = QgsApplication([], False)
    app.initQgis()  # kept alive until the process ends
    print(f"QGIS {Qgis.version()} against {base}")
    failures = 0
    for collection in fetch(f"{base}/ogc/collections?f=json")["collections"]:
        cid = collection["id"]
        items = f"{base}/ogc/collections/{urllib.parse.quote(cid)}/items?limit=1"
        expected = fetch(items)["numberMatched"]
        source = f"url='{base}/ogc' typename='{cid}' pageSize='1000'"
        layer = QgsVectorLayer(source, cid, "OAPIF")
        read = sum(1 for _ in layer.getFeatures()) if layer.isValid() else -1
        ok = layer.isValid() and read == expected
        failures += not ok
        print(f"  {cid:<20} {read:>7} of {expected:>7}  {'ok' if ok else 'MISMATCH'}")
    tiles = QgsVectorTileLayer(
        f"type=xyz&url={base}/tiles/grids/{{z}}/{{x}}/{{y}}.mvt&zmin=9&zmax=20", "grids"
    )
    print(f"  vector tiles (grids): {'ok' if tiles.isValid() else 'INVALID'}")
    failures += not tiles.isValid()
    sys.stdout.flush()
    return 1 if failures else 0


if __name__ == "__main__":
    code = main(sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000")
    os._exit(code)  # QGIS 3.22 may crash while tearing down without a display
