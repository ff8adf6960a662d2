"""The embeddable map: ``GET /embed`` (HTML for iframes) and the JSON it draws from.

Data endpoints answer for one community (or one grid, or a bounding box) rather than the
whole city, so a page stays light at city scale; buildings are never sent. With
``shift=gcj02`` coordinates come shifted by the GCJ-02 formula so they sit on Chinese
commercial basemaps (Amap); the page asks for that itself when its basemap needs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import IndexDep, SettingsDep, StoreDep
from api.embedpage import (
    ASSET_DIR,
    ASSETS,
    LABELS,
    EmbedPage,
    Lang,
    Shift,
    asset_version,
    parse_layers,
    parse_origin,
    render_embed,
    resolve_basemap,
)
from api.responses import JSONResponse
from gridgis.address.book import AddressBook, address_answer
from gridgis.crs import NAMED, from_cgcs2000, shifted_to_wgs84, wgs84_to_shifted
from gridgis.errors import InvalidValueError, NotFoundError
from gridgis.geojson import feature_collection
from gridgis.lookup import LoadedVersion
from gridgis.lru import LRU
from gridgis.services import grid_services
from gridgis.store.base import GRID_PROPERTIES, BaseKind, Store

router = APIRouter(tags=["embed"])
GEOJSON = "application/geo+json"
PRECISION = 6  # about 10 cm: plenty on screen, a seventh less text than the API's 7
MAX_BBOX_DEGREES = 0.25  # a viewport at the page's context zoom spans well under this
CONTEXT_PROPERTIES: dict[str, list[str]] = {
    "streets": ["name", "class"],
    "compounds": ["name", "kind"],
    "communities": ["code", "name"],
}
ContextKind = Literal["streets", "compounds", "communities"]

VersionQuery = Annotated[
    str | None, Query(description="Version name; the published version when omitted.")
]
ShiftQuery = Annotated[
    Shift,
    Query(description="gcj02: shift coordinates for GCJ-02 basemaps (Amap); none: CGCS2000."),
]
CommunityQuery = Annotated[
    str | None, Query(description="Community code (12 digits): only its grids, fitted to it.")
]


class _Cache(LRU[Any]):
    """The embed endpoints' LRU, kept on ``app.state``; it can also build an entry in the
    background (department services take seconds at city scale), once."""

    def __init__(self, size: int = 64) -> None:
        super().__init__(size)
        self._warming: set[Hashable] = set()
        self._warm_lock = threading.Lock()

    def warm(self, key: Hashable, make: Callable[[], object]) -> None:
        """Build ``key`` in a background thread unless it is there or on its way."""
        with self._warm_lock:
            if key in self or key in self._warming:
                return
            self._warming.add(key)

        def run() -> None:
            try:
                self.get_or_build(key, make)
            except Exception:  # a click will build it again and report the error then
                pass
            finally:
                with self._warm_lock:
                    self._warming.discard(key)

        threading.Thread(target=run, name="gridgis-embed-warm", daemon=True).start()


_cache_lock = threading.Lock()


def _cache(request: Request) -> _Cache:
    state = request.app.state
    with _cache_lock:
        cache: _Cache | None = getattr(state, "embed_cache", None)
        if cache is None:
            cache = state.embed_cache = _Cache()
    return cache


def _version_key(loaded: LoadedVersion) -> tuple[int, object]:
    return (loaded.info.id, loaded.info.created_at)


def _services_key(loaded: LoadedVersion) -> Hashable:
    return ("services", _version_key(loaded))


def _shifted(frame: gpd.GeoDataFrame, shift: Shift) -> gpd.GeoDataFrame:
    if shift == "none" or frame.empty:
        return frame
    out = frame.copy()
    out[frame.geometry.name] = from_cgcs2000(frame.geometry.to_numpy(), NAMED[shift])
    return out


def _geojson(
    frame: gpd.GeoDataFrame,
    properties: list[str],
    shift: Shift,
    id_field: str | None = "code",
    extra: dict[str, Any] | None = None,
) -> bytes:
    text = feature_collection(_shifted(frame, shift), properties, id_field, PRECISION, extra)
    return text.encode()


def _community_grids(loaded: LoadedVersion, community: str) -> gpd.GeoDataFrame:
    grids = loaded.grids[loaded.grids["community_code"] == community]
    if grids.empty:
        raise NotFoundError(f"no community {community} in version {loaded.info.name}")
    return grids


def _grid_row(loaded: LoadedVersion, code: str) -> dict[str, Any]:
    row = loaded.answer(code)
    if row is None:
        raise NotFoundError(f"no grid {code} in version {loaded.info.name}")
    return row


def _query(values: dict[str, str | None]) -> str:
    kept = {k: v for k, v in values.items() if v is not None and v != "none"}
    return "?" + urlencode(kept) if kept else ""


# --- the page --------------------------------------------------------------------------------
@router.get("/embed", response_class=HTMLResponse, summary="The embeddable map (for iframes)")
def embed_page(
    request: Request,
    store: StoreDep,
    index: IndexDep,
    settings: SettingsDep,
    grid: Annotated[
        str | None, Query(description="Grid code: highlight it and zoom to it.")
    ] = None,
    community: CommunityQuery = None,
    layers: Annotated[
        str | None,
        Query(
            description="Comma-separated: grids, streets, compounds, communities. Default "
            "grids,streets,compounds with no basemap, grids over one."
        ),
    ] = None,
    basemap: Annotated[
        str,
        Query(
            description="none (offline, the default), tianditu, amap (GCJ-02), osm, or an "
            "http(s) tile template with {z}, {x}, {y} (and optionally {s})."
        ),
    ] = "none",
    lang: Annotated[Lang, Query(description="Label language.")] = "zh",
    origin: Annotated[
        str,
        Query(description='Target origin of the click message to the host page; "*" by default.'),
    ] = "*",
    version: VersionQuery = None,
    shift: Annotated[
        Shift | None,
        Query(description="Override the shift the basemap implies (for GCJ-02 custom templates)."),
    ] = None,
) -> HTMLResponse:
    tiles = resolve_basemap(basemap, lang, settings)
    chosen = parse_layers(layers, tiles)
    target = parse_origin(origin)
    loaded = index.resolve(name=version)
    scope = community
    if grid is not None:
        row = _grid_row(loaded, grid)
        if community is not None and row["community_code"] != community:
            raise InvalidValueError(
                f"grid {grid} is in community {row['community_code']}, not {community}"
            )
        scope = row["community_code"]
    elif community is not None:
        _community_grids(loaded, community)
    # Services take seconds to gather at city scale: start now, before the first click.
    _cache(request).warm(
        _services_key(loaded), lambda: grid_services(store, loaded, settings.metric_epsg)
    )
    use_shift: Shift = shift or (tiles.shift if tiles is not None else "none")
    common = {"version": version, "shift": use_shift}
    title = f"gridgis · {LABELS[lang]['title']}"
    if scope is not None:
        name = _community_grids(loaded, scope)["community_name"].iloc[0]
        title = f"{name} · {title}" if isinstance(name, str) and name else title
    page = EmbedPage(
        lang=lang,
        layers=chosen,
        basemap=tiles,
        origin=target,
        grid=grid,
        community=scope,
        title=title,
        urls={
            "grids": "/embed/grids.geojson" + _query({"community": scope, **common}),
            "grid_geojson": "/embed/grids.geojson" + _query(common),
            "grid_info": "/embed/grids/{code}.json" + _query({"version": version}),
            "context": "/embed/context.geojson" + _query(common),
            "address": "/embed/address" + _query(common),
        },
    )
    return HTMLResponse(
        render_embed(page),
        headers={
            "Content-Security-Policy": page.csp(),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        },
    )


@router.get("/embed/assets/{name}", include_in_schema=False)
def embed_asset(name: str, v: str | None = None) -> FileResponse:
    if name not in ASSETS:
        raise NotFoundError(f"no embed asset {name}")
    # A URL with the content hash never changes meaning, so browsers may keep it for good.
    fresh = v == asset_version(name)
    cache = "public, max-age=31536000, immutable" if fresh else "no-cache"
    return FileResponse(ASSET_DIR / name, media_type=ASSETS[name], headers={"Cache-Control": cache})


# --- grids -----------------------------------------------------------------------------------
@router.get(
    "/embed/grids.geojson",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
    summary="Grids for the embedded map: one community, one grid, or all",
)
def embed_grids(
    request: Request,
    index: IndexDep,
    community: CommunityQuery = None,
    grid: Annotated[str | None, Query(description="Just this grid.")] = None,
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
) -> Response:
    loaded = index.resolve(name=version)

    def make() -> bytes:
        if grid is not None:
            _grid_row(loaded, grid)
            frame = loaded.grids[loaded.grids["code"] == grid]
        elif community is not None:
            frame = _community_grids(loaded, community)
        else:
            frame = loaded.grids
        return _geojson(frame, list(GRID_PROPERTIES), shift, extra={"version": loaded.info.name})

    key = ("grids", _version_key(loaded), grid, None if grid else community, shift)
    body = _cache(request).get_or_build(key, make)
    return Response(body, media_type=GEOJSON)


@router.get("/embed/grids/{code}.json", summary="One grid's details and department services")
def embed_grid_info(
    request: Request,
    code: str,
    store: StoreDep,
    index: IndexDep,
    settings: SettingsDep,
    version: VersionQuery = None,
) -> JSONResponse:
    loaded = index.resolve(name=version)
    row = _grid_row(loaded, code)
    services: dict[str, list[dict[str, Any]]] = _cache(request).get_or_build(
        _services_key(loaded),
        lambda: grid_services(store, loaded, settings.metric_epsg),
    )
    body = {**row, "services": services.get(code, [])}
    return JSONResponse(body)


# --- context: streets, compounds, community outlines ---------------------------------------------
def _base_layer(
    request: Request, store: Store, kind: BaseKind
) -> tuple[int | None, gpd.GeoDataFrame]:
    """The whole base layer, with its spatial index, cached until it is re-imported."""
    layer = next((x for x in store.list_layers() if x.kind == kind), None)
    import_id = None if layer is None else layer.import_id

    def make() -> gpd.GeoDataFrame:
        frame = store.read_base_layer(kind)
        frame.sindex  # noqa: B018 - build the index now, under the lock, not per request
        return frame

    frame = _cache(request).get_or_build(("base", kind, import_id), make)
    return import_id, frame


def _parse_bbox(text: str, shift: Shift) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidValueError(
            f"bbox={text!r}: give minlon,minlat,maxlon,maxlat in degrees"
        ) from None
    if not (np.isfinite([minx, miny, maxx, maxy]).all() and minx < maxx and miny < maxy):
        raise InvalidValueError(f"bbox={text!r}: give minlon,minlat,maxlon,maxlat with min < max")
    if maxx - minx > MAX_BBOX_DEGREES or maxy - miny > MAX_BBOX_DEGREES:
        raise InvalidValueError(
            f"bbox={text!r} spans more than {MAX_BBOX_DEGREES}°: zoom in, or pass community="
        )
    if shift != "none":  # the page's map is in shifted coordinates; the store is not
        lon, lat = shifted_to_wgs84(np.array([minx, maxx]), np.array([miny, maxy]), shift)
        minx, maxx, miny, maxy = float(lon[0]), float(lon[1]), float(lat[0]), float(lat[1])
    return minx, miny, maxx, maxy


@router.get(
    "/embed/context.geojson",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
    summary="Streets, compounds or community outlines around a community or in a box",
)
def embed_context(
    request: Request,
    store: StoreDep,
    index: IndexDep,
    layer: Annotated[ContextKind, Query(description="Which base layer.")],
    community: Annotated[
        str | None, Query(description="Features around this community's grids.")
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat (in the shift's coordinates), at most "
            f"{MAX_BBOX_DEGREES}° a side."
        ),
    ] = None,
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
) -> Response:
    import_id, frame = _base_layer(request, store, layer)
    properties = CONTEXT_PROPERTIES[layer]
    box: tuple[float, ...] | None
    key: Hashable | None
    if community is not None:
        loaded = index.resolve(name=version)
        box = tuple(float(v) for v in _community_grids(loaded, community).total_bounds)
        key = ("context", layer, import_id, _version_key(loaded), community, shift)
    elif bbox is not None:
        box, key = _parse_bbox(bbox, shift), None
    elif layer == "communities":  # outlines are few even for a whole city
        box, key = None, ("context", layer, import_id, None, None, shift)
    else:
        raise InvalidValueError(f"layer={layer} needs community= or bbox= (it is city-sized)")

    def make() -> bytes:
        chosen = frame
        if box is not None and not frame.empty:
            hits = np.sort(frame.sindex.query(shapely.box(*box), predicate="intersects"))
            chosen = frame.iloc[hits]
        id_field = "code" if layer == "communities" else None
        return _geojson(chosen, properties, shift, id_field=id_field)

    body = make() if key is None else _cache(request).get_or_build(key, make)
    return Response(body, media_type=GEOJSON)


# --- address search ------------------------------------------------------------------------------
@router.get(
    "/embed/address",
    responses={
        200: {"description": "As GET /api/address, with coordinates in the shift asked for."},
        404: {"description": "Nothing good enough: the error and the closest candidates."},
    },
)
def embed_address(
    request: Request,
    index: IndexDep,
    q: Annotated[str, Query(min_length=1, description="The address as typed.")],
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> JSONResponse:
    loaded = index.resolve(name=version)
    book: AddressBook = request.app.state.addresses
    result = book.matcher().match(q, limit=limit)
    body = address_answer(result, loaded)  # the grid is found from the unshifted point
    points = [body["match"], *body["candidates"]] if body["match"] else body["candidates"]
    if shift != "none" and points:
        lon, lat = wgs84_to_shifted(
            np.array([p["lon"] for p in points]), np.array([p["lat"] for p in points]), shift
        )
        for p, x, y in zip(points, lon, lat, strict=True):
            p["lon"], p["lat"] = round(float(x), 7), round(float(y), 7)
    if result.match is None:
        body["error"] = f"no address in the base is close enough to {q!r}"
        return JSONResponse(body, status_code=404)
    return JSONResponse(body)
