"""Downloads over HTTP: every format reads back with the right features and text."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pandas as pd
import pyogrio
import pytest
import shapely

from gridgis.export import shapefile_field_names
from gridgis.store import SqlStore
from gridgis.store.base import GRID_PROPERTIES
from tests.conftest import DEMO


def test_a_version_in_every_format(
    client: httpx.Client, demo_store: SqlStore, tmp_path: Path
) -> None:
    grids = demo_store.read_grids(DEMO)
    for fmt, suffix in (("geojson", ".geojson"), ("gpkg", ".gpkg")):
        response = client.get(f"/api/versions/{DEMO}/download", params={"format": fmt})
        assert response.status_code == 200, response.text
        assert quote(DEMO) in response.headers["content-disposition"]
        path = tmp_path / f"v{suffix}"
        path.write_bytes(response.content)
        frame = pyogrio.read_dataframe(path)
        assert sorted(frame["code"]) == sorted(grids["code"])
        assert set(frame["community_name"]) == set(grids["community_name"])
    response = client.get(f"/api/versions/{DEMO}/download", params={"format": "csv"})
    table = pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig", dtype=str)
    assert sorted(table["code"]) == sorted(grids["code"])
    back = shapely.from_wkt(table.set_index("code").loc[grids["code"], "wkt"].to_numpy())
    assert shapely.equals_exact(back, grids.geometry.to_numpy(), tolerance=1e-9).all()


@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
def test_shapefiles_come_zipped_with_their_encoding(
    client: httpx.Client, demo_store: SqlStore, tmp_path: Path, encoding: str
) -> None:
    response = client.get(
        f"/api/versions/{DEMO}/download", params={"format": "shp", "encoding": encoding}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = sorted(archive.namelist())
        assert [n.rsplit(".", 1)[1] for n in names] == ["cpg", "dbf", "prj", "shp", "shx"]
        assert archive.read(next(n for n in names if n.endswith(".cpg"))).decode() == encoding
        archive.extractall(tmp_path)
    shp = next(tmp_path.glob("*.shp"))
    frame = pyogrio.read_dataframe(shp)
    grids = demo_store.read_grids(DEMO)
    assert sorted(frame["code"]) == sorted(grids["code"])
    column = shapefile_field_names(list(GRID_PROPERTIES), encoding)["community_name"]
    assert set(frame[column]) == set(grids["community_name"])  # names cut to 10 .dbf bytes
    raw = pyogrio.read_dataframe(shp, encoding="latin1")  # the bytes really are in `encoding`
    assert set(raw[column].str.encode("latin1").str.decode(encoding)) == set(
        grids["community_name"]
    )


def test_layers_and_department_layers(
    client: httpx.Client, demo_store: SqlStore, tmp_path: Path
) -> None:
    streets = demo_store.read_base_layer("streets")
    response = client.get("/api/layers/streets/download", params={"format": "geojson"})
    path = tmp_path / "streets.geojson"
    path.write_bytes(response.content)
    assert len(pyogrio.read_dataframe(path)) == len(streets)
    department = next(x.name for x in demo_store.list_layers() if x.kind == "department")
    response = client.get(
        f"/api/layers/department/{department}/download", params={"format": "gpkg"}
    )
    assert response.status_code == 200, response.text
    path = tmp_path / "dept.gpkg"
    path.write_bytes(response.content)
    assert len(pyogrio.read_dataframe(path)) == len(demo_store.read_department_layer(department))


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (f"/api/versions/{DEMO}/download", {"format": "dwg"}, 400),
        ("/api/versions/nope/download", {}, 404),
        ("/api/layers/roads/download", {}, 400),
        ("/api/layers/department/无此部门/download", {}, 404),
        (f"/api/versions/{DEMO}/download", {"format": "shp", "encoding": "latin1"}, 400),
        (f"/api/versions/{DEMO}/download", {"crs": "mars"}, 400),
    ],
)
def test_bad_downloads_say_why(
    client: httpx.Client, path: str, params: dict[str, str], status: int
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]
