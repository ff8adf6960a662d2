"""The store interface: what the library and the API may ask of PostGIS or the embedded file.

Frames going in and out are GeoDataFrames in CGCS2000 (EPSG:4490) with the columns
listed in ``BASE_COLUMNS`` (base layers) or ``source_id``/``attributes`` (department
layers). Every write is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import shapely

from gridgis.store.audit import ChainCheck
from gridgis.tiles.layers import TileLayer
from gridgis.tiles.tilemath import TileAddress

BaseKind = Literal["communities", "streets", "compounds", "buildings", "addresses"]
BASE_KINDS: tuple[BaseKind, ...] = ("communities", "streets", "compounds", "buildings", "addresses")
LayerKind = Literal["department", "communities", "streets", "compounds", "buildings", "addresses"]
LAYER_KINDS: tuple[str, ...] = ("department", *BASE_KINDS)

# Columns (besides geometry) each base layer frame carries into the store.
BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "communities": ("code", "name", "kind"),
    "streets": ("name", "class"),
    "compounds": ("source_id", "name", "kind"),
    "buildings": ("source_id", "name", "households", "population", "floors"),
    "addresses": (
        "address",
        "province",
        "city",
        "district",
        "subdistrict",
        "community",
        "road",
        "door_number",
        "compound",
        "building",
        "unit",
    ),
}


def base_layer_columns(kind: BaseKind) -> tuple[str, ...]:
    """The columns :meth:`Store.read_base_layer` gives, besides geometry, in order."""
    if kind == "communities":
        return (*BASE_COLUMNS[kind], "subdistrict_code", "subdistrict_name")
    return ("id", *BASE_COLUMNS[kind])


VersionStatus = Literal["draft", "published", "archived"]
# What read_grids gives for each grid besides its geometry, in this order.
GRID_PROPERTIES: tuple[str, ...] = (
    "code",
    "name",
    "kind",
    "community_code",
    "community_name",
    "subdistrict_code",
    "subdistrict_name",
    "households",
    "population",
    "area_m2",
    "compactness",
    "officer_name",
    "officer_phone",
    "party_branch",
)


@dataclass(frozen=True)
class ImportRecord:
    """Provenance of one imported file."""

    kind: str
    source_name: str
    source_sha256: str
    crs: str
    row_count: int
    imported_by: str
    encoding: str | None = None
    department: str | None = None
    repairs: dict[str, int] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)  # source field names, in file order


#: What a grid's ETag is made of, besides its geometry: every stored column.
GRID_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "kind",
    "community_code",
    "households",
    "population",
    "area_m2",
    "compactness",
    "officer_name",
    "officer_phone",
    "party_branch",
)


def _plain(value: Any) -> Any:
    """A stored value as the same Python value whichever way it was read (numpy or SQL)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4)
    return value


def grid_etag(values: Mapping[str, Any], geometry: Any) -> str:
    """A strong ETag of one grid's stored state (every column and its exact geometry): it
    changes with any edit of that grid and with nothing else, so editing one grid does
    not make a neighbour's copy stale (OGC API Features Part 4 optimistic locking)."""
    state = repr([_plain(values.get(c)) for c in GRID_COLUMNS]).encode()
    digest = hashlib.sha1(state + shapely.to_wkb(geometry))
    return '"' + digest.hexdigest()[:24] + '"'


@dataclass(frozen=True)
class GridEdit:
    """One grid's change: ``values`` (columns of :data:`GRID_COLUMNS`, ``None`` unsets)
    and, if it moves, its new ``geometry`` (EPSG:4490); ``expect`` is the ETag the change
    was made against (``None``: a change the server makes, like a neighbour adjusted)."""

    code: str
    values: dict[str, Any]
    geometry: Any = None
    expect: str | None = None


def new_content_key() -> str:
    """A fresh content key: random, so no reused id or equal timestamp can repeat one."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LayerInfo:
    """A current layer. ``content_key`` identifies what it holds: every cache, ETag and
    index keyed on it sees a re-import as new content."""

    kind: str
    name: str
    rows: int
    import_id: int
    source_name: str
    source_sha256: str
    crs: str
    encoding: str | None
    imported_at: datetime
    imported_by: str
    content_key: str = ""
    #: The layer's extent in EPSG:4490, recorded at import (``None``: empty, or imported
    #: before extents were recorded).
    bounds: tuple[float, float, float, float] | None = None
    fields: tuple[str, ...] = ()  # the source file's field names, in its order


@dataclass(frozen=True)
class VersionInfo:
    """A grid version. ``content_key`` is the one identity of its content: it changes
    whenever the grids or their answers change (a draft replaced under the same name, a
    rename), never on a mere change of status; caches, ETags and index swaps key on it."""

    id: int
    name: str
    status: VersionStatus
    created_at: datetime
    created_by: str
    grid_count: int
    published_at: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    note: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    content_key: str = ""


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    reason: str | None


class Store(ABC):
    """One interface, two implementations: PostGIS and the embedded GeoPackage."""

    kind: str
    location: str

    # --- schema ---------------------------------------------------------------------------
    @abstractmethod
    def upgrade(self, revision: str = "head") -> None: ...

    @abstractmethod
    def downgrade(self, revision: str = "base") -> None: ...

    @abstractmethod
    def schema_revision(self) -> str | None: ...

    # --- layers ---------------------------------------------------------------------------
    @abstractmethod
    def find_import(
        self,
        sha256: str,
        kind: str,
        department: str | None,
        *,
        by: str | None = None,
        since: datetime | None = None,
    ) -> LayerInfo | None:
        """The current layer imported from a file with this hash, if any (re-import = no-op);
        with ``by`` and ``since``, any import of it ``by`` made since then, current or not
        (what an earlier attempt of a job did before its worker died)."""

    @abstractmethod
    def replace_base_layer(
        self,
        kind: BaseKind,
        frame: gpd.GeoDataFrame,
        record: ImportRecord,
        admin: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    ) -> int:
        """Replace a base layer atomically.

        ``admin`` = (districts, subdistricts) frames, for communities only.
        """

    @abstractmethod
    def replace_department_layer(self, frame: gpd.GeoDataFrame, record: ImportRecord) -> int:
        """Make this the department's current layer; the previous one stays as history."""

    @abstractmethod
    def list_layers(self) -> list[LayerInfo]: ...

    @abstractmethod
    def read_base_layer(
        self, kind: BaseKind, columns: Sequence[str] | None = None
    ) -> gpd.GeoDataFrame:
        """The layer with :func:`base_layer_columns` (only ``columns`` of them, when
        given, for a caller that needs a few of a big layer's) and geometry."""

    @abstractmethod
    def read_department_layer(self, department: str) -> gpd.GeoDataFrame:
        """Columns: ``id`` (store id), ``source_id``, ``attributes`` (dict), geometry."""

    # --- grid versions --------------------------------------------------------------------
    @abstractmethod
    def save_version(
        self,
        name: str,
        grids: gpd.GeoDataFrame,
        crosswalk: pd.DataFrame,
        *,
        params: dict[str, Any],
        report: dict[str, Any],
        actor: str,
        note: str | None = None,
        replace: bool = False,
        action: str = "merge",
    ) -> VersionInfo:
        """Store a draft version; ``crosswalk`` has grid_code, department_grid_id, shares.
        ``action`` is how the audit log names what made it (``merge``, ``import``,
        ``proposal``)."""

    @abstractmethod
    def publish(
        self,
        name: str,
        actor: str,
        reason: str | None = None,
        valid_from: datetime | None = None,
        detail: dict[str, Any] | None = None,
        content_key: str | None = None,
    ) -> VersionInfo:
        """Publish ``name``; the version published before is archived. One transaction.

        ``valid_from`` (default: now) back-dates when the version came into force, for a
        layer that was in use before it reached gridgis; it must be after the start of the
        version it replaces, and not in the future. ``detail`` goes into the audit entry
        (a publish forced past the review's errors lists them there). ``content_key``,
        when given, is the content that was checked: a version changed since is refused.
        """

    @abstractmethod
    def list_versions(self) -> list[VersionInfo]: ...

    @abstractmethod
    def get_version(self, name: str) -> VersionInfo: ...

    @abstractmethod
    def published_version(self) -> VersionInfo | None: ...

    @abstractmethod
    def version_at(self, when: datetime) -> VersionInfo | None:
        """The version that was in force at ``when`` (by its publications, so a version
        published twice answers for both periods)."""

    @abstractmethod
    def first_publication(self) -> datetime | None:
        """When the first version ever published came into force."""

    @abstractmethod
    def read_grids(self, version: str, code: str | None = None) -> gpd.GeoDataFrame:
        """Grids of a version (or its grids of one code), in code order, with
        :data:`GRID_PROPERTIES` and geometry."""

    @abstractmethod
    def versions_with_grid(self, code: str) -> list[VersionInfo]:
        """The versions holding a grid with this code, oldest first (where a retired code
        was last seen)."""

    @abstractmethod
    def read_crosswalk(self, version: str, department: str | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def delete_version(self, name: str, actor: str) -> VersionInfo:
        """Delete a draft with its grids and crosswalk, audited as ``actor``; gives back
        what was deleted. Published and archived versions are the record of what was in
        force, so they stay (:class:`~gridgis.errors.ConflictError`)."""

    @abstractmethod
    def rename_version(self, name: str, new_name: str, actor: str) -> VersionInfo:
        """Give a draft another name (checked like any version name), audited as
        ``actor``. Only drafts: links, exports and the audit log name the published ones."""

    @abstractmethod
    def update_grids(
        self,
        version: str,
        edits: list[GridEdit],
        *,
        actor: str,
        action: str = "edit",
        reason: str | None = None,
        statuses: tuple[str, ...] = ("draft",),
    ) -> dict[str, str]:
        """Change grids of ``version`` in one transaction, each checked against the ETag
        it was made against (:class:`~gridgis.errors.StaleError` if it changed since),
        the version checked to be still of one of ``statuses``;
        the version gets a new content key and the audit log the before and after. Gives
        each edited grid's new ETag."""

    @abstractmethod
    def grid_state(self, version: str, code: str) -> tuple[dict[str, Any], Any, str]:
        """One grid's stored columns, geometry and ETag, read fresh from the store."""

    # --- tiles ----------------------------------------------------------------------------
    @abstractmethod
    async def vector_tile(
        self,
        layer: TileLayer,
        tile: TileAddress,
        version_id: int | None = None,
        content_key: str | None = None,
    ) -> bytes:
        """The layer's features in one tile as a Mapbox Vector Tile (``b""`` when none);
        ``version_id`` picks the grid version for versioned layers. ``content_key``, when
        the caller knows it, names what the layer holds (the version's or the import's).

        Awaited, because a tile server asks for hundreds a second: a store that can wait
        on its database without a thread does so; others render in a worker thread."""

    # --- audit ----------------------------------------------------------------------------
    @abstractmethod
    def read_audit(self, limit: int = 100) -> list[AuditEntry]: ...

    @abstractmethod
    def ping(self) -> None:
        """Reach the database now (raises whatever the driver raises when it cannot)."""

    @abstractmethod
    def verify_audit(self) -> ChainCheck:
        """Walk the audit log's chain from the first entry (:mod:`gridgis.store.audit`)."""

    @abstractmethod
    def close(self) -> None: ...
