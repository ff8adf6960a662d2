"""Jobs over HTTP: queue one, answer ``202 Accepted`` with where to follow it, and say a
finished job's outcome with the status the same work would have had in one request."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api import errors
from api.responses import JSONResponse
from gridgis import errors as library_errors
from gridgis.jobs import Job, JobSpec
from gridgis.jobs.runner import JobRunner
from gridgis.store import SqlStore

#: How soon to look again at a job still running.
POLL_AFTER_S = 1
RESULTS_REL = "http://www.opengis.net/def/rel/ogc/1.0/results"


class Jobs:
    """Queues jobs in the store and wakes this server's worker (if it runs one)."""

    def __init__(self, store: SqlStore, runner: JobRunner | None, live_per_caller: int) -> None:
        self.store = store
        self.runner = runner
        self.live_per_caller = live_per_caller

    def submit(self, spec: JobSpec) -> Job:
        """Queue ``spec`` (or join the job doing the same work); 429 ``too_many_jobs``
        when its caller already has ``GRIDGIS_JOB_LIVE_PER_CALLER`` waiting or running."""
        job, new = self.store.submit_job(spec, self.live_per_caller)
        if new and self.runner is not None:
            self.runner.notify()
        return job


def job_url(request: Request, job: Job) -> str:
    return str(request.url_for("get_job", ident=job.id).path)


def status_document(request: Request, job: Job) -> dict[str, Any]:
    """OGC API – Processes ``statusInfo``, with its links."""
    here = job_url(request, job)
    links = [{"href": here, "rel": "self", "type": "application/json", "title": "状态 status"}]
    if job.done:
        links.append(
            {
                "href": f"{here}/results",
                "rel": RESULTS_REL,
                "type": "application/json",
                "title": "结果 results",
            }
        )
    return {**job.status_info(), "links": links}


def accepted(request: Request, job: Job) -> JSONResponse:
    """``202`` with ``Location``: where the job's status is, and when to look."""
    headers = {"Location": job_url(request, job)}
    if not job.done:
        headers["Retry-After"] = str(POLL_AFTER_S)
    return JSONResponse(status_document(request, job), status_code=202, headers=headers)


def pending(request: Request, job: Job) -> JSONResponse:
    """The answer to a request whose work is a job not (yet) successful: ``202`` while it
    waits or runs; once it failed, its error (the same work on the same content would
    fail again, so it is not queued again); dismissed, 409."""
    if job.done and job.error is not None:  # failed, or dismissed (409)
        body = {k: v for k, v in job.error.items() if k != "type"}
        return JSONResponse(body, status_code=failure_status(job.error))
    return accepted(request, job)


def failure_status(error: dict[str, Any]) -> int:
    """The status a failed job's error would have had as a request's answer."""
    cls = getattr(library_errors, str(error.get("type")), None)
    if isinstance(cls, type) and issubclass(cls, library_errors.GridgisError):
        return errors.status_for(cls)
    if error.get("code") == "dismissed":
        return 409
    return 500
