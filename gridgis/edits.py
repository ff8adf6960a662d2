"""Editing one grid: a JSON merge patch (RFC 7396) of its GeoJSON feature, made against
the ETag it was read with (OGC API Features Part 4's optimistic locking).

On the published version only what no lookup answers by may change — the officer, the
phone, the name, the party branch — and it takes effect at once. Shapes and kinds change
in a draft, where a grid that moves takes its ground from its neighbours and gives what
it leaves to the neighbour beside it, so the community stays covered exactly; an edit
that cannot keep it so is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from gridgis import crs, measures
from gridgis.credentials import in_scope, require_in_scope
from gridgis.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    StaleError,
    UnconditionalError,
)
from gridgis.importer.grids import KINDS as KIND_NAMES
from gridgis.merge.engine import metric_buildings
from gridgis.settings import Settings
from gridgis.store.base import GridEdit, Store, grid_etag
from gridgis.validate import check_text

#: What may change on the published version (lookups answer by place and code only).
IN_PLACE = frozenset({"name", "officer_name", "officer_phone", "party_branch"})
#: What may change in a draft, besides the shape.
IN_DRAFT = IN_PLACE | {"kind"}
MEASURED = frozenset({"households", "population", "area_m2", "compactness"})
KINDS = tuple(dict.fromkeys(KIND_NAMES.values()))  # 综合, 专属


def _checked_values(props: dict[str, Any], current: dict[str, Any], draft: bool) -> dict[str, Any]:
    allowed = IN_DRAFT if draft else IN_PLACE
    values: dict[str, Any] = {}
    for key, value in props.items():
        if key == "code":
            if value != current["code"]:
                raise InputError(
                    f"a grid's code cannot change ({current['code']} → {value}): codes are "
                    "how departments and residents find it; a new grid gets a new code",
                    code="code_immutable",
                )
            continue
        if key in MEASURED:
            raise InputError(
                f"{key} is measured from the buildings, not edited", code="not_editable"
            )
        if key not in allowed:
            where = "only in a draft (?version=DRAFT)" if key in IN_DRAFT else "not at all"
            raise ConflictError(f"{key} can be changed {where}", code="not_editable_here")
        if value is None and key in ("name", "kind"):
            raise InputError(f"{key} cannot be unset", code="required")
        if value is not None and not isinstance(value, str):
            raise InputError(f"{key} must be text or null", code="invalid_value")
        if value is not None:
            check_text(value, key)
        if key == "kind" and value not in KINDS:
            raise InputError(f"kind must be one of {', '.join(KINDS)}", code="invalid_value")
        values[key] = value.strip() if isinstance(value, str) else None
    return values


def _matched(if_match: str, current: str, code: str) -> str:
    """The ETag the edit is made against (RFC 9110: a list matches if any of its strong
    tags does; ``*`` matches whatever is there; a weak tag never does)."""
    tags = [t.strip() for t in if_match.split(",") if t.strip()]
    if "*" in tags or current in tags:
        return current  # still checked when written: a change in between is refused
    raise StaleError(
        f"grid {code} changed since it was read: read it again (its ETag is now {current})",
        current=current,
    )


def edit_grid(
    store: Store,
    settings: Settings,
    code: str,
    patch: dict[str, Any],
    *,
    if_match: str | None,
    version: str | None,
    actor: str,
    scopes: Sequence[str] = (),
) -> tuple[str, str]:
    """Apply ``patch`` (``{"properties": {...}, "geometry": {...}}``) to grid ``code`` of
    ``version`` (default the published one); gives the version's name and the grid's
    new ETag. With ``scopes`` (an editor's division codes), every grid the edit changes,
    and the new shape, stay inside them (403 otherwise)."""
    require_in_scope([code], scopes, f"editing grid {code}")  # before anything is read
    if if_match is None:
        raise UnconditionalError(
            "an edit must say which state of the grid it was made against: send If-Match "
            "with the ETag the grid was read with"
        )
    info = store.get_version(version) if version else store.published_version()
    if info is None:
        raise ConflictError("no version is published: edit a draft", code="no_published_version")
    if info.status == "archived":
        raise ConflictError(
            f"version {info.name} is archived: it is the record of what was in force",
            code="version_archived",
        )
    if not isinstance(patch, dict) or set(patch) - {"type", "id", "properties", "geometry"}:
        raise InputError(
            "the patch is a GeoJSON feature's members to change: properties and geometry",
            code="invalid_patch",
        )
    if patch.get("id", code) != code:
        raise InputError("a grid's code cannot change", code="code_immutable")
    current, _, now = store.grid_state(info.name, code)
    if_match = _matched(if_match, now, code)
    props = patch.get("properties") or {}
    if not isinstance(props, dict):
        raise InputError("properties must be an object", code="invalid_patch")
    draft = info.status == "draft"
    values = _checked_values(props, current, draft)
    edits = [GridEdit(code, values, None, if_match)]
    if patch.get("geometry") is not None:
        if not draft:
            raise ConflictError(
                "a grid's shape changes in a draft (?version=DRAFT), reviewed and then "
                "published, not in the version in force",
                code="not_editable_here",
            )
        edits = _reshaped(
            store, settings, info.name, code, patch["geometry"], values, if_match, scopes
        )
        require_in_scope([e.code for e in edits], scopes, f"reshaping grid {code}")
    elif "geometry" in patch:
        raise InputError("a grid's geometry cannot be unset", code="required")
    # Written only if the version is still as it was checked here (a draft not published
    # meanwhile, the version in force not replaced).
    tags = store.update_grids(info.name, edits, actor=actor, action="edit", statuses=(info.status,))
    return info.name, tags[code]


def _reshaped(
    store: Store,
    settings: Settings,
    version: str,
    code: str,
    geometry: Any,
    values: dict[str, Any],
    if_match: str,
    scopes: Sequence[str] = (),
) -> list[GridEdit]:
    """The grid's new shape and its neighbours adjusted: what it takes, they lose; what it
    leaves goes to the neighbour sharing the longest border with it. Every neighbour
    changed is checked against the state read here, so an edit of one of them committed
    meanwhile is never overwritten (412)."""
    from gridgis.jsonio import json_dumps

    try:
        shape = shapely.from_geojson(json_dumps(geometry))
    except Exception as exc:  # GEOS says why in its own words
        raise InputError(f"geometry is not GeoJSON: {exc}", code="invalid_geometry") from exc
    if shape.geom_type not in ("Polygon", "MultiPolygon") or shape.is_empty:
        raise InputError("geometry must be a Polygon or MultiPolygon", code="invalid_geometry")
    if not shape.is_valid:
        raise InputError(
            f"geometry is invalid ({shapely.is_valid_reason(shape)})", code="invalid_geometry"
        )
    tol = settings.review_tolerance_m2
    epsg = settings.metric_epsg
    grids = store.read_grids(version)
    if scopes:  # the new shape stays over the grids the editor may change
        mine = np.array([in_scope(str(c), scopes) for c in grids["code"]], dtype=bool)
        allowed = shapely.union_all(crs.to_metric(grids.geometry.to_numpy()[mine], epsg))
        beyond = shapely.area(
            shapely.difference(crs.to_metric(np.array([shape], dtype=object), epsg)[0], allowed)
        )
        if beyond > settings.review_tolerance_m2:
            raise ForbiddenError(
                f"the new shape reaches {beyond:.0f} m² beyond your scope ({', '.join(scopes)})",
                code="outside_scope",
            )
    community = grids["community_code"].astype(str).to_numpy()
    i = int(np.flatnonzero(grids["code"].astype(str).to_numpy() == code)[0])
    mine = np.flatnonzero(community == community[i])
    grids = grids.iloc[mine].reset_index(drop=True)  # only the grid's community moves
    i = int(np.flatnonzero(mine == i)[0])
    metric = crs.to_metric(grids.geometry.to_numpy(), epsg)
    new = crs.to_metric(np.array([shape], dtype=object), epsg)[0]
    home = shapely.union_all(metric)
    outside = shapely.area(shapely.difference(new, home))
    if outside > tol:
        raise ConflictError(
            f"the new shape reaches {outside:.0f} m² beyond its community's grids: a grid "
            "stays inside its community",
            code="leaves_community",
        )
    new = shapely.intersection(new, home)
    changed: dict[int, Any] = {i: new}
    others = [j for j in range(len(grids)) if j != i]
    taken = shapely.area(shapely.intersection(metric[others], new)) if others else []
    for j, area in zip(others, taken, strict=True):
        if area <= 0:
            continue  # touching is not taking: that neighbour stays as it is
        rest = shapely.difference(metric[j], new)
        if shapely.area(rest) <= tol:
            raise ConflictError(
                f"the new shape swallows grid {grids['code'].iloc[j]}: merge grids with "
                "a proposal, not an edit",
                code="swallows_grid",
            )
        changed[j] = rest
    left = shapely.difference(metric[i], new)
    for piece in shapely.get_parts(left):
        if piece.area <= tol:
            continue
        current = np.array([changed.get(j, metric[j]) for j in others], dtype=object)
        shared = measures.shared_border_length(np.full(len(others), piece, dtype=object), current)
        if not len(others) or shared.max() <= 0.5:
            raise ConflictError(
                f"the new shape leaves {piece.area:.0f} m² that no neighbour borders: the "
                "community would have a gap",
                code="leaves_gap",
            )
        j = others[int(np.argmax(shared))]
        changed[j] = shapely.union(changed.get(j, metric[j]), piece)
    order = sorted(changed)
    shapes = np.array([changed[k] for k in order], dtype=object)
    lonlat = crs.from_metric(shapes, epsg)
    buildings = metric_buildings(
        store.read_base_layer("buildings", ["households", "population"]), epsg
    )
    figures = measures.grid_figures(
        shapes, buildings.points, buildings.households, buildings.population
    )
    edits = []
    for n, k in enumerate(order):
        measured = {name: column[n].item() for name, column in figures.items()}
        row = grids.iloc[k]
        edits.append(
            GridEdit(
                str(row["code"]),
                {**(values if k == i else {}), **measured},
                lonlat[n],
                if_match if k == i else grid_etag(row.to_dict(), row.geometry),
            )
        )
    return edits
