"""Vector tiles ({z}/{x}/{y}.mvt), TileJSON and a catalogue, for MapLibre, OpenLayers, QGIS.

Every tile carries an ETag made from what it shows (the grid version, or the current
import of a base layer) and its address, so clients revalidate with 304s; rendered tiles
stay in memory until a publish or a re-import changes what they show.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from api.deps import IndexDep, SettingsDep, StoreDep
from gridgis.errors import NotFoundError
from gridgis.lookup import PublishedIndex
from gridgis.store.base import Store
from gridgis.tiles import TILE_LAYERS, TileAddress, TileLayer
from gridgis.tiles.cache import TileCache

router = APIRouter(prefix="/tiles", tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "public, max-age=60"
STAMP_SECONDS = 2.0  # how stale a base layer's import stamp may be
VersionQuery = Annotated[
    str | None, Query(description="Grid version name; the published version when omitted.")
]


def _layer(name: str) -> TileLayer:
    layer = TILE_LAYERS.get(name)
    if layer is None:
        raise NotFoundError(f"no tile layer {name!r}: the layers are {', '.join(TILE_LAYERS)}")
    return layer


class _Stamps:
    """What each base layer holds now (its current import), looked up every few seconds."""

    def __init__(self) -> None:
        self.checked = 0.0
        self.by_kind: dict[str, int] = {}

    def of(self, store: Store, layer: TileLayer) -> int | None:
        if time.monotonic() - self.checked > STAMP_SECONDS:
            self.by_kind = {
                x.kind: x.import_id for x in store.list_layers() if x.kind != "department"
            }
            self.checked = time.monotonic()
        kind = "communities" if layer.table == "subdistricts" else layer.table
        return self.by_kind.get(kind)


def _state(request: Request) -> tuple[TileCache, _Stamps]:
    state = request.app.state
    if not hasattr(state, "tile_cache"):
        state.tile_cache, state.tile_stamps, state.tile_published = TileCache(), _Stamps(), None
    return state.tile_cache, state.tile_stamps


def _version(index: PublishedIndex, version: str | None) -> tuple[int, str, object]:
    loaded = index.resolve() if version is None else index.named(version)
    return loaded.info.id, loaded.info.name, loaded.info.created_at


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile."},
        204: {"description": "Nothing of the layer in this tile (or outside its zooms)."},
        304: {"description": "Unchanged since the ETag sent in If-None-Match."},
    },
)
def tile(
    request: Request,
    store: StoreDep,
    index: IndexDep,
    settings: SettingsDep,
    layer: Annotated[str, Path(description=f"One of {', '.join(TILE_LAYERS)}.")],
    z: int,
    x: int,
    y: int,
    version: VersionQuery = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    spec = _layer(layer)
    address = TileAddress.checked(z, x, y)
    cache, stamps = _state(request)
    headers = {"Cache-Control": CACHE_CONTROL}
    version_id: int | None = None
    if spec.versioned:
        version_id, name, created = _version(index, version)
        stamp: object = (version_id, created)
        headers["X-Gridgis-Version"] = name
    else:
        stamp = stamps.of(store, spec)
    published = index.current()
    published_key = None if published is None else published.info.id
    if request.app.state.tile_published != published_key:  # a publish: start afresh
        cache.clear()
        request.app.state.tile_published = published_key
    key = (spec.name, str(stamp), str(address))
    etag = '"' + hashlib.sha1(repr(key).encode()).hexdigest()[:20] + '"'
    headers["ETag"] = etag
    if if_none_match is not None and etag in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    if not spec.minzoom <= z <= spec.maxzoom:
        return Response(status_code=204, headers=headers)
    body = cache.get(key) if settings.tile_cache else None
    if body is None:
        body = store.vector_tile(spec, address, version_id)
        if settings.tile_cache:
            cache.put(key, body)
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT, headers=headers)


def _tilejson(
    request: Request, index: PublishedIndex, spec: TileLayer, version: str | None
) -> dict[str, Any]:
    query = f"?version={version}" if version and spec.versioned else ""
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
    request: Request, index: IndexDep, layer: str, version: VersionQuery = None
) -> dict[str, Any]:
    spec = _layer(layer)
    if version is not None and spec.versioned:
        index.named(version)  # 404 for a version that does not exist
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
