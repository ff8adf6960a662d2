"""Editing one grid: a JSON merge patch (RFC 7396) of its GeoJSON feature, made against
the ETag it was read with (OGC API Features Part 4's optimistic locking).

On the published version only what no lookup answers by may change — the officer, the
phone, the name, the party branch — and it takes effect at once. Shapes and kinds change
in a draft, where a grid that moves takes its ground from its neighbours and gives what
it leaves to the neighbour beside it, so the community stays covered exactly; an edit
that cannot keep it so is refused with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from gridgis import crs, measures
from gridgis.errors import ConflictError, InputError, UnconditionalError
from gridgis.settings import Settings
from gridgis.store.base import GridEdit, Store

#: What may change on the published version (lookups answer by place and code only).
IN_PLACE = frozenset({"name", "officer_name", "officer_phone", "party_branch"})
#: What may change in a draft, besides the shape.
IN_DRAFT = IN_PLACE | {"kind"}
MEASURED = frozenset({"households", "population", "area_m2", "compactness"})
KINDS = ("综合", "专属")
TOLERANCE_M2 = 1.0


def _checked_values(props: dict[str, Any], current: dict[str, Any], draft: bool) -> dict[str, Any]:
    allowed = IN_DRAFT if draft else IN_PLACE
    values: dict[str, Any] = {}
    for key, value in props.items():
        if key == "code":
            if value != current["code"]:
                raise InputErrorCode(
                    f"a grid's code cannot change ({current['code']} → {value}): codes are "
                    "how departments and residents find it; a new grid gets a new code",
                    "code_immutable",
                )
            continue
        if key in MEASURED:
            raise InputErrorCode(
                f"{key} is measured from the buildings, not edited", "not_editable"
            )
        if key not in allowed:
            where = "only in a draft (?version=DRAFT)" if key in IN_DRAFT else "not at all"
            raise ConflictErrorCode(f"{key} can be changed {where}", "not_editable_here")
        if value is None and key in ("name", "kind"):
            raise InputErrorCode(f"{key} cannot be unset", "required")
        if value is not None and not isinstance(value, str):
            raise InputErrorCode(f"{key} must be text or null", "invalid_value")
        if key == "kind" and value not in KINDS:
            raise InputErrorCode(f"kind must be one of {', '.join(KINDS)}", "invalid_value")
        values[key] = value.strip() if isinstance(value, str) else None
    return values


class InputErrorCode(InputError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


class ConflictErrorCode(ConflictError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


def edit_grid(
    store: Store,
    settings: Settings,
    code: str,
    patch: dict[str, Any],
    *,
    if_match: str | None,
    version: str | None,
    actor: str,
) -> tuple[str, str]:
    """Apply ``patch`` (``{"properties": {...}, "geometry": {...}}``) to grid ``code`` of
    ``version`` (default the published one); gives the version's name and the grid's
    new ETag."""
    if if_match is None:
        raise UnconditionalError(
            "an edit must say which state of the grid it was made against: send If-Match "
            "with the ETag the grid was read with"
        )
    info = store.get_version(version) if version else store.published_version()
    if info is None:
        raise ConflictErrorCode("no version is published: edit a draft", "no_published_version")
    if info.status == "archived":
        raise ConflictErrorCode(
            f"version {info.name} is archived: it is the record of what was in force",
            "version_archived",
        )
    if not isinstance(patch, dict) or set(patch) - {"type", "id", "properties", "geometry"}:
        raise InputErrorCode(
            "the patch is a GeoJSON feature's members to change: properties and geometry",
            "invalid_patch",
        )
    if patch.get("id", code) != code:
        raise InputErrorCode("a grid's code cannot change", "code_immutable")
    current, _, _ = store.grid_state(info.name, code)
    props = patch.get("properties") or {}
    if not isinstance(props, dict):
        raise InputErrorCode("properties must be an object", "invalid_patch")
    draft = info.status == "draft"
    values = _checked_values(props, current, draft)
    edits = [GridEdit(code, values, None, if_match)]
    if patch.get("geometry") is not None:
        if not draft:
            raise ConflictErrorCode(
                "a grid's shape changes in a draft (?version=DRAFT), reviewed and then "
                "published, not in the version in force",
                "not_editable_here",
            )
        edits = _reshaped(store, settings, info.name, code, patch["geometry"], values, if_match)
    elif "geometry" in patch:
        raise InputErrorCode("a grid's geometry cannot be unset", "required")
    tags = store.update_grids(info.name, edits, actor=actor, action="edit")
    return info.name, tags[code]


def _reshaped(
    store: Store,
    settings: Settings,
    version: str,
    code: str,
    geometry: Any,
    values: dict[str, Any],
    if_match: str,
) -> list[GridEdit]:
    """The grid's new shape and its neighbours adjusted: what it takes, they lose; what it
    leaves goes to the neighbour sharing the longest border with it."""
    from gridgis.jsonio import json_dumps

    try:
        shape = shapely.from_geojson(json_dumps(geometry))
    except Exception as exc:  # GEOS says why in its own words
        raise InputErrorCode(f"geometry is not GeoJSON: {exc}", "invalid_geometry") from exc
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise InputErrorCode("geometry must be a Polygon or MultiPolygon", "invalid_geometry")
    if not shape.is_valid:
        raise InputErrorCode(
            f"geometry is invalid ({shapely.is_valid_reason(shape)})", "invalid_geometry"
        )
    epsg = settings.metric_epsg
    grids = store.read_grids(version)
    index = {c: i for i, c in enumerate(grids["code"].astype(str))}
    i = index[code]
    metric = crs.to_metric(grids.geometry.to_numpy(), epsg)
    new = crs.to_metric(np.array([shape], dtype=object), epsg)[0]
    community = grids["community_code"].astype(str).to_numpy()
    mine = np.flatnonzero(community == community[i])
    home = shapely.union_all(metric[mine])
    outside = shapely.area(shapely.difference(new, home))
    if outside > TOLERANCE_M2:
        raise ConflictErrorCode(
            f"the new shape reaches {outside:.0f} m² beyond its community's grids: a grid "
            "stays inside its community",
            "leaves_community",
        )
    new = shapely.intersection(new, home)
    changed: dict[int, Any] = {i: new}
    for j in map(int, mine):
        if j != i and shapely.intersects(metric[j], new):
            rest = shapely.difference(metric[j], new)
            if shapely.area(rest) <= TOLERANCE_M2:
                raise ConflictErrorCode(
                    f"the new shape swallows grid {grids['code'].iloc[j]}: merge grids with "
                    "a proposal, not an edit",
                    "swallows_grid",
                )
            changed[int(j)] = rest
    left = shapely.difference(metric[i], new)
    for piece in shapely.get_parts(left):
        if piece.area <= TOLERANCE_M2:
            continue
        near = [
            int(j)
            for j in mine
            if j != i and shapely.intersects(changed.get(int(j), metric[j]), piece)
        ]
        shared = [
            shapely.length(shapely.intersection(piece.boundary, changed.get(j, metric[j]).boundary))
            for j in near
        ]
        if not near or max(shared) <= 0:
            raise ConflictErrorCode(
                f"the new shape leaves {piece.area:.0f} m² that no neighbour borders: the "
                "community would have a gap",
                "leaves_gap",
            )
        j = near[int(np.argmax(shared))]
        changed[j] = shapely.union(changed.get(j, metric[j]), piece)
    order = sorted(changed)
    shapes = np.array([changed[k] for k in order], dtype=object)
    lonlat = crs.from_metric(shapes, epsg)
    buildings = store.read_base_layer("buildings", ["households", "population"])
    points = shapely.point_on_surface(crs.to_metric(buildings.geometry.to_numpy(), epsg))
    owner = measures.building_owner(shapes, points)
    hh = measures.sum_by_owner(
        owner, buildings["households"].fillna(0).to_numpy(np.int64), len(order)
    )
    pop = measures.sum_by_owner(
        owner, buildings["population"].fillna(0).to_numpy(np.int64), len(order)
    )
    edits = []
    for n, k in enumerate(order):
        measured = {
            "households": int(hh[n]),
            "population": int(pop[n]),
            "area_m2": round(float(shapes[n].area), 1),
            "compactness": round(float(measures.compactness(shapes[n : n + 1])[0]), 4),
        }
        own = values if k == i else {}
        edits.append(
            GridEdit(
                str(grids["code"].iloc[k]),
                {**own, **measured},
                lonlat[n],
                if_match if k == i else None,
            )
        )
    return edits
