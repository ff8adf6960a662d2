"""One policy on every access route: the same requests sent down the fast path and through
the framework's routes get the same statuses and headers (CORS today; keys and rate
limits will join the same object)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import shapely

from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.tiles import TileAddress
from tests.conftest import DEMO, Server

ALLOWED = "https://oa.example.gov.cn"
OTHER = "https://evil.example"
IGNORED = {"date", "server"}


@pytest.fixture(scope="module")
def servers(demo_settings: Settings) -> Iterator[tuple[Server, Server]]:
    """The demo store served twice, with and without the fast path, CORS on."""
    fast = demo_settings.model_copy(update={"cors_origins": [ALLOWED], "fast_path": True})
    slow = fast.model_copy(update={"fast_path": False})
    with Server(fast) as a, Server(slow) as b:
        yield a, b


def _requests(demo_store: SqlStore) -> list[tuple[str, str, dict[str, str]]]:
    grids = demo_store.read_grids(DEMO)
    inside = shapely.point_on_surface(grids.geometry.iloc[0])
    lookup = f"/api/lookup?lon={inside.x}&lat={inside.y}"
    tile = TileAddress.containing(inside.x, inside.y, 15)
    empty = TileAddress.containing(100.0, 40.0, 15)
    out: list[tuple[str, str, dict[str, str]]] = []
    for origin in ({}, {"Origin": ALLOWED}, {"Origin": OTHER}):
        out += [
            ("GET", lookup, origin),
            ("GET", lookup + "&crs=cgcs2000", origin),
            ("GET", "/api/lookup?lon=100&lat=40", origin),  # no grid: 404
            ("GET", "/api/lookup?lon=abc&lat=31", origin),  # 422
            ("GET", f"/tiles/grids/{tile}.mvt", origin),
            ("GET", f"/tiles/grids/{empty}.mvt", origin),  # 204
            ("GET", f"/tiles/streets/{tile}.mvt", origin),
            ("GET", f"/tiles/nothing/{tile}.mvt", origin),  # 404
            ("GET", "/tiles/grids/3/99/99.mvt", origin),  # outside the zoom's range
        ]
    for site in (ALLOWED, OTHER):
        for method in ("GET", "POST", "PUT"):
            out.append(
                (
                    "OPTIONS",
                    "/api/lookup",
                    {"Origin": site, "Access-Control-Request-Method": method},
                )
            )
    return out


def _seen(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> object:
    response = client.request(method, path, headers=headers)
    kept = sorted((k, v) for k, v in response.headers.items() if k not in IGNORED)
    return response.status_code, kept, response.content


def test_fast_path_and_routes_apply_the_same_policy(
    servers: tuple[Server, Server], demo_store: SqlStore
) -> None:
    fast, slow = servers
    requests = _requests(demo_store)
    with httpx.Client(base_url=fast.url) as a, httpx.Client(base_url=slow.url) as b:
        for method, path, headers in requests:
            assert _seen(a, method, path, headers) == _seen(b, method, path, headers), (
                method,
                path,
                headers,
            )
        # ETags agree too, so a client revalidates the same way whichever path answered.
        tile = next(p for m, p, h in requests if "/tiles/grids/" in p and not h)
        etag = a.get(tile).headers["etag"]
        for client in (a, b):
            again = client.get(tile, headers={"If-None-Match": etag, "Origin": ALLOWED})
            assert again.status_code == 304
            assert again.headers["access-control-allow-origin"] == ALLOWED
        # And the policy did apply: CORS for the allowed origin only, preflights checked.
        lookup = requests[0][1]
        hot = a.get(lookup, headers={"Origin": ALLOWED})
        assert hot.status_code == 200
        assert hot.headers["access-control-allow-origin"] == ALLOWED
        assert "access-control-allow-origin" not in a.get(lookup, headers={"Origin": OTHER}).headers
        put = {"Origin": ALLOWED, "Access-Control-Request-Method": "PUT"}
        assert a.options("/api/lookup", headers=put).status_code == 403


def _keyed(
    requests: list[tuple[str, str, dict[str, str]]], keys: dict[str, str]
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """The GETs again, with each key: by header, and the embedding key in the URL too."""
    for method, path, headers in requests:
        if method != "GET":
            continue
        for name, key in keys.items():
            yield method, path, {**headers, "Authorization": f"Bearer {key}"}
            if name == "embedding":
                joiner = "&" if "?" in path else "?"
                yield method, f"{path}{joiner}key={key}", {**headers, "Referer": EMBEDDER}


EMBEDDER = "https://embed.example.gov.cn"


@pytest.mark.parametrize("public_read", [True, False])
def test_both_paths_apply_the_same_keys_and_limits(
    demo_settings: Settings, demo_store: SqlStore, public_read: bool
) -> None:
    base = demo_settings.model_copy(
        update={"public_read": public_read, "public_rate": 0, "fast_path": True}
    )
    with Server(base) as fast, Server(base.model_copy(update={"fast_path": False})) as slow:
        keys = {
            "viewer": fast.key("viewer"),
            "embedding": fast.key("viewer", origins=[EMBEDDER]),
            "bad": "ggk_" + "0" * 46,
        }
        for key in list(keys.values())[:2]:
            slow.wait_for_key(key)
        plain = _requests(demo_store)
        requests = [*plain, *_keyed(plain, keys)]
        with httpx.Client(base_url=fast.url) as a, httpx.Client(base_url=slow.url) as b:
            statuses = set()
            for method, path, headers in requests:
                seen = _seen(a, method, path, headers)
                assert seen == _seen(b, method, path, headers), (method, path, headers)
                statuses.add(seen[0])  # type: ignore[index]
    assert 401 in statuses and 200 in statuses
