"""Bulk point-in-grid: ``GridIndex.lookup`` beside ``shapely.STRtree`` on the city grids.

    .venv/bin/python bench/lookup_bulk.py [--data-dir DIR] [--points 1000000]

Uses the published city-scale version (built once by ``bench/city_store.py``), draws
random points over the layer's extent, runs both in the same process and prints build
time, memory, throughput, the ratio and the agreement off borders.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, VERSION, ensure_published  # noqa: E402
from gridgis.lookup import GridIndex  # noqa: E402
from gridgis.store import open_store  # noqa: E402


def best_of(runs: int, fn: object) -> float:
    assert callable(fn)
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


if __name__ == "__main__":
    main()
