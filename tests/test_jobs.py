"""Long work over HTTP as jobs (imports, merges, reviews, diffs): ``202`` with
``Location``, progress, results with the status the same request would have had; jobs
kept in the store across restarts, stopped on request, and taken up again by another
server within a minute when the one running it dies (a real process, SIGKILL). Both
stores."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gridgis.credentials import issue_key
from gridgis.demo import run_demo
from gridgis.settings import Settings
from gridgis.store import SqlStore
from tests.conftest import (
    DEMO,
    SAMPLE_DIR,
    Server,
    free_port,
    gridgis_env,
    job_status,
    job_statuses,
)

#: How soon the issue says a dead worker's job must be taken up again.
TAKEN_UP_WITHIN_S = 60.0


@pytest.fixture
def demo(store: SqlStore, settings: Settings) -> Settings:
    run_demo(store, settings, SAMPLE_DIR, version_name=DEMO)
    return settings


def test_a_merge_over_http_is_a_job_with_progress_and_results(
    demo: Settings, store: SqlStore
) -> None:
    with Server(demo) as server, server.client() as http:
        queued = http.post("/api/versions", json={"version": "第二期", "note": "经 HTTP"})
        assert queued.status_code == 202, queued.text
        status = queued.json()
        location = queued.headers["location"]
        assert location == f"/api/jobs/{status['jobID']}"
        assert status["processID"] == "merge" and status["status"] in ("accepted", "running")
        assert queued.headers["retry-after"] == "1"
        seen = job_statuses(http, queued)
        assert seen[-1]["status"] == "successful", seen[-1]
        progress = [s["progress"] for s in seen]
        assert progress == sorted(progress) and progress[-1] == 100
        links = {link["rel"]: link["href"] for link in seen[-1]["links"]}
        results = http.get(links["http://www.opengis.net/def/rel/ogc/1.0/results"])
        assert results.status_code == 200
        body = results.json()
        assert body["version"]["name"] == "第二期" and body["version"]["status"] == "draft"
        assert body["report"]["grids"] == store.get_version("第二期").grid_count > 0
        (key,) = store.list_keys()
        assert store.get_version("第二期").created_by == f"key:{key.id}"
        # The same name again is refused at once, before any merging.
        taken = http.post("/api/versions", json={"version": "第二期"})
        assert taken.status_code == 409 and taken.json()["param"] == "replace"
        listed = http.get("/api/jobs", params={"status": "successful"}).json()["jobs"]
        assert [j["jobID"] for j in listed] == [status["jobID"]]


def test_a_failed_job_says_why_with_the_status_its_request_would_have_had(
    demo: Settings, store: SqlStore
) -> None:
    path = SAMPLE_DIR / "departments" / "供水服务区.zip"
    form = {"kind": "streets"}  # polygons: read, then refused
    with Server(demo) as server, server.client() as http:
        before = store.list_layers()
        files = {"files": (path.name, path.read_bytes())}
        queued = http.post("/api/layers", data=form, files=files)
        status = job_status(http, queued)
        assert status["status"] == "failed"
        assert "lines are needed" in status["error"]["error"]
        assert status["error"]["source"] == path.name
        results = http.get(f"{queued.headers['location']}/results")
        assert results.status_code == 400
        assert results.json()["code"] == status["error"]["code"]
        assert "type" not in results.json()
        assert store.list_layers() == before  # nothing half-imported


def test_a_review_is_computed_once_and_kept_in_the_store_across_restarts(demo: Settings) -> None:
    url = f"/api/versions/{quote(DEMO)}/review"
    with Server(demo) as server, server.client() as http:
        first = http.get(url)
        assert first.status_code == 202
        joined = http.get(url)  # asked again while it runs: the same job, or the answer
        assert joined.status_code == 200 or joined.json()["jobID"] == first.json()["jobID"]
        assert job_status(http, first)["status"] == "successful"
        answer = http.get(url)
        assert answer.status_code == 200 and answer.json()["version"] == DEMO
    with Server(demo) as server, server.client() as http:
        again = http.get(url)  # a new server: answered from the job the store kept
        assert again.status_code == 200 and again.content == answer.content
        assert again.headers["etag"] == answer.headers["etag"]
        reviews = [j for j in http.get("/api/jobs").json()["jobs"] if j["processID"] == "review"]
        assert len(reviews) == 1


def test_a_queued_job_survives_a_restart_and_can_be_stopped_by_whom_it_is_for(
    demo: Settings, store: SqlStore
) -> None:
    # A server that runs no jobs, and lets one caller have two waiting.
    idle = demo.model_copy(update={"job_workers": 0, "job_live_per_caller": 2})
    with Server(idle) as server, server.client() as http:
        kept = http.post("/api/versions", json={"version": "留待下次"})
        stopped = http.post("/api/versions", json={"version": "不要了"})
        assert kept.status_code == stopped.status_code == 202
        busy = http.post("/api/versions", json={"version": "第三个"})
        assert busy.status_code == 429 and busy.json()["code"] == "too_many_jobs"
        viewer = {"Authorization": f"Bearer {server.key('viewer', name='reader')}"}
        review = httpx.get(f"{server.url}/api/versions/{quote(DEMO)}/review", headers=viewer)
        assert review.status_code == 202  # shared by all who ask: only an admin stops it
        shared = httpx.delete(server.url + review.headers["location"], headers=viewer)
        assert shared.status_code == 403
        other = server.key("viewer", name="someone else")
        url = stopped.headers["location"]
        refused = httpx.delete(server.url + url, headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 403
        dismissed = http.delete(url)
        assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
        assert http.get(f"{url}/results").status_code == 409
        assert http.delete(url).status_code == 409  # finished: nothing to stop
        assert http.get(kept.headers["location"]).json()["status"] == "accepted"
    with Server(demo) as server, server.client() as http:  # after the restart
        assert job_status(http, kept)["status"] == "successful"
    assert {v.name for v in store.list_versions()} >= {"留待下次"}
    assert "不要了" not in {v.name for v in store.list_versions()}


def test_an_import_taken_up_again_never_goes_over_a_newer_one(
    demo: Settings, store: SqlStore, tmp_path: Path
) -> None:
    """A job's import committed, then its worker died before saying so; meanwhile another
    import of the layer came. Taken up again, the job finds its own import and reports
    it, and the newer layer stays."""
    import geopandas as gpd

    from gridgis.importer.pipeline import import_layer

    streets = store.read_base_layer("streets")
    first, second = tmp_path / "streets-1.gpkg", tmp_path / "streets-2.gpkg"
    streets.to_file(first, driver="GPKG")
    streets.iloc[: len(streets) // 2].to_file(second, driver="GPKG")
    started = store.list_layers()[0].imported_at  # any moment before both imports
    own = import_layer(store, "streets", first, settings=demo, actor="job-owner")
    assert own.status == "imported"
    newer = import_layer(store, "streets", second, settings=demo, actor="someone")
    again = import_layer(
        store, "streets", first, settings=demo, actor="job-owner", resumed_since=started
    )
    assert again.status == "imported" and again.import_id == own.import_id
    current = next(la for la in store.list_layers() if la.kind == "streets")
    assert current.import_id == newer.import_id
    assert len(store.read_base_layer("streets")) == len(gpd.read_file(second))


def test_a_kept_result_is_keyed_on_the_rules_too(demo: Settings, store: SqlStore) -> None:
    """A server restarted with another household band must not answer from a review
    kept in the store under the old band."""
    from gridgis.jobs.processes import diff_key, review_key

    other = demo.model_copy(update={"min_households": 250})
    assert review_key(store, DEMO, demo) != review_key(store, DEMO, other)
    assert diff_key(store, DEMO, DEMO, demo) != diff_key(store, DEMO, DEMO, other)
    assert review_key(store, DEMO, demo) == review_key(store, DEMO, demo.model_copy())


def test_the_same_work_asked_at_once_is_queued_once(store: SqlStore) -> None:
    """Eight first asks for one review at the same moment (eight request threads, or
    eight servers): one job, which all of them join."""
    from gridgis.jobs import JobSpec

    gate = threading.Barrier(8)
    got: list[tuple[str, bool]] = []

    def ask() -> None:
        gate.wait()
        job, new = store.submit_job(JobSpec("review", {"version": DEMO}, "test", key="k"))
        got.append((job.id, new))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({ident for ident, _ in got}) == 1
    assert sum(new for _, new in got) == 1


# --- a worker dies --------------------------------------------------------------------------
@contextmanager
def _served(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``gridgis serve`` in its own process (as deployed), killed when done."""
    exe = Path(sys.executable).with_name("gridgis")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        env=gridgis_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gridgis serve did not start")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_job_whose_server_died_is_taken_up_by_another_within_a_minute(
    demo: Settings, store: SqlStore
) -> None:
    """Default settings: the heartbeat, the staleness and the poll as shipped."""
    key, _ = issue_key(store, "admin", actor="test", name="ops")
    auth = {"Authorization": f"Bearer {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _served(demo, port) as first, httpx.Client(base_url=base, headers=auth) as http:
        queued = http.post("/api/versions", json={"version": "死里逃生"})
        assert queued.status_code == 202, queued.text
        location = queued.headers["location"]
        while http.get(location).json()["status"] == "accepted":
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
    assert store.get_job(location.rsplit("/", 1)[1]).status.value == "running"  # orphaned
    with _served(demo, port), httpx.Client(base_url=base, headers=auth) as http:
        taken_up = None
        while True:
            status = http.get(location).json()
            if taken_up is None and status["attempts"] == 2:
                taken_up = time.monotonic() - killed
            if status["status"] in ("successful", "failed"):
                break
            assert time.monotonic() - killed < 300
            time.sleep(0.1)
    assert status["status"] == "successful", status
    assert taken_up is not None and taken_up <= TAKEN_UP_WITHIN_S, taken_up
    assert [v.name for v in store.list_versions()].count("死里逃生") == 1
    assert store.verify_audit().ok
