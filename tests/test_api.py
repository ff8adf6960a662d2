"""The HTTP API on a real uvicorn server, against both stores."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import shapely

from gridgis.store import SqlStore
from tests.conftest import DEMO


def test_healthz(client: httpx.Client, demo_store: SqlStore) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["store"] == demo_store.kind
    assert body["published_version"] == DEMO


def test_lookup_finds_every_grid_from_a_point_inside_it(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    grids = demo_store.read_grids(DEMO)
    communities = demo_store.read_base_layer("communities").set_index("code")
    points = shapely.point_on_surface(grids.geometry.to_numpy())
    for code, point in zip(grids["code"], points, strict=True):
        response = client.get("/api/lookup", params={"lon": point.x, "lat": point.y})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["code"] == code
        for key in (
            "name",
            "community_code",
            "community_name",
            "subdistrict_name",
            "households",
            "officer",
        ):
            assert key in body
        community = communities.loc[code[:12]]
        assert body["community_name"] == community["name"]
        assert body["subdistrict_name"] == community["subdistrict_name"]
        assert body["community_code"] == code[:12]


def test_lookup_outside_every_grid_is_a_json_404(client: httpx.Client) -> None:
    response = client.get("/api/lookup", params={"lon": 104.0, "lat": 31.0})
    assert response.status_code == 404
    assert "no grid contains" in response.json()["error"]


@pytest.mark.parametrize(
    "params",
    [
        {"lon": "abc", "lat": "31.1"},
        {"lon": "nan", "lat": "31.1"},
        {"lon": "104.4"},
        {"lon": "inf", "lat": "31.1"},
        {"lon": "200", "lat": "31.1"},
        {"lon": "104", "lat": "-91"},
    ],
)
def test_lookup_bad_numbers_are_422(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/api/lookup", params=params)
    assert response.status_code == 422
    assert response.json()["error"]


def test_grids_feature_collection(client: httpx.Client, demo_store: SqlStore) -> None:
    response = client.get("/api/grids")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    stored = demo_store.read_grids(DEMO)
    assert len(body["features"]) == len(stored)
    feature = body["features"][0]
    assert {"code", "community_code", "households"} <= set(feature["properties"])
    assert feature["id"] == feature["properties"]["code"]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in body["features"]]
    ring = shapes[0].geoms[0].exterior.coords
    assert ring[0] == ring[-1]  # closed rings, lon/lat order
    assert 104 < ring[0][0] < 105 and 31 < ring[0][1] < 32
    total = shapely.area(np.array(shapes, dtype=object)).sum()
    assert np.isclose(total, shapely.area(stored.geometry.to_numpy()).sum(), rtol=1e-6)


def test_one_grid_and_unknown_code(client: httpx.Client, demo_store: SqlStore) -> None:
    code = demo_store.read_grids(DEMO)["code"].iloc[3]
    feature = client.get(f"/api/grids/{code}").json()
    assert feature["type"] == "Feature" and feature["properties"]["code"] == code
    missing = client.get("/api/grids/000000000000000")
    assert missing.status_code == 404 and "no grid" in missing.json()["error"]


def test_versions_and_layers(client: httpx.Client) -> None:
    versions = client.get("/api/versions").json()
    assert [(v["name"], v["status"]) for v in versions] == [(DEMO, "published")]
    assert client.get("/api/versions/nope").status_code == 404
    layers = {(la["kind"], la["name"]) for la in client.get("/api/layers").json()}
    assert ("department", "综治") in layers and ("addresses", "addresses") in layers


def test_map_page_uses_only_local_assets(client: httpx.Client) -> None:
    html = client.get("/map").text
    assert "/static/leaflet/leaflet.js" in html
    assert "http://" not in html and "https://" not in html
    assert client.get("/static/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/leaflet/leaflet.css").status_code == 200


def test_crosswalk_as_json_and_csv(client: httpx.Client, demo_store: SqlStore) -> None:
    rows = client.get(f"/api/versions/{DEMO}/crosswalk", params={"department": "城管"}).json()
    assert rows and {r["department"] for r in rows} == {"城管"}
    assert {"department_grid_id", "source_id", "grid_code", "area_share", "household_share"} <= set(
        rows[0]
    )
    code = rows[0]["grid_code"]
    covering = client.get(f"/api/versions/{DEMO}/crosswalk", params={"grid": code}).json()
    assert {r["grid_code"] for r in covering} == {code}
    assert len({r["department"] for r in covering}) > 5  # many departments cover every grid
    csv = client.get(f"/api/versions/{DEMO}/crosswalk", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0] == (
        "department,department_grid_id,source_id,grid_code,area_share,household_share"
    )
    assert (
        client.get(f"/api/versions/{DEMO}/crosswalk", params={"department": "无此部门"}).status_code
        == 404
    )
    assert client.get("/api/versions/nope/crosswalk").status_code == 404


def test_big_answers_are_gzipped_when_the_client_asks(client: httpx.Client) -> None:
    plain = client.get("/api/grids", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/api/grids", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json() == plain.json()
    assert int(zipped.headers["content-length"]) * 4 < len(plain.content)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/route", 404, "not_found"),
        ("DELETE", "/api/grids", 405, "method_not_allowed"),
        ("GET", "/api/lookup?lon=x&lat=31", 422, "invalid_value"),
        ("GET", "/api/grids?version=nope", 404, "version_not_found"),
        ("GET", "/api/lookup?lon=100&lat=40", 404, "no_grid_here"),
        ("GET", "/api/lookup?lon=104&lat=31&crs=EPSG:999999", 400, "invalid_input"),
        ("GET", "/tiles/nothing/14/13000/6000.mvt", 404, "tile_layer_not_found"),
    ],
)
def test_every_error_has_one_shape_with_a_machine_code(
    client: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert "detail" not in body


def test_a_nul_character_is_refused_by_name_on_both_stores(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    """PostgreSQL cannot store a NUL (its driver raised, and the answer was a 500, found
    by schemathesis); no name or value here needs one. Refused the same on both stores,
    and nothing changes."""
    code = str(demo_store.read_grids(DEMO)["code"].iloc[0])
    audit = len(demo_store.read_audit())
    for url in ("/api/versions/a%00b", "/api/grids?version=a%00b", "/api/jobs/a%00b"):
        answer = client.get(url)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["code"] == "invalid_value"
    body = client.post(f"/api/versions/{DEMO}/publish", json={"reason": "nul\x00"})
    assert body.status_code == 422 and body.json()["param"] == "reason"
    patch = client.patch(
        f"/api/grids/{code}",
        json={"properties": {"officer_name": "李\x00明"}},
        headers={"Content-Type": "application/merge-patch+json", "If-Match": "*"},
    )
    assert patch.status_code == 422 and patch.json()["param"] == "officer_name"
    assert "U+0000" in patch.json()["error"]
    assert len(demo_store.read_audit()) == audit
