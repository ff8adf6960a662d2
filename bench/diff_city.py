"""The diff of two city-scale versions with every address, beside the same diff done by
hand in geopandas.

    .venv/bin/python bench/diff_city.py [--data-dir DIR] [--runs 3] [--share 0.02]
        [--seed 2026]

Goal (issue): ``gridgis.diff.diff_versions`` of two city-scale versions ≤ 2 s, with the
addresses whose grid changed among all of the store's (about 79,000 in the sample).

Version A is the published ``city-v1`` of ``bench/city_store.py``'s embedded store. B is
made from it the way an office edits a layer elsewhere and brings it back: its grids are
read, ``--share`` of them are joined into a neighbour (a comprehensive grid of the same
community with the longest shared border; the neighbour keeps its code) and as many
others are cut in two across their longer side at the centroid (one half keeps the code,
the other gets the community's next free one), chosen with a fixed numpy seed and never
the same grid twice; the result is written to a GeoPackage (``gridgis.export
.write_frame``) and imported as the draft ``city-v1-edited`` (``gridgis.importer.grids
.import_grids``, replacing the draft a previous run left).

Then, ``--runs`` times each, median printed (the first run may pay for warm-up):
``diff_versions(store, A, B)``, reading included; ``patch_lines`` and ``apply_patch`` on
the two versions' frames (read once), and whether ``apply_patch(A, lines)`` gives B back
(same codes, WKB-equal geometries). The baseline, in the same run: the diff as a user did
it by hand, on the same frames read once (their read left out, which favours it):
``geopandas.overlay(A, B, how="intersection")`` in metres for the old → new mapping (a
grid kept is reshaped when its areas in A and B differ from their common piece by more
than 1 m²), and ``geopandas.sjoin(predicate="within")`` of every address point against A
and against B for the addresses whose grid changed. Prints both times, the ratio, the
counts both ways (added, removed, reshaped, mapping rows, addresses moved) beside what
the edit made, and whether the two ways agree on the addresses moved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_published  # noqa: E402
from bench.city_store import VERSION as CITY_VERSION  # noqa: E402
from gridgis.crs import to_metric  # noqa: E402
from gridgis.diff import VersionDiff, apply_patch, diff_versions, keyed, patch_lines  # noqa: E402
from gridgis.export import write_frame  # noqa: E402
from gridgis.importer.grids import import_grids  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402
from gridgis.store.base import GRID_PROPERTIES, Store  # noqa: E402

EDITED = f"{CITY_VERSION}-edited"
GOAL_SECONDS = 2.0
MIN_M2 = 1.0  # a piece or a moved border smaller than this is noise (the diff's RESHAPED_M2)
MIN_SHARED_M = 10.0  # neighbours share at least this much border
COMPREHENSIVE = "综合"
T = TypeVar("T")


@dataclass
class Edit:
    """What the edit made: the codes it removed, added and reshaped."""

    removed: list[str]
    added: list[str]
    reshaped: list[str]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of ``geom`` as one MultiPolygon (a cut may leave lines behind)."""
    parts = shapely.get_parts(geom)
    return shapely.multipolygons(parts[np.isin(shapely.get_type_id(parts), [3])])


def neighbours(grid_m: NDArray[np.object_]) -> dict[int, list[tuple[float, int]]]:
    """For each grid, its neighbours and the length of border they share, longest first."""
    a, b = shapely.STRtree(grid_m).query(grid_m, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(grid_m[a]), shapely.boundary(grid_m[b]))
    )
    out: dict[int, list[tuple[float, int]]] = {}
    for i, j, length in zip(a.tolist(), b.tolist(), shared.tolist(), strict=True):
        if length >= MIN_SHARED_M:
            out.setdefault(i, []).append((length, j))
            out.setdefault(j, []).append((length, i))
    return {i: sorted(v, reverse=True) for i, v in out.items()}


def edit(
    grids: gpd.GeoDataFrame, share: float, seed: int, epsg: int
) -> tuple[gpd.GeoDataFrame, Edit]:
    """Join ``share`` of the grids into a neighbour and cut as many in two; the frame
    (lon/lat, :data:`GRID_PROPERTIES`) and what was done."""
    grids = grids[[*GRID_PROPERTIES, "geometry"]].reset_index(drop=True).copy()
    geoms = grids.geometry.to_numpy().copy()
    grid_m = to_metric(geoms, epsg)
    comprehensive = (grids["kind"] == COMPREHENSIVE).to_numpy()
    community = grids["community_code"].astype(str).to_numpy()
    codes = grids["code"].astype(str).to_numpy()
    near = neighbours(grid_m)
    wanted = round(share * len(grids))
    used = np.zeros(len(grids), dtype=bool)
    order = np.random.default_rng(seed).permutation(len(grids))
    joins: list[tuple[int, int]] = []  # (absorbed, absorber)
    cuts: list[int] = []
    for i in order.tolist():
        if used[i] or not comprehensive[i]:
            continue
        if len(joins) < wanted:
            into = next(
                (
                    j
                    for _, j in near.get(i, [])
                    if not used[j] and comprehensive[j] and community[j] == community[i]
                ),
                None,
            )
            if into is not None:
                joins.append((i, into))
                used[[i, into]] = True
        elif len(cuts) < wanted:
            cuts.append(i)
            used[i] = True
        else:
            break

    for gone, into in joins:
        geoms[into] = polygonal(shapely.union_all([geoms[into], geoms[gone]]))
    nxt = {c: int(s.str[12:].astype(int).max()) for c, s in grids.groupby("community_code")["code"]}
    extra = []
    for i in cuts:
        x0, y0, x1, y1 = shapely.bounds(geoms[i]).tolist()
        mx0, my0, mx1, my1 = shapely.bounds(grid_m[i]).tolist()
        centre = shapely.centroid(geoms[i])
        if mx1 - mx0 >= my1 - my0:  # wider than tall: cut across x
            halves = shapely.box(x0, y0, centre.x, y1), shapely.box(centre.x, y0, x1, y1)
        else:
            halves = shapely.box(x0, y0, x1, centre.y), shapely.box(x0, centre.y, x1, y1)
        first, second = (polygonal(shapely.intersection(geoms[i], h)) for h in halves)
        geoms[i] = first
        row = grids.iloc[i].copy()
        nxt[row["community_code"]] += 1
        row["code"] = f"{row['community_code']}{nxt[row['community_code']]:03d}"
        row["name"] = f"{row['name']}（分）"
        row["geometry"] = second
        extra.append(row)
    edited = grids.assign(geometry=geoms)
    edited = edited.drop(index=[gone for gone, _ in joins])
    edited = pd.concat([edited, pd.DataFrame(extra)], ignore_index=True)
    frame = gpd.GeoDataFrame(edited, geometry="geometry", crs=grids.crs)
    done = Edit(
        removed=sorted(codes[[g for g, _ in joins]].tolist()),
        added=sorted(str(r["code"]) for r in extra),
        reshaped=sorted(codes[[j for _, j in joins] + cuts].tolist()),
    )
    return frame, done


def timed(runs: int, call: Callable[[], T]) -> tuple[list[float], T]:
    """``call`` ``runs`` times: each run's seconds and the last result."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def runs_line(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (runs {', '.join(f'{v:.2f}' for v in values)})"
    )


@dataclass
class HandDiff:
    """The diff as geopandas gives it by hand."""

    added: set[str]
    removed: set[str]
    reshaped: set[str]
    mapping_rows: int
    moved: set[int]  # address ids
    unplaced: tuple[int, int]  # addresses within no grid of A, of B


def first_code(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """The code of the grid each point lies within (the first, if several; NaN if none)."""
    joined = gpd.sjoin(points, grids[["code", "geometry"]], how="left", predicate="within")
    return joined.loc[~joined.index.duplicated(), "code"]


def by_hand(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame, epsg: int
) -> HandDiff:
    a_m = a[["code", "geometry"]].to_crs(epsg)
    b_m = b[["code", "geometry"]].to_crs(epsg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pieces = gpd.overlay(
            a_m.rename(columns={"code": "old_code"}),
            b_m.rename(columns={"code": "new_code"}),
            how="intersection",
            keep_geom_type=True,
        )
    pieces["area"] = pieces.area
    codes_a, codes_b = set(a["code"].astype(str)), set(b["code"].astype(str))
    kept = sorted(codes_a & codes_b)
    same = pieces[pieces["old_code"] == pieces["new_code"]].groupby("old_code")["area"].sum()
    area_a = a_m.set_index("code").area.reindex(kept)
    area_b = b_m.set_index("code").area.reindex(kept)
    common = same.reindex(kept).fillna(0.0)
    reshaped = set(np.array(kept)[(area_a + area_b - 2 * common).to_numpy() > MIN_M2])
    removed = codes_a - codes_b
    mapping = pieces[pieces["old_code"].isin(removed | reshaped) & (pieces["area"] > MIN_M2)]

    points = addresses[["id", "geometry"]].to_crs(epsg)
    old, new = first_code(points, a_m), first_code(points, b_m)
    moved = (old.fillna("") != new.fillna("")).to_numpy()
    return HandDiff(
        added=codes_b - codes_a,
        removed=removed,
        reshaped=reshaped,
        mapping_rows=len(mapping),
        moved=set(points["id"].to_numpy()[moved].tolist()),
        unplaced=(int(old.isna().sum()), int(new.isna().sum())),
    )


def reproduces(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, lines: list[str]) -> tuple[bool, str]:
    """Whether ``apply_patch(a, lines)`` is ``b``: the same codes in key order and
    WKB-equal geometries; and what differs when it is not."""
    got = apply_patch(a, lines)
    want = b.set_axis(keyed(b))
    want = want.loc[sorted(want.index)]
    got_codes, want_codes = got["code"].astype(str).tolist(), want["code"].astype(str).tolist()
    if got_codes != want_codes:
        return False, f"codes differ ({len(got_codes)} grids given, {len(want_codes)} wanted)"
    same = shapely.to_wkb(got.geometry.to_numpy()) == shapely.to_wkb(want.geometry.to_numpy())
    if not same.all():
        return False, f"{int((~same).sum())} geometries differ in WKB"
    return True, f"{len(got_codes)} grids, codes and WKB equal"


def make_edited(store: Store, settings: Settings, share: float, seed: int) -> Edit:
    replacing = any(v.name == EDITED for v in store.list_versions())
    started = time.perf_counter()
    frame, done = edit(store.read_grids(CITY_VERSION), share, seed, settings.metric_epsg)
    with tempfile.TemporaryDirectory(prefix="gridgis-diff-") as tmp:
        path = write_frame(frame, "gpkg", Path(tmp) / "edited.gpkg", "grids")
        info, report = import_grids(
            store, path, EDITED, settings=settings, actor="bench", replace=True
        )
    print(
        f"B = {EDITED}: {len(done.removed)} grids joined into a neighbour, "
        f"{len(done.added)} cut in two; {info.grid_count} grids imported as a draft"
        f"{', replacing the one a previous run left' if replacing else ''} (edit, write and "
        f"import {time.perf_counter() - started:.1f} s; made valid {len(report.made_valid)})"
    )
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--runs", type=int, default=3, help="timings of each, median printed")
    parser.add_argument("--share", type=float, default=0.02, help="of grids joined, and cut")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    settings = ensure_published(args.data_dir)
    store = open_store(settings)
    try:
        done = make_edited(store, settings, args.share, args.seed)
        diffs: list[VersionDiff] = []
        seconds, diff = timed(
            args.runs,
            lambda: keep(diffs, diff_versions(store, CITY_VERSION, EDITED, settings)),
        )
        started = time.perf_counter()
        a, b = store.read_grids(CITY_VERSION), store.read_grids(EDITED)
        addresses = store.read_base_layer("addresses")
        read = time.perf_counter() - started
    finally:
        store.close()
    print(f"A = {CITY_VERSION}: {len(a)} grids; B: {len(b)} grids; {len(addresses)} addresses")
    print(f"diff_versions (reading included): {runs_line(seconds)}")
    computed = [d.seconds for d in diffs]
    print(f"  of which diff_frames, after the reads: {runs_line(computed)}")
    report(diff, done, a, b, addresses, settings, args.runs)
    hand_seconds, hand = timed(args.runs, lambda: by_hand(a, b, addresses, settings.metric_epsg))
    print(f"by hand (overlay + two sjoins): {runs_line(hand_seconds)}")
    print(f"  reading A, B and the addresses for it once (left out above): {read:.2f} s")
    compare(diff, hand)
    ratio = statistics.median(hand_seconds) / statistics.median(seconds)
    like = statistics.median(hand_seconds) / statistics.median(computed)
    print(f"ratio by hand/diff_versions (medians): {ratio:.1f}×")
    print(f"ratio by hand/diff_frames (medians, both without reading): {like:.1f}×")
    met = statistics.median(seconds) <= GOAL_SECONDS
    print(f"goal ≤ {GOAL_SECONDS:g} s: {'met' if met else 'MISSED'}")


def keep(seen: list[T], item: T) -> T:
    seen.append(item)
    return item


def report(
    diff: VersionDiff,
    done: Edit,
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    addresses: gpd.GeoDataFrame,
    settings: Settings,
    runs: int,
) -> None:
    """The diff's counts beside the edit's, and the patch's times and round trip."""
    s = diff.summary()
    print(
        f"  added {s['added']}, removed {s['removed']}, reshaped {s['reshaped']}, renamed "
        f"{s['renamed']}, updated {s['updated']}, unchanged {s['unchanged']}; mapping rows "
        f"{len(diff.mapping)}; buildings moved {s['buildings_moved']} ({s['households_moved']} "
        f"households); addresses moved {s['addresses_moved']}"
    )
    made = (
        set(diff.added) == set(done.added)
        and set(diff.removed) == set(done.removed)
        and set(diff.reshaped) == set(done.reshaped)
    )
    print(
        f"  the edit made: added {len(done.added)}, removed {len(done.removed)}, reshaped "
        f"{len(done.reshaped)}; the diff names exactly these: {made}"
    )
    patch_seconds, lines = timed(runs, lambda: list(patch_lines(a, b, CITY_VERSION, EDITED)))
    apply_seconds, _ = timed(runs, lambda: apply_patch(a, lines))
    print(f"patch_lines ({len(lines) - 1} changes): {runs_line(patch_seconds)}")
    print(f"apply_patch: {runs_line(apply_seconds)}")
    ok, said = reproduces(a, b, lines)
    print(f"  apply_patch(A, lines) reproduces B: {ok} ({said})")


def compare(diff: VersionDiff, hand: HandDiff) -> None:
    """The hand-made diff's counts, and where the two ways agree."""
    print(
        f"  added {len(hand.added)}, removed {len(hand.removed)}, reshaped "
        f"{len(hand.reshaped)}; mapping rows (pieces over {MIN_M2:g} m²) {hand.mapping_rows}; "
        f"addresses moved {len(hand.moved)}; addresses within no grid: A {hand.unplaced[0]}, "
        f"B {hand.unplaced[1]}"
    )
    same_grids = (
        hand.added == set(diff.added)
        and hand.removed == set(diff.removed)
        and hand.reshaped == set(diff.reshaped)
    )
    ours = set(diff.addresses["address_id"].tolist())
    print(f"  the two ways agree on added, removed and reshaped: {same_grids}")
    print(
        f"  the two ways agree on the addresses moved: {ours == hand.moved} "
        f"(only the diff: {len(ours - hand.moved)}, only by hand: {len(hand.moved - ours)})"
    )


if __name__ == "__main__":
    main()
