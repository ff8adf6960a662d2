"""The embeddable map page (``/embed``): parameters checked here, the page rendered from
``templates/embed.html``.

The page is a thin HTML shell; ``static/embed/embed.js`` draws everything from the JSON
endpoints in :mod:`api.routes.embed`. All assets come from our own server, so with no
basemap (the default) the page never makes a request to another host; the
Content-Security-Policy makes that a guarantee rather than a promise.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from api.rendering import render_page
from gridgis.errors import InvalidValueError
from gridgis.i18n import HTML_LANG, Lang
from gridgis.settings import Settings

Shift = Literal["none", "gcj02"]

ASSET_DIR = Path(__file__).resolve().parent / "static" / "embed"
ASSETS = {"embed.js": "text/javascript", "embed.css": "text/css"}
LEAFLET_JS = "/static/leaflet/leaflet.js"
LEAFLET_CSS = "/static/leaflet/leaflet.css"

LAYERS = ("grids", "streets", "compounds", "communities")
# Our own streets and compounds are the context when there is no basemap; over a basemap
# they would only repeat it.
DEFAULT_LAYERS = ("grids", "streets", "compounds")
DEFAULT_LAYERS_OVER_BASEMAP = ("grids",)

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "网格地图",
        "code": "网格编码",
        "name": "网格名称",
        "kind": "类型",
        "community": "社区",
        "subdistrict": "街道",
        "households": "户数",
        "population": "人口",
        "officer": "网格员",
        "phone": "电话",
        "party_branch": "党支部",
        "services": "部门服务",
        "search": "搜索地址、道路、社区或网格",
        "search_button": "搜索",
        "searching": "正在搜索…",
        "no_match": "未找到足够接近的结果，您是否要找：",
        "no_results": "未找到结果",
        "several": "找到多个结果，请选择：",
        "matched": "匹配地址",
        "score": "匹配度",
        "grid": "所属网格",
        "no_grid": "该地址不在任何网格内",
        "kind_address": "地址",
        "kind_road": "道路",
        "kind_community": "社区",
        "kind_grid": "网格",
        "road": "道路",
        "communities": "途经社区",
        "community_code": "社区编码",
        "grid_count": "网格数",
        "road_no_grid": "该道路不在任何网格内",
        "loading": "正在加载…",
        "load_failed": "加载失败",
        "no_grids": "没有可显示的网格",
        "layer_grids": "网格",
        "layer_streets": "街巷",
        "layer_compounds": "小区",
        "layer_communities": "社区边界",
        # Errors by their machine code: the page never shows the server's English text.
        "error_no_address_match": "未找到足够接近的地址",
        "error_no_address_base": "尚未导入标准地址库",
        "error_grid_not_found": "当前版本中没有该网格",
        "error_community_not_found": "当前版本中没有该社区",
        "error_version_not_found": "没有该网格版本",
        "error_no_published_version": "尚未发布任何网格版本",
        "error_no_version_then": "该时间没有生效的网格版本",
        "error_invalid_value": "输入的内容无效",
        "error_not_found": "未找到",
        "error_generic": "出错了，请稍后再试",
        "error_network": "无法连接服务器，请检查网络",
        # The page for a grid code the version shown no longer has.
        "retired_title": "网格已不存在",
        "retired_lead": "网格 {code} 在当前版本（{version}）中已不存在。",
        "retired_last": "该编码最后出现在版本 {version}，名为“{name}”。",
        "retired_now": "现在覆盖其原范围的网格：",
        "retired_share": "占原网格面积 {share}",
        "retired_open": "在地图上查看",
        "retired_uncovered": "原范围中有 {share} 现在不属于任何网格。",
        "retired_no_successor": "其原范围现在不属于任何网格。",
        "retired_unknown": "没有任何版本包含该网格编码，请检查链接。",
        "missing_title": "未找到该网格",
        "missing_lead": "当前版本（{version}）中没有网格 {code}。",
        "retired_all": "查看全部网格",
    },
    "en": {
        "title": "Grid map",
        "code": "Grid code",
        "name": "Grid name",
        "kind": "Type",
        "community": "Community",
        "subdistrict": "Subdistrict",
        "households": "Households",
        "population": "Population",
        "officer": "Officer",
        "phone": "Phone",
        "party_branch": "Party branch",
        "services": "Department services",
        "search": "Address, road, community or grid",
        "search_button": "Search",
        "searching": "Searching…",
        "no_match": "Nothing close enough. Did you mean:",
        "no_results": "Nothing found",
        "several": "Several places match. Choose one:",
        "matched": "Matched address",
        "score": "Score",
        "grid": "Grid",
        "no_grid": "The address lies in no grid",
        "kind_address": "Address",
        "kind_road": "Road",
        "kind_community": "Community",
        "kind_grid": "Grid",
        "road": "Road",
        "communities": "Communities",
        "community_code": "Community code",
        "grid_count": "Grids",
        "road_no_grid": "The road lies in no grid",
        "loading": "Loading…",
        "load_failed": "Could not load",
        "no_grids": "No grids to show",
        "layer_grids": "Grids",
        "layer_streets": "Streets",
        "layer_compounds": "Compounds",
        "layer_communities": "Community boundaries",
        "error_no_address_match": "No address close enough",
        "error_no_address_base": "No standard address base has been imported yet",
        "error_grid_not_found": "This version has no such grid",
        "error_community_not_found": "This version has no such community",
        "error_version_not_found": "No such grid version",
        "error_no_published_version": "No grid version has been published yet",
        "error_no_version_then": "No grid version was in force then",
        "error_invalid_value": "The value given is not valid",
        "error_not_found": "Not found",
        "error_generic": "Something went wrong. Please try again later",
        "error_network": "Cannot reach the server. Check the network",
        "retired_title": "Grid no longer exists",
        "retired_lead": "Grid {code} no longer exists in the current version ({version}).",
        "retired_last": "The code was last used in version {version}, for “{name}”.",
        "retired_now": "The grids that now cover its former area:",
        "retired_share": "{share} of its former area",
        "retired_open": "Show on the map",
        "retired_uncovered": "{share} of its former area now lies in no grid.",
        "retired_no_successor": "Its former area now lies in no grid.",
        "retired_unknown": "No version has a grid with this code. Please check the link.",
        "missing_title": "No such grid",
        "missing_lead": "The current version ({version}) has no grid {code}.",
        "retired_all": "Show all grids",
    },
}
KIND_LABELS: dict[str, dict[str, str]] = {
    "zh": {},
    "en": {"综合": "Comprehensive", "专属": "Dedicated"},
}

TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
AMAP = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
TEMPLATE_VARS = {"s", "x", "y", "z", "r"}  # what Leaflet's TileLayer fills in by itself


@dataclass(frozen=True)
class Basemap:
    """A raster tile layer for Leaflet, plus the shift our geometries need to sit on it."""

    name: str
    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 18
    shift: Shift = "none"
    overlay_url: str | None = None  # Tianditu's labels come as a second layer

    def source(self) -> str:
        """The CSP source that admits this basemap's tile hosts (all subdomains)."""
        parts = urlsplit(self.url)
        host = parts.netloc
        if "{" in host:  # e.g. t{s}.tianditu.gov.cn: admit the parent domain's subdomains
            labels = host.split(".")
            rest = [label for label in labels if "{" not in label]
            host = "*." + ".".join(rest) if "{" in labels[0] and len(rest) >= 2 else ""
        return f"{parts.scheme}://{host}" if host else f"{parts.scheme}:"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "overlay_url": self.overlay_url,
            "attribution": self.attribution,
            "subdomains": self.subdomains,
            "max_zoom": self.max_zoom,
        }


def resolve_basemap(value: str, lang: Lang, settings: Settings) -> Basemap | None:
    """``none``, a named basemap (keys from settings), or a checked tile template URL."""
    name = value.strip()
    if name in ("", "none"):
        return None
    if name == "tianditu":
        key = settings.tianditu_key
        if not key:
            raise InvalidValueError(
                "basemap=tianditu needs a Tianditu key on the server (GRIDGIS_TIANDITU_KEY)"
            )
        labels = "cva" if lang == "zh" else "eva"
        tk = quote(key, safe="")
        return Basemap(
            "tianditu",
            TIANDITU.replace("{layer}", "vec").replace("{key}", tk),
            "© 天地图 Tianditu",
            subdomains="01234567",
            overlay_url=TIANDITU.replace("{layer}", labels).replace("{key}", tk),
        )
    if name == "amap":
        url = AMAP.replace("{lang}", "zh_cn" if lang == "zh" else "en")
        if settings.amap_key:
            url += "&key=" + quote(settings.amap_key, safe="")
        return Basemap("amap", url, "© 高德地图 AutoNavi", subdomains="1234", shift="gcj02")
    if name == "osm":
        return Basemap("osm", OSM, "© OpenStreetMap contributors", max_zoom=19)
    return Basemap("custom", check_template(name), urlsplit(name).netloc or "basemap")


def check_template(url: str) -> str:
    """A custom tile template: http(s), a host, ``{z}``/``{x}``/``{y}``, nothing to execute."""
    hint = "use none, tianditu, amap, osm or an http(s) tile URL with {z}, {x} and {y}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidValueError(f"basemap {url!r} is not an http(s) URL: {hint}")
    if any(c.isspace() or c in "\"'<>\\`" for c in url):
        raise InvalidValueError(f"basemap {url!r} has characters a URL cannot have")
    names = set(PLACEHOLDER.findall(url))
    if not {"x", "y", "z"} <= names:
        raise InvalidValueError(f"basemap {url!r} lacks {{z}}, {{x}} or {{y}}: {hint}")
    unknown = names - TEMPLATE_VARS
    if unknown:
        raise InvalidValueError(
            f"basemap {url!r} has placeholders {sorted(unknown)}: only {{s}}, {{z}}, {{x}}, "
            "{y} and {r} are filled in"
        )
    return url


def parse_layers(value: str | None, basemap: Basemap | None) -> list[str]:
    if value is None:
        return list(DEFAULT_LAYERS if basemap is None else DEFAULT_LAYERS_OVER_BASEMAP)
    chosen = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in LAYERS]
    if unknown or not chosen:
        raise InvalidValueError(
            f"layers={value!r}: choose from {', '.join(LAYERS)} (comma-separated)"
        )
    return list(dict.fromkeys(chosen))


def parse_origin(value: str) -> str:
    """The ``postMessage`` target origin: ``*`` or one http(s) origin (no path)."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise InvalidValueError(
            f"origin={value!r} is not an origin: use * or e.g. https://oa.example.gov.cn"
        )
    return f"{parts.scheme}://{parts.netloc}"


@cache
def asset_version(name: str) -> str:
    """A content hash for cache-busting, so assets can be cached for a long time."""
    return hashlib.sha256((ASSET_DIR / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/embed/assets/{name}?v={asset_version(name)}"


@dataclass(frozen=True)
class EmbedPage:
    """What one ``/embed`` request asks the page to show; ``urls`` are the data endpoints."""

    lang: Lang
    layers: list[str]
    basemap: Basemap | None
    origin: str
    grid: str | None
    community: str | None
    title: str
    urls: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "labels": LABELS[self.lang],
            "kinds": KIND_LABELS[self.lang],
            "layers": self.layers,
            "basemap": None if self.basemap is None else self.basemap.to_json(),
            "origin": self.origin,
            "grid": self.grid,
            "community": self.community,
            "urls": self.urls,
        }

    def csp(self) -> str:
        return page_csp(self.basemap)


def page_csp(basemap: Basemap | None) -> str:
    """The Content-Security-Policy of the embed's pages: our server only, and the
    basemap's tile hosts for images."""
    tiles = "" if basemap is None else " " + basemap.source()
    return (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src 'self' data:{tiles}; style-src 'self' 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; object-src 'none'"
    )


def render_embed(page: EmbedPage) -> str:
    return render_page(
        "embed.html",
        {
            "html_lang": HTML_LANG[page.lang],
            "title": page.title,
            "config": page.config(),
            "leaflet_css": LEAFLET_CSS,
            "leaflet_js": LEAFLET_JS,
            "embed_css": asset_url("embed.css"),
            "embed_js": asset_url("embed.js"),
        },
    )
