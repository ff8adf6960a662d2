"""The JSON documents of OGC API – Features Part 1, with their links.

Each builder returns what is served as ``f=json``; the HTML pages are views of the same
documents (:mod:`gridgis.ogc.html`), so the two encodings cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import numpy as np
from numpy.typing import NDArray

from gridgis.clock import rfc3339
from gridgis.geojson import feature_collection, features
from gridgis.i18n import Text
from gridgis.jsonio import json_loads
from gridgis.ogc import media
from gridgis.ogc.collection import CollectionData, CollectionShape, CollectionSpec
from gridgis.ogc.links import ROOT, Link, Urls, collection_path, items_path, link
from gridgis.ogc.media import Format
from gridgis.ogc.query import ItemQuery
from gridgis.ogc.temporal import GREGORIAN

Params = Sequence[tuple[str, str]]
TITLE = Text("gridgis 网格数据服务（OGC API – Features）", "gridgis — OGC API Features")
DESCRIPTION = Text(
    "全市的综合网格、街道、基础图层和各部门网格图层，以 OGC API – Features 集合提供"
    "（GeoJSON，CRS84 经纬度）。",
    "Comprehensive grids, base layers and department grid layers of the city, as "
    "OGC API – Features collections (GeoJSON in CRS84).",
)
#: Titles of the links documents give, by what they lead to.
LINK_TITLES = {
    "service-desc": Text("API 定义（OpenAPI）", "The API definition"),
    "service-doc": Text("API 文档", "The API documentation"),
    "conformance": Text("一致性类别", "Conformance"),
    "data": Text("全部集合", "The collections"),
    "items": Text("要素", "Features"),
    "items-html": Text("要素（网页）", "Features as HTML"),
    "next": Text("下一页", "Next page"),
    "prev": Text("上一页", "Previous page"),
}


def landing(urls: Urls, fmt: Format) -> dict[str, Any]:
    t = {rel: text[urls.lang] for rel, text in LINK_TITLES.items()}
    return {
        "title": TITLE[urls.lang],
        "description": DESCRIPTION[urls.lang],
        "links": [
            *urls.formats(ROOT, fmt),
            link(urls.to(f"{ROOT}/api"), "service-desc", media.OPENAPI, t["service-desc"]),
            link(urls.to("/docs"), "service-doc", media.HTML, t["service-doc"]),
            link(urls.to(f"{ROOT}/conformance"), "conformance", media.JSON, t["conformance"]),
            link(urls.to(f"{ROOT}/collections"), "data", media.JSON, t["data"]),
        ],
    }


def conformance(urls: Urls, fmt: Format) -> dict[str, Any]:
    return {
        "conformsTo": list(media.CONFORMANCE),
        "links": urls.formats(f"{ROOT}/conformance", fmt),
    }


def _version(spec: CollectionSpec) -> list[tuple[str, str]]:
    return [("version", spec.version)] if spec.version else []


def collection(
    urls: Urls, spec: CollectionSpec, data: CollectionShape, fmt: Format
) -> dict[str, Any]:
    pinned = _version(spec)
    items = items_path(spec.id)
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description[urls.lang],
        "itemType": spec.item_type,
        "crs": [media.CRS84],
        "storageCrs": media.CRS84,
    }
    extent: dict[str, Any] = {}
    if data.extent is not None:
        extent["spatial"] = {"bbox": [list(data.extent)], "crs": media.CRS84}
    if spec.since is not None:
        until = None if spec.until is None else rfc3339(spec.until)
        extent["temporal"] = {"interval": [[rfc3339(spec.since), until]], "trs": GREGORIAN}
    if extent:
        doc["extent"] = extent
    doc["links"] = [
        *urls.formats(collection_path(spec.id), fmt, params=pinned),
        # No ?f=json here: GDAL appends /{featureId} to this href to fetch one feature.
        link(urls.to(items, pinned), "items", media.GEOJSON, LINK_TITLES["items"][urls.lang]),
        link(
            urls.to(items, [*pinned, ("f", "html")]),
            "items",
            media.HTML,
            LINK_TITLES["items-html"][urls.lang],
        ),
    ]
    # Not in Part 1; lets people (and the HTML page) see the shape of a collection.
    doc["geometryType"] = data.geometry_type
    doc["properties"] = list(data.properties)
    return doc


def collections(
    urls: Urls,
    entries: Sequence[tuple[CollectionSpec, CollectionShape]],
    fmt: Format,
    params: Params = (),
) -> dict[str, Any]:
    return {
        "links": urls.formats(f"{ROOT}/collections", fmt, params=params),
        "collections": [collection(urls, spec, data, fmt) for spec, data in entries],
    }


def _now() -> str:
    return rfc3339(datetime.now(UTC).replace(microsecond=0))


def items(
    urls: Urls,
    spec: CollectionSpec,
    data: CollectionData,
    query: ItemQuery,
    matched: NDArray[np.intp],
    fmt: Format,
    params: Params,
) -> str:
    """One page of features as a GeoJSON FeatureCollection text, with paging links."""
    page = matched[query.offset : query.offset + query.limit]
    path = items_path(spec.id)
    kind = media.GEOJSON if fmt == "json" else media.HTML
    kept = [(k, v) for k, v in params if k not in ("limit", "offset", "f")]

    def at(offset: int) -> str:
        paging = [("limit", str(query.limit)), ("offset", str(offset)), ("f", fmt)]
        return urls.to(path, [*kept, *paging])

    links: list[Link] = urls.formats(path, fmt, media.GEOJSON, params)
    titles = {rel: LINK_TITLES[rel][urls.lang] for rel in ("next", "prev")}
    if query.offset + len(page) < len(matched):
        links.append(link(at(query.offset + query.limit), "next", kind, titles["next"]))
    if query.offset > 0:
        links.append(link(at(max(0, query.offset - query.limit)), "prev", kind, titles["prev"]))
    links.append(_collection_link(urls, spec))
    extra = {
        "numberMatched": len(matched),
        "numberReturned": len(page),
        "timeStamp": _now(),
        "links": links,
    }
    return feature_collection(
        data.frame.iloc[page], list(data.properties), data.id_field, extra=extra
    )


def item(
    urls: Urls, spec: CollectionSpec, data: CollectionData, position: int, fmt: Format
) -> dict[str, Any]:
    """One feature with its links (self, alternate, collection)."""
    text = features(data.frame.iloc[[position]], list(data.properties), data.id_field)[0]
    doc: dict[str, Any] = json_loads(text)
    path = f"{items_path(spec.id)}/{quote(str(data.ids[position]), safe='')}"
    doc["links"] = [
        *urls.formats(path, fmt, media.GEOJSON, _version(spec)),
        _collection_link(urls, spec),
    ]
    return doc


def _collection_link(urls: Urls, spec: CollectionSpec) -> Link:
    href = urls.to(collection_path(spec.id), [*_version(spec), ("f", "json")])
    return link(href, "collection", media.JSON, spec.title)
