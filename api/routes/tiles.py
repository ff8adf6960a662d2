"""Vector tiles ({z}/{x}/{y}.mvt), TileJSON and a catalogue, for MapLibre, OpenLayers, QGIS.

Every tile carries an ETag made from what it shows (the grid version, or the current
import of a base layer) and its address, so clients revalidate with 304s; rendered tiles
stay in memory until a publish or a re-import changes what they show.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Path, Query, Request, Response

from api.access import Access, requires
from api.deps import IndexDep, ServicesDep, StoreDep
from api.tileserve import MVT, tile_layer
from gridgis.lookup import PublishedIndex
from gridgis.tiles import TILE_LAYERS, TileLayer

router = APIRouter(prefix="/tiles", tags=["tiles"], dependencies=[requires(Access.public)])
VersionQuery = Annotated[
    str | None, Query(description="Grid version name; the published version when omitted.")
]


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile."},
        204: {"description": "Nothing of the layer in this tile (or outside its zooms)."},
        304: {"description": "Unchanged since the ETag sent in If-None-Match."},
    },
)
async def tile(
    services: ServicesDep,
    layer: Annotated[str, Path(description=f"One of {', '.join(TILE_LAYERS)}.")],
    z: int,
    x: int,
    y: int,
    version: VersionQuery = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    answer = await services.tiles.answer(layer, z, x, y, version, if_none_match)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


def _tilejson(
    request: Request, index: PublishedIndex, spec: TileLayer, version: str | None
) -> dict[str, Any]:
    query = f"?version={quote(version, safe='')}" if version and spec.versioned else ""
    base = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": spec.name,
        "description": spec.description,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.mvt{query}"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "vector_layers": [
            {
                "id": spec.name,
                "description": spec.description,
                "fields": spec.fields,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
            }
        ],
    }
    current = index.current()
    if current is not None and len(current.grids):
        west, south, east, north = (float(v) for v in current.grids.total_bounds)
        body["bounds"] = [west, south, east, north]
        body["center"] = [(west + east) / 2, (south + north) / 2, max(spec.minzoom, 13)]
    return body


@router.get("/{layer}.json", summary="TileJSON 3.0 of a layer")
def tilejson(
    request: Request, index: IndexDep, store: StoreDep, layer: str, version: VersionQuery = None
) -> dict[str, Any]:
    spec = tile_layer(layer)
    if version is not None and spec.versioned:
        store.get_version(version)  # 404 for a version that does not exist (without loading it)
    return _tilejson(request, index, spec, version)


@router.get("", summary="The tile layers, each with its TileJSON")
def catalogue(request: Request, index: IndexDep) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "layers": [
            {
                "name": spec.name,
                "description": spec.description,
                "tilejson": f"{base}/tiles/{spec.name}.json",
                "tiles": f"{base}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.mvt",
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "versioned": spec.versioned,
            }
            for spec in TILE_LAYERS.values()
        ]
    }
