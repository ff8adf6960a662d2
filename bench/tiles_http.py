"""Vector tiles over HTTP with wrk: ``gridgis serve`` beside TiPg, on the same PostGIS table.

    .venv/bin/python bench/tiles_http.py [--layers demo city] [--rounds 3] [--connections 8 16]
        [--duration 10] [--warmup 3] [--threads 1] [--max-tiles 20000] [--rebuild]
        [--explain] [--postgres URL]

Goal (issue): uncached grid tiles z13–z16 at ≥ 3× TiPg's throughput on both the demo's
small sample (the committed ``shapefiles/``, few grids a tile: per-request overhead
shows) and the city sample (``bench/city_store.py``), p99 ≤ 30 ms at 8 connections; warm
cached throughput stated too. Each sample is imported, merged and published once into
its own PostGIS database (``gridgis_bench_tiles_demo``, ``gridgis_bench_tiles``; kept and
reused, ``--rebuild`` builds them afresh). TiPg runs from its own venv,
``bench/out/tipg-venv`` (made here on first use: ``pip install tipg "uvicorn[standard]"``),
served by uvicorn with httptools, on the same ``grids`` table with the same five
properties, the same MVT extent (4096) and buffer (64). Each database holds one grid
version, so the whole table is the published version both serve.

Every tile z13–z16 meeting the published grids' extent (or a seeded sample of
``--max-tiles``), shuffled with a fixed seed, is the request list of every server; wrk
cycles through it. Per sample, three servers are started and stay up: gridgis with its
tile cache off (``GRIDGIS_TILE_CACHE=0``), TiPg (which caches no tiles), and gridgis with
its cache on, filled by one pass through the list first. wrk measures one of them at a
time (the others idle), each after a warm-up; a round measures all three back to back,
at each ``--connections``, and the order of gridgis and TiPg alternates between rounds,
so every ratio comes from two figures taken side by side. ``--explain`` adds ``EXPLAIN
ANALYZE`` of both servers' tile SQL (TiPg's as it logs it) for the city's busiest z13 and
z16 tiles.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import psycopg2
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_sample  # noqa: E402
from bench.city_store import VERSION as CITY_VERSION  # noqa: E402
from bench.lookup_http import (  # noqa: E402
    VENV_BIN,
    WrkResult,
    free_port,
    gridgis_argv,
    measure,
    serving,
    uvicorn_argv,
    write_lua,
)
from bench.postgres import (  # noqa: E402
    ADMIN_URL,
    create_database,
    database_exists,
    database_url,
)
from gridgis.demo import DEMO_VERSION, run_demo  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402
from gridgis.store.pgtiles import execute_sql, prepare_sql, tile_args, tile_query  # noqa: E402
from gridgis.tiles import TILE_LAYERS, TileAddress  # noqa: E402
from gridgis.tiles.tilemath import BUFFER, EXTENT  # noqa: E402

TIPG_VENV = ROOT / "bench" / "out" / "tipg-venv"
ZOOMS = (13, 14, 15, 16)
GOAL_RATIO = 3.0
GOAL_P99_MS = 30.0
GOAL_CONNECTIONS = 8  # the p99 goal holds at this many connections
UNCACHED, TIPG, WARM = "gridgis (uncached)", "TiPg", "gridgis (warm cache)"
LAYER = TILE_LAYERS["grids"]
PROPERTIES = [name for name, _ in LAYER.properties]  # code, name, kind, community_code, …
TIPG_TILE = "/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props}"
TIPG_LOG_CONFIG = {  # for --explain: TiPg logs each tile's SQL at DEBUG on logger "tipg"
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"err": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}},
    "loggers": {"tipg": {"handlers": ["err"], "level": "DEBUG", "propagate": False}},
}


@dataclass(frozen=True)
class Server:
    label: str
    argv: list[str]
    env: dict[str, str]
    port: int
    paths: list[str]  # one per tile of the shared list, in the same order


# --- the PostGIS database ------------------------------------------------------------------
def published_name(url: str) -> str | None:
    """The published version of the store at ``url``; None when it has none (or no schema)."""
    try:
        store = open_store(Settings(database_url=url, actor="bench"))
    except Exception:  # no schema yet, or an old one: build afresh
        return None
    try:
        published = store.published_version()
        return None if published is None else published.name
    finally:
        store.close()


@dataclass(frozen=True)
class Sample:
    """A sample city the benchmark serves: where its files come from, which database."""

    name: str
    database: str
    version: str
    scale: str

    def files(self, data_dir: Path) -> Path:
        return ensure_sample(data_dir) if self.scale == "city" else ROOT / "shapefiles"


SAMPLES = {
    "demo": Sample("demo", "gridgis_bench_tiles_demo", DEMO_VERSION, "small"),
    "city": Sample("city", "gridgis_bench_tiles", CITY_VERSION, "city"),
}


def ensure_postgis(admin_url: str, sample: Sample, data_dir: Path, rebuild: bool) -> str:
    """URL of the sample's database, holding it imported, merged and published."""
    db = sample.database
    url = database_url(admin_url, db)
    if not rebuild and database_exists(admin_url, db) and published_name(url) == sample.version:
        print(
            f"reusing {db} (published {sample.version}; --rebuild to build afresh)", file=sys.stderr
        )
        return url
    files = sample.files(data_dir)
    create_database(admin_url, db)
    settings = Settings(database_url=url, actor="bench")
    store = open_store(settings, check=False)
    try:
        print(f"{db}: schema, import, merge …", file=sys.stderr, flush=True)
        store.upgrade()
        run_demo(store, settings, files, scale=sample.scale, version_name=sample.version)
    finally:
        store.close()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with closing(conn), conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"{db}: published {sample.version}", file=sys.stderr)
    return url


def grids_extent(url: str) -> tuple[int, tuple[float, float, float, float]]:
    """Number of grids and their (west, south, east, north); the table must hold one version."""
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT version_id), ST_XMin(ST_Extent(geom)), "
            "ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) "
            "FROM grids"
        )
        row = cur.fetchone()
        if row is None or not row[0]:
            raise SystemExit(f"{url}: no grids")
        if row[1] != 1:
            raise SystemExit(f"{url}: grids holds {row[1]} versions; run with --rebuild")
        # read every page once (TOAST too), so no server starts on a cold buffer cache
        cur.execute("SELECT sum(ST_NPoints(geom)) FROM grids")
        return int(row[0]), (float(row[2]), float(row[3]), float(row[4]), float(row[5]))


# --- the tile list -------------------------------------------------------------------------
def tiles_over(
    bounds: tuple[float, float, float, float], max_tiles: int, seed: int
) -> list[TileAddress]:
    """Every tile z13–z16 meeting ``bounds`` (a seeded sample if more), shuffled."""
    west, south, east, north = bounds
    tiles: list[TileAddress] = []
    for z in ZOOMS:
        first = TileAddress.containing(west, north, z)
        last = TileAddress.containing(east, south, z)
        tiles += [
            TileAddress(z, x, y)
            for x in range(first.x, last.x + 1)
            for y in range(first.y, last.y + 1)
        ]
    rng = random.Random(seed)
    if len(tiles) > max_tiles:
        tiles = rng.sample(tiles, max_tiles)  # in proportion to each zoom's share
    rng.shuffle(tiles)
    return tiles


def busiest_tiles(url: str) -> list[TileAddress]:
    """The z13 and the z16 tile holding the most grid centroids."""
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM grids) s")
        points = [(float(x), float(y)) for x, y in cur.fetchall()]
    return [
        Counter(TileAddress.containing(x, y, z) for x, y in points).most_common(1)[0][0]
        for z in (13, 16)
    ]


# --- fetching and decoding -----------------------------------------------------------------
def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def tile_body(label: str, url: str) -> bytes:
    """The MVT at ``url``, empty for an empty tile (204, 404 or a 200 with no body)."""
    status, body = fetch(url)
    if status in (204, 404):
        return b""
    if status != 200:
        raise SystemExit(f"{label}: {url} gave {status}: {body[:300]!r}")
    return body


def features(body: bytes) -> dict[str, tuple[dict[str, Any], shapely.Geometry]]:
    """Code → (properties less code, geometry in tile units) of the one layer of a tile."""
    if not body:
        return {}
    layers = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    if len(layers) != 1:
        raise SystemExit(f"expected one layer, got {sorted(layers)}")
    (layer,) = layers.values()
    out: dict[str, tuple[dict[str, Any], shapely.Geometry]] = {}
    for feature in layer["features"]:
        props = dict(feature["properties"])
        code = str(props.pop("code"))
        out[code] = (props, shapely.geometry.shape(feature["geometry"]))
    return out


def inside(geom: shapely.Geometry) -> bool:
    """Whether a feature covers some of the tile itself, not only its buffer."""
    square = shapely.box(0, 0, EXTENT, EXTENT)
    return bool(shapely.intersection(shapely.make_valid(geom), square).area > 0)


def check_same_tiles(ours: Server, tipg: Server, bases: dict[str, str], sample: int) -> int:
    """Both servers show the same grids with the same properties in ``sample`` tiles.

    TiPg keeps the rows that intersect the tile itself, gridgis those whose boxes meet the
    tile grown by its buffer: gridgis may add grids that lie wholly in the buffer. Returns
    how many such buffer-only grids gridgis sent.
    """
    extra = 0
    checked = {z: 0 for z in ZOOMS}
    want = {z: math.ceil(sample / len(ZOOMS)) for z in ZOOMS}
    empty = 0
    for ours_path, tipg_path in zip(ours.paths, tipg.paths, strict=True):
        z = int(ours_path.split("/")[3])
        if checked[z] >= want[z]:
            continue
        mine = features(tile_body(ours.label, bases[ours.label] + ours_path))
        theirs = features(tile_body(tipg.label, bases[tipg.label] + tipg_path))
        if not mine and not theirs:
            if empty >= 2:
                continue  # a couple of empty tiles suffice: look for ones with grids
            empty += 1
        checked[z] += 1
        missing = set(theirs) - set(mine)
        if missing:
            raise SystemExit(f"{ours_path}: grids {sorted(missing)[:5]} only in TiPg's tile")
        for code in set(mine) - set(theirs):
            if inside(mine[code][1]):
                raise SystemExit(f"{ours_path}: grid {code} inside the tile is missing in TiPg's")
            extra += 1
        for code, (props, geom) in theirs.items():
            if props != mine[code][0]:
                raise SystemExit(f"{ours_path}: {code} {mine[code][0]} ≠ TiPg's {props}")
            if inside(geom) != inside(mine[code][1]):
                raise SystemExit(f"{ours_path}: {code} drawn differently by the two servers")
        if sum(checked.values()) >= sample:
            break
    print(
        f"checked {sum(checked.values())} tiles ({empty} empty on both): same grids and "
        f"properties; {extra} grids lying wholly in the buffer only in gridgis' tiles",
        file=sys.stderr,
    )
    return extra


def average_bytes(label: str, base: str, paths: Iterable[str]) -> tuple[float, float, int]:
    """Mean bytes over all tiles, mean over the non-empty ones, and how many were empty."""
    sizes = [len(tile_body(label, base + p)) for p in paths]
    full = [s for s in sizes if s]
    return sum(sizes) / len(sizes), sum(full) / max(len(full), 1), len(sizes) - len(full)


def one_pass(label: str, base: str, paths: list[str], workers: int) -> float:
    """Request every tile once (fills gridgis' cache); seconds taken."""
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda p: tile_body(label, base + p), paths):
            pass
    return time.perf_counter() - start


# --- servers -------------------------------------------------------------------------------
def ensure_tipg() -> str:
    """TiPg's version, installing it into its own venv on first use."""
    pip = TIPG_VENV / "bin" / "pip"
    if not (TIPG_VENV / "bin" / "uvicorn").exists():
        print(f"installing TiPg into {TIPG_VENV} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run([str(pip), "install", "-q", "tipg", "uvicorn[standard]"], check=True)
    python = TIPG_VENV / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import tipg, uvicorn; print(tipg.__version__, uvicorn.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    tipg_version, uvicorn_version = done.stdout.split()
    return f"TiPg {tipg_version} (uvicorn {uvicorn_version}, httptools)"


def served_code() -> Path:
    """Where the ``gridgis`` command finds the app: this checkout only if PYTHONPATH says so
    (the venv's own install may point at another)."""
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "import api; print(api.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # as the server would not find it from the current directory
    )
    return Path(done.stdout.strip()).parent.parent


def gridgis_server(url: str, tiles: list[TileAddress], cache: bool) -> Server:
    port = free_port()
    return Server(
        label=WARM if cache else UNCACHED,
        argv=gridgis_argv(port),
        # wrk is one client: lift the per-client limit on reads without a key.
        env={
            "GRIDGIS_DATABASE_URL": url,
            "GRIDGIS_TILE_CACHE": "1" if cache else "0",
            "GRIDGIS_PUBLIC_RATE": "0",
        },
        port=port,
        paths=[f"/tiles/grids/{t}.mvt" for t in tiles],
    )


TIPG_ENV = {
    "TIPG_DB_SCHEMAS": '["public"]',
    "TIPG_DB_TABLES": '["public.grids"]',  # only the grids table is a collection
    "TIPG_TILE_RESOLUTION": str(EXTENT),
    "TIPG_TILE_BUFFER": str(BUFFER),  # TiPg's default is 256; ours is 64
    "TIPG_MAX_FEATURES_PER_TILE": "10000",  # its default; far more than a z13 tile holds
    "TIPG_CATALOG_TTL": "0",  # no catalogue refresh in the middle of a run
}


def tipg_server(url: str, tiles: list[TileAddress], log_config: Path | None = None) -> Server:
    port = free_port()
    argv = uvicorn_argv(
        [str(TIPG_VENV / "bin" / "uvicorn")], "tipg.main:app", port, "--no-access-log"
    )
    if log_config is not None:
        argv += ["--log-config", str(log_config)]
    props = ",".join(PROPERTIES)
    return Server(
        label=TIPG,
        argv=argv,
        env={"DATABASE_URL": url, **TIPG_ENV},
        port=port,
        paths=[TIPG_TILE.format(z=t.z, x=t.x, y=t.y, props=props) for t in tiles],
    )


# --- EXPLAIN ANALYZE -----------------------------------------------------------------------
def explain(url: str, tiles: list[TileAddress], tipg_log: Path) -> None:
    """Plans and timings of our tile statement and of TiPg's SQL (from its DEBUG log) for
    ``tiles``. Ours is prepared and run as the server runs it: after five runs PostgreSQL
    may switch to a generic plan, so the sixth is the one shown."""
    logged = [line for line in tipg_log.read_text().splitlines() if "ST_AsMVT" in line]
    if len(logged) < len(tiles):
        raise SystemExit(f"TiPg logged {len(logged)} tile queries:\n{tipg_log.read_text()}")
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with closing(conn), conn.cursor() as cur:
        cur.execute("SELECT min(version_id) FROM grids")
        (version_id,) = cur.fetchone() or (None,)
        cur.execute(prepare_sql(LAYER))
        for tile, logged_line in zip(tiles, logged[-len(tiles) :], strict=True):
            theirs = logged_line[logged_line.index("WITH t AS") :]
            for _ in range(5):
                cur.execute(execute_sql(LAYER), tile_args(tile, version_id))
            ours = cur.mogrify(execute_sql(LAYER), tile_args(tile, version_id)).decode()
            for label, query in (("gridgis", ours), ("TiPg", theirs)):
                for _ in range(3):  # the last of three runs, on warm buffers
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + query)
                    plan = [str(row[0]) for row in cur.fetchall()]
                shown = f"{query} ({tile_query(LAYER)})" if label == "gridgis" else query
                print(f"\n--- {label} {tile}: {shown}")
                print("\n".join(plan))


# --- measuring ----------------------------------------------------------------------------
@dataclass
class Figures:
    """A sample's wrk results, (server label, connections) → one per round, and the
    machine's one-minute load average as each measurement started."""

    runs: dict[tuple[str, int], list[WrkResult]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)

    def __getitem__(self, key: tuple[str, int]) -> list[WrkResult]:
        return self.runs[key]


def measure_sample(
    sample: Sample, url: str, args: argparse.Namespace, wrk: str, workdir: Path
) -> Figures:
    """Rounds of gridgis uncached, TiPg and gridgis warm, back to back, at each connection
    count; the order of the first two alternates between rounds."""
    count, bounds = grids_extent(url)
    tiles = tiles_over(bounds, args.max_tiles, args.seed)
    per_zoom = ", ".join(f"z{z} {sum(t.z == z for t in tiles):,}" for z in ZOOMS)
    print(
        f"\n{sample.name}: {count:,} grids of {sample.version}; {len(tiles):,} tiles ({per_zoom})"
    )
    ours, tipg, warm = (
        gridgis_server(url, tiles, cache=False),
        tipg_server(url, tiles),
        gridgis_server(url, tiles, cache=True),
    )
    scripts: dict[str, Path] = {}
    for server in (ours, tipg):
        (workdir / sample.name / server.label).mkdir(parents=True)
        scripts[server.label] = write_lua(workdir / sample.name / server.label, server.paths)
    scripts[warm.label] = scripts[ours.label]
    logs = workdir / sample.name
    figures = Figures()
    with (
        serving(ours.label, ours.argv, ours.env, ours.port, logs / "uncached.log") as b1,
        serving(tipg.label, tipg.argv, tipg.env, tipg.port, logs / "tipg.log") as b2,
        serving(warm.label, warm.argv, warm.env, warm.port, logs / "warm.log") as b3,
    ):
        bases = {ours.label: b1, tipg.label: b2, warm.label: b3}
        check_same_tiles(ours, tipg, bases, args.check_tiles)
        n = min(500, len(tiles))
        for server in (ours, tipg):
            mean, mean_full, empty = average_bytes(
                server.label, bases[server.label], server.paths[:n]
            )
            print(
                f"  {server.label} tile size over the first {n} tiles: {mean:,.0f} B on average, "
                f"{mean_full:,.0f} B over the {n - empty} non-empty ones"
            )
        took = one_pass(warm.label, b3, warm.paths, max(args.connections))
        print(
            f"{sample.name}: filled the warm server's tile cache in {took:.1f} s", file=sys.stderr
        )
        for round_ in range(args.rounds):
            order = (ours, tipg) if round_ % 2 == 0 else (tipg, ours)
            for connections in args.connections:
                for server in (*order, warm):
                    label = f"{sample.name} {server.label} -c{connections} round {round_ + 1}"
                    at = argparse.Namespace(**{**vars(args), "connections": connections})
                    load = os.getloadavg()[0]  # others' work on a shared machine shows here
                    result = measure(label, bases[server.label], at, wrk, scripts[server.label])
                    figures.runs.setdefault((server.label, connections), []).append(result)
                    print(
                        f"  {result.rps:,.0f} tiles/s, p50 {result.p50_ms:.2f} ms, "
                        f"p99 {result.p99_ms:.2f} ms (load average {load:.1f})",
                        file=sys.stderr,
                    )
                    figures.loads.append(load)
    return figures


# --- reporting -----------------------------------------------------------------------------
def span(values: Iterable[float], fmt: str) -> str:
    """``low–high`` of ``values`` in ``fmt`` (one value alone when they agree)."""
    ordered = sorted(values)
    low, high = format(ordered[0], fmt), format(ordered[-1], fmt)
    return low if low == high else f"{low}–{high}"


def summary(sample: Sample, figures: Figures, connections: list[int]) -> list[bool]:
    """Print a sample's ranges over the rounds; whether each goal was met (every round)."""
    met = []
    rounds = len(figures[UNCACHED, connections[0]])
    load = span(figures.loads, ".1f")
    print(
        f"{sample.name}: grid tiles z13–z16, range over {rounds} rounds "
        f"(load average {load} on {os.cpu_count()} cores as they started)"
    )
    for c in connections:
        for label in (UNCACHED, TIPG, WARM):
            runs = figures[label, c]
            print(
                f"  -c{c:<3} {label:<21} {span((r.rps for r in runs), ',.0f'):>13} tiles/s  "
                f"p50 {span((r.p50_ms for r in runs), '.2f'):>11} ms  "
                f"p99 {span((r.p99_ms for r in runs), '.2f'):>13} ms"
            )
        ratios = [
            o.rps / t.rps for o, t in zip(figures[UNCACHED, c], figures[TIPG, c], strict=True)
        ]
        warm = [w.rps / t.rps for w, t in zip(figures[WARM, c], figures[TIPG, c], strict=True)]
        print(
            f"  -c{c:<3} ratio gridgis/TiPg uncached {span(ratios, '.2f')}× per round "
            f"({', '.join(f'{r:.2f}' for r in ratios)}); warm cache {span(warm, '.1f')}×"
        )
        met.append(min(ratios) >= GOAL_RATIO)
        print(f"  -c{c:<3} goal ≥ {GOAL_RATIO:g}× TiPg uncached in every round: {_met(met[-1])}")
        if c == GOAL_CONNECTIONS:
            worst = max(r.p99_ms for r in figures[UNCACHED, c])
            met.append(worst <= GOAL_P99_MS)
            print(
                f"  -c{c:<3} goal p99 ≤ {GOAL_P99_MS:g} ms uncached in every round: {_met(met[-1])}"
            )
    return met


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", choices=list(SAMPLES), default=list(SAMPLES))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the samples' databases")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every server")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds discarded first")
    parser.add_argument("--connections", type=int, nargs="+", default=[GOAL_CONNECTIONS])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tiles", type=int, default=20_000)
    parser.add_argument("--check-tiles", type=int, default=20, help="compared tile by tile")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE both tile SQLs")
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of the PostGIS server")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    tipg_version = ensure_tipg()
    urls = {
        name: ensure_postgis(args.postgres, SAMPLES[name], args.data_dir, args.rebuild)
        for name in args.layers
    }
    print(
        f"gridgis from {served_code()}; {tipg_version}; wrk -t{args.threads} "
        f"-c{'/'.join(map(str, args.connections))} -d{args.duration:g}s (after {args.warmup:g} s "
        f"warm-up), {args.rounds} rounds, one server at a time",
        flush=True,
    )
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="gridgis-tiles-") as tmp:
        workdir = Path(tmp)
        for name in args.layers:
            results[name] = measure_sample(SAMPLES[name], urls[name], args, wrk, workdir)
        print()
        goals = [
            ok
            for name in args.layers
            for ok in summary(SAMPLES[name], results[name], args.connections)
        ]
        print(f"goals: {'all met' if all(goals) else 'some MISSED'}", flush=True)
        if args.explain:
            url = urls.get("city", next(iter(urls.values())))
            config = workdir / "tipg-log.json"
            config.write_text(json.dumps(TIPG_LOG_CONFIG))
            probes = busiest_tiles(url)
            logged = tipg_server(url, probes, log_config=config)
            log = workdir / "tipg-debug.log"
            with serving(logged.label, logged.argv, logged.env, logged.port, log) as base:
                for path in logged.paths:
                    tile_body(logged.label, base + path)
            explain(url, probes, log)


if __name__ == "__main__":
    main()
