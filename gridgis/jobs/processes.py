"""The work a job can do: each process reads its inputs (and an upload), reports its
progress through the callback it is given, and returns a JSON-able result.

Every process is safe to run again after its worker died part-way: an import finds the
import its earlier attempt made (and leaves a newer one in place), a merge the draft its
earlier attempt saved; reviews and diffs only read.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePath
from typing import Any

from gridgis.errors import InputError, NotFoundError
from gridgis.jobs.model import Job, JobSpec
from gridgis.settings import Settings
from gridgis.store import SqlStore

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Run:
    """What a process is handed."""

    store: SqlStore
    settings: Settings
    job: Job
    progress: Progress

    def payload(self) -> bytes:
        data = self.store.job_payload(self.job.id)
        if data is None:
            raise InputError(f"job {self.job.id} has no upload", code="job_payload_missing")
        return data


# --- submitting ------------------------------------------------------------------------------
def _layers_key(store: SqlStore) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((la.kind, la.name, la.content_key) for la in store.list_layers()))


#: The settings a review or a diff depends on: a server restarted with another band must
#: not answer from a result kept in the store under the old one.
RULES = (
    "metric_epsg",
    "min_households",
    "max_households",
    "max_population",
    "review_tolerance_m2",
    "sliver_thinness",
    "sliver_max_m2",
    "min_polsby_popper",
    "min_reock",
    "max_off_street_share",
    "max_officer_grids",
    "max_officer_households",
)


def _rules(settings: Settings) -> tuple[object, ...]:
    return tuple(getattr(settings, name) for name in RULES)


def review_key(store: SqlStore, name: str, settings: Settings) -> str:
    """The review's identity: the version's content and status, every layer's, and the
    rules it is checked by."""
    info = store.get_version(name)
    return repr(("review", info.content_key, info.status, _layers_key(store), _rules(settings)))


def diff_key(store: SqlStore, a: str, b: str, settings: Settings) -> str:
    first, second = store.get_version(a), store.get_version(b)
    return repr(
        ("diff", first.content_key, second.content_key, _layers_key(store), _rules(settings))
    )


def import_spec(actor: str, inputs: dict[str, Any], files: dict[str, bytes]) -> JobSpec:
    """An import with its files packed into the job (so any worker, after any restart,
    has them); names are base names checked by the caller."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return JobSpec("import", inputs, actor, payload=buffer.getvalue())


# --- running ---------------------------------------------------------------------------------
def run_import(run: Run) -> dict[str, Any]:
    from gridgis.importer.pipeline import import_layer

    inputs = run.job.inputs
    with tempfile.TemporaryDirectory(prefix="gridgis-job-") as tmp:
        with zipfile.ZipFile(io.BytesIO(run.payload())) as archive:
            for member in archive.namelist():
                (Path(tmp) / PurePath(member).name).write_bytes(archive.read(member))
        dataset = Path(tmp) / PurePath(inputs["dataset"]).name
        report = import_layer(
            run.store,
            inputs["kind"],
            dataset,
            settings=run.settings,
            department=inputs.get("department"),
            encoding=inputs.get("encoding"),
            crs=inputs.get("crs"),
            layer=inputs.get("layer"),
            field_overrides=inputs.get("fields") or {},
            dry_run=bool(inputs.get("dry_run")),
            display_name=dataset.name,
            actor=run.job.actor,
            progress=run.progress,
            resumed_since=run.job.started if run.job.attempts > 1 else None,
        )
    return report.to_dict()


def run_merge_job(run: Run) -> dict[str, Any]:
    from gridgis.merge import run_merge

    inputs, job = run.job.inputs, run.job
    name = inputs["version"]
    if job.attempts > 1 and job.started is not None:
        # An earlier attempt may have saved the draft before its worker died.
        try:
            info = run.store.get_version(name)
        except NotFoundError:
            pass
        else:
            if info.created_by == job.actor and info.created_at >= job.started:
                return {"version": asdict(info), "report": info.report}
    bands = {k: inputs[k] for k in ("min_households", "max_households") if inputs.get(k)}
    settings = run.settings.model_copy(update=bands) if bands else run.settings
    info, result = run_merge(
        run.store,
        name,
        settings=settings,
        actor=job.actor,
        previous=inputs.get("previous"),
        note=inputs.get("note"),
        replace=bool(inputs.get("replace")),
        progress=run.progress,
    )
    return {"version": asdict(info), "report": result.report}


def run_review(run: Run) -> dict[str, Any]:
    from gridgis.review.run import review_version

    return review_version(
        run.store, run.job.inputs["version"], run.settings, progress=run.progress
    ).to_dict()


def run_diff(run: Run) -> dict[str, Any]:
    from gridgis.diff import diff_versions

    inputs = run.job.inputs
    run.progress("comparing", 0, 1)
    return diff_versions(run.store, inputs["a"], inputs["b"], run.settings).to_dict()


PROCESSES: dict[str, Callable[[Run], dict[str, Any]]] = {
    "import": run_import,
    "merge": run_merge_job,
    "review": run_review,
    "diff": run_diff,
}
