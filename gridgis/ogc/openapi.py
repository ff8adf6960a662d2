"""The OpenAPI 3.0 definition of ``/ogc``, cut from the application's own definition.

Paths are given relative to a server at ``<base>/ogc`` as the standard's examples do,
and each collection gets its own ``/collections/{id}/items`` path listing its properties
as query parameters: GDAL reads those to send equality filters to the server instead of
filtering every feature itself.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pandas as pd

from gridgis.i18n import DEFAULT_LANG, LANGS
from gridgis.ogc.collection import CollectionData, CollectionSpec
from gridgis.ogc.links import ROOT
from gridgis.ogc.query import LIMIT_DEFAULT, LIMIT_MAX

ITEMS = "/collections/{collectionId}/items"


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "schema": schema,
        "description": description,
    }


FORMAT_PARAMETER = _query(
    "f", {"type": "string", "enum": ["json", "html"]}, "Encoding; otherwise from Accept."
)
LANG_PARAMETER = _query(
    "lang",
    {"type": "string", "enum": list(LANGS), "default": DEFAULT_LANG},
    "Language of HTML pages: zh (Chinese, the default) or en; their links keep it.",
)
VERSION_PARAMETER = _query(
    "version", {"type": "string"}, "Grid version name (grids only); the published one if omitted."
)
DATETIME_PARAMETER = _query(
    "datetime",
    {"type": "string"},
    "An instant or interval (RFC 3339 date-times or dates, .. for an open end), e.g. "
    "2026-03-01T00:00:00Z, 2026-03-01T00:00:00Z/.., ../2026-03-01. Features that exist at "
    "some moment of it: a layer's from its import on, a grid version's while in force. On "
    "grids without version an instant answers from the version in force then. Dates and "
    "times without an offset are the city's local time.",
)
#: What every resource takes, and what those that can show another grid version take.
COMMON_PARAMETERS: list[dict[str, Any]] = [FORMAT_PARAMETER, LANG_PARAMETER]
VERSIONED_PARAMETERS: list[dict[str, Any]] = [*COMMON_PARAMETERS, VERSION_PARAMETER]
#: The items parameters of Part 1, plus ``version``; property filters come per collection.
ITEMS_PARAMETERS: list[dict[str, Any]] = [
    _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
        f"Features per page; more than {LIMIT_MAX} gives {LIMIT_MAX}.",
    ),
    _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip."),
    _query(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "minx,miny,maxx,maxy in CRS84 lon/lat; features intersecting it.",
    ),
    DATETIME_PARAMETER,
    *VERSIONED_PARAMETERS,
]


def _json_type(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    if pd.api.types.is_numeric_dtype(column):
        return "number"
    return "string"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _schemas(paths: dict[str, Any], available: dict[str, Any]) -> dict[str, Any]:
    """The component schemas the paths use, followed through their own references."""
    wanted, todo = set(), _refs(paths)
    while todo:
        name = todo.pop()
        if name in available and name not in wanted:
            wanted.add(name)
            todo |= _refs(available[name])
    return {name: available[name] for name in sorted(wanted)}


def _collection_items(
    template: dict[str, Any], spec: CollectionSpec, data: CollectionData, n: int
) -> dict[str, Any]:
    op = copy.deepcopy(template)
    op["operationId"] = f"{op.get('operationId', 'items')}_{n}"
    op["summary"] = f"Features of {spec.title}"
    op["tags"] = [*op.get("tags", []), spec.id]
    filters = [
        _query(name, {"type": _json_type(data.frame[name])}, f"Exact match on {name}.")
        for name in data.properties
        if name not in {p["name"] for p in ITEMS_PARAMETERS}
    ]
    op["parameters"] = [
        p for p in op.get("parameters", []) if p.get("name") != "collectionId"
    ] + filters
    return op


def document(
    app_doc: dict[str, Any],
    base_url: str,
    entries: Sequence[tuple[CollectionSpec, CollectionData]],
) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, item in app_doc.get("paths", {}).items():
        if path == ROOT or path.startswith(ROOT + "/"):
            item = copy.deepcopy(item)
            for op in item.values():
                op.get("responses", {}).pop("422", None)  # we answer 400, never 422
            paths[path[len(ROOT) :] or "/"] = item
    template = paths.get(ITEMS, {}).get("get")
    if template is not None:
        for n, (spec, data) in enumerate(entries):
            paths[f"/collections/{spec.id}/items"] = {
                "get": _collection_items(template, spec, data, n)
            }
    info = app_doc.get("info", {})
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": f"{info.get('title', 'gridgis')} — OGC API Features",
            "version": info.get("version", "0"),
            "description": "OGC API – Features Part 1 (core, GeoJSON, HTML, OpenAPI 3.0).",
        },
        "servers": [{"url": base_url.rstrip("/") + ROOT}],
        "paths": paths,
    }
    schemas = _schemas(paths, app_doc.get("components", {}).get("schemas", {}))
    if schemas:
        doc["components"] = {"schemas": schemas}
    return doc
