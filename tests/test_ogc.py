"""OGC API – Features at /ogc on a real server, against both stores, and read by GDAL."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from typing import Any, cast
from urllib.parse import quote

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely

from gridgis.lookup import PublishedIndex
from gridgis.lru import LRU
from gridgis.ogc import CollectionData, CollectionSpec, OgcService
from gridgis.ogc import html as ogc_html
from gridgis.ogc.links import Urls
from gridgis.ogc.query import parse_items_query, select
from gridgis.store import SqlStore
from tests.conftest import Server

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
        "grids": len(demo_store.read_grids("demo-v1")),
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
    grids = demo_store.read_grids("demo-v1")
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
    code = demo_store.read_grids("demo-v1")["code"].iloc[7]
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
    body = client.get(items_url("grids"), params={"version": "demo-v1", "limit": 10}).json()
    assert body["numberMatched"] == counts["grids"]
    assert "version=demo-v1" in rels(body)[("next", "application/geo+json")]
    collection = client.get("/ogc/collections/grids", params={"version": "demo-v1"}).json()
    assert "version=demo-v1" in rels(collection)[("items", "application/geo+json")]
    assert client.get(items_url("grids"), params={"version": "nope"}).status_code == 404
    other = client.get(items_url("buildings"), params={"version": "demo-v1"})
    assert other.status_code == 400 and "grids" in other.json()["error"]


# --- HTML, errors, OpenAPI ----------------------------------------------------------------------


def test_html_pages(client: httpx.Client, demo_store: SqlStore) -> None:
    code = demo_store.read_grids("demo-v1")["code"].iloc[0]
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
        assert response.text.startswith("<!doctype html>")
    items = client.get(items_url("grids"), params={"f": "html", "limit": 5}).text
    assert "1–5 of" in items and f"/items/{code}?f=html" in items and "offset=5" in items
    browser = client.get("/ogc/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")
    assert "department-" + quote("综治") in browser.text


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
    ],
)
def test_bad_parameters_are_400_naming_them(
    client: httpx.Client, url: str, params: dict[str, str], needle: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 400, response.text
    assert needle in response.json()["error"]


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
    assert {"limit", "offset", "bbox", "f", "community_code", "kind"} <= params
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

        return CollectionSpec(slot, slot, "", "id", slot, content, load)

    service = OgcService(
        cast(SqlStore, None), cast(PublishedIndex, None), LRU(2, lambda _: 1)
    )  # room for two collections
    assert service.data(spec("buildings", "a")).ids.tolist() == ["a"]
    service.data(spec("buildings", "a"))
    assert service.data(spec("buildings", "b")).ids.tolist() == ["b"]  # re-imported
    for version in ("1", "2", "3", "1"):
        service.data(spec("grids", version))
    assert loads == ["buildings:a", "buildings:b", "grids:1", "grids:2", "grids:3", "grids:1"]


# --- GDAL ---------------------------------------------------------------------------------------


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.fail("GDAL's ogrinfo is not installed: apt-get install gdal-bin")
    done = subprocess.run(
        [exe, "-ro", *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_every_collection_with_its_count(server: Server, counts: dict[str, int]) -> None:
    source = f"OAPIF:{server.url}/ogc"
    listed = re.findall(r"^\d+: (\S+) \(title:", ogrinfo("-q", source), re.MULTILINE)
    assert set(listed) == set(counts)
    summary = ogrinfo("-so", "-al", source)
    found = dict(
        re.findall(
            r"^Layer name: (\S+)$.*?^Feature Count: (\d+)$", summary, re.MULTILINE | re.DOTALL
        )
    )
    assert {k: int(v) for k, v in found.items()} == counts


def test_gdal_reads_every_feature_through_the_pages(server: Server, counts: dict[str, int]) -> None:
    """GDAL follows the next links; a page size of 100 makes every large layer page."""
    text = ogrinfo("-al", "-q", "-oo", "PAGE_SIZE=100", f"OAPIF:{server.url}/ogc")
    read = Counter(re.findall(r"^OGRFeature\((\S+)\):", text, re.MULTILINE))
    assert dict(read) == counts


def test_gdal_attribute_and_spatial_filters(server: Server, demo_store: SqlStore) -> None:
    source = f"OAPIF:{server.url}/ogc"
    grids = demo_store.read_grids("demo-v1")
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
