"""GeoPackage bookkeeping tables, so that QGIS and GDAL open the embedded store as-is."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from pyproj import CRS

from gridgis.crs import CGCS2000

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3: read by GDAL ≥ 2.4 (Debian 12 ships 3.6)

_CORE_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
        description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
        identifier TEXT UNIQUE, description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL,
        geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
        z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bootstrap(conn: sa.Connection) -> None:
    """Create the GeoPackage core tables and the spatial reference systems we use."""
    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.exec_driver_sql(f"PRAGMA user_version = {USER_VERSION}")
    for ddl in _CORE_DDL:
        conn.exec_driver_sql(ddl)
    rows = [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
    ]
    for epsg in (4326, CGCS2000):
        crs = CRS.from_epsg(epsg)
        rows.append((crs.name, epsg, "EPSG", epsg, crs.to_wkt("WKT1_GDAL"), crs.name))
    conn.execute(
        sa.text(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys "
            "(srs_name, srs_id, organization, organization_coordsys_id, definition, description)"
            " VALUES (:n, :i, :o, :c, :d, :desc)"
        ),
        [dict(zip(("n", "i", "o", "c", "d", "desc"), r, strict=True)) for r in rows],
    )


def register(conn: sa.Connection, table: str, geometry_type: str | None) -> None:
    """List ``table`` in gpkg_contents: as features when it has a geometry column."""
    conn.execute(
        sa.text(
            "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, "
            "last_change, srs_id) VALUES (:t, :kind, :t, :now, :srs)"
        ),
        {
            "t": table,
            "kind": "features" if geometry_type else "attributes",
            "now": _now(),
            "srs": CGCS2000 if geometry_type else None,
        },
    )
    if geometry_type:
        conn.execute(
            sa.text(
                "INSERT OR REPLACE INTO gpkg_geometry_columns VALUES (:t, 'geom', :g, :srs, 0, 0)"
            ),
            {"t": table, "g": geometry_type, "srs": CGCS2000},
        )


def unregister(conn: sa.Connection, table: str) -> None:
    conn.execute(sa.text("DELETE FROM gpkg_geometry_columns WHERE table_name = :t"), {"t": table})
    conn.execute(sa.text("DELETE FROM gpkg_contents WHERE table_name = :t"), {"t": table})


def touch(
    conn: sa.Connection, table: str, bounds: tuple[float, float, float, float] | None
) -> None:
    """Record a change and the table's extent, which QGIS uses to zoom to the layer."""
    minx, miny, maxx, maxy = bounds if bounds else (None, None, None, None)
    conn.execute(
        sa.text(
            "UPDATE gpkg_contents SET last_change = :now, min_x = :a, min_y = :b, max_x = :c, "
            "max_y = :d WHERE table_name = :t"
        ),
        {"now": _now(), "a": minx, "b": miny, "c": maxx, "d": maxy, "t": table},
    )
