"""Store semantics shared by both backends: atomic writes, history, versions, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridgis.errors import ConflictError, NotFoundError
from gridgis.store import SqlStore
from gridgis.store.base import ImportRecord


def record(kind: str, sha: str, department: str | None = None, rows: int = 1) -> ImportRecord:
    return ImportRecord(
        kind=kind,
        source_name=f"{sha}.shp",
        source_sha256=sha * 8,
        crs="EPSG:4490",
        row_count=rows,
        imported_by="test",
        department=department,
    )


def dept_frame(n: int) -> gpd.GeoDataFrame:
    boxes = [shapely.box(104.39 + i * 0.001, 31.12, 104.391 + i * 0.001, 31.121) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "source_id": [f"G{i}" for i in range(n)],
            "attributes": [
                {"网格编号": f"G{i}", "网格员": "张三", "户数": 100 + i} for i in range(n)
            ],
        },
        geometry=boxes,
        crs=4490,
    )


def test_department_layer_replacement_keeps_history(store: SqlStore) -> None:
    store.replace_department_layer(dept_frame(3), record("department", "a", "综治", 3))
    second = store.replace_department_layer(dept_frame(5), record("department", "b", "综治", 5))
    layers = [la for la in store.list_layers() if la.kind == "department"]
    assert [(la.name, la.rows, la.import_id) for la in layers] == [("综治", 5, second)]
    current = store.read_department_layer("综治")
    assert len(current) == 5
    assert current["attributes"][0] == {"网格编号": "G0", "网格员": "张三", "户数": 100}
    assert store.find_import("b" * 8, "department", "综治") is not None
    assert store.find_import("a" * 8, "department", "综治") is None  # history, not current
    with pytest.raises(NotFoundError):
        store.read_department_layer("城管")


def test_failed_write_leaves_the_store_as_it_was(store: SqlStore) -> None:
    store.replace_department_layer(dept_frame(2), record("department", "a", "综治", 2))
    before = [(la.name, la.rows) for la in store.list_layers()]
    broken = dept_frame(3)
    broken["attributes"] = [{"x": 1}, {"x": 2}, None]  # NOT NULL violation in the third row
    with pytest.raises(Exception):  # noqa: B017 - the database's own error type
        store.replace_department_layer(broken, record("department", "c", "综治", 3))
    assert [(la.name, la.rows) for la in store.list_layers()] == before
    assert len(store.read_department_layer("综治")) == 2
    assert [e.action for e in store.read_audit()] == ["import"]


def grid_frame(codes: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"网格{c}" for c in codes],
            "kind": "综合",
            "community_code": "510603001001",
            "households": 400,
            "population": 1000,
            "area_m2": 1.0,
            "compactness": 0.5,
            "officer_name": "李四",
            "officer_phone": "1",
            "party_branch": None,
        },
        geometry=[
            shapely.box(104.39 + i * 0.01, 31.12, 104.4 + i * 0.01, 31.13)
            for i in range(len(codes))
        ],
        crs=4490,
    )


def save(store: SqlStore, name: str, codes: list[str], replace: bool = False) -> None:
    store.save_version(
        name,
        grid_frame(codes),
        pd.DataFrame(),
        params={"p": 1},
        report={"grids": len(codes)},
        actor="test",
        replace=replace,
    )


def test_versions_publish_archive_and_time_travel(store: SqlStore) -> None:
    save(store, "v1", ["510603001001001", "510603001001002"])
    save(store, "v2", ["510603001001001"])
    assert store.published_version() is None
    v1 = store.publish("v1", "test")
    assert v1.status == "published" and v1.valid_from is not None
    v2 = store.publish("v2", "test", reason="look-back review")
    assert v2.grid_count == 1
    statuses = {v.name: v.status for v in store.list_versions()}
    assert statuses == {"v1": "archived", "v2": "published"}
    archived = store.get_version("v1")
    assert archived.valid_to == v2.valid_from
    assert archived.valid_from is not None
    middle = archived.valid_from + (archived.valid_to - archived.valid_from) / 2  # type: ignore[operator]
    assert store.version_at(middle).name == "v1"  # type: ignore[union-attr]
    assert store.version_at(datetime.now(UTC) + timedelta(days=1)).name == "v2"  # type: ignore[union-attr]
    assert store.version_at(archived.valid_from - timedelta(days=1)) is None
    actions = [(e.action, e.target, e.reason) for e in store.read_audit()]
    assert actions[0] == ("publish", "version/v2", "look-back review")


def test_version_names_are_unique_unless_replacing_a_draft(store: SqlStore) -> None:
    save(store, "v1", ["510603001001001"])
    with pytest.raises(ConflictError):
        save(store, "v1", ["510603001001001"])
    save(store, "v1", ["510603001001001", "510603001001002"], replace=True)
    assert store.get_version("v1").grid_count == 2
    store.publish("v1", "test")
    with pytest.raises(ConflictError):
        save(store, "v1", ["510603001001001"], replace=True)
    with pytest.raises(NotFoundError):
        store.publish("nope", "test")


def test_grids_read_back_with_their_attributes(store: SqlStore) -> None:
    save(store, "v1", ["510603001001002", "510603001001001"])
    grids = store.read_grids("v1")
    assert grids["code"].tolist() == ["510603001001001", "510603001001002"]
    assert grids.crs.to_epsg() == 4490
    assert grids.geometry.geom_type.unique().tolist() == ["MultiPolygon"]
    assert grids["officer_name"].tolist() == ["李四", "李四"]


def test_one_grid_reads_as_it_reads_among_the_others(demo_store: SqlStore) -> None:
    """An edit answers with its grid read alone: the same row, joined names included."""
    version = demo_store.published_version()
    assert version is not None
    every = demo_store.read_grids(version.name)
    code = str(every["code"].iloc[7])
    alone = demo_store.read_grids(version.name, code)
    assert len(alone) == 1
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True), every[every["code"] == code].reset_index(drop=True)
    )
    assert demo_store.read_grids(version.name, "no-such-code").empty
