"""The Leaflet map page (``/map``), built with folium; every asset comes from our own server.

The page holds no geometry: each layer is a :class:`GeoJsonByUrl` the browser fills from
our JSON endpoints (the grids from ``/api/grids``, the context from
``/embed/context.geojson``), which are cached and gzipped, so the page stays a few
kilobytes at city scale and its layers load beside each other instead of inside it.
Streets, too many for a whole city, load for what is in view once zoomed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import folium
import folium.map
from folium import Figure

from api.rendering import template
from gridgis.i18n import DEFAULT_LANG, HTML_LANG, Lang
from gridgis.lookup import LoadedVersion
from gridgis.store.base import Store

LEAFLET_JS = "/static/leaflet/leaflet.js"
LEAFLET_CSS = "/static/leaflet/leaflet.css"
POPUP_FIELDS = [
    ("code", "网格编码"),
    ("name", "网格名称"),
    ("kind", "类型"),
    ("community_name", "社区"),
    ("subdistrict_name", "街道"),
    ("households", "户数"),
    ("population", "人口"),
    ("officer_name", "网格员"),
    ("officer_phone", "电话"),
]
KIND_COLOURS = {"综合": "#2b8cbe", "专属": "#e6550d"}
STREET_WEIGHTS = {"arterial": 4, "street": 2.5}
# Closer than this a viewport (padded) stays under the context endpoint's 0.25° a side.
STREETS_MIN_ZOOM = 15


class MapPage(Figure):  # type: ignore[misc]
    """The page around a folium map, from our template (escaped title, ``<html lang>``)."""

    _template = template("map/figure.html")

    def __init__(self, title: str, lang: Lang = DEFAULT_LANG) -> None:
        super().__init__(title=title)
        self.html_lang = HTML_LANG[lang]


class GeoJsonByUrl(folium.map.Layer):  # type: ignore[misc]
    """A folium layer whose GeoJSON the browser fetches from ``url``, not from the page.

    ``style`` is Leaflet path options; ``style_by`` sets an option from a property
    (``{"fillColor": ("kind", {"综合": "#2b8cbe"}, "#2b8cbe")}``: property, values,
    otherwise). ``popup`` lists (property, label) rows of a click's popup, ``tooltip`` the
    properties shown on hover. With ``min_zoom`` the layer holds what is in view: fetched
    again with ``bbox=`` after each move at that zoom or closer, empty further out.
    """

    _template = template("map/geojson.js")

    def __init__(
        self,
        url: str,
        name: str,
        style: dict[str, Any],
        *,
        style_by: dict[str, tuple[str, dict[str, Any], Any]] | None = None,
        popup: Sequence[tuple[str, str]] = (),
        tooltip: Sequence[str] = (),
        highlight: dict[str, Any] | None = None,
        min_zoom: int | None = None,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "GeoJsonByUrl"
        rules = style_by or {}
        self.spec = {
            "url": url,
            "style": style,
            "style_by": {
                key: {"property": prop, "values": values, "otherwise": otherwise}
                for key, (prop, values, otherwise) in rules.items()
            },
            "popup": [list(p) for p in popup],
            "tooltip": list(tooltip),
            "highlight": highlight,
            "interactive": bool(popup or tooltip),
            "min_zoom": min_zoom,
        }

    def render(self, **kwargs: Any) -> Any:
        # The code all such layers share goes into the page once (same name: same child).
        root = self.get_root()
        assert isinstance(root, Figure), "a layer renders inside a page"
        library = self._template.module.__dict__["library"]
        root.script.add_child(folium.Element(library()), name="gridgis_geojson_by_url")
        return super().render(**kwargs)  # type: ignore[no-untyped-call]


def _url(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def render_map(store: Store, loaded: LoadedVersion) -> str:
    """The page for ``loaded``: its grids, with streets and community outlines if imported."""
    minx, miny, maxx, maxy = (float(v) for v in loaded.grids.total_bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=15,
        control_scale=True,
        prefer_canvas=False,
    )
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    page = MapPage(f"gridgis · {loaded.info.name}")
    page.add_child(m)

    kinds = {layer.kind for layer in store.list_layers()}
    context = "/embed/context.geojson"
    if "streets" in kinds:
        GeoJsonByUrl(
            _url(context, layer="streets"),
            "街巷",
            {"color": "#888", "opacity": 0.8, "weight": 1.2, "className": "gridgis-street"},
            style_by={"weight": ("class", STREET_WEIGHTS, 1.2)},
            min_zoom=STREETS_MIN_ZOOM,
        ).add_to(m)
    GeoJsonByUrl(
        _url("/api/grids", version=loaded.info.name),
        f"网格 {loaded.info.name}",
        {"color": "#08306b", "weight": 1.5, "fillOpacity": 0.25, "className": "gridgis-grid"},
        style_by={"fillColor": ("kind", KIND_COLOURS, KIND_COLOURS["综合"])},
        popup=POPUP_FIELDS,
        tooltip=["code", "name"],
        highlight={"weight": 3, "fillOpacity": 0.45},
    ).add_to(m)
    if "communities" in kinds:
        GeoJsonByUrl(
            _url(context, layer="communities"),
            "社区",
            {"color": "#000", "weight": 2.5, "fill": False, "className": "gridgis-community"},
        ).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.LayerControl(collapsed=False).add_to(m)
    return str(page.render())
