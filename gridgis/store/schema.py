"""The tables both stores share, as SQLAlchemy Core objects used by the query code.

The Alembic migrations in ``migrations/`` create them; ``tests/test_schema.py`` checks that
the migrated database and these definitions agree. Geometry columns are CGCS2000
(EPSG:4490): ``geometry(TYPE, 4490)`` with a GiST index on PostGIS, a registered
GeoPackage geometry column in the embedded store.
"""

from __future__ import annotations

from typing import Any

import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import UserDefinedType

from gridgis.crs import CGCS2000


class GpkgGeometry(UserDefinedType[Any]):
    """A GeoPackage geometry column: its SQL type is the geometry type name."""

    cache_ok = True

    def __init__(self, geometry_type: str, srid: int = CGCS2000) -> None:
        self.geometry_type = geometry_type
        self.srid = srid

    def get_col_spec(self, **kw: Any) -> str:
        return self.geometry_type


@compiles(GpkgGeometry, "postgresql")
def _compile_pg_geometry(type_: GpkgGeometry, compiler: Any, **kw: Any) -> str:
    return f"geometry({type_.geometry_type},{type_.srid})"


def geometry(geometry_type: str) -> sa.types.TypeEngine[Any]:
    """Geometry column type: GeoAlchemy2 on PostGIS, a GeoPackage column elsewhere."""
    return GpkgGeometry(geometry_type).with_variant(
        geoalchemy2.Geometry(geometry_type, srid=CGCS2000, spatial_index=False), "postgresql"
    )


@compiles(sa.String, "sqlite")
def _compile_gpkg_string(type_: sa.String, compiler: Any, **kw: Any) -> str:
    """GeoPackage knows TEXT and TEXT(n), not VARCHAR(n)."""
    return f"TEXT({type_.length})" if type_.length else "TEXT"


@compiles(sa.JSON, "sqlite")
def _compile_gpkg_json(type_: sa.JSON, compiler: Any, **kw: Any) -> str:
    return "TEXT"


JSONType = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
#: JSON kept as written (PostgreSQL's ``json``, not ``jsonb``, which reorders keys): a
#: job's result is served as the answer it replaces, fields in their order.
OrderedJSON = sa.JSON(none_as_null=True)
# GeoPackage DATETIME is ISO 8601 in UTC with a "Z" (GPKG §1.1.1.1.1).
Timestamp = sa.DateTime(timezone=True).with_variant(
    sqlite.DATETIME(  # type: ignore[no-untyped-call]
        storage_format=(
            "%(year)04d-%(month)02d-%(day)02dT%(hour)02d:%(minute)02d:%(second)02d."
            "%(microsecond)06dZ"
        ),
        regexp=r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z?",
    ),
    "sqlite",
)

metadata = sa.MetaData()


def _imported_row() -> tuple[sa.Column[int], sa.Column[int]]:
    """Rows of base and department layers: an id and the import they came from."""
    return (
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("layer_imports.id"), nullable=False),
    )


districts = sa.Table(
    "districts",
    metadata,
    sa.Column("code", sa.String(6), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("geom", geometry("MULTIPOLYGON")),
)

subdistricts = sa.Table(
    "subdistricts",
    metadata,
    sa.Column("code", sa.String(9), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("district_code", sa.String(6), sa.ForeignKey("districts.code"), nullable=False),
    sa.Column("geom", geometry("MULTIPOLYGON")),
)

communities = sa.Table(
    "communities",
    metadata,
    sa.Column("code", sa.String(12), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("subdistrict_code", sa.String(9), sa.ForeignKey("subdistricts.code"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # 社区 (urban) | 村 (rural)
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
)

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

layer_imports = sa.Table(
    "layer_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id")),
    sa.Column("source_name", sa.Text, nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("encoding", sa.Text),
    sa.Column("crs", sa.Text, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("repairs", JSONType, nullable=False),
    sa.Column("fields", JSONType, nullable=False),  # source field names, in file order
    sa.Column("imported_at", Timestamp, nullable=False),
    sa.Column("imported_by", sa.Text, nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("content_key", sa.String(32), nullable=False),  # see gridgis.store.base
    sa.Column("bounds", JSONType),  # [minx, miny, maxx, maxy] in EPSG:4490; null if empty
)

streets = sa.Table(
    "streets",
    metadata,
    *_imported_row(),
    sa.Column("name", sa.Text),
    sa.Column("class", sa.Text, nullable=False),  # arterial | street | lane | river | railway
    sa.Column("geom", geometry("MULTILINESTRING"), nullable=False),
)

compounds = sa.Table(
    "compounds",
    metadata,
    *_imported_row(),
    sa.Column("source_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),  # residential | school | hospital | …
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
)

buildings = sa.Table(
    "buildings",
    metadata,
    *_imported_row(),
    sa.Column("source_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("population", sa.Integer),
    sa.Column("floors", sa.Integer),
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
)

addresses = sa.Table(
    "addresses",
    metadata,
    *_imported_row(),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("province", sa.Text),
    sa.Column("city", sa.Text),
    sa.Column("district", sa.Text),
    sa.Column("subdistrict", sa.Text),
    sa.Column("community", sa.Text),
    sa.Column("road", sa.Text),
    sa.Column("door_number", sa.Text),
    sa.Column("compound", sa.Text),
    sa.Column("building", sa.Text),
    sa.Column("unit", sa.Text),
    sa.Column("geom", geometry("POINT"), nullable=False),
)

department_grids = sa.Table(
    "department_grids",
    metadata,
    *_imported_row(),
    sa.Column("source_id", sa.Text),
    sa.Column("attributes", JSONType, nullable=False),
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
)

grid_versions = sa.Table(
    "grid_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("status", sa.Text, nullable=False),  # draft | published | archived
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("published_at", Timestamp),
    sa.Column("valid_from", Timestamp),
    sa.Column("valid_to", Timestamp),
    sa.Column("note", sa.Text),
    sa.Column("params", JSONType, nullable=False),
    sa.Column("report", JSONType, nullable=False),
    sa.Column("content_key", sa.String(32), nullable=False),  # see gridgis.store.base
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("valid_from", Timestamp, nullable=False),
    sa.Column("valid_to", Timestamp),  # open while the version is in force
    sa.Column("published_at", Timestamp, nullable=False),
    sa.Column("published_by", sa.Text, nullable=False),
    sa.Index("ix_publications_valid_from", "valid_from"),
)

grids = sa.Table(
    "grids",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # 综合 | 专属
    sa.Column("community_code", sa.String(12), nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("population", sa.Integer, nullable=False),
    sa.Column("area_m2", sa.Float, nullable=False),
    sa.Column("compactness", sa.Float, nullable=False),
    sa.Column("officer_name", sa.Text),
    sa.Column("officer_phone", sa.Text),
    sa.Column("party_branch", sa.Text),
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    # (version_id, code) is indexed, not unique: a version imported from a file keeps
    # duplicate codes for the review to name (migration 0004); publishing refuses them.
)

crosswalk = sa.Table(
    "crosswalk",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("grid_id", sa.Integer, sa.ForeignKey("grids.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "department_grid_id", sa.Integer, sa.ForeignKey("department_grids.id"), nullable=False
    ),
    sa.Column("area_share", sa.Float, nullable=False),
    sa.Column("household_share", sa.Float),
    # grid_id is indexed (0005): deleting a draft's grids cascades here.
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text),
    sa.Column("detail", JSONType, nullable=False),
    sa.Column("reason", sa.Text),
    # The chain (0006): the previous entry's hash and this one's (gridgis.store.audit).
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
)

# Credentials (0007): API keys by their lookup id and hash (never the key), people's
# accounts with argon2 hashes, and the server's own secrets (the session cookie's key),
# kept in the store so every worker signs and checks with the same one.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("origins", JSONType, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("expires", Timestamp),
    sa.Column("revoked", Timestamp),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
)

server_secrets = sa.Table(
    "server_secrets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Long work run in the background (issue [9/11]): an import, merge, review or diff with
#: its inputs, the files it reads (an upload), its progress and its result. A worker
#: holds a job by its lease and proves it alive by ``heartbeat``; a job whose heartbeat
#: stops is taken up again by another worker. Statuses are OGC API – Processes' own.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("process", sa.Text, nullable=False),
    sa.Column("inputs", OrderedJSON, nullable=False),
    sa.Column("key", sa.Text),  # the same work asked again joins this job
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("worker", sa.Text),
    sa.Column("lease", sa.String(32)),
    sa.Column("cancel", sa.Boolean, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("started", Timestamp),
    sa.Column("finished", Timestamp),
    sa.Column("heartbeat", Timestamp),
    sa.Column("result", OrderedJSON),
    sa.Column("error", OrderedJSON),
    sa.Column("payload", sa.LargeBinary),
    sa.Index("ix_jobs_status", "status", "created"),
    # One job per piece of work: two first asks at once (PostgreSQL reads committed rows
    # only) cannot both queue it.
    sa.Index(
        "ux_jobs_key",
        "key",
        unique=True,
        postgresql_where=sa.text("status <> 'dismissed'"),
        sqlite_where=sa.text("status <> 'dismissed'"),
    ),
)

# Geometry columns and their GeoPackage geometry type, for registration and GiST indexes.
GEOMETRY_COLUMNS: dict[str, str] = {
    table.name: col.type.geometry_type  # type: ignore[attr-defined]
    for table in metadata.sorted_tables
    for col in table.columns
    if isinstance(col.type, GpkgGeometry)
}
