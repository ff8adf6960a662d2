"""Any version or layer as a file: GeoJSON, GeoPackage, Shapefile (zip) or CSV with WKT."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.access import Access, requires
from api.deps import StoreDep
from api.headers import content_disposition
from gridgis.export import FORMATS, export_archive, layer_frame, version_frame

# Exports are data in bulk: a viewer key or more.
router = APIRouter(prefix="/api", tags=["downloads"], dependencies=[requires(Access.viewer)])
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
}
FormatQuery = Annotated[str, Query(alias="format", description=f"One of {', '.join(FORMATS)}.")]
CrsQuery = Annotated[str | None, Query(description="Output CRS; EPSG:4490 when omitted.")]
EncodingQuery = Annotated[
    str, Query(description="Shapefile .dbf encoding: UTF-8 (default) or GBK for old tools.")
]


def _download(body: bytes, filename: str, fmt: str) -> Response:
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(filename)},
    )


@router.get("/versions/{name}/download", response_class=Response)
async def download_version(
    store: StoreDep,
    name: str,
    fmt: FormatQuery = "geojson",
    crs: CrsQuery = None,
    encoding: EncodingQuery = "UTF-8",
) -> Response:
    frame = await run_in_threadpool(version_frame, store, name)
    body, filename = await run_in_threadpool(
        export_archive, frame, fmt, name, crs=crs, encoding=encoding
    )
    return _download(body, filename, fmt)


@router.get("/layers/{kind}/download", response_class=Response)
@router.get("/layers/{kind}/{name}/download", response_class=Response)
async def download_layer(
    store: StoreDep,
    kind: str,
    name: str | None = None,
    fmt: FormatQuery = "geojson",
    crs: CrsQuery = None,
    encoding: EncodingQuery = "UTF-8",
) -> Response:
    """``/api/layers/streets/download`` or ``/api/layers/department/城管/download``."""
    spec = f"{kind}/{name}" if name else kind
    frame, layer = await run_in_threadpool(layer_frame, store, spec)
    body, filename = await run_in_threadpool(
        export_archive, frame, fmt, layer, crs=crs, encoding=encoding
    )
    return _download(body, filename, fmt)
