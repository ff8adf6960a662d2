"""The review's checks: each reads a :class:`ReviewContext` and gives its findings.

Geometry is judged in metres; what a finding points at (``where``) is given back in
lon/lat. Coverage is checked community by community with GEOS's coverage validator and
area sums, and only where those disagree are the pieces computed, so a clean city-scale
version costs a fraction of the pairwise overlaps and union–difference gaps a desktop
check runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import measures
from gridgis.merge.codes import CodeScheme, community_tops, reading_keys
from gridgis.merge.units import polygons_of
from gridgis.review.context import ReviewContext
from gridgis.review.findings import Finding

Check = Callable[[ReviewContext], list[Finding]]
CODE_RE = re.compile(r"^\d{15}$")
OFF_STREET_STEP_M = 10.0  # every 10 m: on the city, the findings of every 2 m, 3× faster
ROW_SLACK_M = 1.0  # a grid this close to a row's edge may be read in either row


def _round(value: float, digits: int = 1) -> float:
    return round(float(value), digits)


def _grouped(
    keys: NDArray[np.int64], values: NDArray[np.int64]
) -> Iterator[tuple[int, NDArray[np.int64]]]:
    """``values`` grouped by ``keys``, keys ascending."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if not len(keys):
        return
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = [*starts[1:], len(keys)]
    for start, end in zip(starts, ends, strict=True):
        yield int(keys[start]), values[start:end]


# --- coverage and geometry -------------------------------------------------------------------
def invalid_geometry(ctx: ReviewContext) -> list[Finding]:
    """Grids stored invalid (checked as made valid, so no other check trips on them), and
    grids the import had to make valid, while they keep the shape it gave them."""
    made_valid = ctx.version.report.get("import", {}).get("made_valid", {})
    if isinstance(made_valid, list):  # recorded before shapes were
        made_valid = dict.fromkeys(made_valid)
    stored = shape_hashes(ctx.grids.geometry.to_numpy())
    out = []
    for i, code in enumerate(ctx.codes):
        reason = ctx.invalid.get(i)
        if reason is None and code in made_valid:
            recorded = made_valid[code]
            if recorded is None or recorded == stored[i]:
                reason = "self-intersection in the file"
        if reason is not None:
            out.append(Finding("invalid_geometry", [code], ctx.grid_points[i], reason))
    return out


def shape_hashes(geoms: NDArray[np.object_]) -> list[str]:
    """A short hash of each shape's exact WKB: which grids still have the shape an import
    recorded."""
    return [hashlib.sha1(w).hexdigest()[:16] for w in shapely.to_wkb(geoms)]


def multipart(ctx: ReviewContext) -> list[Finding]:
    parts = measures.part_count(ctx.grid_m)
    out = []
    for i in np.flatnonzero(parts > 1):
        pieces = shapely.get_parts(ctx.grid_m[i])
        order = np.argsort(-shapely.area(pieces))
        small = ctx.to_lonlat(pieces[order[1:]])
        out.append(
            Finding(
                "multipart",
                [ctx.codes[i]],
                shapely.multipolygons(small),
                int(parts[i]),
                1,
                {"areas_m2": [_round(a) for a in shapely.area(pieces[order])]},
            )
        )
    return out


def sliver(ctx: ReviewContext) -> list[Finding]:
    s = ctx.settings
    parts, owner = shapely.get_parts(ctx.grid_m, return_index=True)
    thin = measures.thinness(parts)
    small = shapely.area(parts) <= s.sliver_max_m2 if s.sliver_max_m2 > 0 else True
    hit = np.flatnonzero((thin > s.sliver_thinness) & small)
    out = []
    for g, idx in _grouped(owner[hit], hit):
        worst = idx[np.argmax(thin[idx])]
        where = ctx.to_lonlat(parts[idx])
        out.append(
            Finding(
                "sliver",
                [str(ctx.codes[g])],
                shapely.multipolygons(where),
                _round(thin[worst]),
                s.sliver_thinness,
                {"area_m2": _round(shapely.area(parts[worst]))},
            )
        )
    return out


def outside_community(ctx: ReviewContext) -> list[Finding]:
    """Grids with area outside the community their code and record name."""
    tol = ctx.settings.review_tolerance_m2
    idx = ctx.community_index
    known = idx >= 0
    out = []
    for i in np.flatnonzero(~known):
        out.append(
            Finding(
                "outside_community",
                [ctx.codes[i]],
                ctx.grid_points[i],
                _round(shapely.area(ctx.grid_m[i])),
                tol,
                {"community": str(ctx.community_of[i]) or None, "known": False},
            )
        )
    home = np.full(len(ctx.grid_m), None, dtype=object)
    home[known] = ctx.community_m[idx[known]]
    for i in np.flatnonzero(known & ~ctx.nested):
        beyond = shapely.difference(ctx.grid_m[i], home[i])
        area = shapely.area(beyond)
        if area > tol:
            out.append(
                Finding(
                    "outside_community",
                    [ctx.codes[i]],
                    ctx.to_lonlat(np.array([beyond]))[0],
                    _round(area),
                    tol,
                    {"community": str(ctx.community_of[i]), "known": True},
                )
            )
    return out


def _filled(polygons: NDArray[np.object_]) -> NDArray[np.object_]:
    """Each geometry with its holes filled."""
    parts, owner = shapely.get_parts(polygons, return_index=True)
    shells = shapely.polygons(shapely.get_exterior_ring(parts))
    out = np.empty(len(polygons), dtype=object)
    shapely.multipolygons(shells, indices=owner, out=out)
    return out


def holes(ctx: ReviewContext) -> list[Finding]:
    """Holes inside one grid that no other grid fills (an enclave grid is no hole)."""
    tol = ctx.settings.review_tolerance_m2
    parts, owner = shapely.get_parts(ctx.grid_m, return_index=True)
    n_rings = shapely.get_num_interior_rings(parts)
    has = np.flatnonzero(n_rings > 0)
    out = []
    for p in has:
        g = int(owner[p])
        for r in range(int(n_rings[p])):
            hole = shapely.Polygon(shapely.get_interior_ring(parts[p], r))
            if hole.area <= tol:
                continue
            others = ctx.tree.query(hole, predicate="intersects")
            others = others[others != g]
            left = (
                shapely.difference(hole, shapely.union_all(ctx.grid_m[others]))
                if len(others)
                else hole
            )
            for piece in polygons_of(left, tol):
                out.append(
                    Finding(
                        "hole",
                        [ctx.codes[g]],
                        ctx.to_lonlat(np.array([piece]))[0],
                        _round(piece.area),
                        tol,
                    )
                )
    return out


def coverage(ctx: ReviewContext) -> list[Finding]:
    """Gaps and overlaps, community by community: a community whose grids form a valid
    coverage whose area is the community's has neither, and is not looked at further."""
    tol = ctx.settings.review_tolerance_m2
    idx = ctx.community_index
    area = shapely.area(ctx.grid_m)
    filled = None
    out: list[Finding] = []
    suspects: list[int] = []
    order = np.argsort(idx, kind="stable")
    starts = np.searchsorted(idx[order], np.arange(len(ctx.community_m) + 1))
    for c, community in enumerate(ctx.community_m):
        mine = order[starts[c] : starts[c + 1]]  # the community's grids, grouped once
        geoms = ctx.grid_m[mine]
        exact = abs(float(area[mine].sum()) - community.area) <= tol
        if len(mine) and exact and ctx.nested[mine].all() and shapely.coverage_is_valid(geoms):
            continue
        suspects.extend(mine.tolist())
        left = shapely.difference(community, shapely.union_all(geoms)) if len(mine) else community
        for piece in polygons_of(left, tol):
            if filled is None:
                filled = _filled(ctx.grid_m)
                shapely.prepare(filled)
            # A hole inside one grid is that grid's hole, found by :func:`holes`.
            within = ctx.tree.query(piece, predicate="intersects")
            if len(within) and shapely.covers(filled[within], piece).any():
                continue
            touching = ctx.tree.query(shapely.buffer(piece, 0.05), predicate="intersects")
            out.append(
                Finding(
                    "gap",
                    sorted(ctx.codes[touching].tolist()),
                    ctx.to_lonlat(np.array([piece]))[0],
                    _round(piece.area),
                    tol,
                    {"community": str(ctx.community_codes[c])},
                )
            )
    # Overlaps: the suspects' pairs, and grids reaching into another community.
    strays = np.flatnonzero(idx < 0).tolist()
    candidates = np.unique(np.array(suspects + strays, dtype=np.int64))
    if len(candidates):
        a, b = ctx.tree.query(ctx.grid_m[candidates], predicate="intersects")
        a = candidates[a]
        keep = a != b
        pairs = np.unique(np.sort(np.column_stack([a[keep], b[keep]]), axis=1), axis=0)
        if len(pairs):
            shared = shapely.intersection(ctx.grid_m[pairs[:, 0]], ctx.grid_m[pairs[:, 1]])
            shared_area = shapely.area(shared)
            for (i, j), geom, size in zip(pairs, shared, shared_area, strict=True):
                if size > tol:
                    out.append(
                        Finding(
                            "overlap",
                            sorted([ctx.codes[i], ctx.codes[j]]),
                            ctx.to_lonlat(np.array([geom]))[0],
                            _round(size),
                            tol,
                        )
                    )
    return out


# --- rules of division ---------------------------------------------------------------------
def households(ctx: ReviewContext) -> list[Finding]:
    s = ctx.settings
    hh, pop = ctx.households, ctx.population
    out = []
    for i in np.flatnonzero(ctx.comprehensive & (hh > s.max_households)):
        out.append(
            Finding(
                "households_over", [ctx.codes[i]], ctx.grid_points[i], int(hh[i]), s.max_households
            )
        )
    for i in np.flatnonzero(ctx.comprehensive & (hh < s.min_households)):
        out.append(
            Finding(
                "households_under", [ctx.codes[i]], ctx.grid_points[i], int(hh[i]), s.min_households
            )
        )
    for i in np.flatnonzero(pop > s.max_population):
        out.append(
            Finding(
                "population_over", [ctx.codes[i]], ctx.grid_points[i], int(pop[i]), s.max_population
            )
        )
    return out


def compound_split(ctx: ReviewContext) -> list[Finding]:
    comps = ctx.compounds
    c_idx, g_idx = measures.compounds_split(comps.geometry, ctx.grid_m)
    if not len(c_idx):
        return []
    owner = np.full(len(ctx.buildings.points), -1, dtype=np.int64)
    if len(comps.geometry) and len(ctx.buildings.points):
        b, c = comps.tree.query(ctx.buildings.points, predicate="within")
        owner[b] = c
    comp_hh = pd.Series(ctx.buildings.households).groupby(owner).sum()
    high = ctx.settings.max_households
    out = []
    for c, grids in _grouped(c_idx, g_idx):
        households = int(comp_hh.get(c, 0))
        if households > high:
            continue  # a compound over the maximum has to be split
        out.append(
            Finding(
                "compound_split",
                sorted(ctx.codes[grids].tolist()),
                ctx.to_lonlat(np.array([comps.geometry[c]]))[0],
                len(grids),
                1,
                {
                    "compound": str(comps.name[c] or comps.ident[c]),
                    "households": households,
                },
            )
        )
    return out


def building_cut(ctx: ReviewContext) -> list[Finding]:
    b_idx, g_idx = measures.buildings_cut(ctx.buildings.geometry, ctx.grid_m)
    out = []
    for b, grids in _grouped(b_idx, g_idx):
        out.append(
            Finding(
                "building_cut",
                sorted(ctx.codes[grids].tolist()),
                ctx.to_lonlat(np.array([ctx.buildings.geometry[b]]))[0],
                len(grids),
                1,
                {"households": int(ctx.buildings.households[b])},
            )
        )
    return out


def off_street(ctx: ReviewContext) -> list[Finding]:
    """The part of each grid's border inside its community (the community's own border
    is not the grid office's to draw) that follows no street, wall, river or railway."""
    s = ctx.settings
    idx = ctx.community_index
    borders = shapely.boundary(ctx.grid_m)
    outer = np.full(len(ctx.grid_m), None, dtype=object)
    known = idx >= 0
    outer[known] = shapely.buffer(shapely.boundary(ctx.community_m), 0.5)[idx[known]]
    inner = borders.copy()
    inner[known] = shapely.difference(borders[known], outer[known])
    length = shapely.length(inner)
    off = ctx.off_street(inner, OFF_STREET_STEP_M)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(length > 0, off / length, 0.0)
    out = []
    for i in np.flatnonzero((share > s.max_off_street_share) & (off > 2 * measures.ON_STREET_M)):
        out.append(
            Finding(
                "off_street",
                [ctx.codes[i]],
                ctx.grid_points[i],
                _round(100 * share[i]),
                _round(100 * s.max_off_street_share),
                {"border_m": _round(length[i]), "off_street_m": _round(off[i])},
            )
        )
    return out


def not_compact(ctx: ReviewContext) -> list[Finding]:
    """Polsby–Popper and Reock both low: ragged and sprawling (either alone may be a
    grid along a river or a street, drawn right)."""
    s = ctx.settings
    pp = measures.polsby_popper(ctx.grid_m)
    rk = measures.reock(ctx.grid_m)
    out = []
    for i in np.flatnonzero((pp < s.min_polsby_popper) & (rk < s.min_reock)):
        out.append(
            Finding(
                "not_compact",
                [ctx.codes[i]],
                ctx.grid_points[i],
                round(float(pp[i]), 3),
                s.min_polsby_popper,
                {
                    "polsby_popper": round(float(pp[i]), 3),
                    "reock": round(float(rk[i]), 3),
                    "min_reock": s.min_reock,
                },
            )
        )
    return out


def dedicated_unit_mixed(ctx: ReviewContext) -> list[Finding]:
    """A dedicated grid (a school, a hospital, an office …) that takes in homes outside
    every dedicated unit: their households belong in a comprehensive grid. Staff flats
    inside the unit's walls are the unit's own."""
    dedicated = np.flatnonzero(~ctx.comprehensive)
    if not len(dedicated):
        return []
    comps = ctx.compounds
    points = ctx.buildings.points
    in_unit = np.zeros(len(points), dtype=bool)
    units = comps.geometry[comps.dedicated]
    if len(units) and len(points):
        b, _ = shapely.STRtree(units).query(points, predicate="within")
        in_unit[b] = True
    owner = ctx.building_owner
    outside = (owner >= 0) & ~in_unit
    homes = np.bincount(
        owner[outside], weights=ctx.buildings.households[outside], minlength=len(ctx.grid_m)
    ).astype(np.int64)
    out = []
    for i in dedicated[homes[dedicated] > 0]:
        out.append(
            Finding("dedicated_unit_mixed", [ctx.codes[i]], ctx.grid_points[i], int(homes[i]), 0)
        )
    return out


# --- codes and people ------------------------------------------------------------------------
def codes(ctx: ReviewContext) -> list[Finding]:
    known = set(map(str, ctx.community_codes))
    out = []
    for i, (code, community) in enumerate(zip(ctx.codes, ctx.community_of, strict=True)):
        problem = None
        if not CODE_RE.match(code):
            problem = "not 15 digits"
        elif not code.startswith(str(community)):
            problem = f"does not begin with its community's code {community}"
        elif code[:12] not in known:
            problem = f"no community has the code {code[:12]}"
        elif code.endswith("000"):
            problem = "sequence 000"
        if problem:
            out.append(
                Finding(
                    "code_invalid", [code], ctx.grid_points[i], code, None, {"problem": problem}
                )
            )
    series = pd.Series(ctx.codes)
    repeated = series[series.duplicated(keep=False)]
    for code, rows in repeated.groupby(repeated, sort=True).groups.items():
        n = len(rows)
        where = ctx.grid_points[np.asarray(rows)]
        out.append(
            Finding(
                "code_duplicate",
                [str(code)] * int(n),
                shapely.multipoints(where),
                str(code),
                None,
                {"count": int(n)},
            )
        )
    return out + _order(ctx)


def _order(ctx: ReviewContext) -> list[Finding]:
    """Sequences against reading order (rows of ``row_height_m`` north→south, west→east
    in a row), as the merge numbers them. A grid within ``ROW_SLACK_M`` of a row's edge
    may be read in either row, so no rounding of a stored shape breaks an order. Codes
    appended after those of the version this one was made from (a redraw never reuses a
    retired code, so new grids take numbers after the highest) are left out."""
    scheme = CodeScheme()
    valid = np.array([bool(CODE_RE.match(c)) for c in ctx.codes], dtype=bool)
    if ctx.previous_codes:
        highest: dict[str, int] = {}
        for code in ctx.previous_codes:
            if CODE_RE.match(code):
                highest[code[:12]] = max(highest.get(code[:12], 0), int(code[12:]))
        appended = np.array(
            [
                bool(CODE_RE.match(c))
                and c not in ctx.previous_codes
                and int(c[12:]) > highest.get(c[:12], 0)
                for c in ctx.codes
            ],
            dtype=bool,
        )
        valid &= ~appended
    if not valid.any():
        return []
    communities = np.array([c[:12] for c in ctx.codes[valid]], dtype=object)
    seq = np.array([int(c[12:]) for c in ctx.codes[valid]], dtype=np.int64)
    tops = community_tops(ctx.community_codes, ctx.community_m)
    # Rows begin at the community's northern edge (how the merge numbers now) or at its
    # highest grid (how it numbered before): an order is broken only if broken for both.
    (now, expected), (then, _) = (
        _out_of_order(reading_keys(communities, ctx.grid_m[valid], origin), seq, scheme)
        for origin in (tops, None)
    )
    rows = np.flatnonzero(valid)
    out = []
    for k in np.flatnonzero(now & then):
        i = int(rows[k])
        out.append(
            Finding(
                "code_order",
                [str(ctx.codes[i])],
                ctx.grid_points[i],
                int(seq[k]),
                int(expected[k]),
            )
        )
    return out


def _out_of_order(
    keys: pd.DataFrame, seq: NDArray[np.int64], scheme: CodeScheme
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """For each grid (``keys`` from :func:`reading_keys`, ``seq`` its number): whether it
    must be read before the grid numbered just before it — surely in a row above, or
    surely in the same row and west of it — and its place in reading order."""
    h = scheme.row_height_m
    frame = keys.reset_index(drop=True).assign(seq=seq)
    depth = frame["depth"]
    frame["row_lo"] = np.floor((depth - ROW_SLACK_M) / h)
    frame["row_hi"] = np.floor((depth + ROW_SLACK_M) / h)
    frame["row"] = np.floor(depth / h)
    reading = frame.sort_values(["community", "row", "x"], kind="stable")
    expected = (reading.groupby("community").cumcount() + 1).sort_index().to_numpy()
    ordered = frame.sort_values(["community", "seq"], kind="stable")
    prev = ordered.groupby("community").shift(1)
    before = (ordered["row_hi"] < prev["row_lo"]) | (
        (ordered["row_lo"] == prev["row_hi"])
        & (ordered["row_hi"] == prev["row_lo"])
        & (ordered["x"] < prev["x"] - ROW_SLACK_M)
    )
    mask = before.fillna(False).astype(bool).sort_index().to_numpy()
    return mask, np.asarray(expected, dtype=np.int64)


def officers(ctx: ReviewContext) -> list[Finding]:
    s = ctx.settings
    names = ctx.grids["officer_name"].fillna("").astype(str).str.strip().to_numpy()
    out = []
    for i in np.flatnonzero(names == ""):
        out.append(Finding("no_officer", [ctx.codes[i]], ctx.grid_points[i], None))
    phones = ctx.grids["officer_phone"].fillna("").astype(str).str.strip().to_numpy()
    frame = pd.DataFrame({"name": names, "phone": phones, "hh": ctx.households})
    frame = frame[frame["name"] != ""]
    # Loads counted for every officer at once; only the overloaded are looked at one by one.
    load = frame.groupby(["name", "phone"], sort=True)["hh"].agg(["size", "sum"])
    heavy = load[(load["size"] > s.max_officer_grids) | (load["sum"] > s.max_officer_households)]
    members = frame.reset_index().set_index(["name", "phone"])["index"]
    for key, n, hh in zip(
        heavy.index.tolist(), heavy["size"].tolist(), heavy["sum"].tolist(), strict=True
    ):
        name, phone = str(key[0]), str(key[1])
        rows = np.atleast_1d(members.loc[key].to_numpy())
        grids = sorted(ctx.codes[rows].tolist())
        where = shapely.multipoints(ctx.grid_points[rows])
        detail = {"officer": name, "phone": phone or None, "grids": n, "households": hh}
        if n > s.max_officer_grids:
            out.append(
                Finding(
                    "officer_overloaded",
                    grids,
                    where,
                    f"{n}个网格",
                    f"{s.max_officer_grids}个网格",
                    detail,
                )
            )
        elif hh > s.max_officer_households:
            out.append(
                Finding(
                    "officer_overloaded",
                    grids,
                    where,
                    f"{hh}户",
                    f"{s.max_officer_households}户",
                    detail,
                )
            )
    return out


# --- drift -------------------------------------------------------------------------------------
BASE_NAMES = {
    "streets": "街巷",
    "buildings": "楼栋",
    "addresses": "标准地址",
    "compounds": "小区",
    "communities": "社区",
}


def base_changed(ctx: ReviewContext) -> list[Finding]:
    """Base layers imported after the version was made, and what moved with them."""
    made: datetime = ctx.version.created_at
    out = []
    for layer in ctx.layers:
        if layer.kind not in BASE_NAMES or layer.imported_at <= made:
            continue
        detail: dict[str, object] = {
            "layer": layer.kind,
            "imported_at": layer.imported_at.isoformat(),
            "source": layer.source_name,
        }
        grids: list[str] = []
        where = None
        if layer.kind == "buildings":
            stored = ctx.grids["households"].fillna(0).to_numpy(dtype=np.int64)
            moved = np.flatnonzero(stored != ctx.households)
            grids = sorted(ctx.codes[moved].tolist())
            detail["grids_changed"] = len(moved)
            detail["households_moved"] = int(np.abs(stored - ctx.households)[moved].sum())
            if len(moved):
                where = shapely.multipoints(ctx.grid_points[moved])
        out.append(
            Finding(
                "base_changed",
                grids,
                where,
                f"{BASE_NAMES[layer.kind]}图层（{layer.source_name}）",
                None,
                detail,
            )
        )
    return out


#: The base layers a check judges by: without them it would only say they are missing,
#: once per grid (every grid "under the band" with no buildings).
NEEDS: dict[str, tuple[str, ...]] = {
    "households": ("buildings",),
    "compound_split": ("compounds", "buildings"),
    "building_cut": ("buildings",),
    "off_street": ("streets",),
    "dedicated_unit_mixed": ("buildings",),
}

CHECKS: tuple[Check, ...] = (
    invalid_geometry,
    coverage,
    holes,
    outside_community,
    sliver,
    multipart,
    households,
    compound_split,
    building_cut,
    off_street,
    not_compact,
    dedicated_unit_mixed,
    codes,
    officers,
    base_changed,
)
