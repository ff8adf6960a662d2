"""``at=`` for time travel: a date or a moment, read in the city's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridgis.errors import InvalidValueError


def parse_at(text: str, timezone: str = "Asia/Shanghai", *, day_start: bool = False) -> datetime:
    """The moment ``text`` names, timezone-aware.

    A bare date (``2026-03-01``) means the end of that day in the city, so the answer is
    the version in force when the day closed: a version published that afternoon counts.
    With ``day_start`` (``publish --valid-from``) it means the day's first moment.
    A date-time without an offset is local time too.
    """
    value = text.strip()
    zone = ZoneInfo(timezone)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if day_start:
                moment = datetime.combine(day, time(), zone)
            else:
                moment = datetime.combine(day + timedelta(days=1), time(), zone) - timedelta(
                    microseconds=1
                )
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
        moment.astimezone(UTC)  # 9999-12-31 and 0001-01-01+08:00 overflow on the way
    except OverflowError:
        raise InvalidValueError(f"{text!r} is out of range: use a date after 0001-01-01") from None
    except ValueError:
        raise InvalidValueError(
            f"{text!r} is not a date: use YYYY-MM-DD or an ISO 8601 date-time"
        ) from None
    return moment
