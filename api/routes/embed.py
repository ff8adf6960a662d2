"""The embeddable map: ``GET /embed`` (HTML for iframes) and the JSON it draws from.

Data endpoints answer for one community (or one grid, or a bounding box) rather than the
whole city, so a page stays light at city scale; buildings are never sent. With
``shift=gcj02`` coordinates come shifted by the GCJ-02 formula so they sit on Chinese
commercial basemaps (Amap); the page asks for that itself when its basemap needs it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from api.access import Access, requires
from api.conditional import tagged
from api.deps import ServicesDep
from api.embedpage import (
    ASSET_DIR,
    ASSETS,
    LABELS,
    EmbedPage,
    Shift,
    asset_version,
    page_csp,
    parse_layers,
    parse_origin,
    render_embed,
    resolve_basemap,
)
from api.responses import JSONResponse
from api.retiredpage import RetiredPage, render_retired
from api.state import Services
from gridgis.address.book import address_answer
from gridgis.crs import CGCS2000, NAMED, from_cgcs2000, shifted_to_wgs84, wgs84_to_shifted
from gridgis.errors import InvalidValueError, NotFoundError
from gridgis.geojson import feature_collection
from gridgis.i18n import Lang
from gridgis.lineage import Succession, successors
from gridgis.lookup import LoadedVersion
from gridgis.search import search
from gridgis.store.base import GRID_PROPERTIES

router = APIRouter(tags=["embed"], dependencies=[requires(Access.public)])
GEOJSON = "application/geo+json"
PRECISION = 6  # about 10 cm: plenty on screen, a seventh less text than the API's 7
MAX_GRIDS = 500  # codes in one grids.geojson request: a long road's grids, a community's
PAGE_HEADERS = {"Cache-Control": "no-cache", "Referrer-Policy": "strict-origin-when-cross-origin"}
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
        raise NotFoundError(
            f"no community {community} in version {loaded.info.name}",
            code="community_not_found",
        )
    return grids


def _grid_row(loaded: LoadedVersion, code: str) -> dict[str, Any]:
    row = loaded.answer(code)
    if row is None:
        raise NotFoundError(f"no grid {code} in version {loaded.info.name}", code="grid_not_found")
    return row


def _query(values: dict[str, str | None]) -> str:
    kept = {k: v for k, v in values.items() if v is not None and v != "none"}
    return "?" + urlencode(kept) if kept else ""


# --- the page --------------------------------------------------------------------------------
@router.get("/embed", response_class=HTMLResponse, summary="The embeddable map (for iframes)")
def embed_page(
    services: ServicesDep,
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
    tiles = resolve_basemap(basemap, lang, services.settings)
    chosen = parse_layers(layers, tiles)
    target = parse_origin(origin)
    loaded = services.index.resolve(name=version)
    scope = community
    if grid is not None and loaded.answer(grid) is None:
        kept = {"layers": layers, "basemap": basemap, "lang": lang, "origin": origin}
        return _retired(services, loaded, grid, lang, {**kept, "version": version, "shift": shift})
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
    services.warm_department_services(loaded)
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
            "search": "/embed/search" + _query(common),
        },
    )
    return HTMLResponse(
        render_embed(page), headers={"Content-Security-Policy": page.csp(), **PAGE_HEADERS}
    )


def _retired(
    services: Services, loaded: LoadedVersion, code: str, lang: Lang, kept: dict[str, str | None]
) -> HTMLResponse:
    """A readable 404 for a grid code the version lacks: where its area went, with links
    to the grids there now that keep the link's other parameters (defaults left out)."""
    held = services.store.versions_with_grid(code)
    found: Succession | None = None
    if held:
        versions = tuple((v.name, v.status, v.content_key) for v in held)
        key = ("succession", code, loaded.info.content_key, versions)
        epsg = services.settings.metric_epsg
        found = services.caches.data.get_or_build(
            key, lambda: successors(services.store, code, loaded, metric_epsg=epsg)
        )
    defaults = {"lang": "zh", "origin": "*"}
    params = {k: None if defaults.get(k) == v else v for k, v in kept.items()}

    def link(grid: str | None) -> str:
        return "/embed" + _query({"grid": grid, **params})

    page = RetiredPage(lang, code, loaded.info.name, found, link)
    return HTMLResponse(
        render_retired(page),
        status_code=404,
        headers={"Content-Security-Policy": page_csp(None), **PAGE_HEADERS},
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
    services: ServicesDep,
    community: CommunityQuery = None,
    grid: Annotated[
        str | None,
        Query(
            description=f"Just this grid, or these (comma-separated codes, {MAX_GRIDS} at most)."
        ),
    ] = None,
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
) -> Response:
    loaded = services.index.resolve(name=version)
    codes = _grid_codes(grid) if grid is not None else []

    def make() -> bytes:
        if grid is not None:
            for code in codes:
                _grid_row(loaded, code)
            frame = loaded.grids[loaded.grids["code"].isin(codes)]
        elif community is not None:
            frame = _community_grids(loaded, community)
        else:
            frame = loaded.grids
        return _geojson(frame, list(GRID_PROPERTIES), shift, extra={"version": loaded.info.name})

    # The codes as a set: "a,b" and "b,a" are one answer (its rows come in frame order).
    chosen = tuple(sorted(codes)) if grid is not None else None
    key = ("embed-grids", loaded.info.content_key, chosen, None if grid else community, shift)
    return tagged(request, key, lambda: services.caches.answers.get_or_build(key, make), GEOJSON)


def _grid_codes(text: str) -> list[str]:
    codes = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not codes or len(codes) > MAX_GRIDS:
        raise InvalidValueError(
            f"grid: give one to {MAX_GRIDS} comma-separated grid codes", param="grid"
        )
    return codes


@router.get("/embed/grids/{code}.json", summary="One grid's details and department services")
def embed_grid_info(code: str, services: ServicesDep, version: VersionQuery = None) -> JSONResponse:
    loaded = services.index.resolve(name=version)
    row = _grid_row(loaded, code)
    body = {**row, "services": services.department_services(loaded).get(code, [])}
    return JSONResponse(body)


# --- context: streets, compounds, community outlines ---------------------------------------------
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
    services: ServicesDep,
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
    found = services.ogc.layer_data(layer)  # the whole layer and its tree, shared with /ogc
    content, data = (None, None) if found is None else found
    properties = CONTEXT_PROPERTIES[layer]
    box: tuple[float, ...] | None
    key: Hashable | None
    if community is not None:
        loaded = services.index.resolve(name=version)
        box = tuple(float(v) for v in _community_grids(loaded, community).total_bounds)
        key = ("embed-context", layer, content, loaded.info.content_key, community, shift)
    elif bbox is not None:
        box, key = _parse_bbox(bbox, shift), None
    elif layer == "communities":  # outlines are few even for a whole city
        box, key = None, ("embed-context", layer, content, None, None, shift)
    else:
        raise InvalidValueError(
            f"layer={layer} needs community or bbox (it is city-sized)", param="bbox"
        )

    def make() -> bytes:
        if data is None:
            return _geojson(gpd.GeoDataFrame(geometry=[], crs=CGCS2000), [], shift, None)
        chosen = data.frame
        if box is not None:
            hits = np.sort(data.tree.query(shapely.box(*box), predicate="intersects"))
            chosen = data.frame.iloc[hits]
        id_field = "code" if layer == "communities" else None
        return _geojson(chosen, properties, shift, id_field=id_field)

    if key is None:  # a box: as many as there are views, not worth keeping
        return Response(make(), media_type=GEOJSON)
    cached = key
    return tagged(
        request, cached, lambda: services.caches.answers.get_or_build(cached, make), GEOJSON
    )


# --- address search ------------------------------------------------------------------------------
@router.get(
    "/embed/address",
    responses={
        200: {"description": "As GET /api/address, with coordinates in the shift asked for."},
        404: {"description": "Nothing good enough: the error and the closest candidates."},
    },
)
def embed_address(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, description="The address as typed.")],
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> JSONResponse:
    loaded = services.index.resolve(name=version)
    result = services.addresses.matcher().match(q, limit=limit)
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
        body["code"] = "no_address_match"
        return JSONResponse(body, status_code=404)
    return JSONResponse(body)


# --- the search box: addresses, roads, communities, grids ---------------------------------------
@router.get(
    "/embed/search",
    summary="Search: an address, a road, a community or a grid (code, name or officer)",
    responses={
        200: {
            "description": "`match` (or null) and `candidates`, each a place with its `kind` "
            "(address, road, community, grid), `text`, `score`, the `grids` (codes) to show, "
            "`bbox` and, for an address, `point` — coordinates in the shift asked for. "
            "`ambiguous`: several places match equally well (an officer with two grids)."
        }
    },
)
def embed_search(
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="The text as typed.")],
    version: VersionQuery = None,
    shift: ShiftQuery = "none",
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> JSONResponse:
    loaded = services.index.resolve(name=version)
    places, matcher = services.places(loaded)
    body = places.answer_dict(search(q, places, matcher, limit=limit))
    if shift != "none":
        _shift_places(
            [body["match"], *body["candidates"]] if body["match"] else body["candidates"], shift
        )
    return JSONResponse(body)


def _shift_places(places: list[dict[str, Any]], shift: Shift) -> None:
    """Points and boxes into the basemap's coordinates, all in one transform."""
    xs: list[float] = []
    ys: list[float] = []
    for p in places:
        if p["point"]:
            xs.append(p["point"]["lon"])
            ys.append(p["point"]["lat"])
        if p["bbox"]:
            xs += [p["bbox"][0], p["bbox"][2]]
            ys += [p["bbox"][1], p["bbox"][3]]
    if not xs:
        return
    lon, lat = wgs84_to_shifted(np.array(xs), np.array(ys), shift)
    moved = iter(zip(np.round(lon, 7).tolist(), np.round(lat, 7).tolist(), strict=True))
    for p in places:
        if p["point"]:
            x, y = next(moved)
            p["point"] = {"lon": x, "lat": y}
        if p["bbox"]:
            (x0, y0), (x1, y1) = next(moved), next(moved)
            p["bbox"] = [x0, y0, x1, y1]
