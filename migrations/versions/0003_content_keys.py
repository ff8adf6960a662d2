"""Content keys: one identity for what a version or an imported layer holds; and each
import's extent, so a catalogue of layers needs no layer read whole.

Caches, ETags and index swaps used to key a version on ``(id, created_at)`` or
``(id, published_at)``, and the GeoPackage reuses the id of a draft replaced under the
same name, so a server could go on serving the replaced draft. Each version and each
import now carries a random key, new whenever its content changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from gridgis.store.schema import JSONType

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("grid_versions", "layer_imports")


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.add_column(
            table, sa.Column("content_key", sa.String(32), nullable=False, server_default="")
        )
        ids = bind.execute(sa.text(f"SELECT id FROM {table}")).scalars().all()
        if ids:
            bind.execute(
                sa.text(f"UPDATE {table} SET content_key = :key WHERE id = :id"),
                [{"key": uuid.uuid4().hex, "id": i} for i in ids],
            )
    # Older imports have none: their extent is read from their rows when it is asked for.
    op.add_column("layer_imports", sa.Column("bounds", JSONType, nullable=True))


def downgrade() -> None:
    op.drop_column("layer_imports", "bounds")
    for table in TABLES:
        op.drop_column(table, "content_key")
