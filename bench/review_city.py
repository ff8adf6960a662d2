"""The look-back review of the city-scale published version on both stores, beside the
QGIS-style checks done the naive way.

    .venv/bin/python bench/review_city.py [--data-dir DIR] [--runs 3] [--budget 600]
        [--stores gpkg postgis] [--postgres URL] [--rebuild]

Goal (issue): the whole review of the city (about 3,968 grids) ≤ 5 s on both stores.
The embedded GeoPackage store is ``bench/city_store.py``'s (``ensure_published``); the
PostGIS one is ``bench/tiles_http.py``'s database ``gridgis_bench_tiles`` (the same
sample imported, merged and published; built on first use and kept, ``--rebuild``
builds it afresh). Per store, ``gridgis.review.run.review_version`` is timed whole
(reading the version and the base layers included) ``--runs`` times, and its
``summary["seconds"]`` (the checks alone) is kept beside it.

The baseline, in the same run on the same store: the grids and communities read once
(in metres), then the checks a desktop GIS runs, the naive way: (a) pairwise overlaps,
as QGIS's Topology Checker "must not overlap" does: every pair of grids whose bounding
boxes meet (an ``STRtree`` query), ``shapely.intersection``, kept over 1 m²; (b)
union–difference gaps: ``shapely.union_all`` of every grid, the holes of that union,
and the communities' union minus the grids' union, pieces over 1 m² kept. It may run
``--budget`` seconds a run before it is stopped (said so when it is); its time leaves
out its one read, which favours it.

Prints per store: every run and the median of the review's total and checks' seconds
(the first run may pay for warm-up: imports, caches, the database's buffers), findings
by type, the baseline's runs, median and what it found (overlaps, holes, uncovered
pieces), and the ratio baseline/review of the medians; then whether the goal is met.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_published  # noqa: E402
from bench.postgres import ADMIN_URL  # noqa: E402
from bench.tiles_http import SAMPLES, ensure_postgis  # noqa: E402
from gridgis.crs import to_metric  # noqa: E402
from gridgis.review.checks import CHECKS  # noqa: E402
from gridgis.review.context import ReviewContext  # noqa: E402
from gridgis.review.run import Review, review_version  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402
from gridgis.store.base import Store  # noqa: E402

GOAL_SECONDS = 5.0
MIN_M2 = 1.0  # pieces smaller than this are noise, as the review's default tolerance
COVERAGE_CHECKS = ("coverage", "holes")  # what the naive checks also look for
PAIR_CHUNK = 2_000  # pairs intersected between two looks at the clock


@dataclass
class NaiveResult:
    """What the naive checks found in one run, and whether they ran to the end."""

    seconds: float = 0.0
    pairs: int = 0  # bounding-box pairs looked at
    overlaps: int = 0
    holes: int = 0  # interior rings of the grids' union
    uncovered: int = 0  # pieces of the communities' union outside the grids' union
    gaps: int = 0  # both together, a place found both ways counted once
    finished: bool = True
    stopped_in: str = ""
    steps: dict[str, float] = field(default_factory=dict)


def over(pieces: NDArray[np.object_]) -> NDArray[np.object_]:
    """The polygon parts of ``pieces`` larger than :data:`MIN_M2`."""
    parts = shapely.get_parts(pieces[~shapely.is_empty(pieces)])
    return np.asarray(parts[shapely.area(parts) > MIN_M2], dtype=object)


def naive_checks(
    grids: NDArray[np.object_], communities: NDArray[np.object_], budget: float
) -> NaiveResult:
    """Pairwise overlaps and union–difference gaps, stopping once over ``budget``."""
    out = NaiveResult()
    started = time.perf_counter()

    def spent() -> float:
        return time.perf_counter() - started

    def stop(step: str) -> NaiveResult:
        out.finished, out.stopped_in, out.seconds = False, step, spent()
        return out

    # (a) every pair whose bounding boxes meet, intersected and measured
    left, right = shapely.STRtree(grids).query(grids)
    keep = left < right
    left, right = left[keep], right[keep]
    out.pairs = len(left)
    for start in range(0, len(left), PAIR_CHUNK):
        if spent() > budget:
            return stop(f"overlaps ({start}/{len(left)} pairs)")
        a, b = left[start : start + PAIR_CHUNK], right[start : start + PAIR_CHUNK]
        shared = shapely.intersection(grids[a], grids[b])
        out.overlaps += int((shapely.area(shared) > MIN_M2).sum())
    out.steps["overlaps"] = spent()

    # (b) the grids' union, its holes, and what of the communities it leaves out
    if spent() > budget:
        return stop("union of the grids")
    union = shapely.union_all(grids)
    out.steps["union"] = spent() - out.steps["overlaps"]
    polygons = shapely.get_parts(union)
    rings = [
        shapely.Polygon(shapely.get_interior_ring(p, r))
        for p in polygons
        for r in range(shapely.get_num_interior_rings(p))
    ]
    holes = over(np.array(rings, dtype=object))
    if spent() > budget:
        return stop("union of the communities")
    left_out = over(np.array([shapely.difference(shapely.union_all(communities), union)]))
    out.holes, out.uncovered = len(holes), len(left_out)
    out.gaps = len(over(np.array([shapely.union_all(np.concatenate([holes, left_out]))])))
    out.seconds = spent()
    out.steps["gaps"] = out.seconds - out.steps["overlaps"] - out.steps["union"]
    return out


def runs_line(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (runs {', '.join(f'{v:.2f}' for v in values)})"
    )


def check_seconds(store: Store, version: str, settings: Settings) -> list[tuple[str, float]]:
    """One more review, step by step: the load, then each check on its own (a measure
    the checks share, e.g. households per grid, is paid by the first that asks)."""
    started = time.perf_counter()
    ctx = ReviewContext.load(store, version, settings)
    out = [("load", time.perf_counter() - started)]
    for check in CHECKS:
        started = time.perf_counter()
        check(ctx)
        out.append((check.__name__, time.perf_counter() - started))
    return out


def store_settings(name: str, args: argparse.Namespace) -> Settings:
    if name == "gpkg":
        return ensure_published(args.data_dir)
    url = ensure_postgis(args.postgres, SAMPLES["city"], args.data_dir, args.rebuild)
    return Settings(database_url=url, actor="bench")


def bench_store(label: str, store: Store, settings: Settings, args: argparse.Namespace) -> bool:
    """Print one store's figures; True when the review meets the goal."""
    published = store.published_version()
    if published is None:
        raise SystemExit(f"{label}: no published version")
    version = published.name
    totals, checks = [], []
    review: Review | None = None
    for _ in range(args.runs):
        started = time.perf_counter()
        review = review_version(store, version, settings)
        totals.append(time.perf_counter() - started)
        checks.append(float(review.summary["seconds"]))
    assert review is not None
    s: dict[str, Any] = review.summary
    print(f"{label}: {version}, {s['grids']} grids, {s['households']} households")
    print(f"  review, whole call: {runs_line(totals)}")
    print(f"  review, checks alone: {runs_line(checks)}")
    loading = statistics.median(totals) - statistics.median(checks)
    print(f"  review, reading and loading (difference of the medians): {loading:.2f} s")
    found = ", ".join(f"{t} {n}" for t, n in s["by_type"].items()) or "none"
    print(f"  findings: {s['findings']} ({found}); publishable: {s['publishable']}")
    steps = check_seconds(store, version, settings)
    coverage = sum(v for k, v in steps if k in COVERAGE_CHECKS)
    ranked = sorted(steps, key=lambda kv: -kv[1])
    print(
        f"  one more review step by step ({sum(v for _, v in steps):.2f} s): "
        + ", ".join(f"{k} {v:.2f}" for k, v in ranked if v >= 0.05)
        + f"; the coverage checks alone ({', '.join(COVERAGE_CHECKS)}) {coverage:.2f} s"
    )

    started = time.perf_counter()
    grids = to_metric(store.read_grids(version).geometry.to_numpy(), settings.metric_epsg)
    communities = to_metric(
        store.read_base_layer("communities").geometry.to_numpy(), settings.metric_epsg
    )
    print(
        f"  naive checks, reading grids and communities once: {time.perf_counter() - started:.2f} s"
    )
    naive = [naive_checks(grids, communities, args.budget) for _ in range(args.runs)]
    last = naive[-1]
    print(f"  naive checks: {runs_line([n.seconds for n in naive])}")
    if all(n.finished for n in naive):
        said = ", ".join(f"{k} {v:.2f} s" for k, v in last.steps.items())
        print(f"    last run: {said}")
        print(
            f"    found: {last.overlaps} overlaps over {MIN_M2:g} m² in {last.pairs} "
            f"bounding-box pairs; gaps {last.gaps} (holes in the grids' union {last.holes}, "
            f"pieces of the communities outside it {last.uncovered}, the same place may be "
            "both)"
        )
    for n, run in enumerate(naive, start=1):
        if not run.finished:
            print(f"    run {n} ran out of its {args.budget:g} s budget in {run.stopped_in}")
    review_found = {t: s["by_type"].get(t, 0) for t in ("overlap", "gap", "hole")}
    print(f"    the review found: {', '.join(f'{k} {v}' for k, v in review_found.items())}")
    finished = all(n.finished for n in naive)
    ratio = statistics.median([n.seconds for n in naive]) / statistics.median(totals)
    print(f"  ratio naive/review (medians): {'' if finished else '> '}{ratio:.1f}×")
    like = statistics.median([n.seconds for n in naive]) / coverage
    print(
        f"  ratio naive/the review's coverage checks alone (like for like): "
        f"{'' if finished else '> '}{like:.1f}×"
    )
    met = statistics.median(totals) <= GOAL_SECONDS
    print(f"  goal ≤ {GOAL_SECONDS:g} s: {'met' if met else 'MISSED'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--runs", type=int, default=3, help="timings of each, median printed")
    parser.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds one run of the naive checks may take before it is stopped",
    )
    parser.add_argument(
        "--stores", nargs="+", choices=["gpkg", "postgis"], default=["gpkg", "postgis"]
    )
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of the PostGIS server")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the PostGIS database")
    args = parser.parse_args()
    labels = {"gpkg": "embedded GeoPackage", "postgis": "PostGIS"}
    met = []
    for name in args.stores:
        settings = store_settings(name, args)
        store = open_store(settings)
        try:
            met.append(bench_store(labels[name], store, settings, args))
        finally:
            store.close()
    print(f"goal: {'met on every store' if all(met) else 'MISSED on some store'}")


if __name__ == "__main__":
    main()
