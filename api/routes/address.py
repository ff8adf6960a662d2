"""Which grid is this address in: free text matched to the standard address base."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.access import Access, requires
from api.deps import ServicesDep
from api.responses import JSONResponse
from api.routes.lookup import (
    JSON,
    AtQuery,
    csv_response,
    read_bulk_body,
    resolve_loaded,
)
from api.state import Services
from gridgis.address.book import (
    address_answer,
    address_column,
    address_table,
    bulk_address_answer,
)
from gridgis.errors import InputError
from gridgis.jsonio import json_bytes
from gridgis.lookup.bulk import check_count, decode_csv, decode_json_body, read_table

router = APIRouter(prefix="/api", tags=["address"], dependencies=[requires(Access.public)])


@router.get(
    "/address",
    responses={
        200: {"description": "The matched address, its point and score, and its grid."},
        404: {"description": "Nothing good enough: the error and the closest candidates."},
    },
)
def address(
    services: ServicesDep,
    q: Annotated[str, Query(description="The address as typed, e.g. 旌阳区文昌社区沙河街37号")],
    at: AtQuery = None,
    limit: Annotated[int, Query(ge=1, le=20, description="How many candidates.")] = 5,
) -> Any:
    loaded = resolve_loaded(services, at)
    result = services.addresses.matcher().match(q, limit=limit)
    body = address_answer(result, loaded)
    if result.match is None:
        body["error"] = f"no address in the base is close enough to {q!r}"
        body["code"] = "no_address_match"
        return JSONResponse(body, status_code=404)
    return JSONResponse(body)


@router.post(
    "/address",
    dependencies=[requires(Access.viewer)],  # in bulk
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["addresses"],
                        "properties": {
                            "addresses": {"type": "array", "items": {"type": "string"}},
                            "at": {"type": "string"},
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def address_bulk(request: Request, services: ServicesDep, at: AtQuery = None) -> Any:
    """``{"addresses": ["…", …], "at": …}`` as JSON, or a CSV with an ``address`` (地址)
    column as the body (text/csv) or a form file named ``file``: each row comes back with
    its match, score, flags and grid, or an error."""
    kind, data, source = await read_bulk_body(request)
    if kind == "csv":
        return await run_in_threadpool(_csv, services, data, source, at)
    return await run_in_threadpool(_json, services, data, at)


def _json(services: Services, body: bytes, at: str | None) -> Response:
    payload = decode_json_body(body)
    addresses = payload.get("addresses") if isinstance(payload, dict) else None
    if not isinstance(addresses, list):
        raise InputError('send {"addresses": ["…", …]} (optionally "at")')
    check_count(len(addresses), services.settings.max_bulk_points, "addresses")
    when = payload.get("at") or at
    loaded = resolve_loaded(services, None if when is None else str(when))
    results = services.addresses.matcher().match_many(addresses, limit=1)
    answer = bulk_address_answer(results, loaded)
    return Response(json_bytes(answer), media_type=JSON)


def _csv(services: Services, data: bytes, source: str, at: str | None) -> StreamingResponse:
    loaded = resolve_loaded(services, at)
    matcher = services.addresses.matcher()
    frame = read_table(
        decode_csv(data, source), services.settings.max_bulk_points, source, "address"
    )
    table = address_table(frame, address_column(list(frame.columns), source), matcher, loaded)
    return csv_response(table, "addresses.csv", loaded)
