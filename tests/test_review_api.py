"""The review, the diff and publishing over HTTP, on the demo server (both stores)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from tests.conftest import DEMO, computed

V = quote(DEMO)


def test_the_review_of_a_version_over_http(client: httpx.Client) -> None:
    response = computed(client, f"/api/versions/{V}/review")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == DEMO
    assert body["summary"]["publishable"] is True
    assert body["summary"]["findings"] == len(body["findings"])
    assert {f["severity"] for f in body["findings"]} <= {"warning", "info"}


def test_the_review_of_an_unknown_version_is_404(client: httpx.Client) -> None:
    response = client.get("/api/versions/no-such/review")
    assert response.status_code == 404
    assert response.json()["code"] == "version_not_found"


def test_a_diff_over_http_in_each_form(client: httpx.Client) -> None:
    body = computed(client, f"/api/versions/{V}/diff/{V}").json()
    grids = client.get(f"/api/versions/{V}").json()["grid_count"]
    assert body["summary"]["unchanged"] == grids > 0
    assert body["summary"]["removed"] == body["summary"]["added"] == 0
    csv = computed(client, f"/api/versions/{V}/diff/{V}", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0].startswith("old_code,new_code")
    patch = client.get(f"/api/versions/{V}/diff/{V}", params={"format": "jsonl"})
    lines = patch.text.splitlines()
    assert len(lines) == 1 and '"gridgis.diff/v1"' in lines[0]


def test_publishing_the_published_version_again_changes_nothing(client: httpx.Client) -> None:
    response = client.post(f"/api/versions/{V}/publish", json={})
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert client.post(f"/api/versions/{V}/publish", json={"forced": 1}).status_code == 422


def test_the_review_is_kept_and_tagged_until_something_changes(client: httpx.Client) -> None:
    first = computed(client, f"/api/versions/{V}/review")
    tag = first.headers["etag"]
    assert client.get(f"/api/versions/{V}/review").content == first.content
    assert (
        client.get(f"/api/versions/{V}/review", headers={"If-None-Match": tag}).status_code == 304
    )
