"""`gridgis demo`, as `make demo` runs it: first run builds everything, second reuses it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gridgis.samplecity.writer import read_manifest
from gridgis.settings import Settings
from tests.conftest import free_port

EXE = Path(sys.executable).with_name("gridgis")


def demo_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "GRIDGIS_DATA_DIR": str(settings.data_dir),
        "GRIDGIS_DATABASE_URL": settings.database_url or "",
    }


def test_demo_builds_then_reuses(settings: Settings, tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    env = demo_env(settings)
    first = subprocess.run(
        [EXE, "demo", "--no-serve", "--sample-dir", str(sample)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    assert "wrote the sample city" in first.stdout
    assert "merged demo-v1" in first.stdout and "published demo-v1" in first.stdout
    assert (sample / "manifest.json").exists()
    second = subprocess.run(
        [EXE, "demo", "--no-serve", "--sample-dir", str(sample)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    assert "using the sample city" in second.stdout
    files = len(read_manifest(sample))
    assert "merged" not in second.stdout
    assert second.stdout.count("unchanged since import") == files


def test_demo_serves_the_map_and_api(tmp_path: Path, sample_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "GRIDGIS_DATA_DIR": str(tmp_path / "data"), "GRIDGIS_DATABASE_URL": ""}
    proc = subprocess.Popen(
        [EXE, "demo", "--port", str(port)],  # as `make demo` runs it: ./shapefiles
        cwd=sample_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "demo did not start serving"
            time.sleep(0.3)
        grids = httpx.get(f"{base}/api/grids").json()["features"]
        assert len(grids) > 10
        assert "leaflet" in httpx.get(f"{base}/map").text
        import shapely.geometry

        for feature in grids:
            point = shapely.geometry.shape(feature["geometry"]).representative_point()
            found = httpx.get(f"{base}/api/lookup", params={"lon": point.x, "lat": point.y})
            assert found.json()["code"] == feature["properties"]["code"]
        assert (
            httpx.get(f"{base}/api/lookup", params={"lon": 104.1, "lat": 31.3}).status_code == 404
        )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    out = proc.stdout.read() if proc.stdout else ""
    assert f"http://127.0.0.1:{port}/map" in out
    printed = out.replace(str(tmp_path / "data"), "data").replace(f":{port}/", ":8000/")
    for line in readme_sample_output():
        assert line in printed, f"README's sample output is stale: {line!r} not printed"


def readme_sample_output() -> list[str]:
    """The lines README's "What you will see" shows (its "…" lines stand for others)."""
    text = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    block = text.split("## What you will see", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines() if line and not line.startswith("…")]
    assert len(lines) >= 6, "README lost its sample output"
    return lines
