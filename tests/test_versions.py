"""Version names: one rule for every path, and names in Chinese that work in every URL."""

from __future__ import annotations

from urllib.parse import quote, unquote

import mapbox_vector_tile
import pytest

from gridgis.errors import ConflictError, InvalidValueError, NotFoundError
from gridgis.lookup import PublishedIndex
from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.versions import MAX_VERSION_NAME, check_version_name
from tests.conftest import Server, save_boxes, save_crosswalked

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
    with Server(settings) as srv, srv.client(timeout=30) as http:
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


# --- deleting and renaming drafts ----------------------------------------------------------
def rows(store: SqlStore, table: str) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_draft_is_deleted_whole_and_audited(store: SqlStore) -> None:
    save_crosswalked(store, "草稿")
    save_boxes(store, "kept", {"510603001001009": CELL})
    assert (rows(store, "grids"), rows(store, "crosswalk")) == (3, 2)
    deleted = store.delete_version("草稿", "http:10.0.0.7")
    assert (deleted.name, deleted.status, deleted.grid_count) == ("草稿", "draft", 2)
    assert [v.name for v in store.list_versions()] == ["kept"]
    assert (rows(store, "grids"), rows(store, "crosswalk")) == (1, 0)
    entry = store.read_audit()[0]
    assert (entry.action, entry.target, entry.actor) == ("delete", "version/草稿", "http:10.0.0.7")
    assert entry.detail["grids"] == 2
    with pytest.raises(NotFoundError):
        store.delete_version("草稿", "test")
    save_boxes(store, "草稿", {"510603001001001": CELL})  # the name is free again


def test_a_draft_is_renamed_with_its_grids_and_crosswalk(store: SqlStore) -> None:
    save_crosswalked(store, "v1")
    save_boxes(store, "v2", {"510603001001009": CELL})
    index = PublishedIndex(store)
    assert index.named("v1").grid_at(104.395, 31.125)["version"] == "v1"  # type: ignore[index]
    renamed = store.rename_version("v1", "2026年第一季度", "cli:王芳")
    assert (renamed.name, renamed.status, renamed.grid_count) == ("2026年第一季度", "draft", 2)
    assert len(store.read_crosswalk("2026年第一季度")) == 2
    with pytest.raises(NotFoundError):
        store.get_version("v1")
    entry = store.read_audit()[0]
    assert (entry.action, entry.target, entry.actor) == (
        "rename",
        "version/2026年第一季度",
        "cli:王芳",
    )
    assert entry.detail == {"from": "v1"}
    # An index cached under the old name answers with the new one.
    answer = index.named("2026年第一季度").grid_at(104.395, 31.125)
    assert answer is not None and answer["version"] == "2026年第一季度"
    assert store.rename_version("v2", "v2", "test").name == "v2"  # the same name: nothing to do
    with pytest.raises(ConflictError) as taken:
        store.rename_version("v2", "2026年第一季度", "test")
    assert taken.value.code == "version_exists"
    with pytest.raises(InvalidValueError) as bad:
        store.rename_version("v2", "2026/Q1", "test")
    assert bad.value.code == "invalid_version_name"
    assert {v.name for v in store.list_versions()} == {"2026年第一季度", "v2"}


def test_published_and_archived_versions_stay(store: SqlStore) -> None:
    save_boxes(store, "v1", {"510603001001001": CELL})
    save_boxes(store, "v2", {"510603001001002": CELL})
    store.publish("v1", "test")
    store.publish("v2", "test")
    before = store.list_versions()
    for name, status in (("v1", "archived"), ("v2", "published")):
        for change in ("delete", "rename"):
            with pytest.raises(ConflictError) as caught:
                if change == "delete":
                    store.delete_version(name, "test")
                else:
                    store.rename_version(name, "v9", "test")
            assert caught.value.code == "version_not_draft"
            assert f"is {status}: only a draft can be {change}d" in caught.value.message
    assert store.list_versions() == before
    assert [e.action for e in store.read_audit()] == ["publish", "publish", "merge", "merge"]


def test_drafts_are_deleted_and_renamed_over_http(settings: Settings, store: SqlStore) -> None:
    save_boxes(store, "v1", {"510603001001001": CELL})
    save_boxes(store, "v2", {"510603001001002": CELL})
    save_boxes(store, "v3", {"510603001001003": CELL})
    store.publish("v1", "test")
    with Server(settings) as srv, srv.client(timeout=30) as http:
        renamed = http.patch("/api/versions/v2", json={"name": "v2-文明"})
        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["name"], renamed.json()["status"]) == ("v2-文明", "draft")
        assert http.get(f"/api/versions/{quote('v2-文明')}").status_code == 200
        assert http.get("/api/versions/v2").status_code == 404

        deleted = http.delete("/api/versions/v3")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert [v["name"] for v in http.get("/api/versions").json()] == ["v1", "v2-文明"]

        refusals = [
            (http.delete("/api/versions/v1"), 409, "version_not_draft", None),
            (http.patch("/api/versions/v1", json={"name": "x"}), 409, "version_not_draft", None),
            (http.delete("/api/versions/v3"), 404, "version_not_found", None),
            (http.patch("/api/versions/v2-文明", json={"name": "v1"}), 409, "version_exists", None),
            (
                http.patch("/api/versions/v2-文明", json={"name": "a/b"}),
                422,
                "invalid_version_name",
                "name",
            ),
            (
                http.patch("/api/versions/v2-文明", json={"name": " "}),
                422,
                "invalid_version_name",
                "name",
            ),
            (http.patch("/api/versions/v2-文明", json={"note": "x"}), 422, "invalid_value", "name"),
        ]
        for response, status, code, param in refusals:
            assert response.status_code == status, response.text
            body = response.json()
            assert (body["code"], body.get("param")) == (code, param), body
            assert body["error"]
    (key,) = [k.id for k in store.list_keys()]  # the tests' admin key made the changes
    entries = [(e.action, e.target, e.actor) for e in store.read_audit(limit=2)]
    assert entries == [
        ("delete", "version/v3", f"key:{key}"),
        ("rename", "version/v2-文明", f"key:{key}"),
    ]
