"""The demo job: sample city → import → merge → publish, reusing whatever already exists.

The benchmarks build their city-scale stores the same way (``scale="city"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gridgis.errors import NotFoundError
from gridgis.importer.pipeline import ImportReport, import_layer
from gridgis.merge import run_merge
from gridgis.review.publishing import publish_reviewed
from gridgis.samplecity.generate import generate
from gridgis.samplecity.writer import MANIFEST, read_manifest, write_city
from gridgis.settings import Settings
from gridgis.store.base import Store, VersionInfo

DEMO_VERSION = "demo-v1"
DEMO_ACTOR = "demo"  # who the demo job is recorded as, unless its caller says
DEMO_SEED = 7


@dataclass
class DemoResult:
    sample_dir: Path
    generated: bool
    imports: list[ImportReport] = field(default_factory=list)
    version: VersionInfo | None = None
    merged: bool = False


def ensure_sample_city(sample_dir: Path, scale: str = "small", seed: int = DEMO_SEED) -> bool:
    """Write the sample city unless it is already there; True when written now."""
    if (sample_dir / MANIFEST).exists():
        return False
    write_city(generate(scale, seed), sample_dir, seed=seed, scale=scale)
    return True


def import_sample_city(
    store: Store,
    settings: Settings,
    sample_dir: Path,
    say: Callable[[str], None] = lambda _m: None,
    *,
    actor: str = DEMO_ACTOR,
) -> list[ImportReport]:
    """Import every file of the sample's manifest (a file imported before is a no-op)."""
    reports = []
    for entry in read_manifest(sample_dir):
        report = import_layer(
            store, entry.kind, entry.path, settings=settings, actor=actor, **entry.options()
        )
        reports.append(report)
        say(report.summary())
    return reports


def run_demo(
    store: Store,
    settings: Settings,
    sample_dir: Path,
    say: Callable[[str], None] = lambda _m: None,
    *,
    scale: str = "small",
    version_name: str = DEMO_VERSION,
    actor: str = DEMO_ACTOR,
) -> DemoResult:
    result = DemoResult(sample_dir, ensure_sample_city(sample_dir, scale))
    say(("wrote" if result.generated else "using") + f" the sample city in {sample_dir}")
    result.imports = import_sample_city(store, settings, sample_dir, say, actor=actor)
    try:
        version = store.get_version(version_name)
    except NotFoundError:
        version, merge = run_merge(
            store,
            version_name,
            settings=settings,
            actor=actor,
            note="gridgis demo: merged from the sample city",
        )
        result.merged = True
        say(
            f"merged {version_name}: {merge.report['grids']} grids, "
            f"{merge.report['households']} households"
        )
    if version.status != "published" and store.published_version() is None:
        version = publish_reviewed(store, version_name, settings, actor=actor, reason="demo")
        say(f"published {version_name}")
    result.version = version
    return result
