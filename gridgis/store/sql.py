"""The store logic both backends share, in SQLAlchemy Core.

Subclasses say how geometries travel (GeoPackage blobs or WKB/EWKB) and how rows are
bulk-loaded (``executemany`` or ``COPY``); everything else — transactions, provenance,
versions, audit — lives here once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from numpy.typing import NDArray

from gridgis.clock import as_utc, utcnow
from gridgis.crs import CGCS2000
from gridgis.errors import (
    ConflictError,
    GridgisError,
    InvalidValueError,
    NotFoundError,
    StaleError,
)
from gridgis.geometry import force_multi
from gridgis.jsonio import json_loads
from gridgis.store import schema as t
from gridgis.store.audit import GENESIS, ChainCheck, entry_hash
from gridgis.store.base import (
    BASE_COLUMNS,
    GRID_COLUMNS,
    GRID_PROPERTIES,
    AuditEntry,
    BaseKind,
    GridEdit,
    ImportRecord,
    LayerInfo,
    Store,
    VersionInfo,
    base_layer_columns,
    grid_etag,
    new_content_key,
)
from gridgis.store.credentials import CredentialStore
from gridgis.store.jobs import JobStore
from gridgis.versions import check_version_name, name_taken

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

BASE_TABLES: dict[str, sa.Table] = {
    "communities": t.communities,
    "streets": t.streets,
    "compounds": t.compounds,
    "buildings": t.buildings,
    "addresses": t.addresses,
}


def _bounds(frame: gpd.GeoDataFrame) -> list[float] | None:
    """A frame's extent as stored with its import (``None`` when it has no geometry)."""
    bounds = [float(v) for v in frame.total_bounds] if len(frame) else []
    return bounds if bounds and all(np.isfinite(bounds)) else None


def alembic_config() -> Config:
    if not MIGRATIONS_DIR.is_dir():
        raise GridgisError(f"migrations not found at {MIGRATIONS_DIR}; install gridgis with -e")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


class SqlStore(CredentialStore, JobStore, Store):
    """Shared implementation; see :class:`gridgis.store.base.Store` for the contract."""

    def __init__(self, engine: sa.Engine, location: str) -> None:
        self.engine = engine
        self.location = location

    # --- backend hooks ----------------------------------------------------------------------
    @abstractmethod
    def _encode(self, geoms: NDArray[np.object_]) -> list[Any]:
        """Shapely → what the bulk loader writes into a geometry column."""

    @abstractmethod
    def _geom_out(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Select expression that yields something :meth:`_decode` reads."""

    @abstractmethod
    def _decode(self, values: Sequence[Any]) -> NDArray[np.object_]: ...

    @abstractmethod
    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        """Insert all rows of ``frame`` (columns named as in ``table``, geometry encoded)."""

    def _touched(self, conn: sa.Connection, table: sa.Table) -> None:
        """Called after a table's rows change (the GeoPackage records its extent)."""

    def _geom_param(self) -> str:
        """SQL that turns the bound parameter ``:geom`` (what :meth:`_encode` gives) into
        a geometry value."""
        return ":geom"

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(gridgis_write=True)
            with conn.begin():
                yield conn

    # --- schema -----------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> None:
        with self._write() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def downgrade(self, revision: str = "base") -> None:
        with self._write() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head is not None
        return head

    def require_schema(self) -> None:
        current = self.schema_revision()
        if current != self.head_revision():
            raise GridgisError(
                f"the store at {self.location} is at schema {current or 'none'}, not "
                f"{self.head_revision()}: run `gridgis db upgrade`"
            )

    def close(self) -> None:
        self.engine.dispose()

    # --- helpers ----------------------------------------------------------------------------
    def _frame_for(self, table: sa.Table, frame: pd.DataFrame, geoms: Any) -> pd.DataFrame:
        """Encode geometry (as MULTI* where the column is) and order the columns."""
        out = pd.DataFrame(frame).reset_index(drop=True).copy()
        geom_type = t.GEOMETRY_COLUMNS.get(table.name, "")
        geoms = np.asarray(geoms, dtype=object)
        if geom_type.startswith("MULTI"):
            geoms = force_multi(geoms)
        out["geom"] = self._encode(geoms)
        return out

    def _audit(
        self,
        conn: sa.Connection,
        actor: str,
        action: str,
        target: str | None,
        detail: dict[str, Any],
        reason: str | None = None,
    ) -> None:
        a = t.audit_log
        self._lock_audit(conn)  # one writer at a time extends the chain
        previous = conn.execute(
            sa.select(a.c.hash).order_by(a.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        at = utcnow()
        own = entry_hash(previous or GENESIS, at, actor, action, target, detail, reason)
        conn.execute(
            a.insert().values(
                at=at,
                actor=actor,
                action=action,
                target=target,
                detail=detail,
                reason=reason,
                prev_hash=previous or GENESIS,
                hash=own,
            )
        )

    def _lock_audit(self, conn: sa.Connection) -> None:
        """Hold the audit log's tail until the transaction ends (the GeoPackage's writes
        are one at a time already: BEGIN IMMEDIATE)."""

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def verify_audit(self) -> ChainCheck:
        a = t.audit_log
        query = sa.select(
            a.c.id,
            a.c.at,
            a.c.actor,
            a.c.action,
            a.c.target,
            a.c.detail,
            a.c.reason,
            a.c.prev_hash,
            a.c.hash,
        ).order_by(a.c.id)
        previous, count = GENESIS, 0
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                count += 1
                at = as_utc(row.at)
                assert at is not None
                if row.prev_hash != previous:
                    return ChainCheck(
                        count,
                        False,
                        row.id,
                        "the entry before it was changed or removed (its previous hash "
                        "does not match)",
                    )
                own = entry_hash(
                    previous,
                    at,
                    row.actor,
                    row.action,
                    row.target,
                    row.detail or {},
                    row.reason,
                )
                if own != row.hash:
                    return ChainCheck(count, False, row.id, "the entry was changed")
                previous = own
        return ChainCheck(count, True)

    def _read_frame(
        self, conn: sa.Connection, query: sa.Select[Any], geom_label: str = "geom"
    ) -> gpd.GeoDataFrame:
        result = conn.execute(query)
        columns = list(result.keys())
        # Plain tuples: pandas probes each SQLAlchemy Row for array attributes, and every
        # probe raises and catches inside SQLAlchemy (a second per 100k rows).
        rows = [tuple(r) for r in result.all()]
        frame = pd.DataFrame(rows, columns=columns)
        blobs = frame.pop(geom_label).tolist() if rows else []
        geoms = self._decode(blobs) if rows else np.array([], dtype=object)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CGCS2000))

    # --- layers -----------------------------------------------------------------------------
    def _department_id(self, conn: sa.Connection, name: str, create: bool) -> int | None:
        found = conn.execute(
            sa.select(t.departments.c.id).where(t.departments.c.name == name)
        ).scalar_one_or_none()
        if found is not None or not create:
            return found
        return int(
            conn.execute(
                t.departments.insert()
                .values(name=name, created_at=utcnow())
                .returning(t.departments.c.id)
            ).scalar_one()
        )

    def _layer_query(self, current: bool = True) -> sa.Select[Any]:
        li, d = t.layer_imports, t.departments
        query = sa.select(li, d.c.name.label("department")).select_from(
            li.outerjoin(d, li.c.department_id == d.c.id)
        )
        return query.where(li.c.is_current.is_(True)) if current else query

    @staticmethod
    def _layer_info(row: sa.Row[Any]) -> LayerInfo:
        m = row._mapping
        imported_at = as_utc(m["imported_at"])
        assert imported_at is not None
        return LayerInfo(
            kind=m["kind"],
            name=m["department"] or m["kind"],
            rows=m["row_count"],
            import_id=m["id"],
            source_name=m["source_name"],
            source_sha256=m["source_sha256"],
            crs=m["crs"],
            encoding=m["encoding"],
            imported_at=imported_at,
            imported_by=m["imported_by"],
            content_key=m["content_key"],
            bounds=tuple(m["bounds"]) if m["bounds"] else None,
            fields=tuple(m["fields"] or ()),
        )

    def find_import(
        self,
        sha256: str,
        kind: str,
        department: str | None,
        *,
        by: str | None = None,
        since: datetime | None = None,
    ) -> LayerInfo | None:
        li = t.layer_imports
        query = self._layer_query(current=since is None)
        query = query.where(li.c.source_sha256 == sha256, li.c.kind == kind)
        if since is not None:
            query = query.where(li.c.imported_at >= since, li.c.imported_by == (by or ""))
            query = query.order_by(li.c.imported_at.desc())
        if department is not None:
            query = query.where(t.departments.c.name == department)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return self._layer_info(row) if row else None

    def _start_import(
        self,
        conn: sa.Connection,
        record: ImportRecord,
        department_id: int | None,
        frame: gpd.GeoDataFrame,
    ) -> int:
        li = t.layer_imports
        same = (li.c.kind == record.kind) & (
            li.c.department_id == department_id
            if department_id is not None
            else li.c.department_id.is_(None)
        )
        conn.execute(li.update().where(same).values(is_current=False))
        return int(
            conn.execute(
                li.insert()
                .values(
                    kind=record.kind,
                    department_id=department_id,
                    source_name=record.source_name,
                    source_sha256=record.source_sha256,
                    encoding=record.encoding,
                    crs=record.crs,
                    row_count=record.row_count,
                    repairs=dict(record.repairs),
                    fields=list(record.fields),
                    imported_at=utcnow(),
                    imported_by=record.imported_by,
                    is_current=True,
                    content_key=new_content_key(),
                    bounds=_bounds(frame),
                )
                .returning(li.c.id)
            ).scalar_one()
        )

    def replace_base_layer(
        self,
        kind: BaseKind,
        frame: gpd.GeoDataFrame,
        record: ImportRecord,
        admin: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    ) -> int:
        table = BASE_TABLES[kind]
        columns = list(BASE_COLUMNS[kind])
        with self._write() as conn:
            import_id = self._start_import(conn, record, None, frame)
            if kind == "communities":
                if admin is None:
                    raise ValueError("communities need their districts and subdistricts")
                districts, subdistricts = admin
                conn.execute(t.communities.delete())
                conn.execute(t.subdistricts.delete())
                conn.execute(t.districts.delete())
                for admin_table, admin_frame in (
                    (t.districts, districts),
                    (t.subdistricts, subdistricts),
                ):
                    cols = [c for c in admin_frame.columns if c != "geometry"]
                    self._bulk_insert(
                        conn,
                        admin_table,
                        self._frame_for(admin_table, admin_frame[cols], admin_frame.geometry),
                    )
                    self._touched(conn, admin_table)
                rows = frame[columns].copy()
                rows["subdistrict_code"] = rows["code"].str[:9]
            else:
                conn.execute(table.delete())
                rows = frame[columns].copy()
                rows["import_id"] = import_id
            self._bulk_insert(conn, table, self._frame_for(table, rows, frame.geometry))
            self._touched(conn, table)
            self._audit(
                conn,
                record.imported_by,
                "import",
                kind,
                {
                    "import_id": import_id,
                    "source": record.source_name,
                    "rows": len(frame),
                    "repairs": dict(record.repairs),
                },
            )
        return import_id

    def replace_department_layer(self, frame: gpd.GeoDataFrame, record: ImportRecord) -> int:
        if not record.department:
            raise ValueError("a department layer needs a department name")
        with self._write() as conn:
            department_id = self._department_id(conn, record.department, create=True)
            import_id = self._start_import(conn, record, department_id, frame)
            rows = pd.DataFrame(
                {
                    "import_id": import_id,
                    "source_id": frame["source_id"].to_numpy(),
                    "attributes": frame["attributes"].to_numpy(),
                }
            )
            table = t.department_grids
            self._bulk_insert(conn, table, self._frame_for(table, rows, frame.geometry))
            self._touched(conn, table)
            self._audit(
                conn,
                record.imported_by,
                "import",
                f"department/{record.department}",
                {
                    "import_id": import_id,
                    "source": record.source_name,
                    "rows": len(frame),
                    "repairs": dict(record.repairs),
                },
            )
        return import_id

    def list_layers(self) -> list[LayerInfo]:
        li = t.layer_imports
        with self.engine.connect() as conn:
            rows = conn.execute(self._layer_query().order_by(li.c.kind, t.departments.c.name)).all()
        return [self._layer_info(r) for r in rows]

    def read_base_layer(
        self, kind: BaseKind, columns: Sequence[str] | None = None
    ) -> gpd.GeoDataFrame:
        table = BASE_TABLES[kind]
        joined = {"subdistrict_name": t.subdistricts.c.name.label("subdistrict_name")}
        wanted = base_layer_columns(kind)
        if columns is not None:
            unknown = sorted(set(columns) - set(wanted))
            if unknown:
                raise InvalidValueError(f"{kind} have no column {', '.join(unknown)}")
            wanted = tuple(c for c in wanted if c in columns)
        cols: list[sa.ColumnElement[Any]] = [
            joined[c] if c in joined else table.c[c] for c in wanted
        ]
        source: sa.FromClause = table
        order = table.c.id if "id" in table.c else table.c.code
        if kind == "communities":
            source = table.outerjoin(
                t.subdistricts, t.subdistricts.c.code == table.c.subdistrict_code
            )
        query = sa.select(*cols, self._geom_out(table.c.geom).label("geom")).select_from(source)
        with self.engine.connect() as conn:
            return self._read_frame(conn, query.order_by(order))

    def read_department_layer(self, department: str) -> gpd.GeoDataFrame:
        dg, li, d = t.department_grids, t.layer_imports, t.departments
        current = (
            sa.select(li.c.id, li.c.fields)
            .select_from(li.join(d, li.c.department_id == d.c.id))
            .where(d.c.name == department, li.c.is_current.is_(True), li.c.kind == "department")
        )
        with self.engine.connect() as conn:
            found = conn.execute(current).first()
            if found is None:
                raise NotFoundError(
                    f"no department layer named {department!r}", code="layer_not_found"
                )
            query = (
                sa.select(
                    dg.c.id,
                    dg.c.source_id,
                    dg.c.attributes,
                    self._geom_out(dg.c.geom).label("geom"),
                )
                .where(dg.c.import_id == found.id)
                .order_by(dg.c.id)
            )
            frame = self._read_frame(conn, query)
        # JSONB keeps keys in its own order; give them back in the file's field order.
        order = list(found.fields or [])
        frame["attributes"] = [
            {**{k: a[k] for k in order if k in a}, **{k: v for k, v in a.items() if k not in order}}
            for a in frame["attributes"]
        ]
        return frame

    # --- versions ---------------------------------------------------------------------------
    def _version_query(self) -> sa.Select[Any]:
        v, g = t.grid_versions, t.grids
        count = sa.select(sa.func.count()).where(g.c.version_id == v.c.id).scalar_subquery()
        return sa.select(v, count.label("grid_count"))

    @staticmethod
    def _version_info(row: sa.Row[Any]) -> VersionInfo:
        m = row._mapping
        created_at = as_utc(m["created_at"])
        assert created_at is not None
        return VersionInfo(
            id=m["id"],
            name=m["name"],
            status=m["status"],
            created_at=created_at,
            created_by=m["created_by"],
            grid_count=int(m["grid_count"]),
            published_at=as_utc(m["published_at"]),
            valid_from=as_utc(m["valid_from"]),
            valid_to=as_utc(m["valid_to"]),
            note=m["note"],
            params=m["params"] or {},
            report=m["report"] or {},
            content_key=m["content_key"],
        )

    def _get_version(self, conn: sa.Connection, name: str) -> VersionInfo:
        row = conn.execute(self._version_query().where(t.grid_versions.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no grid version named {name!r}", code="version_not_found")
        return self._version_info(row)

    def save_version(
        self,
        name: str,
        grids: gpd.GeoDataFrame,
        crosswalk: pd.DataFrame,
        *,
        params: dict[str, Any],
        report: dict[str, Any],
        actor: str,
        note: str | None = None,
        replace: bool = False,
        action: str = "merge",
    ) -> VersionInfo:
        check_version_name(name)
        v = t.grid_versions
        with self._write() as conn:
            existing = conn.execute(sa.select(v.c.id, v.c.status).where(v.c.name == name)).first()
            if existing is not None:
                if not replace or existing.status != "draft":
                    raise name_taken(name, existing.status)
                conn.execute(t.crosswalk.delete().where(t.crosswalk.c.version_id == existing.id))
                conn.execute(t.grids.delete().where(t.grids.c.version_id == existing.id))
                conn.execute(v.delete().where(v.c.id == existing.id))
            version_id = int(
                conn.execute(
                    v.insert()
                    .values(
                        name=name,
                        status="draft",
                        created_at=utcnow(),
                        created_by=actor,
                        note=note,
                        params=params,
                        report=report,
                        content_key=new_content_key(),
                    )
                    .returning(v.c.id)
                ).scalar_one()
            )
            grid_cols = [
                c.name for c in t.grids.columns if c.name not in {"id", "version_id", "geom"}
            ]
            rows = pd.DataFrame(grids[[c for c in grid_cols if c in grids.columns]])
            rows["version_id"] = version_id
            self._bulk_insert(conn, t.grids, self._frame_for(t.grids, rows, grids.geometry))
            self._touched(conn, t.grids)
            if len(crosswalk):
                ids = dict(
                    conn.execute(
                        sa.select(t.grids.c.code, t.grids.c.id).where(
                            t.grids.c.version_id == version_id
                        )
                    ).all()
                )
                cw = pd.DataFrame(
                    {
                        "version_id": version_id,
                        "grid_id": crosswalk["grid_code"].map(ids).to_numpy(),
                        "department_grid_id": crosswalk["department_grid_id"].to_numpy(),
                        "area_share": crosswalk["area_share"].to_numpy(),
                        "household_share": crosswalk["household_share"].to_numpy(),
                    }
                )
                self._bulk_insert(conn, t.crosswalk, cw)
            self._audit(
                conn,
                actor,
                action,
                f"version/{name}",
                {"grids": len(grids), "params": params, "replaced": existing is not None},
            )
            return self._get_version(conn, name)

    def publish(
        self,
        name: str,
        actor: str,
        reason: str | None = None,
        valid_from: datetime | None = None,
        detail: dict[str, Any] | None = None,
        content_key: str | None = None,
    ) -> VersionInfo:
        v = t.grid_versions
        with self._write() as conn:
            conn.execute(sa.select(v.c.id).where(v.c.name == name).with_for_update()).first()
            target = self._get_version(conn, name)
            if content_key is not None and target.content_key != content_key:
                raise ConflictError(
                    f"grid version {name!r} changed after it was reviewed: review it again",
                    code="version_changed",
                )
            if target.status == "published":
                return target
            now = utcnow()
            start = now if valid_from is None else valid_from.astimezone(UTC)
            if start > now:
                raise InvalidValueError(
                    f"valid_from {start.isoformat()} is in the future: publish on the day"
                )
            pub = t.publications
            latest = as_utc(
                conn.execute(
                    sa.select(pub.c.valid_from).order_by(pub.c.valid_from.desc()).limit(1)
                ).scalar()
            )
            if latest is not None and start <= latest:
                raise ConflictError(
                    f"valid_from {start.isoformat()} is not after {latest.isoformat()}, "
                    "when the version now in force began"
                )
            previous = (
                conn.execute(sa.select(v.c.name).where(v.c.status == "published")).scalars().all()
            )
            conn.execute(
                v.update()
                .where(v.c.status == "published")
                .values(status="archived", valid_to=start)
            )
            conn.execute(
                v.update()
                .where(v.c.id == target.id)
                .values(status="published", published_at=now, valid_from=start, valid_to=None)
            )
            # The history of what was in force when: one row per publication.
            conn.execute(pub.update().where(pub.c.valid_to.is_(None)).values(valid_to=start))
            conn.execute(
                pub.insert().values(
                    version_id=target.id,
                    valid_from=start,
                    valid_to=None,
                    published_at=now,
                    published_by=actor,
                )
            )
            self._audit(
                conn,
                actor,
                "publish",
                f"version/{name}",
                {
                    "previous": list(previous),
                    "was": target.status,
                    "valid_from": start.isoformat(),
                    **(detail or {}),
                },
                reason,
            )
            return self._get_version(conn, name)

    def list_versions(self) -> list[VersionInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._version_query().order_by(t.grid_versions.c.id)).all()
        return [self._version_info(r) for r in rows]

    def get_version(self, name: str) -> VersionInfo:
        with self.engine.connect() as conn:
            return self._get_version(conn, name)

    def published_version(self) -> VersionInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._version_query().where(t.grid_versions.c.status == "published")
            ).first()
        return self._version_info(row) if row else None

    def version_at(self, when: datetime) -> VersionInfo | None:
        pub = t.publications
        when = when.astimezone(UTC)
        with self.engine.connect() as conn:
            version_id = conn.execute(
                sa.select(pub.c.version_id)
                .where(
                    pub.c.valid_from <= when,
                    sa.or_(pub.c.valid_to.is_(None), pub.c.valid_to > when),
                )
                .order_by(pub.c.valid_from.desc())
                .limit(1)
            ).scalar()
            if version_id is None:
                return None
            row = conn.execute(
                self._version_query().where(t.grid_versions.c.id == version_id)
            ).first()
        return self._version_info(row) if row else None

    def first_publication(self) -> datetime | None:
        with self.engine.connect() as conn:
            pub = t.publications
            first = sa.select(pub.c.valid_from).order_by(pub.c.valid_from).limit(1)
            return as_utc(conn.execute(first).scalar())

    def read_grids(self, version: str, code: str | None = None) -> gpd.GeoDataFrame:
        g, c, s = t.grids, t.communities, t.subdistricts
        joined = {
            "community_name": c.c.name,
            "subdistrict_code": c.c.subdistrict_code,
            "subdistrict_name": s.c.name,
        }
        cols = [joined[n].label(n) if n in joined else g.c[n] for n in GRID_PROPERTIES]
        query = (
            sa.select(*cols, self._geom_out(g.c.geom).label("geom"))
            .select_from(
                g.outerjoin(c, c.c.code == g.c.community_code).outerjoin(
                    s, s.c.code == c.c.subdistrict_code
                )
            )
            .order_by(g.c.code, g.c.id)  # repeated codes in a stable order too
        )
        if code is not None:
            query = query.where(g.c.code == code)
        with self.engine.connect() as conn:
            info = self._get_version(conn, version)
            return self._read_frame(conn, query.where(g.c.version_id == info.id))

    def versions_with_grid(self, code: str) -> list[VersionInfo]:
        v, g = t.grid_versions, t.grids
        holding = sa.select(g.c.version_id).where(g.c.code == code)
        query = self._version_query().where(v.c.id.in_(holding)).order_by(v.c.id)
        with self.engine.connect() as conn:
            return [self._version_info(r) for r in conn.execute(query).all()]

    def read_crosswalk(self, version: str, department: str | None = None) -> pd.DataFrame:
        cw, g, dg, li, d = t.crosswalk, t.grids, t.department_grids, t.layer_imports, t.departments
        query = (
            sa.select(
                d.c.name.label("department"),
                dg.c.id.label("department_grid_id"),
                dg.c.source_id,
                g.c.code.label("grid_code"),
                cw.c.area_share,
                cw.c.household_share,
            )
            .select_from(
                cw.join(g, cw.c.grid_id == g.c.id)
                .join(dg, cw.c.department_grid_id == dg.c.id)
                .join(li, dg.c.import_id == li.c.id)
                .join(d, li.c.department_id == d.c.id)
            )
            .order_by(d.c.name, dg.c.id, g.c.code)
        )
        with self.engine.connect() as conn:
            info = self._get_version(conn, version)
            query = query.where(cw.c.version_id == info.id)
            if department is not None:
                query = query.where(d.c.name == department)
            result = conn.execute(query)
            return pd.DataFrame(result.all(), columns=list(result.keys()))

    def _locked_draft(self, conn: sa.Connection, name: str, doing: str) -> VersionInfo:
        """The draft ``name``, its row locked until the transaction ends (so that a publish
        cannot slip in between this check and the write), or why it cannot be ``doing``."""
        v = t.grid_versions
        conn.execute(sa.select(v.c.id).where(v.c.name == name).with_for_update()).first()
        info = self._get_version(conn, name)
        if info.status != "draft":
            raise ConflictError(
                f"grid version {name!r} is {info.status}: only a draft can be {doing}; "
                "published and archived versions stay as the record of what was in force",
                code="version_not_draft",
            )
        return info

    def delete_version(self, name: str, actor: str) -> VersionInfo:
        with self._write() as conn:
            info = self._locked_draft(conn, name, "deleted")
            conn.execute(t.crosswalk.delete().where(t.crosswalk.c.version_id == info.id))
            conn.execute(t.grids.delete().where(t.grids.c.version_id == info.id))
            self._touched(conn, t.grids)
            conn.execute(t.grid_versions.delete().where(t.grid_versions.c.id == info.id))
            self._audit(
                conn,
                actor,
                "delete",
                f"version/{name}",
                {
                    "grids": info.grid_count,
                    "created_by": info.created_by,
                    "created_at": info.created_at.isoformat(),
                },
            )
        return info

    def rename_version(self, name: str, new_name: str, actor: str) -> VersionInfo:
        check_version_name(new_name)
        v = t.grid_versions
        with self._write() as conn:
            info = self._locked_draft(conn, name, "renamed")
            if new_name == name:
                return info
            taken = conn.execute(sa.select(v.c.status).where(v.c.name == new_name)).scalar()
            if taken is not None:
                raise ConflictError(
                    f"grid version {new_name!r} exists ({taken}); choose another name",
                    code="version_exists",
                )
            conn.execute(
                v.update()
                .where(v.c.id == info.id)
                .values(name=new_name, content_key=new_content_key())
            )
            self._audit(conn, actor, "rename", f"version/{new_name}", {"from": name})
            return self._get_version(conn, new_name)

    # --- edits ------------------------------------------------------------------------------
    def _grid_rows(
        self, conn: sa.Connection, version_id: int, code: str
    ) -> list[tuple[int, dict[str, Any], Any]]:
        g = t.grids
        rows = conn.execute(
            sa.select(g.c.id, *[g.c[c] for c in GRID_COLUMNS], self._geom_out(g.c.geom))
            .where(g.c.version_id == version_id, g.c.code == code)
            .with_for_update()
        ).all()
        geoms: Any = self._decode([r[-1] for r in rows]) if rows else []
        return [
            (int(r[0]), dict(zip(GRID_COLUMNS, r[1:-1], strict=True)), geom)
            for r, geom in zip(rows, geoms, strict=True)
        ]

    def _one_grid(
        self, conn: sa.Connection, info: VersionInfo, code: str
    ) -> tuple[int, dict[str, Any], Any]:
        rows = self._grid_rows(conn, info.id, code)
        if not rows:
            raise NotFoundError(f"no grid {code} in version {info.name}", code="grid_not_found")
        if len(rows) > 1:
            raise ConflictError(
                f"grid code {code} is used {len(rows)} times in version {info.name}: give the "
                "grids their own codes (import the layer again) before editing them",
                code="code_duplicate",
            )
        return rows[0]

    def grid_state(self, version: str, code: str) -> tuple[dict[str, Any], Any, str]:
        with self.engine.connect() as conn:
            _, values, geom = self._one_grid(conn, self._get_version(conn, version), code)
        return values, geom, grid_etag(values, geom)

    def update_grids(
        self,
        version: str,
        edits: list[GridEdit],
        *,
        actor: str,
        action: str = "edit",
        reason: str | None = None,
        statuses: tuple[str, ...] = ("draft",),
    ) -> dict[str, str]:
        v, g = t.grid_versions, t.grids
        with self._write() as conn:
            conn.execute(sa.select(v.c.id).where(v.c.name == version).with_for_update()).first()
            info = self._get_version(conn, version)
            if info.status not in statuses:
                raise ConflictError(
                    f"grid version {version!r} is {info.status} now: the edit was made "
                    f"for a version that was {' or '.join(statuses)}; read it again",
                    code="version_status_changed",
                )
            changes = []
            for edit in edits:
                row_id, values, geom = self._one_grid(conn, info, edit.code)
                current = grid_etag(values, geom)
                if edit.expect is not None and edit.expect != current:
                    raise StaleError(
                        f"grid {edit.code} changed since it was read: read it again "
                        f"(its ETag is now {current})",
                        current=current,
                    )
                if edit.values:
                    conn.execute(g.update().where(g.c.id == row_id).values(**edit.values))
                if edit.geometry is not None:
                    encoded = self._encode(force_multi(np.array([edit.geometry], dtype=object)))
                    conn.execute(
                        sa.text(f"UPDATE grids SET geom = {self._geom_param()} WHERE id = :id"),
                        {"geom": encoded[0], "id": row_id},
                    )
                moved = (
                    {
                        "geometry": {
                            "before": json_loads(shapely.to_geojson(geom)),
                            "after": json_loads(shapely.to_geojson(edit.geometry)),
                        }
                    }
                    if edit.geometry is not None
                    else {}
                )
                changes.append(
                    {
                        "code": edit.code,
                        "before": {k: values[k] for k in edit.values},
                        "after": dict(edit.values),
                        **moved,
                    }
                )
            conn.execute(v.update().where(v.c.id == info.id).values(content_key=new_content_key()))
            self._audit(conn, actor, action, f"version/{version}", {"grids": changes}, reason)
            tags = {}
            for edit in edits:
                _, values, geom = self._one_grid(conn, info, edit.code)
                tags[edit.code] = grid_etag(values, geom)
            return tags

    # --- audit ------------------------------------------------------------------------------
    def read_audit(self, limit: int = 100) -> list[AuditEntry]:
        a = t.audit_log
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(a).order_by(a.c.id.desc()).limit(limit)).all()
        out = []
        for r in rows:
            at = as_utc(r.at)
            assert at is not None
            out.append(AuditEntry(at, r.actor, r.action, r.target, r.detail or {}, r.reason))
        return out
