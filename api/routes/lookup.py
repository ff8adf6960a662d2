"""Which grid holds a point: one at a time (the hot path), or up to a million at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.access import Access, requires
from api.deps import ServicesDep
from api.headers import content_disposition, header_text
from api.state import Services
from gridgis.crs import CrsSpec, parse_crs
from gridgis.errors import InputError, NotFoundError
from gridgis.lookup.bulk import (
    csv_chunks,
    decode_csv,
    json_answer,
    lookup_points,
    lookup_table,
    points_request,
    read_point_table,
)
from gridgis.lookup.coords import one_to_lonlat
from gridgis.lookup.published import LoadedVersion
from gridgis.lookup.when import parse_at

router = APIRouter(prefix="/api", tags=["lookup"], dependencies=[requires(Access.public)])
JSON = "application/json"
CrsQuery = Annotated[
    str,
    Query(description="wgs84 (default), cgcs2000, gcj02, bd09 or an EPSG code (projected too)."),
]
AtQuery = Annotated[
    str | None,
    Query(
        description="YYYY-MM-DD (end of that day, city time) or an ISO date-time: answer "
        "from the version in force then. The published version when omitted."
    ),
]


def resolve_loaded(services: Services, at: str | None) -> LoadedVersion:
    """The version to answer from: in force at ``at``, or the published one."""
    if at is None:
        return services.index.resolve()
    return services.index.resolve(parse_at(at, services.settings.timezone))


@router.get(
    "/lookup",
    response_class=Response,
    responses={200: {"content": {JSON: {}}, "description": "The grid holding the point."}},
)
async def lookup(
    services: ServicesDep,
    lon: Annotated[float, Query(description="x: longitude, or easting in a projected CRS.")],
    lat: Annotated[float, Query(description="y: latitude, or northing in a projected CRS.")],
    crs: CrsQuery = "wgs84",
    at: AtQuery = None,
) -> Response:
    spec = parse_crs(crs)
    x, y = one_to_lonlat(lon, lat, spec)
    # The store is only asked for time travel; the common case never leaves memory.
    loaded = (
        resolve_loaded(services, None)
        if at is None
        else await run_in_threadpool(resolve_loaded, services, at)
    )
    position = loaded.index.lookup_one(x, y)
    if position < 0:
        raise NotFoundError(
            f"no grid contains ({lon}, {lat}) ({crs}) in version {loaded.info.name}",
            code="no_grid_here",
        )
    return Response(loaded.answer_bytes[position], media_type=JSON)


@router.post(
    "/lookup",
    dependencies=[requires(Access.viewer)],  # in bulk
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["points"],
                        "properties": {
                            "points": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "items": {"type": "number"},
                                    "minItems": 2,
                                    "maxItems": 2,
                                },
                            },
                            "crs": {"type": "string"},
                            "at": {"type": "string"},
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
    responses={
        200: {
            "content": {JSON: {}, "text/csv": {}},
            "description": 'JSON: per point {"code"} or {"code": null, "error"}, and each grid '
            "found once under grids. CSV: the rows back with grid columns and an error column.",
        }
    },
)
async def lookup_bulk(
    request: Request, services: ServicesDep, crs: CrsQuery = "wgs84", at: AtQuery = None
) -> Any:
    """Send ``{"points": [[x, y], …], "crs": …, "at": …}`` as JSON, or a CSV with lon,lat
    columns (as the body with Content-Type text/csv, or as a form file named ``file``)."""
    kind, data, source = await read_bulk_body(request)
    if kind == "csv":
        return await run_in_threadpool(_csv, services, data, source, crs, at)
    return await run_in_threadpool(_json, services, data, crs, at)


async def read_bulk_body(request: Request) -> tuple[str, bytes, str]:
    """("csv" or "json", the bytes, a name for messages): a CSV comes as the body
    (text/csv) or as a form file named ``file``; anything else is read as JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputError("send the CSV as a form file named 'file'", param="file")
        return "csv", await upload.read(), upload.filename or "upload.csv"
    body = await request.body()
    if kind in ("text/csv", "text/plain", "application/csv"):
        return "csv", body, "CSV"
    return "json", body, "JSON"


def _json(services: Services, body: bytes, crs: str, at: str | None) -> Response:
    points = points_request(body, services.settings.max_bulk_points)
    spec = parse_crs(points.members.get("crs") or crs)
    when = points.members.get("at") or at
    loaded = resolve_loaded(services, None if when is None else str(when))
    answers = lookup_points(loaded, points.x, points.y, spec, points.problems)
    return Response(json_answer(answers, spec), media_type=JSON)


def _csv(
    services: Services, data: bytes, source: str, crs: str, at: str | None
) -> StreamingResponse:
    spec: CrsSpec = parse_crs(crs)
    loaded = resolve_loaded(services, at)
    frame, x_col, y_col = read_point_table(
        decode_csv(data, source), services.settings.max_bulk_points, source
    )
    return csv_response(lookup_table(frame, x_col, y_col, loaded, spec), "grids.csv", loaded)


def csv_response(table: pd.DataFrame, filename: str, loaded: LoadedVersion) -> StreamingResponse:
    """A bulk answer streamed as UTF-8 CSV with a BOM, so that spreadsheets read it right."""

    def stream() -> Iterator[bytes]:
        yield "\ufeff".encode()
        for chunk in csv_chunks(table):
            yield chunk.encode()

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Gridgis-Version": header_text(loaded.info.name),
        },
    )
