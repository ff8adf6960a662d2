"""Jobs: imports, merges, reviews and diffs asked for over HTTP run in the background,
held in the store so that they survive a restart and a dead worker's job is taken up
again. Like the credentials, the table stays out of the GeoPackage's gpkg_contents.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridgis.store.schema import OrderedJSON, Timestamp

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("process", sa.Text, nullable=False),
        sa.Column("inputs", OrderedJSON, nullable=False),
        sa.Column("key", sa.Text),
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
    )
    op.create_index("ix_jobs_status", "jobs", ["status", "created"])
    live = sa.text("status <> 'dismissed'")
    op.create_index(
        "ux_jobs_key", "jobs", ["key"], unique=True, postgresql_where=live, sqlite_where=live
    )


def downgrade() -> None:
    op.drop_index("ux_jobs_key", "jobs")
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_table("jobs")
