"""Every answer says nosniff; HTML pages refuse to be framed by other sites, except the
embeddable map, which is made to be."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("path", ["/map", "/ogc?f=html", "/docs", "/ogc/collections?f=html"])
def test_pages_refuse_frames(client: httpx.Client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_docs_keep_their_own_policy_beside_the_frame_rule(client: httpx.Client) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    assert policy.count("frame-ancestors") == 1 and "script-src" in policy


def test_the_embed_stays_framable_and_json_says_nosniff(client: httpx.Client) -> None:
    embed = client.get("/embed")
    assert embed.status_code == 200
    assert "x-frame-options" not in embed.headers
    assert "frame-ancestors" not in embed.headers["content-security-policy"]
    assert client.get("/api/versions").headers["x-content-type-options"] == "nosniff"
