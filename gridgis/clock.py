"""Moments as gridgis keeps them: aware, in UTC, written as OGC documents write time."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive timestamps; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """A moment in UTC with a ``Z``, as OGC documents write time. Fractions of a second
    stay (when there are any): a temporal extent's start rounded down would name a
    moment before the features existed."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
