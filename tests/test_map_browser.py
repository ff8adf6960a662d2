"""The map page in real headless Chromium: it draws the grids, opens popups, stays offline."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser

from gridgis.store import SqlStore
from tests.conftest import DEMO, Server

pytestmark = pytest.mark.browser


def test_map_draws_every_grid_and_opens_a_popup(
    browser: Browser, server: Server, demo_store: SqlStore
) -> None:
    grids = demo_store.read_grids(DEMO)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{server.url}/map", wait_until="networkidle")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    interactive = page.locator("path.leaflet-interactive")
    assert interactive.count() == len(grids) == page.locator("path.gridgis-grid").count()
    # Community outlines and (this close) streets too, not clickable.
    communities = demo_store.read_base_layer("communities")
    assert page.locator("path.gridgis-community").count() == len(communities)
    assert page.locator("path.gridgis-street").count() > 0
    assert page.locator(".leaflet-interactive.gridgis-street").count() == 0
    interactive.nth(0).click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    code = next(c for c in grids["code"] if c in text)
    clicked = grids[grids["code"] == code].iloc[0]
    for label, value in (("网格名称", clicked["name"]), ("社区", clicked["community_name"])):
        assert label in text and str(value) in text
    # Further out, streets are not fetched for a view this wide; the grids stay.
    for _ in range(2):
        page.locator("a.leaflet-control-zoom-out").click()
        page.wait_for_timeout(400)
    page.wait_for_load_state("networkidle")
    assert page.locator("path.gridgis-street").count() == 0
    assert page.locator("path.gridgis-grid").count() == len(grids)
    assert errors == []
    assert {urlparse(u).netloc for u in urls} == {urlparse(server.url).netloc}
    fetched = {urlparse(u).path for u in urls}
    assert {"/api/grids", "/embed/context.geojson"} <= fetched  # layers come by URL
    page.close()


def test_the_page_holds_no_geometry(client: httpx.Client, demo_store: SqlStore) -> None:
    page = client.get("/map").text
    assert len(page) < 20_000  # a shell: the city's geometry comes from the JSON endpoints
    assert '"coordinates"' not in page
    code = str(demo_store.read_grids(DEMO)["code"].iloc[0])
    assert code not in page
