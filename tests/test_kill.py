"""Nothing lost when the process dies: ``gridgis import``, ``merge``, ``review apply`` and
``publish`` killed with SIGKILL at several moments of their work leave the store as it
was before or as it is after — never half of it — and valid (the audit chain holds, the
GeoPackage passes its integrity check). A real process, a real signal; both stores."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import shapely
import sqlalchemy as sa

from gridgis.demo import run_demo
from gridgis.samplecity.writer import read_manifest
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import DEMO, SAMPLE_DIR, City, gridgis_env

#: When to kill, as shares of how long the same command takes when left alone (timed
#: first, on this machine): densest around the commit, near the end of the work, with one
#: kill well before it and one well after the exit, because a busy machine can shift a
#: run's length by a third and leave every dense kill on one side. Each test asserts its
#: kills landed both before and after the commit, so the window was spanned.
SHARES = (0.3, 0.7, 0.8, 0.88, 0.94, 0.98, 1.05, 1.5)


def _timed(settings: Settings, *args: str) -> float:
    started = time.monotonic()
    assert _killed(settings, *args, after=600) == 0
    return time.monotonic() - started


def _killed(settings: Settings, *args: str, after: float) -> int | None:
    """Run ``gridgis ARGS`` and SIGKILL it after ``after`` seconds; its exit code if it
    finished first."""
    exe = Path(sys.executable).with_name("gridgis")
    proc = subprocess.Popen(
        [str(exe), *args],
        env=gridgis_env(settings, GRIDGIS_ACTOR="killed"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None


def _valid(store: SqlStore) -> None:
    assert store.verify_audit().ok
    if store.kind == "geopackage":
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"


def test_an_import_killed_midway_leaves_the_layer_whole(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    entry = next(e for e in read_manifest(SAMPLE_DIR) if e.kind == "buildings")
    before = next(la for la in store.list_layers() if la.kind == "buildings")
    original = gpd.read_file(entry.path, encoding="GBK")  # as the departments send it
    households = int(original["户数"].sum())
    outcomes = []
    alone = 0.0
    for n, share in enumerate((None, *SHARES)):
        changed = original.copy()
        changed["户数"] = changed["户数"] + n + 1  # new content each time
        path = tmp_path / f"buildings-{n}.gpkg"
        changed.to_file(path, driver="GPKG")
        args = ("import", "buildings", str(path))
        code: int | None
        if share is None:
            alone, code = _timed(settings, *args), 0
        else:
            code = _killed(settings, *args, after=share * alone)
        _valid(store)
        now = next(la for la in store.list_layers() if la.kind == "buildings")
        rows = store.read_base_layer("buildings", ["households"])
        assert len(rows) == now.rows == before.rows  # whole: all of one import's rows
        if now.content_key == before.content_key:
            outcomes.append("before")
        else:
            outcomes.append("after")
            assert code in (0, None)
            households = int(changed["户数"].sum())
            before = now
        assert int(rows["households"].sum()) == households
    assert {"before", "after"} <= set(outcomes), outcomes


def test_a_merge_killed_midway_leaves_no_half_version(store: SqlStore, settings: Settings) -> None:
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    published = store.published_version()
    outcomes = []
    alone = _timed(settings, "merge", "--version", "left-alone")
    for n, share in enumerate(SHARES):
        name = f"killed-{n}"
        _killed(settings, "merge", "--version", name, after=share * alone)
        _valid(store)
        found = {v.name: v for v in store.list_versions()}
        assert store.published_version() == published
        if name in found:
            outcomes.append("after")
            info = found[name]
            assert info.status == "draft"
            assert len(store.read_grids(name)) == info.grid_count > 0
            assert len(store.read_crosswalk(name)) > 0
        else:
            outcomes.append("before")
    assert {"before", "after"} <= set(outcomes), outcomes


def test_a_publish_killed_midway_leaves_one_version_in_force(
    store: SqlStore, settings: Settings
) -> None:
    """Publishing swaps the version in force (the old one archived, a publication row
    opened and the previous closed): killed anywhere, exactly one version is in force,
    the old or the new, and the publications agree with it."""
    from gridgis.merge import run_merge

    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    run_merge(store, "第二期", settings=settings, actor="test")
    alone = _timed(settings, "publish", "第二期", "--reason", "timed")
    outcomes = []
    for share in SHARES:
        before = store.published_version()
        assert before is not None
        target = DEMO if before.name == "第二期" else "第二期"
        code = _killed(settings, "publish", target, "--reason", "killed", after=share * alone)
        assert code in (None, 0), code
        _valid(store)
        in_force = [v.name for v in store.list_versions() if v.status == "published"]
        assert in_force in ([before.name], [target]), in_force
        now = store.published_version()
        assert now is not None and now.name == in_force[0]
        with store.engine.connect() as conn:
            open_rows = conn.execute(
                sa.text("SELECT count(*) FROM publications WHERE valid_to IS NULL")
            ).scalar()
        assert open_rows == 1  # one publication open: the version in force
        outcomes.append("after" if now.name == target else "before")
    assert {"before", "after"} <= set(outcomes), outcomes


def test_a_proposal_applied_killed_midway_leaves_no_half_draft(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    """A redraw proposal applied into a new draft: killed anywhere, the draft is absent
    or whole, and the version it was proposed for is as it was."""
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    city = City(store, settings, tmp_path)
    frame = city.frame()
    a, _ = city.neighbours(frame)
    city.put(frame, a, shapely.buffer(city.metric(frame)[a], -5.0))  # a gap beside it
    review = city.imported(frame)
    ident = next(f.proposal for f in review.findings if f.type == "gap" and f.proposal)
    reviewed = store.get_version(review.version)
    args = ("review", "apply", "--version", review.version, "--proposal", ident)
    alone = _timed(settings, *args, "--into", "left-alone")
    whole = store.get_version("left-alone").grid_count
    outcomes = []
    for n, share in enumerate(SHARES):
        name = f"killed-{n}"
        code = _killed(settings, *args, "--into", name, after=share * alone)
        assert code in (None, 0), code
        _valid(store)
        assert store.get_version(review.version).content_key == reviewed.content_key
        found = {v.name: v for v in store.list_versions()}
        if name in found:
            outcomes.append("after")
            assert found[name].status == "draft"
            assert len(store.read_grids(name)) == found[name].grid_count == whole
        else:
            outcomes.append("before")
    assert {"before", "after"} <= set(outcomes), outcomes
