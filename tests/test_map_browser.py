"""The map page in real headless Chromium: it draws the grids, opens popups, stays offline."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, sync_playwright

from gridgis.store import SqlStore
from tests.conftest import CHROMIUM_ARGS, Server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_map_draws_every_grid_and_opens_a_popup(
    browser: Browser, server: Server, demo_store: SqlStore
) -> None:
    grids = demo_store.read_grids("demo-v1")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/map", wait_until="networkidle")
    interactive = page.locator("path.leaflet-interactive")
    assert interactive.count() == len(grids)
    interactive.nth(0).click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert any(code in text for code in grids["code"])
    assert errors == []
    assert hosts == {urlparse(server.url).netloc}
    page.close()
