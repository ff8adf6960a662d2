"""The naive baseline for ``bench/lookup_http.py``: one PostGIS ``ST_Contains`` per request.

    NAIVE_LOOKUP_DATABASE_URL=postgresql://… \\
        .venv/bin/python -m uvicorn bench.naive_lookup_app:app --http httptools --port 8001

What a city would write first: a FastAPI route that asks PostGIS (GiST index on ``geom``)
for the grid holding the point. Sync route, so it runs in FastAPI's threadpool, each
thread borrowing a connection from a ``ThreadedConnectionPool``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException
from psycopg2.pool import ThreadedConnectionPool

DATABASE_URL_ENV = "NAIVE_LOOKUP_DATABASE_URL"
COLUMNS = (
    "code",
    "name",
    "community_code",
    "community_name",
    "subdistrict_name",
    "households",
    "officer_name",
    "officer_phone",
)
QUERY = (
    f"SELECT {', '.join(COLUMNS)} FROM grids "
    "WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4490)) LIMIT 1"
)
# anyio's default threadpool runs at most 40 sync routes at once: one connection each,
# all opened up front (psycopg2's pool closes any connection returned beyond ``minconn``,
# which would mean a fresh connection — and backend — per request).
CONNECTIONS = 40

state: dict[str, ThreadedConnectionPool] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    state["pool"] = ThreadedConnectionPool(CONNECTIONS, CONNECTIONS, os.environ[DATABASE_URL_ENV])
    try:
        yield
    finally:
        state.pop("pool").closeall()


app = FastAPI(title="naive PostGIS lookup", lifespan=lifespan)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/lookup")
def lookup(lon: float, lat: float) -> dict[str, Any]:
    pool = state["pool"]
    conn = pool.getconn()
    try:
        conn.autocommit = True  # no transaction left open between requests
        with conn.cursor() as cur:
            cur.execute(QUERY, (lon, lat))
            row = cur.fetchone()
    finally:
        pool.putconn(conn)
    if row is None:
        raise HTTPException(status_code=404, detail="no grid contains this point")
    return dict(zip(COLUMNS, row, strict=True))
