"""The merge on real streets and buildings that nobody here drew.

    .venv/bin/python bench/merge_real.py PATH.gpkg [--households 3534]
        [--buildings buildings] [--streets streets] [--households-field NAME]

PATH is a GeoPackage with a building layer and a street layer in any projected or
geographic CRS — e.g. ``momepy/datasets/bubenec.gpkg`` of pysal/momepy (Bubeneč, Prague:
144 buildings, perimeter blocks with courtyards, 35 streets). The layers are moved
onto Deyang's Gauss–Krüger zone (EPSG:4544) as one community (the buildings' envelope
grown by 25 m); households come from ``--households-field`` or, without one,
``--households`` shared among buildings by footprint area. Prints the merge report: grids
in band, households min–max, buildings cut, borders on streets or walls, seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridgis import crs  # noqa: E402
from gridgis.merge import MergeInputs, compute_merge  # noqa: E402
from gridgis.merge.report import summary  # noqa: E402
from gridgis.settings import Settings  # noqa: E402

ORIGIN = (440_000.0, 3_445_000.0)  # near Deyang in EPSG:4544


def in_metres(path: Path, layer: str) -> gpd.GeoDataFrame:
    frame = pyogrio.read_dataframe(path, layer=layer)
    if frame.crs is None or frame.crs.is_geographic or frame.crs.to_epsg() == 3857:
        frame = frame.to_crs(frame.estimate_utm_crs())  # Web Mercator is not metres
    return frame


def to_4490(geoms: np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(crs.from_metric(np.asarray(geoms, dtype=object), 4544), crs=4490)


def inputs_from(args: argparse.Namespace) -> MergeInputs:
    buildings = in_metres(args.path, args.buildings)
    streets = in_metres(args.path, args.streets).to_crs(buildings.crs)
    minx, miny, _, _ = buildings.total_bounds
    shift = np.array([ORIGIN[0] - minx, ORIGIN[1] - miny])
    b_geom = shapely.transform(buildings.geometry.to_numpy(), lambda xy: xy + shift)
    s_geom = shapely.transform(streets.geometry.to_numpy(), lambda xy: xy + shift)
    if args.households_field:
        households = buildings[args.households_field].fillna(0).astype(int).to_numpy()
    else:
        area = shapely.area(b_geom)
        households = np.maximum(np.round(area * args.households / area.sum()), 1).astype(int)
    community = shapely.envelope(shapely.union_all(b_geom)).buffer(25, join_style="mitre")
    return MergeInputs(
        gpd.GeoDataFrame(
            {"code": ["510603001001"], "name": ["老城社区"]},
            geometry=to_4490(np.array([community], dtype=object)),
        ),
        {},
        gpd.GeoDataFrame(
            {"households": households, "population": households * 2}, geometry=to_4490(b_geom)
        ),
        gpd.GeoDataFrame(
            {"source_id": [], "name": [], "kind": []}, geometry=gpd.GeoSeries([], crs=4490)
        ),
        gpd.GeoDataFrame(
            {"name": [f"路{i}" for i in range(len(s_geom))], "class": ["street"] * len(s_geom)},
            geometry=to_4490(s_geom),
        ),
        None,
        None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--buildings", default="buildings", help="the building layer")
    parser.add_argument("--streets", default="streets", help="the street layer")
    parser.add_argument("--households", type=int, default=3534, help="shared by footprint")
    parser.add_argument("--households-field", help="a field of households per building")
    args = parser.parse_args()
    inputs = inputs_from(args)
    hh = inputs.buildings["households"]
    print(
        f"{args.path.name}: {len(inputs.buildings)} buildings, {int(hh.sum())} households "
        f"(largest building {int(hh.max())}), {len(inputs.streets)} streets"
    )
    started = time.perf_counter()
    result = compute_merge(inputs, settings=Settings(actor="bench"))
    seconds = time.perf_counter() - started
    grids = result.grids["households"]
    print(f"merge: {seconds:.2f} s; households per grid {int(grids.min())}–{int(grids.max())}")
    for line in summary(result.report):
        print(f"  {line}")


if __name__ == "__main__":
    main()
