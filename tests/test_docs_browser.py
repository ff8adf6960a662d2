"""/docs and /redoc in real headless Chromium: the API description renders offline."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Server

pytestmark = pytest.mark.browser


def _open(browser: Browser, url: str) -> tuple[Page, Callable[[], set[str]], list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    asked: set[str] = set()
    blocked: set[str] = set()  # stopped by the page's CSP: they never leave the browser
    page.on("request", lambda r: asked.add(r.url))
    page.on("requestfailed", lambda r: blocked.add(r.url) if r.failure == "csp" else None)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Content Security Policy" not in m.text
            else None
        ),
    )
    page.goto(url, wait_until="networkidle")
    return (
        page,
        lambda: {urlparse(u).netloc for u in asked - blocked if u.startswith("http")},
        problems,
    )


@pytest.mark.parametrize(
    ("path", "operation"),
    [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id^='operation/']")],
)
def test_the_api_docs_render_without_the_internet(
    browser: Browser, server: Server, path: str, operation: str
) -> None:
    page, hosts, problems = _open(browser, server.url + path)
    page.wait_for_selector(operation, timeout=15000)
    assert page.locator(operation).count() > 20  # every endpoint is listed
    assert "/api/lookup" in page.content()
    assert hosts() == {urlparse(server.url).netloc}
    assert problems == []
    page.close()
