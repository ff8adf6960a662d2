"""JSON at C speed (orjson), as people read it: Chinese stays Chinese, dates become ISO 8601.

Every JSON that gridgis and its API write or read goes through here (FastAPI's answers
for routes that return a dict aside), so one place says what the text looks like: compact
UTF-8, datetimes as ISO 8601, numpy scalars and arrays as numbers, anything else as its
``str()``. NaN and ±Infinity become ``null`` wherever they sit (plain floats, numpy
scalars, float arrays): strict JSON has no such numbers, and a browser's ``JSON.parse``
refuses the whole answer for one of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

#: Keys that are not text (codes read as numbers, dates) become text, as with the standard
#: library. (Not orjson's own numpy support: it writes ``NaT`` in an array as 1970-01-01.)
OPTIONS = orjson.OPT_NON_STR_KEYS
_FINER_THAN_US = ("[ns]", "[ps]", "[fs]", "[as]")


def _default(value: Any) -> Any:
    """What orjson does not write itself."""
    if isinstance(value, datetime):  # subclasses: pandas.Timestamp, and NaT, which is no date
        return None if value != value else value.isoformat()
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind == "M" and value.dtype.name.endswith(_FINER_THAN_US):
            value = value.astype("datetime64[us]")  # datetimes, not integers of nanoseconds
        return value.tolist()
    return str(value)


def _dumps(value: Any, extra: int = 0) -> bytes:
    return orjson.dumps(value, default=_default, option=OPTIONS | extra)


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, ready to send."""
    return _dumps(value)


def json_dumps(value: Any, *, indent: bool = False) -> str:
    """:func:`json_bytes` as text; ``indent`` (two spaces) for files that people read."""
    return _dumps(value, orjson.OPT_INDENT_2 if indent else 0).decode()


def json_loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; ``NaN`` and ``Infinity``, which Python's own ``json.dumps`` writes,
    are read as floats too, so that such a request gets per-row errors, not a refusal.

    Raises :class:`ValueError` (as :class:`json.JSONDecodeError`) for anything else."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Off the fast path: only for the non-standard numbers, or to say what is wrong.
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)


def picked_array(texts: Sequence[bytes], picks: NDArray[np.intp]) -> orjson.Fragment:
    """The JSON array ``[texts[picks[0]], texts[picks[1]], …]`` of texts already encoded
    (by :func:`json_bytes`), as a value for :func:`json_bytes` to write as is.

    A million rows drawn from a few thousand texts join at numpy speed: the texts as one
    NUL-padded fixed-width array, picked, the padding dropped (JSON text never has a raw
    NUL); ``bytes.join`` takes ten times longer. Memory: ``len(picks)`` × the longest."""
    if len(picks) == 0:
        return orjson.Fragment(b"[]")
    width = 2 + max(len(text) for text in texts)  # room for "[" and ","
    rows = np.array([text + b"," for text in texts], dtype=f"S{width}")[picks]
    rows[-1] = texts[picks[-1]] + b"]"
    rows[0] = b"[" + rows[0]  # (the same row when there is one)
    return orjson.Fragment(rows.tobytes().translate(None, b"\0"))
