"""Initial schema: admin hierarchy, base layers, department layers, grid versions, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridgis.store import gpkg_meta
from gridgis.store.schema import JSONType, Timestamp, geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GEOMETRY_TABLES = {
    "districts": "MULTIPOLYGON",
    "subdistricts": "MULTIPOLYGON",
    "communities": "MULTIPOLYGON",
    "streets": "MULTILINESTRING",
    "compounds": "MULTIPOLYGON",
    "buildings": "MULTIPOLYGON",
    "addresses": "POINT",
    "department_grids": "MULTIPOLYGON",
    "grids": "MULTIPOLYGON",
}
ATTRIBUTE_TABLES = ["departments", "layer_imports", "grid_versions", "crosswalk", "audit_log"]
# Creation order respects foreign keys; dropping goes the other way.
ORDER = [
    "districts",
    "subdistricts",
    "communities",
    "departments",
    "layer_imports",
    "streets",
    "compounds",
    "buildings",
    "addresses",
    "department_grids",
    "grid_versions",
    "grids",
    "crosswalk",
    "audit_log",
]


def _import_fk() -> sa.Column:
    return sa.Column("import_id", sa.Integer, sa.ForeignKey("layer_imports.id"), nullable=False)


def upgrade() -> None:
    bind = op.get_bind()
    is_pg = bind.dialect.name == "postgresql"
    if is_pg:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    else:
        gpkg_meta.bootstrap(bind)

    op.create_table(
        "districts",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON")),
    )
    op.create_table(
        "subdistricts",
        sa.Column("code", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("district_code", sa.String(6), sa.ForeignKey("districts.code"), nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON")),
    )
    op.create_table(
        "communities",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "subdistrict_code", sa.String(9), sa.ForeignKey("subdistricts.code"), nullable=False
        ),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    )
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "layer_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id")),
        sa.Column("source_name", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("encoding", sa.Text),
        sa.Column("crs", sa.Text, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("repairs", JSONType, nullable=False),
        sa.Column("fields", JSONType, nullable=False),
        sa.Column("imported_at", Timestamp, nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
    )
    op.create_table(
        "streets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _import_fk(),
        sa.Column("name", sa.Text),
        sa.Column("class", sa.Text, nullable=False),
        sa.Column("geom", geometry("MULTILINESTRING"), nullable=False),
    )
    op.create_table(
        "compounds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _import_fk(),
        sa.Column("source_id", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    )
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _import_fk(),
        sa.Column("source_id", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("households", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer),
        sa.Column("floors", sa.Integer),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _import_fk(),
        sa.Column("address", sa.Text, nullable=False),
        *[
            sa.Column(name, sa.Text)
            for name in (
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
            )
        ],
        sa.Column("geom", geometry("POINT"), nullable=False),
    )
    op.create_table(
        "department_grids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _import_fk(),
        sa.Column("source_id", sa.Text),
        sa.Column("attributes", JSONType, nullable=False),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    )
    op.create_table(
        "grid_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("published_at", Timestamp),
        sa.Column("valid_from", Timestamp),
        sa.Column("valid_to", Timestamp),
        sa.Column("note", sa.Text),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("report", JSONType, nullable=False),
    )
    op.create_table(
        "grids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("households", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("compactness", sa.Float, nullable=False),
        sa.Column("officer_name", sa.Text),
        sa.Column("officer_phone", sa.Text),
        sa.Column("party_branch", sa.Text),
        sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
        sa.UniqueConstraint("version_id", "code", name="uq_grids_version_code"),
    )
    op.create_table(
        "crosswalk",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "grid_id", sa.Integer, sa.ForeignKey("grids.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "department_grid_id", sa.Integer, sa.ForeignKey("department_grids.id"), nullable=False
        ),
        sa.Column("area_share", sa.Float, nullable=False),
        sa.Column("household_share", sa.Float),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("detail", JSONType, nullable=False),
        sa.Column("reason", sa.Text),
    )

    op.create_index("ix_grids_version_community", "grids", ["version_id", "community_code"])
    op.create_index("ix_crosswalk_version", "crosswalk", ["version_id"])
    op.create_index("ix_crosswalk_department_grid", "crosswalk", ["department_grid_id"])
    op.create_index("ix_department_grids_import", "department_grids", ["import_id"])
    op.create_index("ix_communities_subdistrict", "communities", ["subdistrict_code"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    for table, geometry_type in GEOMETRY_TABLES.items():
        if is_pg:
            op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
        else:
            gpkg_meta.register(bind, table, geometry_type)
    if not is_pg:
        for table in ATTRIBUTE_TABLES:
            gpkg_meta.register(bind, table, None)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(ORDER):
        op.drop_table(table)
        if bind.dialect.name == "sqlite":
            gpkg_meta.unregister(bind, table)
