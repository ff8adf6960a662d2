"""Reading a bulk lookup's JSON body: the fast path for plain pairs answers as the general one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridgis.errors import GridgisError, InputError, TooLargeError
from gridgis.jsonio import json_bytes
from gridgis.lookup import bulk
from gridgis.lookup.bulk import PointsRequest, decode_json_body, points_from_json, points_request

PLAIN = [
    b'{"points": [[104.4, 31.1], [104.5, 31.2]]}',
    b'{"points":[[104.4,31.1]],"crs":"EPSG:4544","at":"2026-01-01"}',
    b'{"crs": "gcj02", "points": [[104, 31]]}',
    b'{"points": []}',
    b'  {"points" :\n [ [ 1 , 2 ] ,\n[-3.5e1,4E-2] ] }  ',
    b'{"a": "\\"points\\": [[9, 9]]", "points": [[1, 2]]}',
]
OTHER = [
    b'{"points": [[]]}',
    b'{"points": [[1]]}',
    b'{"points": [[1, 2, 3]]}',
    b'{"points": [[NaN, 2]]}',  # as Python's json.dumps writes it: a per-row error
    b'{"points": [[null, 2]]}',
    b'{"points": [[true, 2]]}',
    b'{"points": [["1", 2]]}',
    b'{"points": [[1, 2]], "extra": [1]}',
    b'{"points": [[1, 2]], "points": [[3, 4]]}',
    b'{"x": {"points": [[1, 2]]}, "p\\u006fints": [[5, 6]]}',
    b'{"points": [[1, 2]], "at": "]"}',
]
INVALID = [
    b'{"points": [[1, 2], [3, 4]5]}',
    b'{"points": [[1 2]]}',
    b'{"points": [[01, 2]]}',
    b'{"points": [[1., 2]]}',
    b'{"points": [[+1, 2]]}',
    b'{"points": [[1, 2], ]}',
    b'{"points": [[1, 2]]',
    b'{"points": [[1, 2]]} x',
    b'{"x": {"points": [[1, 2]]}}',
    b'{"x": {"points": [[1, 2]]}, "p\\u006fints": 0}',
    b'{"points": 5}',
    b"[[1, 2]]",
]


def general(body: bytes) -> PointsRequest:
    """The body decoded whole and read row by row, as before the fast path."""
    payload = decode_json_body(body)
    if not isinstance(payload, dict) or "points" not in payload:
        raise InputError("no points")
    x, y, problems = points_from_json(payload["points"], 100)
    return PointsRequest({k: v for k, v in payload.items() if k != "points"}, x, y, problems)


def outcome(read: Any, body: bytes) -> Any:
    try:
        got = read(body)
    except GridgisError as exc:
        return type(exc).__name__
    problems = [None] * len(got.x) if got.problems is None else got.problems.tolist()
    return repr((got.members, got.x.tolist(), got.y.tolist(), problems))  # NaN too


@pytest.mark.parametrize("body", PLAIN)
def test_plain_pairs_are_read_from_the_bytes_as_json_would(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = outcome(general, body)
    monkeypatch.setattr(bulk, "points_from_json", None)  # the general path would fail now
    assert outcome(lambda b: points_request(b, 100), body) == expected
    assert expected.startswith("(")  # not an error


@pytest.mark.parametrize("body", OTHER + INVALID)
def test_anything_else_gets_the_general_answer(body: bytes) -> None:
    assert outcome(lambda b: points_request(b, 100), body) == outcome(general, body)


@pytest.mark.parametrize("body", INVALID)
def test_invalid_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(GridgisError):
        points_request(body, 100)


def test_plain_points_keep_their_exact_values() -> None:
    rng = np.random.default_rng(5)
    pairs = np.column_stack([rng.uniform(-180, 180, 1000), rng.uniform(-90, 90, 1000)])
    pairs[:10] *= 1e-310  # subnormal: no shortcut in the rounding
    body = json_bytes({"points": pairs})  # the shortest text that reads back exactly
    got = points_request(body, 1000)
    assert (got.x == pairs[:, 0]).all() and (got.y == pairs[:, 1]).all()


def test_too_many_plain_points_is_too_large() -> None:
    with pytest.raises(TooLargeError, match="3 points"):
        points_request(b'{"points": [[1, 2], [3, 4], [5, 6]]}', 2)
