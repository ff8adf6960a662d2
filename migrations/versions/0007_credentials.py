"""Credentials: API keys (their lookup id and SHA-256, never the key), people's accounts
(argon2 hashes) and the server's secrets (the session cookie's signing key, one for
every worker).

In the GeoPackage they stay out of gpkg_contents, which the format allows: a desktop
client opening the file lists its layers, not the hashes of its keys and passwords.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridgis.store.schema import JSONType, Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
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
    op.create_table(
        "users",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("scopes", JSONType, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("created", Timestamp, nullable=False),
    )
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_table("users")
    op.drop_table("api_keys")
