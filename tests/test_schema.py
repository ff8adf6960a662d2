"""The Alembic migration and the tables the code queries agree, on both stores."""

from __future__ import annotations

import sqlalchemy as sa

from gridgis.store import SqlStore
from gridgis.store.schema import GEOMETRY_COLUMNS, metadata


def test_migrated_schema_matches_the_code(store: SqlStore) -> None:
    inspector = sa.inspect(store.engine)
    tables = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        assert table.name in tables
        found = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert list(found) == [c.name for c in table.columns], table.name
        for column in table.columns:
            if not column.primary_key:
                assert found[column.name]["nullable"] == column.nullable, (table.name, column.name)


def test_geometry_columns_declare_type_and_srid(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        if store.kind == "postgis":
            rows = conn.execute(
                sa.text("SELECT f_table_name, type, srid FROM geometry_columns")
            ).all()
            indexed = {
                r[0]
                for r in conn.execute(
                    sa.text("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")
                )
            }
            assert indexed >= set(GEOMETRY_COLUMNS)
        else:
            rows = conn.execute(
                sa.text("SELECT table_name, geometry_type_name, srs_id FROM gpkg_geometry_columns")
            ).all()
    declared = {name: (kind.upper(), srid) for name, kind, srid in rows}
    assert declared == {name: (kind, 4490) for name, kind in GEOMETRY_COLUMNS.items()}


def test_downgrade_then_upgrade(store: SqlStore) -> None:
    store.downgrade("base")
    assert store.schema_revision() is None
    remaining = set(sa.inspect(store.engine).get_table_names()) & set(metadata.tables)
    assert remaining == set()
    store.upgrade()
    assert store.schema_revision() == store.head_revision()


def test_codes_may_repeat_after_0004_and_its_rebuild_keeps_every_row(store: SqlStore) -> None:
    """0004 rebuilds the GeoPackage's grids table: the grids, their ids and the crosswalk
    that points at them come through, both ways."""
    from tests.conftest import save_crosswalked

    save_crosswalked(store, "before")
    grids = store.read_grids("before")
    crosswalk = store.read_crosswalk("before")
    assert len(grids) == 2 and len(crosswalk) == 2
    store.downgrade("0003")  # the rebuild back to unique codes, with the rows
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM crosswalk")).scalar() == 2
    store.upgrade()
    assert store.read_grids("before").equals(grids)
    assert store.read_crosswalk("before").equals(crosswalk)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO grids (version_id, code, name, kind, community_code, households, "
                "population, area_m2, compactness, geom) SELECT version_id, code, name, kind, "
                "community_code, households, population, area_m2, compactness, geom FROM grids"
            )
        )
    assert len(store.read_grids("before")) == 4  # each code twice: stored as it is
