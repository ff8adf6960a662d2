"""The merge at city scale, beside a naive overlay of all department layers.

    .venv/bin/python bench/merge_city.py [--data-dir DIR] [--budget 600]

Builds the city-scale sample into an embedded store under ``--data-dir`` (reused when it
is already there), then in one process: runs the merge engine and prints its report, then
merges each layout's communities alone (slab compounds, towers, the old town's
perimeter blocks, villages) and prints its grids in band, worst grid and its reason,
and seconds, and
runs the naive way — ``geopandas.overlay(how="union")`` of the department layers one
after another, which is what "putting the layers on top of each other" amounts to — for
at most ``--budget`` seconds. Prints both times and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_city, ensure_sample  # noqa: E402
from gridgis.merge import MergeInputs, MergeResult, compute_merge, read_inputs  # noqa: E402
from gridgis.merge.report import summary  # noqa: E402
from gridgis.samplecity.writer import read_layouts  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402

TOWER_FLOORS = 26  # the sample's tower compounds have 26–34 storeys


def with_towers(inputs: MergeInputs, layouts: dict[str, str]) -> dict[str, str]:
    """``slab`` communities where half the households or more live in towers of
    ``TOWER_FLOORS`` storeys or more become ``tower``: the sample draws towers as
    compounds among the slabs, so its layout column does not tell them apart."""
    points = shapely.point_on_surface(inputs.buildings.geometry.to_numpy())
    comm, bldg = shapely.STRtree(points).query(
        inputs.communities.geometry.to_numpy(), predicate="contains"
    )
    households = inputs.buildings["households"].fillna(0).to_numpy()[bldg]
    tall = inputs.buildings["floors"].fillna(0).to_numpy()[bldg] >= TOWER_FLOORS
    codes = inputs.communities["code"].astype(str).to_numpy()
    share = (
        pd.DataFrame({"code": codes[comm], "all": households, "tall": households * tall})
        .groupby("code")[["all", "tall"]]
        .sum()
    )
    towers = set(share.index[share["tall"] >= share["all"] / 2])
    return {c: "tower" if k == "slab" and c in towers else k for c, k in layouts.items()}


def only(inputs: MergeInputs, communities: gpd.GeoDataFrame) -> MergeInputs:
    """The merge's inputs for ``communities`` alone: the buildings, compounds, streets and
    department grids that reach them."""
    area = shapely.union_all(communities.geometry.to_numpy())

    def near(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return frame.iloc[np.sort(frame.sindex.query(area, predicate="intersects"))]

    return replace(
        inputs,
        communities=communities,
        buildings=near(inputs.buildings),
        compounds=near(inputs.compounds),
        streets=near(inputs.streets),
        departments={d: near(f) for d, f in inputs.departments.items()},
    )


def by_layout(
    inputs: MergeInputs, layouts: dict[str, str], settings: Settings
) -> list[tuple[str, MergeResult, float]]:
    """The merge of each layout's communities alone (slab compounds, the old town's
    perimeter blocks, villages), with the buildings, streets and department grids that
    reach them: its own report and seconds."""
    codes = inputs.communities["code"].astype(str)
    kind = codes.map(layouts).fillna("unknown")
    out = []
    for layout in sorted(set(kind)):
        part = only(inputs, inputs.communities[(kind == layout).to_numpy()])
        started = time.perf_counter()
        result = compute_merge(part, settings=settings)
        out.append((layout, result, time.perf_counter() - started))
    return out


def layout_line(layout: str, result: MergeResult, seconds: float) -> str:
    """Grids in band, worst grid and its reason, borders, cuts and seconds of a layout."""
    r = result.report
    worst = max(
        r["out_of_band"],
        key=lambda i: max(r["band"][0] - i["households"], i["households"] - r["band"][1]),
        default=None,
    )
    said = f"worst {worst['households']} ({worst['reason']})" if worst else "none outside"
    return (
        f"{layout}: {r['comprehensive']} grids, {100 * r['in_band_share']:.1f}% in band, "
        f"{r['over']} over; {said}; borders on streets or walls "
        f"{100 * r['border_on_streets_share']:.1f}%; buildings cut {r['buildings_cut']}; "
        f"multipart {r['multipart_grids']}; {seconds:.1f} s"
    )


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
    print("each layout merged on its own:")
    rest = (0, 0)  # in band, comprehensive grids outside the old town
    for layout, part, seconds in by_layout(
        inputs, with_towers(inputs, read_layouts(ensure_sample(args.data_dir))), settings
    ):
        print(f"  {layout_line(layout, part, seconds)}")
        if layout != "perimeter":
            rest = (rest[0] + part.report["in_band"], rest[1] + part.report["comprehensive"])
    print(f"  outside the old town: {100 * rest[0] / max(rest[1], 1):.1f}% in band")

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
