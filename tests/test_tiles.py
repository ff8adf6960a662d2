"""Vector tiles on a real server, both stores: decoded and checked against the grids."""

from __future__ import annotations

import time
from typing import Any

import httpx
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.tiles import TILE_LAYERS, TileAddress
from tests.conftest import DEMO, Server, save_boxes

EXTENT = 4096


def decode(body: bytes, layer: str) -> list[dict[str, Any]]:
    tiles = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    features: list[dict[str, Any]] = tiles[layer]["features"]
    assert tiles[layer]["extent"] == EXTENT
    return features


def to_tile_units(geoms: np.ndarray, tile: TileAddress) -> np.ndarray:
    """Grids from lon/lat into the tile's own units (y down), as the encoder places them."""
    from gridgis.crs import CGCS2000, transformer

    minx, _, maxx, maxy = tile.mercator_bounds
    scale = EXTENT / (maxx - minx)
    merc = transformer(CGCS2000, 3857)

    def move(xy: np.ndarray) -> np.ndarray:
        mx, my = merc.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(((np.asarray(mx) - minx) * scale, (maxy - np.asarray(my)) * scale))

    return shapely.transform(geoms, move)


def test_catalogue_and_tilejson(client: httpx.Client, demo_store: SqlStore) -> None:
    layers = client.get("/tiles").json()["layers"]
    assert [layer["name"] for layer in layers] == list(TILE_LAYERS)
    body = client.get("/tiles/grids.json").json()
    assert body["tilejson"] == "3.0.0" and body["scheme"] == "xyz"
    assert body["tiles"][0].endswith("/tiles/grids/{z}/{x}/{y}.mvt")
    assert body["vector_layers"][0]["id"] == "grids"
    assert {"code", "name", "households"} <= set(body["vector_layers"][0]["fields"])
    west, south, east, north = demo_store.read_grids(DEMO).total_bounds
    assert body["bounds"] == pytest.approx([west, south, east, north])
    assert client.get("/tiles/nothing.json").status_code == 404


def test_grid_tiles_hold_every_grid_with_its_shape(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    grids = demo_store.read_grids(DEMO)
    lon, lat = shapely.get_coordinates(shapely.centroid(grids.geometry.iloc[30]))[0]
    checked = 0
    for z in (14, 15, 16):
        tile = TileAddress.containing(lon, lat, z)
        response = client.get(f"/tiles/grids/{tile}.mvt")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        features = decode(response.content, "grids")
        local = to_tile_units(grids.geometry.to_numpy(), tile)
        inside = shapely.intersects(local, shapely.box(0, 0, EXTENT, EXTENT)) & (
            shapely.area(shapely.clip_by_rect(local, 0, 0, EXTENT, EXTENT)) > 4
        )
        by_code = {f["properties"]["code"]: f for f in features}
        assert set(grids["code"][inside]) <= set(by_code)
        for code, geom in zip(grids["code"][inside], local[inside], strict=True):
            feature = by_code[code]
            row = grids[grids["code"] == code].iloc[0]
            assert feature["properties"]["households"] == row["households"]
            assert feature["properties"]["community_code"] == row["community_code"]
            drawn = shape(feature["geometry"]).intersection(shapely.box(0, 0, EXTENT, EXTENT))
            expected = shapely.clip_by_rect(geom, 0, 0, EXTENT, EXTENT)
            # Snapping to whole tile units moves edges by at most half a unit.
            tolerance = 0.6 * shapely.length(expected) + 2
            assert abs(drawn.area - expected.area) <= tolerance, code
            checked += 1
    assert checked >= 10


def test_base_layers_are_tiled(client: httpx.Client, demo_store: SqlStore) -> None:
    buildings = demo_store.read_base_layer("buildings")
    lon, lat = shapely.get_coordinates(shapely.centroid(buildings.geometry.iloc[100]))[0]
    tile = TileAddress.containing(lon, lat, 16)
    for name in TILE_LAYERS:
        response = client.get(f"/tiles/{name}/{tile}.mvt")
        assert response.status_code == 200, (name, response.status_code)
        features = decode(response.content, name)
        assert features, name
        assert all(isinstance(f["properties"]["code"], str) for f in features), name
        assert all("name" in f["properties"] for f in features), name
    local = to_tile_units(buildings.geometry.to_numpy(), tile)
    in_tile = shapely.intersects(local, shapely.box(0, 0, EXTENT, EXTENT))
    codes = {
        f["properties"]["code"]
        for f in decode(client.get(f"/tiles/buildings/{tile}.mvt").content, "buildings")
    }
    assert set(buildings["source_id"][in_tile]) <= codes


def test_etag_gives_304_and_bad_addresses_are_refused(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    grids = demo_store.read_grids(DEMO)
    lon, lat = shapely.get_coordinates(shapely.centroid(grids.geometry.iloc[3]))[0]
    path = f"/tiles/grids/{TileAddress.containing(lon, lat, 15)}.mvt"
    first = client.get(path)
    etag = first.headers["etag"]
    assert first.status_code == 200 and "max-age" in first.headers["cache-control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(path, params={"version": DEMO}).headers["etag"] == etag
    assert client.get("/tiles/grids/15/0/0.mvt").status_code == 204  # empty: the Atlantic
    assert (
        client.get(f"/tiles/grids/{TileAddress.containing(lon, lat, 3)}.mvt").status_code == 204
    )  # too far out
    for bad, status in (
        ("/tiles/roads/15/1/1.mvt", 404),
        ("/tiles/grids/25/1/1.mvt", 422),
        ("/tiles/grids/3/9/1.mvt", 422),
        ("/tiles/grids/15/x/1.mvt", 422),
        ("/tiles/grids/%C2%B2/1/1.mvt", 422),  # a digit to str.isdigit, not to int()
        ("/tiles/grids/15/" + "9" * 5000 + "/1.mvt", 422),
        (path + "?version=nope", 404),
    ):
        response = client.get(bad)
        assert response.status_code == status, bad
        assert response.json()["error"]


def test_publishing_invalidates_tiles(settings: Settings, store: SqlStore) -> None:
    cell = (104.39, 31.12, 104.40, 31.13)
    save_boxes(store, "v1", {"510603001001001": cell})
    save_boxes(store, "v2", {"510603001001002": cell})
    store.publish("v1", "t")
    fast = settings.model_copy(update={"index_refresh_seconds": 0.05})
    path = f"/tiles/grids/{TileAddress.containing(104.395, 31.125, 15)}.mvt"
    with Server(fast) as srv, srv.client(timeout=30) as http:
        before = http.get(path)
        assert [f["properties"]["code"] for f in decode(before.content, "grids")] == [
            "510603001001001"
        ]
        store.publish("v2", "t")
        for _ in range(100):
            if http.get("/healthz").json()["published_version"] == "v2":
                break
            time.sleep(0.05)
        after = http.get(path, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        assert [f["properties"]["code"] for f in decode(after.content, "grids")] == [
            "510603001001002"
        ]
        old = http.get(path, params={"version": "v1"})
        assert [f["properties"]["code"] for f in decode(old.content, "grids")] == [
            "510603001001001"
        ]
