"""The city-scale sample in an embedded store, built once and reused by the benchmarks.

``ensure_city`` generates and imports the sample (about a minute); ``ensure_published``
also merges it into version ``city-v1`` and publishes it (about half a minute more).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gridgis.demo import ensure_sample_city, import_sample_city  # noqa: E402
from gridgis.merge import run_merge  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402

DEFAULT_DIR = ROOT / "bench" / "out" / "city"
VERSION = "city-v1"


def ensure_sample(data_dir: Path = DEFAULT_DIR) -> Path:
    """The city-scale sample's files under ``data_dir/sample``, written once."""
    sample = data_dir / "sample"
    if ensure_sample_city(sample, "city"):
        print(f"wrote the city-scale sample into {sample}", file=sys.stderr)
    return sample


def ensure_city(data_dir: Path = DEFAULT_DIR) -> Settings:
    """Settings of an embedded store holding the imported city sample."""
    settings = Settings(data_dir=data_dir / "store", actor="bench")
    if settings.gpkg_path.exists():
        return settings
    sample = ensure_sample(data_dir)
    print("importing the city-scale sample (once) …", file=sys.stderr)
    store = open_store(settings)
    try:
        import_sample_city(store, settings, sample)
    finally:
        store.close()
    return settings


def ensure_published(data_dir: Path = DEFAULT_DIR) -> Settings:
    """:func:`ensure_city`, merged into ``city-v1`` and published."""
    settings = ensure_city(data_dir)
    store = open_store(settings)
    try:
        if not any(v.name == VERSION for v in store.list_versions()):
            print(f"merging the city sample into {VERSION} (once) …", file=sys.stderr)
            run_merge(store, VERSION, settings=settings, actor="bench")
        published = store.published_version()
        if published is None or published.name != VERSION:
            store.publish(VERSION, "bench")
    finally:
        store.close()
    return settings
