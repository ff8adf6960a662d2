"""``f=html``: plain pages over the JSON documents, for people following links in a browser.

Every value is escaped; feature geometry goes to a small Leaflet map (served by us, no
basemap, so it works offline) as JSON with ``<`` escaped, so no property can end the
script.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from gridgis.jsonio import json_dumps
from gridgis.ogc import media
from gridgis.ogc.links import ROOT, Urls, collection_path, items_path

LEAFLET_JS = "/static/leaflet/leaflet.js"
LEAFLET_CSS = "/static/leaflet/leaflet.css"
_STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}nav{margin-bottom:1em}
#map{height:360px;margin:1em 0;border:1px solid #ccc}.muted{color:#777}
"""


def _a(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _html_link(doc: dict[str, Any], rel: str) -> str | None:
    for item in doc.get("links", []):
        if item["rel"] == rel and item["type"] == media.HTML:
            return str(item["href"])
    return None


def _page(urls: Urls, title: str, body: str, trail: list[tuple[str, str]], head: str = "") -> str:
    crumbs = [_a(urls.to(ROOT, [("f", "html")]), "OGC API"), *(_a(h, t) for h, t in trail)]
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{head}</head><body>"
        f"<nav>{' › '.join(crumbs)}</nav><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _links_table(doc: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(item['rel'])}</td><td>{escape(item['type'])}</td>"
        f"<td>{_a(item['href'], item.get('title') or item['href'])}</td></tr>"
        for item in doc.get("links", [])
    )
    return f"<h2>Links</h2><table><tr><th>rel</th><th>type</th><th>link</th></tr>{rows}</table>"


def _value(value: Any) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    text = value if isinstance(value, str) else json_dumps(value)
    return escape(text)


def _map(geojson: dict[str, Any]) -> tuple[str, str]:
    """(head, body) of a map of the features, fitted to them (a world view if none)."""
    data = json_dumps(geojson).replace("<", "\\u003c")
    head = f'<link rel="stylesheet" href="{LEAFLET_CSS}"><script src="{LEAFLET_JS}"></script>'
    body = (
        '<div id="map"></div><script>'
        f"const data={data};const map=L.map('map');"
        "const layer=L.geoJSON(data,{style:{weight:1.5}}).addTo(map);"
        "if(layer.getBounds().isValid()){map.fitBounds(layer.getBounds());}"
        "else{map.setView([30,104],4);}</script>"
    )
    return head, body


def landing(urls: Urls, doc: dict[str, Any]) -> str:
    body = f"<p>{escape(doc['description'])}</p>" + _links_table(doc)
    return _page(urls, doc["title"], body, [])


def conformance(urls: Urls, doc: dict[str, Any]) -> str:
    rows = "".join(f"<li>{_a(c, c)}</li>" for c in doc["conformsTo"])
    here = urls.to(f"{ROOT}/conformance", [("f", "html")])
    return _page(urls, "Conformance", f"<ul>{rows}</ul>", [(here, "Conformance")])


def _collection_rows(entries: list[dict[str, Any]]) -> str:
    rows = []
    for c in entries:
        page = _html_link(c, "self") or _html_link(c, "alternate") or ""
        items = _html_link(c, "items") or ""
        bbox = c.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]
        rows.append(
            f"<tr><td>{_a(page, c['id'])}</td><td>{escape(c['title'])}</td>"
            f"<td>{escape(c.get('geometryType', ''))}</td>"
            f"<td>{escape(', '.join(f'{v:.5f}' for v in bbox))}</td>"
            f"<td>{_a(items, 'items')}</td></tr>"
        )
    head = "<tr><th>id</th><th>title</th><th>geometry</th><th>extent (lon/lat)</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def collections(urls: Urls, doc: dict[str, Any]) -> str:
    here = urls.to(f"{ROOT}/collections", [("f", "html")])
    body = _collection_rows(doc["collections"])
    return _page(urls, "Collections", body, [(here, "Collections")])


def collection(urls: Urls, doc: dict[str, Any]) -> str:
    props = "".join(f"<li><code>{escape(p)}</code></li>" for p in doc.get("properties", []))
    body = (
        f"<p>{escape(doc['description'])}</p>"
        + _collection_rows([doc])
        + f"<h2>Properties</h2><p>Each can filter items, e.g. <code>?name=…</code></p>"
        f"<ul>{props}</ul>" + _links_table(doc)
    )
    return _page(urls, doc["title"], body, _trail(urls, doc["id"], doc["title"])[:2])


def _trail(urls: Urls, collection_id: str, title: str) -> list[tuple[str, str]]:
    return [
        (urls.to(f"{ROOT}/collections", [("f", "html")]), "Collections"),
        (urls.to(collection_path(collection_id), [("f", "html")]), title),
        (urls.to(items_path(collection_id), [("f", "html")]), "Items"),
    ]


def _item_href(urls: Urls, collection_id: str, feature_id: Any) -> str:
    path = f"{items_path(collection_id)}/{quote(str(feature_id), safe='')}"
    return urls.to(path, [("f", "html")])


def items(urls: Urls, collection_id: str, title: str, doc: dict[str, Any], offset: int) -> str:
    """A page of features: a map, a table (ids link to each item) and prev/next links."""
    feats = doc["features"]
    keys: list[str] = list(dict.fromkeys(k for f in feats for k in f["properties"]))
    header = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{_a(_item_href(urls, collection_id, f['id']), str(f['id']))}</td>"
        + "".join(f"<td>{_value(f['properties'].get(k))}</td>" for k in keys)
        + "</tr>"
        for f in feats
    )
    paging = " ".join(
        _a(href, label)
        for rel, label in (("prev", "‹ previous"), ("next", "next ›"))
        if (href := _html_link(doc, rel))
    )
    shown = f"{offset + 1}–{offset + doc['numberReturned']}" if feats else "none"
    head, figure = _map(doc)
    body = (
        f"<p>{shown} of {doc['numberMatched']} features. {paging}</p>{figure}"
        f"<table><tr><th>id</th>{header}</tr>{rows}</table><p>{paging}</p>"
    )
    return _page(urls, f"{title}: items", body, _trail(urls, collection_id, title), head)


def item(urls: Urls, collection_id: str, title: str, doc: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in doc["properties"].items()
    )
    head, figure = _map(doc)
    trail = [
        *_trail(urls, collection_id, title),
        (_item_href(urls, collection_id, doc["id"]), str(doc["id"])),
    ]
    body = f"{figure}<table>{rows}</table>" + _links_table(doc)
    return _page(urls, f"{title}: {doc['id']}", body, trail, head)
