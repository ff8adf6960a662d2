"""Bulk point-in-grid: ``GridIndex.lookup`` beside ``shapely.STRtree`` on the city grids.

    .venv/bin/python bench/lookup_bulk.py [--data-dir DIR] [--points 1000000] [--no-http]

Uses the published city-scale version (built once by ``bench/city_store.py``), draws
random points over the layer's extent, runs both in the same process and prints build
time, memory, throughput, the ratio and the agreement off borders. Then sends the same
points to ``gridgis serve`` as one bulk request in JSON and one in CSV, end to end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, VERSION, ensure_published  # noqa: E402
from bench.lookup_http import free_port, gridgis_argv, serving  # noqa: E402
from gridgis.credentials import issue_key  # noqa: E402
from gridgis.lookup import GridIndex  # noqa: E402
from gridgis.store import open_store  # noqa: E402


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--http",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also send the points to `gridgis serve` as one JSON and one CSV request",
    )
    args = parser.parse_args()
    store = open_store(ensure_published(args.data_dir))
    grids = store.read_grids(VERSION)
    store.close()
    geoms, codes = grids.geometry.to_numpy(), grids["code"].to_numpy()

    started = time.perf_counter()
    index = GridIndex(geoms, codes)
    build = time.perf_counter() - started
    print(
        f"{len(codes)} grids; GridIndex built in {build:.2f} s, raster "
        f"{index.raster.shape[1]}×{index.raster.shape[0]} cells of {index.cell:.1e}°, "
        f"{index.nbytes / 2**20:.1f} MiB, {index.border_share:.1%} of cells near a border"
    )

    rng = np.random.default_rng(2026)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)
    points = shapely.points(lon, lat)

    tree = shapely.STRtree(geoms)
    baseline: dict[str, np.ndarray] = {}

    def with_strtree() -> None:
        baseline["pairs"] = tree.query(points, predicate="within")

    result: dict[str, np.ndarray] = {}

    def with_index() -> None:
        result["codes"] = index.lookup(lon, lat)

    t_tree = best_of(args.runs, with_strtree)
    t_index = best_of(args.runs, with_index)

    p_idx, g_idx = baseline["pairs"]
    expected = np.full(len(points), None, dtype=object)
    expected[p_idx] = codes[g_idx]
    # A point on a border intersects a grid without lying within it.
    border_points = np.zeros(len(points), dtype=bool)
    border_points[tree.query(points, predicate="intersects")[0]] = True
    border_points[p_idx] = False
    off = ~border_points
    agree = (result["codes"][off] == expected[off]).mean()
    print(
        f"{args.points:,} random points ({pd.notna(expected).mean():.1%} inside a grid), "
        f"best of {args.runs}:"
    )
    timings = (("shapely STRtree.query(within)", t_tree), ("GridIndex.lookup", t_index))
    for label, seconds in timings:
        print(f"  {label:<30} {seconds:.3f} s  ({args.points / seconds:,.0f} points/s)")
    print(f"  ratio STRtree/GridIndex: {t_tree / t_index:.1f}×")
    print(f"  agreement off borders: {agree:.4%} ({int(border_points.sum())} points on a border)")
    if args.http:
        over_http(args.data_dir, lon, lat, result["codes"], t_index)


def post(url: str, body: bytes, kind: str, key: str) -> tuple[float, bytes]:
    """A bulk lookup, with the viewer key bulk requests need."""
    headers = {"Content-Type": kind, "Authorization": f"Bearer {key}"}
    request = urllib.request.Request(url, data=body, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = response.read()
    return time.perf_counter() - started, answer


def over_http(
    data_dir: Path, lon: np.ndarray, lat: np.ndarray, codes: np.ndarray, in_process: float
) -> None:
    """The same points as one ``POST /api/lookup``, as JSON and as CSV, end to end."""
    settings = ensure_published(data_dir)
    port = free_port()
    body = json.dumps({"points": np.column_stack([lon, lat]).round(7).tolist()}).encode()
    table = pd.DataFrame({"lon": lon.round(7), "lat": lat.round(7)}).to_csv(index=False).encode()
    env = {"GRIDGIS_DATA_DIR": str(settings.data_dir), "GRIDGIS_DATABASE_URL": ""}
    store = open_store(settings)
    try:
        key, _ = issue_key(store, "viewer", actor="bench", name="lookup_bulk")
    finally:
        store.close()
    with (
        tempfile.TemporaryDirectory(prefix="gridgis-bulk-") as tmp,
        serving("gridgis", gridgis_argv(port), env, port, Path(tmp) / "serve.log") as base,
    ):
        json_s, answer = post(f"{base}/api/lookup", body, "application/json", key)
        found = [r["code"] for r in json.loads(answer)["results"]]
        csv_s, csv_answer = post(f"{base}/api/lookup", table, "text/csv", key)
    agree = np.mean(np.asarray(found, dtype=object) == codes)
    print(f"one POST /api/lookup of {len(lon):,} points to `gridgis serve`, end to end:")
    print(f"  JSON ({len(body) / 1e6:.0f} MB in): {json_s:.2f} s, {agree:.4%} the same grids")
    print(
        f"  CSV ({len(table) / 1e6:.0f} MB in, {len(csv_answer) / 1e6:.0f} MB out): {csv_s:.2f} s"
    )
    print(f"  in-process GridIndex.lookup of the same points: {in_process:.3f} s")


if __name__ == "__main__":
    main()
