"""Runtime settings, read from ``GRIDGIS_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator may want to change without touching code.

    The defaults describe Deyang (旌阳区, CGCS2000 3-degree Gauss–Krüger zone 35, CM 105°E);
    another city changes ``metric_epsg`` and ``county_code`` and keeps the rest.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql://… to use PostGIS; unset for the embedded GeoPackage store.",
    )
    data_dir: Path = Field(default=Path("data"), description="Where the embedded store lives.")
    metric_epsg: int = Field(
        default=4544,
        description="Projected CRS for areas and distances (CGCS2000 3-degree GK CM 105E).",
    )
    min_households: int = Field(default=300, ge=1)
    max_households: int = Field(default=500, ge=1)
    actor: str = Field(default="cli", description="Name recorded in the audit log.")
    max_population: int = Field(
        default=1600, ge=1, description="Most residents in one grid before the review says so."
    )
    review_tolerance_m2: float = Field(
        default=1.0, ge=0, description="Gaps, overlaps and overhangs smaller than this are noise."
    )
    sliver_thinness: float = Field(
        default=20.0,
        gt=0,
        description="QGIS's sliver threshold: a grid part whose bounding box's longer side "
        "squared over its area exceeds this is a sliver …",
    )
    sliver_max_m2: float = Field(
        default=5000.0, ge=0, description="… if it is no larger than this (0: any size)."
    )
    min_polsby_popper: float = Field(
        default=0.1, ge=0, le=1, description="Below this Polsby–Popper and …"
    )
    min_reock: float = Field(
        default=0.15, ge=0, le=1, description="… below this Reock, a grid is not compact."
    )
    max_off_street_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Most of a grid's inner border that may follow no street, wall, river "
        "or railway.",
    )
    max_officer_grids: int = Field(default=2, ge=1, description="Most grids one officer serves.")
    max_officer_households: int = Field(
        default=1000, ge=1, description="Most households one officer serves."
    )

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = Field(default=200, ge=1)
    max_body_mb: int = Field(
        default=128,
        ge=1,
        description="Largest request body other than an upload (a bulk lookup of a million "
        "points is about 40 MB); edits and small writes have tighter limits of their own.",
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="The city's time zone: dates in `at=` are local."
    )
    max_bulk_points: int = Field(
        default=1_000_000, ge=1, description="Most points or addresses in one bulk request."
    )
    tile_cache: bool = Field(
        default=True, description="Keep rendered vector tiles in memory (0 for benchmarks)."
    )
    cache_mb: int = Field(
        default=1024,
        ge=16,
        description="Memory for data built from the store: older versions, OGC collections, "
        "department services, layers held for tiles.",
    )
    answer_cache_mb: int = Field(
        default=256, ge=1, description="Memory for encoded answers: tiles, GeoJSON, pages."
    )
    tile_connections: int = Field(
        default_factory=lambda: (os.cpu_count() or 1) + 1,
        ge=1,
        description="PostGIS connections rendering tiles at once (default: cores + 1). "
        "More only queue inside PostgreSQL, where they fight for the cores: at 8 clients on "
        "2 cores, 16 gave a p99 of 20–97 ms, 3 gave 6–8 ms, at the same throughput.",
    )
    fast_path: bool = Field(
        default=True,
        description="Answer plain lookups and tiles before the framework (0 sends every "
        "request through the routes, to compare the two).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed to call the API from a browser, e.g. ["https://oa.example"]; '
        "none by default.",
    )
    public_read: bool = Field(
        default=True,
        description="Lookups, tiles, the map and the embed page answer without a key "
        "(0: every read needs a key or an account).",
    )
    public_rate: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second one client address may make without a key (public "
        "reads), per worker; 0 lifts the limit.",
    )
    public_burst: int = Field(
        default=200, ge=1, description="… and how many at once (a map loading its tiles)."
    )
    credentials_refresh_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often each worker reads the keys and accounts again: a revoked key "
        "is refused within this.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; unset, a random one kept in the store (the same "
        "for every worker).",
    )
    session_hours: float = Field(default=12.0, gt=0, description="How long a sign-in lasts.")
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (set it behind TLS).",
    )
    login_attempts: int = Field(
        default=5, ge=1, description="Failed sign-ins per name and address before a pause …"
    )
    login_pause_seconds: float = Field(default=300.0, gt=0, description="… of this long.")
    job_workers: int = Field(
        default=1,
        ge=0,
        description="Jobs (imports, merges, reviews, diffs over HTTP) this server runs at "
        "once; 0 leaves them to other servers or `gridgis jobs work`.",
    )
    job_heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="How often a running job says it is alive."
    )
    job_stale_seconds: float = Field(
        default=45.0,
        gt=0,
        description="A running job silent this long has lost its worker and is taken up "
        "again (with the poll below: within a minute).",
    )
    job_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a worker looks for jobs it did not queue."
    )
    job_live_per_caller: int = Field(
        default=20,
        ge=1,
        description="Jobs one key or account may have waiting or running (then 429).",
    )
    job_attempts: int = Field(
        default=3, ge=1, description="Workers a job may lose before it is failed."
    )
    job_keep_days: float = Field(
        default=7.0, gt=0, description="How long finished jobs and their results are kept."
    )
    tianditu_key: str | None = Field(default=None, description="Key for Tianditu basemaps.")
    amap_key: str | None = Field(default=None, description="Key for Amap (GCJ-02) basemaps.")
    index_refresh_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often the server checks the store for a newly published version.",
    )

    @property
    def gpkg_path(self) -> Path:
        return self.data_dir / "gridgis.gpkg"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
