"""Editing grids over HTTP by OGC API Features Part 4's rules: strong ETags, If-Match,
412 for a stale edit with the current ETag, 428 without one; attributes on the published
version at once, shapes in a draft with the neighbours adjusted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import numpy as np
import pytest
import shapely

from gridgis import crs
from gridgis.review.run import review_version
from tests.conftest import DEMO, EDIT_EPSG, City, Server

PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def http(city: City) -> Iterator[httpx.Client]:
    with Server(city.settings) as server, server.client(timeout=60) as c:
        yield c


def _code(city: City, n: int) -> str:
    return str(city.clean["code"].iloc[n])


def test_a_grid_has_a_strong_etag_and_answers_304(http: httpx.Client, city: City) -> None:
    first = http.get(f"/api/grids/{_code(city, 0)}")
    tag = first.headers["etag"]
    assert first.status_code == 200 and not tag.startswith("W/")
    assert http.get(f"/api/grids/{_code(city, 0)}").headers["etag"] == tag
    again = http.get(f"/api/grids/{_code(city, 0)}", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert http.get(f"/api/grids/{_code(city, 1)}").headers["etag"] != tag


def test_an_edit_without_if_match_is_428_and_a_stale_one_412(
    http: httpx.Client, city: City
) -> None:
    url = f"/api/grids/{_code(city, 2)}"
    body = {"properties": {"officer_phone": "13900000001"}}
    assert http.patch(url, json=body, headers=PATCH).status_code == 428
    stale = http.patch(url, json=body, headers={**PATCH, "If-Match": '"not-the-tag"'})
    assert stale.status_code == 412
    assert stale.headers["etag"] == http.get(url).headers["etag"]
    assert stale.json()["code"] == "precondition_failed"
    wrong = http.patch(url, content=b"{}", headers={"Content-Type": "text/plain", "If-Match": "x"})
    assert wrong.status_code == 415


def test_the_officer_changes_at_once_is_audited_and_null_unsets(
    http: httpx.Client, city: City
) -> None:
    code = _code(city, 3)
    url = f"/api/grids/{code}"
    read = http.get(url)
    before = read.json()["properties"]
    changed = http.patch(
        url,
        json={"properties": {"officer_name": "李新", "officer_phone": None}},
        headers={**PATCH, "If-Match": read.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != read.headers["etag"]
    now = http.get(url)
    assert now.headers["etag"] == changed.headers["etag"]
    assert now.json()["properties"]["officer_name"] == "李新"
    assert now.json()["properties"]["officer_phone"] is None
    # Lookups answer from the edit at once.
    lon, lat = shapely.point_on_surface(shapely.geometry.shape(now.json()["geometry"])).coords[0]
    answer = http.get("/api/lookup", params={"lon": lon, "lat": lat}).json()
    assert answer["code"] == code
    assert answer["officer"] == {"name": "李新", "phone": None}
    entry = city.store.read_audit(1)[0]
    assert entry.action == "edit" and entry.detail["grids"][0]["code"] == code
    assert entry.detail["grids"][0]["before"]["officer_name"] == before["officer_name"]
    assert entry.detail["grids"][0]["after"] == {"officer_name": "李新", "officer_phone": None}


@pytest.mark.parametrize(
    ("props", "status", "error"),
    [
        ({"code": "510603001001999"}, 400, "code_immutable"),
        ({"households": 1}, 400, "not_editable"),
        ({"kind": "专属"}, 409, "not_editable_here"),
        ({"name": None}, 400, "required"),
    ],
)
def test_what_the_published_version_refuses(
    http: httpx.Client, city: City, props: dict[str, object], status: int, error: str
) -> None:
    url = f"/api/grids/{_code(city, 4)}"
    tag = http.get(url).headers["etag"]
    refused = http.patch(url, json={"properties": props}, headers={**PATCH, "If-Match": tag})
    assert (refused.status_code, refused.json()["code"]) == (status, error)
    assert http.get(url).headers["etag"] == tag  # nothing changed


def test_a_stale_edit_never_overwrites_a_newer_one(http: httpx.Client, city: City) -> None:
    """Clients counting up in one field, each against the state it read: every edit that
    succeeded is counted once, and none was lost."""
    url = f"/api/grids/{_code(city, 5)}"
    read = http.get(url)
    http.patch(
        url,
        json={"properties": {"party_branch": "0"}},
        headers={**PATCH, "If-Match": read.headers["etag"]},
    )
    done: list[int] = []

    def count(n: int) -> None:
        with httpx.Client(base_url=http.base_url, timeout=60, headers=http.headers) as mine:
            for _ in range(n):
                got = mine.get(url)
                value = int(got.json()["properties"]["party_branch"])
                edit = mine.patch(
                    url,
                    json={"properties": {"party_branch": str(value + 1)}},
                    headers={**PATCH, "If-Match": got.headers["etag"]},
                )
                assert edit.status_code in (200, 412), edit.text
                if edit.status_code == 200:
                    done.append(1)

    threads = [threading.Thread(target=count, args=(6,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done  # some edits went through
    assert int(http.get(url).json()["properties"]["party_branch"]) == len(done)


def test_a_shape_moves_in_a_draft_and_its_neighbour_gives_way(
    http: httpx.Client, city: City
) -> None:
    frame = city.frame()
    draft = city.imported(frame).version
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    code_a, code_b = frame["code"].iloc[a], frame["code"].iloc[b]
    url = f"/api/grids/{code_a}?version={quote(draft)}"
    published = http.get(f"/api/grids/{code_a}")
    on_published = http.patch(
        f"/api/grids/{code_a}",
        json={"geometry": published.json()["geometry"]},
        headers={**PATCH, "If-Match": published.headers["etag"]},
    )
    assert on_published.status_code == 409
    grown = shapely.intersection(shapely.buffer(m[a], 10.0), shapely.union(m[a], m[b]))
    shape = crs.from_metric(np.array([grown], dtype=object), EDIT_EPSG)[0]
    read = http.get(url)
    moved = http.patch(
        url,
        json={"geometry": shapely.geometry.mapping(shape)},
        headers={**PATCH, "If-Match": read.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    review = review_version(city.store, draft, city.settings)
    assert not [f for f in review.findings if f.type in ("gap", "overlap", "hole")]
    after = city.store.read_grids(draft).set_index("code")
    assert after["households"].sum() == frame["households"].sum()
    b_now = crs.to_metric(np.array([after.geometry[code_b]], dtype=object), EDIT_EPSG)[0]
    assert b_now.area == pytest.approx(m[b].area - (grown.area - m[a].area), abs=1.0)
    # Reaching out of the community is refused, and changes nothing.
    far = crs.from_metric(np.array([shapely.buffer(m[a], 5000.0)], dtype=object), EDIT_EPSG)[0]
    tag = http.get(url).headers["etag"]
    refused = http.patch(
        url,
        json={"geometry": shapely.geometry.mapping(far)},
        headers={**PATCH, "If-Match": tag},
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "leaves_community")
    assert http.get(url).headers["etag"] == tag


def test_a_shape_edit_never_overwrites_a_neighbour_edited_meanwhile(
    http: httpx.Client, city: City
) -> None:
    frame = city.frame()
    draft = city.imported(frame).version
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    code_a, code_b = frame["code"].iloc[a], frame["code"].iloc[b]
    url_a = f"/api/grids/{code_a}?version={quote(draft)}"
    url_b = f"/api/grids/{code_b}?version={quote(draft)}"
    tag_a = http.get(url_a).headers["etag"]
    # Someone renames b meanwhile.
    renamed = http.patch(
        url_b,
        json={"properties": {"name": "别人改过的网格"}},
        headers={**PATCH, "If-Match": http.get(url_b).headers["etag"]},
    )
    assert renamed.status_code == 200
    # a's shape takes ground from b: b gives way and keeps the other's edit.
    grown = shapely.intersection(shapely.buffer(m[a], 10.0), shapely.union(m[a], m[b]))
    shape = crs.from_metric(np.array([grown], dtype=object), EDIT_EPSG)[0]
    moved = http.patch(
        url_a,
        json={"geometry": shapely.geometry.mapping(shape)},
        headers={**PATCH, "If-Match": tag_a},
    )
    assert moved.status_code == 200, moved.text
    assert http.get(url_b).json()["properties"]["name"] == "别人改过的网格"
    # And when b changes between the edit's reading it and its writing: refused whole.
    from gridgis.edits import _reshaped
    from gridgis.errors import StaleError
    from gridgis.store.base import GridEdit

    tag_a = http.get(url_a).headers["etag"]
    back = crs.from_metric(np.array([m[a]], dtype=object), EDIT_EPSG)[0]
    edits = _reshaped(
        city.store, city.settings, draft, code_a, shapely.geometry.mapping(back), {}, tag_a
    )
    city.store.update_grids(draft, [GridEdit(code_b, {"name": "又改了"})], actor="other")
    with pytest.raises(StaleError):
        city.store.update_grids(draft, edits, actor="test")
    assert http.get(url_a).headers["etag"] == tag_a  # nothing of the refused edit landed


@pytest.mark.parametrize(
    ("header", "status"),
    [('"not-it", {tag}', 200), ("*", 200), ("W/{tag}", 412), ('"a", "b"', 412)],
)
def test_if_match_lists_stars_and_weak_tags(
    http: httpx.Client, city: City, header: str, status: int
) -> None:
    url = f"/api/grids/{_code(city, 6)}"
    tag = http.get(url).headers["etag"]
    edit = http.patch(
        url,
        json={"properties": {"officer_phone": f"139{status}{len(header)}"}},
        headers={**PATCH, "If-Match": header.format(tag=tag)},
    )
    assert edit.status_code == status, edit.text


def test_a_retired_code_says_where_its_area_went(http: httpx.Client, city: City) -> None:
    """Last: it publishes another version of the module's city, then the demo again."""
    from gridgis.review.publishing import publish_reviewed

    frame = city.frame()
    a, b = city.neighbours(frame)
    m = city.metric(frame)
    joined = frame.drop(index=frame.index[b]).reset_index(drop=True)
    city.put(joined, a if a < b else a - 1, shapely.union(m[a], m[b]))
    draft = city.imported(joined).version
    publish_reviewed(city.store, draft, city.settings, actor="test")
    try:
        deadline = time.monotonic() + 10
        while (got := http.get(f"/api/grids/{frame['code'].iloc[b]}")).status_code == 200:
            assert time.monotonic() < deadline, "the server never saw the publish"
            time.sleep(0.2)
        body = got.json()
        assert (got.status_code, body["code"]) == (404, "grid_retired")
        assert body["successors"][0]["code"] == frame["code"].iloc[a]
        assert body["successors"][0]["share"] == pytest.approx(1.0, abs=0.01)
        assert body["last_version"] == DEMO
    finally:
        publish_reviewed(city.store, DEMO, city.settings, actor="test")
