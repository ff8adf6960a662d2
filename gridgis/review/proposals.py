"""Redraw proposals: for each fixable finding, the grids that would fix it, computed from
the same atoms and rules as the merge, and applied on their own into a new draft.

- ``households_over``: the grid re-cut along streets, walls and party walls into grids
  of the band (the merge's atoms and grouping over the grid's area);
- ``households_under``: joined with the neighbour in its community that shares the
  longest border, when the two stay under the maximum; else the grid and its
  neighbours in the community re-divided;
- ``gap``, ``hole``: the piece given to the grid that shares the longest border with it;
  ``overlap``: the piece left to the grid it is most attached to and cut from the other;
  ``sliver``: the thin part given to the neighbour it touches most;
  ``outside_community``: the grid clipped to its community.

Proposal ids name the finding (``households_over-510603001001027``), so the same id
finds the same proposal in every review of the version; computing one reads only the
grids it touches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs, measures
from gridgis.credentials import require_in_scope
from gridgis.errors import ConflictError, NotFoundError
from gridgis.merge.codes import CodeScheme, community_tops, stable_codes
from gridgis.merge.engine import clean_coverage, unit_names
from gridgis.merge.partition import Graph, partition
from gridgis.merge.units import community_atoms, polygonal, polygons_of
from gridgis.review import checks
from gridgis.review.context import ReviewContext
from gridgis.review.findings import Finding
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo

FIXABLE = (
    "households_over",
    "households_under",
    "gap",
    "hole",
    "overlap",
    "sliver",
    "outside_community",
)
#: The check that finds each fixable type again, to look a proposal up by its id.
FINDER = {
    "households_over": checks.households,
    "households_under": checks.households,
    "gap": checks.coverage,
    "overlap": checks.coverage,
    "hole": checks.holes,
    "sliver": checks.sliver,
    "outside_community": checks.outside_community,
}


@dataclass
class Proposal:
    """What to change: grids (by index into the version) to take out, grids to put in."""

    id: str
    finding: Finding
    action: str  # split | join | redivide | repair
    remove: list[int]
    add: gpd.GeoDataFrame  # full grid rows in EPSG:4490
    note: str = ""
    seconds: float = 0.0
    before: list[dict[str, Any]] = field(default_factory=list)

    def after(self) -> list[dict[str, Any]]:
        return [
            {"code": c, "name": n, "households": int(h)}
            for c, n, h in zip(
                self.add["code"], self.add["name"], self.add["households"], strict=True
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        from gridgis.jsonio import json_loads

        geoms = shapely.to_geojson(self.add.geometry.to_numpy())
        return {
            "id": self.id,
            "finding": self.finding.type,
            "grids": self.finding.grids,
            "action": self.action,
            "note": self.note,
            "before": self.before,
            "after": [
                {**row, "geometry": json_loads(str(g))}
                for row, g in zip(self.after(), geoms, strict=True)
            ],
            "seconds": round(self.seconds, 3),
        }


def proposal_id(finding: Finding, nth: int = 0) -> str:
    """``type-code[-code…][-n]``: the finding's type and grids, and which of several
    findings of one type at the same grids (largest first) it is."""
    codes = "-".join(finding.grids) if finding.grids else "none"
    return f"{finding.type}-{codes}" + (f"-{nth + 1}" if nth else "")


def name_proposals(ctx: ReviewContext, findings: list[Finding]) -> None:
    """Give each fixable finding its proposal id (cheap: nothing is computed yet). A
    grid over the band made of one building, or under it with no neighbour in its
    community, has none."""
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    buildings_in = np.bincount(
        ctx.building_owner[ctx.building_owner >= 0], minlength=len(ctx.grid_m)
    )
    index = {c: i for i, c in enumerate(ctx.codes)}
    repeated = _repeated(ctx)
    for f in sorted(findings, key=lambda f: -_size(f)):
        if f.type not in FIXABLE or repeated & set(f.grids):
            continue  # a code used twice names no one grid: its codes come first
        if f.type == "outside_community" and not f.detail.get("known"):
            continue  # no community to clip to
        key = (f.type, tuple(f.grids))
        nth = seen.get(key, 0)
        seen[key] = nth + 1
        i = index.get(f.grids[0]) if f.grids else None
        if f.type == "households_over" and (i is None or buildings_in[i] < 2):
            continue
        if f.type == "households_under" and (i is None or not _neighbours(ctx, i)):
            continue
        f.proposal = proposal_id(f, nth)


def _repeated(ctx: ReviewContext) -> set[str]:
    counts = pd.Series(ctx.codes).value_counts()
    return set(counts.index[counts > 1].astype(str))


def _size(f: Finding) -> float:
    return float(f.value) if isinstance(f.value, int | float) else 0.0


def find(ctx: ReviewContext, ident: str) -> Finding:
    """The finding a proposal id names, found again by its own check."""
    kind = next((t for t in FIXABLE if ident.startswith(t + "-")), None)
    if kind is None:
        raise NotFoundError(f"no proposal {ident!r}: ids begin with one of {', '.join(FIXABLE)}")
    found = [f for f in FINDER[kind](ctx) if f.type == kind]
    name_proposals(ctx, found)
    for f in found:
        if f.proposal == ident:
            return f
    raise NotFoundError(
        f"no proposal {ident!r} in version {ctx.version.name!r}: the review finds "
        "nothing there to fix now",
        code="proposal_not_found",
    )


# --- computing one ----------------------------------------------------------------------------
def propose(ctx: ReviewContext, ident: str) -> Proposal:
    started = time.perf_counter()
    finding = find(ctx, ident)
    if _repeated(ctx) & set(finding.grids):
        raise ConflictError(
            f"a code of {', '.join(finding.grids)} is used more than once: give the grids "
            "their own codes before redrawing them",
            code="code_duplicate",
        )
    index = {c: i for i, c in enumerate(ctx.codes)}
    grids = [index[c] for c in finding.grids if c in index]
    if finding.type == "households_over":
        proposal = _regroup(ctx, finding, grids, "split")
    elif finding.type == "households_under":
        proposal = _join_or_redivide(ctx, finding, grids[0])
    else:
        proposal = _repair(ctx, finding, grids)
    proposal.id = ident
    proposal.before = [
        {
            "code": str(ctx.codes[i]),
            "name": str(ctx.grids["name"].iloc[i]),
            "households": int(ctx.households[i]),
        }
        for i in proposal.remove
    ]
    proposal.seconds = time.perf_counter() - started
    return proposal


def _neighbours(ctx: ReviewContext, i: int) -> list[tuple[int, float]]:
    """Comprehensive grids of the same community touching grid ``i``, with the length of
    border they share, longest first."""
    near = ctx.tree.query(ctx.grid_m[i], predicate="intersects")
    near = near[(near != i) & ctx.comprehensive[near]]
    near = near[ctx.community_of[near] == ctx.community_of[i]]
    if not len(near):
        return []
    shared = measures.shared_border_length(
        np.full(len(near), ctx.grid_m[i], dtype=object), ctx.grid_m[near]
    )
    order = np.lexsort((ctx.codes[near].astype(str), -shared))
    return [(int(near[k]), float(shared[k])) for k in order if shared[k] > 0.5]


def _join_or_redivide(ctx: ReviewContext, finding: Finding, i: int) -> Proposal:
    low, high = ctx.settings.min_households, ctx.settings.max_households
    hh = ctx.households
    beside = [j for j, _ in _neighbours(ctx, i)]
    # A join into the band first; else the join that leaves one grid under it, not two,
    # when dividing them all again does no better.
    fits = [j for j in beside if low <= hh[i] + hh[j] <= high]
    for j in fits[:1]:
        keep = j if hh[j] >= hh[i] else i
        geom = shapely.union(ctx.grid_m[i], ctx.grid_m[j])
        rows = _rows(ctx, [geom], [keep], codes=[str(ctx.codes[keep])])
        return Proposal(
            "", finding, "join", sorted([i, j]), rows, note=f"与相邻网格{ctx.codes[j]}合并"
        )
    members = [i, *beside]
    try:
        return _regroup(ctx, finding, members, "redivide")
    except ConflictError:
        under = [j for j in beside if hh[j] < low and hh[i] + hh[j] <= high]
        if not under:
            raise
        j = under[0]
        keep = j if hh[j] >= hh[i] else i
        geom = shapely.union(ctx.grid_m[i], ctx.grid_m[j])
        rows = _rows(ctx, [geom], [keep], codes=[str(ctx.codes[keep])])
        return Proposal(
            "",
            finding,
            "join",
            sorted([i, j]),
            rows,
            note=f"与同样户数不足的相邻网格{ctx.codes[j]}合并",
        )


def _regroup(ctx: ReviewContext, finding: Finding, members: list[int], action: str) -> Proposal:
    """The members' area cut into the merge's atoms and grouped into grids of the band."""
    s = ctx.settings
    region = _valid(np.array([shapely.union_all(ctx.grid_m[members])], dtype=object))[0]
    near, inner = ctx.street_network.crossing(region)
    atoms = community_atoms(
        region,
        near,
        ctx.compounds,
        ctx.buildings,
        s.max_households,
        s.min_households / 3,
        inner,
        min_households=s.min_households,
    )
    graph = Graph(
        atoms.households,
        atoms.edges,
        atoms.edge_off_street,
        np.full((len(atoms), 1), -1, dtype=np.int64),
        atoms.dedicated,
    )
    parts = partition(graph, s.min_households, s.max_households, unit_names(atoms))
    if len(parts) < 2 and action == "split":
        raise ConflictError(
            f"grid {finding.grids[0]} cannot be cut into grids of the band: "
            f"{parts[0].reason or 'no cut along streets or walls'}",
            code="no_proposal",
        )
    if action == "split" and all(p.households > s.max_households for p in parts):
        raise ConflictError(
            f"grid {finding.grids[0]} cannot be cut into grids of the band: {parts[0].reason}",
            code="no_proposal",
        )
    if action == "redivide" and sum(
        s.min_households <= p.households <= s.max_households for p in parts
    ) <= sum(s.min_households <= int(ctx.households[k]) <= s.max_households for k in members):
        raise ConflictError(
            f"grid {finding.grids[0]}: dividing it with its neighbours again gives no more "
            f"grids in the band ({parts[0].reason or 'the merge drew them so'})",
            code="no_proposal",
        )
    geoms = _fill(region, [shapely.coverage_union_all(atoms.geometry[p.atoms]) for p in parts])
    kinds = ["专属" if p.reason == "dedicated" else "综合" for p in parts]
    template = max(members, key=lambda k: int(ctx.households[k]))
    rows = _rows(ctx, geoms, [template] * len(geoms), kinds=kinds, members=members)
    word = {"split": "按街巷、围墙拆分为", "redivide": "与相邻网格重新划分为"}[action]
    return Proposal("", finding, action, sorted(members), rows, note=f"{word}{len(rows)}个网格")


def _fill(region: shapely.Geometry, geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The parts made to fill ``region`` exactly (its border with the neighbours does not
    move): each clipped to it, and what none covers — the slivers the atoms' unions
    leave — given to the part sharing the longest border with it; crumbs cut off a part
    go the same way."""
    parts = [shapely.intersection(g, region) for g in clean_coverage(geoms)]
    rest = shapely.difference(region, shapely.union_all(parts))
    loose = list(shapely.get_parts(rest))
    for k, part in enumerate(parts):
        pieces = polygons_of(part, 0.0)
        if len(pieces) > 1:
            keep = int(np.argmax(shapely.area(pieces)))
            parts[k] = pieces[keep]
            loose.extend(p for j, p in enumerate(pieces) if j != keep)
    for piece in sorted(loose, key=lambda g: -g.area):
        if shapely.area(piece) <= 0:
            continue
        shared = measures.shared_border_length(
            np.full(len(parts), piece, dtype=object), np.array(parts, dtype=object)
        )
        k = int(np.argmax(shared))
        parts[k] = shapely.union(parts[k], piece)
    return list(_valid(np.array(parts, dtype=object)))


HAIR_M = 0.01  # hairline gaps and spikes narrower than twice this go


def _tidy(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Shapes made of unions and differences, made valid and rid of hairline gaps and
    spikes (closed, then opened by a centimetre, mitred so straight borders stay put):
    a hairline would come back from lon/lat as a self-intersection."""
    geoms = _valid(geoms)
    for distance in (HAIR_M, -2 * HAIR_M, HAIR_M):
        geoms = shapely.buffer(geoms, distance, join_style="mitre", mitre_limit=10.0)
    return _valid(geoms)


def _valid(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Valid, and polygons only (what unions and differences leave may hold lines)."""
    return polygonal(shapely.make_valid(np.asarray(geoms, dtype=object)))


def _repair(ctx: ReviewContext, finding: Finding, grids: list[int]) -> Proposal:
    """Move one piece from grid to grid; the coverage stays whole."""
    epsg = ctx.settings.metric_epsg
    where = crs.to_metric(np.array([finding.where], dtype=object), epsg)[0]
    geoms = {i: ctx.grid_m[i] for i in grids}
    if finding.type == "outside_community":
        i = grids[0]
        c = int(ctx.community_index[i])
        clipped = shapely.intersection(ctx.grid_m[i], ctx.community_m[c]) if c >= 0 else None
        if clipped is None or shapely.area(clipped) <= ctx.settings.review_tolerance_m2:
            raise ConflictError(
                f"grid {ctx.codes[i]} lies outside the community its record names: say which "
                "community it belongs to (import it again with its community code)",
                code="no_proposal",
            )
        geoms[i] = clipped
        note = "裁去超出社区的部分"
    elif finding.type in ("gap", "hole"):
        near = ctx.tree.query(shapely.buffer(where, 0.05), predicate="intersects")
        # A gap is its community's: only that community's grids may take it.
        community = finding.detail.get("community") or (
            str(ctx.community_of[grids[0]]) if grids else None
        )
        near = near[ctx.community_of[near] == community]
        target = _most_shared(ctx, where, near)
        geoms = {target: shapely.union(ctx.grid_m[target], where)}
        note = f"空隙并入网格{ctx.codes[target]}"
    elif finding.type == "overlap":
        # The piece stays with the grid whose border with the other then follows streets
        # and walls best (the merge's rule), else with the one it is most attached to.
        a, b = grids
        rest_a = shapely.difference(ctx.grid_m[a], where)
        rest_b = shapely.difference(ctx.grid_m[b], where)
        border_if_a = shapely.intersection(shapely.boundary(where), shapely.boundary(rest_b))
        border_if_b = shapely.intersection(shapely.boundary(where), shapely.boundary(rest_a))
        off_a, off_b = ctx.off_street(np.array([border_if_a, border_if_b], dtype=object), 2.0)
        attached = measures.shared_border_length(
            np.array([where, where], dtype=object), np.array([rest_a, rest_b], dtype=object)
        )
        keep_a = (off_a, -attached[0]) <= (off_b, -attached[1])
        loser = b if keep_a else a
        geoms = {loser: shapely.difference(ctx.grid_m[loser], where)}
        note = f"重叠部分留给网格{ctx.codes[a if keep_a else b]}"
    else:  # sliver: a thin part goes to the neighbour it touches most
        i = grids[0]
        near = ctx.tree.query(shapely.buffer(where, 0.05), predicate="intersects")
        near = near[(near != i) & (ctx.community_of[near] == ctx.community_of[i])]
        if not len(near):
            raise ConflictError(
                f"the sliver of grid {ctx.codes[i]} touches no other grid", code="no_proposal"
            )
        target = _most_shared(ctx, where, near)
        geoms = {
            i: shapely.difference(ctx.grid_m[i], where),
            target: shapely.union(ctx.grid_m[target], where),
        }
        note = f"碎片并入网格{ctx.codes[target]}"
    changed = sorted(geoms)
    rows = _rows(
        ctx, [geoms[k] for k in changed], changed, codes=[str(ctx.codes[k]) for k in changed]
    )
    return Proposal("", finding, "repair", changed, rows, note=note)


def _most_shared(ctx: ReviewContext, piece: shapely.Geometry, near: NDArray[np.int64]) -> int:
    """The grid among ``near`` sharing the longest border with ``piece`` (then the lower
    code)."""
    if not len(near):
        raise ConflictError("no grid of its community touches the piece", code="no_proposal")
    lengths = measures.shared_border_length(
        np.full(len(near), piece, dtype=object), ctx.grid_m[near]
    )
    if lengths.max() <= 0.5:
        raise ConflictError("no grid of its community borders the piece", code="no_proposal")
    return int(near[int(np.lexsort((ctx.codes[near].astype(str), -lengths))[0])])


def _rows(
    ctx: ReviewContext,
    geoms: list[shapely.Geometry],
    templates: list[int],
    *,
    codes: list[str] | None = None,
    kinds: list[str] | None = None,
    members: list[int] | None = None,
) -> gpd.GeoDataFrame:
    """Full grid rows for new shapes: attributes from ``templates`` (officer, party
    branch …), households measured, codes kept or numbered as the merge numbers them."""
    metric = _tidy(np.array(geoms, dtype=object))
    # A part the tidying left without area (a crumb) is no grid.
    kept = np.flatnonzero(~shapely.is_empty(metric) & (shapely.area(metric) > 0))
    metric = metric[kept]
    templates = [templates[k] for k in kept]
    codes = [codes[k] for k in kept] if codes is not None else None
    kinds = [kinds[k] for k in kept] if kinds is not None else None
    base = ctx.grids.iloc[templates].reset_index(drop=True)
    community = base["community_code"].astype(str).to_numpy(dtype=object)
    if codes is None:
        mine = np.flatnonzero(ctx.community_of == community[0])
        others = [k for k in mine if k not in set(members or [])]
        # Parts that keep (nearly) an old grid's shape keep its code; new ones take the
        # numbers after the community's highest, as the merge's stable codes do.
        previous = (
            ctx.codes[np.r_[members or [], others]].astype(object),
            ctx.community_of[np.r_[members or [], others]].astype(object),
            ctx.grid_m[np.r_[members or [], others]],
        )
        tops = community_tops(ctx.community_codes, ctx.community_m)
        codes = stable_codes(community, metric, CodeScheme(), previous, tops)
    figures = measures.grid_figures(
        metric, ctx.buildings.points, ctx.buildings.households, ctx.buildings.population
    )
    n = len(metric)
    names = [
        (
            str(base["name"].iloc[k])
            if codes[k] == str(ctx.codes[templates[k]])
            else f"{base['community_name'].iloc[k] or ''}第{int(codes[k][-3:])}网格"
        )
        for k in range(n)
    ]
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": names,
            "kind": kinds or base["kind"].tolist(),
            "community_code": community,
            **figures,
            "officer_name": base["officer_name"].to_numpy(dtype=object),
            "officer_phone": base["officer_phone"].to_numpy(dtype=object),
            "party_branch": base["party_branch"].to_numpy(dtype=object),
        },
        geometry=gpd.GeoSeries(crs.from_metric(metric, ctx.settings.metric_epsg), crs=4490),
    )
    return frame


# --- applying one -----------------------------------------------------------------------------
def applied(ctx: ReviewContext, proposal: Proposal) -> gpd.GeoDataFrame:
    """The version's grids with the proposal applied."""
    keep = np.ones(len(ctx.grids), dtype=bool)
    keep[proposal.remove] = False
    columns = [c for c in proposal.add.columns if c != "geometry"]
    kept = ctx.grids.loc[keep, [*columns, "geometry"]].copy()
    # Kept grids are measured again too: a draft records today's households.
    kept["households"] = ctx.households[keep]
    kept["population"] = ctx.population[keep]
    out = pd.concat([kept, proposal.add[[*columns, "geometry"]]], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4490)


def apply_proposal(
    store: Store,
    version: str,
    ident: str,
    settings: Settings,
    *,
    actor: str,
    into: str | None = None,
    replace: bool = False,
    scopes: Sequence[str] = (),
) -> tuple[VersionInfo, Proposal]:
    """Compute proposal ``ident`` on ``version`` and save the result as draft ``into``
    (default ``{version}-{ident}``), audited as a proposal applied."""
    ctx = ReviewContext.load(store, version, settings)
    proposal = propose(ctx, ident)
    changed = [*ctx.codes[proposal.remove].tolist(), *proposal.add["code"].astype(str)]
    require_in_scope(changed, scopes, f"proposal {ident}")
    grids = applied(ctx, proposal)
    target = into or f"{version}-{ident}"[:64]
    # Departments keep their crosswalk for every grid the proposal leaves as it is; what
    # the import recorded (grids made valid) stays with the grids it names.
    removed = set(ctx.codes[proposal.remove].tolist())
    walk = store.read_crosswalk(version)
    walk = walk[~walk["grid_code"].isin(removed)] if len(walk) else walk
    report: dict[str, Any] = {"proposal": proposal.to_dict()}
    if "import" in ctx.version.report:
        report["import"] = ctx.version.report["import"]
    info = store.save_version(
        target,
        grids,
        walk,
        params={"source": "proposal", "from": version, "proposal": ident},
        report=report,
        actor=actor,
        note=proposal.note,
        replace=replace,
        action="proposal",
    )
    return info, proposal
