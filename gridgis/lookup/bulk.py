"""Many points at once, from JSON or CSV: one bad row gets an error, never the batch."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridgis.crs import CrsSpec
from gridgis.csvsafe import safe_cells
from gridgis.errors import InputError, TooLargeError
from gridgis.jsonio import json_bytes, json_loads, picked_array
from gridgis.lookup.coords import to_lonlat
from gridgis.lookup.published import ANSWER_COLUMNS, LoadedVersion

#: Header names read as the x (lon) and y (lat) columns of a CSV, first match wins.
COORDINATE_HEADERS = (
    ("lon", "lat"),
    ("lng", "lat"),
    ("longitude", "latitude"),
    ("x", "y"),
    ("经度", "纬度"),
)
CSV_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class PointAnswers:
    """For each point, the index position of its grid (-1: none) or what was wrong."""

    loaded: LoadedVersion
    positions: NDArray[np.int64]
    problems: NDArray[np.object_]

    @property
    def found(self) -> int:
        return int((self.positions >= 0).sum())

    @property
    def errors(self) -> int:
        return int(pd.notna(self.problems).sum())


def lookup_points(
    loaded: LoadedVersion,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    crs: CrsSpec,
    problems: NDArray[np.object_] | None = None,
) -> PointAnswers:
    """Answer every point; ``problems`` marks rows already known to be unreadable."""
    lon, lat, found_problems = to_lonlat(x, y, crs)
    if problems is not None:
        found_problems = np.where(pd.notna(problems), problems, found_problems)
    return PointAnswers(loaded, loaded.index.lookup_index(lon, lat), found_problems)


def check_count(count: int, limit: int, what: str = "points") -> None:
    if count > limit:
        raise TooLargeError(f"{count:,} {what} in one request; the limit is {limit:,}")


# --- JSON --------------------------------------------------------------------------------
_POINTS_KEY = re.compile(rb'"points"[ \t\n\r]*:[ \t\n\r]*(?=\[)')
#: The bytes of numbers and the spaces between them: what is left once they are dropped
#: from a plain array of pairs is its brackets and commas. Any other byte (of a string,
#: null, true, NaN, an object) is left too, and the body goes down the general path.
_NUMBERS_AND_SPACES = b"0123456789.-+eE \t\n\r"
_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")


@dataclass(frozen=True)
class PointsRequest:
    """A bulk lookup's JSON body, read: the points as arrays, and the other members."""

    members: dict[str, Any]  # "crs", "at", …: all but "points"
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    problems: NDArray[np.object_] | None  # None: every point was read


def decode_json_body(body: bytes) -> Any:
    """A bulk request's JSON body (decoded in the threadpool: it may be tens of MB)."""
    try:
        return json_loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the body is not JSON: {exc}") from None


def points_request(body: bytes, limit: int) -> PointsRequest:
    """``{"points": [[x, y], …], "crs": …, "at": …}`` read into arrays.

    The points as clients send them, a plain array of number pairs, are read straight
    from the bytes (:func:`_plain_pairs`): decoding them as JSON builds a million small
    lists, which costs more than the whole lookup. Anything else is decoded whole and
    read by :func:`points_from_json`, so every bad row still gets its own error."""
    plain = _plain_pairs(body, limit)
    if plain is not None:
        members, pairs = plain
        return PointsRequest(members, pairs[:, 0], pairs[:, 1], None)
    payload = decode_json_body(body)
    if not isinstance(payload, dict) or "points" not in payload:
        raise InputError('send {"points": [[x, y], …]} (optionally "crs" and "at")')
    x, y, problems = points_from_json(payload["points"], limit)
    members = {k: v for k, v in payload.items() if k != "points"}
    return PointsRequest(members, x, y, problems)


def _plain_pairs(body: bytes, limit: int) -> tuple[dict[str, Any], NDArray[np.float64]] | None:
    """The other members and the (n, 2) coordinates of a body whose ``points`` is a plain
    array of number pairs (the last array in the body); ``None`` for any other body.

    Each check is one pass of C over the bytes: without the bytes of numbers and spaces,
    the array is brackets and commas exactly as n pairs have them; the body with the
    array replaced by 0 is a JSON object with ``"points"`` a member of its own. The
    numbers are then one flat JSON array (brackets made spaces) for orjson, which keeps
    JSON's grammar for each of them (``01`` or ``1.`` fail) and rounds as any parser."""
    key = _POINTS_KEY.search(body)
    if key is None:
        return None
    start, end = key.end(), body.rfind(b"]") + 1
    pairs = body[start:end]
    structure = pairs.translate(None, _NUMBERS_AND_SPACES)
    count = structure.count(b"[") - 1
    if structure != b"[" + (b"[,]," * count)[:-1] + b"]":
        return None
    head, tail = body[:start], body[end:]
    try:  # "points" at the top (head closes as an object), the rest valid JSON
        top, members = json_loads(head + b"0}"), json_loads(head + b"0" + tail)
    except ValueError:
        return None
    if not (isinstance(top, dict) and isinstance(members, dict)):
        return None
    if type(members["points"]) is not int or members["points"] != 0:
        return None  # a second "points" (spelt with escapes): the general path decides
    check_count(count, limit)
    try:
        numbers = json_loads(b"[" + pairs.translate(_BRACKETS_TO_SPACES) + b"]")
        flat = np.fromiter(numbers, dtype=np.float64, count=len(numbers))
    except (ValueError, OverflowError):
        return None
    del members["points"]
    return members, flat.reshape(count, 2)


def points_from_json(
    points: Any, limit: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]:
    """x, y and per-row problems from ``[[x, y], …]`` as decoded from JSON."""
    if not isinstance(points, list):
        raise InputError('"points" must be a list of [x, y] pairs')
    check_count(len(points), limit)
    try:
        pairs = np.asarray(points, dtype=np.float64)
        if (pairs.ndim == 2 and pairs.shape[1] == 2) or len(points) == 0:
            pairs = pairs.reshape(-1, 2)
            return pairs[:, 0], pairs[:, 1], np.full(len(pairs), None, dtype=object)
    except (TypeError, ValueError, OverflowError):
        pass
    # Some row is not a pair of numbers: read row by row and say which.
    x = np.full(len(points), np.nan)
    y = np.full(len(points), np.nan)
    problems = np.full(len(points), None, dtype=object)
    for i, row in enumerate(points):
        if not isinstance(row, list | tuple) or len(row) != 2:
            problems[i] = f"point {i} is not an [x, y] pair: {str(row)[:40]}"
            continue
        try:
            if any(isinstance(v, bool) for v in row):
                raise TypeError
            x[i], y[i] = float(row[0]), float(row[1])
        except (TypeError, ValueError, OverflowError):
            problems[i] = f"point {i} has a coordinate that is not a number: {str(row)[:40]}"
    return x, y, problems


def json_answer(answers: PointAnswers, crs: CrsSpec) -> bytes:
    """Per point ``{"code"}`` (``null`` outside every grid) or ``{"code": null, "error"}``;
    each grid found is described once, under ``grids``.

    Each grid's row, and each distinct error's, is encoded once and picked per point
    (:func:`~gridgis.jsonio.picked_array`): no million dicts to build and encode."""
    loaded = answers.loaded
    codes = loaded.index.codes.tolist()
    rows = [json_bytes({"code": code}) for code in [*codes, None]]
    picks = np.where(answers.positions < 0, len(codes), answers.positions)  # -1: None
    bad = pd.notna(answers.problems)
    if bad.any():
        which, messages = pd.factorize(answers.problems[bad])
        picks[bad] = len(rows) + which
        rows += [json_bytes({"code": None, "error": m}) for m in messages.tolist()]
    per_grid = np.bincount(answers.positions + 1, minlength=len(codes) + 1)[1:]
    return json_bytes(
        {
            "version": loaded.info.name,
            "crs": crs.label,
            "count": len(picks),
            "found": int(per_grid.sum()),
            "errors": int(bad.sum()),
            "results": picked_array(rows, picks),
            "grids": {codes[i]: loaded.answers[i] for i in np.flatnonzero(per_grid).tolist()},
        }
    )


# --- CSV ---------------------------------------------------------------------------------
def decode_csv(data: bytes, source: str = "CSV") -> str:
    """UTF-8 (with or without BOM) or, as spreadsheets in China save it, GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8 or GBK text", source=source) from exc


def read_point_table(text: str, limit: int, source: str = "CSV") -> tuple[pd.DataFrame, str, str]:
    """The rows as text, exactly as given, and the names of the x and y columns."""
    frame = read_table(text, limit, source, "lon,lat")
    x_col, y_col = coordinate_columns(list(frame.columns), source)
    return frame, x_col, y_col


def read_table(text: str, limit: int, source: str, wanted: str) -> pd.DataFrame:
    """Every cell as the text given (no NA guessing); ``wanted`` names the key columns."""
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"empty: expected a header row with {wanted}", source=source) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"malformed CSV: {str(exc).strip()}", source=source) from None
    if not isinstance(frame.index, pd.RangeIndex):  # rows longer than the header
        raise InputError(
            f"malformed CSV: the rows have more fields than the header's {len(frame.columns)}",
            source=source,
        )
    check_count(len(frame), limit, "rows")
    return frame


def coordinate_columns(columns: Sequence[str], source: str = "CSV") -> tuple[str, str]:
    by_lower = {str(c).strip().lower(): str(c) for c in columns}
    for x_name, y_name in COORDINATE_HEADERS:
        if x_name in by_lower and y_name in by_lower:
            return by_lower[x_name], by_lower[y_name]
    raise InputError(
        f"no coordinate columns in the header {list(columns)}: name them lon,lat "
        "(or lng/lat, longitude/latitude, x/y, 经度/纬度)",
        source=source,
    )


def lookup_table(
    frame: pd.DataFrame, x_col: str, y_col: str, loaded: LoadedVersion, crs: CrsSpec
) -> pd.DataFrame:
    """The caller's rows with the grid's columns and an ``error`` column appended."""
    unreadable = np.full(len(frame), None, dtype=object)
    xy = []
    for name in (x_col, y_col):
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        # Only the cells not read as they are need a second look (a million strips cost
        # more than the lookup): with spaces that to_numeric keeps (全角), or NaN itself.
        again = np.flatnonzero(np.isnan(values))
        stripped = raw.iloc[again].str.strip()
        values[again] = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
        said_nan = stripped.str.lower().eq("nan").to_numpy(dtype=bool)
        for i in again[np.isnan(values[again]) & ~said_nan]:
            unreadable[i] = unreadable[i] or f"{name} {raw.iloc[i]!r} is not a number"
        xy.append(values)
    return with_grid_columns(frame, lookup_points(loaded, xy[0], xy[1], crs, unreadable))


def with_grid_columns(frame: pd.DataFrame, answers: PointAnswers) -> pd.DataFrame:
    """``frame`` with the grid's columns and an ``error`` column (renamed on a clash)."""
    loaded = answers.loaded
    out = frame.copy()
    for column in ANSWER_COLUMNS:
        name = column if column not in out.columns else f"gridgis_{column}"
        out[name] = loaded.columns[column][answers.positions]
    out["error" if "error" not in out.columns else "gridgis_error"] = np.where(
        pd.isna(answers.problems),
        "",
        answers.problems,
    )
    return out


def csv_chunks(frame: pd.DataFrame, rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """The table as CSV text in pieces, header first, so that big answers stream; cells a
    spreadsheet would run as formulas are guarded (:mod:`gridgis.csvsafe`).

    Every cell of these tables is text, so the csv module writes them itself, quoting as
    ``DataFrame.to_csv`` does (which uses it too) without pandas' per-cell formatting:
    a third of the time."""
    columns = [
        safe_cells(np.where(pd.isna(values), "", values).tolist())
        for values in (frame[c].to_numpy(dtype=object) for c in frame.columns)
    ]
    for start in range(0, max(len(frame), 1), rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if start == 0:
            writer.writerow([str(c) for c in frame.columns])
        writer.writerows(zip(*(c[start : start + rows] for c in columns), strict=True))
        yield out.getvalue()
