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
from gridgis.lookup import LoadedVersion
from gridgis.ogc.collection import CollectionSpec
from gridgis.store.base import BASE_KINDS, GRID_PROPERTIES, BaseKind, LayerInfo, Store

DEPARTMENT_PREFIX = "department-"

#: Base layers in the order people look for them: largest units first.
_BASE: dict[BaseKind, tuple[str, str]] = {
    "communities": (
        "社区 Communities",
        "Communities and villages (社区/村) with their subdistrict.",
    ),
    "compounds": ("小区 Compounds", "Residential compounds, schools, hospitals and other sites."),
    "buildings": ("楼栋 Buildings", "Buildings with their households, population and floors."),
    "streets": ("街巷 Streets", "Roads, lanes, rivers and railways as lines."),
    "addresses": ("地址 Addresses", "Standard door addresses (标准地址) as points."),
}

# Department attribute keys that would shadow a column of the layer get ``attribute_`` before.
_RESERVED = ("id", "source_id", "geometry")


def grids_spec(loaded: LoadedVersion, pinned: bool) -> CollectionSpec:
    """The grids of one version; ``pinned`` when the caller named it with ``?version=``."""
    info = loaded.info
    return CollectionSpec(
        id="grids",
        title=f"综合网格 Grids ({info.name})",
        description=f"Comprehensive grids of version {info.name} ({info.status}), "
        f"{info.grid_count} grids, with their community, subdistrict and officer.",
        id_field="code",
        slot=f"grids@{info.id}",
        content=info.content_key,
        load=lambda: loaded.grids[[*GRID_PROPERTIES, loaded.grids.geometry.name]],
        version=info.name if pinned else None,
        versioned=True,
    )


def base_spec(store: Store, layer: LayerInfo) -> CollectionSpec:
    kind: BaseKind = layer.kind  # type: ignore[assignment]
    title, description = _BASE[kind]
    return CollectionSpec(
        id=kind,
        title=title,
        description=f"{description} Imported from {layer.source_name}.",
        id_field="code" if kind == "communities" else "id",
        slot=kind,
        content=layer.content_key,
        load=lambda: store.read_base_layer(kind),
    )


def subdistricts_spec(store: Store, communities: LayerInfo) -> CollectionSpec:
    return CollectionSpec(
        id="subdistricts",
        title="街道 Subdistricts",
        description="Subdistricts and towns (街道/乡镇), each the union of its communities.",
        id_field="code",
        slot="subdistricts",
        content=communities.content_key,
        load=lambda: read_subdistricts(store),
    )


def department_spec(store: Store, layer: LayerInfo) -> CollectionSpec:
    name = layer.name
    return CollectionSpec(
        id=DEPARTMENT_PREFIX + name,
        title=f"{name} 部门网格",
        description=f"Current grid layer of the {name} department, imported from "
        f"{layer.source_name} on {layer.imported_at.date().isoformat()}; "
        "the department's own fields are properties.",
        id_field="id",
        slot=DEPARTMENT_PREFIX + name,
        content=layer.content_key,
        load=lambda: read_department(store, name),
    )


def catalog(
    store: Store, grids: LoadedVersion | None, pinned: bool = False
) -> list[CollectionSpec]:
    """Every collection there is now, grids first, then base layers, then departments."""
    layers = store.list_layers()
    base = {layer.kind: layer for layer in layers if layer.kind in BASE_KINDS}
    specs = [grids_spec(grids, pinned)] if grids is not None else []
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
    attributes.columns = [
        f"attribute_{c}" if c in _RESERVED else str(c) for c in attributes.columns
    ]
    return gpd.GeoDataFrame(
        pd.concat([layer[["id", "source_id"]], attributes], axis=1),
        geometry=layer.geometry.to_numpy(),
        crs=layer.crs,
    )
