"""How long the city-scale sample takes to generate and to import, beside a plain GDAL copy.

    .venv/bin/python bench/city_import.py [--scale city] [--seed 7] [--postgres URL]

Generates the sample (timed), writes its files (timed), then imports every file into the
embedded GeoPackage store and into PostGIS with ``gridgis``'s full pipeline (detection,
reprojection, repair, quality checks, provenance) and, as the baseline in the same run,
copies the same files with GDAL alone (pyogrio read → write, no checks) into a
GeoPackage and with ``ogr2ogr`` into PostGIS. Prints one line per stage and the ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import pyogrio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.postgres import ADMIN_URL, create_database, drop_database  # noqa: E402
from gridgis.demo import import_sample_city  # noqa: E402
from gridgis.samplecity.generate import generate, layout_summary  # noqa: E402
from gridgis.samplecity.writer import (  # noqa: E402
    DEFAULT_DELIVERY,
    DELIVERIES,
    read_manifest,
    write_city,
)
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402


def timed(label: str, results: dict[str, float]):  # type: ignore[no-untyped-def]
    class Timer:
        def __enter__(self) -> None:
            self.start = time.perf_counter()
            print(f"{label} …", flush=True, file=sys.stderr)

        def __exit__(self, *exc: object) -> None:
            results[label] = time.perf_counter() - self.start
            print(f"{label}: {results[label]:.1f} s", flush=True)

    return Timer()


def gridgis_import(settings: Settings, sample: Path) -> int:
    store = open_store(settings, check=False)
    store.upgrade()
    try:
        return sum(r.rows_imported for r in import_sample_city(store, settings, sample))
    finally:
        store.close()


def gdal_path(path: Path) -> str:
    """The sample zips a folder holding the shapefile: point GDAL inside it."""
    if path.suffix == ".zip":
        return f"/vsizip/{path}/{path.stem}/{path.stem}.shp"
    return str(path)


def gdal_copy_gpkg(sample: Path, out: Path) -> int:
    rows = 0
    for entry in read_manifest(sample):
        raw = "ISO-8859-1" if entry.path.suffix in (".shp", ".zip") else None  # bytes as-is
        frame = pyogrio.read_dataframe(gdal_path(entry.path), layer=entry.layer, encoding=raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyogrio.write_dataframe(frame, out, layer=f"l{rows}", promote_to_multi=True)
        rows += len(frame)
    return rows


def gdal_copy_postgis(sample: Path, url: str) -> list[str]:
    """Copy with ogr2ogr; return the files it could not load at all."""
    failed = []
    pg = "PG:" + url.replace("postgresql://", "postgresql://", 1)
    for n, entry in enumerate(read_manifest(sample)):
        path = gdal_path(entry.path)
        # Plain GDAL cannot guess a GBK .dbf without a .cpg: the baseline is told each
        # file's true encoding, as a person who already knew it would.
        encoding = DELIVERIES.get(entry.department or "", DEFAULT_DELIVERY).encoding
        if entry.kind == "communities":
            encoding = "UTF-8"
        args = [
            "ogr2ogr",
            "--config",
            "PG_USE_COPY",
            "YES",
            "--config",
            "SHAPE_ENCODING",
            encoding,
            "-f",
            "PostgreSQL",
            pg,
            path,
            "-nln",
            f"l{n}",
            "-nlt",
            "PROMOTE_TO_MULTI",
            "-lco",
            "SPATIAL_INDEX=GIST",
            "-overwrite",
        ]
        if entry.layer:
            args.append(entry.layer)
        done = subprocess.run(args, capture_output=True, text=True, errors="replace")
        if done.returncode != 0:
            failed.append(entry.path.name)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="city")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the sample here and keep it")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gridgis-bench-") as tmp:
        sample = args.keep or Path(tmp) / "sample"
        with timed("generate", results):
            city = generate(args.scale, args.seed)
        with timed("write files", results):
            write_city(city, sample, seed=args.seed, scale=args.scale)
        summary = layout_summary(city)
        print(json.dumps(summary, ensure_ascii=False))

        with timed("gridgis import → GeoPackage", results):
            rows = gridgis_import(Settings(data_dir=Path(tmp) / "gpkg", actor="bench"), sample)
        with timed("GDAL copy → GeoPackage (baseline)", results):
            gdal_copy_gpkg(sample, Path(tmp) / "copy.gpkg")

        name = f"gridgis_bench_{uuid.uuid4().hex[:8]}"
        url = create_database(ADMIN_URL, name, postgis=True)  # ogr2ogr needs it in place
        try:
            with timed("gridgis import → PostGIS", results):
                gridgis_import(Settings(database_url=url, actor="bench"), sample)
        finally:
            drop_database(ADMIN_URL, name)
        if shutil.which("ogr2ogr"):
            url = create_database(ADMIN_URL, name, postgis=True)
            try:
                with timed("ogr2ogr → PostGIS (baseline)", results):
                    failed = gdal_copy_postgis(sample, url)
                if failed:
                    print(f"ogr2ogr could not load {len(failed)} file(s): {', '.join(failed)}")
            finally:
                drop_database(ADMIN_URL, name)
    print(f"rows imported: {rows}")
    gp = results["gridgis import → GeoPackage"] / results["GDAL copy → GeoPackage (baseline)"]
    print(f"ratio gridgis/GDAL, GeoPackage: {gp:.2f}×")
    if "ogr2ogr → PostGIS (baseline)" in results:
        pgr = results["gridgis import → PostGIS"] / results["ogr2ogr → PostGIS (baseline)"]
        print(f"ratio gridgis/ogr2ogr, PostGIS: {pgr:.2f}×")


if __name__ == "__main__":
    main()
