"""CORS: browsers on the allowed embedding origins may call the API; others may not."""

from __future__ import annotations

import httpx
import shapely
from shapely.geometry import shape

from gridgis.settings import Settings
from tests.conftest import Server

ALLOWED = "https://oa.example.gov.cn"


def test_no_origin_is_allowed_by_default(server: Server) -> None:
    response = httpx.get(
        f"{server.url}/api/lookup", params={"lon": 104.0, "lat": 31.0}, headers={"Origin": ALLOWED}
    )
    assert "access-control-allow-origin" not in response.headers


def test_only_the_configured_origins_are_allowed(demo_settings: Settings) -> None:
    settings = demo_settings.model_copy(update={"cors_origins": [ALLOWED]})
    with Server(settings) as srv:
        preflight = httpx.options(
            f"{srv.url}/api/lookup",
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ALLOWED
        simple = httpx.get(f"{srv.url}/tiles", headers={"Origin": ALLOWED})
        assert simple.headers["access-control-allow-origin"] == ALLOWED
        grids = httpx.get(f"{srv.url}/api/grids").json()["features"]
        inside = shapely.point_on_surface(shape(grids[0]["geometry"]))
        lon, lat = inside.x, inside.y
        hot = httpx.get(  # the hot path too
            f"{srv.url}/api/lookup", params={"lon": lon, "lat": lat}, headers={"Origin": ALLOWED}
        )
        assert hot.status_code == 200
        assert hot.headers["access-control-allow-origin"] == ALLOWED
        other = httpx.get(f"{srv.url}/tiles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        refused = httpx.options(
            f"{srv.url}/api/lookup",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "cors_origin_not_allowed"
