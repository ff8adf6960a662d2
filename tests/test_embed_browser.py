"""The embeddable map (/embed) in real headless Chromium, and its data endpoints over HTTP.

Chromium is Debian's (``shutil.which("chromium")``), driven by Playwright; nothing here
downloads a browser. With the default basemap the page must make no request beyond the
server that served it.
"""

from __future__ import annotations

import html
import json
import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import geopandas as gpd
import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Frame, Page, Route

from gridgis.crs import wgs84_to_shifted
from gridgis.lookup import GridIndex
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import Server, save_boxes

SELECTED_COLOUR = "#d7301f"


@pytest.fixture(scope="module")
def grids(demo_store: SqlStore) -> gpd.GeoDataFrame:
    published = demo_store.published_version()
    assert published is not None
    return demo_store.read_grids(published.name)


@pytest.fixture(scope="module")
def community(grids: gpd.GeoDataFrame) -> str:
    """The community with the most grids."""
    return str(grids["community_code"].value_counts().index[0])


class Recorder:
    """A page, every URL it requested, and any script error it raised."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def hosts(self) -> set[str]:
        return {urlparse(u).netloc for u in self.urls if urlparse(u).scheme in ("http", "https")}


@pytest.fixture
def recorder(browser: Browser) -> Iterator[Recorder]:
    page = browser.new_page(viewport={"width": 1000, "height": 750})
    yield Recorder(page)
    page.close()


def open_embed(rec: Recorder, server: Server, query: str = "") -> Page:
    page = rec.page
    page.goto(f"{server.url}/embed{query}", wait_until="load")
    page.wait_for_selector("body[data-ready]", timeout=15000)
    assert page.get_attribute("body", "data-ready") == "1", page.inner_text("#gridgis-status")
    return page


def inside(grids: gpd.GeoDataFrame, code: str) -> tuple[float, float]:
    """A lon/lat well inside the grid (its largest inscribed circle's centre)."""
    import shapely

    geom = grids.loc[grids["code"] == code].geometry.iloc[0]
    point = shapely.maximum_inscribed_circle(geom).coords[0]
    return float(point[0]), float(point[1])


def click_at(target: Page | Frame, lon: float, lat: float) -> None:
    """Click the map at a lon/lat: exactly inside a chosen grid, whatever its shape.

    Any pan still running (a popup pans itself into view) is stopped first, so the point
    does not move between measuring it and clicking it, and an open popup is closed: it
    lies inside the map, so a click under it would land on the popup, not the grid.
    """
    xy = target.evaluate(
        """([lat, lon]) => {
            const map = gridgisEmbed.map;
            map.closePopup();
            map.stop();
            const p = map.latLngToContainerPoint([lat, lon]);
            return {x: p.x, y: p.y};
        }""",
        [lat, lon],
    )
    target.locator("#map").click(position=xy)


# --- drawing -------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_community_draws_its_grids_with_streets_and_compounds_offline(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    page = open_embed(recorder, server, f"?community={community}")
    expected = int((grids["community_code"] == community).sum())
    assert page.locator("path.gridgis-grid").count() == expected
    assert page.locator("path.gridgis-street").count() > 0
    assert page.locator("path.gridgis-compound").count() > 0
    # Fitted to the community: every one of its grids is in view.
    assert page.evaluate(
        "() => gridgisEmbed.map.getBounds().pad(0.01).contains(gridgisEmbed.grids.getBounds())"
    )
    assert page.title().startswith(
        grids.loc[grids["community_code"] == community].iloc[0]["community_name"]
    )
    assert recorder.errors == []
    assert recorder.hosts() == {urlparse(server.url).netloc}, recorder.urls
    assert not any("building" in u for u in recorder.urls)


@pytest.mark.browser
def test_the_city_page_draws_every_grid_and_stays_on_our_server(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame
) -> None:
    page = open_embed(recorder, server, "?layers=grids,streets,compounds,communities")
    assert page.locator("path.gridgis-grid").count() == len(grids)
    assert page.locator("path.gridgis-community").count() == grids["community_code"].nunique()
    # Zoomed in, the city-wide page fetches context for the view only.
    code = str(grids["code"].iloc[len(grids) // 2])
    lon, lat = inside(grids, code)
    page.evaluate("([lat, lon]) => gridgisEmbed.map.setView([lat, lon], 17)", [lat, lon])
    page.wait_for_function("() => document.querySelectorAll('path.gridgis-street').length > 0")
    assert any("bbox=" in u for u in recorder.urls)
    assert recorder.errors == []
    assert recorder.hosts() == {urlparse(server.url).netloc}, recorder.urls


@pytest.mark.browser
def test_grid_parameter_highlights_and_zooms_to_the_grid(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame
) -> None:
    code = str(grids.loc[grids["kind"] == "综合", "code"].iloc[3])
    page = open_embed(recorder, server, f"?grid={code}")
    state = page.evaluate(
        """(code) => {
            const e = gridgisEmbed, layer = e.byCode.get(code), view = e.map.getBounds();
            const g = layer.getBounds();
            return {selected: e.selected(), colour: layer.options.color,
                    contains: view.contains(g),
                    zoom: e.map.getZoom(),
                    fits: Math.min(18, e.map.getBoundsZoom(g, false, L.point(48, 48))),
                    css: layer.getElement().classList.contains("gridgis-selected"),
                    stroke: layer.getElement().getAttribute("stroke")};
        }""",
        code,
    )
    assert state["selected"] == code
    assert state["colour"] == SELECTED_COLOUR and state["stroke"] == SELECTED_COLOUR
    assert state["css"] and state["contains"]
    assert state["zoom"] == state["fits"]  # as close as the grid fits (z18 at most)
    # The rest of its community is drawn around it, unhighlighted.
    community = grids.loc[grids["code"] == code, "community_code"].iloc[0]
    assert page.locator("path.gridgis-grid").count() == int(
        (grids["community_code"] == community).sum()
    )
    assert page.locator("path.gridgis-selected").count() == 1
    assert recorder.hosts() == {urlparse(server.url).netloc}


# --- the host page ----------------------------------------------------------------------------
HOST_PAGE = """<!DOCTYPE html><html><body>
<iframe id="map" src="{src}" style="width:900px;height:650px;border:0"></iframe>
<script>
  window.messages = [];
  window.addEventListener("message", function (event) {{
    if (event.data && event.data.type === "gridgis:grid-click") {{
      window.messages.push({{origin: event.origin, data: event.data}});
    }}
  }});
</script></body></html>"""


class _HostPage(BaseHTTPRequestHandler):
    """Serves HOST_PAGE with the iframe pointing at ``?src=``."""

    def do_GET(self) -> None:
        src = parse_qs(urlparse(self.path).query).get("src", ["about:blank"])[0]
        body = HOST_PAGE.format(src=html.escape(src)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    """A host page on another loopback origin, as a customer's intranet page would be (a
    real server: Chromium refuses loopback iframes in pages it cannot place on the network)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def host_page(recorder: Recorder, host: str, server: Server, query: str) -> tuple[Page, Frame]:
    """The host page with the embed in an iframe, recording the messages it receives."""
    page = recorder.page
    page.goto(f"{host}/host.html?" + urlencode({"src": f"{server.url}/embed{query}"}))
    page.frame_locator("#map").locator("body[data-ready='1']").wait_for(
        state="attached", timeout=15000
    )
    embedded = next(f for f in page.frames if f.url.startswith(f"{server.url}/embed"))
    return page, embedded


@pytest.mark.browser
def test_a_click_posts_the_grid_to_the_host_page(
    recorder: Recorder, host: str, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    page, frame = host_page(recorder, host, server, f"?community={community}")
    codes = grids.loc[grids["community_code"] == community, "code"].tolist()
    for code in (codes[1], codes[-1]):
        click_at(frame, *inside(grids, code))
        page.wait_for_function(
            f"() => window.messages.some(m => m.data.code === '{code}')", polling=100
        )
    messages = page.evaluate("() => window.messages")
    assert [m["data"]["code"] for m in messages] == [codes[1], codes[-1]]
    last = messages[-1]
    assert last["origin"] == server.url
    assert last["data"] == {
        "type": "gridgis:grid-click",
        "code": codes[-1],
        "name": grids.loc[grids["code"] == codes[-1], "name"].iloc[0],
        "community_code": community,
    }
    # The popup tells who looks after the grid, with a phone link.
    popup = frame.locator(f".leaflet-popup-content .gridgis-info[data-code='{codes[-1]}']")
    popup.wait_for(timeout=5000)
    row = grids.loc[grids["code"] == codes[-1]].iloc[0]
    text = popup.inner_text()
    assert "网格员" in text and row["officer_name"] in text
    assert popup.locator("a[href^='tel:']").first.get_attribute("href") == (
        "tel:" + row["officer_phone"]
    )
    # Department services arrive after the click.
    summary = popup.locator(".gridgis-services summary")
    summary.wait_for(timeout=5000)
    assert "部门服务" in summary.inner_text()
    assert recorder.hosts() == {urlparse(server.url).netloc, urlparse(host).netloc}


@pytest.mark.browser
def test_the_message_goes_only_to_the_origin_named(
    recorder: Recorder, host: str, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    page, frame = host_page(
        recorder, host, server, f"?community={community}&origin=https://oa.example.gov.cn"
    )
    code = grids.loc[grids["community_code"] == community, "code"].iloc[0]
    click_at(frame, *inside(grids, code))
    frame.locator(".leaflet-popup-content .gridgis-info").wait_for(timeout=5000)
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.messages") == []


# --- address search and language --------------------------------------------------------------
@pytest.fixture(scope="module")
def known_address(demo_store: SqlStore, grids: gpd.GeoDataFrame) -> tuple[str, str]:
    """One address of the demo base and the grid it lies in."""
    base = demo_store.read_base_layer("addresses")
    row = base[base["building"].notna()].iloc[25]
    index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())
    code = index.lookup([row.geometry.x], [row.geometry.y])[0]
    assert code is not None
    return str(row["address"]), str(code)


@pytest.mark.browser
def test_the_search_box_finds_an_address_and_shows_its_grid(
    recorder: Recorder,
    server: Server,
    grids: gpd.GeoDataFrame,
    known_address: tuple[str, str],
) -> None:
    address, code = known_address
    # Show another community, so the matched grid has to be fetched and added.
    other = grids.loc[grids["community_code"] != code[:12], "community_code"].iloc[0]
    page = open_embed(recorder, server, f"?community={other}")
    page.fill(".gridgis-search input", address)
    page.press(".gridgis-search input", "Enter")
    page.wait_for_selector(".gridgis-search-result[data-grid]", timeout=10000)
    result = page.locator(".gridgis-search-result")
    assert result.get_attribute("data-grid") == code
    text = result.inner_text()
    assert address in text and code in text and "网格员" in text
    # The grid lies in another community: the page fetches it, then selects it.
    page.wait_for_function("code => gridgisEmbed.selected() === code", arg=code, timeout=10000)
    assert page.locator("path.gridgis-address").count() == 1
    page.wait_for_function(  # and zooms to it (the view may still be moving)
        "(code) => gridgisEmbed.map.getBounds().contains("
        "gridgisEmbed.byCode.get(code).getBounds())",
        arg=code,
        timeout=10000,
    )
    # Nonsense gets candidates, each with its text, and the last marker goes.
    search_for(page, "沙河街999号不存在小区")
    page.wait_for_selector(".gridgis-no-match", timeout=10000)
    assert page.inner_text(".gridgis-no-match") == "未找到足够接近的结果，您是否要找："
    candidates = page.locator("button.gridgis-candidate")
    assert candidates.count() > 0
    assert all("沙河街" in t for t in candidates.all_inner_texts())
    assert page.locator("path.gridgis-address").count() == 0
    assert page.evaluate("() => gridgisEmbed.selected()") is None
    # Choosing one shows it at once: its point, its grid; no second search.
    searches = sum("/embed/search" in u for u in recorder.urls)
    candidates.first.click()
    page.wait_for_selector(".gridgis-search-result[data-kind='address']", timeout=10000)
    chosen = page.get_attribute(".gridgis-search-result", "data-grid")
    assert chosen
    page.wait_for_function("code => gridgisEmbed.selected() === code", arg=chosen, timeout=10000)
    assert page.locator("path.gridgis-address").count() == 1
    assert sum("/embed/search" in u for u in recorder.urls) == searches
    assert recorder.errors == []
    assert recorder.hosts() == {urlparse(server.url).netloc}


def search_for(page: Page, text: str) -> None:
    """Type into the search box and submit, after the previous answer has been cleared."""
    page.evaluate(
        "() => { const r = document.querySelector('.gridgis-search-result');"
        " if (r) { r.textContent = ''; delete r.dataset.kind; delete r.dataset.grid; } }"
    )
    page.fill(".gridgis-search input", text)
    page.press(".gridgis-search input", "Enter")


def found_codes(page: Page) -> set[str]:
    """Codes of the grids a search marked (a road's, a community's)."""
    return set(
        page.evaluate(
            """() => [...gridgisEmbed.byCode.entries()]
                .filter(([, l]) => l.getElement()
                    && l.getElement().classList.contains("gridgis-found"))
                .map(([code]) => code)"""
        )
    )


def wait_in_view(page: Page, codes: set[str]) -> None:
    """Wait until the map shows all these grids (it may still be flying there)."""
    page.wait_for_function(
        """(codes) => { const b = L.latLngBounds([]);
            codes.forEach(c => b.extend(gridgisEmbed.byCode.get(c).getBounds()));
            return gridgisEmbed.map.getBounds().pad(0.01).contains(b); }""",
        arg=sorted(codes),
        timeout=10000,
    )


@pytest.mark.browser
def test_a_road_alone_shows_its_grids_and_a_new_search_clears_the_last(
    recorder: Recorder,
    server: Server,
    client: httpx.Client,
    demo_store: SqlStore,
    grids: gpd.GeoDataFrame,
    known_address: tuple[str, str],
) -> None:
    base = demo_store.read_base_layer("addresses")
    doors = base[base["road"] == "沙河街"]
    index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())
    door_grids = set(index.lookup(doors.geometry.x.to_numpy(), doors.geometry.y.to_numpy()))
    answer = client.get("/embed/search", params={"q": "沙河街"}).json()["match"]
    assert answer["kind"] == "road" and door_grids <= set(answer["grids"])
    # A community the road does not reach: its grids must be fetched, all in one request.
    other = grids.loc[~grids["code"].isin(answer["grids"]), "community_code"].iloc[0]
    page = open_embed(recorder, server, f"?community={other}")
    search_for(page, "沙河街")
    page.wait_for_selector(".gridgis-search-result[data-kind='road']", timeout=10000)
    assert page.get_attribute(".gridgis-search-result", "data-grids") == ",".join(answer["grids"])
    page.wait_for_function(
        "n => document.querySelectorAll('path.gridgis-found').length === n",
        arg=len(answer["grids"]),
        timeout=10000,
    )
    assert found_codes(page) == set(answer["grids"])
    wait_in_view(page, set(answer["grids"]))  # fitted to the road's grids
    text = page.inner_text(".gridgis-search-result")
    assert "沙河街" in text and "玉泉社区" in text and str(len(answer["grids"])) in text
    assert sum("grids.geojson" in u and "grid=" in u for u in recorder.urls) == 1

    # An address next: the road's grids are no longer marked; its point and grid are.
    address, code = known_address
    search_for(page, address)
    page.wait_for_selector(".gridgis-search-result[data-kind='address']", timeout=10000)
    page.wait_for_function("code => gridgisEmbed.selected() === code", arg=code, timeout=10000)
    assert found_codes(page) == set()
    assert page.locator("path.gridgis-address").count() == 1

    # A community next: the marker and the selection go, its grids are marked and in view.
    search_for(page, "文昌社区")
    page.wait_for_selector(".gridgis-search-result[data-kind='community']", timeout=10000)
    own = set(grids.loc[grids["community_name"] == "文昌社区", "code"])
    page.wait_for_function(
        "n => document.querySelectorAll('path.gridgis-found').length === n",
        arg=len(own),
        timeout=10000,
    )
    assert found_codes(page) == own
    assert page.locator("path.gridgis-address").count() == 0
    assert page.evaluate("() => gridgisEmbed.selected()") is None
    wait_in_view(page, own)
    assert recorder.errors == []


@pytest.mark.browser
def test_a_misspelt_road_offers_the_road_and_choosing_it_shows_it(
    recorder: Recorder, server: Server, community: str
) -> None:
    page = open_embed(recorder, server, f"?community={community}")
    search_for(page, "沙和街")
    page.wait_for_selector(".gridgis-no-match", timeout=10000)
    first = page.locator("button.gridgis-candidate").first
    assert first.get_attribute("data-kind") == "road"
    assert first.inner_text().startswith("道路 沙河街")
    first.click()
    page.wait_for_selector(".gridgis-search-result[data-kind='road']", timeout=10000)
    page.wait_for_function("() => document.querySelectorAll('path.gridgis-found').length > 0")
    assert page.input_value(".gridgis-search input") == "沙河街"
    assert page.locator(".gridgis-search-result .error").count() == 0
    assert recorder.errors == []


@pytest.mark.browser
def test_a_grid_by_code_name_or_officer_is_selected(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    counts = grids["officer_name"].value_counts()
    by_officer = grids.loc[grids["officer_name"] == counts[counts == 1].index[0]].iloc[0]
    elsewhere = grids.loc[grids["community_code"] != community].iloc[[3, 7]]
    page = open_embed(recorder, server, f"?community={community}")
    for text, code in [
        (elsewhere.iloc[0]["code"], elsewhere.iloc[0]["code"]),
        (elsewhere.iloc[1]["name"], elsewhere.iloc[1]["code"]),
        (by_officer["officer_name"], by_officer["code"]),
    ]:
        search_for(page, text)
        page.wait_for_selector(".gridgis-search-result[data-kind='grid']", timeout=10000)
        page.wait_for_function("code => gridgisEmbed.selected() === code", arg=code, timeout=10000)
        assert page.get_attribute(".gridgis-search-result", "data-grid") == code
        row = grids.loc[grids["code"] == code].iloc[0]
        text_shown = page.inner_text(".gridgis-search-result")
        assert row["name"] in text_shown and row["officer_name"] in text_shown
    assert page.locator("path.gridgis-selected").count() == 1
    assert recorder.errors == []


@pytest.mark.browser
def test_english_labels(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    page = open_embed(recorder, server, f"?community={community}&lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_attribute(".gridgis-search input", "placeholder") == (
        "Address, road, community or grid"
    )
    code = grids.loc[grids["community_code"] == community, "code"].iloc[2]
    click_at(page, *inside(grids, code))
    popup = page.locator(".leaflet-popup-content .gridgis-info")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    for label in ("Grid code", "Officer", "Phone", "Households"):
        assert label in text
    assert "网格编码" not in text and "网格员" not in text


def answer_with(page: Page, pattern: str, status: int, body: dict[str, Any] | None) -> None:
    """Answer requests matching ``pattern`` with this error (``None``: the network fails)."""

    def reply(route: Route) -> None:
        if body is None:
            route.abort("connectionfailed")
        else:
            route.fulfill(status=status, json=body)

    page.route(pattern, reply)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("lang", "code", "status", "shown"),
    [
        ("zh", "version_not_found", 404, "没有该网格版本"),
        ("zh", "no_published_version", 404, "尚未发布任何网格版本"),
        ("zh", "grid_not_found", 404, "当前版本中没有该网格"),
        ("zh", "community_not_found", 404, "当前版本中没有该社区"),
        ("zh", "some_new_code", 500, "出错了，请稍后再试"),
        ("zh", None, 0, "无法连接服务器，请检查网络"),
        ("en", "version_not_found", 404, "No such grid version"),
        ("en", "some_new_code", 500, "Something went wrong. Please try again later"),
    ],
)
def test_search_errors_are_told_by_their_code_in_the_page_language(
    recorder: Recorder,
    server: Server,
    community: str,
    lang: str,
    code: str | None,
    status: int,
    shown: str,
) -> None:
    page = open_embed(recorder, server, f"?community={community}&lang={lang}")
    english = "the server's own words, in English"
    body = None if code is None else {"error": english, "code": code}
    answer_with(page, "**/embed/search?*", status, body)
    search_for(page, "沙河街")
    page.wait_for_selector(".gridgis-search-result .error", timeout=10000)
    assert page.inner_text(".gridgis-search-result .error") == shown
    assert english not in page.inner_text("body")


@pytest.mark.browser
def test_a_real_error_from_the_server_is_shown_in_chinese(
    recorder: Recorder, server: Server, community: str
) -> None:
    page = open_embed(recorder, server, f"?community={community}")
    search_for(page, "沙河街" * 70)  # longer than the search accepts: invalid_value
    page.wait_for_selector(".gridgis-search-result .error", timeout=10000)
    assert page.inner_text(".gridgis-search-result .error") == "输入的内容无效"


@pytest.mark.browser
def test_a_failed_load_is_told_by_its_code(recorder: Recorder, server: Server) -> None:
    page = recorder.page
    answer_with(
        page, "**/embed/grids.geojson*", 404, {"error": "none", "code": "no_published_version"}
    )
    page.goto(f"{server.url}/embed", wait_until="load")
    page.wait_for_selector("body[data-ready='error']", timeout=15000)
    assert page.inner_text("#gridgis-status") == "加载失败: 尚未发布任何网格版本"


@pytest.mark.browser
def test_a_basemap_is_the_only_other_host(
    recorder: Recorder, server: Server, community: str
) -> None:
    """With basemap=osm tiles are asked of OpenStreetMap (answered here, offline)."""
    page = recorder.page
    tiles: list[str] = []

    def tile(route: Route) -> None:
        tiles.append(route.request.url)
        route.fulfill(status=204)

    page.route("https://tile.openstreetmap.org/**", tile)
    open_embed(recorder, server, f"?community={community}&basemap=osm")
    page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile').length > 0")
    assert tiles and all(re.search(r"/\d+/\d+/\d+\.png$", u) for u in tiles)
    assert recorder.hosts() == {urlparse(server.url).netloc, "tile.openstreetmap.org"}
    # Our streets and compounds are not drawn over a basemap unless asked for.
    assert page.locator("path.gridgis-street").count() == 0


# --- over plain HTTP ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("community=999999999999", 404),
        ("version=no-such-version", 404),
        ("lang=fr", 422),
        ("layers=grids,buildings", 422),
        ("layers=", 422),
        ("basemap=javascript:alert(1)", 422),
        ("basemap=https://tiles.example/{z}/{x}.png", 422),
        ("basemap=https://tiles.example/{z}/{x}/{y}.png?k={key}", 422),
        ("basemap=ftp://tiles.example/{z}/{x}/{y}.png", 422),
        ('basemap=https://tiles.example/{z}/{x}/{y}.png"><script>', 422),
        ("basemap=tianditu", 422),  # no GRIDGIS_TIANDITU_KEY on the test server
        ("origin=javascript:alert(1)", 422),
        ("origin=https://oa.example/path", 422),
    ],
)
def test_bad_parameters(client: httpx.Client, query: str, status: int) -> None:
    response = client.get(f"/embed?{query}")
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_data_endpoints_refuse_bad_input(client: httpx.Client) -> None:
    assert client.get("/embed/grids.geojson", params={"grid": "nope"}).status_code == 404
    too_many = ",".join(str(i) for i in range(501))
    assert client.get("/embed/grids.geojson", params={"grid": too_many}).status_code == 422
    assert client.get("/embed/grids.geojson", params={"grid": ","}).status_code == 422
    assert client.get("/embed/search", params={"q": ""}).status_code == 422
    assert client.get("/embed/search", params={"q": "x" * 201}).json()["code"] == "invalid_value"
    assert client.get("/embed/grids/nope.json").status_code == 404
    assert client.get("/embed/context.geojson", params={"layer": "buildings"}).status_code == 422
    assert client.get("/embed/context.geojson", params={"layer": "streets"}).status_code == 422
    wide = {"layer": "streets", "bbox": "104,31,105,32"}
    assert client.get("/embed/context.geojson", params=wide).status_code == 422
    assert client.get("/embed/assets/../app.py").status_code == 404
    assert client.get("/embed/assets/leaflet.js").status_code == 404


def test_the_page_is_frameable_and_locked_to_our_server(client: httpx.Client) -> None:
    response = client.get("/embed")
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert "img-src 'self' data:;" in csp  # no basemap: no other host at all
    for src in re.findall(r'(?:src|href)="([^"]+)"', response.text):
        if src == "data:,":  # the empty favicon: no request at all
            continue
        assert src.startswith("/"), src
        assert client.get(src).status_code == 200


def _config(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="gridgis-embed-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found
    return dict(json.loads(found.group(1)))


def _coords(feature: dict[str, Any]) -> np.ndarray:
    geometry = feature["geometry"]
    rings = geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        rings = [ring for polygon in rings for ring in polygon]
    return np.array([xy for ring in rings for xy in ring], dtype=np.float64)


def test_amap_shifts_our_geometries_to_gcj02(
    client: httpx.Client, grids: gpd.GeoDataFrame, known_address: tuple[str, str]
) -> None:
    code = str(grids["code"].iloc[0])
    config = _config(client.get("/embed", params={"grid": code, "basemap": "amap"}).text)
    assert config["basemap"]["name"] == "amap" and "autonavi.com" in config["basemap"]["url"]
    assert "shift=gcj02" in config["urls"]["grids"]
    assert "shift=gcj02" in config["urls"]["context"] and "shift=gcj02" in config["urls"]["address"]
    assert config["layers"] == ["grids"]

    plain = client.get("/embed/grids.geojson", params={"grid": code}).json()["features"][0]
    shifted = client.get("/embed/grids.geojson", params={"grid": code, "shift": "gcj02"}).json()[
        "features"
    ][0]
    assert shifted["properties"] == plain["properties"]
    a, b = _coords(plain), _coords(shifted)
    lon, lat = wgs84_to_shifted(a[:, 0], a[:, 1], "gcj02")
    assert np.allclose(b[:, 0], lon, atol=2e-6) and np.allclose(b[:, 1], lat, atol=2e-6)
    dx = (b[:, 0] - a[:, 0]) * 111_320 * math.cos(math.radians(a[0, 1]))
    dy = (b[:, 1] - a[:, 1]) * 110_540
    metres = np.hypot(dx, dy)
    assert metres.min() > 100 and metres.max() < 1000  # a few hundred metres, as GCJ-02 is

    # Context layers and the address search shift the same way.
    community = code[:12]
    streets = [
        client.get(
            "/embed/context.geojson", params={"layer": "streets", "community": community, **extra}
        ).json()["features"]
        for extra in ({}, {"shift": "gcj02"})
    ]
    assert len(streets[0]) == len(streets[1]) > 0
    first, moved = (
        np.array(streets[0][0]["geometry"]["coordinates"][0][0]),
        np.array(streets[1][0]["geometry"]["coordinates"][0][0]),
    )
    expected = wgs84_to_shifted(first[:1], first[1:], "gcj02")
    assert np.allclose(moved, np.concatenate(expected), atol=2e-6)

    address, grid = known_address
    plain_match = client.get("/embed/address", params={"q": address}).json()
    moved_match = client.get("/embed/address", params={"q": address, "shift": "gcj02"}).json()
    assert plain_match["grid"]["code"] == moved_match["grid"]["code"] == grid
    lon1, lat1 = wgs84_to_shifted(
        np.array([plain_match["match"]["lon"]]), np.array([plain_match["match"]["lat"]]), "gcj02"
    )
    assert moved_match["match"]["lon"] == pytest.approx(float(lon1[0]), abs=1e-6)
    assert moved_match["match"]["lat"] == pytest.approx(float(lat1[0]), abs=1e-6)


def test_grid_details_list_department_services(
    client: httpx.Client, grids: gpd.GeoDataFrame
) -> None:
    row = grids.loc[grids["kind"] == "综合"].iloc[0]
    body = client.get(f"/embed/grids/{row['code']}.json").json()
    assert body["code"] == row["code"]
    assert body["officer"] == {"name": row["officer_name"], "phone": row["officer_phone"]}
    departments = [s["department"] for s in body["services"]]
    assert "公安" in departments and len(departments) == len(set(departments))
    assert all(0 < s["cover"] <= 1 and s["attributes"] for s in body["services"])


def test_several_grids_in_one_request(client: httpx.Client, grids: gpd.GeoDataFrame) -> None:
    codes = grids["code"].iloc[[2, 40, 7]].tolist()
    body = client.get("/embed/grids.geojson", params={"grid": ",".join(codes)}).json()
    assert sorted(f["properties"]["code"] for f in body["features"]) == sorted(codes)
    missing = client.get("/embed/grids.geojson", params={"grid": f"{codes[0]},nope"})
    assert missing.status_code == 404 and missing.json()["code"] == "grid_not_found"


def test_search_and_address_are_both_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/embed/search", "/embed/address"} <= set(paths)
    assert "road" in paths["/embed/search"]["get"]["responses"]["200"]["description"]


def test_the_search_shifts_points_and_boxes_for_gcj02(
    client: httpx.Client, known_address: tuple[str, str]
) -> None:
    address, _ = known_address
    for q in (address, "沙河街"):
        plain = client.get("/embed/search", params={"q": q}).json()["match"]
        moved = client.get("/embed/search", params={"q": q, "shift": "gcj02"}).json()["match"]
        assert moved["grids"] == plain["grids"] and moved["kind"] == plain["kind"]
        box = np.array(plain["bbox"])
        lon, lat = wgs84_to_shifted(box[[0, 2]], box[[1, 3]], "gcj02")
        assert np.allclose(moved["bbox"], [lon[0], lat[0], lon[1], lat[1]], atol=1e-6)
        if plain["point"]:
            x, y = wgs84_to_shifted(
                np.array([plain["point"]["lon"]]), np.array([plain["point"]["lat"]]), "gcj02"
            )
            assert moved["point"]["lon"] == pytest.approx(float(x[0]), abs=1e-6)
            assert moved["point"]["lat"] == pytest.approx(float(y[0]), abs=1e-6)
    config = _config(client.get("/embed", params={"basemap": "amap"}).text)
    assert "shift=gcj02" in config["urls"]["search"]


# --- a grid code the version no longer has ---------------------------------------------------
RETIRED = "510603001001001"
SPLIT_INTO = ("510603001001011", "510603001001012")  # 60% and 40% of the retired grid's area


@pytest.fixture
def redrawn(settings: Settings, store: SqlStore) -> Iterator[Server]:
    """A server whose published version split one grid of the version before in two."""
    save_boxes(store, "v1", {RETIRED: (104.390, 31.120, 104.400, 31.130)})
    save_boxes(
        store,
        "v2",
        {
            SPLIT_INTO[0]: (104.390, 31.120, 104.396, 31.130),
            SPLIT_INTO[1]: (104.396, 31.120, 104.400, 31.130),
        },
    )
    store.publish("v1", "t")
    store.publish("v2", "t")
    with Server(settings) as srv:
        yield srv


def test_a_retired_grid_code_gets_a_readable_page_with_its_successors(redrawn: Server) -> None:
    with redrawn.client(timeout=60) as http:
        kept = "&layers=grids&origin=https://oa.example.gov.cn&basemap=osm"
        response = http.get(f"/embed?grid={RETIRED}{kept}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        page_csp = http.get("/embed?layers=grids").headers["content-security-policy"]
        assert csp == page_csp and "default-src 'self'" in csp
        text = response.text
        assert '<html lang="zh-CN">' in text and "网格已不存在" in text
        assert f"网格 {RETIRED} 在当前版本（v2）中已不存在" in text
        assert "最后出现在版本 v1，名为“v1 001”" in text
        assert "占原网格面积 60%" in text and "占原网格面积 40%" in text
        assert text.index(SPLIT_INTO[0]) < text.index(SPLIT_INTO[1])  # largest share first
        links = re.findall(r'<a class="gridgis-successor" href="([^"]+)"', text)
        assert len(links) == 2
        first = parse_qs(urlparse(html.unescape(links[0])).query)
        assert first == {
            "grid": [SPLIT_INTO[0]],
            "layers": ["grids"],
            "basemap": ["osm"],
            "origin": ["https://oa.example.gov.cn"],
        }
        assert "{" not in text  # every label's placeholders filled in

        english = http.get(f"/embed?grid={RETIRED}&lang=en").text
        assert '<html lang="en">' in english and "Grid no longer exists" in english
        assert "60% of its former area" in english and "网格" not in english
        assert "lang=en" in english

        unknown = http.get("/embed?grid=510603001001999")
        assert unknown.status_code == 404 and "没有任何版本包含该网格编码" in unknown.text
        assert "已不存在" not in unknown.text


@pytest.mark.browser
def test_the_retired_page_leads_to_the_successor_on_the_map(
    recorder: Recorder, redrawn: Server
) -> None:
    page = recorder.page
    page.goto(f"{redrawn.url}/embed?grid={RETIRED}", wait_until="load")
    assert page.inner_text("h1") == "网格已不存在"
    page.click(f"li[data-code='{SPLIT_INTO[0]}'] a")
    page.wait_for_selector("body[data-ready]", timeout=15000)
    assert page.get_attribute("body", "data-ready") == "1"
    assert page.evaluate("() => gridgisEmbed.selected()") == SPLIT_INTO[0]
    assert recorder.errors == []
    assert recorder.hosts() == {urlparse(redrawn.url).netloc}
