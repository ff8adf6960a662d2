"""CSV cells a spreadsheet would run as formulas are written as text (OWASP's advice),
numbers are left as they are; the bulk lookup over HTTP is guarded end to end."""

from __future__ import annotations

import csv
import io

import httpx
import pandas as pd
import pytest

from gridgis.csvsafe import safe_cell, spreadsheet_safe
from tests.conftest import DEMO


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","点我")', '\'=HYPERLINK("http://x","点我")'),
        ("+86 138 0000 0000", "'+86 138 0000 0000"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("-2+3", "'-2+3"),
        ("\tcmd", "'\tcmd"),
        ("-3.5", "-3.5"),
        ("+104.39", "+104.39"),
        ("1e-5", "1e-5"),
        ("锦绣社区第3网格", "锦绣社区第3网格"),
        (7, 7),
        (None, None),
    ],
)
def test_a_cell_is_guarded_only_when_it_would_run(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


def test_a_frame_keeps_its_numbers_and_guards_its_text() -> None:
    frame = pd.DataFrame({"name": ["=1+1", "ok"], "share": [-0.5, 0.25]})
    safe = spreadsheet_safe(frame)
    assert safe["name"].tolist() == ["'=1+1", "ok"]
    assert safe["share"].tolist() == [-0.5, 0.25]
    assert frame["name"].tolist() == ["=1+1", "ok"]  # the caller's frame is left alone


def test_the_bulk_lookup_csv_guards_what_the_caller_sent(client: httpx.Client) -> None:
    grid = client.get("/api/grids", params={"version": DEMO}).json()["features"][0]
    lon, lat = grid["geometry"]["coordinates"][0][0][0]
    body = f'lon,lat,note\n{lon},{lat},"=HYPERLINK(""http://evil"",""点我"")"\n'
    answer = client.post("/api/lookup", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0]["note"] == '\'=HYPERLINK("http://evil","点我")'
    assert rows[0]["lon"] == str(lon)
