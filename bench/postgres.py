"""Throw-away PostgreSQL databases for the benchmarks that need PostGIS."""

from __future__ import annotations

import os
from contextlib import closing

import psycopg2
from psycopg2 import sql

ADMIN_URL = os.environ.get(
    "GRIDGIS_TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)


def database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def admin_execute(admin_url: str, *statements: sql.Composable | str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with closing(conn), conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def database_exists(admin_url: str, name: str) -> bool:
    with closing(psycopg2.connect(admin_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def drop_database(admin_url: str, name: str) -> None:
    admin_execute(
        admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def create_database(admin_url: str, name: str, *, postgis: bool = False) -> str:
    """A fresh, empty database (dropped first if it exists); its URL."""
    drop_database(admin_url, name)
    admin_execute(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(admin_url, name)
    if postgis:
        admin_execute(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    return url
