"""Version names: one rule for every path, and names in Chinese that work in every URL."""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx
import mapbox_vector_tile
import pytest

from gridgis.errors import InvalidValueError
from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.versions import MAX_VERSION_NAME, check_version_name
from tests.conftest import Server, save_boxes

CELL = (104.39, 31.12, 104.40, 31.13)
CHINESE = ("v2-文明", "2026年第一季度", "2026 Q1 草稿", "a" * MAX_VERSION_NAME)


@pytest.mark.parametrize("name", CHINESE)
def test_good_names_pass_unchanged(name: str) -> None:
    assert check_version_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "is empty"),
        (" v1", "starts or ends with a space"),
        ("v1\u3000", "starts or ends with a space"),  # an ideographic space is a space too
        ("2026/Q1", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("v1?x", "contains '?'"),
        ("v1#x", "contains '#'"),
        ("100%", "contains '%'"),
        ("v1\tdraft", "control character U+0009"),
        ("v1\u200b", "control character U+200B"),  # zero-width space: two names look alike
        (".", "is not a version name"),
        ("..", "is not a version name"),
        ("a" * (MAX_VERSION_NAME + 1), f"has {MAX_VERSION_NAME + 1} characters"),
    ],
)
def test_bad_names_say_why_and_what_is_allowed(name: str, why: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        check_version_name(name, param="version")
    error = caught.value
    assert why in error.message
    assert "2026年第一季度" in error.message  # says what a good name looks like
    assert (error.code, error.param) == ("invalid_version_name", "version")


def test_the_store_refuses_a_bad_name_and_keeps_nothing(store: SqlStore) -> None:
    for bad in ("", "2026/Q1"):
        with pytest.raises(InvalidValueError):
            save_boxes(store, bad, {"510603001001001": CELL})
    assert store.list_versions() == []
    assert store.read_audit() == []


def test_names_in_chinese_work_in_every_url(settings: Settings, store: SqlStore) -> None:
    published, draft = "v2-文明", "2026年第一季度 草稿"
    save_boxes(store, published, {"510603001001001": CELL})
    save_boxes(store, draft, {"510603001001002": CELL})
    store.publish(published, "test")
    with Server(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        assert http.get("/healthz").json()["published_version"] == published
        for name in (published, draft):
            segment = quote(name, safe="")
            assert http.get(f"/api/versions/{segment}").json()["name"] == name
            walk = http.get(f"/api/versions/{segment}/crosswalk", params={"format": "csv"})
            assert walk.status_code == 200, walk.text
            assert quote(f"crosswalk-{name}.csv") in walk.headers["content-disposition"]
            download = http.get(f"/api/versions/{segment}/download")
            assert download.status_code == 200, download.text
            assert download.json()["features"]
            assert name.split()[0] in unquote(download.headers["content-disposition"])

            tilejson = http.get("/tiles/grids.json", params={"version": name}).json()
            template = tilejson["tiles"][0]
            assert template.endswith(f"?version={segment}")
            tile = http.get(template.format(z=14, x=12943, y=6700))  # holds the cell
            assert tile.status_code == 200, tile.text
            assert unquote(tile.headers["x-gridgis-version"]) == name
            assert mapbox_vector_tile.decode(tile.content)["grids"]["features"]

            collection = http.get("/ogc/collections/grids/items", params={"version": name})
            assert collection.status_code == 200, collection.text
            assert all(
                unquote(link["href"].split("version=")[1].split("&")[0]) == name
                for link in collection.json()["links"]
                if "version=" in link["href"]
            )
        published_tile = http.get("/tiles/grids/14/12943/6700.mvt")  # the fast path
        assert unquote(published_tile.headers["x-gridgis-version"]) == published
        answered = http.post(
            "/api/lookup", content="lon,lat\n104.395,31.125\n", headers={"content-type": "text/csv"}
        )
        assert answered.status_code == 200, answered.text
        assert unquote(answered.headers["x-gridgis-version"]) == published
