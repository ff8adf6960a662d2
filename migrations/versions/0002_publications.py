"""Publications: every time a version was in force, kept even when it is published again.

Until now a version's ``valid_from``/``valid_to`` said when it was last in force; publishing
an archived version again (rolling back) overwrote that, and time travel (``at=``) lost the
first period. Each publication is now a row of its own; the columns on ``grid_versions``
keep describing the latest one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridgis.store import gpkg_meta
from gridgis.store.schema import Timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("grid_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_to", Timestamp),
        sa.Column("published_at", Timestamp, nullable=False),
        sa.Column("published_by", sa.Text, nullable=False),
    )
    op.create_index("ix_publications_valid_from", "publications", ["valid_from"])
    op.execute(
        "INSERT INTO publications (version_id, valid_from, valid_to, published_at, published_by) "
        "SELECT id, valid_from, valid_to, COALESCE(published_at, valid_from), created_by "
        "FROM grid_versions WHERE valid_from IS NOT NULL"
    )
    if bind.dialect.name == "sqlite":
        gpkg_meta.register(bind, "publications", None)


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_table("publications")
    if bind.dialect.name == "sqlite":
        gpkg_meta.unregister(bind, "publications")
