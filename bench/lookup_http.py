"""HTTP single lookups with wrk: ``gridgis serve`` beside a naive PostGIS ``ST_Contains`` app.

    .venv/bin/python bench/lookup_http.py [--data-dir DIR] [--duration 10] [--connections 16]
        [--threads 1] [--warmup 2] [--points 20000] [--postgres URL]

Goal (issue): ≥ 5,000 requests/s with p99 ≤ 10 ms on a 2-core machine, wrk on loopback,
and ≥ 10× a naive endpoint doing one PostGIS query per request, measured in the same run;
and with a viewer key on every request (issue [9/11]), ≥ 90% of the rate without one.
Without a key the server limits each client (``GRIDGIS_PUBLIC_RATE``); wrk is one client,
so the keyless runs lift the limit (``GRIDGIS_PUBLIC_RATE=0``), as before keys existed;
both run against one server, alternating three times each, and their medians compare.
Loads the published city-scale grids (``bench/city_store.py``) into a throw-away PostGIS
database for the baseline (``bench/naive_lookup_app.py``), draws points inside the grids
(cases come from inside the city) and has wrk cycle through the same request paths
against each server in turn — never both at once, so each has the machine to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg2
import shapely
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, VERSION, ensure_published  # noqa: E402
from bench.naive_lookup_app import COLUMNS, DATABASE_URL_ENV  # noqa: E402
from bench.postgres import (  # noqa: E402
    ADMIN_URL,
    create_database,
    database_url,
    drop_database,
)
from gridgis.credentials import issue_key  # noqa: E402
from gridgis.lookup import GridIndex  # noqa: E402
from gridgis.store import open_store  # noqa: E402

BENCH_DB = "gridgis_bench_http"
VENV_BIN = Path(sys.executable).parent
GOAL_RPS = 5_000.0
GOAL_P99_MS = 10.0
GOAL_RATIO = 10.0
GOAL_KEYED = 0.9  # lookups with a key, against the same server without
ROUNDS = 3  # each way, alternating; the medians are compared
UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
LUA = """-- cycles through pre-generated lookup paths, one per line in the file below
local paths = {}
for line in io.lines(%s) do paths[#paths + 1] = line end
local i = 0
local key = %s
-- Without a key, a header as long under another name: wrk (on the same two cores) then
-- spends the same on every request either way, and the ratio is the server's alone.
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
else
  wrk.headers["X-Not-Keyed-1"] = "Bearer " .. string.rep("0", 50)
end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str | None


# --- points and the wrk script ---------------------------------------------------------------
def inside_points(grids: gpd.GeoDataFrame, n: int, seed: int) -> tuple[list[str], list[str]]:
    """Request paths (text that round-trips) of random points inside a grid, and its code."""
    index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(grids.geometry.to_numpy())
    lon = rng.uniform(minx, maxx, n)
    lat = rng.uniform(miny, maxy, n)
    codes = index.lookup(lon, lat)
    hit = pd.notna(codes)
    paths = [
        f"/api/lookup?lon={x!r}&lat={y!r}"
        for x, y in zip(lon[hit].tolist(), lat[hit].tolist(), strict=True)
    ]
    return paths, [str(code) for code in codes[hit]]


def write_lua(workdir: Path, paths: list[str], key: str = "") -> Path:
    paths_file = workdir / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / ("lookup-key.lua" if key else "lookup.lua")
    # A JSON string is a Lua string.
    script.write_text(LUA % (json.dumps(str(paths_file)), json.dumps(key)))
    return script


# --- PostGIS -------------------------------------------------------------------------------
def load_postgis(grids: gpd.GeoDataFrame, admin_url: str, url: str) -> None:
    """A fresh ``grids`` table with a GiST index on ``geom`` (SRID 4490), analysed."""
    create_database(admin_url, BENCH_DB, postgis=True)
    table = grids[[*COLUMNS, "geometry"]].rename_geometry("geom")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        table.to_postgis("grids", engine, index=False)
    finally:
        engine.dispose()
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'grids' AND indexdef ILIKE '%gist%'"
        )
        row = cur.fetchone()
        if row is None or row[0] == 0:
            cur.execute("CREATE INDEX grids_geom_gist ON grids USING gist (geom)")
        cur.execute("SELECT Find_SRID('public', 'grids', 'geom')")
        srid = cur.fetchone()
        if srid is None or srid[0] != 4490:
            raise SystemExit(f"grids.geom has SRID {srid}, expected 4490")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE grids")


# --- servers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gridgis_argv(port: int) -> list[str]:
    """``gridgis serve`` on loopback, one process, as shipped."""
    return [str(VENV_BIN / "gridgis"), "serve", "--host", "127.0.0.1", "--port", str(port)]


def uvicorn_argv(uvicorn: list[str], app: str, port: int, *extra: str) -> list[str]:
    """Serve ``app`` on loopback as ``gridgis serve`` does: httptools, quiet logs."""
    return [
        *uvicorn,
        app,
        "--http",
        "httptools",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra,
    ]


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def serving(
    label: str, argv: list[str], env: dict[str, str], port: int, log: Path
) -> Iterator[str]:
    """Run a server until the block ends (also on errors); yield its base URL once healthy."""
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"{label} exited ({proc.returncode}):\n{log.read_text()}")
                try:
                    get_json(f"{base}/healthz", timeout=1)
                    break
                except (OSError, urllib.error.URLError):
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            f"{label} not healthy after 120 s:\n{log.read_text()}"
                        ) from None
                    time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check_answers(label: str, base: str, paths: list[str], expected: list[str]) -> None:
    """The same points give the same grids: the two servers answer the same question."""
    for path, code in zip(paths, expected, strict=True):
        try:
            answer = get_json(base + path)
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{label}: {path} gave {exc.code}: {exc.read()!r}") from None
        got = answer.get("code", answer.get("grid", {}).get("code"))
        if got != code:
            raise SystemExit(f"{label}: {path} gave grid {got}, expected {code}")


# --- wrk -----------------------------------------------------------------------------------
def to_ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise SystemExit(f"could not find {pattern!r} in wrk's output:\n{output}")
        return match

    p50 = find(r"^\s*50%\s+([\d.]+)(us|ms|s|m|h)\s*$")
    p99 = find(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors:(.*)$", output, re.MULTILINE)
    return WrkResult(
        rps=float(find(r"Requests/sec:\s*([\d.]+)").group(1)),
        p50_ms=to_ms(*p50.groups()),
        p99_ms=to_ms(*p99.groups()),
        requests=int(find(r"(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else None,
    )


def run_wrk(
    wrk: str, base: str, script: Path, threads: int, connections: int, seconds: float
) -> WrkResult:
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        base,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    result = parse_wrk(done.stdout)
    if result.non_2xx:
        raise SystemExit(
            f"{base}: {result.non_2xx} of {result.requests} responses were not 2xx/3xx "
            f"— every point lies inside a grid, so every lookup must succeed:\n{done.stdout}"
        )
    return result


def measure(
    label: str,
    base: str,
    args: argparse.Namespace,
    wrk: str,
    script: Path,
) -> WrkResult:
    print(f"{label}: warm-up {args.warmup:g} s, then {args.duration:g} s …", file=sys.stderr)
    run_wrk(wrk, base, script, args.threads, args.connections, args.warmup)
    result = run_wrk(wrk, base, script, args.threads, args.connections, args.duration)
    if result.socket_errors:
        print(f"  {label}: wrk socket errors: {result.socket_errors}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded first")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--points", type=int, default=20_000, help="drawn; those inside kept")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of the PostGIS server")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    settings = ensure_published(args.data_dir)
    store = open_store(settings)
    try:
        grids = store.read_grids(VERSION)
    finally:
        store.close()
    paths, codes = inside_points(grids, args.points, args.seed)
    sample, expected = paths[:50], codes[:50]
    print(
        f"{len(grids):,} grids; {len(paths):,} of {args.points:,} random points inside a grid; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
        f"(after {args.warmup:g} s warm-up), one server at a time",
        flush=True,
    )

    url = database_url(args.postgres, BENCH_DB)
    results: dict[str, WrkResult] = {}
    with tempfile.TemporaryDirectory(prefix="gridgis-http-") as tmp:
        workdir = Path(tmp)
        script = write_lua(workdir, paths)
        try:
            print("loading the grids into PostGIS …", file=sys.stderr)
            load_postgis(grids, args.postgres, url)

            store = open_store(settings)
            try:
                key, record = issue_key(store, "viewer", actor="bench", name="lookup_http")
            finally:
                store.close()
            keyed = write_lua(workdir, paths, key)
            port = free_port()
            ours = gridgis_argv(port)
            env = {"GRIDGIS_DATA_DIR": str(settings.data_dir), "GRIDGIS_PUBLIC_RATE": "0"}
            try:
                with serving("gridgis", ours, env, port, workdir / "gridgis.log") as base:
                    check_answers("gridgis", base, sample, expected)
                    # The same server, with and without the key in turn: this machine's
                    # speed drifts by ±20% between runs, more than what is measured here.
                    plain, with_key = [], []
                    for _ in range(ROUNDS):
                        plain.append(measure("gridgis", base, args, wrk, script))
                        with_key.append(measure("gridgis, viewer key", base, args, wrk, keyed))
                    results["gridgis"] = sorted(plain, key=lambda r: r.rps)[ROUNDS // 2]
                    results["keyed"] = sorted(with_key, key=lambda r: r.rps)[ROUNDS // 2]
            finally:
                store = open_store(settings)
                try:
                    store.revoke_key(record.id, "bench")
                finally:
                    store.close()

            port = free_port()
            naive = uvicorn_argv(
                [sys.executable, "-m", "uvicorn"], "bench.naive_lookup_app:app", port
            )
            env = {DATABASE_URL_ENV: url}
            with serving("naive", naive, env, port, workdir / "naive.log") as base:
                check_answers("naive", base, sample, expected)
                results["naive"] = measure("naive", base, args, wrk, script)
        finally:
            drop_database(args.postgres, BENCH_DB)

    ours_r, naive_r = results["gridgis"], results["naive"]
    labels = {
        "gridgis": "gridgis, no key",
        "keyed": "gridgis, viewer key",
        "naive": "naive PostGIS ST_Contains",
    }
    width = max(map(len, labels.values()))
    for key, r in results.items():
        print(
            f"  {labels[key]:<{width}} {r.rps:>9,.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  ({r.requests:,} requests)"
        )
    ratio = ours_r.rps / naive_r.rps
    keyed_ratio = results["keyed"].rps / ours_r.rps
    print(f"  ratio gridgis/naive: {ratio:.1f}×")
    print(f"  ratio with a key / without: {keyed_ratio:.2f}")
    goals = (
        (f"≥ {GOAL_RPS:,.0f} req/s", ours_r.rps >= GOAL_RPS),
        (f"p99 ≤ {GOAL_P99_MS:g} ms", ours_r.p99_ms <= GOAL_P99_MS),
        (f"≥ {GOAL_RATIO:g}× naive", ratio >= GOAL_RATIO),
        (f"with a key ≥ {GOAL_KEYED:.0%}", keyed_ratio >= GOAL_KEYED),
    )
    print("  goals: " + ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in goals))


if __name__ == "__main__":
    main()
