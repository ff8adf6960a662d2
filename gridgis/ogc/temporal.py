"""``datetime=`` as OGC API – Features Part 1 reads it (§7.15.4), and when features exist.

A value is an instant (``2026-03-01T00:00:00Z``) or an interval with ``..`` (or nothing)
for an open end (``2026-03-01T00:00:00Z/..``, ``../2026-03-01``). Dates are read the
way the lookups' ``at=`` reads them (:func:`gridgis.lookup.when.parse_at`), in the
city's time zone: a date as an instant, or the end of an interval, is the end of that
day; the start of an interval is its first moment. So ``datetime=2026-03-01`` on the
grids answers from the version in force when that day closed, as ``at=2026-03-01`` does.

Features here have no time of their own: a collection's features exist over one period
(a grid version's validity, a layer's life since its import), so a period selects all of
a collection's features or none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gridgis.errors import InputError, InvalidValueError
from gridgis.lookup.when import parse_at

PARAM = "datetime"
#: The temporal reference system of ``extent.temporal`` (the standard's default).
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_OPEN = ("", "..")
_PLUS_AS_SPACE = re.compile(r"(?<=:\d\d|\.\d\d|\d\d\d) (\d\d:?\d\d)$")


@dataclass(frozen=True)
class Period:
    """A closed interval of time; ``None`` is an open end.

    ``at`` is the instant a request named (a date's end), for time travel; ``None`` for
    an interval.
    """

    start: datetime | None
    end: datetime | None
    at: datetime | None = None

    def meets(self, since: datetime | None, until: datetime | None) -> bool:
        """Whether something that exists from ``since`` until before ``until`` (never
        ending if ``None``) exists at some moment of this period; with no ``since`` it
        never existed (a draft version)."""
        if since is None:
            return False
        begun = self.end is None or since <= self.end
        not_over = until is None or self.start is None or until > self.start
        return begun and not_over


def parse_datetime(text: str, timezone: str) -> Period:
    """Read a ``datetime`` value; a malformed one is an error naming the parameter."""
    value = text.strip()
    if "/" not in value:  # an instant; a date is its whole day, and travels to its end
        day_end = _moment(value, text, timezone, day_start=False)
        return Period(_moment(value, text, timezone, day_start=True), day_end, at=day_end)
    first, _, last = value.partition("/")
    if "/" in last:
        raise _error(text, "an interval has one /")
    start = None if first in _OPEN else _moment(first, text, timezone, day_start=True)
    end = None if last in _OPEN else _moment(last, text, timezone, day_start=False)
    if start is None and end is None:
        raise _error(text, "an interval needs a start or an end (../.. is every time)")
    if start is not None and end is not None and start > end:
        raise _error(text, "the interval ends before it starts")
    return Period(start, end)


def _moment(part: str, text: str, timezone: str, *, day_start: bool) -> datetime:
    # An unencoded + in a URL arrives as a space: 2026-03-01T08:00:00 08:00 meant +08:00.
    part = _PLUS_AS_SPACE.sub(r"+\1", part)
    try:
        return parse_at(part, timezone, day_start=day_start).astimezone(UTC)
    except InvalidValueError:
        raise _error(
            text,
            f"{part!r} is not a date (2026-03-01) or an RFC 3339 date-time (2026-03-01T00:00:00Z)",
        ) from None


def _error(text: str, why: str) -> InputError:
    hint = "use an instant, start/end, start/.. or ../end"
    return InputError(f"{PARAM}={text!r}: {why}; {hint}", param=PARAM)
