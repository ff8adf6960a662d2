"""Lookups over HTTP on a real server: CRSs, time travel, bulk JSON and CSV, bad input."""

from __future__ import annotations

import csv
import io
import threading

import httpx
import numpy as np
import pytest
import shapely

from gridgis.crs import CGCS2000, transformer, wgs84_to_shifted
from gridgis.lookup.when import parse_at
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO, Server, save_boxes

Inside = tuple[np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def inside(demo_store: SqlStore) -> Inside:
    """A point inside each of a dozen grids, and the grids' codes."""
    grids = demo_store.read_grids(DEMO).iloc[::9]
    points = shapely.point_on_surface(grids.geometry.to_numpy())
    return shapely.get_x(points), shapely.get_y(points), grids["code"].to_numpy()


def test_every_crs_finds_the_same_grid(client: httpx.Client, inside: Inside) -> None:
    lon, lat, codes = inside
    inputs = {
        "wgs84": (lon, lat),
        "cgcs2000": (lon, lat),
        "gcj02": wgs84_to_shifted(lon, lat, "gcj02"),
        "bd09": wgs84_to_shifted(lon, lat, "bd09"),
        "4544": transformer(CGCS2000, 4544).transform(lon, lat),
        "EPSG:4523": transformer(CGCS2000, 4523).transform(lon, lat),
        "EPSG:3857": transformer(CGCS2000, 3857).transform(lon, lat),
    }
    for crs, (x, y) in inputs.items():
        for xi, yi, code in zip(x, y, codes, strict=True):
            response = client.get("/api/lookup", params={"lon": xi, "lat": yi, "crs": crs})
            assert response.status_code == 200, (crs, response.text)
            assert response.json()["code"] == code, crs
    # The shifted systems are not the same as WGS84: sending them as WGS84 moves the point.
    x, y = inputs["bd09"]
    moved = [
        client.get("/api/lookup", params={"lon": xi, "lat": yi}).json().get("code")
        for xi, yi in zip(x, y, strict=True)
    ]
    assert moved != list(codes)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"lon": "nan", "lat": 31.1}, 422, "lon must be a finite number"),
        ({"lon": "inf", "lat": 31.1}, 422, "lon must be a finite number"),
        ({"lon": 104.4, "lat": 95}, 422, "lat 95.0 is outside"),
        ({"lon": "east", "lat": 31.1}, 422, "lon"),
        ({"lat": 31.1}, 422, "lon"),
        ({"lon": 104.4, "lat": 31.1, "crs": "mars2000"}, 400, "unknown CRS"),
        ({"lon": 104.4, "lat": 31.1, "crs": "EPSG:999999"}, 400, "unknown CRS"),
        ({"lon": "nan", "lat": 1, "crs": "4544"}, 422, "finite"),
        ({"lon": 104.4, "lat": 31.1, "at": "last week"}, 422, "is not a date"),
        ({"lon": 104.4, "lat": 31.1, "at": "9999-12-31"}, 422, "out of range"),
        ({"lon": 104.4, "lat": 31.1, "at": "1999-01-01"}, 404, "no version was in force"),
        ({"lon": 104.0, "lat": 31.0}, 404, "no grid contains"),
    ],
)
def test_bad_lookups_are_4xx_with_a_message(
    client: httpx.Client, params: dict[str, object], status: int, message: str
) -> None:
    response = client.get("/api/lookup", params=params)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_at_today_answers_from_the_published_version(client: httpx.Client, inside: Inside) -> None:
    lon, lat, codes = inside
    response = client.get("/api/lookup", params={"lon": lon[0], "lat": lat[0], "at": "2099-01-01"})
    assert response.status_code == 200
    assert response.json()["code"] == codes[0] and response.json()["version"] == DEMO


def test_bulk_json_answers_every_row_and_flags_bad_ones(
    client: httpx.Client, inside: Inside
) -> None:
    lon, lat, codes = inside
    good = [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
    points = [*good, [104.0, 31.0], [None, 31.1], ["abc", 31.1], [104.4], "x", [104.4, 99.0]]
    response = client.post("/api/lookup", json={"points": points})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(points) and body["found"] == len(good) and body["errors"] == 5
    results = body["results"]
    assert [r["code"] for r in results[: len(good)]] == list(codes)
    assert results[len(good)] == {"code": None}  # outside every grid: no error
    bad = results[len(good) + 1 :]
    assert all(r["code"] is None and r["error"] for r in bad)
    assert "not a number" in bad[1]["error"] and "not an [x, y] pair" in bad[2]["error"]
    assert "lat 99.0 is outside" in bad[4]["error"]
    assert set(body["grids"]) == set(codes)
    assert body["grids"][codes[0]]["community_code"] == codes[0][:12]


def test_bulk_json_answer_has_its_documented_shape_in_order(
    client: httpx.Client, inside: Inside
) -> None:
    lon, lat, codes = inside
    plain = [[float(lon[0]), float(lat[0])], [104.0, 31.0], [float(lon[0]), float(lat[0])]]
    for points in (plain, [*plain, [104.4]]):  # plain pairs, and the row-by-row path
        response = client.post("/api/lookup", json={"points": points})
        body = response.json()
        assert list(body) == ["version", "crs", "count", "found", "errors", "results", "grids"]
        assert body["results"][:3] == [{"code": codes[0]}, {"code": None}, {"code": codes[0]}]
        assert list(body["grids"]) == [codes[0]] and body["grids"][codes[0]]["code"] == codes[0]
        assert (body["count"], body["found"]) == (len(points), 2)
    assert body["results"][3] == {"code": None, "error": body["results"][3]["error"]}
    assert body["errors"] == 1 and "not an [x, y] pair" in body["results"][3]["error"]


def test_bulk_json_in_another_crs(client: httpx.Client, inside: Inside) -> None:
    lon, lat, codes = inside
    x, y = transformer(CGCS2000, 4544).transform(lon, lat)
    points = [[float(a), float(b)] for a, b in zip(x, y, strict=True)]
    body = client.post("/api/lookup", json={"points": points, "crs": "EPSG:4544"}).json()
    assert [r["code"] for r in body["results"]] == list(codes)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"pts": []}', '"points"'),
        (b'{"points": 5}', "must be a list"),
        (b'{"points": [[104.4, 31.1]], "crs": "nope"}', "unknown CRS"),
    ],
)
def test_bulk_json_refuses_unusable_requests(
    client: httpx.Client, body: bytes, message: str
) -> None:
    response = client.post(
        "/api/lookup", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert message in response.json()["error"]


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_bulk_csv_streams_the_rows_back_with_grids(client: httpx.Client, inside: Inside) -> None:
    lon, lat, codes = inside
    lines = ["id,lon,lat,note"] + [
        f"{i},{x},{y},case {i}" for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    lines += ["97,104.0,31.0,outside", "98,abc,31.1,bad", "99,,31.1,empty"]
    response = client.post(
        "/api/lookup", content="\n".join(lines).encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = _csv_rows(response.text)
    assert len(rows) == len(lines) - 1
    assert [r["grid_code"] for r in rows[: len(codes)]] == list(codes)
    assert rows[0]["note"] == "case 0" and rows[0]["community_name"]
    assert rows[-3]["grid_code"] == "" and rows[-3]["error"] == ""
    assert "lon 'abc' is not a number" in rows[-2]["error"]
    assert "not a number" in rows[-1]["error"]


def test_bulk_csv_reads_numbers_in_full_width_spaces_and_nan_as_no_number(
    client: httpx.Client, inside: Inside
) -> None:
    lon, lat, codes = inside
    text = f"lon,lat\n\u3000{lon[0]}\u3000, {lat[0]} \nNaN,{lat[0]}\n"
    response = client.post(
        "/api/lookup", content=text.encode(), headers={"content-type": "text/csv"}
    )
    rows = _csv_rows(response.text)
    assert (rows[0]["grid_code"], rows[0]["error"]) == (codes[0], "")
    assert (rows[1]["grid_code"], rows[1]["error"]) == ("", "lon must be a finite number")


def test_bulk_csv_upload_in_gbk_with_chinese_headers(client: httpx.Client, inside: Inside) -> None:
    lon, lat, codes = inside
    text = "编号,经度,纬度,地点\n" + "".join(
        f"{i},{x},{y},文昌路口\n" for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    )
    response = client.post(
        "/api/lookup", files={"file": ("案件.csv", text.encode("gbk"), "text/csv")}
    )
    assert response.status_code == 200, response.text
    rows = _csv_rows(response.text)
    assert [r["grid_code"] for r in rows] == list(codes)
    assert rows[0]["地点"] == "文昌路口"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a,b\n1,2\n", "no coordinate columns"),
        ('lon,lat\n104.4,31.1\n"104.5,31.2\n', "malformed CSV"),
        ("lon,lat\n104.4,31.1,7,8\n", "malformed CSV"),
    ],
)
def test_bulk_csv_refuses_unusable_files(client: httpx.Client, text: str, message: str) -> None:
    response = client.post(
        "/api/lookup", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_time_travel_and_swap_under_load(settings: Settings, store: SqlStore) -> None:
    cell = (104.39, 31.12, 104.40, 31.13)
    for name, grid_code in (("v1", "510603001001001"), ("v2", "510603001001002")):
        save_boxes(store, name, {grid_code: cell})
    save_boxes(store, "v3", {"510603001001003": cell})
    store.publish("v1", "t", valid_from=parse_at("2026-01-01", day_start=True))
    store.publish("v2", "t", valid_from=parse_at("2026-06-01", day_start=True))
    fast = settings.model_copy(update={"index_refresh_seconds": 0.05})
    with Server(fast) as srv, srv.client(timeout=30) as http:
        point = {"lon": 104.395, "lat": 31.125}

        def code(**extra: str) -> str:
            response = http.get("/api/lookup", params={**point, **extra})
            assert response.status_code == 200, response.text
            return str(response.json()["code"])

        assert code(at="2026-03-01") == "510603001001001"
        assert code(at="2026-06-01") == "510603001001002"
        assert code() == "510603001001002"
        bulk = http.post("/api/lookup", json={"points": [[104.395, 31.125]], "at": "2026-02-01"})
        assert bulk.json()["results"] == [{"code": "510603001001001"}]

        seen: list[tuple[int, str]] = []
        stop = threading.Event()

        def hammer() -> None:
            with srv.client(timeout=30) as own:
                while not stop.is_set():
                    response = own.get("/api/lookup", params=point)
                    seen.append((response.status_code, response.json().get("code", "")))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        stop.wait(0.3)
        store.publish("v3", "t")
        for _ in range(200):
            if any(c == "510603001001003" for _, c in seen):
                break
            stop.wait(0.05)
        stop.wait(0.2)
        stop.set()
        for t in threads:
            t.join()
    assert len(seen) > 50
    assert {status for status, _ in seen} == {200}  # no failed request during the swap
    assert {c for _, c in seen} == {"510603001001002", "510603001001003"}


@pytest.mark.filterwarnings("error")  # a RuntimeWarning in the server becomes a 500
def test_swapped_and_huge_coordinates_are_422_without_warnings(
    settings: Settings, store: SqlStore, capfd: pytest.CaptureFixture[str]
) -> None:
    save_boxes(store, "v1", {"510603001001001": (104.39, 31.12, 104.40, 31.13)})
    store.publish("v1", "test")
    cases = [
        ({"lon": 31.125, "lat": 104.395}, "lat 104.395 is outside -90…90; the axes look swapped"),
        ({"lon": 31.125, "lat": 104.395, "crs": "gcj02"}, "the axes look swapped (lat, lon)"),
        ({"lon": "1e308", "lat": 31.1}, "lon 1e+308 is outside -180…180"),
        ({"lon": "-1e308", "lat": 31.1}, "lon -1e+308 is outside -180…180"),
        ({"lon": 104.4, "lat": "1e308"}, "lat 1e+308 is outside -90…90"),
        ({"lon": "1e400", "lat": 31.1}, "lon must be a finite number, not inf"),
        ({"lon": "1e308", "lat": "1e308", "crs": "3857"}, "within ±1e9"),
        ({"lon": "1e308", "lat": 31.1, "crs": "bd09"}, "lon 1e+308 is outside"),
    ]
    with Server(settings) as srv, srv.client(timeout=30) as http:
        assert http.get("/api/lookup", params={"lon": 104.395, "lat": 31.125}).status_code == 200
        for params, message in cases:
            response = http.get("/api/lookup", params=params)  # type: ignore[arg-type]
            assert response.status_code == 422, (params, response.text)
            assert message in response.json()["error"], params
        points = [[104.395, 31.125], [31.125, 104.395], [1e308, 31.1], [-1e308, 31.1]]
        body = http.post("/api/lookup", json={"points": points}).json()
        results = body["results"]
        assert results[0] == {"code": "510603001001001"}
        assert "the axes look swapped (lat, lon)" in results[1]["error"]
        assert "1e+308 is outside" in results[2]["error"] and "swapped" not in results[2]["error"]
        csv_answer = http.post(
            "/api/lookup",
            content="lon,lat\n31.125,104.395\n1e400,31\n",
            headers={"content-type": "text/csv"},
        )
        errors = [row["error"] for row in _csv_rows(csv_answer.text)]
        assert "the axes look swapped" in errors[0] and "finite" in errors[1]
    logged = capfd.readouterr()
    assert "Warning" not in logged.out + logged.err
