"""The review report: one HTML file that holds everything it shows, so it opens offline,
in real headless Chromium with the network cut, and from the command line."""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import folium
import pytest
from playwright.sync_api import Browser, Route

from gridgis.review.context import ReviewContext
from gridgis.review.report import OfflineFigure, render_report, write_report
from gridgis.review.run import Review, review_context
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO
from tests.test_cli import run

LOADING_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "background", "action"}


class Fetches(HTMLParser):
    """Every URL a tag of the page would load or point at (scripts' text is not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in LOADING_ATTRIBUTES and value:
                self.urls.append((tag, name, value))


@pytest.fixture(scope="module")
def reviewed(demo_store: SqlStore, demo_settings: Settings) -> tuple[Review, ReviewContext]:
    ctx = ReviewContext.load(demo_store, DEMO, demo_settings)
    return review_context(ctx), ctx


@pytest.fixture(scope="module")
def report(reviewed: tuple[Review, ReviewContext]) -> str:
    review, ctx = reviewed
    return render_report(review, ctx, before=ctx)


def test_a_link_with_no_offline_copy_fails_the_render() -> None:
    m = folium.Map(tiles=None)  # folium's own links: Leaflet, then jQuery, Bootstrap … CDNs
    figure = OfflineFigure()
    figure.add_child(m)
    with pytest.raises(ValueError, match="no offline copy of 'jquery'"):
        figure.parts()


def test_the_report_holds_everything_it_shows(
    report: str, reviewed: tuple[Review, ReviewContext]
) -> None:
    review, ctx = reviewed
    assert report.lower().startswith("<!doctype html>")
    assert '<html lang="zh-CN">' in report
    assert "回头看报告" in report and "Look-back review" in report and DEMO in report
    # Leaflet's own code mentions leafletjs.com (its attribution link, never fetched):
    # the markup around the scripts names no remote file.
    markup = re.sub(r"<script>.*?</script>", "<script></script>", report, flags=re.S)
    assert 'src="http' not in markup and 'href="http' not in markup
    parser = Fetches()
    parser.feed(report)
    remote = [u for u in parser.urls if not u[2].startswith(("data:", "#"))]
    assert remote == []
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", report)  # no CSS from elsewhere
    assert "@import" not in report
    # Leaflet is in the page, not linked.
    assert "L.map(" in report and "leaflet-container" in report
    # One table row per finding, one per community.
    assert len(review.findings) > 0
    assert report.count('<tr class="finding ') == len(review.findings)
    for f in review.findings:
        assert f.rule() in report
    communities = ctx.grids["community_code"].nunique()
    assert report.count('<tr class="community">') == communities
    # The histogram: a real PNG, inline.
    found = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert found is not None
    png = base64.b64decode(found.group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "@page{size:A4" in report.replace(" ", "")


def test_the_report_escapes_what_it_is_given(reviewed: tuple[Review, ReviewContext]) -> None:
    review, ctx = reviewed
    hostile = "</script><script>alert(1)</script>"
    frame = ctx.grids.copy()
    frame.loc[frame.index[0], "name"] = hostile
    frame.loc[frame.index[0], "community_name"] = hostile
    edited = dataclasses.replace(ctx, grids=frame)
    page = render_report(review, edited)
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the community table


@pytest.mark.browser
def test_the_report_opens_offline_in_chromium(
    browser: Browser, report: str, reviewed: tuple[Review, ReviewContext], tmp_path: Path
) -> None:
    review, ctx = reviewed
    path = write_report(tmp_path / "报告" / "report.html", report)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    attempted: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def offline(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.as_uri(), wait_until="load")
    page.locator("path.leaflet-interactive").first.wait_for(timeout=10_000)
    assert page.locator("path.gridgis-grid").count() == len(ctx.grids)
    placed = [f for f in review.findings if f.where is not None]
    assert page.locator("path.gridgis-finding").count() >= len(placed) > 0
    assert page.locator("tr.finding").count() == len(review.findings)
    decoded = page.evaluate("Array.from(document.images).map((i) => i.naturalWidth)")
    assert decoded and all(w > 500 for w in decoded)
    # Dispatched, not clicked at a point: a marker may lie under a map control.
    page.locator("path.gridgis-finding").first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    assert any(f.rule() in popup.inner_text() for f in placed)
    page.locator(".leaflet-popup-close-button").click()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert attempted == [] and errors == []
    assert shot.stat().st_size > 100_000  # the map, the histogram and the tables drawn


def test_review_out_writes_the_report(demo_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, stderr = run(demo_settings, "review", "--version", DEMO, "--out", str(out))
    assert code == 0, stderr
    assert str(out) in stdout
    text = out.read_text(encoding="utf-8")
    assert text.upper().startswith("<!DOCTYPE HTML>")
    assert DEMO in text and "回头看报告" in text
    # --json stays machine-readable: the path goes to stderr.
    code, stdout, stderr = run(
        demo_settings, "review", "--version", DEMO, "--out", str(out), "--json"
    )
    assert code == 0 and stdout.lstrip().startswith("{") and str(out) in stderr


def test_proposals_are_listed_before_and_after_or_say_why_none(
    reviewed: tuple[Review, ReviewContext],
) -> None:
    from gridgis.review.report import Refusal, report_proposals

    review, ctx = reviewed
    proposals = report_proposals(ctx, review)
    assert [p.id for p in proposals] == [f.proposal for f in review.findings if f.proposal]
    html = render_report(review, ctx, proposals=proposals)
    assert 'id="proposals"' in html
    for p in proposals:
        assert p.id in html
        if isinstance(p, Refusal):
            assert "无可行方案" in html
