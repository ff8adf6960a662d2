"""Grid codes may repeat inside a version: a layer edited elsewhere and imported back
(``gridgis import grids``) is stored as it is, duplicate codes too, so that the review
names them (``code_duplicate``) instead of the import refusing the file or renumbering
grids behind the office's back. Publishing refuses a version with duplicate codes.

The unique constraint becomes a plain index. SQLite cannot drop a constraint, so the
GeoPackage's grids table is rebuilt with its rows and ids, its crosswalk kept aside.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CONSTRAINT = "uq_grids_version_code"
INDEX = "ix_grids_version_code"


def _rebuild_sqlite(create_sql: str) -> None:
    """The grids table again from ``create_sql``, with its rows, ids, indexes and
    triggers; the crosswalk is kept aside meanwhile, as dropping the old table cascades
    to it."""
    bind = op.get_bind()
    indexes = (
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'grids' "
                "AND sql IS NOT NULL"
            )
        )
        .scalars()
        .all()
    )
    triggers = (
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'grids' "
                "AND sql IS NOT NULL"
            )
        )
        .scalars()
        .all()
    )
    bind.execute(sa.text("CREATE TEMP TABLE crosswalk_kept AS SELECT * FROM crosswalk"))
    # Emptied first, so dropping the grids cascades to nothing (the crosswalk's grid is
    # not indexed yet: a cascade would scan it once per grid).
    bind.execute(sa.text("DELETE FROM crosswalk"))
    # After a rename SQLite keeps the name quoted: CREATE TABLE "grids" (…).
    renamed = re.sub(r'^CREATE TABLE "?grids"?', "CREATE TABLE grids_new", create_sql)
    bind.execute(sa.text(renamed))
    bind.execute(sa.text("INSERT INTO grids_new SELECT * FROM grids"))
    bind.execute(sa.text("DROP TABLE grids"))
    bind.execute(sa.text("PRAGMA legacy_alter_table = ON"))
    bind.execute(sa.text("ALTER TABLE grids_new RENAME TO grids"))
    bind.execute(sa.text("PRAGMA legacy_alter_table = OFF"))
    bind.execute(sa.text("INSERT INTO crosswalk SELECT * FROM crosswalk_kept"))
    bind.execute(sa.text("DROP TABLE crosswalk_kept"))
    # Indexes and triggers (an R-tree a desktop GIS added keeps its rows by id) again.
    for sql in [*indexes, *triggers]:
        bind.execute(sa.text(sql))


def _sqlite_create(unique: bool) -> str:
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'grids'")
    ).scalar_one()
    without = re.sub(rf",\s*CONSTRAINT {CONSTRAINT} UNIQUE \(version_id, code\)", "", sql)
    if unique:
        return without.rstrip().rstrip(")").rstrip() + (
            f", \n\tCONSTRAINT {CONSTRAINT} UNIQUE (version_id, code)\n)"
        )
    return without


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_sqlite_create(unique=False))
    else:
        op.drop_constraint(CONSTRAINT, "grids", type_="unique")
    op.create_index(INDEX, "grids", ["version_id", "code"])


def downgrade() -> None:
    op.drop_index(INDEX, "grids")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(_sqlite_create(unique=True))
    else:
        op.create_unique_constraint(CONSTRAINT, "grids", ["version_id", "code"])
