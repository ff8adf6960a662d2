"""Which collections exist and how each one's features are read from the store.

Grids come from the in-memory published version (or a named one); base and department
layers from the store, one collection per current import; subdistricts are the union of
their communities, since the store keeps no reader for subdistrict polygons.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridgis.geometry import force_multi
from gridgis.i18n import Text
from gridgis.lookup import LoadedVersion
from gridgis.ogc.collection import CollectionShape, CollectionSpec
from gridgis.store.base import (
    BASE_KINDS,
    GRID_PROPERTIES,
    BaseKind,
    LayerInfo,
    Store,
    VersionInfo,
    base_layer_columns,
)
from gridgis.store.schema import GEOMETRY_COLUMNS

DEPARTMENT_PREFIX = "department-"

#: Base layers in the order people look for them: largest units first.
_BASE: dict[BaseKind, tuple[str, Text]] = {
    "communities": (
        "社区 Communities",
        Text(
            "社区和村，含所属街道。", "Communities and villages (社区/村) with their subdistrict."
        ),
    ),
    "compounds": (
        "小区 Compounds",
        Text(
            "住宅小区、学校、医院等场所。",
            "Residential compounds, schools, hospitals and other sites.",
        ),
    ),
    "buildings": (
        "楼栋 Buildings",
        Text(
            "楼栋，含户数、人口和层数。", "Buildings with their households, population and floors."
        ),
    ),
    "streets": (
        "街巷 Streets",
        Text("道路、街巷、河流和铁路（线）。", "Roads, lanes, rivers and railways as lines."),
    ),
    "addresses": (
        "地址 Addresses",
        Text("标准地址（点）。", "Standard door addresses (标准地址) as points."),
    ),
}
_STATUS = {"draft": "草稿", "published": "已发布", "archived": "已归档"}

# Department attribute keys that would shadow a column of the layer get ``attribute_`` before.
_RESERVED = ("id", "source_id", "geometry")
#: GeoJSON's name for each stored geometry type (MULTI* columns hold only MULTI*).
_GEOMETRY_NAMES = {"MULTIPOLYGON": "MultiPolygon", "MULTILINESTRING": "MultiLineString"}
SUBDISTRICT_COLUMNS = ("code", "name", "district_code", "community_count")


def department_columns(fields: list[str] | tuple[str, ...]) -> list[str]:
    """A department's attribute names as the collection's properties."""
    return [f"attribute_{c}" if c in _RESERVED else str(c) for c in fields]


def _shape(
    bounds: tuple[float, float, float, float] | None, table: str, properties: tuple[str, ...]
) -> CollectionShape | None:
    """What a layer's import record says of its collection (``None``: read it to know)."""
    if bounds is None:
        return None
    kind = GEOMETRY_COLUMNS[table]
    return CollectionShape(bounds, _GEOMETRY_NAMES.get(kind, kind.title()), properties)


def grids_spec(
    loaded: LoadedVersion, pinned: bool, record: VersionInfo | None = None
) -> CollectionSpec:
    """The grids of one version; ``pinned`` when the caller named it with ``?version=``.

    ``record`` is the version as the store has it now, for its validity period: a version
    loaded as a draft (or while in force) keeps that record in the index's cache.
    """
    info = loaded.info
    period = record or info
    return CollectionSpec(
        id="grids",
        title=f"综合网格 Grids ({info.name})",
        description=Text(
            f"{info.name} 版本（{_STATUS.get(info.status, info.status)}）的综合网格，"
            f"共 {info.grid_count} 个，含所属社区、街道和网格员。",
            f"Comprehensive grids of version {info.name} ({info.status}), "
            f"{info.grid_count} grids, with their community, subdistrict and officer.",
        ),
        id_field="code",
        slot=f"grids@{info.id}",
        content=info.content_key,
        load=lambda: loaded.grids[[*GRID_PROPERTIES, loaded.grids.geometry.name]],
        version=info.name if pinned else None,
        since=period.valid_from,
        until=period.valid_to,
        shape=_shape(_extent(loaded), "grids", GRID_PROPERTIES),
    )


def _extent(loaded: LoadedVersion) -> tuple[float, float, float, float] | None:
    if not len(loaded.grids):
        return None
    minx, miny, maxx, maxy = (float(v) for v in loaded.grids.total_bounds)
    return minx, miny, maxx, maxy


def base_spec(store: Store, layer: LayerInfo) -> CollectionSpec:
    kind: BaseKind = layer.kind  # type: ignore[assignment]
    title, description = _BASE[kind]
    return CollectionSpec(
        id=kind,
        title=title,
        description=Text(
            f"{description.zh}导入自 {layer.source_name}。",
            f"{description.en} Imported from {layer.source_name}.",
        ),
        id_field="code" if kind == "communities" else "id",
        slot=kind,
        content=layer.content_key,
        load=lambda: store.read_base_layer(kind),
        since=layer.imported_at,
        shape=_shape(layer.bounds, kind, base_layer_columns(kind)),
    )


def subdistricts_spec(store: Store, communities: LayerInfo) -> CollectionSpec:
    return CollectionSpec(
        id="subdistricts",
        title="街道 Subdistricts",
        description=Text(
            "街道和乡镇，每个由所属社区合并而成。",
            "Subdistricts and towns (街道/乡镇), each the union of its communities.",
        ),
        id_field="code",
        slot="subdistricts",
        content=communities.content_key,
        load=lambda: read_subdistricts(store),
        since=communities.imported_at,
        shape=_shape(communities.bounds, "subdistricts", SUBDISTRICT_COLUMNS),
    )


def department_spec(store: Store, layer: LayerInfo) -> CollectionSpec:
    name = layer.name
    day = layer.imported_at.date().isoformat()
    return CollectionSpec(
        id=DEPARTMENT_PREFIX + name,
        title=f"{name} 部门网格",
        description=Text(
            f"{name}部门当前的网格图层，{day} 导入自 {layer.source_name}；部门自己的字段都是属性。",
            f"Current grid layer of the {name} department, imported from "
            f"{layer.source_name} on {day}; the department's own fields are properties.",
        ),
        id_field="id",
        slot=DEPARTMENT_PREFIX + name,
        content=layer.content_key,
        load=lambda: read_department(store, name),
        since=layer.imported_at,
        shape=_shape(
            layer.bounds,
            "department_grids",
            ("id", "source_id", *department_columns(layer.fields)),
        ),
    )


def catalog(
    store: Store,
    grids: LoadedVersion | None,
    pinned: bool = False,
    record: VersionInfo | None = None,
) -> list[CollectionSpec]:
    """Every collection there is now, grids first, then base layers, then departments."""
    layers = store.list_layers()
    base = {layer.kind: layer for layer in layers if layer.kind in BASE_KINDS}
    specs = [grids_spec(grids, pinned, record)] if grids is not None else []
    if "communities" in base:
        specs.append(subdistricts_spec(store, base["communities"]))
    specs += [base_spec(store, base[kind]) for kind in _BASE if kind in base]
    departments = [layer for layer in layers if layer.kind == "department"]
    specs += [department_spec(store, layer) for layer in sorted(departments, key=_by_name)]
    return specs


def _by_name(layer: LayerInfo) -> str:
    return layer.name


def read_subdistricts(store: Store) -> gpd.GeoDataFrame:
    """Dissolve communities on their subdistrict code; one row per subdistrict."""
    communities = store.read_base_layer("communities")
    codes = communities["subdistrict_code"].to_numpy()
    geoms = communities.geometry.groupby(codes, sort=True).agg(shapely.union_all)
    groups = communities.groupby(codes, sort=True)
    code = geoms.index.astype(str)
    frame = pd.DataFrame(
        {
            "code": code,
            "name": groups["subdistrict_name"].first().to_numpy(),
            "district_code": code.str[:6],
            "community_count": groups.size().to_numpy(),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=force_multi(geoms.to_numpy()), crs=communities.crs)


def read_department(store: Store, name: str) -> gpd.GeoDataFrame:
    """A department layer with its attributes as columns (kept as the file's own values)."""
    layer = store.read_department_layer(name)
    records = layer["attributes"].tolist()
    attributes = pd.DataFrame(records, index=layer.index, dtype=object)
    attributes.columns = department_columns(list(attributes.columns))
    return gpd.GeoDataFrame(
        pd.concat([layer[["id", "source_id"]], attributes], axis=1),
        geometry=layer.geometry.to_numpy(),
        crs=layer.crs,
    )
