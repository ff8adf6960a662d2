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
from playwright.sync_api import Browser, Frame, Page, Route, sync_playwright

from gridgis.crs import wgs84_to_shifted
from gridgis.lookup import GridIndex
from gridgis.store import SqlStore
from tests.conftest import CHROMIUM_ARGS, Server

SELECTED_COLOUR = "#d7301f"


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


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
    does not move between measuring it and clicking it.
    """
    xy = target.evaluate(
        """([lat, lon]) => {
            const map = gridgisEmbed.map;
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
    # Nonsense gets candidates, not an error.
    page.fill(".gridgis-search input", "沙河街999号不存在小区")
    page.press(".gridgis-search input", "Enter")
    page.wait_for_selector(".gridgis-no-match", timeout=10000)
    assert recorder.errors == []
    assert recorder.hosts() == {urlparse(server.url).netloc}


@pytest.mark.browser
def test_english_labels(
    recorder: Recorder, server: Server, grids: gpd.GeoDataFrame, community: str
) -> None:
    page = open_embed(recorder, server, f"?community={community}&lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_attribute(".gridgis-search input", "placeholder") == "Search address"
    code = grids.loc[grids["community_code"] == community, "code"].iloc[2]
    click_at(page, *inside(grids, code))
    popup = page.locator(".leaflet-popup-content .gridgis-info")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    for label in ("Grid code", "Officer", "Phone", "Households"):
        assert label in text
    assert "网格编码" not in text and "网格员" not in text


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
        ("grid=999999999999999", 404),
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
