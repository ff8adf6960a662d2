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

from gridgis.geojson import feature_collection, features
from gridgis.jsonio import json_loads
from gridgis.ogc import media
from gridgis.ogc.collection import CollectionData, CollectionSpec
from gridgis.ogc.links import ROOT, Link, Urls, collection_path, items_path, link
from gridgis.ogc.media import Format
from gridgis.ogc.query import ItemQuery

TITLE = "gridgis — OGC API Features"
Params = Sequence[tuple[str, str]]


def landing(urls: Urls, fmt: Format) -> dict[str, Any]:
    return {
        "title": TITLE,
        "description": "Comprehensive grids, base layers and department grid layers of the "
        "city, as OGC API – Features collections (GeoJSON in CRS84).",
        "links": [
            *urls.formats(ROOT, fmt),
            link(urls.to(f"{ROOT}/api"), "service-desc", media.OPENAPI, "The API definition"),
            link(urls.to("/docs"), "service-doc", media.HTML, "The API documentation"),
            link(urls.to(f"{ROOT}/conformance"), "conformance", media.JSON, "Conformance"),
            link(urls.to(f"{ROOT}/collections"), "data", media.JSON, "The collections"),
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
    urls: Urls, spec: CollectionSpec, data: CollectionData, fmt: Format
) -> dict[str, Any]:
    pinned = _version(spec)
    items = items_path(spec.id)
    doc: dict[str, Any] = {
        "id": spec.id,
        "title": spec.title,
        "description": spec.description,
        "itemType": spec.item_type,
        "crs": [media.CRS84],
        "storageCrs": media.CRS84,
    }
    if data.extent is not None:
        doc["extent"] = {"spatial": {"bbox": [list(data.extent)], "crs": media.CRS84}}
    doc["links"] = [
        *urls.formats(collection_path(spec.id), fmt, params=pinned),
        # No ?f=json here: GDAL appends /{featureId} to this href to fetch one feature.
        link(urls.to(items, pinned), "items", media.GEOJSON, "Features"),
        link(urls.to(items, [*pinned, ("f", "html")]), "items", media.HTML, "Features as HTML"),
    ]
    # Not in Part 1; lets people (and the HTML page) see the shape of a collection.
    doc["geometryType"] = data.geometry_type
    doc["properties"] = list(data.properties)
    return doc


def collections(
    urls: Urls,
    entries: Sequence[tuple[CollectionSpec, CollectionData]],
    fmt: Format,
    params: Params = (),
) -> dict[str, Any]:
    return {
        "links": urls.formats(f"{ROOT}/collections", fmt, params=params),
        "collections": [collection(urls, spec, data, fmt) for spec, data in entries],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    if query.offset + len(page) < len(matched):
        links.append(link(at(query.offset + query.limit), "next", kind, "Next page"))
    if query.offset > 0:
        links.append(link(at(max(0, query.offset - query.limit)), "prev", kind, "Previous page"))
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
