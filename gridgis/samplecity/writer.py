"""Write a sample city to disk the way bureaus hand files over, plus a manifest.

Each department sends its layer its own way (``DELIVERIES``): GBK shapefiles without a
``.cpg``, one in Gauss–Krüger zone 35 with the zone prefix and no ``.prj``, one traced on
Amap (GCJ-02) and one on Baidu (BD-09), a ``.cpg`` that lies, GeoJSON, GeoPackage (with
a second layer, and with Z), a zipped shapefile and KML. The manifest
(``manifest.json``) lists every file in import order with what a person importing it
would have to say (``--crs``, ``--layer``) because the file cannot.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from gridgis import crs as crsmod
from gridgis.jsonio import json_dumps, json_loads
from gridgis.samplecity.generate import SampleCity, layout_summary

MANIFEST = "manifest.json"
# Dates GDAL would otherwise stamp with today (DBF header, gpkg_contents): fixed, so that
# the same seed gives the same bytes.
FIXED_DATE = "2026-01-01T00:00:00Z"
ELEVATION_M = 490.0  # Deyang's plain, for the layer that arrives with Z values


@dataclass(frozen=True)
class Delivery:
    fmt: str = "shp"  # shp | zip | geojson | gpkg | kml
    encoding: str = "GBK"
    cpg: str | None = None  # what the .cpg says; None: no .cpg at all
    prj: bool = True
    coords: str = "cgcs2000"  # the CRS the coordinates are really in
    hint_crs: str | None = None  # what the importer must be told (--crs)
    layer: str | None = None  # GeoPackage layer holding the grids
    z: bool = False


DELIVERIES: dict[str, Delivery] = {
    "城管": Delivery(coords="4523", prj=False),  # GK zone 35, easting with zone prefix
    "民政": Delivery(cpg="GBK"),
    "环保": Delivery(fmt="geojson", encoding="UTF-8"),
    "卫生健康": Delivery(fmt="gpkg", encoding="UTF-8", layer="卫生网格"),
    "人社": Delivery(coords="gcj02", hint_crs="gcj02"),  # traced on Amap, .prj says WGS84
    "行政审批": Delivery(fmt="geojson", encoding="UTF-8", coords="bd09", hint_crs="bd09"),
    "供水": Delivery(fmt="zip"),
    "供电": Delivery(fmt="kml", encoding="UTF-8"),
    "燃气": Delivery(encoding="UTF-8", cpg="GBK"),  # the .cpg lies
    "消防": Delivery(coords="4544"),  # GK zone 35 without the prefix, with a .prj
    "住建": Delivery(fmt="gpkg", encoding="UTF-8", z=True),
    "统计": Delivery(encoding="GB18030"),
}
DEFAULT_DELIVERY = Delivery()


@dataclass(frozen=True)
class ManifestEntry:
    kind: str
    path: Path
    department: str | None = None
    crs: str | None = None
    layer: str | None = None

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`gridgis.importer.pipeline.import_layer`."""
        return {"department": self.department, "crs": self.crs, "layer": self.layer}


def _reproject(frame: gpd.GeoDataFrame, coords: str, z: bool) -> gpd.GeoDataFrame:
    spec = crsmod.parse_crs(coords)
    geoms = crsmod.from_cgcs2000(frame.geometry.to_numpy(), spec)
    if spec.epsg != crsmod.CGCS2000 or spec.shift:
        # Trigonometry differs in the last bit between CPUs (numpy's SIMD paths): round to
        # 0.1 mm so that the same seed writes the same bytes on every machine.
        decimals = 9 if spec.is_geographic else 4
        geoms = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    if z:
        geoms = shapely.force_3d(geoms, ELEVATION_M)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=spec.epsg)


def _write_shapefile(frame: gpd.GeoDataFrame, path: Path, delivery: Delivery) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # UTF-8 field names get cut mid-character at 10 bytes: that is the point here.
        warnings.filterwarnings("ignore", message=".*laundered.*")
        warnings.filterwarnings("ignore", message="Could not decode error message")
        pyogrio.write_dataframe(
            frame,
            path,
            encoding=delivery.encoding,
            layer_options={"DBF_DATE_LAST_UPDATE": FIXED_DATE[:10]},
        )
    cpg = path.with_suffix(".cpg")
    if delivery.cpg is None:
        cpg.unlink(missing_ok=True)
    else:
        cpg.write_text(delivery.cpg, encoding="ascii")
    if not delivery.prj:
        path.with_suffix(".prj").unlink(missing_ok=True)


def _deliver(
    frame: gpd.GeoDataFrame,
    out: Path,
    stem: str,
    d: Delivery,
    extra_layers: dict[str, gpd.GeoDataFrame] | None = None,
) -> Path:
    frame = _reproject(frame, d.coords, d.z)
    folder = out / "departments"
    folder.mkdir(parents=True, exist_ok=True)
    if d.fmt == "shp":
        path = folder / f"{stem}.shp"
        _write_shapefile(frame, path, d)
    elif d.fmt == "zip":
        tmp = folder / f".{stem}"
        _write_shapefile(frame, tmp / f"{stem}.shp", d)
        path = folder / f"{stem}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(tmp.iterdir()):
                info = zipfile.ZipInfo(f"{stem}/{part.name}", date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, part.read_bytes())
                part.unlink()
        tmp.rmdir()
    elif d.fmt == "geojson":
        path = folder / f"{stem}.geojson"
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    elif d.fmt == "kml":
        path = folder / f"{stem}.kml"
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame, path, driver="KML")
    else:
        path = folder / f"{stem}.gpkg"
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame, path, layer=d.layer or stem)
        for name, extra in (extra_layers or {}).items():
            pyogrio.write_dataframe(extra, path, layer=name, append=True)
    return path


def write_city(city: SampleCity, out: Path, *, seed: int, scale: str) -> list[ManifestEntry]:
    with pyogrio_config({"OGR_CURRENT_DATE": FIXED_DATE}):
        return _write_city(city, out, seed=seed, scale=scale)


@contextmanager
def pyogrio_config(options: dict[str, str]) -> Iterator[None]:
    previous = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def _write_city(city: SampleCity, out: Path, *, seed: int, scale: str) -> list[ManifestEntry]:
    out.mkdir(parents=True, exist_ok=True)
    entries: list[ManifestEntry] = []
    base = out / "base"
    base.mkdir(exist_ok=True)
    plain = [
        ("communities", city.communities, Delivery(encoding="UTF-8", cpg="UTF-8")),
        ("streets", city.streets, Delivery(cpg="GBK")),
        ("compounds", city.compounds, Delivery()),
        ("buildings", city.buildings, Delivery()),
    ]
    for kind, frame, delivery in plain:
        path = base / f"{kind}.shp"
        _write_shapefile(frame, path, delivery)
        entries.append(ManifestEntry(kind, path.relative_to(out)))
    address_path = base / "addresses.gpkg"
    address_path.unlink(missing_ok=True)
    pyogrio.write_dataframe(city.addresses, address_path, layer="addresses")
    entries.append(ManifestEntry("addresses", address_path.relative_to(out)))

    for layer, frame in city.departments:
        d = DELIVERIES.get(layer.department, DEFAULT_DELIVERY)
        extra = {"服务点": city.service_points} if d.layer else None
        path = _deliver(frame, out, layer.file_stem, d, extra)
        entries.append(
            ManifestEntry(
                "department", path.relative_to(out), layer.department, d.hint_crs, d.layer
            )
        )

    manifest: dict[str, Any] = {
        "generator": "gridgis sample-city",
        "scale": scale,
        "seed": seed,
        "summary": layout_summary(city),
        "files": [
            {
                k: v
                for k, v in {
                    "kind": e.kind,
                    "path": e.path.as_posix(),
                    "department": e.department,
                    "crs": e.crs,
                    "layer": e.layer,
                }.items()
                if v is not None
            }
            for e in entries
        ],
    }
    (out / MANIFEST).write_text(json_dumps(manifest, indent=True) + "\n", encoding="utf-8")
    return entries


def read_manifest(root: Path) -> list[ManifestEntry]:
    data = json_loads((root / MANIFEST).read_text(encoding="utf-8"))
    return [
        ManifestEntry(
            f["kind"], root / f["path"], f.get("department"), f.get("crs"), f.get("layer")
        )
        for f in data["files"]
    ]


def read_layouts(root: Path) -> dict[str, str]:
    """Community code → how the sample built it (``slab`` | ``perimeter`` | ``village``),
    from the communities layer's ``layout`` column; a sample written without one (the
    small scale) has no old town: its villages are ``village``, the rest ``slab``."""
    frame = pyogrio.read_dataframe(root / "base" / "communities.shp", read_geometry=False)
    if "layout" in frame:
        return dict(zip(frame["code"], frame["layout"], strict=True))
    return {
        c: "village" if n.endswith("村") else "slab"
        for c, n in zip(frame["code"], frame["name"], strict=True)
    }
