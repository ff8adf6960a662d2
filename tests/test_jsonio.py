"""The one JSON codec: readable text, numpy and dates, and never a NaN a client cannot parse."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from api.responses import JSONResponse
from gridgis.geojson import features
from gridgis.jsonio import json_bytes, json_dumps, json_loads, picked_array


def strict(data: bytes | str) -> Any:
    """Parse as a browser's JSON.parse would: NaN, Infinity and -Infinity are errors."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data, parse_constant=refuse)


def test_chinese_stays_chinese_and_the_text_is_compact() -> None:
    assert json_bytes({"name": "文昌社区", "n": [1, 2]}) == '{"name":"文昌社区","n":[1,2]}'.encode()
    assert json_dumps({"name": "文昌社区"}) == '{"name":"文昌社区"}'


def test_datetimes_become_iso_8601() -> None:
    moment = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    body = strict(
        json_bytes(
            {"at": moment, "day": date(2026, 3, 1), "ts": pd.Timestamp(moment), "nat": pd.NaT}
        )
    )
    assert body == {
        "at": "2026-03-01T08:30:00+00:00",
        "day": "2026-03-01",
        "ts": "2026-03-01T08:30:00+00:00",
        "nat": None,
    }


def test_numpy_scalars_and_arrays_are_numbers() -> None:
    value = {
        "int": np.int64(7),
        "float": np.float32(0.5),
        "bool": np.bool_(True),
        "grid": np.arange(6).reshape(2, 3),
        "strided": np.arange(6.0)[::2],
        "objects": np.array(["a", 1, None], dtype=object),
        "days": np.array(["2026-03-01", "NaT"], dtype="datetime64[D]"),
    }
    assert strict(json_bytes(value)) == {
        "int": 7,
        "float": 0.5,
        "bool": True,
        "grid": [[0, 1, 2], [3, 4, 5]],
        "strided": [0.0, 2.0, 4.0],
        "objects": ["a", 1, None],
        "days": ["2026-03-01", None],
    }


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        np.float64("nan"),
        np.float32("-inf"),
        np.array([1.5, np.nan, np.inf, -np.inf]),
        np.array([np.nan, np.inf], dtype=np.float32),
        np.array([np.nan, np.inf], dtype=np.float16),
        np.array([[np.nan, 1.0], [2.0, np.inf]])[:, ::-1],  # a strided view
        np.array([np.nan, "x"], dtype=object),
    ],
)
def test_nan_and_infinity_are_null_on_every_path(value: Any) -> None:
    text = json_bytes({"v": value, "in": [{"deep": value}]})
    parsed = strict(text)  # would raise on a NaN or Infinity literal
    flat = np.ravel(np.asarray(parsed["v"], dtype=object)).tolist()
    assert None in flat
    assert b"NaN" not in text and b"Infinity" not in text


def test_keys_that_are_not_text_become_text() -> None:
    assert strict(json_bytes({1: "a", np.str_("b"): 2})) == {"1": "a", "b": 2}


def test_unknown_objects_fall_back_to_their_text() -> None:
    assert strict(json_bytes({"p": Path("/tmp/x"), "d": Decimal("1.10")})) == {
        "p": "/tmp/x",
        "d": "1.10",
    }


def test_indented_for_files_people_read() -> None:
    assert json_dumps({"a": [1]}, indent=True) == '{\n  "a": [\n    1\n  ]\n}'


def test_loads_reads_bytes_text_and_pythons_nan() -> None:
    assert json_loads(b'{"a":"\xe6\x96\x87"}') == {"a": "文"}
    assert json_loads('{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    assert math.isnan(json_loads(b"[NaN, 1]")[0])  # as Python's json.dumps writes it


@pytest.mark.parametrize("data", [b"{not json", b"", b'{"a": 1', "[1,]"])
def test_loads_refuses_what_is_not_json(data: bytes | str) -> None:
    with pytest.raises(ValueError):
        json_loads(data)


def test_pandas_nanosecond_dates_are_dates_not_integers() -> None:
    stamps = pd.to_datetime(["2026-03-01 08:30", "NaT"]).to_numpy()  # datetime64[ns]
    assert strict(json_bytes({"v": stamps, "one": stamps[0]})) == {
        "v": ["2026-03-01T08:30:00", None],
        "one": "2026-03-01T08:30:00",
    }


def test_responses_and_geojson_write_null_for_nan_too() -> None:
    assert JSONResponse({"v": math.nan, "a": np.array([np.inf])}).body == b'{"v":null,"a":[null]}'
    frame = gpd.GeoDataFrame(
        {"code": ["a"], "area": [math.inf], "share": [np.float32("nan")]},
        geometry=[shapely.Point(104.4, 31.1)],
    )
    feature = strict(features(frame, ["code", "area", "share"])[0])
    assert feature["properties"] == {"code": "a", "area": None, "share": None}


def test_picked_array_writes_the_texts_picked_in_order() -> None:
    texts = [json_bytes({"code": "a"}), json_bytes(None), json_bytes({"error": "坐标不是数字"})]
    picks = np.array([2, 0, 0, 1, 2])
    body = json_bytes({"n": 5, "rows": picked_array(texts, picks)})
    assert strict(body) == {
        "n": 5,
        "rows": [
            {"error": "坐标不是数字"},
            {"code": "a"},
            {"code": "a"},
            None,
            {"error": "坐标不是数字"},
        ],
    }
    assert json_bytes(picked_array(texts, np.array([], dtype=np.intp))) == b"[]"
    assert json_bytes(picked_array(texts, np.array([1]))) == b"[null]"
    assert json_bytes(picked_array([json_bytes("\x00")], np.array([0]))) == b'["\\u0000"]'
