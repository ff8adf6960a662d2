"""/readyz says whether the store answers now; /healthz stays 200 from memory while the
database is away (here: dropped under a running server)."""

from __future__ import annotations

from contextlib import closing

import httpx
from psycopg2 import sql

from gridgis.settings import Settings
from gridgis.store import open_store
from tests.conftest import Databases, Server, _admin


def test_ready_on_both_stores(client: httpx.Client) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.json()["status"] == "ready"


def test_a_database_gone_is_503_with_retry_after_while_healthz_stays_up(
    databases: Databases, tmp_path: object
) -> None:
    url = databases.create()
    settings = Settings(database_url=url, actor="test")
    store = open_store(settings, check=False)
    store.upgrade()
    store.close()
    name = url.rsplit("/", 1)[1]
    with Server(settings) as server, server.client(timeout=30) as http:
        assert http.get("/readyz").status_code == 200
        with closing(_admin()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            cur.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        gone = http.get("/readyz")
        assert gone.status_code == 503, gone.text
        assert gone.headers["retry-after"] == "5"
        assert gone.json()["status"] == "unavailable"
        assert http.get("/healthz").status_code == 200
        # What needs the database says so, with when to come back; never a 500.
        for method, path in (("GET", "/api/versions"), ("DELETE", "/api/versions/some-draft")):
            away = http.request(method, path)
            assert away.status_code == 503, (method, path, away.text)
            assert away.json()["code"] == "store_unavailable"
            assert away.headers["retry-after"] == "5"
