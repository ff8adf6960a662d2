"""A redraw proposal for one grid at city scale, beside re-merging the grid's community.

    .venv/bin/python bench/proposal_city.py [--data-dir DIR] [--count 20]

Reviews two versions of the city-scale sample (built once by ``city_store.py``): the
published merge, whose grids under the band mostly have no fix left (the merge did its
best), and ``city-v1-edited``, ``diff_city.py``'s copy with 2 % of grids joined into a
neighbour (over the band: a split to compute) and 2 % cut in two (halves under it: a
join); made here when missing. For up to ``--count`` grids with a proposal in each it
computes the proposal alone and — the way an office without proposals fixes a grid —
merges the grid's whole community again with the same engine. Prints each proposal's
seconds (goal: ≤ 1 s), the community merge's, the medians and their ratio, and how many
found a fix (the rest say why none exists).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, ensure_published  # noqa: E402
from bench.city_store import VERSION as CITY_VERSION  # noqa: E402
from bench.diff_city import EDITED, make_edited  # noqa: E402
from bench.merge_city import only  # noqa: E402
from gridgis.errors import GridgisError  # noqa: E402
from gridgis.merge import MergeInputs, compute_merge, read_inputs  # noqa: E402
from gridgis.review.context import ReviewContext  # noqa: E402
from gridgis.review.proposals import propose  # noqa: E402
from gridgis.review.run import review_context  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import Store, open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    settings = ensure_published(args.data_dir)
    store = open_store(settings)
    if not any(v.name == EDITED for v in store.list_versions()):
        make_edited(store, settings, 0.02, 2026)
    inputs = read_inputs(store)
    proposal_s: list[float] = []
    merge_s: list[float] = []
    fixed = 0
    for version in (CITY_VERSION, EDITED):
        done = _time_version(store, settings, inputs, version, args.count)
        proposal_s += done[0]
        merge_s += done[1]
        fixed += done[2]
    if not proposal_s:
        print("no proposals to time")
        return
    p50, worst = statistics.median(proposal_s), max(proposal_s)
    m50 = statistics.median(merge_s)
    print(
        f"proposal: median {p50:.3f} s, worst {worst:.3f} s (goal ≤ 1 s); "
        f"{fixed}/{len(proposal_s)} found a fix"
    )
    print(f"community merged again: median {m50:.2f} s; ratio {m50 / p50:.1f}× the proposal")


def _time_version(
    store: Store, settings: Settings, inputs: MergeInputs, version: str, count: int
) -> tuple[list[float], list[float], int]:
    ctx = ReviewContext.load(store, version, settings)
    review = review_context(ctx)
    # Over the band first (a split is the most work), then the rest as the review lists.
    fixable = [f for f in review.findings if f.proposal]
    wanted = sorted(fixable, key=lambda f: f.type != "households_over")[:count]
    print(f"{version}: {len(ctx.grids)} grids; {len(wanted)} of {len(fixable)} proposals timed")
    proposal_s, merge_s, fixed = [], [], 0
    for finding in wanted:
        assert finding.proposal is not None
        started = time.perf_counter()
        try:
            proposal = propose(ctx, finding.proposal)
            fixed += 1
            said = f"{proposal.action}: {proposal.note}"
        except GridgisError as exc:
            said = f"none: {exc.message[:70]}"
        proposal_s.append(time.perf_counter() - started)

        community = str(finding.grids[0])[:12]
        mine = inputs.communities[inputs.communities["code"] == community]
        part = replace(only(inputs, mine), previous=None)
        started = time.perf_counter()
        compute_merge(part, settings=settings)
        merge_s.append(time.perf_counter() - started)
        print(
            f"  {finding.proposal}: {proposal_s[-1]:.3f} s ({said}); "
            f"community {community} merged again: {merge_s[-1]:.2f} s"
        )
    return proposal_s, merge_s, fixed


if __name__ == "__main__":
    main()
