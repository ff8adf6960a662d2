"""Alembic environment: one migration chain for both stores (PostGIS and GeoPackage)."""

from __future__ import annotations

from typing import Any

from alembic import context

from gridgis.store.schema import metadata

config = context.config

# Tables that belong to PostGIS or the GeoPackage standard, not to us.
_FOREIGN_TABLES = {
    "spatial_ref_sys",
    "gpkg_spatial_ref_sys",
    "gpkg_contents",
    "gpkg_geometry_columns",
    "gpkg_extensions",
}


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and (name in _FOREIGN_TABLES or str(name).startswith("rtree_")))


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from gridgis.settings import get_settings
    from gridgis.store import engine_for

    with engine_for(get_settings()).begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("gridgis migrations run online only: use `gridgis db upgrade`")
run_migrations_online()
