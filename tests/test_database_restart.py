"""The real PostgreSQL cluster stopped and started under a running server: writes say
503 with ``Retry-After`` within a second, what the server holds in memory keeps being
answered, ``/healthz`` stays 200 while ``/readyz`` says 503, and everything comes back
when the database does, without restarting the server.

This stops the cluster every PostGIS test uses, so it runs only where that cluster is
this machine's (``pg_ctlcluster``, as root, as in CI) and restarts it whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import shapely

from gridgis.demo import run_demo
from gridgis.settings import Settings
from gridgis.store import open_store
from tests.conftest import ADMIN_URL, DEMO, SAMPLE_DIR, Databases, Server, computed

PATCH = {"Content-Type": "application/merge-patch+json"}
WITHIN_S = 1.0


def _cluster() -> tuple[str, str] | None:
    """The local cluster (version, name) the tests' database lives in, if we may stop it."""
    if urlparse(ADMIN_URL).hostname not in ("127.0.0.1", "localhost") or os.geteuid() != 0:
        return None
    if shutil.which("pg_lsclusters") is None:
        return None
    port = str(urlparse(ADMIN_URL).port or 5432)
    for line in subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout.splitlines():
        version, name, cluster_port, *_ = line.split()
        if cluster_port == port:
            return version, name
    return None


CLUSTER = _cluster()
pytestmark = pytest.mark.skipif(CLUSTER is None, reason="needs this machine's own cluster")


def _pg(action: str) -> None:
    assert CLUSTER is not None
    version, name = CLUSTER
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, "-m", "fast"]
        if action == "stop"
        else ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def cluster() -> Iterator[None]:
    try:
        yield
    finally:  # never leave the other tests without their database
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
            _pg("start")
            for _ in range(60):
                if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
                    break
                time.sleep(0.5)


def _timed(
    http: httpx.Client, method: str, url: str, **kwargs: object
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = http.request(method, url, **kwargs)  # type: ignore[arg-type]
    return answer, time.monotonic() - started


def test_the_cluster_stopped_and_started_under_a_running_server(
    databases: Databases, tmp_path: Path, cluster: None
) -> None:
    url = databases.create()
    settings = Settings(database_url=url, data_dir=tmp_path / "data", actor="test")
    store = open_store(settings, check=False)
    store.upgrade()
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    grids = store.read_grids(DEMO)
    store.close()
    code = str(grids["code"].iloc[0])
    inside = shapely.point_on_surface(grids.geometry.iloc[0])
    lookup = f"/api/lookup?lon={inside.x}&lat={inside.y}"
    with Server(settings) as server, server.client(timeout=30) as http:
        answer = http.get(lookup)
        assert answer.status_code == 200 and answer.json()["code"] == code
        tag = http.get(f"/api/grids/{code}").headers["etag"]
        _pg("stop")
        # Writes, and reads that need the database: 503 at once, with when to come back.
        for method, path, kwargs in (
            (
                "PATCH",
                f"/api/grids/{code}",
                {
                    "json": {"properties": {"officer_phone": "13900000009"}},
                    "headers": {**PATCH, "If-Match": tag},
                },
            ),
            ("POST", "/api/versions", {"json": {"version": "停库时"}}),
            ("DELETE", "/api/versions/some-draft", {}),
            ("GET", "/api/versions", {}),
        ):
            away, took = _timed(http, method, path, **kwargs)
            assert away.status_code == 503, (method, path, away.text)
            assert away.json()["code"] == "store_unavailable"
            assert int(away.headers["retry-after"]) > 0
            assert took < WITHIN_S, (method, path, took)
        ready, took = _timed(http, "GET", "/readyz")
        assert ready.status_code == 503 and took < WITHIN_S
        # What the server holds in memory: the published grids answer lookups.
        for _ in range(20):
            assert http.get(lookup).json()["code"] == code
        assert http.get("/healthz").status_code == 200
        _pg("start")
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server never saw the database again"
            time.sleep(0.2)
        # Back without a restart: a write, a job, the audit chain.
        edited = http.patch(
            f"/api/grids/{code}",
            json={"properties": {"officer_phone": "13900000009"}},
            headers={**PATCH, "If-Match": tag},
        )
        assert edited.status_code == 200, edited.text
        review = computed(http, f"/api/versions/{DEMO}/review")
        assert review.status_code == 200 and review.json()["version"] == DEMO
        assert http.get(lookup).json()["code"] == code
    store = open_store(settings)
    try:
        assert store.verify_audit().ok
        assert "停库时" not in {v.name for v in store.list_versions()}
    finally:
        store.close()
