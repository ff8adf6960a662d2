"""Point-in-grid: agreement with GEOS, the border rule, CRSs, time travel, swapping on publish."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gridgis.lookup import GridIndex, PublishedIndex
from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.store.base import GridEdit
from tests.conftest import DEMO, save_boxes


def test_agrees_with_geos_off_borders(demo_store: SqlStore) -> None:
    version = demo_store.published_version()
    assert version is not None
    grids = demo_store.read_grids(version.name)
    index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())
    minx, miny, maxx, maxy = grids.total_bounds
    rng = np.random.default_rng(1)
    lon = rng.uniform(minx - 0.002, maxx + 0.002, 20_000)
    lat = rng.uniform(miny - 0.002, maxy + 0.002, 20_000)
    codes = index.lookup(lon, lat)
    points = shapely.points(lon, lat)
    geoms = grids.geometry.to_numpy()
    inside = shapely.contains(geoms[:, None], points[None, :])  # interior only
    expected = np.full(len(points), None, dtype=object)
    hit = inside.any(axis=0)
    expected[hit] = grids["code"].to_numpy()[inside.argmax(axis=0)[hit]]
    on_border = shapely.intersects(geoms[:, None], points[None, :]).any(axis=0) & ~hit
    assert hit.sum() > 10_000 and (~hit).sum() > 100
    assert (codes[~on_border] == expected[~on_border]).all()


def test_a_shared_border_point_goes_to_the_lowest_code() -> None:
    left, right = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    index = GridIndex([right, left], ["B", "A"])
    assert index.lookup([1.0, 0.5, 1.5, 3.0], [0.5, 0.5, 0.5, 0.5]).tolist() == [
        "A",
        "A",
        "B",
        None,
    ]
    assert index.lookup([np.nan], [0.5]).tolist() == [None]


def test_index_swaps_when_a_new_version_is_published(store: SqlStore) -> None:
    save_boxes(store, "v1", {"510603001001001": (104.39, 31.12, 104.40, 31.13)})
    save_boxes(store, "v2", {"510603001001009": (104.39, 31.12, 104.40, 31.13)})
    store.publish("v1", "t")
    published = PublishedIndex(store, refresh_seconds=0.05)
    assert published.current().info.name == "v1"  # type: ignore[union-attr]
    published.start()
    seen: list[str | None] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            grid = published.resolve().grid_at(104.395, 31.125)
            seen.append(None if grid is None else grid["code"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    store.publish("v2", "t")
    published.notify()
    for _ in range(200):
        if "510603001001009" in seen:  # the hammers have answered from v2
            break
        stop.wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    published.stop()
    assert published.resolve().info.name == "v2"
    assert len(seen) > 100 and None not in seen  # no window without an index
    assert set(seen) == {"510603001001001", "510603001001009"}


def test_an_attribute_edit_keeps_the_index_and_a_new_shape_rebuilds_it(store: SqlStore) -> None:
    """An officer or name edit of the published version changes no shape: the server
    swaps in the new answers over the index it has (a city's index takes seconds to
    build); a new shape, or a grid more or less, builds the index afresh."""
    a, b = "510603001001001", "510603001001002"
    save_boxes(store, "v1", {a: (104.39, 31.12, 104.40, 31.13), b: (104.40, 31.12, 104.41, 31.13)})
    store.publish("v1", "t")
    published = PublishedIndex(store)
    first = published.refresh()
    assert first is not None
    officer = GridEdit(a, {"officer_name": "王新"})
    store.update_grids("v1", [officer], actor="t", statuses=("published",))
    second = published.refresh()
    assert second is not None and second.info.content_key != first.info.content_key
    assert second.index is first.index
    answer = second.grid_at(104.395, 31.125)
    assert answer is not None and answer["officer"]["name"] == "王新"
    smaller = GridEdit(b, {}, geometry=shapely.box(104.40, 31.12, 104.405, 31.13))
    store.update_grids("v1", [smaller], actor="t", statuses=("published",))
    third = published.refresh()
    assert third is not None and third.index is not second.index
    assert third.grid_at(104.407, 31.125) is None  # the shape the new index has
    assert third.grid_at(104.395, 31.125)["officer"]["name"] == "王新"  # type: ignore[index]


def test_one_refresh_serves_every_edit_committed_before_it_began(store: SqlStore) -> None:
    a = "510603001001001"
    save_boxes(store, "v1", {a: (104.39, 31.12, 104.40, 31.13)})
    store.publish("v1", "t")
    published = PublishedIndex(store)
    published.refresh()

    def officer(name: str) -> None:
        store.update_grids(
            "v1", [GridEdit(a, {"officer_name": name})], actor="t", statuses=("published",)
        )

    officer("甲")
    first_edit = time.monotonic()
    seen = published.refreshed_after(first_edit)
    assert seen is not None and seen.answer(a)["officer"]["name"] == "甲"  # type: ignore[index]
    officer("乙")  # after that refresh began: not in it
    assert published.refreshed_after(first_edit) is seen  # as fresh as asked: no read
    fresher = published.refreshed_after(time.monotonic())
    assert fresher is not None and fresher.answer(a)["officer"]["name"] == "乙"  # type: ignore[index]


def test_points_on_borders_go_to_the_lowest_code_of_the_grids_touching_them(
    demo_store: SqlStore,
) -> None:
    grids = demo_store.read_grids(DEMO)
    geoms, codes = grids.geometry.to_numpy(), grids["code"].to_numpy()
    index = GridIndex(geoms, codes)
    # Vertices and edge midpoints of every grid: all lie exactly on some border.
    rings = shapely.get_parts(shapely.boundary(geoms))
    vertices = shapely.get_coordinates(rings)
    halves = shapely.get_coordinates(shapely.line_interpolate_point(rings, 0.5, normalized=True))
    xy = np.vstack([vertices, halves])
    points = shapely.points(xy)
    tree = shapely.STRtree(geoms)
    p_idx, g_idx = tree.query(points, predicate="intersects")
    order = np.argsort(codes)
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes))
    expected = np.full(len(points), None, dtype=object)
    best = pd.DataFrame({"p": p_idx, "rank": rank[g_idx]}).groupby("p")["rank"].min()
    expected[best.index.to_numpy()] = codes[order][best.to_numpy()]
    assert len(xy) > 1000 and pd.notna(expected).all()
    assert (index.lookup(xy[:, 0], xy[:, 1]) == expected).all()


def test_any_crs_lands_on_the_same_point() -> None:
    from gridgis.crs import CGCS2000, gk_zone_epsg, parse_crs, transformer, wgs84_to_shifted
    from gridgis.lookup.coords import one_to_lonlat, to_lonlat

    lon = np.array([104.3912, 104.4521, 104.2871])
    lat = np.array([31.1256, 31.2012, 31.0544])
    inputs = {
        "wgs84": (lon, lat),
        "cgcs2000": (lon, lat),
        "gcj02": wgs84_to_shifted(lon, lat, "gcj02"),
        "bd09": wgs84_to_shifted(lon, lat, "bd09"),
    }
    for epsg in (4544, gk_zone_epsg(35, prefixed=True), 3857, 32648):
        inputs[f"EPSG:{epsg}"] = transformer(CGCS2000, epsg).transform(lon, lat)
    for label, (x, y) in inputs.items():
        spec = parse_crs(label)
        back_lon, back_lat, problems = to_lonlat(np.asarray(x), np.asarray(y), spec)
        assert pd.isna(problems).all(), label
        # GCJ-02/BD-09 inverses are iterative: well under a metre (1e-5° ≈ 1 m).
        assert np.abs(back_lon - lon).max() < 2e-6 and np.abs(back_lat - lat).max() < 2e-6, label
        assert one_to_lonlat(float(x[0]), float(y[0]), spec) == pytest.approx(
            (lon[0], lat[0]), abs=2e-6
        )


def test_bad_coordinates_are_named_per_point() -> None:
    from gridgis.crs import parse_crs
    from gridgis.errors import InputError, InvalidValueError
    from gridgis.lookup.coords import one_to_lonlat, to_lonlat

    x = np.array([104.0, np.nan, np.inf, 200.0, 104.0])
    y = np.array([31.0, 31.0, 31.0, 31.0, -95.0])
    lon, _lat, problems = to_lonlat(x, y, parse_crs("wgs84"))
    assert problems[0] is None
    assert "lon must be a finite number" in problems[1] and "finite" in problems[2]
    assert "lon 200.0 is outside" in problems[3] and "lat -95.0 is outside" in problems[4]
    assert np.isnan(lon[1:]).all()
    _lon, _lat, projected = to_lonlat(np.array([np.nan]), np.array([1.0]), parse_crs(4544))
    assert "finite" in projected[0]
    with pytest.raises(InvalidValueError, match=r"lat 91\.0 is outside"):
        one_to_lonlat(104.0, 91.0, parse_crs("gcj02"))
    with pytest.raises(InputError, match="unknown CRS"):
        parse_crs("mars2000")


def test_at_reads_dates_as_the_end_of_the_city_day() -> None:
    from datetime import UTC, datetime

    from gridgis.errors import InvalidValueError
    from gridgis.lookup.when import parse_at

    end = parse_at("2026-03-01")
    assert end.astimezone(UTC) == datetime(2026, 3, 1, 15, 59, 59, 999999, tzinfo=UTC)
    start = parse_at("2026-03-01", day_start=True)
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert parse_at("2026-03-01T08:30:00Z") == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert parse_at("2026-03-01T08:30").utcoffset() is not None
    for bad in ("yesterday", "2026-13-01", ""):
        with pytest.raises(InvalidValueError, match="is not a date"):
            parse_at(bad)
    for far in ("9999-12-31", "0001-01-01T00:00:00+08:00"):  # overflow once in UTC
        with pytest.raises(InvalidValueError, match="out of range"):
            parse_at(far)


def test_time_travel_answers_from_the_version_in_force(store: SqlStore) -> None:
    from gridgis.errors import ConflictError, InvalidValueError, NotFoundError
    from gridgis.lookup.when import parse_at

    save_boxes(store, "v1", {"510603001001001": (104.39, 31.12, 104.40, 31.13)})
    save_boxes(store, "v2", {"510603001001002": (104.39, 31.12, 104.40, 31.13)})
    save_boxes(store, "v3", {"510603001001003": (104.39, 31.12, 104.40, 31.13)})
    store.publish("v1", "t", valid_from=parse_at("2026-01-01", day_start=True))
    with pytest.raises(ConflictError, match="not after"):
        store.publish("v2", "t", valid_from=parse_at("2025-12-01", day_start=True))
    with pytest.raises(InvalidValueError, match="future"):
        store.publish("v2", "t", valid_from=parse_at("2099-01-01", day_start=True))
    store.publish("v2", "t", valid_from=parse_at("2026-06-01", day_start=True))
    published = PublishedIndex(store)

    def code_at(day: str) -> str:
        grid = published.resolve(parse_at(day)).grid_at(104.395, 31.125)
        assert grid is not None
        return str(grid["code"])

    assert code_at("2026-01-01") == "510603001001001"
    assert code_at("2026-05-31") == "510603001001001"
    assert code_at("2026-06-01") == "510603001001002"
    assert published.resolve().info.name == "v2"
    with pytest.raises(NotFoundError, match="first version came into force on 2026-01-01"):
        published.resolve(parse_at("2025-12-30"))
    v1 = store.get_version("v1")
    assert v1.status == "archived" and v1.valid_to == store.get_version("v2").valid_from


def test_a_version_published_again_keeps_its_first_period(store: SqlStore) -> None:
    from gridgis.lookup.when import parse_at

    cell = (104.39, 31.12, 104.40, 31.13)
    save_boxes(store, "v1", {"510603001001001": cell})
    save_boxes(store, "v2", {"510603001001002": cell})
    store.publish("v1", "t", valid_from=parse_at("2026-01-01", day_start=True))
    store.publish("v2", "t", valid_from=parse_at("2026-03-01", day_start=True))
    store.publish("v1", "t", reason="roll back", valid_from=parse_at("2026-06-01", day_start=True))
    published = PublishedIndex(store)
    answers = {
        day: published.resolve(parse_at(day)).info.name
        for day in ("2026-02-01", "2026-04-01", "2026-07-01")
    }
    assert answers == {"2026-02-01": "v1", "2026-04-01": "v2", "2026-07-01": "v1"}
    assert store.first_publication() == parse_at("2026-01-01", day_start=True)
    assert store.get_version("v2").status == "archived"


def test_upgrading_to_publications_keeps_what_was_in_force(settings: Settings) -> None:
    from gridgis.store import open_store

    old = open_store(settings, check=False)
    old.upgrade("0001")
    with old.engine.begin() as conn:  # a version published under the 0001 schema
        conn.execute(
            sa.text(
                "INSERT INTO grid_versions (name, status, created_at, created_by, published_at,"
                " valid_from, params, report) VALUES ('old', 'published', :t, 'x', :t, :t,"
                " '{}', '{}')"
            ),
            {"t": "2026-01-05T00:00:00.000000Z" if old.kind == "geopackage" else "2026-01-05"},
        )
    old.upgrade()
    info = old.version_at(datetime(2026, 2, 1, tzinfo=UTC))
    assert info is not None and info.name == "old"
    old.downgrade("0001")
    assert old.schema_revision() == "0001"
    old.close()


@pytest.mark.filterwarnings("error")
def test_huge_coordinates_are_outside_without_a_warning() -> None:
    index = GridIndex([shapely.box(104.39, 31.12, 104.40, 31.13)], ["510603001001001"])
    for value in (1e308, -1e308, float("inf"), float("-inf"), float("nan")):
        assert index.lookup_one(value, 31.125) == -1
        assert index.lookup_one(104.395, value) == -1
        assert index.lookup_one(np.float64(value), np.float64(31.125)) == -1
        assert index.lookup_index([value, 104.395], [31.125, value]).tolist() == [-1, -1]
    assert index.lookup_one(104.395, 31.125) == 0


def test_swapped_points_get_the_importers_hint() -> None:
    from gridgis.crs import parse_crs
    from gridgis.errors import InvalidValueError
    from gridgis.lookup.coords import one_to_lonlat, to_lonlat
    from gridgis.validate import SWAPPED

    for crs in ("wgs84", "gcj02"):
        with pytest.raises(InvalidValueError, match=r"the axes look swapped \(lat, lon\)"):
            one_to_lonlat(31.125, 104.395, parse_crs(crs))
    _, _, problems = to_lonlat(
        np.array([31.125, 104.395, 200.0]), np.array([104.395, 31.125, 31.0]), parse_crs("wgs84")
    )
    assert SWAPPED in problems[0] and problems[1] is None and SWAPPED not in problems[2]
