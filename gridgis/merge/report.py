"""The merge report: how the grids measure up against the rules, and what was wrong with
the input — said with enough detail (codes, names, coordinates) to act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs, measures

if TYPE_CHECKING:
    from gridgis.merge.units import Buildings, Compounds

MISPLACED_SHARE = 0.8  # a department layer with less of its area in the city is misplaced
EXAMPLES = 10


@dataclass
class InputProblems:
    overlapping_communities: list[dict[str, Any]] = field(default_factory=list)
    dangling_streets: list[shapely.Geometry] = field(default_factory=list)


def _where(point: shapely.Geometry, epsg: int) -> list[float]:
    lonlat = crs.from_metric(np.array([point], dtype=object), epsg)[0]
    return [round(lonlat.x, 6), round(lonlat.y, 6)]


def merge_report(
    *,
    grids: gpd.GeoDataFrame,
    grid_m: NDArray[np.object_],
    reasons: list[str | None],
    community_codes: NDArray[np.object_],
    community_m: NDArray[np.object_],
    compounds: Compounds,
    buildings: Buildings,
    departments: dict[str, NDArray[np.object_]],
    walk: pd.DataFrame,
    low: int,
    high: int,
    problems: InputProblems,
    epsg: int,
    border_m: float,
    off_street_m: float,
) -> dict[str, Any]:
    """``border_m`` and ``off_street_m``: internal grid borders and the part of them that
    follows no street or wall, summed from the atoms' shared edges by the engine."""
    pp = grids["compactness"].to_numpy()
    b_comp = _building_compounds(buildings, compounds)
    city = shapely.union_all(community_m)
    return {
        **_band(grids, reasons, low, high),
        "compactness": {
            "min": round(float(pp.min()), 3) if len(pp) else None,
            "p10": round(float(np.percentile(pp, 10)), 3) if len(pp) else None,
            "median": round(float(np.median(pp)), 3) if len(pp) else None,
        },
        "multipart_grids": int((measures.part_count(grid_m) > 1).sum()),
        "internal_border_m": round(border_m, 1),
        "border_on_streets_share": round(1 - off_street_m / border_m, 4) if border_m else 1.0,
        **_cuts(grid_m, compounds, buildings, b_comp, high),
        **_coverage(grids, grid_m, community_codes, community_m),
        "department_alignment": _department_alignment(walk),
        "input_problems": {
            "overlapping_communities": [
                {**p, "at": _where(p["at"], epsg)} for p in problems.overlapping_communities
            ],
            "streets_not_closing_blocks": _dangling_streets(problems.dangling_streets, epsg),
            "buildings_without_households": _empty_buildings(buildings, compounds, b_comp, epsg),
            "buildings_outside_communities": int((~shapely.within(buildings.points, city)).sum())
            if len(buildings.points)
            else 0,
            "misplaced_department_layers": _misplaced(departments, city),
        },
    }


def _band(
    grids: gpd.GeoDataFrame, reasons: list[str | None], low: int, high: int
) -> dict[str, Any]:
    """How many comprehensive grids are in the household band, and why the others are not."""
    hh = grids["households"].to_numpy()
    comprehensive = grids["kind"].to_numpy() == "综合"
    in_band = comprehensive & (hh >= low) & (hh <= high)
    out_of_band = [
        {"code": code, "households": int(h), "reason": reason or "unexplained"}
        for code, h, reason, ok, comp in zip(
            grids["code"], hh, reasons, in_band, comprehensive, strict=True
        )
        if comp and not ok
    ]
    return {
        "grids": len(grids),
        "households": int(hh.sum()),
        "band": [low, high],
        "comprehensive": int(comprehensive.sum()),
        "dedicated": int((~comprehensive).sum()),
        "in_band": int(in_band.sum()),
        "in_band_share": round(float(in_band.sum() / max(comprehensive.sum(), 1)), 4),
        "under": int((comprehensive & (hh < low)).sum()),
        "over": int((comprehensive & (hh > high)).sum()),
        "out_of_band": out_of_band,
    }


def _cuts(
    grid_m: NDArray[np.object_],
    compounds: Compounds,
    buildings: Buildings,
    b_comp: NDArray[np.int64],
    high: int,
) -> dict[str, Any]:
    """Buildings with area on both sides of a grid border; compounds with a share of
    their area in a second grid (allowed when the compound alone is over the band)."""
    cut_buildings, _ = measures.buildings_cut(buildings.geometry, grid_m)
    split_compounds, _ = measures.compounds_split(compounds.geometry, grid_m)
    comp_hh = pd.Series(buildings.households).groupby(b_comp).sum()
    return {
        "buildings_cut": len(np.unique(cut_buildings)),
        "compounds_split": [
            {
                "compound": str(compounds.ident[c]),
                "name": str(compounds.name[c]),
                "households": int(comp_hh.get(c, 0)),
                "allowed": bool(comp_hh.get(c, 0) > high),
            }
            for c in np.unique(split_compounds)
        ],
    }


def _coverage(
    grids: gpd.GeoDataFrame,
    grid_m: NDArray[np.object_],
    community_codes: NDArray[np.object_],
    community_m: NDArray[np.object_],
) -> dict[str, Any]:
    """Whether each community's grids are a valid coverage of exactly its area."""
    coverage = {}
    for code, geom in zip(community_codes, community_m, strict=True):
        mine = grid_m[grids["community_code"].to_numpy() == code]
        exact = abs(float(shapely.area(mine).sum()) - geom.area) <= max(1.0, 1e-6 * geom.area)
        coverage[str(code)] = bool(shapely.coverage_is_valid(mine)) and exact
    return {"coverage_valid": all(coverage.values()), "coverage_by_community": coverage}


def _department_alignment(walk: pd.DataFrame) -> dict[str, int]:
    """How many department grids (by 5 % or more of their area) fall in several grids."""
    if not len(walk):
        return {}
    pairs = walk[walk["area_share"] >= 0.05]
    counts = pairs.groupby("department_grid_id")["grid_code"].nunique()
    return {
        "department_grids_split": int((counts > 1).sum()),
        "department_grids": int(walk["department_grid_id"].nunique()),
    }


def _dangling_streets(dangles: list[shapely.Geometry], epsg: int) -> dict[str, Any]:
    return {
        "count": len(dangles),
        "length_m": round(float(sum(d.length for d in dangles)), 1),
        "examples": [_where(d.interpolate(0.5, normalized=True), epsg) for d in dangles[:EXAMPLES]],
    }


def _empty_buildings(
    buildings: Buildings, compounds: Compounds, b_comp: NDArray[np.int64], epsg: int
) -> dict[str, Any]:
    """Buildings without households, outside dedicated compounds (schools, offices …)."""
    zero = np.flatnonzero(buildings.households == 0)
    zero = zero[~np.isin(b_comp[zero], np.flatnonzero(compounds.dedicated))]
    return {
        "count": len(zero),
        "examples": [_where(buildings.points[i], epsg) for i in zero[:EXAMPLES]],
    }


def _misplaced(
    departments: dict[str, NDArray[np.object_]], city: shapely.Geometry
) -> dict[str, dict[str, Any]]:
    """Department layers with less than ``MISPLACED_SHARE`` of their area in the city."""
    misplaced = {}
    for name, polys in departments.items():
        total = float(shapely.area(polys).sum())
        inside = float(shapely.area(shapely.intersection(polys, city)).sum())
        if total > 0 and inside / total < MISPLACED_SHARE:
            misplaced[name] = {
                "share_inside_city": round(inside / total, 3),
                "hint": "check the CRS the layer was imported with, and its extent",
            }
    return misplaced


def _building_compounds(buildings: Buildings, compounds: Compounds) -> NDArray[np.int64]:
    out = np.full(len(buildings.points), -1, dtype=np.int64)
    if len(compounds.geometry) == 0 or len(buildings.points) == 0:
        return out
    b, c = compounds.tree.query(buildings.points, predicate="within")
    out[b] = c
    return out


def summary(report: dict[str, Any], examples: int = 5) -> list[str]:
    """The report for people: one line per rule, then what was wrong with the input."""
    r = report
    low, high = r["band"]
    lines = [
        f"{r['grids']} grids ({r['comprehensive']} comprehensive, {r['dedicated']} dedicated), "
        f"{r['households']} households, in {r['seconds']} s",
        f"households {low}–{high}: {r['in_band']} in band ({100 * r['in_band_share']:.1f}%), "
        f"{r['under']} under, {r['over']} over",
    ]
    reasons: dict[str, int] = {}
    for item in r["out_of_band"]:
        reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:examples]:
        lines.append(f"  {count} × {reason}")
    c = r["compactness"]
    lines += [
        f"compactness (Polsby–Popper): min {c['min']}, 10th percentile {c['p10']}, "
        f"median {c['median']}; {r['multipart_grids']} grids in more than one piece",
        f"internal borders on streets or walls: {100 * r['border_on_streets_share']:.1f}% of "
        f"{r['internal_border_m'] / 1000:.1f} km",
        f"buildings cut: {r['buildings_cut']}; compounds split: {len(r['compounds_split'])} "
        f"({sum(not s['allowed'] for s in r['compounds_split'])} under the maximum)",
        f"coverage valid in every community: {r['coverage_valid']}",
    ]
    return lines + _input_lines(r["input_problems"])


def _input_lines(problems: dict[str, Any]) -> list[str]:
    """What was wrong with the input, one line per finding."""
    lines = []
    for item in problems["overlapping_communities"]:
        lines.append(
            f"input: communities {' and '.join(item['communities'])} overlap by "
            f"{item['area_m2']} m² at {item['at']}; given to {item['given_to']}"
        )
    dangles = problems["streets_not_closing_blocks"]
    if dangles["count"]:
        lines.append(
            f"input: {dangles['count']} streets close no block "
            f"({dangles['length_m']} m), e.g. at {dangles['examples'][:2]}"
        )
    zero = problems["buildings_without_households"]
    if zero["count"]:
        lines.append(
            f"input: {zero['count']} residential buildings have no households, "
            f"e.g. at {zero['examples'][:2]}"
        )
    if problems["buildings_outside_communities"]:
        lines.append(
            f"input: {problems['buildings_outside_communities']} buildings lie "
            "outside every community"
        )
    for name, item in problems["misplaced_department_layers"].items():
        lines.append(
            f"input: department {name}: only {100 * item['share_inside_city']:.0f}% "
            f"of its area lies in the city; {item['hint']}"
        )
    return lines
