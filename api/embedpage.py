"""The embeddable map page (``/embed``): parameters checked here, HTML rendered here.

The page is a thin HTML shell; ``static/embed/embed.js`` draws everything from the JSON
endpoints in :mod:`api.routes.embed`. All assets come from our own server, so with no
basemap (the default) the page never makes a request to another host; the
Content-Security-Policy makes that a guarantee rather than a promise.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from gridgis.errors import InvalidValueError
from gridgis.jsonio import json_dumps
from gridgis.settings import Settings

Lang = Literal["zh", "en"]
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
        "search": "搜索地址",
        "search_button": "搜索",
        "searching": "正在搜索…",
        "no_match": "未找到足够接近的地址，您是否要找：",
        "matched": "匹配地址",
        "score": "匹配度",
        "grid": "所属网格",
        "no_grid": "该地址不在任何网格内",
        "loading": "正在加载…",
        "load_failed": "加载失败",
        "no_grids": "没有可显示的网格",
        "layer_grids": "网格",
        "layer_streets": "街巷",
        "layer_compounds": "小区",
        "layer_communities": "社区边界",
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
        "search": "Search address",
        "search_button": "Search",
        "searching": "Searching…",
        "no_match": "No address close enough. Did you mean:",
        "matched": "Matched address",
        "score": "Score",
        "grid": "Grid",
        "no_grid": "The address lies in no grid",
        "loading": "Loading…",
        "load_failed": "Could not load",
        "no_grids": "No grids to show",
        "layer_grids": "Grids",
        "layer_streets": "Streets",
        "layer_compounds": "Compounds",
        "layer_communities": "Community boundaries",
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
        tiles = "" if self.basemap is None else " " + self.basemap.source()
        return (
            "default-src 'self'; script-src 'self'; connect-src 'self'; "
            f"img-src 'self' data:{tiles}; style-src 'self' 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'; object-src 'none'"
        )


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: no '</script>' or comment openers can appear."""
    text = json_dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_embed(page: EmbedPage) -> str:
    lang = "zh-CN" if page.lang == "zh" else "en"
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="strict-origin-when-cross-origin">
<title>{html.escape(page.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{LEAFLET_CSS}">
<link rel="stylesheet" href="{asset_url("embed.css")}">
</head>
<body>
<div id="map" role="application" aria-label="{html.escape(page.title)}"></div>
<div id="gridgis-status" role="status" aria-live="polite"></div>
<script id="gridgis-embed-config" type="application/json">{_script_json(page.config())}</script>
<script src="{LEAFLET_JS}"></script>
<script src="{asset_url("embed.js")}"></script>
</body>
</html>
"""
