"""Write a sample city to disk the way bureaus hand files over, plus a manifest.

The manifest (``manifest.json``) lists every file with the ``gridgis import`` kind and
department it belongs to, in import order; ``gridgis demo`` and the tests follow it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio

from gridgis.samplecity.generate import SampleCity, layout_summary

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ManifestEntry:
    kind: str
    path: Path
    department: str | None = None


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, encoding: str, *, cpg: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame, path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)


def write_city(city: SampleCity, out: Path, *, seed: int, scale: str) -> list[ManifestEntry]:
    out.mkdir(parents=True, exist_ok=True)
    entries: list[ManifestEntry] = []

    def add(kind: str, rel: str, department: str | None = None) -> Path:
        entries.append(ManifestEntry(kind, Path(rel), department))
        return out / rel

    _write_shapefile(
        city.communities, add("communities", "base/communities.shp"), "UTF-8", cpg=True
    )
    _write_shapefile(city.streets, add("streets", "base/streets.shp"), "GBK", cpg=True)
    _write_shapefile(city.compounds, add("compounds", "base/compounds.shp"), "GBK", cpg=False)
    _write_shapefile(city.buildings, add("buildings", "base/buildings.shp"), "GBK", cpg=False)
    address_path = add("addresses", "base/addresses.gpkg")
    address_path.unlink(missing_ok=True)
    pyogrio.write_dataframe(city.addresses, address_path, layer="addresses")

    for layer, frame in city.departments:
        path = add("department", f"departments/{layer.file_stem}.shp", layer.department)
        _write_shapefile(frame, path, "GBK", cpg=False)

    manifest: dict[str, Any] = {
        "generator": "gridgis sample-city",
        "scale": scale,
        "seed": seed,
        "summary": layout_summary(city),
        "files": [
            {"kind": e.kind, "path": e.path.as_posix(), "department": e.department} for e in entries
        ],
    }
    (out / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return entries


def read_manifest(root: Path) -> list[ManifestEntry]:
    data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    return [ManifestEntry(f["kind"], root / f["path"], f.get("department")) for f in data["files"]]
