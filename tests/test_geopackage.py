"""The embedded store is a real GeoPackage: GDAL reads every layer we write."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from gridgis.demo import run_demo
from gridgis.settings import Settings
from gridgis.store import open_store
from gridgis.store.gpkg_codec import decode, encode
from tests.conftest import DEMO


def test_codec_round_trip_keeps_geometries_and_nulls() -> None:
    geoms = np.array(
        [
            shapely.box(0, 0, 1, 1),
            None,
            shapely.Point(104.4, 31.1),
            shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
        ],
        dtype=object,
    )
    back = decode(encode(geoms))
    assert back[1] is None
    for a, b in zip(geoms[[0, 2, 3]], back[[0, 2, 3]], strict=True):
        assert shapely.equals_exact(a, b, tolerance=0)


def test_decode_reads_blobs_written_by_gdal(tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {"n": [1, 2]}, geometry=[shapely.box(0, 0, 1, 1), shapely.Point(2, 3)], crs=4490
    )
    path = tmp_path / "gdal.gpkg"
    pyogrio.write_dataframe(frame, path, layer="t", geometry_type="Unknown")
    import sqlite3

    blobs = [row[0] for row in sqlite3.connect(path).execute("SELECT geom FROM t ORDER BY fid")]
    back = decode(blobs)
    assert shapely.equals(back[0], frame.geometry[0]) and shapely.equals(back[1], frame.geometry[1])


def test_gdal_reads_the_embedded_store(tmp_path: Path, sample_dir: Path) -> None:
    settings = Settings(data_dir=tmp_path, actor="test")
    store = open_store(settings)
    run_demo(store, settings, sample_dir, version_name=DEMO)
    grids = store.read_grids(DEMO)
    store.close()

    layers = {name for name, _ in pyogrio.list_layers(settings.gpkg_path)}
    assert {"communities", "streets", "buildings", "addresses", "grids"} <= layers
    read = pyogrio.read_dataframe(settings.gpkg_path, layer="grids")
    assert len(read) == len(grids)
    assert read.crs.to_epsg() == 4490
    assert shapely.equals(read.geometry.union_all(), grids.geometry.union_all())

    info = subprocess.run(
        ["ogrinfo", "-so", str(settings.gpkg_path), "grids"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Feature Count: {len(grids)}" in info.stdout
    assert "Warning" not in info.stderr, info.stderr


@pytest.mark.parametrize("table", ["communities", "buildings", "department_grids"])
def test_extent_is_recorded_for_qgis(tmp_path: Path, sample_dir: Path, table: str) -> None:
    import sqlite3

    settings = Settings(data_dir=tmp_path, actor="test")
    store = open_store(settings)
    run_demo(store, settings, sample_dir, version_name=DEMO)
    store.close()
    row = (
        sqlite3.connect(settings.gpkg_path)
        .execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (table,)
        )
        .fetchone()
    )
    minx, miny, maxx, maxy = row
    assert 104.3 < minx < maxx < 104.5 and 31.0 < miny < maxy < 31.2
