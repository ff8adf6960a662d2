"""Import: the sample city, encodings, CRSs, and bad input that must change nothing."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gridgis import crs
from gridgis.errors import InputError, TooLargeError
from gridgis.importer.pipeline import ImportReport, import_layer
from gridgis.samplecity.departments import DEPARTMENTS
from gridgis.samplecity.generate import generate
from gridgis.samplecity.writer import read_manifest
from gridgis.settings import Settings
from gridgis.store import SqlStore


def snapshot(store: SqlStore) -> list[tuple[str, str, int, int]]:
    return [(la.kind, la.name, la.rows, la.import_id) for la in store.list_layers()]


def import_sample(
    store: SqlStore, settings: Settings, sample_dir: Path, only: set[str] | None = None
) -> dict[str, ImportReport]:
    """Import the manifest's files (or those whose department/kind is in ``only``)."""
    reports = {}
    for entry in read_manifest(sample_dir):
        if only is None or (entry.department or entry.kind) in only:
            reports[entry.department or entry.kind] = import_layer(
                store, entry.kind, entry.path, settings=settings, actor="test", **entry.options()
            )
    return reports


def test_every_file_of_the_sample_city_imports(
    store: SqlStore, settings: Settings, sample_dir: Path
) -> None:
    reports = import_sample(store, settings, sample_dir)
    assert len(reports) == 5 + len(DEPARTMENTS)
    for name, report in reports.items():
        assert report.status == "imported", name
        assert report.rows_imported == report.rows_read - len(report.dropped_rows) > 0, name
    # Encodings: detected without a .cpg, honoured when right, corrected when it lies.
    assert (reports["综治"].encoding, reports["综治"].encoding_how) == ("GBK", "detected")
    assert (reports["民政"].encoding, reports["民政"].encoding_how) == ("GBK", "cpg")
    assert (reports["燃气"].encoding, reports["燃气"].encoding_how) == ("UTF-8", "cpg-corrected")
    assert reports["统计"].encoding in ("GBK", "GB18030")
    # CRSs: inferred from a GK zone prefix, read from a .prj, given for web-map tracings.
    assert (reports["城管"].crs, reports["城管"].crs_how) == ("EPSG:4523", "inferred-gk-prefix")
    assert (reports["消防"].crs, reports["消防"].crs_how) == ("EPSG:4544", "file")
    assert (reports["人社"].crs, reports["行政审批"].crs) == ("gcj02", "bd09")
    assert reports["供电"].crs == "EPSG:4326"  # KML
    # Every defect class is repaired or counted.
    assert reports["住建"].repairs["dropped_z"] == reports["住建"].rows_imported
    for department in ("综治", "燃气", "自然资源"):
        assert reports[department].repairs["made_valid"] >= 1, department
    for department in ("应急管理", "残联"):
        assert reports[department].repairs["dropped_rows"] == 1, department
    for department in ("人社", "统计"):
        assert reports[department].quality["multipart"] >= 1, department
    for department in ("综治", "市场监管", "统计"):
        assert reports[department].quality["duplicate_ids"] >= 1, department
        assert any("duplicate grid ids" in w for w in reports[department].warnings)
    for department in ("城管", "公安", "妇联"):
        assert reports[department].quality["slivers"] >= 1, department
    assert sum(r.quality.get("overlapping_pairs", 0) for r in reports.values()) > 0
    assert sum(r.quality.get("gaps", 0) for r in reports.values()) > 0

    names = set(store.read_department_layer("综治")["attributes"].map(lambda a: a["所属社区"]))
    communities = store.read_base_layer("communities")
    assert names == set(communities["name"])
    assert set(communities["subdistrict_name"]) == {"旌阳街道", "东湖街道"}
    streets = store.read_base_layer("streets")
    assert set(streets["class"]) == {"arterial", "street", "lane", "river", "internal"}
    addresses = store.read_base_layer("addresses")
    assert addresses["address"].str.startswith("四川省德阳市旌阳区").all()
    kml = store.read_department_layer("供电")["attributes"][0]
    assert set(kml) == {"编号", "变电站", "抢修电话"}  # LIBKML's empty housekeeping is gone


@pytest.fixture(scope="module")
def truth() -> dict[str, gpd.GeoDataFrame]:
    """The department layers as the generator drew them, before delivery."""
    city = generate("small", 7)
    return {layer.department: frame for layer, frame in city.departments}


@pytest.mark.parametrize("department", ["城管", "人社", "行政审批", "消防", "住建", "供电"])
def test_reprojected_layers_land_where_they_were_drawn(
    store: SqlStore,
    settings: Settings,
    sample_dir: Path,
    truth: dict[str, gpd.GeoDataFrame],
    department: str,
) -> None:
    import_sample(store, settings, sample_dir, only={department})
    stored = store.read_department_layer(department).geometry.to_numpy()
    drawn = truth[department].geometry.to_numpy()
    drawn = drawn[~shapely.is_missing(drawn)]
    assert len(stored) == len(drawn)
    metric = crs.to_metric(stored, 4544), crs.to_metric(shapely.make_valid(drawn), 4544)
    moved = shapely.hausdorff_distance(*metric)
    assert np.max(moved) < 0.05  # metres, after GK, GCJ-02 and BD-09 round trips


def test_reimporting_the_same_file_is_a_no_op(
    store: SqlStore, settings: Settings, sample_dir: Path
) -> None:
    path = sample_dir / "departments" / "综治网格.shp"
    first = import_layer(
        store, "department", path, settings=settings, actor="test", department="综治"
    )
    again = import_layer(
        store, "department", path, settings=settings, actor="test", department="综治"
    )
    assert again.status == "unchanged" and again.import_id == first.import_id
    assert len(store.read_audit()) == 1


def test_dry_run_writes_nothing(store: SqlStore, settings: Settings, sample_dir: Path) -> None:
    path = sample_dir / "base" / "buildings.shp"
    report = import_layer(store, "buildings", path, settings=settings, actor="test", dry_run=True)
    assert report.status == "dry-run" and report.rows_imported == report.rows_read
    assert snapshot(store) == []


def test_cpg_that_lies_is_corrected(
    tmp_path: Path, store: SqlStore, settings: Settings, sample_dir: Path
) -> None:
    frame = pyogrio.read_dataframe(sample_dir / "departments" / "综治网格.shp", encoding="GBK")
    path = tmp_path / "utf8.shp"
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")
    path.with_suffix(".cpg").write_text("GBK")
    report = import_layer(
        store, "department", path, settings=settings, actor="test", department="综治"
    )
    assert (report.encoding, report.encoding_how) == ("UTF-8", "cpg-corrected")
    stored = store.read_department_layer("综治")
    # UTF-8 needs 12 bytes for 网格名称: the .dbf's 10-byte limit cut it mid-character.
    assert stored["attributes"][0]["网格名"] == frame["网格名称"][0]


def _department_in(tmp_path: Path, sample_dir: Path, spec: crs.CrsSpec, *, prj: bool) -> Path:
    frame = pyogrio.read_dataframe(sample_dir / "departments" / "综治网格.shp", encoding="GBK")
    moved = crs.from_cgcs2000(frame.geometry.to_numpy(), spec)
    out = gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=moved, crs=None if spec.shift else spec.epsg
    )
    path = tmp_path / f"moved-{spec.label.replace(':', '')}.shp"
    pyogrio.write_dataframe(out, path, encoding="GBK")
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


@pytest.mark.parametrize(
    ("source", "given", "how"),
    [
        ("4523", None, "inferred-gk-prefix"),
        ("4544", None, "inferred-gk-city-zone"),
        ("gcj02", "gcj02", "given"),
        ("bd09", "bd09", "given"),
        ("4523", None, "file"),
    ],
)
def test_crs_from_prj_inference_or_flag_lands_in_place(
    tmp_path: Path,
    store: SqlStore,
    settings: Settings,
    sample_dir: Path,
    source: str,
    given: str | None,
    how: str,
) -> None:
    spec = crs.parse_crs(source)
    path = _department_in(tmp_path, sample_dir, spec, prj=how == "file")
    report = import_layer(
        store, "department", path, settings=settings, actor="test", department="城管", crs=given
    )
    assert report.crs_how == how
    original = shapely.make_valid(
        pyogrio.read_dataframe(sample_dir / "departments" / "综治网格.shp").geometry.to_numpy()
    )
    stored = store.read_department_layer("城管").geometry
    error_m = shapely.hausdorff_distance(
        crs.to_metric(stored.to_numpy(), 4544), crs.to_metric(original, 4544)
    )
    assert np.max(error_m) < 0.01


def _assert_refused(
    store: SqlStore, settings: Settings, kind: str, path: Path, expected: str, **kwargs: object
) -> InputError:
    before = snapshot(store)
    with pytest.raises(InputError) as caught:
        import_layer(store, kind, path, settings=settings, actor="test", **kwargs)  # type: ignore[arg-type]
    assert expected in str(caught.value)
    assert snapshot(store) == before
    return caught.value


@pytest.fixture
def seeded(store: SqlStore, settings: Settings, sample_dir: Path) -> SqlStore:
    """A store with part of the sample city in it, so refusals can be seen to change nothing."""
    import_sample(store, settings, sample_dir, only={"communities", "buildings", "综治"})
    return store


def test_missing_file(seeded: SqlStore, settings: Settings, tmp_path: Path) -> None:
    _assert_refused(seeded, settings, "streets", tmp_path / "nope.shp", "nope.shp: no such file")


def test_unknown_kind(seeded: SqlStore, settings: Settings, sample_dir: Path) -> None:
    _assert_refused(
        seeded, settings, "rivers", sample_dir / "base" / "streets.shp", "unknown kind 'rivers'"
    )


def test_unreadable_file(seeded: SqlStore, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "garbage.geojson"
    bad.write_text("{ this is not json")
    _assert_refused(seeded, settings, "compounds", bad, "garbage.geojson: cannot read")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".kml"])
def test_read_errors_say_nothing_of_where_the_file_sits(
    seeded: SqlStore, settings: Settings, tmp_path: Path, suffix: str
) -> None:
    """GDAL names the file by its full path, and gives advice for its own users: neither
    reaches the caller, who knows the file by the name it gave."""
    folder = tmp_path / "gridgis-upload-x"
    folder.mkdir()
    bad = folder / f"stored{suffix}"
    bad.write_bytes(b"<kml>not really" if suffix == ".kml" else b"not a dataset at all")
    error = _assert_refused(
        seeded,
        settings,
        "compounds",
        bad,
        "grids" + suffix + ": cannot read",
        display_name="grids" + suffix,
    )
    assert str(folder) not in str(error) and "gridgis-upload-" not in str(error)
    assert "It might help" not in str(error) and "<DRIVER>" not in str(error)


def test_layer_without_geometry(seeded: SqlStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "no-geometry.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature",'
        '"properties":{"name":"x"},"geometry":null}]}'
    )
    _assert_refused(
        seeded, settings, "compounds", path, "no-geometry.geojson: the layer has no geometry"
    )
    table = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"name": ["x"]}), table, layer="t")
    _assert_refused(
        seeded, settings, "compounds", table, "table.gpkg: the layer has no geometry column"
    )


def test_points_where_polygons_are_needed(
    seeded: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame(
        {"网格编号": ["A", "B"]},
        geometry=[shapely.Point(104.39, 31.12), shapely.Point(104.4, 31.13)],
        crs=4490,
    ).to_file(path)
    _assert_refused(
        seeded,
        settings,
        "department",
        path,
        "points.geojson: rows 1, 2: POINT where polygons are needed",
        department="综治",
    )


def test_truncated_and_mismatched_shapefiles(
    seeded: SqlStore, settings: Settings, tmp_path: Path, sample_dir: Path
) -> None:
    for part in ("shp", "shx", "dbf", "prj"):
        shutil.copy(sample_dir / "departments" / f"综治网格.{part}", tmp_path / f"z.{part}")
    dbf = tmp_path / "z.dbf"
    data = bytearray(dbf.read_bytes())
    data[4:8] = (5).to_bytes(4, "little")  # claim 5 rows
    dbf.write_bytes(bytes(data))
    _assert_refused(
        seeded, settings, "department", tmp_path / "z.shp", ".dbf has 5 rows", department="综治"
    )
    (tmp_path / "z.shp").write_bytes(b"\x00" * 40)
    _assert_refused(
        seeded, settings, "department", tmp_path / "z.shp", "truncated .shp", department="综治"
    )


@pytest.mark.parametrize(
    ("left_out", "expected"),
    [
        (("shx",), "z.shx is missing"),
        (("dbf",), "z.dbf is missing"),
        (("shx", "dbf"), "z.shx and z.dbf are missing"),
    ],
)
def test_shapefile_without_its_index_or_table(
    seeded: SqlStore,
    settings: Settings,
    tmp_path: Path,
    sample_dir: Path,
    left_out: tuple[str, ...],
    expected: str,
) -> None:
    for part in ("shp", "shx", "dbf", "prj"):
        if part not in left_out:
            shutil.copy(sample_dir / "departments" / f"综治网格.{part}", tmp_path / f"z.{part}")
    error = _assert_refused(
        seeded, settings, "department", tmp_path / "z.shp", f"z.shp: {expected}", department="综治"
    )
    assert str(tmp_path) not in str(error) and "SHAPE_RESTORE_SHX" not in str(error)


def test_errors_name_the_parameter_not_the_option(
    seeded: SqlStore, settings: Settings, tmp_path: Path, sample_dir: Path
) -> None:
    """What to give is said in words and named in ``param``; each front end spells it
    (``--department`` on the command line, the ``department`` field over HTTP)."""
    grids = sample_dir / "departments" / "综治网格.shp"
    no_name = _assert_refused(seeded, settings, "department", grids, "the department's name")
    two = tmp_path / "two.gpkg"
    frame = pyogrio.read_dataframe(grids)
    for layer in ("a", "b"):
        pyogrio.write_dataframe(frame, two, layer=layer)
    two_layers = _assert_refused(
        seeded, settings, "department", two, "several layers (a, b)", department="综治"
    )
    nowhere = tmp_path / "nowhere.shp"
    gpd.GeoDataFrame(
        {"网格编号": ["A"]}, geometry=[shapely.box(5000, 5000, 5100, 5100)], crs=None
    ).to_file(nowhere)
    no_crs = _assert_refused(
        seeded, settings, "department", nowhere, "give the layer's CRS", department="综治"
    )
    for error, param in ((no_name, "department"), (two_layers, "layer"), (no_crs, "crs")):
        assert error.param == param
        assert "--" not in str(error)


def test_bad_zips(seeded: SqlStore, settings: Settings, tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.zip"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    _assert_refused(
        seeded, settings, "department", corrupt, "broken.zip: not a readable zip", department="综治"
    )
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../etc/grids.geojson", "{}")
    _assert_refused(
        seeded, settings, "department", evil, "points outside the archive", department="综治"
    )


def test_far_away_coordinates(seeded: SqlStore, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "beijing.geojson"
    gpd.GeoDataFrame(
        {"网格编号": ["A"]}, geometry=[shapely.box(116.3, 39.9, 116.31, 39.91)], crs=4490
    ).to_file(path)
    _assert_refused(seeded, settings, "department", path, "km from the city", department="综治")
    swapped = tmp_path / "swapped.shp"
    gpd.GeoDataFrame(
        {"网格编号": ["A"]}, geometry=[shapely.box(31.12, 104.39, 31.13, 104.4)], crs=None
    ).to_file(swapped)
    _assert_refused(
        seeded, settings, "department", swapped, "the axes look swapped", department="综治"
    )


def test_oversized_upload(seeded: SqlStore, settings: Settings, sample_dir: Path) -> None:
    tiny = settings.model_copy(update={"max_upload_mb": 0})
    before = snapshot(seeded)
    with pytest.raises(TooLargeError):
        import_layer(
            seeded, "streets", sample_dir / "base" / "streets.shp", settings=tiny, actor="test"
        )
    assert snapshot(seeded) == before


def test_bad_values_name_the_row(
    seeded: SqlStore, settings: Settings, tmp_path: Path, sample_dir: Path
) -> None:
    frame = pyogrio.read_dataframe(sample_dir / "base" / "buildings.shp", encoding="GBK")
    frame["户数"] = frame["户数"].astype(object)
    frame.loc[3, "户数"] = "很多"
    path = tmp_path / "buildings.geojson"
    frame.to_file(path)
    _assert_refused(seeded, settings, "buildings", path, "row 4: households is not a number")
    frame = frame.drop(columns="户数")
    frame.to_file(path)
    _assert_refused(seeded, settings, "buildings", path, "no 'households' field")
    report = import_layer(
        seeded,
        "buildings",
        path,
        settings=settings,
        actor="test",
        field_overrides={"households": "层数"},
        dry_run=True,
    )
    assert report.rows_imported == len(frame)
