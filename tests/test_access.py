"""Who may do what, on every route: a matrix of credential × endpoint, the expected
level of each endpoint written here independently of the routes' own declarations, and
checked against a real server on both stores (fast path on; ``test_policy`` shows the
fast path and the routes answer alike).

Requests that pass the policy are made so that they then fail harmlessly (no If-Match,
an unknown version): the matrix changes nothing, and "allowed" means any answer but
401, 403 or 429.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import shapely

from api.access import flat_routes
from api.app import create_app
from gridgis import crs
from gridgis.tiles import TileAddress
from tests.conftest import DEMO, EDIT_EPSG, City, Server

SITE = "https://oa.example.gov.cn"
OTHER_SITE = "https://evil.example"
DENIED = {401, 403, 429}
MERGE = (("Content-Type", "application/merge-patch+json"),)

#: Level of each (method, route) — the test's own statement of the rules.
OPEN, PUBLIC, VIEWER, EDITOR, ADMIN = "open", "public", "viewer", "editor", "admin"
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/api/session"): OPEN,
    ("POST", "/api/session"): OPEN,
    ("DELETE", "/api/session"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("GET", "/"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    ("HEAD", "/openapi.json"): OPEN,
    ("GET", "/api/lookup"): PUBLIC,
    ("POST", "/api/lookup"): VIEWER,
    ("GET", "/api/address"): PUBLIC,
    ("POST", "/api/address"): VIEWER,
    ("GET", "/api/grids"): PUBLIC,
    ("GET", "/api/grids/{code}"): PUBLIC,
    ("PATCH", "/api/grids/{code}"): EDITOR,
    ("GET", "/api/versions"): VIEWER,
    ("POST", "/api/versions"): ADMIN,
    ("GET", "/api/versions/{name}"): VIEWER,
    ("DELETE", "/api/versions/{name}"): ADMIN,
    ("PATCH", "/api/versions/{name}"): ADMIN,
    ("GET", "/api/versions/{name}/review"): VIEWER,
    ("GET", "/api/versions/{name}/proposals/{ident}"): VIEWER,
    ("POST", "/api/versions/{name}/proposals/{ident}/apply"): EDITOR,
    ("POST", "/api/versions/{name}/publish"): ADMIN,
    ("GET", "/api/versions/{a}/diff/{b}"): VIEWER,
    ("GET", "/api/versions/{name}/crosswalk"): VIEWER,
    ("GET", "/api/layers"): VIEWER,
    ("POST", "/api/layers"): ADMIN,
    ("GET", "/api/jobs"): VIEWER,
    ("GET", "/api/jobs/{ident}"): VIEWER,
    ("GET", "/api/jobs/{ident}/results"): VIEWER,
    ("DELETE", "/api/jobs/{ident}"): VIEWER,  # then only its own jobs, or an admin
    ("GET", "/api/versions/{name}/download"): VIEWER,
    ("GET", "/api/layers/{kind}/download"): VIEWER,
    ("GET", "/api/layers/{kind}/{name}/download"): VIEWER,
    ("GET", "/map"): PUBLIC,
    ("GET", "/embed"): PUBLIC,
    ("GET", "/embed/assets/{name}"): PUBLIC,
    ("GET", "/embed/grids.geojson"): PUBLIC,
    ("GET", "/embed/grids/{code}.json"): PUBLIC,
    ("GET", "/embed/context.geojson"): PUBLIC,
    ("GET", "/embed/address"): PUBLIC,
    ("GET", "/embed/search"): PUBLIC,
    ("GET", "/tiles"): PUBLIC,
    ("GET", "/tiles/{layer}.json"): PUBLIC,
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): PUBLIC,
    ("GET", "/ogc"): PUBLIC,
    ("GET", "/ogc/conformance"): PUBLIC,
    ("GET", "/ogc/api"): PUBLIC,
    ("GET", "/ogc/collections"): PUBLIC,
    ("GET", "/ogc/collections/{collectionId}"): PUBLIC,
    ("GET", "/ogc/collections/{collectionId}/items"): PUBLIC,  # grids; addresses below
    ("GET", "/ogc/collections/{collectionId}/items/{featureId}"): PUBLIC,
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    level: str
    json: object = None
    headers: tuple[tuple[str, str], ...] = ()


def _calls(city: City) -> list[Call]:
    grids = city.store.read_grids(DEMO)
    code = str(grids["code"].iloc[0])
    inside = shapely.point_on_surface(grids.geometry.iloc[0])
    tile = TileAddress.containing(inside.x, inside.y, 15)
    point = f"lon={inside.x}&lat={inside.y}"
    fill = {
        "/api/grids/{code}": f"/api/grids/{code}",
        "/api/versions/{name}": "/api/versions/no-such-version",
        "/api/versions/{name}/review": "/api/versions/no-such-version/review",
        "/api/versions/{name}/proposals/{ident}": f"/api/versions/{DEMO}/proposals/none-1",
        "/api/versions/{name}/proposals/{ident}/apply": (
            f"/api/versions/{DEMO}/proposals/none-1/apply"
        ),
        "/api/versions/{name}/publish": "/api/versions/no-such-version/publish",
        "/api/versions/{a}/diff/{b}": "/api/versions/no-such-version/diff/no-such-other",
        "/api/versions/{name}/crosswalk": "/api/versions/no-such-version/crosswalk",
        "/api/versions/{name}/download": "/api/versions/no-such-version/download",
        "/api/layers/{kind}/download": "/api/layers/nothing/download",
        "/api/layers/{kind}/{name}/download": "/api/layers/department/nothing/download",
        "/api/jobs/{ident}": "/api/jobs/no-such-job",
        "/api/jobs/{ident}/results": "/api/jobs/no-such-job/results",
        "/api/lookup": f"/api/lookup?{point}",
        "/api/address": "/api/address?q=旌阳",
        "/embed/assets/{name}": "/embed/assets/embed.js",
        "/embed/grids/{code}.json": f"/embed/grids/{code}.json",
        "/embed/context.geojson": "/embed/context.geojson?layer=communities",
        "/embed/address": "/embed/address?q=旌阳",
        "/embed/search": "/embed/search?q=旌阳",
        "/tiles/{layer}.json": "/tiles/grids.json",
        "/tiles/{layer}/{z}/{x}/{y}.mvt": f"/tiles/grids/{tile}.mvt",
        "/ogc/collections/{collectionId}": "/ogc/collections/grids",
        "/ogc/collections/{collectionId}/items": "/ogc/collections/grids/items?limit=1",
        "/ogc/collections/{collectionId}/items/{featureId}": f"/ogc/collections/grids/items/{code}",
    }
    bodies: dict[tuple[str, str], object] = {
        ("POST", "/api/lookup"): {"points": [[inside.x, inside.y]]},
        ("POST", "/api/address"): {"addresses": ["旌阳区"]},
        ("PATCH", "/api/grids/{code}"): {"properties": {"name": "x"}},  # no If-Match: 428
        ("PATCH", "/api/versions/{name}"): {"name": "another"},
        ("POST", "/api/versions"): {"version": "x", "previous": "no-such-version"},  # 404
        ("POST", "/api/versions/{name}/proposals/{ident}/apply"): {},
        ("POST", "/api/versions/{name}/publish"): {},
        ("POST", "/api/session"): {},  # 422: no name (a wrong one would count)
    }
    calls = [
        Call(
            m,
            fill.get(p, p),
            level,
            bodies.get((m, p)),
            MERGE if m == "PATCH" else (),
        )
        for (m, p), level in EXPECTED.items()
    ]
    calls += [
        Call("GET", "/ogc/collections/addresses", VIEWER),  # the address base
        Call("GET", "/ogc/collections/addresses/items?limit=1", VIEWER),
        Call("GET", "/ogc/collections/addresses/items/1", VIEWER),
        Call("GET", "/api/grids?version=some-draft", VIEWER),  # not the version in force
        Call("GET", f"/api/lookup?{point}&version=some-draft", VIEWER),
        Call("GET", f"/tiles/grids/{tile}.mvt?version=some-draft", VIEWER),
        Call("GET", f"/api/grids?version={DEMO}", PUBLIC),  # the version in force, by name
        Call("PUT", f"/api/grids/{code}", EDITOR),  # 405, but only to who may write it
    ]
    return calls


def test_every_route_is_in_the_matrix() -> None:
    app = create_app()
    routes = {
        (method, route.path)
        for route in flat_routes(app.routes)
        if getattr(route, "endpoint", None) is not None and getattr(route, "methods", None)
        for method in route.methods
    }
    assert routes - set(EXPECTED) == set(), "a new route needs its row in EXPECTED"
    assert set(EXPECTED) - routes == set()


@dataclass(frozen=True)
class Who:
    name: str
    headers: dict[str, str]
    level: str  # the highest level it may reach
    refusal: int = 403  # what it gets above its level


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served(city: City) -> Iterator[tuple[Server, dict[str, Who]]]:
    settings = city.settings.model_copy(update={"public_rate": 0})
    with Server(settings) as server:
        revoked = server.key("admin")
        city.store.revoke_key(revoked[4:12], "test")
        embed = server.key("viewer", origins=[SITE], name="oa")
        who = {
            "anonymous": Who("anonymous", {}, PUBLIC, refusal=401),
            "embedding": Who("embedding", {**bearer(embed), "Origin": SITE}, PUBLIC),
            "embedding-elsewhere": Who(
                "embedding-elsewhere", {**bearer(embed), "Origin": OTHER_SITE}, OPEN
            ),
            "viewer": Who("viewer", bearer(server.key("viewer")), VIEWER),
            "editor": Who("editor", bearer(server.key("editor")), EDITOR),
            "admin": Who("admin", bearer(server.key("admin")), ADMIN),
            "revoked": Who("revoked", bearer(revoked), OPEN, refusal=401),
            "garbage": Who("garbage", bearer("ggk_" + "x" * 46), OPEN, refusal=401),
            "malformed": Who(
                "malformed", {"Authorization": "Basic dXNlcjpwYXNz"}, OPEN, refusal=401
            ),
        }
        time.sleep(0.6)  # the revocation reached the server
        yield server, who


RANK = {OPEN: 0, PUBLIC: 1, VIEWER: 2, EDITOR: 3, ADMIN: 4}


def test_each_credential_reaches_exactly_its_level_on_every_route(
    served: tuple[Server, dict[str, Who]], city: City
) -> None:
    server, everyone = served
    calls = _calls(city)
    leaks, refusals = [], []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for who in everyone.values():
            for call in calls:
                answer = http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    headers={**who.headers, **dict(call.headers)},
                )
                allowed = RANK[who.level] >= RANK[call.level]
                status = answer.status_code
                if allowed and status in DENIED:
                    refusals.append((who.name, call, status, answer.text[:200]))
                elif not allowed and status != who.refusal:
                    leaks.append((who.name, call, status))
    assert leaks == [], leaks
    assert refusals == [], refusals


def test_a_refusal_says_why_and_how_to_authenticate(
    served: tuple[Server, dict[str, Who]],
) -> None:
    server, who = served
    with httpx.Client(base_url=server.url, timeout=30) as http:
        anonymous = http.post("/api/layers")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.json()["code"] == "unauthorized"
        viewer = http.post("/api/layers", headers=who["viewer"].headers)
        assert viewer.status_code == 403 and viewer.json()["code"] == "forbidden_role"
        embed = http.get("/api/versions", headers=who["embedding"].headers)
        assert embed.status_code == 403 and embed.json()["code"] == "embedding_key"
        away = http.get("/api/grids", headers=who["embedding-elsewhere"].headers)
        assert away.status_code == 403 and away.json()["code"] == "origin_not_allowed"
        revoked = http.get("/api/grids", headers=who["revoked"].headers)
        assert revoked.status_code == 401 and revoked.json()["code"] == "invalid_key"


def test_each_caller_is_listed_the_collections_it_may_open(
    served: tuple[Server, dict[str, Who]],
) -> None:
    """A client lists what it can read: anonymous GDAL saw the address base with no
    features where it should not have seen it at all."""
    server, who = served
    bulk = {"addresses", "department-综治"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for name, sees_bulk in (("anonymous", False), ("embedding", False), ("viewer", True)):
            listed = http.get("/ogc/collections", headers=who[name].headers).json()
            ids = {c["id"] for c in listed["collections"]}
            assert "grids" in ids, name
            assert (bulk <= ids) if sees_bulk else not (bulk & ids), (name, ids)
            paths = http.get("/ogc/api", headers=who[name].headers).json()["paths"]
            assert any("addresses" in p for p in paths) is sees_bulk, name


def test_a_revoked_key_is_refused_within_a_second(
    served: tuple[Server, dict[str, Who]], city: City
) -> None:
    server, _ = served
    key = server.key("viewer", name="to revoke")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {key}"}
        assert http.get("/api/versions", headers=headers).status_code == 200
        city.store.revoke_key(key[4:12], "test")
        revoked_at = time.monotonic()
        while http.get("/api/versions", headers=headers).status_code == 200:
            assert time.monotonic() - revoked_at < 1.0, "still served a second after"
            time.sleep(0.02)
    assert city.store.read_audit(1)[0].action == "key_revoke"


def test_the_openapi_document_says_what_each_operation_needs(
    served: tuple[Server, dict[str, Who]],
) -> None:
    server, _ = served
    with httpx.Client(base_url=server.url, timeout=30) as http:
        doc = http.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"]["scheme"] == "bearer" and schemes["session"]["in"] == "cookie"
    patch = doc["paths"]["/api/grids/{code}"]["patch"]
    assert patch["x-gridgis-access"] == "editor"
    assert patch["security"] == [{"apiKey": []}, {"session": []}]
    assert {"401", "403"} <= set(patch["responses"])
    lookup = doc["paths"]["/api/lookup"]["get"]
    assert lookup["x-gridgis-access"] == "public" and {} in lookup["security"]
    assert "429" in lookup["responses"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def _grid_point(city: City) -> tuple[str, str]:
    grids = city.store.read_grids(DEMO)
    inside = shapely.point_on_surface(grids.geometry.iloc[0])
    return f"/api/lookup?lon={inside.x}&lat={inside.y}", str(grids["code"].iloc[0])


def test_reads_can_be_closed_to_everyone_without_a_key(city: City) -> None:
    closed = city.settings.model_copy(update={"public_read": False})
    lookup, _ = _grid_point(city)
    with Server(closed) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        embed = server.key("viewer", origins=[SITE])
        viewer = server.key("viewer")
        assert http.get(lookup).status_code == 401  # the fast path's lookup too
        assert http.get("/tiles/grids/15/0/0.mvt").status_code == 401
        assert http.get("/healthz").status_code == 200
        seen = http.get(lookup, headers={"Authorization": f"Bearer {viewer}"})
        assert seen.status_code == 200
        # An embedding key in the page's URL, sent from the page (its Referer): the same
        # answer, the key taken off before anything else sees it.
        from_page = http.get(f"{lookup}&key={embed}", headers={"Referer": SITE + "/oa/map"})
        assert from_page.status_code == 200 and from_page.content == seen.content
        elsewhere = http.get(f"{lookup}&key={embed}", headers={"Referer": OTHER_SITE + "/"})
        assert elsewhere.status_code == 403
        in_url = http.get(f"{lookup}&key={viewer}")
        assert in_url.status_code == 401 and in_url.json()["code"] == "key_in_url"
        page = http.get(f"/embed?key={embed}", headers={"Referer": SITE + "/"})
        assert page.status_code == 200
        assert f"frame-ancestors {SITE}" in page.headers["content-security-policy"]


def test_reads_without_a_key_are_rate_limited_per_client(city: City) -> None:
    limited = city.settings.model_copy(update={"public_rate": 1.0, "public_burst": 3})
    lookup, _ = _grid_point(city)
    with Server(limited) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        viewer = {"Authorization": f"Bearer {server.key('viewer')}"}
        statuses = [http.get(lookup).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = http.get("/tiles/grids.json")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["code"] == "rate_limited"
        assert all(http.get(lookup, headers=viewer).status_code == 200 for _ in range(10))
        assert http.get("/healthz").status_code == 200  # health checks are never limited


def test_an_editor_writes_only_inside_its_scope(city: City) -> None:
    grids = city.store.read_grids(DEMO)
    communities = grids["community_code"].astype(str)
    mine = communities.iloc[0]
    own = str(grids["code"].iloc[0])
    other = str(grids["code"][communities != mine].iloc[0])
    with Server(city.settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        key = server.key("editor", scopes=[mine], name="街道")
        editor = {"Authorization": f"Bearer {key}", "Content-Type": MERGE[0][1]}
        read = http.get(f"/api/grids/{own}")
        done = http.patch(
            f"/api/grids/{own}",
            json={"properties": {"officer_name": "李四"}},
            headers={**editor, "If-Match": read.headers["etag"]},
        )
        assert done.status_code == 200, done.text
        entry = city.store.read_audit(1)[0]
        assert entry.actor == f"key:{key[4:12]}" and entry.target == f"version/{DEMO}"
        theirs = http.get(f"/api/grids/{other}")
        refused = http.patch(
            f"/api/grids/{other}",
            json={"properties": {"officer_name": "李四"}},
            headers={**editor, "If-Match": theirs.headers["etag"]},
        )
        assert refused.status_code == 403 and refused.json()["code"] == "outside_scope"
        # A shape that reaches into another community: beyond the scope (403) for the
        # street office, beyond the community (409) for a city-wide editor.
        frame = city.frame()
        draft = city.imported(frame).version
        m = city.metric(frame)
        i = city.edge_grid(frame)
        code = str(frame["code"].iloc[i])
        grown = crs.from_metric(np.array([shapely.buffer(m[i], 30.0)], dtype=object), EDIT_EPSG)
        url = f"/api/grids/{code}?version={quote(draft)}"
        body = {"geometry": shapely.geometry.mapping(grown[0])}
        scoped_key = server.key("editor", scopes=[str(frame["community_code"].iloc[i])])
        scoped = {"Authorization": f"Bearer {scoped_key}", "Content-Type": MERGE[0][1]}
        tag = http.get(url, headers=scoped).headers["etag"]
        beyond = http.patch(url, json=body, headers={**scoped, "If-Match": tag})
        assert beyond.status_code == 403 and beyond.json()["code"] == "outside_scope"
        citywide = {"Authorization": f"Bearer {server.key('editor')}", **dict(MERGE)}
        outside = http.patch(url, json=body, headers={**citywide, "If-Match": tag})
        assert outside.status_code == 409 and outside.json()["code"] == "leaves_community"


def test_oversized_bodies_are_413_in_the_one_error_shape(
    served: tuple[Server, dict[str, Who]], city: City
) -> None:
    """A hostile client's million-vertex edit is refused before it is parsed, whether it
    declares its length or streams it."""
    server, who = served
    code = str(city.store.read_grids(DEMO)["code"].iloc[0])
    big = b'{"properties": {"name": "' + b"x" * (9 * 2**20) + b'"}}'

    def streamed() -> Iterator[bytes]:
        for n in range(0, len(big), 2**20):
            yield big[n : n + 2**20]

    headers = {**who["admin"].headers, **dict(MERGE), "If-Match": "*"}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for body in (big, streamed()):
            answer = http.patch(f"/api/grids/{code}", content=body, headers=headers)
            assert answer.status_code == 413, answer.text[:200]
            assert answer.json()["code"] == "too_large"
            assert answer.headers["x-content-type-options"] == "nosniff"
        sign_in = http.post("/api/session", json={"name": "x" * 10_000, "password": "y"})
        assert sign_in.status_code in (413, 422)
    assert city.store.read_grids(DEMO)["name"].ne("x" * 10).all()
