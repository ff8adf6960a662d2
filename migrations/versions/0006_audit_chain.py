"""The audit log becomes a chain: each entry carries the hash of the one before and its
own, so changing, removing or inserting an entry afterwards is found (``gridgis audit
verify``). Entries written before are chained here, in the order they were written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from gridgis.jsonio import json_loads
from gridgis.store.audit import GENESIS, entry_hash

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, at, actor, action, target, detail, reason FROM audit_log ORDER BY id")
    ).all()
    previous = GENESIS
    for row in rows:
        at = row.at
        if isinstance(at, str):  # SQLite hands back the stored text
            from datetime import datetime

            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        detail = json_loads(row.detail) if isinstance(row.detail, str) else (row.detail or {})
        own = entry_hash(previous, at, row.actor, row.action, row.target, detail, row.reason)
        bind.execute(
            sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
            {"p": previous, "h": own, "i": row.id},
        )
        previous = own


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
