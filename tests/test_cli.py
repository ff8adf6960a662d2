"""The gridgis command line on both stores: the whole job, --json, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from gridgis.cli import app
from gridgis.lookup import GridIndex
from gridgis.samplecity.writer import read_manifest
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO

runner = CliRunner()


ROOT = Path(__file__).resolve().parents[1]


def env_for(settings: Settings) -> dict[str, str]:
    env = {"GRIDGIS_DATA_DIR": str(settings.data_dir), "GRIDGIS_ACTOR": "cli-test"}
    env["GRIDGIS_DATABASE_URL"] = settings.database_url or ""
    return env


def run(settings: Settings, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env_for(settings))
    return result.exit_code, result.stdout, result.stderr


def run_json(settings: Settings, *args: str) -> Any:
    code, out, err = run(settings, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_the_whole_job_from_the_command_line(
    settings: Settings, sample_dir: Path, tmp_path: Path
) -> None:
    schema = run_json(settings, "db", "upgrade")
    newest = sorted(p.name[:4] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    assert schema["revision"] == schema["head"] == newest[-1]
    for entry in read_manifest(sample_dir):
        args = ["import", entry.kind, str(entry.path)]
        for option, value in entry.options().items():
            if value:
                args += [f"--{option}", value]
        report = run_json(settings, *args)
        assert report["status"] == "imported"
    layers = run_json(settings, "layers")
    assert len(layers) == len(read_manifest(sample_dir))

    merged = run_json(settings, "merge", "--version", "2026-11", "--note", "first")
    assert merged["version"]["status"] == "draft"
    assert merged["report"]["coverage_valid"] is True
    published = run_json(settings, "publish", "2026-11", "--reason", "initial")
    assert published["status"] == "published"
    versions = run_json(settings, "versions")
    assert [v["name"] for v in versions] == ["2026-11"]

    out = tmp_path / "grids.gpkg"
    exported = run_json(
        settings, "export", "--version", "2026-11", "--format", "gpkg", "--out", str(out)
    )
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == exported["features"] == merged["report"]["grids"]
    point = shapely.point_on_surface(frame.geometry.iloc[5])
    found = run_json(settings, "lookup", "--lon", str(point.x), "--lat", str(point.y))
    assert found["code"] == frame["code"].iloc[5]

    shp = run_json(
        settings,
        "export",
        "--layer",
        "department/综治",
        "--format",
        "shp",
        "--out",
        str(tmp_path / "zz.shp"),
    )
    back = pyogrio.read_dataframe(shp["path"])
    assert "网格员" in back.columns and back["网格员"].notna().all()
    addresses = run_json(
        settings,
        "export",
        "--layer",
        "addresses",
        "--format",
        "geojson",
        "--out",
        str(tmp_path / "addresses.geojson"),
    )
    assert pyogrio.read_dataframe(addresses["path"])["address"].str.contains("号").all()

    code, text, _ = run(settings, "lookup", "--lon", str(point.x), "--lat", str(point.y))
    assert code == 0 and frame["code"].iloc[5] in text

    walk = run_json(settings, "crosswalk", "2026-11", "--department", "综治")
    assert walk and {r["department"] for r in walk} == {"综治"}
    code, text, _ = run(settings, "crosswalk", "2026-11", "--out", str(tmp_path / "cw.csv"))
    assert code == 0
    table = pd.read_csv(tmp_path / "cw.csv", encoding="utf-8-sig", dtype={"grid_code": str})
    assert table["grid_code"].str.fullmatch(r"\d{15}").all()

    # A second merge is another draft; the published version stays as it was.
    again = run_json(settings, "merge", "--version", "2026-12")
    assert again["version"]["status"] == "draft"
    assert again["version"]["params"]["previous_version"] == "2026-11"
    versions = {v["name"]: v["status"] for v in run_json(settings, "versions")}
    assert versions == {"2026-11": "published", "2026-12": "draft"}
    second = pd.DataFrame(
        run_json(
            settings,
            "export",
            "--version",
            "2026-12",
            "--format",
            "geojson",
            "--out",
            str(tmp_path / "v2.geojson"),
        ),
        index=[0],
    )
    assert second["features"].iloc[0] == merged["report"]["grids"]
    assert (
        pyogrio.read_dataframe(tmp_path / "v2.geojson")["code"].tolist() == frame["code"].tolist()
    )  # same inputs, same grids, same codes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "rivers", "shapefiles/base/streets.shp"], "unknown kind 'rivers'"),
        (["import", "streets", "nowhere/streets.shp"], "nowhere/streets.shp: no such file"),
        (
            ["import", "department", "shapefiles/departments/综治网格.shp"],
            "needs the department's name (--department)",
        ),
        (["publish", "nope"], "no grid version named 'nope'"),
        (["lookup", "--lon", "200", "--lat", "31"], "lon 200.0 is outside"),
        (["lookup", "--lon", "31.1", "--lat", "104.4"], "the axes look swapped (lat, lon)"),
        (["lookup", "--lon", "1e308", "--lat", "31"], "lon 1e+308 is outside"),
        (["export", "--out", "x.gpkg"], "exactly one of --version NAME or --layer"),
        (["merge", "--version", "v"], "no communities in the store"),
        (["merge", "--version", ""], "the version name is empty"),  # before any merging
        (["merge", "--version", "2026/Q1"], "contains '/'"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    store: SqlStore, settings: Settings, args: list[str], message: str
) -> None:
    code, _out, err = run(settings, *args)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_entry_point_help_and_exit_codes(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("gridgis")
    env = {**os.environ, "GRIDGIS_DATA_DIR": str(tmp_path), "GRIDGIS_DATABASE_URL": ""}
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env)
    assert helped.returncode == 0 and "merge" in helped.stdout
    for command in (
        "import",
        "merge",
        "export",
        "lookup",
        "serve",
        "demo",
        "db",
        "sample-city",
        "versions",
    ):
        sub = subprocess.run([exe, command, "--help"], capture_output=True, text=True, env=env)
        assert sub.returncode == 0, command
    failed = subprocess.run(
        [exe, "import", "streets", str(tmp_path / "none.shp")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert failed.returncode == 1
    assert failed.stderr.strip() == f"error: {tmp_path / 'none.shp'}: no such file"


def test_postgis_without_schema_says_what_to_run(settings: Settings) -> None:
    code, _out, err = run(settings, "layers")
    if settings.database_url:
        assert code == 1 and "run `gridgis db upgrade`" in err
    else:  # the embedded store creates itself
        assert code == 0


def test_lookups_from_the_command_line(
    demo_settings: Settings, demo_store: SqlStore, tmp_path: Path
) -> None:
    from gridgis.crs import wgs84_to_shifted

    grids_all = demo_store.read_grids(DEMO)
    grids = grids_all.iloc[::15]
    points = shapely.point_on_surface(grids.geometry.to_numpy())
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    codes = grids["code"].tolist()
    gx, gy = wgs84_to_shifted(lon, lat, "gcj02")
    one = run_json(
        demo_settings, "lookup", "--lon", str(gx[0]), "--lat", str(gy[0]), "--crs", "gcj02"
    )
    assert one["code"] == codes[0]
    dated = run_json(
        demo_settings, "lookup", "--lon", str(lon[0]), "--lat", str(lat[0]), "--at", "2099-12-31"
    )
    assert dated["version"] == DEMO

    rows = [f"{i},{x},{y}" for i, (x, y) in enumerate(zip(lon, lat, strict=True))]
    source = tmp_path / "cases.csv"
    source.write_text("case,经度,纬度\n" + "\n".join([*rows, "x,abc,31"]) + "\n", encoding="gbk")
    out = tmp_path / "answered.csv"
    summary = run_json(demo_settings, "lookup", "--csv", str(source), "--out", str(out))
    assert summary == {
        "version": DEMO,
        "rows": len(rows) + 1,
        "found": len(rows),
        "errors": 1,
        "out": str(out),
    }
    answered = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert answered["grid_code"].tolist() == [*codes, ""]
    assert "is not a number" in answered["error"].iloc[-1]

    base = demo_store.read_base_layer("addresses")
    row = base[base["building"].notna()].iloc[7]
    typed = f"{row['road']}{row['door_number']}号{row['compound']}{row['building']}"
    found: dict[str, Any] = run_json(demo_settings, "lookup", "--address", typed)
    assert f"{row['compound']}{row['building']}" in found["match"]["address"]
    index = GridIndex(grids_all.geometry.to_numpy(), grids_all["code"].to_numpy())
    assert found["grid"]["code"] == index.lookup([row.geometry.x], [row.geometry.y])[0]
    code, _out, err = run(demo_settings, "lookup", "--address", "北京市朝阳区建国门外大街1号")
    assert code == 1 and "close enough" in err
    code, _out, err = run(demo_settings, "lookup", "--lon", "104.4")
    assert code == 1 and "--lon and --lat go together" in err


def test_drafts_are_deleted_and_renamed_from_the_command_line(
    settings: Settings, store: SqlStore
) -> None:
    from tests.conftest import save_boxes

    cell = (104.39, 31.12, 104.40, 31.13)
    for name in ("v1", "v2", "v3"):
        save_boxes(store, name, {"510603001001001": cell})
    store.publish("v1", "test")
    renamed = run_json(settings, "versions", "rename", "v2", "2026年第一季度")
    assert (renamed["name"], renamed["status"]) == ("2026年第一季度", "draft")
    code, text, _ = run(settings, "versions", "delete", "v3")
    assert code == 0 and text.strip() == "deleted draft v3 (1 grids)"
    listed = run_json(settings, "versions")  # the listing is as it was
    assert [(v["name"], v["status"]) for v in listed] == [
        ("v1", "published"),
        ("2026年第一季度", "draft"),
    ]
    audit = [(e.action, e.actor) for e in store.read_audit(limit=2)]
    assert audit == [("delete", "cli-test"), ("rename", "cli-test")]
    for args, message in (
        (["versions", "delete", "v1"], "'v1' is published: only a draft can be deleted"),
        (["versions", "rename", "v1", "v9"], "only a draft can be renamed"),
        (["versions", "rename", "2026年第一季度", "v1"], "'v1' exists (published)"),
        (["versions", "rename", "2026年第一季度", "a/b"], "contains '/'"),
        (["versions", "delete", "nope"], "no grid version named 'nope'"),
    ):
        code, _out, err = run(settings, *args)
        assert code == 1 and message in err, err
        assert len(err.strip().splitlines()) == 1 and "(--" not in err  # NAME, NEW: no option


def test_tables_show_city_time_with_its_offset(settings: Settings, store: SqlStore) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.conftest import save_boxes

    save_boxes(store, "v1", {"510603001001001": (104.39, 31.12, 104.40, 31.13)})
    published = store.publish("v1", "test")
    assert published.published_at is not None
    local = published.published_at.astimezone(ZoneInfo("Asia/Shanghai"))
    wide = {**env_for(settings), "COLUMNS": "200"}
    shanghai = runner.invoke(app, ["versions"], env=wide)
    assert f"{local:%Y-%m-%d %H:%M} +08:00" in shanghai.stdout
    utc = runner.invoke(app, ["versions"], env={**wide, "GRIDGIS_TIMEZONE": "UTC"})
    assert f"{published.published_at:%Y-%m-%d %H:%M} +00:00" in utc.stdout
    (listed,) = run_json(settings, "versions")  # JSON: ISO 8601 with the offset, as stored
    moment = datetime.fromisoformat(listed["published_at"])
    assert moment == published.published_at and moment.utcoffset() is not None


@pytest.mark.parametrize("columns", ["80", "50"])
def test_narrow_tables_keep_codes_and_names_whole(
    settings: Settings, store: SqlStore, columns: str
) -> None:
    from tests.conftest import save_crosswalked

    name = "2026年第一季度综合网格调整草稿"
    save_crosswalked(store, name)
    store.save_version(
        "v2",
        store.read_grids(name),
        pd.DataFrame(),
        params={},
        report={},
        actor="test",
        note="第二轮：社区边界按街道意见调整，户数超限的网格拆分" * 2,
    )
    env = {**env_for(settings), "COLUMNS": columns}
    walk = runner.invoke(app, ["crosswalk", name], env=env).stdout
    assert {"510603001001001", "510603001001002"} <= set(walk.split())
    assert "…" not in walk
    listed = runner.invoke(app, ["versions"], env=env).stdout
    assert name in listed.split() and "…" not in listed
    assert "2026" in listed and "+08:00" in listed  # times wrap at spaces, never cut
    layers = runner.invoke(app, ["layers"], env=env).stdout
    assert "综治" in layers.split() and "…" not in layers


def test_sample_city_offers_every_scale_as_a_choice() -> None:
    from typing import get_args

    from gridgis.samplecity import ScaleName
    from gridgis.samplecity.generate import SCALES

    assert get_args(ScaleName) == tuple(SCALES)
    helped = runner.invoke(app, ["sample-city", "--help"], env={"COLUMNS": "200"})
    assert helped.exit_code == 0 and "small|city" in helped.stdout
    refused = runner.invoke(
        app, ["sample-city", "--out", "x", "--scale", "big"], env={"COLUMNS": "200"}
    )
    assert refused.exit_code == 2 and "'big' is not one of 'small', 'city'" in refused.stderr
