"""POST /api/layers: the import pipeline over HTTP, with size limits and clear refusals."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import Server, job_results


@pytest.fixture
def client(store: SqlStore, settings: Settings) -> Iterator[httpx.Client]:
    limited = settings.model_copy(update={"max_upload_mb": 1})
    with Server(limited) as server, server.client(timeout=60) as c:
        yield c


def layers(client: httpx.Client) -> list[tuple[str, str, int]]:
    return [(la["kind"], la["name"], la["rows"]) for la in client.get("/api/layers").json()]


def test_upload_a_zipped_shapefile_then_again(
    client: httpx.Client, sample_dir: Path, store: SqlStore
) -> None:
    path = sample_dir / "departments" / "供水服务区.zip"
    form = {"kind": "department", "department": "供水"}
    queued = client.post("/api/layers", data=form, files={"files": (path.name, path.read_bytes())})
    assert queued.status_code == 202, queued.text
    assert queued.json()["processID"] == "import"
    first = job_results(client, queued)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["status"] == "imported" and report["encoding"] == "GBK"
    assert ("department", "供水", report["rows_imported"]) in layers(client)
    # Audited as the HTTP caller's key, not as the server's own GRIDGIS_ACTOR ("test").
    (key,) = store.list_keys()
    imports = [(e.action, e.actor) for e in store.read_audit() if e.action == "import"]
    assert imports == [("import", f"key:{key.id}")]
    again = client.post("/api/layers", data=form, files={"files": (path.name, path.read_bytes())})
    assert job_results(client, again).json()["status"] == "unchanged"


def test_upload_a_shapefile_with_its_parts_and_options(
    client: httpx.Client, sample_dir: Path
) -> None:
    stem = sample_dir / "departments" / "人社网格"
    parts = [
        ("files", (f"人社网格.{s}", stem.with_suffix(f".{s}").read_bytes()))
        for s in ("shp", "shx", "dbf", "prj")
    ]
    queued = client.post(
        "/api/layers",
        files=parts,
        data={"kind": "department", "department": "人社", "crs": "gcj02"},
    )
    response = job_results(client, queued)
    assert response.status_code == 200, response.text
    assert response.json()["crs"] == "gcj02"
    dry = client.post(
        "/api/layers",
        files=[("files", ("b.shp", b"x"))],
        data={"kind": "buildings", "dry_run": "true"},
    )
    assert dry.status_code == 400  # a lone .shp of garbage: refused, not a 5xx


LEAKS = ("/tmp", "gridgis-upload-", "SHAPE_RESTORE_SHX")


def test_a_shapefile_without_its_shx_is_refused_by_its_name(
    client: httpx.Client, sample_dir: Path
) -> None:
    """The server's temporary folder and GDAL's advice to its own users stay inside."""
    before = layers(client)
    stem = sample_dir / "departments" / "人社网格"
    parts = [
        ("files", (f"人社网格.{s}", stem.with_suffix(f".{s}").read_bytes()))
        for s in ("shp", "dbf", "prj")
    ]
    form = {"kind": "department", "department": "人社", "crs": "gcj02"}
    response = client.post("/api/layers", files=parts, data=form)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "人社网格.shx is missing" in body["error"] and body["source"] == "人社网格.shp"
    garbage = client.post(
        "/api/layers", data=form, files={"files": ("grids.geojson", b"not a dataset")}
    )
    assert garbage.status_code == 400 and "grids.geojson" in garbage.text
    for answer in (response, garbage):
        for leak in LEAKS:
            assert leak not in answer.text, answer.text
    assert layers(client) == before


def test_a_department_upload_without_its_name_names_the_field(
    client: httpx.Client, sample_dir: Path
) -> None:
    path = sample_dir / "departments" / "供水服务区.zip"
    response = client.post(
        "/api/layers", data={"kind": "department"}, files={"files": (path.name, path.read_bytes())}
    )
    assert response.status_code == 400, response.text
    assert response.json()["param"] == "department"
    assert "--department" not in response.text


def test_oversized_uploads_are_413_and_change_nothing(client: httpx.Client) -> None:
    before = layers(client)
    big = b"0" * (2 * 1024 * 1024)
    response = client.post(
        "/api/layers", data={"kind": "streets"}, files={"files": ("big.geojson", big)}
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: measured after receipt
        boundary = b"--x\r\n"
        yield boundary + b'Content-Disposition: form-data; name="kind"\r\n\r\nstreets\r\n'
        yield boundary + (
            b'Content-Disposition: form-data; name="files"; filename="big.geojson"\r\n\r\n'
        )
        for _ in range(3):
            yield b"0" * (1024 * 1024)
        yield b"\r\n--x--\r\n"

    streamed = client.post(
        "/api/layers", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert streamed.status_code == 413
    assert layers(client) == before


def test_refusals_name_the_problem(client: httpx.Client, sample_dir: Path) -> None:
    before = layers(client)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../grids.geojson", "{}")
    response = client.post(
        "/api/layers",
        data={"kind": "department", "department": "x"},
        files={"files": ("evil.zip", evil.getvalue())},
    )
    assert response.status_code == 400
    assert "points outside the archive" in response.json()["error"]
    two = [("files", ("a.geojson", b"{}")), ("files", ("b.geojson", b"{}"))]
    response = client.post("/api/layers", data={"kind": "streets"}, files=two)
    assert response.status_code == 400 and "exactly one dataset" in response.json()["error"]
    missing = client.post(
        "/api/layers", data={"department": "x"}, files={"files": ("a.geojson", b"{}")}
    )
    assert missing.status_code == 422 and "kind" in missing.json()["error"]
    assert layers(client) == before


def test_paths_are_taken_out_of_messages_whole() -> None:
    from pathlib import Path

    from gridgis.importer.sources import without_folder

    # A relative folder named "data" leaves "metadata" alone; the root leaves every "/".
    assert without_folder("metadata of data/a.dbf", Path("data")) == "metadata of a.dbf"
    assert without_folder("/tmp/up-1/a.shx missing in /tmp/up-1", Path("/tmp/up-1")) == (
        "a.shx missing in ."
    )
    assert without_folder("see a/b and /etc", Path("/")) == "see a/b and /etc"
