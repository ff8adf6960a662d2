"""Addresses over HTTP on a real server: one, many as JSON, many as CSV, and bad input."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from gridgis.lookup import GridIndex
from gridgis.store import SqlStore
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def known(demo_store: SqlStore) -> dict[str, str]:
    """One building's first unit from the sample address base, and the grid it lies in."""
    base = demo_store.read_base_layer("addresses")
    row = base[base["building"].notna() & base["compound"].notna()].iloc[40]
    point = row.geometry
    grids = demo_store.read_grids(DEMO)
    code = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy()).lookup(
        [point.x], [point.y]
    )[0]
    return {
        "address": row["address"],
        "road": row["road"],
        "door": row["door_number"],
        "compound": row["compound"],
        "building": row["building"],
        "unit": row["unit"],
        "grid": code,
    }


def test_a_standard_address_finds_its_grid(client: httpx.Client, known: dict[str, str]) -> None:
    response = client.get("/api/address", params={"q": known["address"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == known["address"]
    assert body["match"]["address"] == known["address"] and body["match"]["score"] == 1.0
    assert body["grid"]["code"] == known["grid"]
    assert body["grid"]["officer"] is not None and body["candidates"]


def test_a_messy_address_finds_the_same_grid(client: httpx.Client, known: dict[str, str]) -> None:
    building = known["building"].replace("栋", "幢")
    messy = f"旌阳区 {known['road']}{known['door']}號，{known['compound']}{building}附近"
    body = client.get("/api/address", params={"q": messy}).json()
    assert body["grid"]["code"] == known["grid"], body
    assert body["normalized"] and body["match"]["score"] > 0.6


def test_nothing_close_enough_is_a_404_with_candidates(client: httpx.Client) -> None:
    response = client.get("/api/address", params={"q": "北京市朝阳区建国门外大街1号"})
    assert response.status_code == 404
    body = response.json()
    assert "close enough" in body["error"] and body["match"] is None
    assert isinstance(body["candidates"], list)


@pytest.mark.parametrize("q", ["", "   ", "!!!???", "x" * 300])
def test_garbage_is_a_422(client: httpx.Client, q: str) -> None:
    response = client.get("/api/address", params={"q": q})
    assert response.status_code == 422, response.text
    assert response.json()["error"]


def test_bulk_json_marks_bad_rows_and_keeps_the_rest(
    client: httpx.Client, known: dict[str, str]
) -> None:
    queries = [known["address"], "", 42, "北京市朝阳区建国门外大街1号", known["address"]]
    response = client.post("/api/address", json={"addresses": queries})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 5 and body["errors"] == 2
    results = body["results"]
    assert results[0]["grid_code"] == known["grid"] == results[4]["grid_code"]
    assert results[1]["error"] and results[2]["error"]
    assert results[3]["match"] is None and results[3]["grid_code"] is None
    assert set(body["grids"]) == {known["grid"]}


def test_bulk_csv_with_a_chinese_header(client: httpx.Client, known: dict[str, str]) -> None:
    text = f"编号,地址\n1,{known['address']}\n2,\n3,{known['compound']}{known['building']}\n"
    response = client.post(
        "/api/address", files={"file": ("地址.csv", text.encode("gbk"), "text/csv")}
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["编号"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["grid_code"] == known["grid"] and rows[0]["match_score"] == "1.000"
    assert rows[1]["error"] and rows[1]["grid_code"] == ""
    assert rows[2]["grid_code"] == known["grid"]


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b'{"addr": []}', "application/json", '"addresses"'),
        (b"nope", "application/json", "not JSON"),
        (b"id,name\n1,x\n", "text/csv", "no address column"),
    ],
)
def test_bulk_refuses_unusable_requests(
    client: httpx.Client, body: bytes, kind: str, message: str
) -> None:
    response = client.post("/api/address", content=body, headers={"content-type": kind})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
