"""OGC API – Features at /ogc on a real server, against both stores, and read by GDAL."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely

from gridgis.i18n import Text
from gridgis.lookup import PublishedIndex
from gridgis.lookup.when import parse_at
from gridgis.lru import LRU
from gridgis.ogc import CollectionData, CollectionSpec, OgcService
from gridgis.ogc import html as ogc_html
from gridgis.ogc.links import Urls
from gridgis.ogc.query import parse_items_query, select
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO, Server, save_boxes

CONFORMANCE = {
    f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}"
    for c in ("core", "geojson", "html", "oas30")
}
BASE = ("communities", "compounds", "buildings", "streets", "addresses")


@pytest.fixture(scope="module")
def counts(demo_store: SqlStore) -> dict[str, int]:
    """What each collection must hold, read straight from the store."""
    communities = demo_store.read_base_layer("communities")
    out = {
        "grids": len(demo_store.read_grids(DEMO)),
        "subdistricts": communities["subdistrict_code"].nunique(),
    }
    out |= {kind: len(demo_store.read_base_layer(kind)) for kind in BASE}  # type: ignore[arg-type]
    for layer in demo_store.list_layers():
        if layer.kind == "department":
            out[f"department-{layer.name}"] = len(demo_store.read_department_layer(layer.name))
    return out


def items_url(collection: str) -> str:
    return f"/ogc/collections/{quote(collection, safe='')}/items"


def rels(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(link["rel"], link["type"]): link["href"] for link in doc["links"]}


# --- landing page, conformance, collections ---------------------------------------------------


def test_landing_page_links_lead_to_the_resources(client: httpx.Client) -> None:
    response = client.get("/ogc")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    links = rels(response.json())
    for key in (
        ("self", "application/json"),
        ("alternate", "text/html"),
        ("service-desc", "application/vnd.oai.openapi+json;version=3.0"),
        ("service-doc", "text/html"),
        ("conformance", "application/json"),
        ("data", "application/json"),
    ):
        assert key in links, key
        assert client.get(links[key]).status_code == 200, key
    assert links[("data", "application/json")] == str(client.base_url.join("/ogc/collections"))


def test_conformance_declares_core_geojson_html_oas30(client: httpx.Client) -> None:
    body = client.get("/ogc/conformance").json()
    assert set(body["conformsTo"]) == CONFORMANCE


def test_collections_list_every_layer_kind_and_department(
    client: httpx.Client, counts: dict[str, int], demo_store: SqlStore
) -> None:
    body = client.get("/ogc/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids[: 2 + len(BASE)] == ["grids", "subdistricts", *BASE]
    assert set(ids) == set(counts)
    assert "department-综治" in ids
    for c in body["collections"]:
        assert c["title"] and c["description"] and c["itemType"] == "feature"
        links = rels(c)
        assert ("items", "application/geo+json") in links and ("items", "text/html") in links
        assert links[("items", "application/geo+json")].split("?")[0].endswith(items_url(c["id"]))
        minx, miny, maxx, maxy = c["extent"]["spatial"]["bbox"][0]
        assert 104 < minx < maxx < 105 and 31 < miny < maxy < 32
    buildings = next(c for c in body["collections"] if c["id"] == "buildings")
    stored = demo_store.read_base_layer("buildings").total_bounds
    assert np.allclose(buildings["extent"]["spatial"]["bbox"][0], stored)
    assert buildings["geometryType"] == "MultiPolygon"


def test_one_collection_and_an_unknown_one(client: httpx.Client) -> None:
    body = client.get(f"/ogc/collections/{quote('department-综治')}").json()
    assert body["id"] == "department-综治"
    assert {"id", "source_id", "网格编号", "户数"} <= set(body["properties"])
    missing = client.get("/ogc/collections/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


# --- items -------------------------------------------------------------------------------------


@pytest.mark.parametrize("collection", ["grids", "subdistricts", "buildings", "department-综治"])
def test_paging_follows_next_links_to_every_feature(
    client: httpx.Client, counts: dict[str, int], collection: str
) -> None:
    url: str | None = items_url(collection) + "?limit=37"
    ids: list[str] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        assert body["type"] == "FeatureCollection"
        assert body["numberMatched"] == counts[collection]
        assert body["numberReturned"] == len(body["features"]) <= 37
        assert body["timeStamp"].endswith("Z")
        ids += [f["id"] for f in body["features"]]
        links = rels(body)
        assert ("collection", "application/json") in links
        assert (("prev", "application/geo+json") in links) == (pages > 0)
        url = links.get(("next", "application/geo+json"))
        pages += 1
    assert len(ids) == len(set(ids)) == counts[collection]
    assert pages == -(-counts[collection] // 37)


def test_default_limit_and_over_the_maximum(client: httpx.Client, counts: dict[str, int]) -> None:
    body = client.get(items_url("addresses")).json()
    assert body["numberReturned"] == 100 and body["numberMatched"] == counts["addresses"]
    assert "limit=100&offset=100" in rels(body)[("next", "application/geo+json")]
    every = client.get(items_url("addresses"), params={"limit": 50_000}).json()
    assert every["numberReturned"] == counts["addresses"]  # clamped to 10,000, not an error


def test_bbox_filter_matches_shapely_on_the_store(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    buildings = demo_store.read_base_layer("buildings")
    minx, miny, maxx, maxy = buildings.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    expected = buildings["id"][shapely.intersects(buildings.geometry.to_numpy(), shapely.box(*box))]
    assert 0 < len(expected) < len(buildings)
    bbox = ",".join(repr(float(v)) for v in box)
    body = client.get(items_url("buildings"), params={"bbox": bbox, "limit": 10_000}).json()
    assert body["numberMatched"] == len(expected)
    assert sorted(int(f["id"]) for f in body["features"]) == sorted(expected.tolist())
    nowhere = client.get(items_url("buildings"), params={"bbox": "0,0,1,1"}).json()
    assert nowhere["numberMatched"] == 0 and nowhere["features"] == []


def test_property_filters_match_exactly(client: httpx.Client, demo_store: SqlStore) -> None:
    grids = demo_store.read_grids(DEMO)
    community = grids["community_code"].iloc[0]
    households = int(grids["households"].iloc[5])
    comprehensive = grids["kind"] == "综合"
    in_community = grids["community_code"] == community
    layer = demo_store.read_department_layer("综治")
    in_wenchang = sum(a.get("所属社区") == "文昌社区" for a in layer["attributes"])
    cases = [
        ("grids", {"community_code": community}, in_community.sum()),
        ("grids", {"kind": "综合"}, comprehensive.sum()),
        (
            "grids",
            {"kind": "综合", "community_code": community},
            (comprehensive & in_community).sum(),
        ),
        ("grids", {"households": str(households)}, (grids["households"] == households).sum()),
        ("department-综治", {"所属社区": "文昌社区"}, in_wenchang),
    ]
    for collection, params, expected in cases:
        body = client.get(items_url(collection), params={**params, "limit": 1000}).json()
        assert 0 < body["numberMatched"] == expected, (collection, params)
        for feature in body["features"]:
            for key, value in params.items():
                assert str(feature["properties"][key]) == value
        next_links = [link for link in body["links"] if link["rel"] == "next"]
        assert not next_links
    none = client.get(items_url("grids"), params={"kind": "无此类型"}).json()
    assert none["numberMatched"] == 0


def test_filters_survive_in_next_links(client: httpx.Client) -> None:
    body = client.get(items_url("grids"), params={"kind": "综合", "limit": 5}).json()
    nxt = httpx.URL(rels(body)[("next", "application/geo+json")])
    assert nxt.params["kind"] == "综合" and nxt.params["offset"] == "5"
    assert client.get(nxt).json()["numberMatched"] == body["numberMatched"]


def test_item_by_id_and_missing_ids(client: httpx.Client, demo_store: SqlStore) -> None:
    code = demo_store.read_grids(DEMO)["code"].iloc[7]
    response = client.get(f"{items_url('grids')}/{code}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == code
    assert feature["properties"]["code"] == code
    assert ("collection", "application/json") in rels(feature)
    assert ("self", "application/geo+json") in rels(feature)
    layer = demo_store.read_department_layer("综治")
    first = int(layer["id"].iloc[0])
    department = client.get(f"{items_url('department-综治')}/{first}").json()
    assert department["properties"]["网格编号"] == layer["attributes"].iloc[0]["网格编号"]
    community = client.get(f"{items_url('communities')}/{code[:12]}").json()
    assert community["properties"]["code"] == code[:12]
    for url in (f"{items_url('grids')}/000000000000000", f"{items_url('buildings')}/999999"):
        missing = client.get(url)
        assert missing.status_code == 404 and missing.json()["error"]


def test_grids_of_a_named_version(client: httpx.Client, counts: dict[str, int]) -> None:
    body = client.get(items_url("grids"), params={"version": DEMO, "limit": 10}).json()
    assert body["numberMatched"] == counts["grids"]
    assert "version=" + quote(DEMO) in rels(body)[("next", "application/geo+json")]
    collection = client.get("/ogc/collections/grids", params={"version": DEMO}).json()
    assert "version=" + quote(DEMO) in rels(collection)[("items", "application/geo+json")]
    assert client.get(items_url("grids"), params={"version": "nope"}).status_code == 404
    other = client.get(items_url("buildings"), params={"version": DEMO})
    assert other.status_code == 400 and "grids" in other.json()["error"]


# --- datetime -------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _matched(client: httpx.Client, collection: str, **params: str) -> int:
    response = client.get(items_url(collection), params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["numberMatched"])


def test_collections_say_when_their_features_exist(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    published = demo_store.published_version()
    assert published is not None and published.valid_from is not None
    layers = {layer.name: layer for layer in demo_store.list_layers()}
    communities = next(la for la in layers.values() if la.kind == "communities")
    expected = {
        "grids": published.valid_from,
        "subdistricts": communities.imported_at,
        "buildings": next(la for la in layers.values() if la.kind == "buildings").imported_at,
        "department-综治": layers["综治"].imported_at,
    }
    body = client.get("/ogc/collections").json()
    found = {c["id"]: c["extent"]["temporal"] for c in body["collections"]}
    assert len(found) == len(body["collections"])  # every collection has a time
    for collection, since in expected.items():
        temporal = found[collection]
        assert temporal["trs"] == "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
        assert temporal["interval"] == [[_iso(since), None]], collection


@pytest.mark.parametrize("collection", ["buildings", "subdistricts", "department-综治"])
def test_layers_exist_from_their_import_on(
    client: httpx.Client, counts: dict[str, int], collection: str
) -> None:
    meta = client.get(f"/ogc/collections/{quote(collection, safe='')}").json()
    since = datetime.fromisoformat(meta["extent"]["temporal"]["interval"][0][0])
    before, after = _iso(since - timedelta(seconds=1)), _iso(since + timedelta(days=1))
    every = counts[collection]
    cases = {
        _iso(since): every,  # the instant of the import
        before: 0,
        f"{before}/..": every,
        f"../{before}": 0,
        f"../{_iso(since)}": every,
        f"{before}/{after}": every,
        "2000-01-01": 0,
        "2000-01-01/2000-12-31": 0,
        "2999-01-01": every,
        f"/{after}": every,  # an empty end is open, as ..
    }
    for value, expected in cases.items():
        assert _matched(client, collection, datetime=value) == expected, value
    body = client.get(items_url(collection), params={"datetime": f"{before}/..", "limit": 1})
    nxt = httpx.URL(rels(body.json())[("next", "application/geo+json")])
    assert nxt.params["datetime"] == f"{before}/.."
    assert client.get(nxt).json()["numberMatched"] == every


def test_grids_of_the_published_version_in_time(
    client: httpx.Client, counts: dict[str, int], demo_store: SqlStore
) -> None:
    published = demo_store.published_version()
    assert published is not None and published.valid_from is not None
    start = published.valid_from
    earlier = _iso(start - timedelta(days=1))
    every = counts["grids"]
    assert _matched(client, "grids", datetime=_iso(start)) == every
    assert _matched(client, "grids", datetime=earlier) == 0  # nothing was in force yet: empty
    assert _matched(client, "grids", datetime=f"{earlier}/..") == every
    assert _matched(client, "grids", datetime=f"../{earlier}") == 0
    assert _matched(client, "grids", datetime=earlier, version=DEMO) == 0
    assert _matched(client, "grids", datetime="2999-01-01", version=DEMO) == every


def test_datetime_travels_in_time_on_the_grids(settings: Settings, store: SqlStore) -> None:
    """An instant answers from the version then in force; an interval, or a named version,
    keeps a version's grids if it was in force at some moment of it."""
    cell = (104.39, 31.12, 104.40, 31.13)
    beside = (104.40, 31.12, 104.41, 31.13)
    save_boxes(store, "v1", {"510603001001001": cell, "510603001001002": beside})
    save_boxes(store, "v2", {"510603001001003": cell})
    save_boxes(store, "draft", {"510603001001004": cell})
    store.publish("v1", "t", valid_from=parse_at("2026-01-01", day_start=True))
    store.publish("v2", "t", valid_from=parse_at("2026-06-01", day_start=True))
    with Server(settings) as srv, srv.client(timeout=30) as http:

        def codes(**params: str) -> list[str]:
            response = http.get(items_url("grids"), params=params)
            assert response.status_code == 200, response.text
            return sorted(f["id"] for f in response.json()["features"])

        v1, v2 = ["510603001001001", "510603001001002"], ["510603001001003"]
        assert codes() == v2
        assert codes(datetime="2026-03-01T00:00:00Z") == v1
        assert codes(datetime="2026-03-01") == v1  # as at=2026-03-01: when the day closed
        assert codes(datetime="2026-05-31") == v1
        assert codes(datetime="2026-06-01") == v2  # v2 came into force that morning
        assert codes(datetime="2026-05-31T16:00:00Z") == v2  # midnight in Shanghai
        assert codes(datetime="2026-05-31T23:59:59+08:00") == v1
        assert codes(datetime="2025-06-01T00:00:00Z") == []  # before the first publication
        # Intervals filter the published version by its period, all or none.
        assert codes(datetime="2026-01-15T00:00:00Z/2026-02-01T00:00:00Z") == []
        assert codes(datetime="2026-05-01T00:00:00Z/..") == v2
        assert codes(datetime="../2026-05-31T00:00:00Z") == []
        # A named version: its own period, [2026-01-01, 2026-06-01) for v1.
        assert codes(version="v1", datetime="2026-03-01T00:00:00Z") == v1
        assert codes(version="v1", datetime="2026-07-01T00:00:00Z") == []
        assert codes(version="v1", datetime="2026-05-01/..") == v1
        assert codes(version="draft", datetime="2026-03-01T00:00:00Z/..") == []  # never in force
        page = http.get(items_url("grids"), params={"datetime": "2026-03-01", "limit": 1}).json()
        nxt = httpx.URL(rels(page)[("next", "application/geo+json")])
        assert nxt.params["datetime"] == "2026-03-01"
        assert [f["id"] for f in http.get(nxt).json()["features"]] == ["510603001001002"]

        def temporal(version: str) -> Any:
            body = http.get("/ogc/collections/grids", params={"version": version}).json()
            return body.get("extent", {}).get("temporal")

        assert temporal("v1")["interval"] == [["2025-12-31T16:00:00Z", "2026-05-31T16:00:00Z"]]
        assert temporal("v2")["interval"] == [["2026-05-31T16:00:00Z", None]]
        assert temporal("draft") is None
        html = http.get("/ogc/collections/grids", params={"version": "v1", "f": "html"}).text
        # Pages show the city's clock, as the command line does: the days begin at 00:00.
        assert "2026-01-01 00:00:00 +08:00 至 2026-06-01 00:00:00 +08:00" in html


# --- HTML, errors, OpenAPI ----------------------------------------------------------------------


def test_html_pages(client: httpx.Client, demo_store: SqlStore) -> None:
    code = demo_store.read_grids(DEMO)["code"].iloc[0]
    for url in (
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        f"/ogc/collections/{quote('department-综治')}",
        items_url("grids") + "?limit=5",
        f"{items_url('grids')}/{code}",
    ):
        response = client.get(url, params={"f": "html"})
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html"), url
        assert response.text.startswith('<!doctype html>\n<html lang="zh-CN">'), url
    items = client.get(items_url("grids"), params={"f": "html", "limit": 5}).text
    matched = client.get(items_url("grids")).json()["numberMatched"]
    assert f"第 1–5 个，共 {matched} 个要素" in items and "下一页 ›" in items
    assert f"/items/{code}?f=html" in items and "offset=5" in items
    langs = re.findall(r"[?&]lang=(\w+)", items.replace("&amp;", "&"))
    assert langs == ["en"]  # only the link to the English page names a language
    browser = client.get("/ogc/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")
    assert "department-" + quote("综治") in browser.text
    items_links = re.findall(r'<a href="([^"]+)">要素</a>', browser.text)
    assert len(items_links) == len(client.get("/ogc/collections").json()["collections"])
    assert all(h.endswith("/items?f=html") for h in items_links)


def test_html_pages_in_english_keep_the_language(
    client: httpx.Client, demo_store: SqlStore
) -> None:
    code = demo_store.read_grids(DEMO)["code"].iloc[0]
    matched = client.get(items_url("grids")).json()["numberMatched"]
    page = client.get(items_url("grids"), params={"f": "html", "limit": 5, "lang": "en"}).text
    assert page.startswith('<!doctype html>\n<html lang="en">')
    assert f"1–5 of {matched} features." in page and "next ›" in page and "要素" not in page
    hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', page)]
    ogc = [h for h in hrefs if "/ogc" in h]
    zh = [h for h in ogc if "lang=en" not in h]
    assert len(zh) == 1 and "lang=" not in zh[0]  # the link to the Chinese page
    assert any(h.endswith(f"/items/{code}?f=html&lang=en") for h in hrefs)
    nxt = next(h for h in hrefs if "offset=5" in h)
    second = client.get(nxt).text
    assert '<html lang="en">' in second and f"6–10 of {matched} features." in second
    for url in ("/ogc", "/ogc/conformance", "/ogc/collections", f"{items_url('grids')}/{code}"):
        english = client.get(url, params={"f": "html", "lang": "en"}).text
        assert '<html lang="en">' in english and "中文</a>" in english, url
        assert "链接" not in english and "集合" not in english, url
    chinese = client.get("/ogc/collections", params={"f": "html"}).text
    assert "<th>名称</th>" in chinese and "集合" in chinese and ">English</a>" in chinese


def test_every_resource_takes_lang_and_its_links_keep_it(client: httpx.Client) -> None:
    for url in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections", items_url("grids")):
        response = client.get(url, params={"lang": "en"})
        assert response.status_code == 200, (url, response.text)
    body = client.get("/ogc/collections", params={"lang": "en"}).json()
    hrefs = [link["href"] for c in body["collections"] for link in c["links"]]
    assert hrefs and all("lang=en" in h for h in hrefs)
    plain = client.get("/ogc/collections").json()
    assert not any("lang=" in link["href"] for c in plain["collections"] for link in c["links"])
    bad = client.get("/ogc/collections", params={"lang": "fr"})
    assert bad.status_code == 400 and bad.json()["param"] == "lang"


@pytest.mark.parametrize(
    ("url", "params", "needle"),
    [
        (items_url("grids"), {"limit": "0"}, "limit"),
        (items_url("grids"), {"limit": "ten"}, "limit"),
        (items_url("grids"), {"offset": "-1"}, "offset"),
        (items_url("grids"), {"bbox": "104,31,105"}, "bbox"),
        (items_url("grids"), {"bbox": "104,31,x,32"}, "bbox"),
        (items_url("grids"), {"bbox": "104,32,105,31"}, "bbox"),
        (items_url("grids"), {"bbox": "104,31,105,95"}, "bbox"),
        (items_url("grids"), {"colour": "red"}, "colour"),
        (items_url("grids"), {"households": "many"}, "households"),
        (items_url("grids"), {"f": "xml"}, "f must be"),
        ("/ogc/collections", {"limit": "5"}, "limit"),
        ("/ogc", {"bbox": "1,2,3,4"}, "bbox"),
        ("/ogc", {"lang": "fr"}, "lang"),
        ("/ogc/collections", {"datetime": "2026-03-01"}, "datetime"),
        (items_url("grids"), {"datetime": "yesterday"}, "datetime"),
        (items_url("buildings"), {"datetime": "2026-03-01T00:00:00Z/x"}, "datetime"),
        (items_url("buildings"), {"datetime": "2026-03-05/2026-03-01"}, "datetime"),
        (items_url("buildings"), {"datetime": "../.."}, "datetime"),
        (items_url("buildings"), {"datetime": "2026-02-30"}, "datetime"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    client: httpx.Client, url: str, params: dict[str, str], needle: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert needle in body["error"]
    if needle in ("lang", "datetime"):
        assert body["param"] == needle


def test_openapi_definition(client: httpx.Client, counts: dict[str, int]) -> None:
    response = client.get("/ogc/api")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = response.json()
    assert doc["openapi"].startswith("3.0")
    assert doc["servers"][0]["url"].endswith("/ogc")
    paths = doc["paths"]
    for path in ("/", "/conformance", "/collections", "/collections/{collectionId}/items"):
        assert path in paths
    for collection in counts:
        assert f"/collections/{collection}/items" in paths
    params = {p["name"] for p in paths["/collections/grids/items"]["get"]["parameters"]}
    assert {"limit", "offset", "bbox", "datetime", "f", "lang", "community_code", "kind"} <= params
    for path, item in paths.items():
        for op in item.values():
            names = {p["name"] for p in op.get("parameters", [])}
            assert {"f", "lang"} <= names, path
    lang = next(p for p in paths["/"]["get"]["parameters"] if p["name"] == "lang")
    assert lang["schema"]["enum"] == ["zh", "en"] and lang["schema"]["default"] == "zh"
    limit = next(
        p
        for p in paths["/collections/{collectionId}/items"]["get"]["parameters"]
        if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 10_000 and limit["schema"]["default"] == 100


def test_html_escapes_what_departments_wrote() -> None:
    doc = {
        "type": "Feature",
        "id": "1",
        "properties": {"名称": "<script>alert(1)</script>", "备注": "</script><b>"},
        "geometry": {"type": "Point", "coordinates": [104.4, 31.1]},
        "links": [],
    }
    page = ogc_html.item(Urls("http://example.org"), "department-某<部门>", "某部门", doc)
    assert "<script>alert" not in page and "</script><b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bbox_across_the_antimeridian() -> None:
    frame = gpd.GeoDataFrame(
        {"id": [1, 2, 3]},
        geometry=[shapely.Point(179.5, 0), shapely.Point(-179.5, 0), shapely.Point(0, 0)],
        crs=4490,
    )
    data = CollectionData.build(frame, "id")
    query = parse_items_query([("bbox", "179,-1,-179,1")], data.properties)
    assert data.ids[select(data, query)].tolist() == ["1", "2"]


def test_collections_load_once_per_content_within_the_cache_budget() -> None:
    loads: list[str] = []

    def spec(slot: str, content: str) -> CollectionSpec:
        def load() -> gpd.GeoDataFrame:
            loads.append(f"{slot}:{content}")
            return gpd.GeoDataFrame({"id": [content]}, geometry=[shapely.Point(0, 0)])

        return CollectionSpec(slot, slot, Text("", ""), "id", slot, content, load)

    room_for_two = LRU[Any](2, lambda _: 1)
    service = OgcService(
        cast(SqlStore, None), cast(PublishedIndex, None), room_for_two, timezone="Asia/Shanghai"
    )
    assert service.data(spec("buildings", "a")).ids.tolist() == ["a"]
    service.data(spec("buildings", "a"))
    assert service.data(spec("buildings", "b")).ids.tolist() == ["b"]  # re-imported
    for version in ("1", "2", "3", "1"):
        service.data(spec("grids", version))
    assert loads == ["buildings:a", "buildings:b", "grids:1", "grids:2", "grids:3", "grids:1"]


# --- GDAL ---------------------------------------------------------------------------------------


def ogrinfo(*args: str, key: str | None = None) -> str:
    """GDAL's ogrinfo; with ``key``, sending it as a desktop client would be set up to
    (``GDAL_HTTP_HEADERS``): the address base and department layers need a viewer key."""
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.fail("GDAL's ogrinfo is not installed: apt-get install gdal-bin")
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {key}"} if key else None
    done = subprocess.run(
        [exe, "-ro", *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_every_collection_with_its_count(server: Server, counts: dict[str, int]) -> None:
    source = f"OAPIF:{server.url}/ogc"
    listed = re.findall(r"^\d+: (\S+) \(title:", ogrinfo("-q", source), re.MULTILINE)
    bulk = {c for c in counts if c == "addresses" or c.startswith("department-")}
    assert set(listed) == set(counts) - bulk  # without a key: what it may open
    keyed = ogrinfo("-q", source, key=server.admin_key)
    assert set(re.findall(r"^\d+: (\S+) \(title:", keyed, re.MULTILINE)) == set(counts)
    summary = ogrinfo("-so", "-al", source, key=server.admin_key)
    found = dict(
        re.findall(
            r"^Layer name: (\S+)$.*?^Feature Count: (\d+)$", summary, re.MULTILINE | re.DOTALL
        )
    )
    assert {k: int(v) for k, v in found.items()} == counts


def test_gdal_reads_every_feature_through_the_pages(server: Server, counts: dict[str, int]) -> None:
    """GDAL follows the next links; a page size of 100 makes every large layer page."""
    text = ogrinfo(
        "-al", "-q", "-oo", "PAGE_SIZE=100", f"OAPIF:{server.url}/ogc", key=server.admin_key
    )
    read = Counter(re.findall(r"^OGRFeature\((\S+)\):", text, re.MULTILINE))
    assert dict(read) == counts


def test_gdal_attribute_and_spatial_filters(server: Server, demo_store: SqlStore) -> None:
    source = f"OAPIF:{server.url}/ogc"
    grids = demo_store.read_grids(DEMO)
    out = ogrinfo("-so", "-where", "kind = '综合'", source, "grids")
    assert f"Feature Count: {int((grids['kind'] == '综合').sum())}" in out
    streets = demo_store.read_base_layer("streets")
    minx, miny, maxx, maxy = streets.total_bounds
    box = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    hits = shapely.intersects(streets.geometry.to_numpy(), shapely.box(*box)).sum()
    out = ogrinfo("-so", "-spat", *(repr(float(v)) for v in box), source, "streets")
    assert f"Feature Count: {int(hits)}" in out


def test_gdal_fetches_one_feature_by_its_id(server: Server, demo_store: SqlStore) -> None:
    buildings = demo_store.read_base_layer("buildings")
    row = buildings.iloc[17]
    out = ogrinfo("-q", f"OAPIF:{server.url}/ogc", "buildings", "-fid", str(int(row["id"])))
    assert f"OGRFeature(buildings):{int(row['id'])}" in out
    assert f"source_id (String) = {row['source_id']}" in out


def test_gdal_reads_when_features_exist(server: Server, demo_store: SqlStore) -> None:
    """GDAL shows ``extent.temporal``; it sends ``datetime`` only for comparisons on a
    date field, and no collection here has one, so that is all it does with time."""
    published = demo_store.published_version()
    assert published is not None and published.valid_from is not None
    out = ogrinfo("-so", f"OAPIF:{server.url}/ogc", "grids")
    assert f"TEMPORAL_INTERVAL_MIN={_iso(published.valid_from)}" in out
    assert "TEMPORAL_INTERVAL_MAX" not in out  # still in force
    assert not re.search(r"^\w+: (Date|DateTime) ", out, re.MULTILINE)


def test_the_catalogue_reads_no_layer_whole(demo_store: SqlStore) -> None:
    """Extents, geometry types and properties come from the imports' records, and say
    exactly what the data would."""
    cache = LRU[Any](2**30)
    service = OgcService(demo_store, PublishedIndex(demo_store), cache, timezone="Asia/Shanghai")
    shapes = service.shapes()
    assert len(shapes) > 30
    assert all(spec.shape is not None for spec, _ in shapes)
    assert cache.stats().entries == 0  # nothing was read to answer
    for spec, shape in shapes:
        data = service.data(spec).shape
        assert (shape.geometry_type, shape.properties) == (
            data.geometry_type,
            data.properties,
        ), spec.id
        assert shape.extent == pytest.approx(data.extent), spec.id
