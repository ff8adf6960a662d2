"""Point-in-grid: agreement with GEOS, the border rule, and swapping on publish."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import shapely

from gridgis.lookup import GridIndex, PublishedIndex
from gridgis.store import SqlStore


def test_agrees_with_geos_off_borders(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    grids = demo_store.read_grids(version.name)
    index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())
    minx, miny, maxx, maxy = grids.total_bounds
    rng = np.random.default_rng(1)
    lon = rng.uniform(minx - 0.002, maxx + 0.002, 20_000)
    lat = rng.uniform(miny - 0.002, maxy + 0.002, 20_000)
    codes = index.lookup(lon, lat)
    points = shapely.points(lon, lat)
    geoms = grids.geometry.to_numpy()
    inside = shapely.contains(geoms[:, None], points[None, :])  # interior only
    expected = np.full(len(points), None, dtype=object)
    hit = inside.any(axis=0)
    expected[hit] = grids["code"].to_numpy()[inside.argmax(axis=0)[hit]]
    on_border = shapely.intersects(geoms[:, None], points[None, :]).any(axis=0) & ~hit
    assert hit.sum() > 10_000 and (~hit).sum() > 100
    assert (codes[~on_border] == expected[~on_border]).all()


def test_a_shared_border_point_goes_to_the_lowest_code() -> None:
    left, right = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    index = GridIndex([right, left], ["B", "A"])
    assert index.lookup([1.0, 0.5, 1.5, 3.0], [0.5, 0.5, 0.5, 0.5]).tolist() == [
        "A",
        "A",
        "B",
        None,
    ]
    assert index.lookup([np.nan], [0.5]).tolist() == [None]


def test_index_swaps_when_a_new_version_is_published(store: SqlStore) -> None:
    import geopandas as gpd

    def version(name: str, code: str) -> None:
        grid = gpd.GeoDataFrame(
            {
                "code": [code],
                "name": [name],
                "kind": "综合",
                "community_code": "510603001001",
                "households": 1,
                "population": 1,
                "area_m2": 1.0,
                "compactness": 1.0,
            },
            geometry=[shapely.box(104.39, 31.12, 104.40, 31.13)],
            crs=4490,
        )
        store.save_version(name, grid, pd.DataFrame(), params={}, report={}, actor="t")

    version("v1", "510603001001001")
    version("v2", "510603001001009")
    store.publish("v1", "t")
    published = PublishedIndex(store, refresh_seconds=0.0)
    seen: list[str | None] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            loaded = published.current()
            seen.append(None if loaded is None else loaded.grid_at(104.395, 31.125)["code"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    store.publish("v2", "t")
    deadline = threading.Event()
    for _ in range(100):
        loaded = published.current()
        if loaded is not None and loaded.info.name == "v2":
            break
        deadline.wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert published.current().info.name == "v2"  # type: ignore[union-attr]
    assert None not in seen  # no window without an index
    assert set(seen) <= {"510603001001001", "510603001001009"}
