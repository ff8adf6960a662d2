"""Fixtures: every store test runs against PostGIS and the embedded GeoPackage.

PostGIS databases are created per test (or per session for the read-only demo store)
on the server named by ``GRIDGIS_TEST_DATABASE_URL`` and dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import numpy as np
import psycopg2
import pytest
import shapely
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from psycopg2 import sql

from api.app import create_app
from gridgis import crs
from gridgis.credentials import issue_key
from gridgis.demo import run_demo
from gridgis.export import version_frame, write_frame
from gridgis.importer.grids import import_grids
from gridgis.review.run import Review, review_version
from gridgis.settings import Settings
from gridgis.store import SqlStore, open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "shapefiles"
ADMIN_URL = os.environ.get(
    "GRIDGIS_TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["geopackage", "postgis"]
#: The session's demo version: named in Chinese, as a grid office names its versions, so
#: every route's headers, links and files are tested with a name beyond ASCII.
DEMO = "示范版-第一期"


def _admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


class Databases:
    """Creates throw-away PostGIS databases and drops them when the test ends."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self) -> str:
        name = f"gridgis_test_{uuid.uuid4().hex[:10]}"
        with closing(_admin()) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return _database_url(name)

    def drop_all(self) -> None:
        with closing(_admin()) as conn, conn.cursor() as cur:
            for name in self.created:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        self.created.clear()


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    dbs = Databases()
    yield dbs
    dbs.drop_all()


def make_settings(backend: str, tmp: Path, databases: Databases) -> Settings:
    if backend == "postgis":
        return Settings(database_url=databases.create(), data_dir=tmp, actor="test")
    return Settings(database_url=None, data_dir=tmp, actor="test")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> Settings:
    return make_settings(request.param, tmp_path / "data", databases)


@pytest.fixture
def store(settings: Settings) -> Iterator[SqlStore]:
    s = open_store(settings, check=False)
    s.upgrade()
    yield s
    s.close()


@pytest.fixture(scope="session", params=BACKENDS)
def demo_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Settings:
    """A store holding the sample city, merged and published once per session (read-only)."""
    settings = make_settings(request.param, tmp_path_factory.mktemp("demo"), databases)
    store = open_store(settings, check=False)
    store.upgrade()
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    store.close()
    return settings


@pytest.fixture(scope="session")
def demo_store(demo_settings: Settings) -> Iterator[SqlStore]:
    s = open_store(demo_settings)
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real uvicorn server (httptools) on a free loopback port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self._admin_key: str | None = None
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            http="httptools",
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def key(self, role: str = "admin", **options: Any) -> str:
        """A fresh API key of the server's store (servers accept it within half a second;
        wait_for_key makes sure)."""
        store = open_store(self.settings)
        try:
            key, _ = issue_key(store, role, actor="test", **options)
        finally:
            store.close()
        self.wait_for_key(key)
        return key

    def wait_for_key(self, key: str) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = httpx.get(
                f"{self.url}/api/session", headers={"Authorization": f"Bearer {key}"}
            )
            if answer.status_code == 200 and answer.json()["user"] is not None:
                return
            time.sleep(0.05)
        raise RuntimeError("the server never took the key")

    @property
    def admin_key(self) -> str:
        if self._admin_key is None:
            self._admin_key = self.key("admin", name="tests")
        return self._admin_key

    def client(self, timeout: float = 60, **kwargs: Any) -> httpx.Client:
        """An HTTP client of this server that signs as an administrator."""
        headers = {"Authorization": f"Bearer {self.admin_key}", **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, timeout=timeout, headers=headers, **kwargs)


JOB_DONE = ("successful", "failed", "dismissed")


def job_statuses(http: httpx.Client, accepted: httpx.Response, timeout: float = 300) -> Any:
    """Follow a ``202``'s ``Location`` until its job is done; every status seen."""
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(http.get(location).json())
        if seen[-1]["status"] in JOB_DONE:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {location} did not finish in {timeout} s")


def job_status(http: httpx.Client, accepted: httpx.Response, timeout: float = 300) -> Any:
    """The last status of a ``202``'s job, once it is done."""
    return job_statuses(http, accepted, timeout)[-1]


def gridgis_env(settings: Settings, **more: str) -> dict[str, str]:
    """The environment a ``gridgis`` process needs to open the store of ``settings``."""
    return {
        **os.environ,
        "GRIDGIS_DATA_DIR": str(settings.data_dir),
        "GRIDGIS_DATABASE_URL": settings.database_url or "",
        **more,
    }


def job_results(http: httpx.Client, accepted: httpx.Response) -> httpx.Response:
    """A queued job's results (an upload's report, a merge's draft), once it is done."""
    job_status(http, accepted)
    return http.get(f"{accepted.headers['location']}/results")


def computed(http: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """``GET url`` once the job it may start (a review, a diff) is done."""
    answer = http.get(url, **kwargs)
    if answer.status_code == 202:
        job_status(http, answer)
        answer = http.get(url, **kwargs)
    return answer


@pytest.fixture(scope="session")
def server(demo_settings: Settings) -> Iterator[Server]:
    with Server(demo_settings) as srv:
        yield srv


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client of the demo server (both stores), signing as an administrator; the
    access tests make their own anonymous and keyed clients."""
    with server.client() as c:
        yield c


#: Debian's Chromium as root, headless, kept from reaching for the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Headless Chromium for one test module's pages."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs it)")
    return path


def save_boxes(
    store: SqlStore, name: str, boxes: dict[str, tuple[float, float, float, float]]
) -> None:
    """Save a draft version whose grids are the given lon/lat boxes, keyed by code."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    codes = list(boxes)
    grid = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"{name} {code[-3:]}" for code in codes],
            "kind": "综合",
            "community_code": "510603001001",
            "households": 400,
            "population": 1000,
            "area_m2": 1.0,
            "compactness": 1.0,
        },
        geometry=[shapely.box(*boxes[c]) for c in codes],
        crs=4490,
    )
    store.save_version(name, grid, pd.DataFrame(), params={}, report={}, actor="test")


def save_crosswalked(store: SqlStore, name: str) -> None:
    """A draft of two grids whose crosswalk points at a department layer's one grid."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from gridgis.store.base import ImportRecord

    cell = (104.39, 31.12, 104.40, 31.13)

    if not store.list_layers():
        layer = gpd.GeoDataFrame(
            {"source_id": ["G1"], "attributes": [{"网格员": "张三"}]},
            geometry=[shapely.box(*cell)],
            crs=4490,
        )
        record = ImportRecord(
            "department", "zz.shp", "a" * 64, "EPSG:4490", 1, "test", None, "综治"
        )
        store.replace_department_layer(layer, record)
    department_grid = int(store.read_department_layer("综治")["id"].iloc[0])
    codes = ["510603001001001", "510603001001002"]
    save_boxes(store, name, {codes[0]: cell, codes[1]: (104.40, 31.12, 104.41, 31.13)})
    grids = store.read_grids(name)
    crosswalk = pd.DataFrame(
        {
            "grid_code": codes,
            "department_grid_id": department_grid,
            "area_share": 0.5,
            "household_share": 0.5,
        }
    )
    store.save_version(name, grids, crosswalk, params={}, report={}, actor="test", replace=True)


EDIT_EPSG = 4544
_edit_names = itertools.count(1)


class City:
    """The sample city in a store of its own, and the way to seed a finding into it."""

    def __init__(self, store: SqlStore, settings: Settings, tmp: Path) -> None:
        self.store, self.settings, self.tmp = store, settings, tmp
        self.clean = version_frame(store, DEMO)

    def frame(self) -> gpd.GeoDataFrame:
        return self.clean.copy()

    def metric(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        return crs.to_metric(frame.geometry.to_numpy(), EDIT_EPSG)

    def put(self, frame: gpd.GeoDataFrame, index: int, metric_geom: shapely.Geometry) -> None:
        frame.loc[frame.index[index], "geometry"] = crs.from_metric(
            np.array([metric_geom], dtype=object), EDIT_EPSG
        )[0]

    def imported(self, frame: gpd.GeoDataFrame, settings: Settings | None = None) -> Review:
        """``frame`` written to a GeoPackage, imported as a new draft and reviewed."""
        name = f"edited-{next(_edit_names)}"
        path = write_frame(frame, "gpkg", self.tmp / name, "grids")
        import_grids(self.store, path, name, settings=self.settings, actor="test")
        return review_version(self.store, name, settings or self.settings)

    def split(self, frame: gpd.GeoDataFrame, i: int, x: float, code: str) -> gpd.GeoDataFrame:
        """``frame`` with grid ``i`` cut at easting ``x`` (metres): its west part keeps the
        row, the east part is a new last row with ``code``."""
        m = self.metric(frame)[i]
        x0, y0, _, y1 = m.bounds
        west = shapely.intersection(m, shapely.box(x0 - 1, y0 - 1, x, y1 + 1))
        out = gpd.GeoDataFrame(
            gpd.pd.concat([frame, frame.iloc[[i]]], ignore_index=True),
            crs=frame.crs,
            geometry="geometry",
        )
        out.loc[len(out) - 1, "code"] = code
        self.put(out, i, west)
        self.put(out, len(out) - 1, shapely.difference(m, west))
        return out

    def give_strip(self, frame: gpd.GeoDataFrame, a: int, b: int) -> None:
        """A thin strip (80 m × 1 m) from the inside of grid ``b`` given to grid ``a``: a
        second part of ``a`` that is a sliver, filling the hole it leaves in ``b``."""
        m = self.metric(frame)
        centre = shapely.point_on_surface(shapely.buffer(m[b], -40.0))
        strip = shapely.intersection(
            shapely.box(centre.x - 40, centre.y - 0.5, centre.x + 40, centre.y + 0.5),
            shapely.buffer(m[b], -5.0),
        )
        self.put(frame, a, shapely.union(m[a], strip))
        self.put(frame, b, shapely.difference(m[b], strip))

    def edge_grid(self, frame: gpd.GeoDataFrame) -> int:
        """A grid of the first community that lies on that community's border."""
        m = self.metric(frame)
        codes = frame["community_code"].to_numpy()
        community = shapely.union_all(m[codes == codes[0]])
        return next(
            int(i)
            for i in np.flatnonzero(codes == codes[0])
            if m[i].boundary.intersects(community.boundary)
        )

    def neighbours(self, frame: gpd.GeoDataFrame) -> tuple[int, int]:
        """Two comprehensive grids of one community sharing the longest border."""
        m = self.metric(frame)
        comp = (frame["kind"] == "综合").to_numpy()
        a, b = shapely.STRtree(m).query(m, predicate="intersects")
        keep = (a < b) & comp[a] & comp[b]
        keep &= frame["community_code"].to_numpy()[a] == frame["community_code"].to_numpy()[b]
        a, b = a[keep], b[keep]
        shared = shapely.length(
            shapely.intersection(shapely.boundary(m[a]), shapely.boundary(m[b]))
        )
        k = int(np.argmax(shared))
        return int(a[k]), int(b[k])


@pytest.fixture(scope="module", params=BACKENDS)
def city(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Iterator[City]:
    settings = make_settings(request.param, tmp_path_factory.mktemp("review"), databases)
    store = open_store(settings, check=False)
    store.upgrade()
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    yield City(store, settings, tmp_path_factory.mktemp("edits"))
    store.close()
