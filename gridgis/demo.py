"""The demo job: sample city → import → merge → publish, reusing whatever already exists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gridgis.errors import NotFoundError
from gridgis.importer.pipeline import ImportReport, import_layer
from gridgis.merge import run_merge
from gridgis.samplecity.generate import generate
from gridgis.samplecity.writer import MANIFEST, read_manifest, write_city
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo

DEMO_VERSION = "demo-v1"
DEMO_SEED = 7


@dataclass
class DemoResult:
    sample_dir: Path
    generated: bool
    imports: list[ImportReport] = field(default_factory=list)
    version: VersionInfo | None = None
    merged: bool = False


def ensure_sample_city(sample_dir: Path) -> bool:
    """Write the small sample city unless it is already there; True when written now."""
    if (sample_dir / MANIFEST).exists():
        return False
    write_city(generate("small", DEMO_SEED), sample_dir, seed=DEMO_SEED, scale="small")
    return True


def run_demo(
    store: Store,
    settings: Settings,
    sample_dir: Path,
    say: Callable[[str], None] = lambda _m: None,
) -> DemoResult:
    result = DemoResult(sample_dir, ensure_sample_city(sample_dir))
    say(("wrote" if result.generated else "using") + f" the sample city in {sample_dir}")
    for entry in read_manifest(sample_dir):
        report = import_layer(store, entry.kind, entry.path, settings=settings, **entry.options())
        result.imports.append(report)
        say(report.summary())
    try:
        version = store.get_version(DEMO_VERSION)
    except NotFoundError:
        version, merge = run_merge(
            store, DEMO_VERSION, settings=settings, note="gridgis demo: merged from the sample city"
        )
        result.merged = True
        say(
            f"merged {DEMO_VERSION}: {merge.report['grids']} grids, "
            f"{merge.report['households']} households"
        )
    if version.status != "published" and store.published_version() is None:
        version = store.publish(DEMO_VERSION, settings.actor, reason="demo")
        say(f"published {DEMO_VERSION}")
    result.version = version
    return result
