"""One identity for content: a draft replaced under the same name, under a running server,
is what every route answers next (both stores; the embedded one reuses the draft's id)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import mapbox_vector_tile
import pandas as pd
import pyogrio
import shapely

from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.tiles import TileAddress
from tests.conftest import Server

DRAFT = "草稿-回头看"  # a grid office names its drafts in Chinese
COMMUNITY = "510603001001"
LON, LAT = 104.3930, 31.1300


def _grids(codes: list[str], households: int) -> gpd.GeoDataFrame:
    """Side-by-side boxes around (LON, LAT), one per code, west to east."""
    width = 0.004 / len(codes)
    boxes = [
        shapely.box(
            LON - 0.002 + i * width, LAT - 0.002, LON - 0.002 + (i + 1) * width, LAT + 0.002
        )
        for i in range(len(codes))
    ]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"网格{c[-3:]}" for c in codes],
            "kind": "综合",
            "community_code": COMMUNITY,
            "households": households,
            "population": households * 2,
            "area_m2": 1.0,
            "compactness": 1.0,
        },
        geometry=boxes,
        crs=4490,
    )


def _save(store: SqlStore, codes: list[str], households: int, replace: bool) -> None:
    store.save_version(
        DRAFT,
        _grids(codes, households),
        pd.DataFrame(),
        params={},
        report={},
        actor="test",
        replace=replace,
    )


def _answers(client: httpx.Client, folder: Path) -> dict[str, Any]:
    """What each route says of the draft: its grid codes (and households where given)."""
    version = {"version": DRAFT}
    tile = TileAddress.containing(LON, LAT, 15)
    listing = client.get("/api/grids", params=version)
    grids = listing.json()["features"]
    codes = sorted(f["properties"]["code"] for f in grids)
    one = client.get(f"/api/grids/{codes[0]}", params=version)
    mvt = client.get(f"/tiles/grids/{tile}.mvt", params=version)
    decoded = mapbox_vector_tile.decode(mvt.content)["grids"]["features"]
    ogc = client.get("/ogc/collections/grids/items", params=version).json()["features"]
    download = client.get(f"/api/versions/{DRAFT}/download", params={"format": "geojson"})
    shp = client.get(f"/api/versions/{DRAFT}/download", params={"format": "shp"})
    with zipfile.ZipFile(io.BytesIO(shp.content)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".shp"))
        archive.extractall(folder)
    from_shp = pyogrio.read_dataframe(folder / name)
    embed = client.get("/embed/grids.geojson", params={**version, "community": COMMUNITY})
    page = client.get("/embed", params={**version, "grid": codes[-1]})
    return {
        "geojson": codes,
        "households": sorted({f["properties"]["households"] for f in grids}),
        "grids_etag": listing.headers["etag"],
        "one": one.json()["properties"]["code"],
        "tile": sorted(f["properties"]["code"] for f in decoded),
        "tile_version": mvt.headers["x-gridgis-version"],
        "tile_etag": mvt.headers["etag"],
        "ogc": sorted(f["properties"]["code"] for f in ogc),
        "download": sorted(f["properties"]["code"] for f in download.json()["features"]),
        "download_name": download.headers["content-disposition"],
        "shapefile": sorted(from_shp["code"]),
        "embed": sorted(f["properties"]["code"] for f in embed.json()["features"]),
        "embed_page": page.status_code,
    }


def test_a_replaced_draft_is_what_every_route_answers(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    first = [f"{COMMUNITY}{i:03d}" for i in (1, 2)]
    second = [f"{COMMUNITY}{i:03d}" for i in (11, 12, 13)]
    _save(store, first, 400, replace=False)
    with Server(settings) as server, server.client(timeout=60) as c:
        before = _answers(c, tmp_path / "before")
        _save(store, second, 250, replace=True)
        after = _answers(c, tmp_path / "after")
        stale = c.get(f"/api/grids/{first[0]}", params={"version": DRAFT})
        revalidated = [
            c.get("/api/grids", params={"version": DRAFT}, headers={"If-None-Match": tag})
            for tag in (before["grids_etag"], after["grids_etag"])
        ]
    assert {k: before[k] for k in ("geojson", "tile", "ogc", "download", "shapefile", "embed")} == {
        k: first for k in ("geojson", "tile", "ogc", "download", "shapefile", "embed")
    }
    for route in ("geojson", "tile", "ogc", "download", "shapefile", "embed"):
        assert after[route] == second, route
    assert (before["households"], after["households"]) == ([400], [250])
    assert (before["one"], after["one"]) == (first[0], second[0])
    assert before["tile_etag"] != after["tile_etag"]
    # Clients keep the big answers and revalidate: the old tag is stale, the new one holds.
    assert [r.status_code for r in revalidated] == [200, 304]
    assert after["embed_page"] == 200
    assert stale.status_code == 404 and stale.json()["code"] == "grid_not_found"
    # A Chinese name crosses HTTP headers intact (percent-encoded UTF-8, RFC 8187 for files).
    assert httpx.URL("?v=" + after["tile_version"]).params["v"] == DRAFT
    assert "filename*=UTF-8''" in after["download_name"]
