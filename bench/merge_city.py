"""The merge at city scale, beside a naive overlay of all department layers.

    .venv/bin/python bench/merge_city.py [--data-dir DIR] [--budget 600]

Builds the city-scale sample into an embedded store under ``--data-dir`` (reused when it
is already there), then in one process: runs the merge engine and prints its report (and
the share in band by how the communities are built: slab compounds, the old town's
perimeter blocks, villages), and
runs the naive way — ``geopandas.overlay(how="union")`` of the department layers one
after another, which is what "putting the layers on top of each other" amounts to — for
at most ``--budget`` seconds. Prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import shapely.errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_city, ensure_sample  # noqa: E402
from gridgis.merge import compute_merge, read_inputs  # noqa: E402
from gridgis.merge.report import summary  # noqa: E402
from gridgis.samplecity.writer import read_layouts  # noqa: E402
from gridgis.store import open_store  # noqa: E402


def in_band_by_layout(
    grids: gpd.GeoDataFrame, layouts: dict[str, str], low: int, high: int
) -> dict[str, tuple[int, int]]:
    """Per layout, (comprehensive grids in the household band, comprehensive grids)."""
    comprehensive = grids[grids["kind"] == "综合"]
    kind = comprehensive["community_code"].map(layouts).fillna("unknown")
    ok = comprehensive["households"].between(low, high)
    return {str(k): (int(ok[kind == k].sum()), int((kind == k).sum())) for k in sorted(set(kind))}


def overlay_chain(
    layers: list[gpd.GeoDataFrame], budget: float
) -> tuple[float, int, int, str | None]:
    """Union-overlay the layers in turn; stop starting new ones once over ``budget``.

    GEOS may give up on the slivers a long chain piles up (a TopologyException): that is
    the naive way failing, so it is reported as the last value, not raised."""
    started = time.perf_counter()
    result = layers[0][["geometry"]]
    done = 1
    for layer in layers[1:]:
        if time.perf_counter() - started > budget:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = gpd.overlay(result, layer[["geometry"]], how="union", keep_geom_type=True)
        except shapely.errors.GEOSException as e:
            return time.perf_counter() - started, done, len(result), str(e)
        done += 1
        print(
            f"  overlay {done}/{len(layers)}: {len(result)} pieces, "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return time.perf_counter() - started, done, len(result), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds the naive overlay may run before it is stopped",
    )
    args = parser.parse_args()
    settings = ensure_city(args.data_dir)
    store = open_store(settings)
    inputs = read_inputs(store)
    print(
        f"inputs: {len(inputs.communities)} communities, {len(inputs.buildings)} buildings, "
        f"{len(inputs.compounds)} compounds, {len(inputs.streets)} streets, "
        f"{len(inputs.departments)} department layers "
        f"({sum(len(d) for d in inputs.departments.values())} department grids)"
    )

    started = time.perf_counter()
    result = compute_merge(inputs, settings=settings)
    engine_seconds = time.perf_counter() - started
    print(f"merge engine: {engine_seconds:.1f} s")
    for line in summary(result.report):
        print(f"  {line}")
    low, high = result.report["band"]
    layouts = read_layouts(ensure_sample(args.data_dir))
    shares = [
        f"{kind} {ok / max(n, 1):.1%} of {n}"
        for kind, (ok, n) in in_band_by_layout(result.grids, layouts, low, high).items()
    ]
    print(f"  in band by layout: {', '.join(shares)}")

    layers = [
        inputs.departments[name].to_crs(settings.metric_epsg) for name in sorted(inputs.departments)
    ]
    naive_seconds, done, pieces, failure = overlay_chain(layers, args.budget)
    finished = done == len(layers)
    stopped = f" (failed at layer {done + 1}: {failure})" if failure else " (stopped: over budget)"
    print(
        f"naive overlay chain: {naive_seconds:.1f} s for {done}/{len(layers)} layers, "
        f"{pieces} pieces{'' if finished else stopped}"
    )
    ratio = naive_seconds / engine_seconds
    print(f"ratio naive/engine: {'' if finished else '> '}{ratio:.1f}×")


if __name__ == "__main__":
    main()
