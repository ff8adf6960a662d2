"""The Leaflet map page, built with folium; every asset comes from our own server."""

from __future__ import annotations

import folium

from gridgis.geojson import feature_collection
from gridgis.jsonio import json_loads
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


def render_map(store: Store, loaded: LoadedVersion) -> str:
    grids = loaded.grids
    minx, miny, maxx, maxy = grids.total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=15,
        control_scale=True,
        prefer_canvas=False,
    )
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    title = folium.Element(f"<title>gridgis · {loaded.info.name}</title>")
    m.get_root().header.add_child(title)  # type: ignore[attr-defined]

    streets = store.read_base_layer("streets")
    if len(streets):
        folium.GeoJson(
            json_loads(feature_collection(streets, ["name", "class"], id_field=None)),
            name="街巷",
            style_function=lambda f: {
                "color": "#888",
                "opacity": 0.8,
                "weight": {"arterial": 4, "street": 2.5}.get(f["properties"]["class"], 1.2),
            },
            interactive=False,
        ).add_to(m)
    fields = [f for f, _ in POPUP_FIELDS]
    aliases = [a for _, a in POPUP_FIELDS]
    folium.GeoJson(
        json_loads(feature_collection(grids, fields)),
        name=f"网格 {loaded.info.name}",
        style_function=lambda f: {
            "color": "#08306b",
            "weight": 1.5,
            "fillColor": KIND_COLOURS.get(f["properties"]["kind"], "#2b8cbe"),
            "fillOpacity": 0.25,
        },
        highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.45},
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["网格编码", "网格名称"]),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases),
    ).add_to(m)
    communities = store.read_base_layer("communities")
    if len(communities):
        folium.GeoJson(
            json_loads(feature_collection(communities, ["code", "name"])),
            name="社区",
            style_function=lambda _f: {"color": "#000", "weight": 2.5, "fill": False},
            interactive=False,
        ).add_to(m)
    m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]])
    folium.LayerControl(collapsed=False).add_to(m)
    return str(m.get_root().render())
